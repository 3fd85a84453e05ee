//! Stores and catalog under adversarial input, on every backend: what a write accepts reads
//! back equal; identifiers compare exactly; counters cannot overflow; limits and positions
//! hold under concurrency; a lost deadlock inside a caller's transaction is a typed, retryable
//! error whose commit cannot look successful.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::StoreScope;
use domain::media_assets::{self, MediaMetadata, MediaType, NewMediaAsset};
use domain::pages::{self, NewPage, PageType};
use domain::paging::PageRequest;
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{self, NewProduct, ProductQuery, SupplierProvider, VARIANTS_MAX};
use domain::stores::{
    self, BrandIdentity, CustomDomain, NewStore, StorePatch, StoreStatus, Subdomain,
};
use domain::values::{HttpUrl, Slug};
use domain::{Error, UniqueRule, Violation};
use entity::{product_images, products as product_rows};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, Statement,
    TransactionTrait,
};

use super::*;

async fn scope(t: &TestDb) -> StoreScope {
    owner_scope(&t.db).await
}

fn product(source_id: &str, title: &str) -> NewProduct {
    NewProduct::new(
        SupplierProvider::Aliexpress,
        source_id,
        title,
        money("1.00"),
        money("2.00"),
    )
}

fn variant(sku: &str, stock: i32) -> NewVariant {
    NewVariant {
        sku: Some(self::sku(sku)),
        title: format!("{sku} variant"),
        price: money("2.00"),
        cost_price: money("1.00"),
        stock,
        options: BTreeMap::new(),
    }
}

fn image(n: usize) -> NewImage {
    NewImage {
        original_url: url(&format!("https://cdn.example.com/{n}.jpg")),
        alt_text: None,
    }
}

fn is_invalid(result: &domain::Result<impl std::fmt::Debug>, field: &str) -> bool {
    matches!(result, Err(Error::Invalid { field: f, .. }) if *f == field)
}

async fn count_products(db: &DatabaseConnection) -> u64 {
    product_rows::Entity::find()
        .count(db)
        .await
        .expect("count products")
}

// ---------------------------------------------------------------------------------------
// 1. What a write accepts reads back.
// ---------------------------------------------------------------------------------------

backend_test! {
    async fn a_brand_with_an_overlong_encoded_logo_url_is_refused_and_the_store_stays_readable(
        t: &TestDb,
    ) {
        let scope = scope(t).await;
        let logo = format!("https://cdn.example.com/{}", "ab ".repeat(600));
        let brand = BrandIdentity::parse(
            "NeonNest",
            ["#FF00FF", "#00FFFF", "#FFFF00"],
            ["Orbitron", "Inter"],
            "futuristic",
            Some(&logo),
        );
        assert!(matches!(
            brand,
            Err(Error::Invalid {
                field: "stores.brand_identity.logo_url",
                violation: Violation::TooLong { .. }
            })
        ));
        let store = stores::get(&t.db, &scope).await.expect("the store reads");
        assert_eq!(store.brand_identity, None);
        let owned = stores::list_for_owner(&t.db, scope.owner_id(), PageRequest::first(10))
            .await
            .expect("the owner's stores read");
        assert_eq!(owned.items.len(), 1);
    }
}

backend_test! {
    async fn random_brands_settings_and_urls_that_are_accepted_read_back_equal(t: &TestDb) {
        let scope = scope(t).await;
        let text = proptest::collection::vec(
            prop_oneof![
                200 => Just('a'), 40 => Just(' '), 40 => Just('é'), 20 => Just('\u{1F600}'),
                1 => Just('\0'), 20 => Just('%'), 40 => Just('Z'), 10 => Just('\u{3000}'),
            ],
            0..110,
        )
        .prop_map(|c| c.into_iter().collect::<String>());
        let strategy = (text.clone(), text.clone(), text, 0usize..1_100);
        let mut runner = TestRunner::deterministic();
        let mut accepted = 0;
        for _ in 0..48 {
            let (name, font, path, pad) =
                strategy.new_tree(&mut runner).expect("value").current();
            let logo = format!("https://cdn.example.com/{path}{}", " x".repeat(pad));
            let Ok(brand) = BrandIdentity::parse(
                &name,
                ["#f0f", "#00FFFF", "#ffff00"],
                [&font, "Inter"],
                "futuristic",
                Some(&logo),
            ) else {
                continue;
            };
            accepted += 1;
            let patch = StorePatch {
                brand_identity: Some(Some(brand.clone())),
                ..StorePatch::default()
            };
            let written = stores::update(&t.db, &scope, patch).await.expect("written");
            assert_eq!(written.brand_identity.as_ref(), Some(&brand));
            let read = stores::get(&t.db, &scope).await.expect("read");
            assert_eq!(read.brand_identity, Some(brand));
        }
        assert!(accepted > 5, "the generator must produce valid brands ({accepted})");
    }
}

