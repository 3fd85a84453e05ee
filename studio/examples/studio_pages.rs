//! `workload=studio_pages`: how fast every page of the studio answers, and how many queries
//! it sends, on the database of `DATABASE_URL` (meant for the bulk database:
//! `cargo run --release -p seed -- --stores 100 --products 10000`).
//!
//! ```sh
//! DATABASE_URL=postgres://…/zyenta_studio_bulk cargo run --release -p studio --example studio_pages
//! ```
//!
//! A program, not a test: it prints one line per page,
//! `workload=studio_pages page=<name> ops=<n> p50_ms=<x> p95_ms=<y> queries=<q>`, then for the
//! table pages the query count at page sizes 10 and 500 (`queries_at_10=… queries_at_500=…`),
//! and the time of whole streamed exports. Requests go through the router (no socket) on the
//! studio's read-only connection, one after another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use domain::Config;
use sea_orm::{ConnectionTrait, Statement};
use tower::ServiceExt;

/// Requests per page after the warm-up.
const OPS: usize = 60;
const WARM_UP: usize = 5;

async fn one(router: &axum::Router, uri: &str) -> (Duration, usize) {
    let started = Instant::now();
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let elapsed = started.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "GET {uri}: {}",
        String::from_utf8_lossy(&body)
    );
    (elapsed, body.len())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn cursor(values: &[&str]) -> String {
    let json = serde_json::to_vec(values).expect("json");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect(sql)
        .unwrap_or_else(|| panic!("no row: {sql}"));
    row.try_get::<String>("", "v").expect(sql)
}

