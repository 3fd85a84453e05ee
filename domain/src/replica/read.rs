//! Read connections: reads on the chosen replica, everything else on the primary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use super::ServedBy;
use super::health::Inner;
use super::router::PRIMARY;

/// A connection for reads, from [`super::Router::read`] or [`super::Router::read_after`]:
/// pass `&it` to any repository function that takes `&C: ConnectionTrait`.
///
/// Reads (`SELECT` without row locks) go to the replica chosen when it was handed out; anything
/// else, and every statement after a replica failure, goes to the primary. A replica failure is
/// never the caller's error: the statement is answered by the primary. Not a transaction: use
/// [`super::Router::primary`] for those.
#[derive(Debug)]
pub struct ReadConnection {
    pub(super) inner: Arc<Inner>,
    pub(super) target: AtomicUsize,
}

enum Query {
    One(Statement),
    All(Statement),
}

enum Answer {
    One(Option<QueryResult>),
    All(Vec<QueryResult>),
}

impl Query {
    fn statement(&self) -> &Statement {
        match self {
            Query::One(s) | Query::All(s) => s,
        }
    }

    async fn run(&self, db: &DatabaseConnection) -> Result<Answer, DbErr> {
        match self {
            Query::One(s) => db.query_one_raw(s.clone()).await.map(Answer::One),
            Query::All(s) => db.query_all_raw(s.clone()).await.map(Answer::All),
        }
    }
}

impl ReadConnection {
    /// Who answers this connection's reads now.
    pub fn served_by(&self) -> ServedBy {
        match self.target.load(Ordering::Relaxed) {
            PRIMARY => ServedBy::Primary,
            i => ServedBy::Replica(i),
        }
    }

    async fn on_primary(&self, query: &Query) -> Result<Answer, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        query.run(&self.inner.primary).await
    }

    async fn route(&self, query: Query) -> Result<Answer, DbErr> {
        let target = self.target.load(Ordering::Relaxed);
        if target == PRIMARY || !is_plain_select(&query.statement().sql) {
            return self.on_primary(&query).await;
        }
        match query.run(&self.inner.replicas[target].db).await {
            Ok(answer) => {
                self.inner.replica_reads.fetch_add(1, Ordering::Relaxed);
                Ok(answer)
            }
            Err(replica_err) => {
                self.target.store(PRIMARY, Ordering::Relaxed);
                self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
                let answer = self.on_primary(&query).await;
                if answer.is_ok() {
                    self.inner.set_aside(target, &replica_err);
                }
                answer
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for ReadConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.primary.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.primary.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.primary.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.route(Query::One(stmt)).await? {
            Answer::One(row) => Ok(row),
            Answer::All(_) => unreachable!("a single-row query answers one row"),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.route(Query::All(stmt)).await? {
            Answer::All(rows) => Ok(rows),
            Answer::One(_) => unreachable!("a many-row query answers rows"),
        }
    }
}

/// A `SELECT` that takes no row lock: safe on a hot standby.
fn is_plain_select(sql: &str) -> bool {
    let sql = sql.trim_start();
    let starts_with_select = sql
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("select"));
    starts_with_select
        && ![
            "FOR UPDATE",
            "FOR NO KEY UPDATE",
            "FOR SHARE",
            "FOR KEY SHARE",
        ]
        .iter()
        .any(|lock| contains_ignore_ascii_case(sql, lock))
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_without_row_locks_may_go_to_a_replica() {
        assert!(is_plain_select(
            r#"SELECT "id" FROM "products" WHERE "id" = $1"#
        ));
        assert!(is_plain_select("  select 1"));
        for sql in [
            r#"INSERT INTO "x" VALUES (1) RETURNING "id""#,
            r#"UPDATE "x" SET "a" = 1 RETURNING *"#,
            "WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d",
            r#"SELECT "id" FROM "agent_jobs" LIMIT 1 FOR UPDATE SKIP LOCKED"#,
            "select * from t for no key update",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t FOR KEY SHARE",
            "SELEC 1",
            "",
        ] {
            assert!(!is_plain_select(sql), "{sql}");
        }
    }
}