backend_test! {
    async fn random_products_that_are_accepted_read_back_equal(t: &TestDb) {
        let scope = scope(t).await;
        let text = proptest::collection::vec(
            prop_oneof![
                200 => Just('a'), 30 => Just('É'), 30 => Just('é'), 40 => Just(' '),
                20 => Just('\u{1F600}'), 1 => Just('\0'), 10 => Just('\n'), 10 => Just('_'),
                10 => Just('%'), 10 => Just('-'),
            ],
            0..280,
        )
        .prop_map(|c| c.into_iter().collect::<String>());
        let sku = "[a-zA-Z0-9._-]{1,66}";
        let strategy = (text.clone(), text, sku, 0i64..11_000_000_000i64, 0i32..=i32::MAX);
        let mut runner = TestRunner::deterministic();
        let mut accepted = 0;
        for n in 0..48 {
            let (title, description, sku, cents, stock) =
                strategy.new_tree(&mut runner).expect("value").current();
            let mut new = product(&format!("random-{n}"), &title);
            new.description = description;
            // Values the input types refuse never reach the repository.
            let Ok(price) = domain::Money::parse("products.selling_price", Decimal::new(cents, 2))
            else {
                continue;
            };
            let Ok(sku) = products::Sku::parse("product_variants.sku", &sku) else {
                continue;
            };
            new.selling_price = price;
            new.compare_at_price = None;
            new.variants = vec![NewVariant {
                sku: Some(sku),
                title: "v".into(),
                price: money("1.00"),
                cost_price: money("1.00"),
                stock,
                options: BTreeMap::from([("size".into(), "L".into())]),
            }];
            let Ok(created) = products::create(&t.db, &scope, new).await else {
                continue;
            };
            accepted += 1;
            let read = products::get(&t.db, &scope, created.id).await.expect("reads");
            assert_eq!(read.title, created.title);
            assert_eq!(read.description, created.description);
            assert_eq!(read.selling_price, created.selling_price);
            assert_eq!(read.variants, created.variants);
            assert_eq!(read.stock_quantity, stock);
        }
        assert!(accepted > 5, "the generator must produce valid products ({accepted})");
        let page = products::list(
            &t.db,
            &scope,
            ProductQuery {
                status: None,
                search: None,
                page: PageRequest::first(100),
            },
        )
        .await
        .expect("the whole catalogue lists");
        assert_eq!(page.items.len(), accepted);
    }
}

// ---------------------------------------------------------------------------------------
// 2. Identifiers compare exactly, the same on every backend.
// ---------------------------------------------------------------------------------------

backend_test! {
    async fn skus_and_source_ids_that_differ_by_case_accent_or_width_are_distinct(t: &TestDb) {
        let scope = scope(t).await;
        let mut lamp = product("supplier-X", "Lamp");
        lamp.variants = ["red-l", "RED-L", "réd-l", "ｒｅｄ-l"]
            .iter()
            .filter_map(|s| products::Sku::parse("sku", s).ok().map(|_| variant(s, 1)))
            .collect();
        let created = products::create(&t.db, &scope, lamp).await.expect("distinct SKUs");
        let skus: Vec<_> = created.variants.iter().filter_map(|v| v.sku.clone()).collect();
        assert!(skus.contains(&"red-l".to_owned()) && skus.contains(&"RED-L".to_owned()));

        // A supplier id that differs only in case is another supplier product.
        for look_alike in ["SUPPLIER-x", "supplier-x", "supplier-Ⅹ", "suppliér-X"] {
            let (imported, outcome) =
                products::import(&t.db, &scope, product(look_alike, "Other lamp"))
                    .await
                    .expect("import");
            assert_eq!(outcome, products::ImportOutcome::Created, "{look_alike}");
            assert_ne!(imported.id, created.id);
        }
        let (again, outcome) = products::import(&t.db, &scope, product("supplier-X", "Lamp"))
            .await
            .expect("re-import");
        assert_eq!(outcome, products::ImportOutcome::Refreshed);
        assert_eq!(again.id, created.id);
    }
}

backend_test! {
    async fn slugs_subdomains_and_domains_compare_after_their_documented_normalisation(
        t: &TestDb,
    ) {
        let (owner, _) = user_with_store(&t.db).await;
        let store = stores::create(
            &t.db,
            owner.id,
            NewStore {
                name: "Neon".into(),
                niche: "Lamps".into(),
                slug: Some(Slug::parse("stores.slug", "neon-shop").expect("slug")),
                subdomain: Some(Subdomain::parse("neon-shop").expect("subdomain")),
                ..NewStore::default()
            },
        )
        .await
        .expect("store");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id).await.expect("scope");
        stores::transition(&t.db, &scope, StoreStatus::PendingReview).await.expect("review");
        stores::transition(&t.db, &scope, StoreStatus::Active).await.expect("active");
        stores::update_custom_domain(&t.db, &scope, Some(CustomDomain::parse("Shop.NeonNest.com").expect("domain")))
            .await
            .expect("domain");

        // Upper case is not a slug; a subdomain is lower-cased, so it is the same one.
        assert!(matches!(
            Slug::parse("stores.slug", "NEON-SHOP"),
            Err(Error::Invalid { field: "stores.slug", violation: Violation::Format })
        ));
        assert!(matches!(
            stores::create(&t.db, owner.id, NewStore {
                name: "x".into(), niche: "y".into(),
                subdomain: Some(Subdomain::parse("NEON-SHOP").expect("lower-cased")),
                ..NewStore::default()
            }).await,
            Err(Error::Conflict { rule: UniqueRule::StoresSubdomain })
        ));
        // An accented look-alike is not a DNS label.
        assert!(matches!(
            Subdomain::parse("néon-shop"),
            Err(Error::Invalid { field: "stores.subdomain", violation: Violation::Format })
        ));

        let found = |host: &'static str| {
            let db = t.db.clone();
            async move {
                stores::find_by_host(&db, host, "zyenta.test")
                    .await
                    .expect("no database error")
                    .map(|s| s.id)
            }
        };
        assert_eq!(found("neon-shop.zyenta.test").await, Some(store.id));
        assert_eq!(found("NEON-SHOP.Zyenta.Test.").await, Some(store.id));
        assert_eq!(found("shop.neonnest.com:443").await, Some(store.id));
        assert_eq!(found("ＳＨＯＰ.neonnest.com").await, Some(store.id), "width folds");
        assert_eq!(found("néon-shop.zyenta.test").await, None);
        assert_eq!(found("shöp.neonnest.com").await, None);
        assert_eq!(found("shop.nеonnest.com").await, None, "Cyrillic е");
        assert_eq!(found("neon-shop\0.zyenta.test").await, None);
        assert_eq!(found("a\0.zyenta.test").await, None);
        assert_eq!(found("").await, None);

        // Another store cannot take the domain in another case or width.
        let (other_owner, _) = user_with_store(&t.db).await;
        let other = stores::create(&t.db, other_owner.id, NewStore {
            name: "Other".into(), niche: "y".into(), ..NewStore::default()
        }).await.expect("other store");
        let other_scope =
            StoreScope::obtain(&t.db, other_owner.id, other.id).await.expect("scope");
        for taken in ["shop.neonnest.com", "SHOP.NEONNEST.COM", "ｓｈｏｐ.neonnest.com"] {
            assert!(matches!(
                stores::update_custom_domain(&t.db, &other_scope, Some(CustomDomain::parse(taken).expect("domain")))
                    .await,
                Err(Error::Conflict { rule: UniqueRule::StoresCustomDomain })
            ), "{taken}");
        }
        stores::update_custom_domain(&t.db, &other_scope, Some(CustomDomain::parse("shöp.neonnest.com").expect("domain")))
            .await
            .expect("an accented domain is another domain");
    }
}

