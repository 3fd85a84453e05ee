//! The translation of a database error into the crate's typed [`Error`]: a broken rule of
//! [`crate::rules`] becomes [`Error::Conflict`], [`Error::MissingReference`] or
//! [`Error::Invalid`]; a deadlock or lock timeout [`Error::Transient`]; anything else
//! [`Error::Database`].
//!
//! Every backend reports a violation differently: Postgres names the constraint, MariaDB/MySQL
//! put the name in the message, SQLite names the columns of a unique rule, the name of a CHECK,
//! and nothing at all for a foreign key (the table being written settles that one).

use sea_orm::{DbErr, RuntimeErr, sqlx};

use crate::error::{Error, Violation};
use crate::rules::{CheckRule, ForeignKeyRule, UniqueRule};

impl From<DbErr> for Error {
    /// Translates violations of the schema's rules into [`Error::Conflict`],
    /// [`Error::MissingReference`] and [`Error::Invalid`]; see [`translate`].
    fn from(err: DbErr) -> Self {
        translate(err, None)
    }
}

/// What kind of rule a database error reports, before it is matched to one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
    Check,
}

/// Turns a database error into the crate's typed error.
///
/// `table` is the table the failed statement wrote to, when the caller knows it: SQLite does
/// not say which foreign key failed, and MariaDB reports a primary-key duplicate as `PRIMARY`
/// without a table, so both are settled by it. A violation that matches no rule of ours, and
/// every other error, is kept as [`Error::Database`].
pub fn translate(err: DbErr, table: Option<&str>) -> Error {
    if is_transient_db(&err) {
        return Error::Transient(err);
    }
    match classify(&err, table) {
        Some(Classified::Unique(rule)) => Error::Conflict { rule },
        Some(Classified::ForeignKey(rule)) => Error::MissingReference { rule },
        Some(Classified::Check(rule)) => Error::Invalid {
            field: rule.field(),
            violation: Violation::Check(rule),
        },
        None => Error::Database(err),
    }
}

