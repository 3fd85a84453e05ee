use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::StoreScope;
use domain::paging::PageRequest;
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{
    self, ImportOutcome, NewProduct, ProductPatch, ProductQuery, ProductStatus, SupplierProvider,
};
use domain::{Error, UniqueRule, Violation};
use entity::{product_images, product_variants, products as product_rows};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

use super::*;

async fn scope(t: &TestDb) -> StoreScope {
    owner_scope(&t.db).await
}

fn variant(sku: &str, stock: i32) -> NewVariant {
    NewVariant {
        sku: Some(self::sku(sku)),
        title: format!("{sku} variant"),
        price: money("29.99"),
        cost_price: money("12.50"),
        stock,
        options: BTreeMap::from([("color".into(), "Red".into()), ("size".into(), "L".into())]),
    }
}

fn lamp(source_id: &str) -> NewProduct {
    let mut p = NewProduct::new(
        SupplierProvider::Aliexpress,
        source_id,
        "Neon Lamp",
        money("12.50"),
        money("29.99"),
    );
    p.description = "Glows.".into();
    p.stock_quantity = 10;
    p.images = vec![
        NewImage {
            original_url: url("https://cdn.example.com/1.jpg"),
            alt_text: Some("Front".into()),
        },
        NewImage {
            original_url: url("https://cdn.example.com/2.jpg"),
            alt_text: None,
        },
    ];
    p
}

async fn counts(t: &TestDb) -> (u64, u64, u64) {
    (
        product_rows::Entity::find()
            .count(&t.db)
            .await
            .expect("count"),
        product_variants::Entity::find()
            .count(&t.db)
            .await
            .expect("count"),
        product_images::Entity::find()
            .count(&t.db)
            .await
            .expect("count"),
    )
}

