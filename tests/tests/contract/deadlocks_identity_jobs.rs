//! A deadlock lost inside a caller's transaction, on MariaDB, for the functions of `users`,
//! `suppliers` and `agent_jobs` that write: InnoDB rolls back the caller's whole transaction,
//! so the call must answer the typed, retryable `Error::Transient`, a later `commit()` must
//! fail, and nothing of the caller's transaction may be kept. `domain::transaction` runs the
//! whole closure again and succeeds.
//!
//! The scenario needs InnoDB's rule (a deadlock rolls back the whole transaction, not the
//! savepoint), so these tests run on MariaDB only; SQLite has a single writer and no
//! deadlocks, and on Postgres a lost savepoint is retried in place (see `domain::txn`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use domain::StoreScope;
use domain::agent_jobs::{self as jobs, BrandBrief, JobInput, NewJob};
use domain::crypto::Secret;
use domain::supplier_accounts::{self, ApiKey, NewSupplierAccount, SupplierProvider};
use domain::users::{self, StripeAccountId};
use domain::{DatabaseConnection, Error};
use entity::{stores as store_rows, users as user_rows};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use super::identity::keys;
use super::*;

/// The row the other transaction locks before it waits for the caller's row.
#[derive(Debug, Clone, Copy)]
enum Target {
    User(Uuid),
    Store(Uuid),
}

async fn rename_user<C: ConnectionTrait>(db: &C, id: Uuid, name: &str) {
    user_rows::Entity::update_many()
        .col_expr(user_rows::Column::Name, Expr::value(name.to_owned()))
        .filter(user_rows::Column::Id.eq(id))
        .exec(db)
        .await
        .expect("rename");
}

async fn name_of(db: &DatabaseConnection, id: Uuid) -> Option<String> {
    user_rows::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read")
        .expect("user")
        .name
}

/// Starts the other side of the deadlock: a transaction that writes 30 rows (so that InnoDB,
/// which rolls back the smaller transaction, picks the caller as the victim), locks `target`,
/// then waits for the caller's row `held`. Returns once it is waiting.
async fn other_side(
    db: &DatabaseConnection,
    target: Target,
    held: Uuid,
) -> tokio::task::JoinHandle<()> {
    let (ready, waiting) = tokio::sync::oneshot::channel();
    let db = db.clone();
    let task = tokio::spawn(async move {
        let txn = db.begin().await.expect("begin");
        for _ in 0..30 {
            insert(&txn, user()).await.expect("weight");
        }
        match target {
            Target::User(id) => rename_user(&txn, id, "other side").await,
            Target::Store(id) => {
                store_rows::Entity::update_many()
                    .col_expr(store_rows::Column::Niche, Expr::value("locked".to_owned()))
                    .filter(store_rows::Column::Id.eq(id))
                    .exec(&txn)
                    .await
                    .expect("lock the store");
            }
        }
        ready.send(()).expect("signal");
        rename_user(&txn, held, "other side").await;
        txn.commit().await.expect("the other side commits");
    });
    waiting.await.expect("the other side is ready");
    // Let its last statement reach the lock wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    task
}

/// The caller's transaction, holding a lock on `held` (its first write).
async fn caller(db: &DatabaseConnection, held: Uuid) -> DatabaseTransaction {
    let txn = db.begin().await.expect("begin");
    rename_user(&txn, held, "caller").await;
    txn
}

/// Checks the aftermath: the call's answer was `Transient`, the commit fails, the caller's
/// write is gone and the other side committed.
async fn assert_lost<T: std::fmt::Debug>(
    db: &DatabaseConnection,
    txn: DatabaseTransaction,
    other: tokio::task::JoinHandle<()>,
    held: Uuid,
    outcome: domain::Result<T>,
    call: &str,
) {
    match &outcome {
        Err(err @ Error::Transient(_)) => assert!(err.is_retryable()),
        other => panic!("{call}: expected Error::Transient, got {other:?}"),
    }
    assert!(
        txn.commit().await.is_err(),
        "{call}: the commit must not report success"
    );
    other.await.expect("the other side");
    assert_eq!(
        name_of(db, held).await.as_deref(),
        Some("other side"),
        "{call}"
    );
}

async fn mariadb() -> Option<TestDb> {
    TestDb::migrated(Backend::MySql).await
}

