//! The constraint catalog of a migrated database against `domain::rules`: every named rule of
//! the schema (`uq_`, `fk_`, `ck_`, `pk_`) must be one that the domain translates, or its
//! violations would reach callers as an untyped `Error::Database`; and every rule the domain
//! knows must exist, or a test of it would prove nothing.

use std::collections::BTreeSet;

use domain::{CheckRule, ForeignKeyRule, UniqueRule};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::*;

const PREFIXES: [&str; 4] = ["uq_", "fk_", "ck_", "pk_"];

async fn names(t: &TestDb, sql: &str, column: &str) -> BTreeSet<String> {
    t.db.query_all_raw(Statement::from_string(t.db_backend(), sql))
        .await
        .expect("read the catalog")
        .iter()
        .map(|row| row.try_get::<String>("", column).expect("a name"))
        .collect()
}

/// The names of the schema's constraints, unique indexes and range triggers, as the database
/// reports them.
async fn catalog(t: &TestDb) -> BTreeSet<String> {
    let found = match t.db_backend() {
        DbBackend::Postgres => {
            let mut found = names(
                t,
                "SELECT conname::text AS name FROM pg_constraint \
                 WHERE connamespace = 'public'::regnamespace",
                "name",
            )
            .await;
            found.extend(
                names(
                    t,
                    "SELECT indexname::text AS name FROM pg_indexes \
                     WHERE schemaname = 'public' AND indexdef LIKE 'CREATE UNIQUE INDEX%'",
                    "name",
                )
                .await,
            );
            found
        }
        DbBackend::MySql => {
            let mut found = names(
                t,
                "SELECT CAST(constraint_name AS CHAR) AS name \
                 FROM information_schema.table_constraints \
                 WHERE constraint_schema = DATABASE()",
                "name",
            )
            .await;
            found.extend(
                names(
                    t,
                    "SELECT DISTINCT CAST(index_name AS CHAR) AS name \
                     FROM information_schema.statistics \
                     WHERE table_schema = DATABASE() AND non_unique = 0",
                    "name",
                )
                .await,
            );
            found
        }
        DbBackend::Sqlite => {
            let mut found = names(
                t,
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'uq\\_%' ESCAPE '\\'",
                "name",
            )
            .await;
            // CHECK and FOREIGN KEY names live only in the CREATE TABLE text; the range checks
            // that SQLite enforces with triggers are named after the check they stand for.
            let sql = names(
                t,
                "SELECT sql FROM sqlite_master WHERE type = 'table'",
                "sql",
            )
            .await;
            for table in sql {
                for part in table.split("CONSTRAINT").skip(1) {
                    let name: String = part
                        .trim_start()
                        .trim_start_matches(['"', '`'])
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    found.insert(name);
                }
            }
            // SQLite keeps no name for a foreign key: it is known by its table and (first)
            // column, and stands here under the name the other backends give it
            // (`fk_<table>_<column>`).
            found.extend(
                names(
                    t,
                    "SELECT 'fk_' || m.name || '_' || f.\"from\" AS name \
                     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table' AND f.seq = 0",
                    "name",
                )
                .await,
            );
            for trigger in names(
                t,
                "SELECT name FROM sqlite_master WHERE type = 'trigger'",
                "name",
            )
            .await
            {
                let check = trigger
                    .strip_suffix("_insert")
                    .or_else(|| trigger.strip_suffix("_update"))
                    .unwrap_or(&trigger);
                found.insert(check.to_owned());
            }
            found
        }
        other => panic!("unexpected backend {other:?}"),
    };
    found
        .into_iter()
        .filter(|name| PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect()
}

backend_test! {
    async fn every_named_constraint_of_the_schema_has_its_rule_and_every_rule_exists(t: &TestDb) {
        let found = catalog(t).await;
        let known: BTreeSet<String> = UniqueRule::ALL
            .iter()
            .map(|r| r.name())
            .chain(ForeignKeyRule::ALL.iter().map(|r| r.name()))
            .chain(CheckRule::ALL.iter().map(|r| r.name()))
            .map(str::to_owned)
            .collect();

        // A unique rule no write can break on its own has no rule to translate: the unique
        // (id, store_id) of products, which the composite foreign keys of variants and images
        // point at, holds whenever the primary key does, and the primary key refuses first.
        let unbreakable = ["uq_products_id_store_id"];
        let untranslated: Vec<_> = found
            .difference(&known)
            .filter(|name| !unbreakable.contains(&name.as_str()))
            .collect();
        assert!(
            untranslated.is_empty(),
            "constraints without a rule in domain::rules: {untranslated:?}"
        );

        // What a backend does not have under our name, and why: enum columns are native
        // types on Postgres and MariaDB (the CHECK on the variants exists on SQLite only), and
        // MariaDB calls every primary key PRIMARY.
        let enum_checks = [
            CheckRule::ProductsSourceProvider,
            CheckRule::ProductsStatus,
            CheckRule::MediaAssetsType,
            CheckRule::PagesType,
            CheckRule::StoresStatus,
            CheckRule::SupplierAccountsProvider,
            CheckRule::AgentJobsType,
            CheckRule::AgentJobsStatus,
        ];
        let absent_here = |name: &str| match t.db_backend() {
            DbBackend::Sqlite => false,
            backend => {
                enum_checks.iter().any(|rule| rule.name() == name)
                    || (backend == DbBackend::MySql && name.starts_with("pk_"))
            }
        };
        let missing: Vec<_> = known
            .iter()
            .filter(|name| !found.contains(*name) && !absent_here(name))
            .collect();
        assert!(missing.is_empty(), "rules with no constraint in the schema: {missing:?}");
    }
}