backend_test!(
    async fn a_product_is_created_with_its_variants_and_images_and_reads_back_exactly(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = lamp("src-1");
        new.compare_at_price = Some(money("99999999.99"));
        new.cost_price = money("0.10");
        new.currency = domain::values::Currency::parse("products.currency", "EUR").expect("EUR");
        new.variants = vec![variant("LAMP-R", 3), variant("LAMP-B", 4)];
        let created = products::create(&t.db, &scope, new).await.expect("create");
        assert_eq!(created.slug, "neon-lamp");
        assert_eq!(
            created.stock_quantity, 7,
            "with variants, the product's stock is their total"
        );
        assert_eq!(created.cost_price.to_string(), "0.10");
        assert_eq!(
            created.compare_at_price.map(|p| p.to_string()).as_deref(),
            Some("99999999.99")
        );
        assert_eq!(
            created
                .images
                .iter()
                .map(|i| i.position)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
        let read = products::get(&t.db, &scope, created.id).await.expect("get");
        assert_eq!(read, created);
        // Same title again: a readable suffix.
        let second = products::create(&t.db, &scope, lamp("src-2"))
            .await
            .expect("second");
        assert_eq!(second.slug, "neon-lamp-2");
        // Another store may use the same slug.
        let other = self::scope(t).await;
        assert_eq!(
            products::create(&t.db, &other, lamp("src-1"))
                .await
                .expect("other")
                .slug,
            "neon-lamp"
        );
    }
);

backend_test!(
    async fn a_repeated_sku_fails_the_whole_product_and_leaves_nothing_behind(t: &TestDb) {
        let scope = scope(t).await;
        let before = counts(t).await;
        let mut new = lamp("src-dup");
        new.variants = vec![variant("A", 1), variant("B", 1), variant("A", 1)];
        let err = products::create(&t.db, &scope, new)
            .await
            .expect_err("duplicate SKU");
        assert!(
            matches!(
                err,
                Error::Conflict {
                    rule: UniqueRule::ProductVariantsProductSku
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            counts(t).await,
            before,
            "no product, variant or image is left"
        );
    }
);

backend_test!(
    async fn concurrent_decrements_never_oversell_and_flip_the_status_at_zero(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = lamp("src-stock");
        new.variants = vec![variant("ONLY", 20)];
        new.status = Some(ProductStatus::Active);
        let product = products::create(&t.db, &scope, new).await.expect("create");
        assert_eq!(product.status, ProductStatus::Active);
        let variant_id = product.variants[0].id;
        let succeeded = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (db, succeeded) = (t.db.clone(), succeeded.clone());
                tokio::spawn(async move {
                    for _ in 0..50 {
                        match products::variants::update_stock(&db, &scope, variant_id, -1).await {
                            Ok(left) => {
                                assert!(left >= 0);
                                succeeded.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(Error::InsufficientStock {
                                requested: 1,
                                available: 0,
                            }) => {}
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(succeeded.load(Ordering::SeqCst), 20);
        let after = products::get(&t.db, &scope, product.id).await.expect("get");
        assert_eq!(after.variants[0].stock, 0);
        assert_eq!(after.stock_quantity, 0);
        assert_eq!(after.status, ProductStatus::OutOfStock);
        products::variants::update_stock(&t.db, &scope, variant_id, 5)
            .await
            .expect("restock");
        let restocked = products::get(&t.db, &scope, product.id).await.expect("get");
        assert_eq!(
            (restocked.stock_quantity, restocked.status),
            (5, ProductStatus::Active)
        );
    }
);

backend_test!(
    async fn product_stock_moves_atomically_and_refuses_to_go_negative(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = lamp("src-plain");
        new.stock_quantity = 2;
        new.status = Some(ProductStatus::Active);
        let product = products::create(&t.db, &scope, new).await.expect("create");
        assert_eq!(
            products::update_stock(&t.db, &scope, product.id, -1)
                .await
                .expect("take one"),
            1
        );
        let err = products::update_stock(&t.db, &scope, product.id, -2)
            .await
            .expect_err("too many");
        assert!(
            matches!(
                err,
                Error::InsufficientStock {
                    requested: 2,
                    available: 1
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            products::get(&t.db, &scope, product.id)
                .await
                .expect("get")
                .status,
            ProductStatus::Active
        );
        assert_eq!(
            products::update_stock(&t.db, &scope, product.id, -1)
                .await
                .expect("last"),
            0
        );
        assert_eq!(
            products::get(&t.db, &scope, product.id)
                .await
                .expect("get")
                .status,
            ProductStatus::OutOfStock
        );
        // An untracked product never goes out of stock.
        products::update(
            &t.db,
            &scope,
            product.id,
            ProductPatch {
                track_inventory: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("untrack");
        products::update_stock(&t.db, &scope, product.id, 3)
            .await
            .expect("restock");
        products::update_stock(&t.db, &scope, product.id, -3)
            .await
            .expect("sell");
        let untracked = products::get(&t.db, &scope, product.id).await.expect("get");
        assert_eq!(
            untracked.status,
            ProductStatus::Active,
            "back to ACTIVE at 3, kept at 0 when untracked"
        );
    }
);

backend_test!(
    async fn a_reimport_refreshes_supplier_facts_and_keeps_merchant_edits(t: &TestDb) {
        let scope = scope(t).await;
        let mut first = lamp("ae-1005");
        first.source_url = Some(url("https://aliexpress.example.com/item/1005"));
        first.variants = vec![variant("V1", 5)];
        let (product, outcome) = products::import(&t.db, &scope, first.clone())
            .await
            .expect("import");
        assert_eq!(outcome, ImportOutcome::Created);
        let edited = products::update(
            &t.db,
            &scope,
            product.id,
            ProductPatch {
                title: Some("Merchant's Lamp".into()),
                description: Some("Handpicked.".into()),
                selling_price: Some(money("39.00")),
                meta_title: Some(Some("Best lamp".into())),
                ..Default::default()
            },
        )
        .await
        .expect("edit");

        let mut again = first;
        again.title = "Supplier Lamp v2".into();
        again.original_title = Some("Supplier Lamp v2".into());
        again.cost_price = money("11.00");
        again.selling_price = money("25.00");
        again.description = "Supplier text".into();
        again.source_url = Some(url("https://aliexpress.example.com/item/1005?v=2"));
        again.variants = vec![NewVariant {
            stock: 9,
            cost_price: money("10.00"),
            ..variant("V1", 9)
        }];
        let (refreshed, outcome) = products::import(&t.db, &scope, again)
            .await
            .expect("re-import");
        assert_eq!(outcome, ImportOutcome::Refreshed);
        assert_eq!(refreshed.id, product.id);
        assert_eq!(refreshed.title, "Merchant's Lamp");
        assert_eq!(refreshed.description, "Handpicked.");
        assert_eq!(refreshed.selling_price, edited.selling_price);
        assert_eq!(refreshed.meta_title.as_deref(), Some("Best lamp"));
        assert_eq!(refreshed.original_title, "Supplier Lamp v2");
        assert_eq!(refreshed.cost_price.to_string(), "11.00");
        assert_eq!(
            refreshed.source_url.as_deref(),
            Some("https://aliexpress.example.com/item/1005?v=2")
        );
        assert_eq!(refreshed.variants[0].stock, 9);
        assert_eq!(refreshed.variants[0].cost_price.to_string(), "10.00");
        assert_eq!(refreshed.stock_quantity, 9);
        assert_eq!(counts(t).await.0, 1, "still one product");
    }
);

/// Prices, URLs, currencies and SKUs are parsed before they reach `products`: the input types
/// hold `Money`, `HttpUrl`, `Currency` and `Sku`, whose constructors name the field and rule.
#[test]
fn product_values_are_refused_by_their_constructors_naming_the_field() {
    use domain::Money;
    use domain::products::Sku;
    use domain::values::{Currency, HttpUrl};
    let range = Violation::OutOfRange {
        min: 0,
        max: 99_999_999,
    };
    let cases: Vec<(Result<(), Error>, &str, Violation)> = vec![
        (
            Money::parse("products.cost_price", dec("-0.01")).map(drop),
            "products.cost_price",
            range,
        ),
        (
            Money::parse("products.cost_price", dec("1.005")).map(drop),
            "products.cost_price",
            Violation::Format,
        ),
        (
            Money::parse("products.selling_price", dec("100000000")).map(drop),
            "products.selling_price",
            range,
        ),
        (
            HttpUrl::parse("products.source_url", "not a url").map(drop),
            "products.source_url",
            Violation::Format,
        ),
        (
            HttpUrl::parse("product_images.original_url", "ftp://x/y.jpg").map(drop),
            "product_images.original_url",
            Violation::Format,
        ),
        (
            Currency::parse("products.currency", "usd").map(drop),
            "products.currency",
            Violation::Format,
        ),
        (
            Sku::parse("product_variants.sku", "bad sku").map(drop),
            "product_variants.sku",
            Violation::Format,
        ),
    ];
    for (result, field, violation) in cases {
        let err = result.expect_err(field);
        assert!(
            matches!(&err, Error::Invalid { field: f, violation: v } if *f == field && *v == violation),
            "{field}: {err:?}"
        );
    }
}

backend_test!(
    async fn bad_product_input_names_the_field_and_writes_nothing(t: &TestDb) {
        let scope = scope(t).await;
        let before = counts(t).await;
        type Edit = fn(&mut NewProduct);
        let cases: Vec<(Edit, &str, Violation)> = vec![
            (|p| p.title = " ".into(), "products.title", Violation::Empty),
            (
                |p| p.title = "t".repeat(256),
                "products.title",
                Violation::TooLong { max: 255 },
            ),
            (
                |p| p.source_id = String::new(),
                "products.source_id",
                Violation::Empty,
            ),
            (
                |p| p.compare_at_price = Some(money("29.99")),
                "products.compare_at_price",
                Violation::NotAbove {
                    other: "products.selling_price",
                },
            ),
            (
                |p| p.stock_quantity = -1,
                "products.stock_quantity",
                Violation::OutOfRange {
                    min: 0,
                    max: i64::from(i32::MAX),
                },
            ),
            (
                |p| p.meta_title = Some("m".repeat(256)),
                "products.meta_title",
                Violation::TooLong { max: 255 },
            ),
            (
                |p| {
                    p.variants = vec![NewVariant {
                        stock: -5,
                        ..variant("x", 1)
                    }]
                },
                "product_variants.stock",
                Violation::OutOfRange {
                    min: 0,
                    max: i64::from(i32::MAX),
                },
            ),
            (
                |p| {
                    p.variants = vec![NewVariant {
                        title: String::new(),
                        ..variant("x", 1)
                    }]
                },
                "product_variants.title",
                Violation::Empty,
            ),
        ];
        for (edit, field, violation) in cases {
            let mut new = lamp("src-bad");
            edit(&mut new);
            let err = products::create(&t.db, &scope, new).await.expect_err(field);
            assert!(
                matches!(&err, Error::Invalid { field: f, violation: v } if *f == field && *v == violation),
                "{field}: {err:?}"
            );
        }
        assert_eq!(counts(t).await, before);
        let product = products::create(&t.db, &scope, lamp("src-ok"))
            .await
            .expect("valid");
        let err = products::update(
            &t.db,
            &scope,
            product.id,
            ProductPatch {
                compare_at_price: Some(Some(money("10.00"))),
                ..Default::default()
            },
        )
        .await
        .expect_err("not above the current price");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "products.compare_at_price",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            products::get(&t.db, &scope, product.id)
                .await
                .expect("unchanged"),
            product
        );
    }
);

backend_test!(
    async fn the_product_status_machine_refuses_illegal_moves(t: &TestDb) {
        let scope = scope(t).await;
        let product = products::create(&t.db, &scope, lamp("src-sm"))
            .await
            .expect("create");
        let active = products::transition(&t.db, &scope, product.id, ProductStatus::Active)
            .await
            .expect("activate");
        assert_eq!(active.status, ProductStatus::Active);
        let err = products::transition(&t.db, &scope, product.id, ProductStatus::OutOfStock)
            .await
            .expect_err("stock decides");
        assert!(
            matches!(
                err,
                Error::InvalidTransition(domain::Transition::Product {
                    from: ProductStatus::Active,
                    to: ProductStatus::OutOfStock,
                })
            ),
            "{err:?}"
        );
        products::transition(&t.db, &scope, product.id, ProductStatus::Archived)
            .await
            .expect("archive");
        let err = products::transition(&t.db, &scope, product.id, ProductStatus::Active)
            .await
            .expect_err("archived");
        assert!(
            matches!(
                err,
                Error::InvalidTransition(domain::Transition::Product {
                    from: ProductStatus::Archived,
                    to: ProductStatus::Active,
                })
            ),
            "{err:?}"
        );
        let mut empty = lamp("src-empty");
        empty.stock_quantity = 0;
        let empty = products::create(&t.db, &scope, empty)
            .await
            .expect("create");
        let activated = products::transition(&t.db, &scope, empty.id, ProductStatus::Active)
            .await
            .expect("activate");
        assert_eq!(
            activated.status,
            ProductStatus::OutOfStock,
            "nothing to sell: out of stock"
        );
    }
);

backend_test!(
    async fn image_positions_stay_contiguous_through_reorder_and_removal(t: &TestDb) {
        let scope = scope(t).await;
        let product = products::create(&t.db, &scope, lamp("src-img"))
            .await
            .expect("create");
        let third = products::images::create(
            &t.db,
            &scope,
            product.id,
            NewImage {
                original_url: url("https://cdn.example.com/3.jpg"),
                alt_text: None,
            },
        )
        .await
        .expect("add");
        assert_eq!(third.position, 2);
        let ids: Vec<_> = product
            .images
            .iter()
            .map(|i| i.id)
            .chain([third.id])
            .collect();
        let reordered = products::images::update_positions(
            &t.db,
            &scope,
            product.id,
            &[ids[2], ids[0], ids[1]],
        )
        .await
        .expect("reorder");
        assert_eq!(
            reordered
                .iter()
                .map(|i| (i.id, i.position))
                .collect::<Vec<_>>(),
            vec![(ids[2], 0), (ids[0], 1), (ids[1], 2)]
        );
        let err = products::images::update_positions(&t.db, &scope, product.id, &[ids[0], ids[1]])
            .await
            .expect_err("incomplete");
        assert!(matches!(
            err,
            Error::Invalid {
                field: "image_ids",
                ..
            }
        ));
        let left = products::images::delete(&t.db, &scope, ids[0])
            .await
            .expect("remove");
        assert_eq!(
            left.iter().map(|i| (i.id, i.position)).collect::<Vec<_>>(),
            vec![(ids[2], 0), (ids[1], 1)]
        );
    }
);

backend_test!(
    async fn variants_keep_skus_unique_and_the_product_stock_total(t: &TestDb) {
        let scope = scope(t).await;
        let mut new = lamp("src-var");
        new.variants = vec![variant("A", 2)];
        let product = products::create(&t.db, &scope, new).await.expect("create");
        let b = products::variants::create(&t.db, &scope, product.id, variant("B", 3))
            .await
            .expect("add");
        let err = products::variants::create(&t.db, &scope, product.id, variant("B", 1))
            .await
            .expect_err("same SKU");
        assert!(
            matches!(
                err,
                Error::Conflict {
                    rule: UniqueRule::ProductVariantsProductSku
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            products::get(&t.db, &scope, product.id)
                .await
                .expect("get")
                .stock_quantity,
            5
        );
        let renamed = products::variants::update(
            &t.db,
            &scope,
            b.id,
            products::variants::VariantPatch {
                title: Some("Blue / M".into()),
                price: Some(money("31.00")),
                ..Default::default()
            },
        )
        .await
        .expect("update");
        assert_eq!(
            (renamed.title.as_str(), renamed.price.to_string()),
            ("Blue / M", "31.00".to_owned())
        );
        products::variants::delete(&t.db, &scope, b.id)
            .await
            .expect("remove");
        assert_eq!(
            products::get(&t.db, &scope, product.id)
                .await
                .expect("get")
                .stock_quantity,
            2
        );
    }
);

backend_test!(
    async fn soft_deleted_products_vanish_until_restored(t: &TestDb) {
        let scope = scope(t).await;
        let product = products::create(&t.db, &scope, lamp("src-del"))
            .await
            .expect("create");
        products::soft_delete(&t.db, &scope, product.id)
            .await
            .expect("delete");
        assert!(matches!(
            products::get(&t.db, &scope, product.id).await,
            Err(Error::NotFound {
                entity: domain::Table::Products
            })
        ));
        assert!(
            products::list(&t.db, &scope, ProductQuery::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        assert_eq!(
            products::restore(&t.db, &scope, product.id)
                .await
                .expect("restore")
                .id,
            product.id
        );
    }
);

backend_test!(
    async fn listing_pages_through_every_row_once_while_rows_arrive(t: &TestDb) {
        let scope = scope(t).await;
        let mut expected = HashSet::new();
        for i in 0..23 {
            let mut new = lamp(&format!("src-{i}"));
            new.title = format!("{} Lamp {i}", if i % 2 == 0 { "Neon" } else { "Plain" });
            new.status = Some(ProductStatus::Active);
            new.variants = vec![variant(&format!("SKU-{i}"), 1)];
            expected.insert(
                products::create(&t.db, &scope, new)
                    .await
                    .expect("create")
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut page = PageRequest::first(5);
        let mut round = 0;
        loop {
            let result = products::list(
                &t.db,
                &scope,
                ProductQuery {
                    page,
                    ..Default::default()
                },
            )
            .await
            .expect("page");
            assert!(
                result
                    .items
                    .iter()
                    .all(|p| p.variants.len() == 1 && p.images.len() == 2)
            );
            seen.extend(result.items.iter().map(|p| p.id));
            // A new product between two page requests: newest first, so it sorts before the
            // cursor and does not disturb the pages still to come.
            round += 1;
            let mut late = lamp(&format!("late-{round}"));
            late.title = format!("Late arrival {round}");
            products::create(&t.db, &scope, late).await.expect("late");
            match result.next {
                Some(cursor) => page = PageRequest::after(cursor, 5),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23, "each row exactly once");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), expected);

        let neon = products::list(
            &t.db,
            &scope,
            ProductQuery {
                search: Some("NEON".into()),
                page: PageRequest::first(100),
                ..Default::default()
            },
        )
        .await
        .expect("search");
        assert_eq!(neon.items.len(), 12);
        let percent = products::list(
            &t.db,
            &scope,
            ProductQuery {
                search: Some("%".into()),
                page: PageRequest::first(100),
                ..Default::default()
            },
        )
        .await
        .expect("search");
        assert!(percent.items.is_empty(), "LIKE metacharacters are literal");
        let drafts = products::list(
            &t.db,
            &scope,
            ProductQuery {
                status: Some(ProductStatus::Draft),
                page: PageRequest::first(100),
                ..Default::default()
            },
        )
        .await
        .expect("drafts");
        assert!(
            drafts
                .items
                .iter()
                .all(|p| p.status == ProductStatus::Draft)
        );
        assert!(drafts.items.len() >= 2);
    }
);

backend_test!(
    async fn a_page_costs_the_same_number_of_queries_whatever_its_size(t: &TestDb) {
        let scope = scope(t).await;
        for i in 0..40 {
            let mut new = lamp(&format!("q-{i}"));
            new.variants = vec![variant("A", 1), variant("B", 1)];
            products::create(&t.db, &scope, new).await.expect("create");
        }
        let statements = Arc::new(AtomicUsize::new(0));
        let mut db = domain::connect(&t.config).await.expect("connect");
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let mut per_page = Vec::new();
        for size in [1, 10, 40] {
            statements.store(0, Ordering::SeqCst);
            let page = products::list(
                &db,
                &scope,
                ProductQuery {
                    page: PageRequest::first(size),
                    ..Default::default()
                },
            )
            .await
            .expect("page");
            assert_eq!(page.items.len(), usize::try_from(size).expect("small"));
            per_page.push(statements.load(Ordering::SeqCst));
        }
        assert_eq!(per_page, vec![3, 3, 3], "products, variants, images");
    }
);

backend_test!(
    async fn another_owner_cannot_reach_any_product_of_the_first(t: &TestDb) {
        let owner = scope(t).await;
        let intruder = scope(t).await;
        let mut new = lamp("src-private");
        new.variants = vec![variant("P", 5)];
        let product = products::create(&t.db, &owner, new).await.expect("create");
        let (pid, vid, iid) = (product.id, product.variants[0].id, product.images[0].id);
        let not_found = |r: Result<_, Error>| matches!(r, Err(Error::NotFound { .. }));
        assert!(not_found(
            products::get(&t.db, &intruder, pid).await.map(|_| ())
        ));
        assert!(not_found(
            products::update(
                &t.db,
                &intruder,
                pid,
                ProductPatch {
                    title: Some("Mine".into()),
                    ..Default::default()
                }
            )
            .await
            .map(|_| ())
        ));
        assert!(not_found(
            products::transition(&t.db, &intruder, pid, ProductStatus::Active)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::update_stock(&t.db, &intruder, pid, -1)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::variants::update_stock(&t.db, &intruder, vid, -1)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::variants::create(&t.db, &intruder, pid, variant("X", 1))
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::variants::update(
                &t.db,
                &intruder,
                vid,
                products::variants::VariantPatch {
                    title: Some("x".into()),
                    ..Default::default()
                }
            )
            .await
            .map(|_| ())
        ));
        assert!(not_found(
            products::variants::delete(&t.db, &intruder, vid).await
        ));
        assert!(not_found(
            products::images::create(
                &t.db,
                &intruder,
                pid,
                NewImage {
                    original_url: url("https://x.example/i.jpg"),
                    alt_text: None
                }
            )
            .await
            .map(|_| ())
        ));
        assert!(not_found(
            products::images::update_positions(&t.db, &intruder, pid, &[iid])
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::images::delete(&t.db, &intruder, iid)
                .await
                .map(|_| ())
        ));
        assert!(not_found(
            products::soft_delete(&t.db, &intruder, pid).await
        ));
        assert!(not_found(
            products::restore(&t.db, &intruder, pid).await.map(|_| ())
        ));
        assert!(
            products::list(&t.db, &intruder, ProductQuery::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        // Importing the same supplier product into their own store creates their own copy.
        let (copy, outcome) = products::import(&t.db, &intruder, lamp("src-private"))
            .await
            .expect("own import");
        assert_eq!(outcome, ImportOutcome::Created);
        assert_ne!(copy.id, pid);
        assert_eq!(
            products::get(&t.db, &owner, pid).await.expect("unchanged"),
            product
        );
    }
);

backend_test!(
    async fn many_products_are_created_in_one_batch_or_not_at_all(t: &TestDb) {
        let scope = scope(t).await;
        let batch: Vec<_> = (0..120)
            .map(|i| {
                let mut p = lamp(&format!("bulk-{i}"));
                p.title = format!("Bulk lamp {i}");
                p.variants = vec![variant("A", 1), variant("B", 2), variant("C", 3)];
                p
            })
            .collect();
        let ids = products::create_many(&t.db, &scope, batch.clone())
            .await
            .expect("batch");
        assert_eq!(ids.len(), 120);
        let one = products::get(&t.db, &scope, ids[7]).await.expect("get");
        assert_eq!(
            (
                one.title.as_str(),
                one.variants.len(),
                one.images.len(),
                one.stock_quantity
            ),
            ("Bulk lamp 7", 3, 2, 6)
        );
        assert_eq!(counts(t).await, (120, 360, 240));

        let mut bad = batch;
        for (i, p) in bad.iter_mut().enumerate() {
            p.source_id = format!("bulk-again-{i}");
            p.title = format!("Bulk lamp again {i}");
        }
        bad[60].title = String::new();
        let err = products::create_many(&t.db, &scope, bad)
            .await
            .expect_err("one bad product");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "products.title",
                    violation: Violation::Empty,
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            counts(t).await,
            (120, 360, 240),
            "nothing of the failed batch is written"
        );
    }
);

backend_test!(
    async fn a_stored_currency_or_variant_options_that_do_not_decode_are_an_undecodable_error(
        t: &TestDb,
    ) {
        let scope = scope(t).await;
        let mut new = lamp("src-corrupt");
        new.variants = vec![variant("LAMP-R", 3)];
        let product = products::create(&t.db, &scope, new).await.expect("create");
        let variant_id = product.variants[0].id;
        let literal = |id: uuid::Uuid| match t.db_backend() {
            sea_orm::DbBackend::Postgres => format!("'{id}'"),
            _ => format!("x'{}'", id.simple()),
        };
        let set_raw = |table: &'static str, column: &'static str, value: &'static str, id| {
            let sql = format!(
                "UPDATE {table} SET {column} = {value} WHERE id = {}",
                literal(id)
            );
            let db = t.db.clone();
            async move {
                db.execute_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .expect("write the row by hand");
            }
        };
        let expect_undecodable = |err: Error, table: domain::Table, column: &str, row| {
            assert!(
                matches!(err, Error::Undecodable { table: tb, column: c, row: r }
                    if tb == table && c == column && r == row),
                "{table}.{column}: {err:?}"
            );
        };
        // An unknown currency is never read as USD.
        set_raw("products", "currency", "'ZZZ'", product.id).await;
        for err in [
            products::get(&t.db, &scope, product.id)
                .await
                .expect_err("currency"),
            products::list(&t.db, &scope, ProductQuery::default())
                .await
                .expect_err("currency"),
        ] {
            expect_undecodable(err, domain::Table::Products, "currency", product.id);
        }
        set_raw("products", "currency", "'USD'", product.id).await;
        // Options of another shape are never read as "no options".
        for options in [r#"'["Red", "L"]'"#, r#"'{"color": 3}'"#] {
            set_raw("product_variants", "options", options, variant_id).await;
            for err in [
                products::get(&t.db, &scope, product.id)
                    .await
                    .expect_err(options),
                products::list(&t.db, &scope, ProductQuery::default())
                    .await
                    .expect_err(options),
            ] {
                expect_undecodable(err, domain::Table::ProductVariants, "options", variant_id);
            }
        }
        set_raw(
            "product_variants",
            "options",
            r#"'{"color": "Red"}'"#,
            variant_id,
        )
        .await;
        let repaired = products::get(&t.db, &scope, product.id)
            .await
            .expect("repaired");
        assert_eq!(repaired.currency.code(), "USD");
        assert_eq!(
            repaired.variants[0]
                .options
                .get("color")
                .map(String::as_str),
            Some("Red")
        );
    }
);
