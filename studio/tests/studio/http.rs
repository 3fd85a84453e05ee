//! Every route through the router, on every backend.

use std::collections::{BTreeSet, HashSet, VecDeque};

use axum::http::{Method, StatusCode};
use domain::agent_jobs::JobStatus;
use domain::products::ProductStatus;
use entity::{agent_jobs, product_variants, products, sessions, supplier_accounts, users};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::Value as Json;
use tests::backend_test;
use uuid::Uuid;

use super::common::*;

async fn first_job(db: &sea_orm::DatabaseConnection, status: JobStatus) -> agent_jobs::Model {
    agent_jobs::Entity::find()
        .filter(agent_jobs::Column::Status.eq(status))
        .one(db)
        .await
        .expect("read jobs")
        .unwrap_or_else(|| panic!("a {status:?} job"))
}

async fn job_status(db: &sea_orm::DatabaseConnection, id: Uuid) -> JobStatus {
    agent_jobs::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read job")
        .expect("job")
        .status
}

backend_test!(
    async fn every_page_shows_the_seeded_data_tenant_first(t: &TestDb) {
        let (user_id, store_id) = demo(&t.db).await;
        let studio = studio(t, false).await;

        let overview = page(&studio, "/").await;
        assert!(overview.contains("test@zyenta.com"), "{overview}");
        for table in studio::tables::TABLES {
            assert!(
                overview.contains(&format!("href=\"/t/{}\"", table.name)),
                "{}",
                table.name
            );
        }
        assert!(overview.contains(&format!("/users/{user_id}")));
        let products = products::Entity::find().count(&t.db).await.expect("count");
        assert!(
            overview.contains(&format!(
                "href=\"/t/products\">products</a></td><td class=\"num\">{products}</td>"
            )),
            "the exact count of a small table: {overview}"
        );

        let user = page(&studio, &format!("/users/{user_id}")).await;
        assert!(user.contains("Test Cyberpunk Store"));
        assert!(user.contains(&format!("/stores/{store_id}")));
        assert!(
            user.contains("argon2id hash"),
            "the password hash is described"
        );

        let store = page(&studio, &format!("/stores/{store_id}")).await;
        for expected in [
            "#FF00FF",
            "#00FFFF",
            "#FFFF00",
            "Orbitron",
            "Inter",
            "NeonNest",
            "privacy-policy",
        ] {
            assert!(store.contains(expected), "store page shows {expected}");
        }
        assert!(store.contains("background:#FF00FF"), "a colour swatch");
        assert!(
            store.contains("1 assets, 24.0 KiB (24576 bytes) in total"),
            "{store}"
        );
        assert!(store.contains("id=\"status\">ACTIVE<"));

        let product = products::Entity::find()
            .filter(products::Column::StoreId.eq(store_id))
            .order_by_asc(products::Column::Id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("a product");
        let variants = product_variants::Entity::find()
            .filter(product_variants::Column::ProductId.eq(product.id))
            .all(&t.db)
            .await
            .expect("variants");
        assert!(!variants.is_empty());
        let html = page(&studio, &format!("/products/{}", product.id)).await;
        assert!(html.contains(&format!(
            "{} {}",
            {
                let mut p = product.selling_price;
                p.rescale(2);
                p
            },
            product.currency
        )));
        for variant in &variants {
            assert!(html.contains(&format!("/t/product_variants/{}", variant.id)));
            let row = page(&studio, &format!("/t/product_variants/{}", variant.id)).await;
            assert!(
                row.contains(&format!("/products/{}", product.id)),
                "a variant links to its product"
            );
        }
        assert!(!html.contains("<form"), "no form in read-only mode");

        let jobs = page(&studio, "/jobs").await;
        for section in [
            "id=\"counts\"",
            "id=\"stats\"",
            "id=\"running\"",
            "id=\"stale\"",
            "id=\"failed\"",
            "id=\"scheduled\"",
        ] {
            assert!(jobs.contains(section), "{section}");
        }
        assert!(
            jobs.contains("source image returned HTTP 404"),
            "the failed job's last error"
        );
        assert!(
            jobs.contains("data-type=\"BRAND_GENERATOR\" data-status=\"COMPLETED\">1<"),
            "{jobs}"
        );
        // The seeded job completed a moment ago: the last hour counts it.
        let stats = domain::agent_jobs::stats(&t.db, std::time::Duration::from_secs(3_600))
            .await
            .expect("stats");
        assert!(stats.completed >= 1);
        assert!(
            jobs.contains(&format!("data-stat=\"completed\">{}<", stats.completed)),
            "{jobs}"
        );

        // Every table, and a row page of each table that has them, with relations both ways.
        for table in studio::tables::TABLES {
            let html = page(&studio, &format!("/t/{}", table.name)).await;
            let count: u64 =
                t.db.query_one_raw(sea_orm::Statement::from_string(
                    t.db_backend(),
                    format!("SELECT COUNT(*) AS n FROM {}", table.name),
                ))
                .await
                .expect("count")
                .and_then(|r| r.try_get::<i64>("", "n").ok())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0);
            assert_eq!(
                html.matches("<tr>").count() as u64 - 1,
                count.min(50),
                "{}",
                table.name
            );
        }
        let store_row = page(&studio, &format!("/t/stores/{store_id}")).await;
        assert!(store_row.contains(&format!("/t/products?f.store_id={store_id}")));
        assert!(store_row.contains(&format!("/t/agent_jobs?f.store_id={store_id}")));
        assert!(
            store_row.contains(&format!("/users/{user_id}")),
            "the owner"
        );

        assert_eq!(
            get(&studio, "/t/no_such_table").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&studio, &format!("/users/{}", Uuid::now_v7()))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&studio, "/stores/not-a-uuid").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&studio, "/t/verification_tokens/x").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

