use std::collections::HashSet;
use std::time::Duration;

use domain::StoreScope;
use domain::stores::{
    self, BrandIdentity, CustomDomain, HexColor, NewStore, StorePatch, StoreSettings, StoreStatus,
    Subdomain,
};
use domain::values::Currency;
use domain::{Error, Money, UniqueRule, Violation};
use entity::stores as store_rows;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

use super::*;

fn new_store(name: &str) -> NewStore {
    NewStore {
        name: name.into(),
        niche: "Cyberpunk home decor".into(),
        description: Some("Lamps from the future".into()),
        slug: None,
        subdomain: None,
    }
}

fn neon_nest() -> BrandIdentity {
    brand_with_tone("futuristic").expect("brand")
}

fn brand_with_tone(tone: &str) -> domain::Result<BrandIdentity> {
    BrandIdentity::parse(
        "NeonNest",
        ["#ff00ff", "#00FFFF", "#FF0"],
        ["Orbitron", "Inter"],
        tone,
        None,
    )
}

fn subdomain(label: &str) -> Subdomain {
    Subdomain::parse(label).expect("subdomain")
}

fn custom_domain(host: &str) -> CustomDomain {
    CustomDomain::parse(host).expect("custom domain")
}

async fn store_count(t: &TestDb) -> u64 {
    store_rows::Entity::find()
        .count(&t.db)
        .await
        .expect("count")
}

backend_test!(
    async fn a_store_gets_a_slug_and_subdomain_from_its_name(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let name = format!("Test Cyberpunk Store {}", unique());
        let store = stores::create(&t.db, owner.id, new_store(&name))
            .await
            .expect("create");
        let expected = domain::values::Slug::from_title(&name, "store");
        assert_eq!(store.slug, expected.as_str());
        assert_eq!(store.subdomain, store.slug);
        assert_eq!(store.status, StoreStatus::Creating);
        assert_eq!(store.settings, StoreSettings::default());
        assert_eq!(store.owner_id, owner.id);
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        assert_eq!(stores::get(&t.db, &scope).await.expect("get"), store);
    }
);

backend_test!(
    async fn eight_simultaneous_stores_of_one_name_get_eight_distinct_slugs(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let name = format!("Neon Nest {}", unique());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = t.db.clone();
                let name = name.clone();
                tokio::spawn(async move { stores::create(&db, owner.id, new_store(&name)).await })
            })
            .collect();
        let mut slugs = HashSet::new();
        let mut subdomains = HashSet::new();
        for task in tasks {
            let store = task.await.expect("task").expect("every create succeeds");
            slugs.insert(store.slug);
            subdomains.insert(store.subdomain);
        }
        assert_eq!(slugs.len(), 8, "{slugs:?}");
        assert_eq!(subdomains.len(), 8);
        let base = domain::values::Slug::from_title(&name, "store");
        assert!(slugs.contains(base.as_str()));
        assert!(
            slugs.contains(base.with_suffix(2).as_str()),
            "readable suffixes: {slugs:?}"
        );
    }
);

backend_test!(
    async fn a_given_subdomain_that_is_taken_is_a_conflict(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let label = format!("neon-{}", unique());
        let mut first = new_store("First");
        first.subdomain = Some(subdomain(&label.to_uppercase()));
        let store = stores::create(&t.db, owner.id, first).await.expect("first");
        assert_eq!(store.subdomain, label);
        let mut second = new_store("Second");
        second.subdomain = Some(subdomain(&label));
        let err = stores::create(&t.db, owner.id, second)
            .await
            .expect_err("taken");
        assert!(
            matches!(
                err,
                Error::Conflict {
                    rule: UniqueRule::StoresSubdomain
                }
            ),
            "{err:?}"
        );
    }
);

