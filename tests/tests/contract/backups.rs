//! Backups that are tested: bulk data from a fixed seed is digested table by table, dumped
//! with `zyenta-admin`'s dump (pg_dump custom format on Postgres, mysqldump on MariaDB, a
//! SQLite copy), restored into a fresh database, and digested again.

use domain::agent_jobs::{JobStatus, Worker, WorkerId};
use entity::prelude::*;
use sea_orm::{EntityTrait, QueryOrder};
use seed::bulk::{self, BulkOptions};
use sha2::{Digest, Sha256};

use super::*;

macro_rules! digest_tables {
    ($db:expr, $($entity:ident => $module:ident . $key:ident),+ $(,)?) => {{
        let mut digests = Vec::new();
        $(
            let rows = $entity::find()
                .order_by_asc(entity::$module::Column::$key)
                .all($db)
                .await
                .expect(stringify!($module));
            let json = serde_json::to_vec(&rows).expect("serialize");
            digests.push((
                stringify!($module),
                rows.len(),
                Sha256::digest(&json)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ));
        )+
        digests
    }};
}

/// Every table's rows (ordered by id, serialized whole) as a SHA-256, with the row count.
async fn digest(db: &sea_orm::DatabaseConnection) -> Vec<(&'static str, usize, String)> {
    digest_tables!(db,
        Users => users.Id,
        Accounts => accounts.Id,
        Sessions => sessions.Id,
        VerificationTokens => verification_tokens.Token,
        SupplierAccounts => supplier_accounts.Id,
        Stores => stores.Id,
        Products => products.Id,
        ProductVariants => product_variants.Id,
        ProductImages => product_images.Id,
        Pages => pages.Id,
        MediaAssets => media_assets.Id,
        AgentJobs => agent_jobs.Id,
    )
}

/// The domain's invariants: a product with variants has their total as its stock, no stock
/// below zero, and no job is PROCESSING without a worker, a start and a heartbeat.
async fn assert_invariants(db: &sea_orm::DatabaseConnection) {
    let variants = ProductVariants::find().all(db).await.expect("variants");
    for product in Products::find().all(db).await.expect("products") {
        let own: Vec<_> = variants
            .iter()
            .filter(|v| v.product_id == product.id)
            .collect();
        assert!(product.stock_quantity >= 0);
        if !own.is_empty() {
            assert_eq!(
                product.stock_quantity,
                own.iter().map(|v| v.stock).sum::<i32>(),
                "stock total of {}",
                product.id
            );
        }
    }
    for job in AgentJobs::find().all(db).await.expect("jobs") {
        if job.status == JobStatus::Processing {
            assert!(
                job.locked_by.is_some() && job.started_at.is_some() && job.heartbeat_at.is_some()
            );
        }
    }
}

async fn dump_and_restore(backend: Backend) {
    let Some(source) = TestDb::migrated(backend).await else {
        return;
    };
    let hasher = domain::users::PasswordHasher::new(
        domain::users::Argon2Params::new(1024, 1, 1).expect("params"),
    )
    .expect("hasher");
    let options = BulkOptions {
        stores: 3,
        products_per_store: 40,
        rng_seed: 20261128,
        batch_size: 25,
    };
    bulk::generate(&source.db, &options, &hasher, |_| {})
        .await
        .expect("bulk data");
    // One job in the hands of a worker when the backup is taken.
    let claimed = Worker::new(WorkerId::generate("backup-test"))
        .claim(&source.db)
        .await
        .expect("claim")
        .expect("a runnable job");
    assert_invariants(&source.db).await;
    let before = digest(&source.db).await;
    assert!(
        before
            .iter()
            .find(|(t, _, _)| *t == "products")
            .expect("products")
            .1
            == 120
    );

    let file = std::env::temp_dir().join(format!("zyenta-backup-{}.bin", uuid::Uuid::now_v7()));
    admin::dump(&source.config, &source.db, &file)
        .await
        .expect("dump");
    // A dump never overwrites.
    assert!(
        admin::dump(&source.config, &source.db, &file)
            .await
            .is_err()
    );

    let target = TestDb::empty(backend).await.expect("a second database");
    admin::restore(&target.config, &target.db, &file)
        .await
        .expect("restore");
    // Restoring over data is refused.
    assert!(matches!(
        admin::restore(&target.config, &target.db, &file).await,
        Err(admin::AdminError::NotEmpty { .. })
    ));
    let _ = std::fs::remove_file(&file);

    assert_eq!(
        digest(&target.db).await,
        before,
        "every table restored exactly"
    );
    assert_invariants(&target.db).await;
    let status = domain::migration_status(&target.db).await.expect("status");
    assert!(
        status.pending.is_empty() && status.unknown.is_empty(),
        "{status:?}"
    );

    // The worker that held the job belongs to the old database: rescued at once.
    let rescued = admin::rescue_after_restore(&target.db)
        .await
        .expect("rescue");
    assert_eq!((rescued.requeued, rescued.failed), (1, 0));
    let job = AgentJobs::find_by_id(claimed.id())
        .one(&target.db)
        .await
        .expect("job")
        .expect("restored job");
    assert_eq!(job.status, JobStatus::Pending);
    assert_invariants(&target.db).await;
}

per_backend!(a_dump_restores_into_a_fresh_database_with_equal_digests_and_invariants => dump_and_restore);