fn studio_enum<T: serde::Serialize>(value: &T) -> String {
    let name = serde_json::to_value(value).expect("json");
    let name = name.as_str().expect("a string");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Follows `next page` links from `uri`, collecting the `id` column's links of `table`.
async fn walk(studio: &studio::Studio, table: &str, uri: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(uri.to_owned());
    let mut pages = 0;
    while let Some(uri) = next.take() {
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        let html = page(studio, &uri).await;
        let prefix = if table == "products" {
            "/products/".to_owned()
        } else {
            format!("/t/{table}/")
        };
        for link in links(&html) {
            if let Some(id) = link.strip_prefix(&prefix)
                && !id.contains('/')
                && !id.contains('?')
            {
                ids.push(id.to_owned());
            }
        }
        next = html
            .split("id=\"next\" href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|h| h.replace("&amp;", "&"));
    }
    ids
}

backend_test!(
    async fn paging_filters_sorting_and_exports_agree_with_the_database(t: &TestDb) {
        let (_, store_id) = demo(&t.db).await;
        // More rows: a second store with its catalog.
        seed::bulk::generate(
            &t.db,
            &seed::bulk::BulkOptions {
                stores: 1,
                products_per_store: 23,
                rng_seed: 7,
                batch_size: 10,
            },
            &crypto().0,
            |_| {},
        )
        .await
        .expect("bulk");
        let studio = studio(t, false).await;
        let all: Vec<String> = products::Entity::find()
            .order_by_asc(products::Column::Id)
            .all(&t.db)
            .await
            .expect("products")
            .iter()
            .map(|p| p.id.to_string())
            .collect();
        assert!(all.len() > 20);

        // Every row exactly once, in key order, whatever the page size.
        for limit in [1, 2, 7, 50] {
            let ids = walk(&studio, "products", &format!("/t/products?limit={limit}")).await;
            assert_eq!(ids, all, "limit {limit}");
        }
        // Descending.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(
            walk(&studio, "products", "/t/products?dir=desc&limit=4").await,
            reversed
        );

        // Sorted on an indexed column (status, an enum), ties broken by id: every row once,
        // and the statuses in order.
        let declared = ["DRAFT", "ACTIVE", "OUT_OF_STOCK", "ARCHIVED"];
        let mut expected: Vec<(usize, String, String)> = products::Entity::find()
            .all(&t.db)
            .await
            .expect("products")
            .iter()
            .map(|p| {
                let name = studio_enum(&p.status);
                // Postgres orders an enum by its declaration; SQLite and MariaDB by the text.
                let rank = if t.backend == tests::Backend::Postgres {
                    declared.iter().position(|d| *d == name).expect("a status")
                } else {
                    0
                };
                (rank, name, p.id.to_string())
            })
            .collect();
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, _, id)| id).collect();
        for (dir, limit) in [("asc", 3), ("desc", 3), ("asc", 1), ("asc", 50)] {
            let ids = walk(
                &studio,
                "products",
                &format!("/t/products?sort=status&dir={dir}&limit={limit}"),
            )
            .await;
            let mut wanted = expected.clone();
            if dir == "desc" {
                wanted.reverse();
            }
            assert_eq!(ids, wanted, "sort=status dir={dir} limit={limit}");
        }
        let by_store = walk(&studio, "products", "/t/products?sort=store_id&limit=5").await;
        assert_eq!(by_store.iter().collect::<BTreeSet<_>>().len(), all.len());

        // A filter on an enum column and on a foreign key.
        let active = products::Entity::find()
            .filter(products::Column::Status.eq(ProductStatus::Active))
            .count(&t.db)
            .await
            .expect("count");
        let ids = walk(&studio, "products", "/t/products?f.status=ACTIVE&limit=4").await;
        assert_eq!(ids.len() as u64, active);
        let of_store = products::Entity::find()
            .filter(products::Column::StoreId.eq(store_id))
            .count(&t.db)
            .await
            .expect("count");
        let ids = walk(
            &studio,
            "products",
            &format!("/t/products?f.store_id={store_id}&limit=2"),
        )
        .await;
        assert_eq!(ids.len() as u64, of_store);
        // A filter with a quote and unicode is a value, not SQL.
        let tricky = page(&studio, "/t/users?f.email=%27%20OR%201%3D1%20--%20%C3%A9").await;
        assert!(tricky.contains("No rows."));

        // Exports: the whole view, every page of it.
        let csv = get(&studio, "/t/products/export.csv?f.status=ACTIVE").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.content_type.starts_with("text/csv"));
        let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines[0].starts_with("id,store_id,"), "{}", lines[0]);
        assert_eq!(lines.len() as u64 - 1, active);
        let json = get(&studio, "/t/products/export.json").await;
        assert_eq!(json.status, StatusCode::OK);
        let rows: Vec<Json> = serde_json::from_str(&json.body).expect("a JSON array");
        let exported: Vec<String> = rows
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(exported, all);
        assert!(rows.iter().all(|r| {
            r["selling_price"]
                .as_str()
                .is_some_and(|p| p.split('.').nth(1).map(str::len) == Some(2))
        }));
        let empty = get(&studio, "/t/products/export.json?f.slug=nothing-like-this").await;
        assert_eq!(
            serde_json::from_str::<Vec<Json>>(&empty.body).expect("array"),
            Vec::<Json>::new()
        );

        // Bad input: a clear 400 naming the field and the rule.
        for (uri, words) in [
            (
                "/t/products?sort=title",
                "sort: title is not an indexed column",
            ),
            ("/t/products?f.status=SHINY", "filter status: one of"),
            (
                "/t/products?f.stock_quantity=many",
                "filter stock_quantity: expects a whole number",
            ),
            ("/t/products?limit=0", "limit: a whole number from 1 to 500"),
            ("/t/products?limit=501", "limit"),
            ("/t/products?after=garbage!", "after: not a cursor"),
            ("/t/sessions?f.session_token=abc", "holds secrets"),
            ("/t/products?f.nope=1", "no column nope"),
            ("/t/products/export.csv?f.id=1", "expects a UUID"),
        ] {
            let answer = get(&studio, uri).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(answer.body.contains(words), "{uri}: {}", answer.body);
        }
        assert_eq!(
            get(&studio, "/t/products?limit=500").await.status,
            StatusCode::OK
        );
    }
);

