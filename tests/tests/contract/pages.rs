use std::collections::HashSet;

use domain::StoreScope;
use domain::pages::{self, NewPage, PagePatch, PageType};
use domain::values::{SLUG_MAX, Slug};
use domain::{Error, UniqueRule, Violation};
use entity::pages as page_rows;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use super::*;

fn slug(value: &str) -> Slug {
    Slug::parse("pages.slug", value).expect("slug")
}

const STANDARD: [(PageType, &str); 6] = [
    (PageType::PrivacyPolicy, "privacy-policy"),
    (PageType::TermsOfService, "terms-of-service"),
    (PageType::RefundPolicy, "refund-policy"),
    (PageType::About, "about"),
    (PageType::Contact, "contact"),
    (PageType::Faq, "faq"),
];

/// Every page row of the store, as stored, in id order.
async fn rows<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Vec<page_rows::Model> {
    page_rows::Entity::find()
        .filter(page_rows::Column::StoreId.eq(scope.store_id()))
        .order_by_asc(page_rows::Column::Id)
        .all(db)
        .await
        .expect("read pages")
}

fn new_page(title: &str) -> NewPage {
    NewPage {
        page_type: PageType::Custom,
        title: title.to_owned(),
        slug: None,
        content: "Ships in 3 to 5 days.".to_owned(),
    }
}

fn assert_page_not_found<T: std::fmt::Debug>(result: domain::Result<T>) {
    assert!(
        matches!(
            result,
            Err(Error::NotFound {
                entity: domain::Table::Pages
            })
        ),
        "expected Error::NotFound for a page, got {result:?}"
    );
}

backend_test!(
    async fn the_standard_pages_are_created_once_and_a_second_call_changes_nothing(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;

        let first = pages::create_standard_pages(db, &scope)
            .await
            .expect("standard pages");
        let kinds: Vec<(PageType, &str)> = first
            .iter()
            .map(|page| (page.page_type, page.slug.as_str()))
            .collect();
        assert_eq!(kinds, STANDARD.to_vec());
        assert!(first.iter().all(|page| page.store_id == scope.store_id()
            && !page.title.is_empty()
            && !page.content.is_empty()));
        let stored = rows(db, &scope).await;

        let second = pages::create_standard_pages(db, &scope)
            .await
            .expect("standard pages again");

        assert_eq!(second, first);
        assert_eq!(rows(db, &scope).await, stored);
        assert_eq!(stored.len(), 6);
    }
);

backend_test!(
    async fn concurrent_standard_page_calls_leave_exactly_six_with_the_same_ids(t: &TestDb) {
        let scope = owner_scope(&t.db).await;

        let calls: Vec<_> = (0..4)
            .map(|_| {
                let db = t.db.clone();
                tokio::spawn(async move { pages::create_standard_pages(&db, &scope).await })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.expect("task").expect("standard pages"));
        }

        let stored = rows(&t.db, &scope).await;
        assert_eq!(stored.len(), 6);
        let stored_ids: HashSet<Uuid> = stored.iter().map(|row| row.id).collect();
        for answer in &answers {
            assert_eq!(answer, &answers[0]);
            let ids: HashSet<Uuid> = answer.iter().map(|page| page.id).collect();
            assert_eq!(ids, stored_ids);
        }
    }
);

backend_test!(
    async fn standard_pages_in_four_concurrent_transactions_all_commit_as_six(t: &TestDb) {
        let scope = owner_scope(&t.db).await;

        let calls: Vec<_> = (0..4)
            .map(|_| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    let txn = db.begin().await?;
                    let pages = pages::create_standard_pages(&txn, &scope).await?;
                    txn.commit().await?;
                    Ok::<_, Error>(pages)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.expect("task").expect("standard pages"));
        }

        let stored = rows(&t.db, &scope).await;
        assert_eq!(stored.len(), 6);
        let stored_ids: HashSet<Uuid> = stored.iter().map(|row| row.id).collect();
        for answer in &answers {
            let ids: HashSet<Uuid> = answer.iter().map(|page| page.id).collect();
            assert_eq!(ids, stored_ids);
        }
    }
);

