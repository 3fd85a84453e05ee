//! The studio in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver: overview → user → store → product → variant, the job queue, and a pending
//! job cancelled with its form in `--write` mode. Screenshots go to
//! `<target>/tmp/studio-browser/`.
//!
//! Without Chromium the test says so and does nothing, unless `ZYENTA_TEST_REQUIRE_BROWSER=1`
//! (set by `.ci/studio-browser.sh`), which turns a missing browser into a failure.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use sea_orm::EntityTrait;
use serde_json::json;
use tests::{Backend, TestDb};

use super::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver in a process group of its own, which is ended when this is dropped: the
/// browser it started goes with it, even when a failed assertion skipped the session's close.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.0.id()))
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
}

fn required() -> bool {
    matches!(
        std::env::var("ZYENTA_TEST_REQUIRE_BROWSER").as_deref(),
        Ok("1" | "true" | "yes")
    )
}

async fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(driver_port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session")
}

/// Serves `studio` on a real socket for the browser; the task ends with the test.
async fn serve(studio: studio::Studio) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, studio::router(studio))
            .await
            .expect("serve");
    });
    format!("http://{address}")
}

async fn shot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("save screenshot");
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_walks_from_the_overview_to_a_variant_and_cancels_a_job() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            !required(),
            "ZYENTA_TEST_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "skipped: {CHROMIUM} and {CHROMEDRIVER} are needed (.ci/studio-browser.sh installs them)"
        );
        return;
    }
    let t = TestDb::migrated(Backend::Sqlite).await.expect("SQLite");
    let (user_id, store_id) = demo(&t.db).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("studio-browser");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let profile = std::env::temp_dir().join(format!("studio-chromium-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&profile).expect("profile folder");
    let (_driver, driver_port) = start_driver().await;
    let client = browser(driver_port, &profile).await;

    // Read-only: overview → user → store → product → variant.
    let base = serve(studio(&t, false).await).await;
    client.goto(&base).await.expect("overview");
    assert!(text(&client, "h1").await.contains("Overview"));
    assert!(text(&client, "header .mode").await.contains("read-only"));
    shot(&client, &shots, "01-overview").await;
    click(&client, &format!("#users a[href='/users/{user_id}']")).await;
    assert!(text(&client, "h1").await.contains("test@zyenta.com"));
    shot(&client, &shots, "02-user").await;
    click(&client, &format!("#stores a[href='/stores/{store_id}']")).await;
    assert!(text(&client, "h1").await.contains("Test Cyberpunk Store"));
    assert!(text(&client, "#swatches").await.contains("#FF00FF"));
    assert!(text(&client, "#fonts").await.contains("Orbitron"));
    shot(&client, &shots, "03-store").await;
    let variant = entity::product_variants::Entity::find()
        .one(&t.db)
        .await
        .expect("read")
        .expect("a variant");
    click(
        &client,
        &format!(
            "table[data-table='products'] a[href='/products/{}']",
            variant.product_id
        ),
    )
    .await;
    assert!(text(&client, "h1").await.starts_with("Product "));
    assert!(!text(&client, "#variants").await.is_empty());
    shot(&client, &shots, "04-product").await;
    click(
        &client,
        &format!("#variants a[href='/t/product_variants/{}']", variant.id),
    )
    .await;
    assert!(text(&client, "h1").await.starts_with("product_variants "));
    assert!(text(&client, "#relations").await.contains("products"));
    shot(&client, &shots, "05-variant").await;
    click(&client, "header a[href='/jobs']").await;
    assert_eq!(text(&client, "h1").await, "Job queue");
    assert!(
        text(&client, "#failed")
            .await
            .contains("source image returned HTTP 404")
    );
    assert!(
        client
            .find_all(Locator::Css("form"))
            .await
            .expect("forms")
            .is_empty(),
        "no form when read-only"
    );
    shot(&client, &shots, "06-jobs").await;

    // --write: cancel a pending job with its form and see the new status.
    let base = serve(studio(&t, true).await).await;
    client.goto(&format!("{base}/jobs")).await.expect("jobs");
    assert!(text(&client, "header .mode").await.contains("write mode"));
    let form = client
        .find(Locator::Css("#scheduled form[action$='/cancel']"))
        .await
        .expect("a cancel form");
    let action = form.attr("action").await.expect("attr").expect("action");
    let job_id = action
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .expect("job id")
        .to_owned();
    form.find(Locator::Css("button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    // The form posts and the browser follows the redirect to the job's page: wait for it, a
    // loaded machine may take a while.
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#status"))
        .await
        .expect("the job's page after the cancel");
    assert_eq!(text(&client, "#status").await, "CANCELLED");
    assert!(
        client
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with(&job_id)
    );
    shot(&client, &shots, "07-job-cancelled").await;
    client.close().await.expect("close the session");
    let _ = std::fs::remove_dir_all(&profile);

    let job = entity::agent_jobs::Entity::find_by_id(uuid::Uuid::parse_str(&job_id).expect("uuid"))
        .one(&t.db)
        .await
        .expect("read")
        .expect("the job");
    assert_eq!(job.status, domain::agent_jobs::JobStatus::Cancelled);
    eprintln!("screenshots in {}", shots.display());
}