/// Every route that changes something, with a valid-looking form.
async fn action_routes(t: &tests::TestDb) -> Vec<String> {
    let product = products::Entity::find()
        .one(&t.db)
        .await
        .expect("read")
        .expect("product");
    let variant = product_variants::Entity::find()
        .one(&t.db)
        .await
        .expect("read")
        .expect("variant");
    let job = first_job(&t.db, JobStatus::Pending).await;
    let failed = first_job(&t.db, JobStatus::Failed).await;
    vec![
        format!("/jobs/{}/cancel", job.id),
        format!("/jobs/{}/retry", failed.id),
        format!("/stores/{}/status", product.store_id),
        format!("/products/{}/status", product.id),
        format!("/products/{}/stock", product.id),
        format!("/products/{}/delete", product.id),
        format!("/products/{}/restore", product.id),
        format!("/variants/{}/stock", variant.id),
    ]
}

backend_test!(
    async fn without_write_every_request_but_get_and_head_is_refused(t: &TestDb) {
        demo(&t.db).await;
        let studio = studio(t, false).await;
        let pending = first_job(&t.db, JobStatus::Pending).await;
        let before = agent_jobs::Entity::find()
            .order_by_asc(agent_jobs::Column::Id)
            .all(&t.db)
            .await
            .expect("jobs");
        let form = format!("csrf={}&to=ARCHIVED&delta=1", studio.csrf_token());
        let mut uris = action_routes(t).await;
        uris.extend([
            "/".to_owned(),
            "/jobs".into(),
            "/t/products".into(),
            "/nowhere".into(),
        ]);
        for uri in &uris {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let answer = request(&studio, method.clone(), uri, Some(form.clone())).await;
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
                assert!(answer.body.contains("read-only"), "{method} {uri}");
            }
        }
        assert_eq!(
            request(&studio, Method::HEAD, "/jobs", None).await.status,
            StatusCode::OK
        );
        let after = agent_jobs::Entity::find()
            .order_by_asc(agent_jobs::Column::Id)
            .all(&t.db)
            .await
            .expect("jobs");
        assert_eq!(before, after, "nothing changed");
        assert_eq!(job_status(&t.db, pending.id).await, JobStatus::Pending);
    }
);