backend_test!(
    async fn bad_store_input_names_the_field_and_writes_nothing(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let before = store_count(t).await;
        let cases: Vec<(NewStore, &str, Violation)> = vec![
            (
                NewStore {
                    name: "  ".into(),
                    ..new_store("x")
                },
                "stores.name",
                Violation::Empty,
            ),
            (
                NewStore {
                    name: "n".repeat(101),
                    ..new_store("x")
                },
                "stores.name",
                Violation::TooLong { max: 100 },
            ),
            (
                NewStore {
                    niche: String::new(),
                    ..new_store("x")
                },
                "stores.niche",
                Violation::Empty,
            ),
            (
                NewStore {
                    description: Some("d".repeat(5_001)),
                    ..new_store("x")
                },
                "stores.description",
                Violation::TooLong { max: 5_000 },
            ),
        ];
        for (input, field, violation) in cases {
            let err = stores::create(&t.db, owner.id, input)
                .await
                .expect_err(field);
            assert!(
                matches!(&err, Error::Invalid { field: f, violation: v } if *f == field && *v == violation),
                "{field}: {err:?}"
            );
        }
        assert_eq!(store_count(t).await, before);
        // A subdomain is parsed before it can be given.
        for (label, violation) in [
            ("www", Violation::Reserved),
            ("not a label", Violation::Format),
        ] {
            assert!(
                matches!(
                    Subdomain::parse(label),
                    Err(Error::Invalid { field: "stores.subdomain", violation: v }) if v == violation
                ),
                "{label}"
            );
        }

        let store = stores::create(&t.db, owner.id, new_store("Valid"))
            .await
            .expect("valid");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        let err = brand_with_tone(" ").expect_err("blank tone");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "stores.brand_identity.tone",
                    violation: Violation::Empty
                }
            ),
            "{err:?}"
        );
        let err = HexColor::parse("stores.brand_identity.colors.primary", "#GGGGGG")
            .expect_err("not hex");
        assert!(matches!(
            err,
            Error::Invalid {
                field: "stores.brand_identity.colors.primary",
                violation: Violation::Format
            }
        ));
        let err = StoreSettings::new(Currency::USD, "english", false, None).expect_err("language");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "stores.settings.language",
                    violation: Violation::Format
                }
            ),
            "{err:?}"
        );
        let err = CustomDomain::parse("not a host").expect_err("host");
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "stores.custom_domain",
                    violation: Violation::Format
                }
            ),
            "{err:?}"
        );
        assert_eq!(stores::get(&t.db, &scope).await.expect("unchanged"), store);
    }
);