backend_test! {
    async fn a_product_search_folds_case_by_unicode_and_keeps_accents(t: &TestDb) {
        let scope = scope(t).await;
        for (source, title) in
            [("1", "ÉCLAIR Lamp"), ("2", "eclair lamp"), ("3", "Straße sign"), ("4", "50%_off")]
        {
            products::create(&t.db, &scope, product(source, title)).await.expect("product");
        }
        let search = |text: &'static str| {
            let db = t.db.clone();
            async move {
                let mut titles: Vec<String> = products::list(
                    &db,
                    &scope,
                    ProductQuery {
                        status: None,
                        search: Some(text.into()),
                        page: PageRequest::first(10),
                    },
                )
                .await
                .expect("search")
                .items
                .into_iter()
                .map(|p| p.title)
                .collect();
                titles.sort();
                titles
            }
        };
        assert_eq!(search("éclair").await, ["ÉCLAIR Lamp"]);
        assert_eq!(search("ÉCLAIR").await, ["ÉCLAIR Lamp"]);
        assert_eq!(search("eclair").await, ["eclair lamp"]);
        assert_eq!(search("LAMP").await, ["eclair lamp", "ÉCLAIR Lamp"]);
        assert_eq!(search("STRASSE").await, Vec::<String>::new());
        assert_eq!(search("straße").await, ["Straße sign"]);
        assert_eq!(search("%_").await, ["50%_off"]);
        assert_eq!(search("0_o").await, Vec::<String>::new());
        // A renamed product is found by its new title.
        let renamed = products::create(&t.db, &scope, product("5", "Plain")).await.expect("p");
        products::update(&t.db, &scope, renamed.id, products::ProductPatch {
            title: Some("ÜBER Lamp".into()),
            ..products::ProductPatch::default()
        }).await.expect("rename");
        assert_eq!(search("über").await, ["ÜBER Lamp"]);
    }
}

// ---------------------------------------------------------------------------------------
// 3. Arithmetic never panics, wraps or stores what cannot be read.
// ---------------------------------------------------------------------------------------

backend_test! {
    async fn stock_totals_past_i32_max_are_refused_and_nothing_is_written(t: &TestDb) {
        let scope = scope(t).await;
        let mut two = product("big", "Big");
        two.variants = vec![variant("a", i32::MAX), variant("b", 1)];
        let result = products::create(&t.db, &scope, two).await;
        assert!(is_invalid(&result, "products.stock_quantity"), "{result:?}");
        assert_eq!(count_products(&t.db).await, 0);

        let mut one = product("max", "Max");
        one.variants = vec![variant("a", i32::MAX)];
        let max = products::create(&t.db, &scope, one).await.expect("exactly i32::MAX fits");
        assert_eq!(max.stock_quantity, i32::MAX);
        let result = products::variants::create(&t.db, &scope, max.id, variant("b", 1)).await;
        assert!(is_invalid(&result, "products.stock_quantity"), "{result:?}");
        let variant_id = max.variants[0].id;
        let result = products::variants::update_stock(&t.db, &scope, variant_id, 1).await;
        assert!(is_invalid(&result, "product_variants.stock"), "{result:?}");
        let read = products::get(&t.db, &scope, max.id).await.expect("still reads");
        assert_eq!((read.stock_quantity, read.variants.len()), (i32::MAX, 1));

        let mut plain = product("plain", "Plain");
        plain.stock_quantity = 10;
        let plain = products::create(&t.db, &scope, plain).await.expect("plain");
        let result = products::update_stock(&t.db, &scope, plain.id, i32::MAX).await;
        assert!(is_invalid(&result, "products.stock_quantity"), "{result:?}");
        assert_eq!(
            products::update_stock(&t.db, &scope, plain.id, i32::MAX - 10).await.ok(),
            Some(i32::MAX)
        );
        assert!(matches!(
            products::update_stock(&t.db, &scope, plain.id, i32::MIN).await,
            Err(Error::InsufficientStock { available: i32::MAX, .. })
        ));
        let read = products::get(&t.db, &scope, plain.id).await.expect("reads");
        assert_eq!(read.stock_quantity, i32::MAX);
    }
}

