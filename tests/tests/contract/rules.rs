use domain::{CheckRule, Error, ForeignKeyRule, UniqueRule, Violation};
use entity::{
    accounts, agent_job_dependencies, agent_jobs, media_assets, pages, product_images,
    product_variants, products, sessions, stores, supplier_accounts, users,
};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, ModelTrait, PaginatorTrait};
use uuid::Uuid;

use super::*;

/// The error the crate gives for a failed write to `table`.
fn translated<T: std::fmt::Debug>(result: Result<T, DbErr>, table: &str) -> Error {
    let err = result.expect_err("the write must be refused");
    domain::violations::translate(err, Some(table))
}

async fn violate_unique(t: &TestDb, rule: UniqueRule) -> Error {
    let db = &t.db;
    let (user, store) = user_with_store(db).await;
    // Every arm writes a row that repeats the value(s) of an existing one under `rule`.
    match rule {
        UniqueRule::UsersEmail => {
            let mut twin = tests::builders::user();
            twin.email = user.email.clone();
            translated(insert(db, twin).await, "users")
        }
        UniqueRule::UsersStripeAccountId => {
            let mut first = tests::builders::user();
            first.stripe_account_id = Some(format!("acct_{}", unique()));
            let mut twin = tests::builders::user();
            twin.stripe_account_id = first.stripe_account_id.clone();
            insert(db, first).await.expect("first");
            translated(insert(db, twin).await, "users")
        }
        UniqueRule::AccountsProviderAccount => {
            let first = insert(db, account(user.id)).await.expect("first");
            let mut twin = account(user.id);
            twin.provider_account_id = first.provider_account_id;
            translated(insert(db, twin).await, "accounts")
        }
        UniqueRule::SessionsToken => {
            let first = insert(db, session(user.id)).await.expect("first");
            let mut twin = session(user.id);
            twin.session_token = first.session_token;
            translated(insert(db, twin).await, "sessions")
        }
        UniqueRule::VerificationTokensIdentifierToken => {
            let first = insert(db, verification_token()).await.expect("first");
            translated(insert(db, first).await, "verification_tokens")
        }
        UniqueRule::VerificationTokensToken => {
            let first = insert(db, verification_token()).await.expect("first");
            let mut twin = verification_token();
            twin.token = first.token;
            translated(insert(db, twin).await, "verification_tokens")
        }
        UniqueRule::SupplierAccountsUserProvider => {
            insert(db, supplier_account(user.id)).await.expect("first");
            translated(
                insert(db, supplier_account(user.id)).await,
                "supplier_accounts",
            )
        }
        UniqueRule::StoresSlug => {
            let mut twin = tests::builders::store(user.id);
            twin.slug = store.slug.clone();
            translated(insert(db, twin).await, "stores")
        }
        UniqueRule::StoresCustomDomain => {
            let domain = format!("{}.example.com", unique());
            let mut first = tests::builders::store(user.id);
            first.custom_domain = Some(domain.clone());
            insert(db, first).await.expect("first");
            let mut twin = tests::builders::store(user.id);
            twin.custom_domain = Some(domain);
            translated(insert(db, twin).await, "stores")
        }
        UniqueRule::StoresSubdomain => {
            let mut twin = tests::builders::store(user.id);
            twin.subdomain = store.subdomain.clone();
            translated(insert(db, twin).await, "stores")
        }
        UniqueRule::ProductsStoreSlug => {
            let first = insert(db, product(store.id)).await.expect("first");
            let mut twin = product(store.id);
            twin.slug = first.slug;
            translated(insert(db, twin).await, "products")
        }
        UniqueRule::ProductsStoreSource => {
            let first = insert(db, product(store.id)).await.expect("first");
            let mut twin = product(store.id);
            twin.source_id = first.source_id;
            translated(insert(db, twin).await, "products")
        }
        UniqueRule::ProductVariantsProductSku => {
            let product = insert(db, product(store.id)).await.expect("product");
            let first = insert(db, product_variant(product.id, product.store_id))
                .await
                .expect("first");
            let mut twin = product_variant(product.id, product.store_id);
            twin.sku = first.sku;
            translated(insert(db, twin).await, "product_variants")
        }
        UniqueRule::PagesStoreSlug => {
            let first = insert(db, page(store.id)).await.expect("first");
            let mut twin = page(store.id);
            twin.slug = first.slug;
            translated(insert(db, twin).await, "pages")
        }
        UniqueRule::AgentJobDependenciesEdge => {
            let job = insert(db, agent_job(Some(store.id))).await.expect("job");
            let parent = insert(db, agent_job(Some(store.id))).await.expect("parent");
            let edge = agent_job_dependencies::Model {
                job_id: job.id,
                depends_on: parent.id,
            };
            insert(db, edge.clone()).await.expect("first");
            translated(insert(db, edge).await, "agent_job_dependencies")
        }
        UniqueRule::AgentJobsStoreUniqueKey => {
            let mut first = agent_job(Some(store.id));
            first.unique_key = Some(format!("sync-{}", unique()));
            let mut twin = agent_job(Some(store.id));
            twin.unique_key = first.unique_key.clone();
            insert(db, first).await.expect("first");
            translated(insert(db, twin).await, "agent_jobs")
        }
    }
}