backend_test!(
    async fn brand_identity_and_settings_are_typed_and_round_trip(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("NeonNest"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        let settings = StoreSettings::new(
            Currency::parse("stores.settings.currency", "EUR").expect("EUR"),
            "de",
            true,
            Some(
                Money::parse(
                    "stores.settings.free_shipping_threshold",
                    Decimal::new(4_990, 2),
                )
                .expect("money"),
            ),
        )
        .expect("settings");
        let updated = stores::update(
            &t.db,
            &scope,
            StorePatch {
                name: Some("NeonNest Deluxe".into()),
                brand_identity: Some(Some(neon_nest())),
                settings: Some(settings.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("update");
        assert_eq!(updated.name, "NeonNest Deluxe");
        assert_eq!(
            updated.slug, store.slug,
            "the slug stays, so links keep working"
        );
        let brand = updated.brand_identity.clone().expect("brand");
        assert_eq!(brand.colors().primary.as_str(), "#FF00FF");
        assert_eq!(brand.colors().accent.as_str(), "#FFFF00");
        assert_eq!(updated.settings, settings);
        assert_eq!(stores::get(&t.db, &scope).await.expect("read"), updated);
        let cleared = stores::update(
            &t.db,
            &scope,
            StorePatch {
                brand_identity: Some(None),
                ..Default::default()
            },
        )
        .await
        .expect("clear");
        assert_eq!(cleared.brand_identity, None);
    }
);

backend_test!(
    async fn the_status_machine_refuses_illegal_moves_and_publishes_once(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("Machine"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        let err = stores::transition(&t.db, &scope, StoreStatus::Active)
            .await
            .expect_err("skip review");
        assert!(
            matches!(
                err,
                Error::InvalidTransition(domain::Transition::Store {
                    from: StoreStatus::Creating,
                    to: StoreStatus::Active,
                })
            ),
            "{err:?}"
        );
        stores::transition(&t.db, &scope, StoreStatus::PendingReview)
            .await
            .expect("review");
        let active = stores::transition(&t.db, &scope, StoreStatus::Active)
            .await
            .expect("activate");
        let published = active.published_at.expect("published on first activation");
        stores::transition(&t.db, &scope, StoreStatus::Paused)
            .await
            .expect("pause");
        let again = stores::transition(&t.db, &scope, StoreStatus::Active)
            .await
            .expect("resume");
        assert_eq!(
            again.published_at,
            Some(published),
            "published_at is set once"
        );
        let archived = stores::transition(&t.db, &scope, StoreStatus::Archived)
            .await
            .expect("archive");
        assert_eq!(archived.status, StoreStatus::Archived);
        for to in [
            StoreStatus::Active,
            StoreStatus::Paused,
            StoreStatus::Archived,
            StoreStatus::Creating,
        ] {
            let err = stores::transition(&t.db, &scope, to)
                .await
                .expect_err("archived is final");
            assert!(
                matches!(
                    err,
                    Error::InvalidTransition(domain::Transition::Store {
                        from: StoreStatus::Archived,
                        ..
                    })
                ),
                "{err:?}"
            );
        }
    }
);

backend_test!(
    async fn custom_domains_are_unique_and_hosts_resolve_to_active_stores(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("Resolver"))
            .await
            .expect("create");
        let other = stores::create(&t.db, owner.id, new_store("Other"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        let other_scope = StoreScope::obtain(&t.db, owner.id, other.id)
            .await
            .expect("scope");
        let host = format!("Shop-{}.NeonNest.com", unique());
        let with_domain = stores::update_custom_domain(&t.db, &scope, Some(custom_domain(&host)))
            .await
            .expect("set");
        assert_eq!(
            with_domain.custom_domain.as_deref(),
            Some(host.to_lowercase().as_str())
        );
        let err = stores::update_custom_domain(&t.db, &other_scope, Some(custom_domain(&host)))
            .await
            .expect_err("taken");
        assert!(
            matches!(
                err,
                Error::Conflict {
                    rule: UniqueRule::StoresCustomDomain
                }
            ),
            "{err:?}"
        );

        // Not served before it is ACTIVE.
        assert_eq!(
            stores::find_by_host(&t.db, &host, "zyenta.shop")
                .await
                .expect("resolve"),
            None
        );
        stores::transition(&t.db, &scope, StoreStatus::PendingReview)
            .await
            .expect("review");
        stores::transition(&t.db, &scope, StoreStatus::Active)
            .await
            .expect("activate");
        let by_domain = stores::find_by_host(&t.db, &format!("{host}:443"), "zyenta.shop")
            .await
            .expect("resolve");
        assert_eq!(by_domain.map(|s| s.id), Some(store.id));
        let by_subdomain = stores::find_by_host(
            &t.db,
            &format!("{}.ZYENTA.shop.", store.subdomain),
            "zyenta.shop",
        )
        .await
        .expect("resolve");
        assert_eq!(by_subdomain.map(|s| s.id), Some(store.id));
        assert_eq!(
            stores::find_by_host(&t.db, "unknown.zyenta.shop", "zyenta.shop")
                .await
                .expect("resolve"),
            None
        );

        let cleared = stores::update_custom_domain(&t.db, &scope, None)
            .await
            .expect("clear");
        assert_eq!(cleared.custom_domain, None);
        stores::update_custom_domain(&t.db, &other_scope, Some(custom_domain(&host)))
            .await
            .expect("free again");
    }
);

backend_test!(
    async fn soft_deleted_stores_vanish_until_restored_and_are_purged_after_an_age(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("Ephemeral"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        stores::soft_delete(&t.db, &scope).await.expect("delete");
        let err = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect_err("deleted");
        assert!(matches!(
            err,
            Error::NotFound {
                entity: domain::Table::Stores
            }
        ));
        assert!(
            stores::list_for_owner(&t.db, owner.id, Default::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        // Deleted a moment ago: not old enough to purge.
        assert_eq!(
            stores::purge_deleted(&t.db, Duration::from_secs(3600))
                .await
                .expect("purge"),
            0
        );
        let restored = stores::restore(&t.db, owner.id, store.id)
            .await
            .expect("restore");
        assert_eq!(restored.id, store.id);
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("back");
        stores::soft_delete(&t.db, &scope)
            .await
            .expect("delete again");
        assert_eq!(
            stores::purge_deleted(&t.db, Duration::ZERO)
                .await
                .expect("purge"),
            1
        );
        assert!(
            store_rows::Entity::find_by_id(store.id)
                .one(&t.db)
                .await
                .expect("read")
                .is_none()
        );
        let err = stores::restore(&t.db, owner.id, store.id)
            .await
            .expect_err("gone for good");
        assert!(matches!(
            err,
            Error::NotFound {
                entity: domain::Table::Stores
            }
        ));
    }
);

backend_test!(
    async fn an_owners_stores_are_listed_newest_first_each_once(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let stranger = insert(&t.db, user()).await.expect("stranger");
        stores::create(&t.db, stranger.id, new_store("Not mine"))
            .await
            .expect("other");
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(
                stores::create(&t.db, owner.id, new_store(&format!("Store {i}")))
                    .await
                    .expect("create")
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut page = domain::paging::PageRequest::first(3);
        loop {
            let result = stores::list_for_owner(&t.db, owner.id, page)
                .await
                .expect("page");
            assert!(result.items.len() <= 3);
            seen.extend(result.items.iter().map(|s| s.id));
            match result.next {
                Some(cursor) => page = domain::paging::PageRequest::after(cursor, 3),
                None => break,
            }
        }
        created.reverse();
        assert_eq!(seen, created);
        let err =
            stores::list_for_owner(&t.db, owner.id, domain::paging::PageRequest::first(1_000))
                .await
                .expect_err("limit");
        assert!(matches!(err, Error::Invalid { field: "limit", .. }));
    }
);

backend_test!(
    async fn another_owner_is_answered_as_if_the_store_did_not_exist(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let intruder = insert(&t.db, user()).await.expect("intruder");
        let store = stores::create(&t.db, owner.id, new_store("Private"))
            .await
            .expect("create");
        let err = StoreScope::obtain(&t.db, intruder.id, store.id)
            .await
            .expect_err("not theirs");
        assert!(matches!(
            err,
            Error::NotFound {
                entity: domain::Table::Stores
            }
        ));
        let missing = StoreScope::obtain(&t.db, intruder.id, uuid::Uuid::now_v7())
            .await
            .expect_err("missing");
        assert_eq!(
            format!("{err:?}"),
            format!("{missing:?}"),
            "indistinguishable from a missing store"
        );
        let err = stores::restore(&t.db, intruder.id, store.id)
            .await
            .expect_err("not theirs");
        assert!(matches!(
            err,
            Error::NotFound {
                entity: domain::Table::Stores
            }
        ));
        assert!(
            stores::list_for_owner(&t.db, intruder.id, Default::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("owner's scope");
        assert_eq!(stores::get(&t.db, &scope).await.expect("unchanged"), store);
    }
);

backend_test!(
    async fn a_new_store_comes_with_the_standard_pages(t: &TestDb) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("With pages"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        let pages = domain::pages::list(&t.db, &scope, None)
            .await
            .expect("pages");
        let mut slugs: Vec<_> = pages.iter().map(|p| p.slug.as_str()).collect();
        slugs.sort_unstable();
        assert_eq!(
            slugs,
            [
                "about",
                "contact",
                "faq",
                "privacy-policy",
                "refund-policy",
                "terms-of-service"
            ]
        );
    }
);

/// Sets `stores.<column>` of `id` to the SQL literal `value` in plain SQL, past every check of
/// the domain: a row written by hand, or by another version.
async fn set_raw(t: &TestDb, id: uuid::Uuid, column: &str, value: &str) {
    let id = match t.db_backend() {
        sea_orm::DbBackend::Postgres => format!("'{id}'"),
        _ => format!("x'{}'", id.simple()),
    };
    t.db.execute_raw(sea_orm::Statement::from_string(
        t.db_backend(),
        format!("UPDATE stores SET {column} = {value} WHERE id = {id}"),
    ))
    .await
    .expect("write the row by hand");
}

backend_test!(
    async fn a_stored_brand_or_settings_that_do_not_decode_are_an_undecodable_error_naming_the_column(
        t: &TestDb,
    ) {
        let owner = insert(&t.db, user()).await.expect("owner");
        let store = stores::create(&t.db, owner.id, new_store("Corrupt"))
            .await
            .expect("create");
        let scope = StoreScope::obtain(&t.db, owner.id, store.id)
            .await
            .expect("scope");
        for (column, json) in [
            // An unknown currency: never read as USD.
            ("settings", r#"'{"currency": "ZZZ"}'"#),
            ("settings", r#"'{"language": "english"}'"#),
            ("settings", "'[]'"),
            ("brand_identity", r#"'{"name": "NeonNest"}'"#),
            ("brand_identity", "'[1, 2]'"),
        ] {
            set_raw(t, store.id, column, json).await;
            for err in [
                stores::get(&t.db, &scope).await.expect_err(json),
                stores::list_for_owner(&t.db, owner.id, Default::default())
                    .await
                    .expect_err(json),
            ] {
                assert!(
                    matches!(
                        err,
                        Error::Undecodable {
                            table: domain::Table::Stores,
                            column: c,
                            row,
                        } if c == column && row == store.id
                    ),
                    "{column} = {json}: {err:?}"
                );
            }
            set_raw(t, store.id, column, "NULL").await;
            assert_eq!(
                stores::get(&t.db, &scope).await.expect("repaired").settings,
                StoreSettings::default()
            );
        }
    }
);