backend_test!(
    async fn the_studio_connection_refuses_writes_at_the_database(t: &TestDb) {
        let (user_id, _) = demo(&t.db).await;
        let read_only = studio::open(&t.config, false)
            .await
            .expect("read-only connection");
        // Raw SQL, as a wrong route would send it: refused by the database itself.
        let update = read_only
            .execute_unprepared("UPDATE users SET name = 'changed'")
            .await;
        assert!(update.is_err(), "the read-only session accepted an UPDATE");
        let insert = read_only.execute_unprepared("DELETE FROM agent_jobs").await;
        assert!(insert.is_err(), "the read-only session accepted a DELETE");
        // A domain write through the studio's connection fails as a database error.
        let pending = first_job(&t.db, JobStatus::Pending).await;
        let store_id = pending.store_id.expect("a store job");
        let scope = domain::StoreScope::obtain(&read_only, user_id, store_id)
            .await
            .expect("scope (a read)");
        let cancelled = domain::agent_jobs::cancel(&read_only, &scope, pending.id).await;
        assert!(
            matches!(cancelled, Err(domain::Error::Database(_))),
            "{cancelled:?}"
        );
        // Every connection of the pool is read-only, not only the first: 8 at once.
        let attempts =
            (0..8).map(|_| read_only.execute_unprepared("UPDATE products SET stock_quantity = 0"));
        for result in futures_util::future::join_all(attempts).await {
            assert!(result.is_err());
        }
        // Nothing changed; reads work.
        let user = users::Entity::find_by_id(user_id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("user");
        assert_eq!(user.name.as_deref(), Some("Test User"));
        assert_eq!(job_status(&t.db, pending.id).await, JobStatus::Pending);
        assert!(
            agent_jobs::Entity::find()
                .count(&read_only)
                .await
                .expect("a read")
                > 0
        );
    }
);

/// Every secret's plaintext and stored form.
async fn forbidden_strings(t: &tests::TestDb, known: &KnownSecrets) -> Vec<String> {
    let mut all = known.plaintexts.clone();
    for u in users::Entity::find().all(&t.db).await.expect("users") {
        all.extend(u.password_hash);
    }
    for s in sessions::Entity::find().all(&t.db).await.expect("sessions") {
        all.push(s.session_token);
    }
    for v in entity::verification_tokens::Entity::find()
        .all(&t.db)
        .await
        .expect("tokens")
    {
        all.push(v.token);
    }
    for a in entity::accounts::Entity::find()
        .all(&t.db)
        .await
        .expect("accounts")
    {
        all.extend(a.refresh_token);
        all.extend(a.access_token);
        all.extend(a.id_token);
    }
    for s in supplier_accounts::Entity::find()
        .all(&t.db)
        .await
        .expect("suppliers")
    {
        all.push(s.api_key);
        all.extend(s.api_secret);
    }
    // Stored forms are long; a distinctive part of each is enough (and catches truncation).
    let mut parts = Vec::new();
    for secret in all {
        parts.push(secret.clone());
        if secret.len() > 24 {
            let tail: String = secret
                .chars()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            parts.push(tail);
        }
    }
    parts
}

backend_test!(
    async fn no_page_or_export_shows_a_secret_or_its_stored_form(t: &TestDb) {
        demo(&t.db).await;
        let known = known_secrets(&t.db).await;
        let forbidden = forbidden_strings(t, &known).await;
        assert!(forbidden.len() >= 16, "{}", forbidden.len());
        for write in [false, true] {
            let studio = studio(t, write).await;
            let mut seen = HashSet::new();
            let mut queue = VecDeque::from(["/".to_owned(), format!("/users/{}", known.user_id)]);
            while let Some(uri) = queue.pop_front() {
                if !seen.insert(uri.clone()) {
                    continue;
                }
                let answer = get(&studio, &uri).await;
                assert_eq!(answer.status, StatusCode::OK, "GET {uri}");
                for secret in &forbidden {
                    assert!(
                        !answer.body.contains(secret.as_str()),
                        "GET {uri} shows a secret"
                    );
                }
                if answer.content_type.starts_with("text/html") {
                    for link in links(&answer.body) {
                        if !seen.contains(&link) && seen.len() + queue.len() < 1500 {
                            queue.push_back(link);
                        }
                    }
                }
            }
            for must in [
                "/t/sessions/export.csv",
                "/t/verification_tokens/export.json",
                "/t/accounts/export.csv",
                "/t/supplier_accounts/export.json",
                "/t/users/export.csv",
            ] {
                assert!(seen.contains(must), "the crawl reached {must}");
            }
            assert!(
                seen.iter().any(|u| u.starts_with("/t/sessions/")),
                "a session's row page"
            );
            assert!(
                seen.iter()
                    .any(|u| u.starts_with("/t/accounts/0") || u.starts_with("/t/accounts/")),
                "an account's row page"
            );
            // Labels instead of values.
            let accounts = page(&studio, "/t/accounts/export.json").await;
            assert!(accounts.contains("encrypted with key v1"), "{accounts}");
            let sessions = page(&studio, "/t/sessions").await;
            assert!(sessions.contains("SHA-256 digest"));
            // Error pages: a secret given as input is not echoed from the database.
            let answer = get(
                &studio,
                &format!("/t/sessions?f.session_token={}", known.plaintexts[6]),
            )
            .await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            for secret in &forbidden {
                assert!(
                    !answer.body.contains(secret.as_str()),
                    "an error page shows a secret"
                );
            }
        }
    }
);

backend_test!(
    async fn write_mode_runs_domain_actions_behind_the_csrf_token(t: &TestDb) {
        demo(&t.db).await;
        let studio = studio(t, true).await;
        let csrf = format!("csrf={}", studio.csrf_token());

        // Cancel: a wrong or missing token changes nothing.
        let pending = first_job(&t.db, JobStatus::Pending).await;
        let uri = format!("/jobs/{}/cancel", pending.id);
        for form in [
            "csrf=wrong".to_owned(),
            String::new(),
            format!("csrf={}x", studio.csrf_token()),
        ] {
            let answer = request(&studio, Method::POST, &uri, Some(form)).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(job_status(&t.db, pending.id).await, JobStatus::Pending);
        let page_before = page(&studio, &format!("/t/agent_jobs/{}", pending.id)).await;
        assert!(
            page_before.contains(&format!("value=\"{}\"", studio.csrf_token())),
            "the form carries the token"
        );
        let answer = request(&studio, Method::POST, &uri, Some(csrf.clone())).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(
            answer.location,
            Some(format!("/t/agent_jobs/{}", pending.id))
        );
        assert_eq!(job_status(&t.db, pending.id).await, JobStatus::Cancelled);
        assert!(
            page(&studio, &format!("/t/agent_jobs/{}", pending.id))
                .await
                .contains("id=\"status\">CANCELLED<")
        );
        // Cancelling again is the state machine's refusal.
        let again = request(&studio, Method::POST, &uri, Some(csrf.clone())).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(again.body.contains("CANCELLED"), "{}", again.body);

        // Run a failed job again.
        let failed = first_job(&t.db, JobStatus::Failed).await;
        let answer = request(
            &studio,
            Method::POST,
            &format!("/jobs/{}/retry", failed.id),
            Some(csrf.clone()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let retried = agent_jobs::Entity::find_by_id(failed.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("job");
        assert_eq!(retried.status, JobStatus::Pending);
        // Its history stays: the attempts it used, and as many again to come.
        assert_eq!(retried.attempts, failed.attempts);
        assert_eq!(
            retried.max_attempts,
            failed.attempts + domain::agent_jobs::DEFAULT_MAX_ATTEMPTS
        );
        assert_eq!(retried.error, failed.error, "the last error stays visible");
        let twice = request(
            &studio,
            Method::POST,
            &format!("/jobs/{}/retry", failed.id),
            Some(csrf.clone()),
        )
        .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        // Product: status machine, stock, soft-delete and restore.
        let product = products::Entity::find()
            .filter(products::Column::Status.eq(ProductStatus::Active))
            .one(&t.db)
            .await
            .expect("read")
            .expect("an active product");
        let status_uri = format!("/products/{}/status", product.id);
        let answer = request(
            &studio,
            Method::POST,
            &status_uri,
            Some(format!("{csrf}&to=ARCHIVED")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let refused = request(
            &studio,
            Method::POST,
            &status_uri,
            Some(format!("{csrf}&to=ACTIVE")),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "ARCHIVED is final: {}",
            refused.body
        );
        let bad = request(
            &studio,
            Method::POST,
            &status_uri,
            Some(format!("{csrf}&to=SHINY")),
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let variant = product_variants::Entity::find()
            .filter(product_variants::Column::ProductId.eq(product.id))
            .one(&t.db)
            .await
            .expect("read")
            .expect("variant");
        let stock_uri = format!("/variants/{}/stock", variant.id);
        let answer = request(
            &studio,
            Method::POST,
            &stock_uri,
            Some(format!("{csrf}&delta=3")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let too_many = request(
            &studio,
            Method::POST,
            &stock_uri,
            Some(format!("{csrf}&delta=-{}", variant.stock + 4)),
        )
        .await;
        assert_eq!(too_many.status, StatusCode::CONFLICT);
        for delta in ["0", "x", "99999999999", ""] {
            let answer = request(
                &studio,
                Method::POST,
                &stock_uri,
                Some(format!("{csrf}&delta={delta}")),
            )
            .await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "delta {delta}");
        }
        let stock = product_variants::Entity::find_by_id(variant.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("v")
            .stock;
        assert_eq!(stock, variant.stock + 3);
        let delete = request(
            &studio,
            Method::POST,
            &format!("/products/{}/delete", product.id),
            Some(csrf.clone()),
        )
        .await;
        assert_eq!(delete.status, StatusCode::SEE_OTHER);
        assert!(
            page(&studio, &format!("/products/{}", product.id))
                .await
                .contains("soft-deleted")
        );
        let restore = request(
            &studio,
            Method::POST,
            &format!("/products/{}/restore", product.id),
            Some(csrf.clone()),
        )
        .await;
        assert_eq!(restore.status, StatusCode::SEE_OTHER);
        let row = products::Entity::find_by_id(product.id)
            .one(&t.db)
            .await
            .expect("read")
            .expect("p");
        assert!(row.deleted_at.is_none());

        // Store status machine.
        let store_uri = format!("/stores/{}/status", product.store_id);
        let paused = request(
            &studio,
            Method::POST,
            &store_uri,
            Some(format!("{csrf}&to=PAUSED")),
        )
        .await;
        assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
        let back = request(
            &studio,
            Method::POST,
            &store_uri,
            Some(format!("{csrf}&to=CREATING")),
        )
        .await;
        assert_eq!(back.status, StatusCode::CONFLICT);
        assert!(
            page(&studio, &format!("/stores/{}", product.store_id))
                .await
                .contains("id=\"status\">PAUSED<")
        );
    }
);

backend_test!(
    async fn with_an_access_token_every_request_must_carry_it(t: &TestDb) {
        demo(&t.db).await;
        let db = studio::open(&t.config, false).await.expect("connection");
        let token = "a-long-enough-studio-token";
        let studio = studio::Studio::new(db, false, Some(token.into())).expect("studio");
        for uri in ["/", "/jobs", "/t/users", "/t/users/export.csv"] {
            let answer = get(&studio, uri).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert!(!answer.body.contains("test@zyenta.com"));
        }
        let response = tower::ServiceExt::oneshot(
            studio::router(studio.clone()),
            axum::http::Request::get("/t/users")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
    }
);

/// The part of a page between two element ids.
fn section<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html.find(&format!("id=\"{from}\"")).expect("section start");
    let end = html[start..]
        .find(&format!("id=\"{to}\""))
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

backend_test!(
    async fn the_job_queue_shows_stale_heartbeats_and_jobs_scheduled_later(t: &TestDb) {
        demo(&t.db).await;
        let studio = studio(t, false).await;
        let running = first_job(&t.db, JobStatus::Processing).await;
        let html = page(&studio, "/jobs").await;
        assert!(section(&html, "running", "stale").contains(&running.id.to_string()));
        assert!(
            !section(&html, "stale", "failed").contains(&running.id.to_string()),
            "a fresh heartbeat is not stale"
        );
        // The worker went silent an hour ago (setup: the heartbeat is moved back).
        let hour_ago = domain::clock::now() - chrono::Duration::hours(1);
        agent_jobs::Entity::update_many()
            .col_expr(
                agent_jobs::Column::HeartbeatAt,
                sea_orm::sea_query::Expr::value(hour_ago),
            )
            .filter(agent_jobs::Column::Id.eq(running.id))
            .exec(&t.db)
            .await
            .expect("move the heartbeat back");
        let pending = first_job(&t.db, JobStatus::Pending).await;
        let store = pending.store_id.expect("a store job");
        let owner = domain::StoreScope::obtain(
            &t.db,
            entity::stores::Entity::find_by_id(store)
                .one(&t.db)
                .await
                .expect("read")
                .expect("store")
                .user_id,
            store,
        )
        .await
        .expect("scope");
        let later = domain::clock::now() + chrono::Duration::hours(2);
        let scheduled = domain::agent_jobs::create(
            &t.db,
            &owner,
            domain::agent_jobs::NewJob::new(domain::agent_jobs::JobInput::BrandGenerator(
                domain::agent_jobs::BrandBrief {
                    niche: "Lamps".into(),
                    tone: "calm".into(),
                    store_name: None,
                },
            ))
            .run_at(later),
        )
        .await
        .expect("enqueue");
        let html = page(&studio, "/jobs").await;
        let stale = section(&html, "stale", "failed");
        assert!(stale.contains(&running.id.to_string()), "{stale}");
        assert!(stale.contains("s ago"));
        let queued = section(&html, "scheduled", "nothing-after");
        let now_pos = queued
            .find(&pending.id.to_string())
            .expect("the runnable job");
        let later_pos = queued
            .find(&scheduled.id.to_string())
            .expect("the scheduled job");
        assert!(now_pos < later_pos, "ordered by run_at");
        assert!(queued.contains("(in "), "how long until it runs");
    }
);