backend_test!(
    async fn every_unique_rule_refuses_a_duplicate_and_names_itself(t: &TestDb) {
        for &rule in UniqueRule::ALL {
            let err = violate_unique(t, rule).await;
            // A repeated (identifier, token) pair also repeats the token, which is unique on
            // its own: the backend reports whichever of the two it checks first (SQLite the
            // token, the others the primary key).
            let also_broken = match rule {
                UniqueRule::VerificationTokensIdentifierToken => {
                    Some(UniqueRule::VerificationTokensToken)
                }
                _ => None,
            };
            assert!(
                matches!(err, Error::Conflict { rule: r } if r == rule || Some(r) == also_broken),
                "{rule:?}: {err:?}"
            );
        }
    }
);

backend_test!(
    async fn a_duplicate_email_reads_as_the_rule_not_the_driver_message(t: &TestDb) {
        let err = violate_unique(t, UniqueRule::UsersEmail).await;
        assert_eq!(err.to_string(), "users.email is already taken");
        // The From conversion services use with `?` translates the same way.
        let user = insert(&t.db, user()).await.expect("user");
        let mut twin = tests::builders::user();
        twin.email = user.email;
        let err: Error = insert(&t.db, twin).await.expect_err("duplicate").into();
        assert!(
            matches!(
                err,
                Error::Conflict {
                    rule: UniqueRule::UsersEmail
                }
            ),
            "{err:?}"
        );
    }
);

backend_test!(
    async fn every_foreign_key_refuses_a_row_that_points_nowhere(t: &TestDb) {
        let db = &t.db;
        let nowhere = Uuid::now_v7();
        for &rule in ForeignKeyRule::ALL {
            let err = match rule {
                ForeignKeyRule::AccountsUser => {
                    translated(insert(db, account(nowhere)).await, "accounts")
                }
                ForeignKeyRule::SessionsUser => {
                    translated(insert(db, session(nowhere)).await, "sessions")
                }
                ForeignKeyRule::SupplierAccountsUser => translated(
                    insert(db, supplier_account(nowhere)).await,
                    "supplier_accounts",
                ),
                ForeignKeyRule::StoresUser => {
                    translated(insert(db, store(nowhere)).await, "stores")
                }
                ForeignKeyRule::ProductsStore => {
                    translated(insert(db, product(nowhere)).await, "products")
                }
                ForeignKeyRule::ProductImagesProduct => translated(
                    insert(db, product_image(nowhere, nowhere)).await,
                    "product_images",
                ),
                ForeignKeyRule::ProductVariantsProduct => translated(
                    insert(db, product_variant(nowhere, nowhere)).await,
                    "product_variants",
                ),
                ForeignKeyRule::PagesStore => translated(insert(db, page(nowhere)).await, "pages"),
                ForeignKeyRule::MediaAssetsStore => {
                    translated(insert(db, media_asset(nowhere)).await, "media_assets")
                }
                ForeignKeyRule::AgentJobsStore => {
                    translated(insert(db, agent_job(Some(nowhere))).await, "agent_jobs")
                }
                ForeignKeyRule::AgentJobDependenciesJob
                | ForeignKeyRule::AgentJobDependenciesDependsOn => {
                    let job = insert(db, agent_job(None)).await.expect("job");
                    let (job_id, depends_on) = match rule {
                        ForeignKeyRule::AgentJobDependenciesJob => (nowhere, job.id),
                        _ => (job.id, nowhere),
                    };
                    let err = translated(
                        insert(db, agent_job_dependencies::Model { job_id, depends_on }).await,
                        "agent_job_dependencies",
                    );
                    if t.db_backend() == DbBackend::Sqlite {
                        // SQLite names no foreign key, and this table has two: the crate
                        // never writes an edge to a job it has not locked, so the refusal
                        // stays untranslated there (documented on `ForeignKeyRule`).
                        assert!(matches!(err, Error::Database(_)), "{rule:?}: {err:?}");
                        continue;
                    }
                    err
                }
            };
            assert!(
                matches!(err, Error::MissingReference { rule: r } if r == rule),
                "{rule:?}: {err:?}"
            );
        }
    }
);