backend_test! {
    async fn media_sizes_are_bounded_and_totals_exact(t: &TestDb) {
        let scope = scope(t).await;
        let asset = |size: i64| NewMediaAsset {
            media_type: MediaType::Video,
            filename: "clip.mp4".into(),
            mime_type: "video/mp4".into(),
            size,
            url: url("https://cdn.example.com/clip.mp4"),
            original_url: None,
            metadata: Some(MediaMetadata::new(None, None, None, Some(12.5)).expect("metadata")),
        };
        for size in [i64::MAX, media_assets::SIZE_MAX + 1, -1, i64::MIN] {
            assert!(is_invalid(
                &media_assets::create(&t.db, &scope, asset(size)).await,
                "media_assets.size"
            ));
        }
        for _ in 0..3 {
            media_assets::create(&t.db, &scope, asset(media_assets::SIZE_MAX)).await.expect("max fits");
        }
        assert_eq!(
            media_assets::count_bytes(&t.db, &scope).await.expect("total"),
            3 * media_assets::SIZE_MAX
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Limits and orderings hold under concurrency.
// ---------------------------------------------------------------------------------------

backend_test! {
    async fn eight_concurrent_image_additions_keep_positions_contiguous_and_the_limit(
        t: &TestDb,
    ) {
        let scope = scope(t).await;
        let mut new = product("gallery", "Gallery");
        new.images = (0..products::IMAGES_MAX - 4).map(image).collect();
        let gallery = products::create(&t.db, &scope, new).await.expect("gallery");
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    products::images::create(&db, &scope, gallery.id, image(100 + n)).await
                })
            })
            .collect();
        let mut added = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => added += 1,
                Err(Error::Invalid { field: "product_images", violation: Violation::TooMany { .. } }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(added, 4);
        let read = products::get(&t.db, &scope, gallery.id).await.expect("reads");
        let positions: Vec<i32> = read.images.iter().map(|i| i.position).collect();
        assert_eq!(positions, (0..products::IMAGES_MAX as i32).collect::<Vec<_>>());
        let rows = product_images::Entity::find().count(&t.db).await.expect("count");
        assert_eq!(rows, products::IMAGES_MAX as u64);
    }
}

backend_test! {
    async fn eight_concurrent_variant_additions_cannot_pass_the_limit(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = product("variants", "Variants");
        new.variants = (0..VARIANTS_MAX - 3).map(|n| variant(&format!("v{n}"), 1)).collect();
        let p = products::create(&t.db, &scope, new).await.expect("product");
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    products::variants::create(&db, &scope, p.id, variant(&format!("new{n}"), 2)).await
                })
            })
            .collect();
        let mut added = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => added += 1,
                Err(Error::Invalid { field: "product_variants", violation: Violation::TooMany { .. } }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(added, 3);
        let read = products::get(&t.db, &scope, p.id).await.expect("reads");
        assert_eq!(read.variants.len(), VARIANTS_MAX);
        assert_eq!(read.stock_quantity, read.variants.iter().map(|v| v.stock).sum::<i32>());
    }
}