/// `.on_table("stores")?` after a write: translates its error with the table as context.
pub(crate) trait OnTable<T> {
    fn on_table(self, table: &'static str) -> Result<T, Error>;
}

impl<T> OnTable<T> for Result<T, DbErr> {
    fn on_table(self, table: &'static str) -> Result<T, Error> {
        self.map_err(|err| translate(err, Some(table)))
    }
}

enum Classified {
    Unique(UniqueRule),
    ForeignKey(ForeignKeyRule),
    Check(CheckRule),
}

fn classify(err: &DbErr, table: Option<&str>) -> Option<Classified> {
    let db_err = match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Database(db_err) => db_err,
                _ => return None,
            }
        }
        _ => return None,
    };

    if let Some(pg) = db_err.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let kind = match pg.code() {
            "23505" => Kind::Unique,
            "23503" => Kind::ForeignKey,
            "23514" => Kind::Check,
            _ => return None,
        };
        return by_name(kind, pg.constraint()?);
    }

    if let Some(my) = db_err.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        let message = my.message();
        return match my.number() {
            // Duplicate entry '…' for key '<name>' (MySQL 8 writes '<table>.<name>'). The
            // entry is the written value, so the key is looked for from the end.
            1062 | 1586 => {
                let at = message.rfind("for key '")? + "for key '".len();
                let key = message[at..].split('\'').next()?;
                let key = key.rsplit('.').next()?;
                if key == "PRIMARY" {
                    let table = table?;
                    UniqueRule::ALL
                        .iter()
                        .copied()
                        .find(|rule| rule.table() == table && rule.name().starts_with("pk_"))
                        .map(Classified::Unique)
                } else {
                    by_name(Kind::Unique, key)
                }
            }
            // Cannot add or update a child row: … CONSTRAINT `<name>` FOREIGN KEY …
            1216 | 1452 => by_name(Kind::ForeignKey, quoted_after(message, "CONSTRAINT `")?),
            // MariaDB: CONSTRAINT `<name>` failed for `db`.`table`
            4025 => by_name(Kind::Check, quoted_after(message, "CONSTRAINT `")?),
            // MySQL: Check constraint '<name>' is violated.
            3819 => by_name(Kind::Check, quoted_after(message, "constraint '")?),
            _ => None,
        };
    }

    if db_err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        let message = db_err.message();
        return match db_err.code().as_deref() {
            // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY:
            // "UNIQUE constraint failed: t.a, t.b"
            Some("2067") | Some("1555") => {
                let list = after(message, "constraint failed: ")?;
                // An index on an expression is reported by name: "index '<name>'".
                if let Some(name) = list.strip_prefix("index '") {
                    return by_name(Kind::Unique, name.trim_end_matches('\''));
                }
                let mut columns = Vec::new();
                let mut table_name = None;
                for qualified in list.split(", ") {
                    let (t, c) = qualified.split_once('.')?;
                    table_name = Some(t);
                    columns.push(c);
                }
                let table_name = table_name?;
                UniqueRule::ALL
                    .iter()
                    .copied()
                    .find(|rule| rule.table() == table_name && rule.columns() == columns)
                    .map(Classified::Unique)
            }
            // SQLITE_CONSTRAINT_CHECK: "CHECK constraint failed: <name>"; the range checks
            // that migration 000009 adds as triggers raise the same text
            // (SQLITE_CONSTRAINT_TRIGGER).
            Some("275") | Some("1811") => {
                by_name(Kind::Check, after(message, "constraint failed: ")?)
            }
            // SQLITE_CONSTRAINT_FOREIGNKEY names nothing: the table written decides, when it
            // has a single foreign key.
            Some("787") => {
                let table = table?;
                let mut candidates = ForeignKeyRule::ALL
                    .iter()
                    .copied()
                    .filter(|rule| rule.table() == table);
                match (candidates.next(), candidates.next()) {
                    (Some(rule), None) => Some(Classified::ForeignKey(rule)),
                    _ => None,
                }
            }
            _ => None,
        };
    }
    None
}

/// Whether the error is a deadlock, serialization failure or lock-wait timeout: the
/// transaction was rolled back through no fault of its own and may simply be run again
/// (MariaDB in particular picks such victims when concurrent transactions insert the same
/// unique key). SQLite's "database is locked" after its busy timeout counts too.
fn is_transient_db(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    match e.as_ref() {
        sqlx::Error::Database(db_err) => {
            if let Some(my) = db_err.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return matches!(my.number(), 1205 | 1213);
            }
            if db_err
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
                return db_err
                    .code()
                    .and_then(|code| code.parse::<u32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6));
            }
            matches!(db_err.code().as_deref(), Some("40001" | "40P01" | "55P03"))
        }
        _ => false,
    }
}

fn by_name(kind: Kind, name: &str) -> Option<Classified> {
    match kind {
        Kind::Unique => UniqueRule::by_name(name).map(Classified::Unique),
        Kind::ForeignKey => ForeignKeyRule::by_name(name).map(Classified::ForeignKey),
        Kind::Check => CheckRule::by_name(name).map(Classified::Check),
    }
}

fn after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    message.find(marker).map(|at| &message[at + marker.len()..])
}

/// The text after `marker` up to the closing quote (the marker ends with the opening quote).
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let quote = marker.chars().last()?;
    after(message, marker)?.split(quote).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_are_cut_at_their_closing_quote() {
        let msg = "Cannot add or update a child row: a foreign key constraint fails \
                   (`db`.`products`, CONSTRAINT `fk_products_store_id` FOREIGN KEY (`store_id`))";
        assert_eq!(
            quoted_after(msg, "CONSTRAINT `"),
            Some("fk_products_store_id")
        );
        assert_eq!(
            quoted_after("Check constraint 'ck_x' is violated.", "constraint '"),
            Some("ck_x")
        );
    }
}