/// Writes `value` into the column of `rule` with raw SQL, as a write that bypasses the domain.
async fn raw_update(t: &TestDb, rule: CheckRule, value: &str) -> Result<(), DbErr> {
    let q = |ident: &str| match t.db_backend() {
        DbBackend::MySql => format!("`{ident}`"),
        _ => format!("\"{ident}\""),
    };
    let sql = format!(
        "UPDATE {} SET {} = {value}",
        q(rule.table()),
        q(rule.columns()[0])
    );
    t.db.execute_unprepared(&sql).await.map(|_| ())
}

backend_test!(
    async fn every_check_refuses_a_bad_value_and_names_the_column(t: &TestDb) {
        let db = &t.db;
        let (_, store) = user_with_store(db).await;
        let product = insert(db, product(store.id)).await.expect("product");
        insert(db, product_image(product.id, product.store_id))
            .await
            .expect("image");
        insert(db, product_variant(product.id, product.store_id))
            .await
            .expect("variant");
        insert(db, page(store.id)).await.expect("page");
        insert(db, media_asset(store.id)).await.expect("media");
        insert(db, supplier_account(store.user_id))
            .await
            .expect("supplier");
        let job = insert(db, agent_job(Some(store.id))).await.expect("job");
        let parent = insert(db, agent_job(Some(store.id))).await.expect("parent");
        insert(
            db,
            agent_job_dependencies::Model {
                job_id: job.id,
                depends_on: parent.id,
            },
        )
        .await
        .expect("edge");

        for &rule in CheckRule::ALL {
            let bad = match rule {
                CheckRule::ProductsCostPrice
                | CheckRule::ProductsSellingPrice
                | CheckRule::ProductsCompareAtPrice
                | CheckRule::ProductVariantsPrice
                | CheckRule::ProductVariantsCostPrice => "-0.01",
                CheckRule::ProductsStockQuantity
                | CheckRule::ProductVariantsStock
                | CheckRule::ProductImagesPosition
                | CheckRule::MediaAssetsSize
                | CheckRule::AgentJobsAttempts
                | CheckRule::AgentJobsWaitingFor
                | CheckRule::AgentJobsProgress => "-1",
                // An edge from a job to itself.
                CheckRule::AgentJobDependenciesDependsOn => "job_id",
                CheckRule::AgentJobsMaxAttempts => "0",
                CheckRule::ProductsSourceProvider
                | CheckRule::ProductsStatus
                | CheckRule::MediaAssetsType
                | CheckRule::PagesType
                | CheckRule::StoresStatus
                | CheckRule::SupplierAccountsProvider
                | CheckRule::AgentJobsType
                | CheckRule::AgentJobsStatus => "'NOT_A_VARIANT'",
            };
            let result = raw_update(t, rule, bad).await;
            let is_enum_check = bad == "'NOT_A_VARIANT'";
            if is_enum_check && t.db_backend() != DbBackend::Sqlite {
                // Postgres and MariaDB refuse it through the enum type itself.
                assert!(result.is_err(), "{rule:?} accepted a bad variant");
                continue;
            }
            let err = translated(result, rule.table());
            assert!(
                matches!(
                    err,
                    Error::Invalid { field, violation: Violation::Check(r) } if r == rule && field == rule.field()
                ),
                "{rule:?}: {err:?}"
            );
        }
        // Progress above 100 is refused too.
        let err = translated(
            raw_update(t, CheckRule::AgentJobsProgress, "101").await,
            "agent_jobs",
        );
        assert!(matches!(
            err,
            Error::Invalid {
                violation: Violation::Check(CheckRule::AgentJobsProgress),
                ..
            }
        ));
        // Nothing was changed by the refused writes.
        let read = products::Entity::find_by_id(product.id)
            .one(db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(read.cost_price, product.cost_price);
        assert!(read.cost_price > Decimal::ZERO);
    }
);

backend_test!(
    async fn deleting_a_user_cascades_and_leaves_their_store_jobs_with_no_store(t: &TestDb) {
        let db = &t.db;
        let (user, store) = user_with_store(db).await;
        let (other_user, other_store) = user_with_store(db).await;
        insert(db, account(user.id)).await.expect("account");
        insert(db, session(user.id)).await.expect("session");
        insert(db, supplier_account(user.id))
            .await
            .expect("supplier");
        let product = insert(db, product(store.id)).await.expect("product");
        insert(db, product_image(product.id, product.store_id))
            .await
            .expect("image");
        insert(db, product_variant(product.id, product.store_id))
            .await
            .expect("variant");
        insert(db, page(store.id)).await.expect("page");
        insert(db, media_asset(store.id)).await.expect("media");
        let job = insert(db, agent_job(Some(store.id))).await.expect("job");
        let other_job = insert(db, agent_job(Some(other_store.id)))
            .await
            .expect("other job");

        user.clone().delete(db).await.expect("delete user");

        assert_eq!(accounts::Entity::find().count(db).await.expect("count"), 0);
        assert_eq!(sessions::Entity::find().count(db).await.expect("count"), 0);
        assert_eq!(
            supplier_accounts::Entity::find()
                .count(db)
                .await
                .expect("count"),
            0
        );
        assert_eq!(
            stores::Entity::find().all(db).await.expect("stores"),
            vec![other_store.clone()]
        );
        assert_eq!(products::Entity::find().count(db).await.expect("count"), 0);
        assert_eq!(
            product_images::Entity::find()
                .count(db)
                .await
                .expect("count"),
            0
        );
        assert_eq!(
            product_variants::Entity::find()
                .count(db)
                .await
                .expect("count"),
            0
        );
        assert_eq!(pages::Entity::find().count(db).await.expect("count"), 0);
        assert_eq!(
            media_assets::Entity::find().count(db).await.expect("count"),
            0
        );
        // The job history stays; only its store is gone (ON DELETE SET NULL).
        let job = agent_jobs::Entity::find_by_id(job.id)
            .one(db)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(job.store_id, None);
        let other_job = agent_jobs::Entity::find_by_id(other_job.id)
            .one(db)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(other_job.store_id, Some(other_store.id));
        assert!(
            users::Entity::find_by_id(other_user.id)
                .one(db)
                .await
                .expect("read")
                .is_some()
        );
    }
);

backend_test!(
    async fn deleting_a_product_removes_its_images_and_variants_only(t: &TestDb) {
        let db = &t.db;
        let (_, store) = user_with_store(db).await;
        let doomed = insert(db, product(store.id)).await.expect("product");
        let kept = insert(db, product(store.id)).await.expect("product");
        for p in [&doomed, &kept] {
            insert(db, product_image(p.id, p.store_id))
                .await
                .expect("image");
            insert(db, product_variant(p.id, p.store_id))
                .await
                .expect("variant");
        }
        doomed.delete(db).await.expect("delete");
        let images = product_images::Entity::find()
            .all(db)
            .await
            .expect("images");
        let variants = product_variants::Entity::find()
            .all(db)
            .await
            .expect("variants");
        assert_eq!(
            images.iter().map(|i| i.product_id).collect::<Vec<_>>(),
            vec![kept.id]
        );
        assert_eq!(
            variants.iter().map(|v| v.product_id).collect::<Vec<_>>(),
            vec![kept.id]
        );
    }
);
