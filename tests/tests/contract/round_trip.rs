use chrono::{DateTime, FixedOffset};
use entity::sea_orm_active_enums::{
    AgentType, JobStatus, MediaType, PageType, ProductStatus, StoreStatus, SupplierProvider,
};
use entity::{
    accounts, agent_jobs, media_assets, pages, product_images, product_variants, products,
    sessions, stores, supplier_accounts, users, verification_tokens,
};
use sea_orm::{EntityTrait, Iterable};
use serde_json::json;

use super::*;

/// A stored amount as the domain shows it: SQLite keeps money as a float and loses the scale,
/// so it is rounded to cents and shown with two decimals.
fn money(stored: rust_decimal::Decimal) -> String {
    let mut amount = stored.round_dp(2);
    amount.rescale(2);
    amount.to_string()
}

/// An instant written with a +05:30 offset; every backend must give back the same instant.
fn kolkata() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-14T15:09:26.535897+05:30").expect("timestamp")
}

fn nested_unicode_json() -> serde_json::Value {
    json!({
        "brand": {"name": "NeonNest ✨", "colors": ["#FF00FF", "#00FFFF"], "ratio": 0.5},
        "名前": "ネオン",
        "emoji": "🛋️",
        "flags": {"dark": true, "none": null, "depth": {"level": [1, 2, {"three": 3}]}},
    })
}

