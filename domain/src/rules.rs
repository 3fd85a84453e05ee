//! The rules the database enforces, by the names the migrations give them, and the translation
//! of a violation back into the rule that was broken.
//!
//! The names follow `uq_<table>_<columns>`, `fk_<table>_<column>` and `ck_<table>_<column>`.
//! Every backend reports a violation differently: Postgres names the constraint, MariaDB/MySQL
//! put the name in the message, SQLite names the columns of a unique rule, the name of a CHECK,
//! and nothing at all for a foreign key (the table being written settles that one).

use sea_orm::{DbErr, RuntimeErr, sqlx};

use crate::error::{Error, Violation};

macro_rules! rules {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => ($cname:literal, $table:literal, [$($col:literal),+]), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $cname, "` on `", $table, "` (", $($col, " "),+, ")")]
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every rule of this kind.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The constraint's name in the schema.
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $cname,)+ }
            }

            /// The table the rule is declared on.
            pub const fn table(self) -> &'static str {
                match self { $($name::$variant => $table,)+ }
            }

            /// The columns the rule covers, in declaration order.
            pub const fn columns(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($col),+],)+ }
            }

            fn by_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|rule| rule.name() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}.{}", self.table(), self.columns().join("+"))
            }
        }
    };
}

rules! {
    /// A uniqueness rule: a write that breaks one is answered with [`Error::Conflict`].
    pub enum UniqueRule {
        UsersEmail => ("uq_users_email", "users", ["email"]),
        UsersStripeAccountId => ("uq_users_stripe_account_id", "users", ["stripe_account_id"]),
        AccountsProviderAccount => ("uq_accounts_provider_provider_account_id", "accounts", ["provider", "provider_account_id"]),
        SessionsToken => ("uq_sessions_session_token", "sessions", ["session_token"]),
        /// The primary key of `verification_tokens`.
        VerificationTokensIdentifierToken => ("pk_verification_tokens", "verification_tokens", ["identifier", "token"]),
        VerificationTokensToken => ("uq_verification_tokens_token", "verification_tokens", ["token"]),
        SupplierAccountsUserProvider => ("uq_supplier_accounts_user_id_provider", "supplier_accounts", ["user_id", "provider"]),
        StoresSlug => ("uq_stores_slug", "stores", ["slug"]),
        StoresCustomDomain => ("uq_stores_custom_domain", "stores", ["custom_domain"]),
        StoresSubdomain => ("uq_stores_subdomain", "stores", ["subdomain"]),
        ProductsStoreSlug => ("uq_products_store_id_slug", "products", ["store_id", "slug"]),
        ProductsStoreSource => ("uq_products_store_id_source_provider_source_id", "products", ["store_id", "source_provider", "source_id"]),
        ProductVariantsProductSku => ("uq_product_variants_product_id_sku", "product_variants", ["product_id", "sku"]),
        PagesStoreSlug => ("uq_pages_store_id_slug", "pages", ["store_id", "slug"]),
    }
}

rules! {
    /// A foreign key: a write that points at a row that does not exist is answered with
    /// [`Error::MissingReference`].
    pub enum ForeignKeyRule {
        AccountsUser => ("fk_accounts_user_id", "accounts", ["user_id"]),
        SessionsUser => ("fk_sessions_user_id", "sessions", ["user_id"]),
        SupplierAccountsUser => ("fk_supplier_accounts_user_id", "supplier_accounts", ["user_id"]),
        StoresUser => ("fk_stores_user_id", "stores", ["user_id"]),
        ProductsStore => ("fk_products_store_id", "products", ["store_id"]),
        ProductImagesProduct => ("fk_product_images_product_id", "product_images", ["product_id"]),
        ProductVariantsProduct => ("fk_product_variants_product_id", "product_variants", ["product_id"]),
        PagesStore => ("fk_pages_store_id", "pages", ["store_id"]),
        MediaAssetsStore => ("fk_media_assets_store_id", "media_assets", ["store_id"]),
        AgentJobsStore => ("fk_agent_jobs_store_id", "agent_jobs", ["store_id"]),
    }
}

