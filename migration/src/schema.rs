//! Column and constraint builders shared by the migrations, with the per-backend choices in
//! one place.
//!
//! | SCHEMA.md type | PostgreSQL | SQLite | MariaDB/MySQL |
//! |---|---|---|---|
//! | uuid | `uuid` | 16-byte blob | `binary(16)` |
//! | timestamp with time zone | `timestamptz` | RFC 3339 text, always written in UTC | `datetime(6)` in UTC (`timestamp` would stop in 2038 and shift with the session zone) |
//! | money | `numeric(10,2)` | `real`, so a CHECK keeps the range that numeric(10,2) would | `decimal(10,2)` |
//! | json | `jsonb` | text | `json` (longtext on MariaDB) |
//! | enum | native enum type | text + CHECK on the variants | inline `ENUM(..)` |

use sea_orm_migration::prelude::extension::postgres::Type;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A database enum: its Postgres type name and its variants, spelled as stored.
#[derive(Debug, Clone, Copy)]
pub struct DbEnum {
    /// The Postgres type name (`store_status`).
    pub name: &'static str,
    /// The variants, spelled as the database stores them (`PENDING_REVIEW`).
    pub variants: &'static [&'static str],
}

/// `id uuid primary key`; ids are UUID v7 generated in Rust, so there is no database default.
pub fn pk_uuid<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().take()
}

/// A required UUID column (foreign keys).
pub fn uuid<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().take()
}

/// A short required string (`varchar`; 255 on MySQL so that it can be indexed).
pub fn string<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).string().not_null().take()
}

/// A short optional string.
pub fn string_null<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).string().null().take()
}

/// Long required text.
pub fn text<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).text().not_null().take()
}

/// Long optional text.
pub fn text_null<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).text().null().take()
}

/// A timestamp with time zone, see the table above for the per-backend type.
pub fn timestamptz<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("datetime(6)")),
        _ => def.timestamp_with_time_zone(),
    };
    def
}

/// A required timestamp that defaults to the current time, in the same UTC format the
/// application writes (on SQLite `CURRENT_TIMESTAMP` would write `YYYY-MM-DD HH:MM:SS`, which
/// does not compare correctly as text against RFC 3339 values).
pub fn timestamptz_now<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    let now = match backend {
        DbBackend::MySql => Expr::cust("CURRENT_TIMESTAMP(6)"),
        DbBackend::Sqlite => Expr::cust("(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))"),
        _ => Expr::current_timestamp(),
    };
    timestamptz(backend, col).not_null().default(now).take()
}

/// Money: `numeric(10,2)`.
pub fn money<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).decimal_len(10, 2).take()
}

/// A JSON document (`jsonb` on Postgres).
pub fn json<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).json_binary().take()
}

/// A column of a database enum.
pub fn enumeration<C: IntoIden>(col: C, e: DbEnum) -> ColumnDef {
    ColumnDef::new(col)
        .enumeration(
            Alias::new(e.name),
            e.variants.iter().map(|v| Alias::new(*v)),
        )
        .take()
}

/// `CREATE TYPE` for an enum on Postgres; other backends have no enum types.
///
/// # Errors
/// The database's error when the type cannot be created (for example, it exists already).
pub async fn create_enum(manager: &SchemaManager<'_>, e: DbEnum) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .create_type(
                Type::create()
                    .as_enum(Alias::new(e.name))
                    .values(e.variants.iter().map(|v| Alias::new(*v)))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// `DROP TYPE` for an enum on Postgres.
///
/// # Errors
/// The database's error when the type cannot be dropped (missing, or a column still uses it).
pub async fn drop_enum(manager: &SchemaManager<'_>, e: DbEnum) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .drop_type(Type::drop().name(Alias::new(e.name)).to_owned())
            .await?;
    }
    Ok(())
}

/// On SQLite an enum column is plain text: this CHECK keeps it to the variants, as the native
/// types do elsewhere. `None` on the other backends.
pub fn enum_check<C: IntoIden>(
    backend: DbBackend,
    name: &'static str,
    col: C,
    e: DbEnum,
) -> Option<Check> {
    (backend == DbBackend::Sqlite)
        .then(|| Check::named(name, Expr::col(col).is_in(e.variants.iter().copied())))
}

/// `CHECK (col >= 0 AND col <= 99999999.99)`: never negative, and within numeric(10,2) even
/// on SQLite, which stores the value as a float.
pub fn money_check<C: IntoIden>(name: &'static str, col: C) -> Check {
    let col = col.into_iden();
    let max: f64 = 99_999_999.99;
    Check::named(
        name,
        Expr::col(col.clone()).gte(0).and(Expr::col(col).lte(max)),
    )
}

/// `CHECK (col >= 0)`.
pub fn non_negative_check<C: IntoIden>(name: &'static str, col: C) -> Check {
    Check::named(name, Expr::col(col).gte(0))
}

/// A named foreign key `fk_<table>_<column>` with its `ON DELETE` rule.
pub fn foreign_key<T, C, R, P>(
    name: &'static str,
    (table, column): (T, C),
    (ref_table, ref_column): (R, P),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    R: IntoIden,
    P: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(ref_table, ref_column)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

/// A plain index.
pub fn index<T: IntoIden, C: IntoIndexColumn>(
    name: &'static str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in columns {
        stmt.col(col);
    }
    stmt
}

/// A named unique index `uq_<table>_<columns>`; its name is what a violation reports.
pub fn unique<T: IntoIden, C: IntoIndexColumn>(
    name: &'static str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    index(name, table, columns).unique().take()
}