backend_test!(
    async fn every_table_gives_back_a_full_row_exactly(t: &TestDb) {
        let db = &t.db;
        let when = kolkata();

        let mut user = user();
        user.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        user.email_verified = Some(when);
        user.image = Some("https://cdn.example.com/u.png".into());
        user.stripe_account_id = Some(format!("acct_{}", unique()));
        user.stripe_onboarded = true;
        user.created_at = when;
        let user = insert(db, user.clone()).await.map(|_| user).expect("user");
        assert_eq!(
            users::Entity::find_by_id(user.id)
                .one(db)
                .await
                .expect("read"),
            Some(user.clone())
        );

        let mut account = account(user.id);
        account.refresh_token = Some("ct:refresh".into());
        account.access_token = Some("ct:access".into());
        account.expires_at = Some(4_102_444_800);
        account.token_type = Some("Bearer".into());
        account.scope = Some("openid email".into());
        account.id_token = Some("ct:id".into());
        account.session_state = Some("state".into());
        insert(db, account.clone()).await.expect("account");
        assert_eq!(
            accounts::Entity::find_by_id(account.id)
                .one(db)
                .await
                .expect("read"),
            Some(account)
        );

        let mut session = session(user.id);
        session.expires = when;
        insert(db, session.clone()).await.expect("session");
        assert_eq!(
            sessions::Entity::find_by_id(session.id)
                .one(db)
                .await
                .expect("read"),
            Some(session)
        );

        let token = verification_token();
        insert(db, token.clone()).await.expect("token");
        assert_eq!(
            verification_tokens::Entity::find_by_id((
                token.identifier.clone(),
                token.token.clone()
            ))
            .one(db)
            .await
            .expect("read"),
            Some(token)
        );

        for provider in SupplierProvider::iter() {
            let mut supplier = supplier_account(user.id);
            supplier.provider = provider;
            supplier.api_secret = Some("ct:secret".into());
            supplier.account_id = Some("acc-1".into());
            supplier.is_active = false;
            insert(db, supplier.clone())
                .await
                .expect("supplier account");
            assert_eq!(
                supplier_accounts::Entity::find_by_id(supplier.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(supplier)
            );
        }

        let mut store = store(user.id);
        store.description = Some("Lamps from the future".into());
        store.brand_identity = Some(nested_unicode_json());
        store.custom_domain = Some(format!("{}.example.com", unique()));
        store.settings = Some(json!({"currency": "EUR", "checkout": {"guest": true}}));
        store.published_at = Some(when);
        store.deleted_at = Some(when);
        let mut store_ids = Vec::new();
        for status in StoreStatus::iter() {
            let mut row = store.clone();
            row.id = uuid::Uuid::now_v7();
            row.slug = format!("s-{}", unique());
            row.subdomain = row.slug.clone();
            row.custom_domain = Some(format!("{}.example.com", unique()));
            row.status = status;
            insert(db, row.clone()).await.expect("store");
            assert_eq!(
                stores::Entity::find_by_id(row.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(row.clone())
            );
            store_ids.push(row.id);
        }
        let store_id = store_ids[0];

        for (i, status) in ProductStatus::iter().enumerate() {
            let mut product = product(store_id);
            product.source_url = Some("https://supplier.example.com/p/1".into());
            product.cost_price = dec("0.10");
            product.selling_price = dec("12345678.99");
            product.compare_at_price = Some(dec("99999999.99"));
            product.currency = "EUR".into();
            product.stock_quantity = i32::try_from(i).expect("small");
            product.track_inventory = false;
            product.meta_title = Some("Meta".into());
            product.meta_description = Some("Description ünïcode".into());
            product.status = status;
            product.deleted_at = Some(when);
            insert(db, product.clone()).await.expect("product");
            let read = products::Entity::find_by_id(product.id)
                .one(db)
                .await
                .expect("read")
                .expect("exists");
            assert_eq!(read, product);
            // Exact to the cent, with the scale restored on every backend.
            assert_eq!(money(read.cost_price), "0.10");
            assert_eq!(money(read.selling_price), "12345678.99");
            assert_eq!(
                read.compare_at_price.map(money).as_deref(),
                Some("99999999.99")
            );

            let mut image = product_image(product.id, product.store_id);
            image.processed_url = Some("https://cdn.example.com/p.webp".into());
            image.alt_text = Some("A neon lamp".into());
            image.position = 3;
            image.created_at = when;
            insert(db, image.clone()).await.expect("image");
            assert_eq!(
                product_images::Entity::find_by_id(image.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(image)
            );

            let mut variant = product_variant(product.id, product.store_id);
            variant.price = dec("99999999.99");
            variant.cost_price = dec("0.10");
            variant.options = json!({"color": "Rot", "size": "XL", "extra": {"glow": "néon"}});
            insert(db, variant.clone()).await.expect("variant");
            assert_eq!(
                product_variants::Entity::find_by_id(variant.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(variant)
            );
        }

        for page_type in PageType::iter() {
            let mut page = page(store_id);
            page.r#type = page_type;
            page.content = "Überall — 全部 ✓".into();
            insert(db, page.clone()).await.expect("page");
            assert_eq!(
                pages::Entity::find_by_id(page.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(page)
            );
        }

        for media_type in MediaType::iter() {
            let mut asset = media_asset(store_id);
            asset.r#type = media_type;
            // Past 2 GiB: a long video.
            asset.size = 5_000_000_000;
            asset.original_url = Some("https://supplier.example.com/v.mp4".into());
            asset.metadata = Some(nested_unicode_json());
            insert(db, asset.clone()).await.expect("media");
            assert_eq!(
                media_assets::Entity::find_by_id(asset.id)
                    .one(db)
                    .await
                    .expect("read"),
                Some(asset)
            );
        }

        for agent_type in AgentType::iter() {
            for status in JobStatus::iter() {
                let mut job = agent_job(Some(store_id));
                job.r#type = agent_type;
                job.status = status;
                job.priority = -5;
                job.input = nested_unicode_json();
                job.output = Some(json!({"result": ["a", "b"], "score": 0.75}));
                job.error = Some("timeout ⏱".into());
                job.started_at = Some(when);
                job.completed_at = Some(when);
                job.progress = 100;
                job.current_step = Some("rendering".into());
                job.attempts = 2;
                job.max_attempts = 5;
                job.run_at = when;
                job.locked_by = Some("worker-1".into());
                job.heartbeat_at = Some(when);
                insert(db, job.clone()).await.expect("job");
                assert_eq!(
                    agent_jobs::Entity::find_by_id(job.id)
                        .one(db)
                        .await
                        .expect("read"),
                    Some(job)
                );
            }
        }
    }
);

backend_test!(
    async fn ids_are_uuid_v7_and_timestamps_keep_their_instant(t: &TestDb) {
        let mut user = user();
        user.created_at = kolkata();
        insert(&t.db, user.clone()).await.expect("user");
        let read = users::Entity::find_by_id(user.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(read.id.get_version_num(), 7);
        assert_eq!(
            read.created_at.timestamp_micros(),
            kolkata().timestamp_micros()
        );
    }
);
