use domain::users::{Argon2Params, PasswordHasher};
use entity::prelude::*;
use sea_orm::{EntityTrait, QueryOrder};
use seed::bulk::{self, BulkOptions};
use seed::demo::{self, Outcome};

use super::*;

/// A stored amount as the domain shows it: SQLite keeps money as a float and loses the scale,
/// so it is rounded to cents and shown with two decimals.
fn money(stored: rust_decimal::Decimal) -> String {
    let mut amount = stored.round_dp(2);
    amount.rescale(2);
    amount.to_string()
}

fn hasher() -> PasswordHasher {
    // argon2id still, at a test cost: the seed's behaviour does not depend on it.
    PasswordHasher::new(Argon2Params::new(1024, 1, 1).expect("params")).expect("hasher")
}

fn keys() -> domain::crypto::KeyRing {
    domain::crypto::KeyRing::parse(
        domain::crypto::EncryptionKey::generate(1)
            .expect("key")
            .encode()
            .expose(),
    )
    .expect("key ring")
}

/// Every id of every table with a single-column key, in a stable order.
async fn all_ids(t: &TestDb) -> Vec<uuid::Uuid> {
    let db = &t.db;
    let mut ids = Vec::new();
    ids.extend(
        Users::find()
            .order_by_asc(entity::users::Column::Id)
            .all(db)
            .await
            .expect("users")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        Accounts::find()
            .order_by_asc(entity::accounts::Column::Id)
            .all(db)
            .await
            .expect("accounts")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        Sessions::find()
            .order_by_asc(entity::sessions::Column::Id)
            .all(db)
            .await
            .expect("sessions")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        SupplierAccounts::find()
            .order_by_asc(entity::supplier_accounts::Column::Id)
            .all(db)
            .await
            .expect("suppliers")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        Stores::find()
            .order_by_asc(entity::stores::Column::Id)
            .all(db)
            .await
            .expect("stores")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        Products::find()
            .order_by_asc(entity::products::Column::Id)
            .all(db)
            .await
            .expect("products")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        ProductVariants::find()
            .order_by_asc(entity::product_variants::Column::Id)
            .all(db)
            .await
            .expect("variants")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        ProductImages::find()
            .order_by_asc(entity::product_images::Column::Id)
            .all(db)
            .await
            .expect("images")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        Pages::find()
            .order_by_asc(entity::pages::Column::Id)
            .all(db)
            .await
            .expect("pages")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        MediaAssets::find()
            .order_by_asc(entity::media_assets::Column::Id)
            .all(db)
            .await
            .expect("media")
            .iter()
            .map(|r| r.id),
    );
    ids.extend(
        AgentJobs::find()
            .order_by_asc(entity::agent_jobs::Column::Id)
            .all(db)
            .await
            .expect("jobs")
            .iter()
            .map(|r| r.id),
    );
    ids
}

backend_test!(
    async fn seeding_twice_changes_nothing_and_every_table_has_rows(t: &TestDb) {
        let (hasher, keys) = (hasher(), keys());
        let first = demo::seed(&t.db, &hasher, &keys).await.expect("seed");
        let Outcome::Created { user_id, .. } = first else {
            panic!("a fresh database is seeded: {first:?}")
        };
        let counts = seed::report::counts(&t.db).await.expect("counts");
        assert!(
            counts.iter().all(|(_, rows)| *rows > 0),
            "every table has rows: {counts:?}"
        );
        let ids = all_ids(t).await;

        let second = demo::seed(&t.db, &hasher, &keys).await.expect("seed again");
        assert_eq!(second, Outcome::AlreadySeeded { user_id });
        assert_eq!(seed::report::counts(&t.db).await.expect("counts"), counts);
        assert_eq!(all_ids(t).await, ids, "same ids");

        // The demo user can sign in with the documented password.
        let email = domain::users::Email::parse(demo::TEST_EMAIL).expect("email");
        let password = domain::users::Password::parse(demo::TEST_PASSWORD).expect("password");
        let user = domain::users::authenticate(&t.db, &hasher, &email, &password)
            .await
            .expect("sign in");
        assert_eq!(user.id, user_id);
        assert!(user.email_verified.is_some());
        let store = Stores::find()
            .one(&t.db)
            .await
            .expect("store")
            .expect("one store");
        assert_eq!(
            (store.slug.as_str(), store.subdomain.as_str()),
            ("test-store", "test-store")
        );
        assert_eq!(
            store.status,
            entity::sea_orm_active_enums::StoreStatus::Active
        );
    }
);

backend_test!(
    async fn a_reset_then_seed_gives_what_a_fresh_database_gets(t: &TestDb) {
        let (hasher, keys) = (hasher(), keys());
        demo::seed(&t.db, &hasher, &keys).await.expect("seed");
        let fresh = seed::report::counts(&t.db).await.expect("counts");
        // What `seed --reset` runs: the whole refresh on one connection, under the lock.
        migration::runner::run(&t.db, migration::runner::Operation::Refresh)
            .await
            .expect("reset");
        assert!(
            seed::report::counts(&t.db)
                .await
                .expect("counts")
                .iter()
                .all(|(_, rows)| *rows == 0)
        );
        assert!(matches!(
            demo::seed(&t.db, &hasher, &keys).await.expect("seed"),
            Outcome::Created { .. }
        ));
        assert_eq!(seed::report::counts(&t.db).await.expect("counts"), fresh);
    }
);

async fn bulk_products(t: &TestDb, rng_seed: u64) -> Vec<(String, String, String)> {
    let options = BulkOptions {
        stores: 2,
        products_per_store: 30,
        rng_seed,
        batch_size: 7,
    };
    let mut seen = Vec::new();
    let report = bulk::generate(&t.db, &options, &hasher(), |done| seen.push(done))
        .await
        .expect("bulk");
    assert_eq!((report.stores_created, report.products), (2, 60));
    assert_eq!(seen.last(), Some(&60), "progress reaches the total");
    let mut rows: Vec<_> = Products::find()
        .all(&t.db)
        .await
        .expect("products")
        .into_iter()
        .filter(|p| p.source_id.starts_with("bulk-"))
        .map(|p| (p.source_id, p.title, money(p.selling_price)))
        .collect();
    rows.sort();
    rows
}

backend_test!(
    async fn bulk_volume_is_reproducible_from_its_seed_and_skips_what_exists(t: &TestDb) {
        let first = bulk_products(t, 7).await;
        assert_eq!(first.len(), 60);
        assert_eq!(
            seed::report::counts(&t.db).await.expect("counts")[7],
            ("product_variants", 180)
        );
        // The same seed again: the stores exist, nothing is added.
        let again = bulk::generate(
            &t.db,
            &BulkOptions {
                stores: 2,
                products_per_store: 30,
                rng_seed: 7,
                batch_size: 7,
            },
            &hasher(),
            |_| {},
        )
        .await
        .expect("again");
        assert_eq!((again.stores_created, again.stores_skipped), (0, 2));

        // The same seed on another database gives the same data.
        let other = TestDb::migrated(t.backend)
            .await
            .expect("a second database of the same backend");
        assert_eq!(bulk_products(&other, 7).await, first);
    }
);