fn brief() -> JobInput {
    JobInput::BrandGenerator(BrandBrief {
        niche: "Neon".into(),
        tone: "bold".into(),
        store_name: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_inside_the_callers_transaction_is_transient_and_its_commit_fails_on_mariadb() {
    let Some(t) = mariadb().await else { return };
    let db = &t.db;
    let keys = keys(1);

    // users::attach_stripe_account
    let held = insert(db, user()).await.expect("user").id;
    let target = insert(db, user()).await.expect("user").id;
    let txn = caller(db, held).await;
    let other = other_side(db, Target::User(target), held).await;
    let account = StripeAccountId::parse(&format!("acct_{}", unique())).expect("id");
    let outcome = users::update_stripe_account(&txn, target, &account).await;
    assert_lost(db, txn, other, held, outcome, "attach_stripe_account").await;
    assert_eq!(
        users::get(db, target).await.expect("get").stripe_account_id,
        None
    );

    // users::delete
    let held = insert(db, user()).await.expect("user").id;
    let target = insert(db, user()).await.expect("user").id;
    let txn = caller(db, held).await;
    let other = other_side(db, Target::User(target), held).await;
    let outcome = users::delete(&txn, target).await;
    assert_lost(db, txn, other, held, outcome, "delete").await;
    assert!(users::find(db, target).await.expect("find").is_some());

    // suppliers::connect (its foreign key waits for the user row)
    let held = insert(db, user()).await.expect("user").id;
    let target = insert(db, user()).await.expect("user").id;
    let txn = caller(db, held).await;
    let other = other_side(db, Target::User(target), held).await;
    let outcome = supplier_accounts::create(
        &txn,
        &keys,
        target,
        NewSupplierAccount {
            provider: SupplierProvider::Spocket,
            api_key: ApiKey::parse(Secret::new("key")).expect("api key"),
            api_secret: None,
            account_id: None,
        },
    )
    .await;
    assert_lost(db, txn, other, held, outcome, "suppliers::connect").await;
    assert!(
        supplier_accounts::list(db, target)
            .await
            .expect("list")
            .is_empty()
    );

    // agent_jobs::enqueue and enqueue_many (their foreign key waits for the store row)
    for many in [false, true] {
        let held = insert(db, user()).await.expect("user").id;
        let (owner, store) = user_with_store(db).await;
        let scope = StoreScope::obtain(db, owner.id, store.id)
            .await
            .expect("scope");
        let txn = caller(db, held).await;
        let other = other_side(db, Target::Store(store.id), held).await;
        let outcome = if many {
            jobs::create_many(&txn, &scope, [NewJob::new(brief()), NewJob::new(brief())])
                .await
                .map(|_| ())
        } else {
            jobs::create(&txn, &scope, NewJob::new(brief()))
                .await
                .map(|_| ())
        };
        assert_lost(db, txn, other, held, outcome, "enqueue").await;
        let counts = jobs::count(db, &scope).await.expect("counts");
        assert_eq!(counts.total(), 0, "no job was kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_transaction_runs_the_whole_closure_again_after_a_lost_deadlock_on_mariadb() {
    let Some(t) = mariadb().await else { return };
    let db = &t.db;
    let held = insert(db, user()).await.expect("user").id;
    let target = insert(db, user()).await.expect("user").id;
    let account = StripeAccountId::parse(&format!("acct_{}", unique())).expect("id");
    let tries = Arc::new(AtomicU32::new(0));
    let other: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
    let user = domain::transaction(db, |txn| {
        let (db, account) = (db.clone(), account.clone());
        let (tries, other) = (Arc::clone(&tries), Arc::clone(&other));
        Box::pin(async move {
            let first = tries.fetch_add(1, Ordering::SeqCst) == 0;
            rename_user(txn, held, "caller").await;
            if first {
                // Only the first run meets the other side.
                let task = other_side(&db, Target::User(target), held).await;
                *other.lock().await = Some(task);
            }
            users::update_stripe_account(txn, target, &account).await
        })
    })
    .await
    .expect("the second run succeeds");
    let task = other.lock().await.take().expect("started");
    task.await.expect("the other side");
    let tries = tries.load(Ordering::SeqCst);
    assert!(tries >= 2, "the closure ran again ({tries})");
    assert_eq!(user.stripe_account_id.as_deref(), Some(account.as_ref()));
    // Both writes of the closure were kept, after the other side's.
    assert_eq!(name_of(db, held).await.as_deref(), Some("caller"));
}