backend_test!(
    async fn standard_pages_inside_a_transaction_keep_a_page_already_at_a_slug(t: &TestDb) {
        let scope = owner_scope(&t.db).await;
        let txn = t.db.begin().await.expect("begin");
        let mine = pages::create(
            &txn,
            &scope,
            NewPage {
                slug: Some(slug("about")),
                ..new_page("Our story")
            },
        )
        .await
        .expect("the owner's about page");

        let standard = pages::create_standard_pages(&txn, &scope)
            .await
            .expect("standard pages after a duplicate");
        // The transaction is still usable after the refused insert (a savepoint on Postgres).
        txn.commit().await.expect("commit");

        assert_eq!(standard.len(), 6);
        assert_eq!(standard[3], mine);
        let stored = rows(&t.db, &scope).await;
        assert_eq!(stored.len(), 6);
        let about = pages::get_by_slug(&t.db, &scope, "about")
            .await
            .expect("about");
        assert_eq!(about.title, "Our story");
        assert_eq!(about.page_type, PageType::Custom);
    }
);

backend_test!(
    async fn a_slug_is_derived_from_the_title_with_a_numbered_suffix_when_taken(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;

        let mut slugs = Vec::new();
        for _ in 0..3 {
            let page = pages::create(db, &scope, new_page("Shipping & Délivery"))
                .await
                .expect("page");
            slugs.push(page.slug);
        }
        let long = pages::create(db, &scope, new_page(&"x".repeat(250)))
            .await
            .expect("long title");
        let long_again = pages::create(db, &scope, new_page(&"x".repeat(250)))
            .await
            .expect("long title again");
        let taken = pages::create(
            db,
            &scope,
            NewPage {
                slug: Some(slug("shipping-delivery-2")),
                ..new_page("Another")
            },
        )
        .await;

        assert_eq!(
            slugs,
            [
                "shipping-delivery",
                "shipping-delivery-2",
                "shipping-delivery-3"
            ]
        );
        assert_eq!(long.slug.len(), SLUG_MAX);
        assert_eq!(long_again.slug, format!("{}-2", "x".repeat(SLUG_MAX - 2)));
        assert!(
            matches!(
                taken,
                Err(Error::Conflict {
                    rule: UniqueRule::PagesStoreSlug
                })
            ),
            "{taken:?}"
        );
        assert_eq!(rows(db, &scope).await.len(), 5);
    }
);

backend_test!(
    async fn a_page_is_read_by_id_and_slug_updated_listed_by_type_and_deleted(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        pages::create_standard_pages(db, &scope)
            .await
            .expect("standard pages");
        let b = pages::create(db, &scope, new_page("B sizes"))
            .await
            .expect("b");
        let a = pages::create(db, &scope, new_page("A care"))
            .await
            .expect("a");

        let by_id = pages::get(db, &scope, a.id).await.expect("by id");
        let by_slug = pages::get_by_slug(db, &scope, "a-care")
            .await
            .expect("by slug");
        let custom = pages::list(db, &scope, Some(PageType::Custom))
            .await
            .expect("custom pages");
        let all = pages::list(db, &scope, None).await.expect("all pages");
        let unchanged = pages::update(db, &scope, a.id, PagePatch::default())
            .await
            .expect("empty patch");
        let updated = pages::update(
            db,
            &scope,
            a.id,
            PagePatch {
                title: Some("  Caring for your lamp ".into()),
                slug: Some(slug("lamp-care")),
                content: Some(String::new()),
            },
        )
        .await
        .expect("update");
        let clash = pages::update(
            db,
            &scope,
            b.id,
            PagePatch {
                slug: Some(slug("lamp-care")),
                ..PagePatch::default()
            },
        )
        .await;
        pages::delete(db, &scope, b.id).await.expect("delete");

        assert_eq!(by_id, a);
        assert_eq!(by_slug, a);
        assert_eq!(custom, vec![a.clone(), b.clone()]);
        let types: Vec<PageType> = all.iter().map(|page| page.page_type).collect();
        assert_eq!(
            types,
            STANDARD
                .iter()
                .map(|(page_type, _)| *page_type)
                .chain([PageType::Custom, PageType::Custom])
                .collect::<Vec<_>>()
        );
        assert_eq!(unchanged, a);
        assert_eq!(updated.title, "Caring for your lamp");
        assert_eq!(updated.slug, "lamp-care");
        assert_eq!(updated.content, "");
        assert_eq!(updated.created_at, a.created_at);
        assert!(updated.updated_at > a.updated_at);
        assert_eq!(pages::get(db, &scope, a.id).await.expect("reread"), updated);
        assert_page_not_found(pages::get_by_slug(db, &scope, "a-care").await);
        assert!(
            matches!(
                clash,
                Err(Error::Conflict {
                    rule: UniqueRule::PagesStoreSlug
                })
            ),
            "{clash:?}"
        );
        assert_page_not_found(pages::get(db, &scope, b.id).await);
        assert_page_not_found(pages::delete(db, &scope, b.id).await);
        assert_eq!(rows(db, &scope).await.len(), 7);
    }
);