rules! {
    /// A CHECK constraint: a write that breaks one is answered with [`Error::Invalid`] naming
    /// the column and [`Violation::Check`]. The enum checks exist on SQLite only, where enum
    /// columns are text; the other backends refuse a bad variant through their enum types.
    pub enum CheckRule {
        ProductsCostPrice => ("ck_products_cost_price", "products", ["cost_price"]),
        ProductsSellingPrice => ("ck_products_selling_price", "products", ["selling_price"]),
        ProductsCompareAtPrice => ("ck_products_compare_at_price", "products", ["compare_at_price"]),
        ProductsStockQuantity => ("ck_products_stock_quantity", "products", ["stock_quantity"]),
        ProductsSourceProvider => ("ck_products_source_provider", "products", ["source_provider"]),
        ProductsStatus => ("ck_products_status", "products", ["status"]),
        ProductImagesPosition => ("ck_product_images_position", "product_images", ["position"]),
        ProductVariantsPrice => ("ck_product_variants_price", "product_variants", ["price"]),
        ProductVariantsCostPrice => ("ck_product_variants_cost_price", "product_variants", ["cost_price"]),
        ProductVariantsStock => ("ck_product_variants_stock", "product_variants", ["stock"]),
        MediaAssetsSize => ("ck_media_assets_size", "media_assets", ["size"]),
        MediaAssetsType => ("ck_media_assets_type", "media_assets", ["type"]),
        PagesType => ("ck_pages_type", "pages", ["type"]),
        StoresStatus => ("ck_stores_status", "stores", ["status"]),
        SupplierAccountsProvider => ("ck_supplier_accounts_provider", "supplier_accounts", ["provider"]),
        AgentJobsProgress => ("ck_agent_jobs_progress", "agent_jobs", ["progress"]),
        AgentJobsAttempts => ("ck_agent_jobs_attempts", "agent_jobs", ["attempts"]),
        AgentJobsMaxAttempts => ("ck_agent_jobs_max_attempts", "agent_jobs", ["max_attempts"]),
        AgentJobsType => ("ck_agent_jobs_type", "agent_jobs", ["type"]),
        AgentJobsStatus => ("ck_agent_jobs_status", "agent_jobs", ["status"]),
    }
}

impl CheckRule {
    /// The column the check guards, as `table.column`.
    pub fn field(self) -> &'static str {
        // Every check covers exactly one column; the name is `ck_<table>_<column>`, so the
        // qualified field name is spelled out once here instead of built at run time.
        match self {
            CheckRule::ProductsCostPrice => "products.cost_price",
            CheckRule::ProductsSellingPrice => "products.selling_price",
            CheckRule::ProductsCompareAtPrice => "products.compare_at_price",
            CheckRule::ProductsStockQuantity => "products.stock_quantity",
            CheckRule::ProductsSourceProvider => "products.source_provider",
            CheckRule::ProductsStatus => "products.status",
            CheckRule::ProductImagesPosition => "product_images.position",
            CheckRule::ProductVariantsPrice => "product_variants.price",
            CheckRule::ProductVariantsCostPrice => "product_variants.cost_price",
            CheckRule::ProductVariantsStock => "product_variants.stock",
            CheckRule::MediaAssetsSize => "media_assets.size",
            CheckRule::MediaAssetsType => "media_assets.type",
            CheckRule::PagesType => "pages.type",
            CheckRule::StoresStatus => "stores.status",
            CheckRule::SupplierAccountsProvider => "supplier_accounts.provider",
            CheckRule::AgentJobsProgress => "agent_jobs.progress",
            CheckRule::AgentJobsAttempts => "agent_jobs.attempts",
            CheckRule::AgentJobsMaxAttempts => "agent_jobs.max_attempts",
            CheckRule::AgentJobsType => "agent_jobs.type",
            CheckRule::AgentJobsStatus => "agent_jobs.status",
        }
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
    fn every_rule_name_follows_the_naming_pattern_of_its_table() {
        for rule in UniqueRule::ALL {
            let name = rule.name();
            assert!(
                name.starts_with(&format!("uq_{}_", rule.table()))
                    || name == format!("pk_{}", rule.table()),
                "{name}"
            );
        }
        for rule in ForeignKeyRule::ALL {
            assert_eq!(
                rule.name(),
                format!("fk_{}_{}", rule.table(), rule.columns()[0])
            );
        }
        for rule in CheckRule::ALL {
            assert_eq!(
                rule.name(),
                format!("ck_{}_{}", rule.table(), rule.columns()[0])
            );
            assert_eq!(
                rule.field(),
                format!("{}.{}", rule.table(), rule.columns()[0])
            );
        }
    }

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