#[tokio::main]
async fn main() {
    let config = Config::from_env().expect("configuration");
    let mut db = studio::open(&config, false)
        .await
        .expect("read-only connection");
    let queries = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&queries);
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let backend = db.get_database_backend();
    let text = |col: &str| {
        if backend == sea_orm::DbBackend::MySql {
            format!("CAST({col} AS CHAR)")
        } else {
            format!("CAST({col} AS TEXT)")
        }
    };
    // Rows to visit: the store with the most products, one of its products with variants, a
    // job, and cursors in the middle of the products table.
    let store = scalar(&db, &format!("SELECT {} AS v FROM stores s ORDER BY (SELECT COUNT(*) FROM products p WHERE p.store_id = s.id) DESC, s.id LIMIT 1", text("s.id"))).await;
    let owner = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM stores WHERE {} = '{store}'",
            text("user_id"),
            text("id")
        ),
    )
    .await;
    let variant = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM product_variants ORDER BY id DESC LIMIT 1",
            text("id")
        ),
    )
    .await;
    let product = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM product_variants WHERE {} = '{variant}'",
            text("product_id"),
            text("id")
        ),
    )
    .await;
    let busy = scalar(&db, &format!("SELECT {} AS v FROM (SELECT store_id FROM agent_jobs WHERE store_id IS NOT NULL GROUP BY store_id ORDER BY COUNT(*) DESC LIMIT 1) s", text("store_id"))).await;
    let job = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM agent_jobs ORDER BY id DESC LIMIT 1",
            text("id")
        ),
    )
    .await;
    let total = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM (SELECT COUNT(*) AS n FROM products) c",
            text("n")
        ),
    )
    .await;
    let half: u64 = total.parse::<u64>().unwrap_or(0) / 2;
    let middle = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM products ORDER BY id LIMIT 1 OFFSET {half}",
            text("id")
        ),
    )
    .await;
    let middle_status = scalar(
        &db,
        &format!(
            "SELECT {} AS v FROM products WHERE {} = '{middle}'",
            text("status"),
            text("id")
        ),
    )
    .await;
    println!("# database: {}; products: {total}", config.redacted_url());

    let router = studio::router(studio::Studio::new(db.clone(), false, None).expect("studio"));
    let after = cursor(&[&middle]);
    let after_status = cursor(&[&middle_status, &middle]);
    let pages: Vec<(&str, String)> = vec![
        ("overview", "/".into()),
        ("user", format!("/users/{owner}")),
        ("store", format!("/stores/{store}")),
        ("store_with_most_jobs", format!("/stores/{busy}")),
        (
            "jobs_filter_store_most_jobs",
            format!("/t/agent_jobs?f.store_id={busy}"),
        ),
        ("product", format!("/products/{product}")),
        ("variant_row", format!("/t/product_variants/{variant}")),
        ("job_row", format!("/t/agent_jobs/{job}")),
        ("job_queue", "/jobs".into()),
        ("products_first_page", "/t/products".into()),
        ("products_middle_page", format!("/t/products?after={after}")),
        (
            "products_desc_middle",
            format!("/t/products?dir=desc&after={after}"),
        ),
        ("products_sort_status", "/t/products?sort=status".into()),
        (
            "products_sort_status_middle",
            format!("/t/products?sort=status&after={after_status}"),
        ),
        (
            "products_sort_store",
            "/t/products?sort=store_id&dir=desc".into(),
        ),
        (
            "products_filter_store",
            format!("/t/products?f.store_id={store}"),
        ),
        (
            "products_filter_status",
            "/t/products?f.status=ACTIVE".into(),
        ),
        (
            "products_filter_store_middle",
            format!("/t/products?f.store_id={store}&after={after}"),
        ),
        (
            "variants_filter_product",
            format!("/t/product_variants?f.product_id={product}"),
        ),
        ("variants_first_page", "/t/product_variants".into()),
        ("images_first_page", "/t/product_images".into()),
        ("jobs_sort_status", "/t/agent_jobs?sort=status".into()),
        ("users_first_page", "/t/users".into()),
        ("stores_sort_slug", "/t/stores?sort=slug".into()),
    ];
    let mut worst: f64 = 0.0;
    for (name, uri) in &pages {
        for _ in 0..WARM_UP {
            one(&router, uri).await;
        }
        let mut times = Vec::with_capacity(OPS);
        let before = queries.load(Ordering::Relaxed);
        for _ in 0..OPS {
            times.push(one(&router, uri).await.0);
        }
        let per_request = (queries.load(Ordering::Relaxed) - before) / OPS as u64;
        times.sort();
        let p50 = ms(times[OPS / 2]);
        let p95 = ms(times[(OPS * 95).div_ceil(100) - 1]);
        worst = worst.max(p95);
        let mut line = format!(
            "workload=studio_pages page={name} ops={OPS} p50_ms={p50:.2} p95_ms={p95:.2} queries={per_request}"
        );
        if uri.starts_with("/t/")
            && !uri.contains("/t/product_variants/")
            && !uri.contains("/t/agent_jobs/")
        {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let mut counts = Vec::new();
            for limit in [10, 500] {
                let before = queries.load(Ordering::Relaxed);
                one(&router, &format!("{uri}{sep}limit={limit}")).await;
                counts.push(queries.load(Ordering::Relaxed) - before);
            }
            line.push_str(&format!(
                " queries_at_10={} queries_at_500={}",
                counts[0], counts[1]
            ));
        }
        println!("{line}");
    }
    println!(
        "workload=studio_pages worst_p95_ms={worst:.2} target_ms=100 met={}",
        worst < 100.0
    );
    // Exports stream every row of the view: their time grows with the rows, by design.
    for (name, uri) in [
        (
            "export_csv_store_products",
            format!("/t/products/export.csv?f.store_id={store}"),
        ),
        (
            "export_json_store_products",
            format!("/t/products/export.json?f.store_id={store}"),
        ),
    ] {
        let before = queries.load(Ordering::Relaxed);
        let (elapsed, bytes) = one(&router, &uri).await;
        println!(
            "workload=studio_pages export={name} seconds={:.3} bytes={bytes} queries={}",
            elapsed.as_secs_f64(),
            queries.load(Ordering::Relaxed) - before
        );
    }
}