backend_test!(
    async fn bad_page_input_names_the_field_and_rule_and_writes_nothing(t: &TestDb) {
        let db = &t.db;
        let scope = owner_scope(db).await;
        let page = pages::create(db, &scope, new_page("Sizes"))
            .await
            .expect("page");
        let before = row_count::<page_rows::Entity, _>(db).await;
        let stored = rows(db, &scope).await;

        let cases: Vec<(NewPage, (&str, Violation))> = vec![
            (new_page("   "), ("pages.title", Violation::Empty)),
            (
                new_page(&"é".repeat(256)),
                ("pages.title", Violation::TooLong { max: 255 }),
            ),
            (
                NewPage {
                    content: "x".repeat(pages::CONTENT_MAX + 1),
                    ..new_page("Sizes")
                },
                (
                    "pages.content",
                    Violation::TooLong {
                        max: pages::CONTENT_MAX,
                    },
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(invalid(pages::create(db, &scope, input).await), expected);
        }
        // A slug is parsed before it can be given.
        for (slug, violation) in [
            (String::new(), Violation::Empty),
            ("Size Guide".to_owned(), Violation::Format),
            ("-sizes".to_owned(), Violation::Format),
            (
                "a".repeat(SLUG_MAX + 1),
                Violation::TooLong { max: SLUG_MAX },
            ),
        ] {
            assert_eq!(
                invalid(Slug::parse("pages.slug", &slug)),
                ("pages.slug", violation)
            );
        }
        let patches: Vec<(PagePatch, (&str, Violation))> = vec![
            (
                PagePatch {
                    title: Some(String::new()),
                    content: Some("new".into()),
                    ..PagePatch::default()
                },
                ("pages.title", Violation::Empty),
            ),
            (
                PagePatch {
                    content: Some("x".repeat(pages::CONTENT_MAX + 1)),
                    title: Some("New".into()),
                    ..PagePatch::default()
                },
                (
                    "pages.content",
                    Violation::TooLong {
                        max: pages::CONTENT_MAX,
                    },
                ),
            ),
        ];
        for (patch, expected) in patches {
            assert_eq!(
                invalid(pages::update(db, &scope, page.id, patch).await),
                expected
            );
        }

        assert_eq!(row_count::<page_rows::Entity, _>(db).await, before);
        assert_eq!(rows(db, &scope).await, stored);
    }
);

backend_test!(
    async fn another_owner_cannot_reach_a_stores_pages_by_any_function(t: &TestDb) {
        let db = &t.db;
        let (victim_user, victim_store) = user_with_store(db).await;
        let victim = StoreScope::obtain(db, victim_user.id, victim_store.id)
            .await
            .expect("victim scope");
        pages::create_standard_pages(db, &victim)
            .await
            .expect("victim's standard pages");
        let secret = pages::create(db, &victim, new_page(&format!("Secret {}", unique())))
            .await
            .expect("victim's page");
        let before = rows(db, &victim).await;
        let (intruder_user, intruder_store) = user_with_store(db).await;
        let intruder = StoreScope::obtain(db, intruder_user.id, intruder_store.id)
            .await
            .expect("intruder scope");

        let foreign_scope = StoreScope::obtain(db, intruder_user.id, victim_store.id).await;
        assert!(
            matches!(
                foreign_scope,
                Err(Error::NotFound {
                    entity: domain::Table::Stores
                })
            ),
            "{foreign_scope:?}"
        );
        assert_page_not_found(pages::get(db, &intruder, secret.id).await);
        assert_page_not_found(pages::get_by_slug(db, &intruder, &secret.slug).await);
        assert_page_not_found(
            pages::update(
                db,
                &intruder,
                secret.id,
                PagePatch {
                    title: Some("Pwned".into()),
                    slug: Some(slug("pwned")),
                    content: Some("pwned".into()),
                },
            )
            .await,
        );
        assert_page_not_found(pages::delete(db, &intruder, secret.id).await);
        for page in &before {
            assert_page_not_found(pages::get(db, &intruder, page.id).await);
            assert_page_not_found(pages::delete(db, &intruder, page.id).await);
        }
        assert_eq!(
            pages::list(db, &intruder, None).await.expect("list"),
            vec![]
        );
        // The intruder's own standard pages are theirs, at the same slugs.
        let own = pages::create_standard_pages(db, &intruder)
            .await
            .expect("intruder's standard pages");
        assert!(own.iter().all(|page| page.store_id == intruder.store_id()));
        assert_page_not_found(pages::get_by_slug(db, &intruder, &secret.slug).await);

        assert_eq!(rows(db, &victim).await, before);
        assert_eq!(rows(db, &intruder).await.len(), 6);
    }
);