backend_test! {
    async fn eight_writers_on_one_variant_never_fail_and_keep_the_totals(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = product("stock", "Stock");
        new.variants = vec![variant("a", 1_000), variant("b", 1_000)];
        let p = products::create(&t.db, &scope, new).await.expect("product");
        let ids = Arc::new([p.variants[0].id, p.variants[1].id]);
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let db = t.db.clone();
                let ids = ids.clone();
                tokio::spawn(async move {
                    for i in 0..25 {
                        let delta = if (n + i) % 2 == 0 { -3 } else { 2 };
                        products::variants::update_stock(&db, &scope, ids[(n + i) % 2], delta)
                            .await
                            .expect("no deadlock, no error");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let read = products::get(&t.db, &scope, p.id).await.expect("reads");
        let total: i32 = read.variants.iter().map(|v| v.stock).sum();
        assert_eq!(total, 2_000 - 100);
        assert_eq!(read.stock_quantity, total);
    }
}

// ---------------------------------------------------------------------------------------
// 5. A deadlock inside a caller's transaction.
// ---------------------------------------------------------------------------------------

/// Which row the other transaction holds, so that the call under test waits for it.
#[derive(Clone, Copy)]
enum Parent {
    Store,
    Product,
    Owner,
    /// The product's variants.
    Variants,
    /// The store's pages.
    Pages,
    /// The store's media assets.
    Media,
}

/// Runs `call` inside a caller's transaction that loses a deadlock to another transaction.
///
/// The caller's transaction first updates a bystander user; the other transaction locks the
/// parent row the call needs (`FOR UPDATE`), does more work (so that InnoDB picks the caller
/// as the lighter victim) and then waits for the bystander. The call then waits for the
/// parent: a cycle. On MariaDB the caller must get [`Error::Transient`], its commit must
/// fail, and none of its writes may remain. Postgres lets the other transaction's deadlock
/// check fire first (it waited longer), so the call succeeds and commits. SQLite has one
/// writer at a time and cannot deadlock: the scenario does not apply.
async fn lose_a_deadlock<F>(t: &TestDb, parent: Parent, call: F)
where
    F: for<'c> FnOnce(
        &'c sea_orm::DatabaseTransaction,
        StoreScope,
        uuid::Uuid,
    )
        -> std::pin::Pin<Box<dyn Future<Output = domain::Result<()>> + Send + 'c>>,
{
    let (owner, store) = user_with_store(&t.db).await;
    let scope = StoreScope::obtain(&t.db, owner.id, store.id)
        .await
        .expect("scope");
    let mut new = product("deadlock", "Lamp");
    new.variants = vec![variant("v1", 5)];
    new.images = vec![image(1), image(2)];
    let lamp = products::create(&t.db, &scope, new).await.expect("p");
    pages::create(
        &t.db,
        &scope,
        NewPage {
            page_type: PageType::About,
            title: "About".into(),
            slug: None,
            content: "Us.".into(),
        },
    )
    .await
    .expect("page");
    media_assets::create(&t.db, &scope, logo())
        .await
        .expect("asset");
    if t.backend == Backend::Sqlite {
        // One writer at a time: the call simply runs inside the caller's transaction.
        let caller = t.db.begin().await.expect("caller begins");
        call(&caller, scope, lamp.id)
            .await
            .expect("the call succeeds");
        caller.commit().await.expect("the caller commits");
        return;
    }
    let bystander = insert(&t.db, user()).await.expect("bystander");
    let sql = |s: String| Statement::from_string(t.db_backend(), s);
    let id = |u: uuid::Uuid| match t.db_backend() {
        DbBackend::Postgres => format!("'{u}'"),
        _ => format!("x'{}'", u.simple()),
    };

    let caller = t.db.begin().await.expect("caller begins");
    caller
        .execute_raw(sql(format!(
            "UPDATE users SET name = 'caller' WHERE id = {}",
            id(bystander.id)
        )))
        .await
        .expect("caller writes");

    let other = t.db.begin().await.expect("other begins");
    let (table, column, row) = match parent {
        Parent::Store => ("stores", "id", store.id),
        Parent::Product => ("products", "id", lamp.id),
        Parent::Owner => ("users", "id", owner.id),
        Parent::Variants => ("product_variants", "product_id", lamp.id),
        Parent::Pages => ("pages", "store_id", store.id),
        Parent::Media => ("media_assets", "store_id", store.id),
    };
    other
        .execute_raw(sql(format!(
            "SELECT id FROM {table} WHERE {column} = {} FOR UPDATE",
            id(row)
        )))
        .await
        .expect("other locks the parent");
    // New rows only: an UPDATE of a small table would scan it and lock the bystander too.
    for _ in 0..30 {
        insert(&other, user()).await.expect("other does more work");
    }
    let bystander_id = id(bystander.id);
    let other_task = tokio::spawn(async move {
        let waited = other
            .execute_raw(Statement::from_string(
                other.get_database_backend(),
                format!("UPDATE users SET name = 'other' WHERE id = {bystander_id}"),
            ))
            .await;
        match waited {
            Ok(_) => other.commit().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let outcome = call(&caller, scope, lamp.id).await;
    match t.backend {
        Backend::MySql => {
            assert!(
                matches!(&outcome, Err(e) if e.is_retryable()),
                "a typed, retryable error: {outcome:?}"
            );
            assert!(
                caller.commit().await.is_err(),
                "the commit must not report success"
            );
            other_task
                .await
                .expect("task")
                .expect("the other transaction commits");
            let name: Option<String> = users_name(&t.db, bystander.id).await;
            assert_eq!(
                name.as_deref(),
                Some("other"),
                "nothing of the caller is kept"
            );
        }
        _ => {
            outcome.expect("on Postgres the other transaction is the victim");
            caller.commit().await.expect("the caller commits");
            assert!(other_task.await.expect("task").is_err());
            let name: Option<String> = users_name(&t.db, bystander.id).await;
            assert_eq!(name.as_deref(), Some("caller"));
        }
    }
}

async fn first_variant(
    txn: &sea_orm::DatabaseTransaction,
    scope: StoreScope,
    product_id: uuid::Uuid,
) -> domain::Result<uuid::Uuid> {
    products::get(txn, &scope, product_id)
        .await
        .map(|p| p.variants[0].id)
}

fn logo() -> NewMediaAsset {
    NewMediaAsset {
        media_type: MediaType::Logo,
        filename: "logo.png".into(),
        mime_type: "image/png".into(),
        size: 10,
        url: url("https://cdn.example.com/logo.png"),
        original_url: None,
        metadata: None,
    }
}

fn url(value: &str) -> HttpUrl {
    HttpUrl::parse("media_assets.url", value).expect("url")
}

async fn users_name(db: &DatabaseConnection, id: uuid::Uuid) -> Option<String> {
    entity::users::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read user")
        .and_then(|u| u.name)
}

backend_test! {
    async fn a_deadlock_in_products_create_inside_a_callers_transaction_is_typed(t: &TestDb) {
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            products::create(txn, &scope, product("in-txn", "Lamp")).await.map(|_| ())
        })).await;
    }
}

backend_test! {
    async fn a_deadlock_in_stores_create_inside_a_callers_transaction_is_typed(t: &TestDb) {
        lose_a_deadlock(t, Parent::Owner, |txn, scope, _| Box::pin(async move {
            stores::create(txn, scope.owner_id(), NewStore {
                name: "Second".into(), niche: "Lamps".into(), ..NewStore::default()
            }).await.map(|_| ())
        })).await;
    }
}

backend_test! {
    async fn a_deadlock_in_every_other_catalog_write_inside_a_callers_transaction_is_typed(
        t: &TestDb,
    ) {
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            pages::create(txn, &scope, NewPage {
                page_type: PageType::Custom,
                title: "Shipping".into(),
                slug: None,
                content: String::new(),
            }).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            media_assets::create(txn, &scope, logo()).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, product_id| Box::pin(async move {
            products::images::create(txn, &scope, product_id, image(1)).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, product_id| Box::pin(async move {
            products::variants::create(txn, &scope, product_id, variant("x", 1)).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, product_id| Box::pin(async move {
            products::update_stock(txn, &scope, product_id, 1).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, product_id| Box::pin(async move {
            products::transition(txn, &scope, product_id, products::ProductStatus::Archived)
                .await
                .map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            stores::transition(txn, &scope, StoreStatus::Archived).await.map(|_| ())
        })).await;
    }
}

backend_test! {
    async fn domain_transaction_runs_the_whole_closure_again_after_a_lost_deadlock(
        t: &TestDb,
    ) {
        let (owner, store) = user_with_store(&t.db).await;
        let scope = StoreScope::obtain(&t.db, owner.id, store.id).await.expect("scope");
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Two services build the same pair of products in opposite order at once: on the
        // backends with row locks one of them loses a deadlock at some point, and is run
        // again whole.
        let run = |first: &'static str, second: &'static str| {
            let db = t.db.clone();
            let attempts = attempts.clone();
            tokio::spawn(async move {
                domain::transaction(&db, move |txn| {
                    let attempts = attempts.clone();
                    Box::pin(async move {
                        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let a = products::import(txn, &scope, product(first, first)).await?;
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        let b = products::import(txn, &scope, product(second, second)).await?;
                        Ok((a.0.id, b.0.id))
                    })
                })
                .await
            })
        };
        let one = run("p-a", "p-b");
        let two = run("p-b", "p-a");
        let one = one.await.expect("task").expect("first service");
        let two = two.await.expect("task").expect("second service");
        assert_eq!(count_products(&t.db).await, 2);
        let mut ids = [one.0, one.1, two.0, two.1];
        ids.sort();
        assert_eq!((ids[0], ids[2]), (ids[1], ids[3]), "both saw the same two products");
        let attempts = attempts.load(std::sync::atomic::Ordering::SeqCst);
        if t.backend == Backend::MySql {
            // InnoDB picks a victim and throws its whole transaction away: it ran again.
            assert!(attempts >= 3, "{attempts} attempts");
        } else {
            // SQLite serialises writers; Postgres retries the lost savepoint in place.
            assert!(attempts >= 2, "{attempts} attempts");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 6. and 7. Maximum lengths fit every backend; unstorable input is refused by name.
// ---------------------------------------------------------------------------------------

backend_test! {
    async fn every_limited_text_field_stores_its_maximum_in_four_byte_characters(t: &TestDb) {
        let scope = scope(t).await;
        let wide = |n: usize| "\u{1F600}".repeat(n);
        let mut new = product(&"s".repeat(products::TITLE_MAX), &wide(products::TITLE_MAX));
        new.description = wide(products::DESCRIPTION_MAX);
        new.original_title = Some(wide(products::TITLE_MAX));
        new.meta_title = Some(wide(products::TITLE_MAX));
        new.meta_description = Some(wide(products::DESCRIPTION_MAX));
        new.variants = vec![NewVariant {
            sku: Some(sku(&"S".repeat(products::SKU_MAX))),
            title: wide(products::TITLE_MAX),
            options: BTreeMap::from([(wide(products::OPTION_TEXT_MAX), wide(products::OPTION_TEXT_MAX))]),
            ..variant("x", 1)
        }];
        new.images = vec![NewImage {
            original_url: url(&format!("https://cdn.example.com/{}", "a".repeat(2_000))),
            alt_text: Some(wide(products::TITLE_MAX)),
        }];
        let created = products::create(&t.db, &scope, new).await.expect("maximum product");
        let read = products::get(&t.db, &scope, created.id).await.expect("reads");
        assert_eq!(read.description.chars().count(), products::DESCRIPTION_MAX);
        assert_eq!(read, created);

        let page = pages::create(&t.db, &scope, NewPage {
            page_type: PageType::Custom,
            title: wide(pages::TITLE_MAX),
            slug: Some(Slug::parse("pages.slug", "long").expect("slug")),
            content: "é".repeat(pages::CONTENT_MAX),
        }).await.expect("maximum page");
        let read = pages::get(&t.db, &scope, page.id).await.expect("reads");
        assert_eq!(read.content.chars().count(), pages::CONTENT_MAX);
        let page = pages::create(&t.db, &scope, NewPage {
            page_type: PageType::Custom,
            title: "Emoji".into(),
            slug: Some(Slug::parse("pages.slug", "emoji").expect("slug")),
            content: wide(pages::CONTENT_MAX),
        }).await.expect("maximum page in 4-byte characters");
        assert_eq!(page.content.chars().count(), pages::CONTENT_MAX);

        let (owner, _) = user_with_store(&t.db).await;
        let store = stores::create(&t.db, owner.id, NewStore {
            name: wide(stores::NAME_MAX),
            niche: wide(stores::NAME_MAX),
            description: Some(wide(stores::DESCRIPTION_MAX)),
            ..NewStore::default()
        }).await.expect("maximum store");
        assert_eq!(store.description.map(|d| d.chars().count()), Some(stores::DESCRIPTION_MAX));

        // One past each limit is refused by name.
        let mut over = product("over", "Over");
        over.description = "é".repeat(products::DESCRIPTION_MAX + 1);
        assert!(is_invalid(&products::create(&t.db, &scope, over).await, "products.description"));
        assert!(is_invalid(
            &pages::create(&t.db, &scope, NewPage {
                page_type: PageType::Custom,
                title: "Over".into(),
                slug: None,
                content: "é".repeat(pages::CONTENT_MAX + 1),
            }).await,
            "pages.content"
        ));
    }
}

backend_test! {
    async fn nul_and_control_characters_are_refused_by_name_everywhere(t: &TestDb) {
        let scope = scope(t).await;
        let control = Violation::ControlCharacter;
        let refused = |r: domain::Result<()>, field: &str| {
            assert!(
                matches!(&r, Err(Error::Invalid { field: f, violation }) if *f == field && *violation == control),
                "{field}: {r:?}"
            );
        };
        for bad in ["a\0b", "a\u{1}b", "\u{7f}x", "x\u{9b}"] {
            refused(products::create(&t.db, &scope, product("n", bad)).await.map(|_| ()), "products.title");
            refused(products::create(&t.db, &scope, product(bad, "t")).await.map(|_| ()), "products.source_id");
            let mut p = product("d", "t");
            p.description = bad.into();
            refused(products::create(&t.db, &scope, p).await.map(|_| ()), "products.description");
            let mut p = product("o", "t");
            p.variants = vec![NewVariant {
                options: BTreeMap::from([("color".into(), bad.into())]),
                ..variant("x", 1)
            }];
            refused(products::create(&t.db, &scope, p).await.map(|_| ()), "product_variants.options");
            refused(
                stores::create(&t.db, scope.owner_id(), NewStore {
                    name: bad.into(), niche: "n".into(), ..NewStore::default()
                }).await.map(|_| ()),
                "stores.name",
            );
            refused(
                pages::create(&t.db, &scope, NewPage {
                    page_type: PageType::Custom, title: bad.into(), slug: None, content: String::new(),
                }).await.map(|_| ()),
                "pages.title",
            );
            refused(
                pages::create(&t.db, &scope, NewPage {
                    page_type: PageType::Custom, title: "t".into(), slug: None, content: bad.into(),
                }).await.map(|_| ()),
                "pages.content",
            );
            refused(
                BrandIdentity::parse(bad, ["#fff", "#000", "#f00"], ["a", "b"], "t", None).map(|_| ()),
                "stores.brand_identity.name",
            );
        }
        // Tabs and new lines are text, not control input.
        let mut p = product("ok", "t");
        p.description = "line one\n\tline two\r\n".into();
        products::create(&t.db, &scope, p).await.expect("tabs and new lines are kept");
        assert_eq!(count_products(&t.db).await, 1, "nothing else was written");
    }
}

backend_test! {
    async fn lookups_with_text_that_is_no_identifier_find_nothing_instead_of_failing(t: &TestDb) {
        let scope = scope(t).await;
        for slug in ["a\0b", "ABOUT", "", "about\u{200b}"] {
            assert!(
                matches!(
                    pages::get_by_slug(&t.db, &scope, slug).await,
                    Err(Error::NotFound { entity: domain::Table::Pages })
                ),
                "{slug:?}"
            );
        }
        for age in [std::time::Duration::MAX, std::time::Duration::from_secs(u64::MAX / 4)] {
            assert!(is_invalid(&stores::purge_deleted(&t.db, age).await, "age"));
        }
        assert_eq!(
            stores::purge_deleted(&t.db, std::time::Duration::from_secs(30 * 86_400)).await.ok(),
            Some(0)
        );
    }
}

backend_test! {
    async fn random_media_and_pages_that_are_accepted_read_back_equal(t: &TestDb) {
        let scope = scope(t).await;
        let text = proptest::collection::vec(
            prop_oneof![
                200 => Just('a'), 30 => Just('é'), 30 => Just(' '), 10 => Just('.'),
                10 => Just('/'), 20 => Just('\u{1F600}'), 10 => Just('\n'),
            ],
            0..200,
        )
        .prop_map(|c| c.into_iter().collect::<String>());
        // One in six values starts with a control character that no backend may receive.
        let text = (
            prop_oneof![10 => Just(""), 1 => Just("\0"), 1 => Just("\u{85}")],
            text,
        )
            .prop_map(|(control, rest)| format!("{control}{rest}"));
        let strategy = (
            text.clone(),
            text,
            "(image|video|IMAGE|application)/[a-z0-9+.-]{0,12}",
            proptest::option::of(0u32..3),
            proptest::option::of(prop_oneof![
                Just(0.0f64),
                Just(-0.0f64),
                Just(f64::NAN),
                Just(86_400.0f64),
                Just(86_400.000_001f64),
                0.0f64..90_000.0,
            ]),
            -1i64..=media_assets::SIZE_MAX + 1,
        );
        let mut runner = TestRunner::deterministic();
        let (mut assets, mut pages_written) = (0, 0);
        for n in 0..48 {
            let (name, body, mime, width, duration, size) =
                strategy.new_tree(&mut runner).expect("value").current();
            let metadata = MediaMetadata::new(
                width,
                width,
                Some(&name.chars().take(24).collect::<String>()),
                duration,
            );
            let new = |metadata| NewMediaAsset {
                media_type: if mime.starts_with("video") {
                    MediaType::Video
                } else {
                    MediaType::Image
                },
                // Mostly without a folder separator or line break, which are refused.
                filename: if n % 8 == 0 {
                    name.clone()
                } else {
                    name.replace(['/', '\n'], "_")
                },
                mime_type: mime,
                size,
                url: url(&format!("https://cdn.example.com/{n}.bin")),
                original_url: None,
                metadata: Some(metadata),
            };
            let created = match metadata {
                Ok(metadata) => media_assets::create(&t.db, &scope, new(metadata)).await,
                Err(err) => Err(err),
            };
            match created {
                Ok(asset) => {
                    assets += 1;
                    let read = media_assets::get(&t.db, &scope, asset.id).await.expect("asset reads");
                    assert_eq!(read, asset);
                }
                Err(Error::Invalid { .. }) => {}
                Err(other) => panic!("an untyped refusal: {other:?}"),
            }
            let page = pages::create(&t.db, &scope, NewPage {
                page_type: PageType::Custom,
                title: name,
                slug: None,
                content: body,
            })
            .await;
            match page {
                Ok(page) => {
                    pages_written += 1;
                    let read = pages::get(&t.db, &scope, page.id).await.expect("page reads");
                    assert_eq!(read, page);
                }
                Err(Error::Invalid { .. }) => {}
                Err(other) => panic!("an untyped refusal: {other:?}"),
            }
        }
        assert!(assets > 5 && pages_written > 5, "{assets} assets, {pages_written} pages");
        let listed = media_assets::list(&t.db, &scope, None, PageRequest::first(100))
            .await
            .expect("every asset of the store lists");
        assert_eq!(listed.items.len(), assets);
    }
}

backend_test! {
    async fn the_schema_itself_compares_text_exactly_trailing_spaces_included(t: &TestDb) {
        // Straight through the entities, past the domain's trimming: the database's own
        // equality, which a binary PAD SPACE collation would get wrong.
        let (_, store) = user_with_store(&t.db).await;
        for source_id in ["sku-1", "sku-1 ", "SKU-1", "skü-1"] {
            let mut row = tests::builders::product(store.id);
            row.source_id = source_id.into();
            insert(&t.db, row).await.expect("a distinct source id");
        }
        let rows = product_rows::Entity::find().count(&t.db).await.expect("count");
        assert_eq!(rows, 4);
    }
}

backend_test! {
    async fn a_deadlock_in_the_remaining_store_and_catalog_writes_is_typed(t: &TestDb) {
        use products::ProductPatch;
        use products::variants::VariantPatch;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            stores::update(txn, &scope, StorePatch {
                name: Some("Renamed".into()),
                ..StorePatch::default()
            }).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            stores::update_custom_domain(txn, &scope, Some(CustomDomain::parse("shop.example.org").expect("domain")))
                .await
                .map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            stores::soft_delete(txn, &scope).await
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            products::import(txn, &scope, product("imported", "Imported")).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Store, |txn, scope, _| Box::pin(async move {
            products::create_many(txn, &scope, vec![product("m1", "One"), product("m2", "Two")])
                .await
                .map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            products::update(txn, &scope, id, ProductPatch {
                title: Some("Patched".into()),
                ..ProductPatch::default()
            }).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            products::soft_delete(txn, &scope, id).await
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            let variant = first_variant(txn, scope, id).await?;
            products::variants::update_stock(txn, &scope, variant, -1).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Variants, |txn, scope, id| Box::pin(async move {
            let variant = first_variant(txn, scope, id).await?;
            products::variants::update(txn, &scope, variant, VariantPatch {
                title: Some("Renamed".into()),
                ..VariantPatch::default()
            }).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            let variant = first_variant(txn, scope, id).await?;
            products::variants::delete(txn, &scope, variant).await
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            let images = products::get(txn, &scope, id).await?.images;
            let order: Vec<_> = images.iter().rev().map(|i| i.id).collect();
            products::images::update_positions(txn, &scope, id, &order).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Product, |txn, scope, id| Box::pin(async move {
            let image = products::get(txn, &scope, id).await?.images[0].id;
            products::images::delete(txn, &scope, image).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Pages, |txn, scope, _| Box::pin(async move {
            let page = pages::get_by_slug(txn, &scope, "about").await?;
            pages::update(txn, &scope, page.id, pages::PagePatch {
                title: Some("About us".into()),
                ..pages::PagePatch::default()
            }).await.map(|_| ())
        })).await;
        lose_a_deadlock(t, Parent::Pages, |txn, scope, _| Box::pin(async move {
            let page = pages::get_by_slug(txn, &scope, "about").await?;
            pages::delete(txn, &scope, page.id).await
        })).await;
        lose_a_deadlock(t, Parent::Media, |txn, scope, _| Box::pin(async move {
            let asset = media_assets::list(txn, &scope, None, PageRequest::first(1)).await?.items[0].id;
            media_assets::delete(txn, &scope, asset).await
        })).await;
    }
}

backend_test! {
    async fn the_database_itself_refuses_stock_and_positions_past_the_int_range(t: &TestDb) {
        // Past the domain, straight in SQL: SQLite would keep a 64-bit value in an `int`
        // column and fail every later read; its triggers refuse it like the other backends'
        // types do.
        let scope = scope(t).await;
        let mut new = product("raw", "Raw");
        new.variants = vec![variant("a", 1)];
        new.images = vec![image(1)];
        products::create(&t.db, &scope, new).await.expect("product");
        for (table, column) in [
            ("products", "stock_quantity"),
            ("product_variants", "stock"),
            ("product_images", "position"),
        ] {
            for value in ["2147483648", "-1"] {
                let refused = t
                    .db
                    .execute_raw(Statement::from_string(
                        t.db_backend(),
                        format!("UPDATE {table} SET {column} = {value}"),
                    ))
                    .await;
                assert!(refused.is_err(), "{table}.{column} = {value}");
                if t.backend == Backend::Sqlite {
                    let err = domain::violations::translate(refused.expect_err("refused"), Some(table));
                    assert!(
                        matches!(err, Error::Invalid { violation: Violation::Check(_), .. }),
                        "{err:?}"
                    );
                }
            }
        }
        let read = products::list(&t.db, &scope, ProductQuery::default()).await.expect("reads");
        assert_eq!(read.items[0].variants[0].stock, 1);
    }
}
