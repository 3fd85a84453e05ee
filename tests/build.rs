//! Fingerprints the migration sources, so that the Postgres template database of the tests is
//! rebuilt whenever the schema changes, and reused by every test process otherwise.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

fn main() {
    // A server backend that is not configured when the tests are built makes its tests
    // ignored, so that the test summary counts them and says why (a skip inside a passing test
    // would print "ok"). Under ZYENTA_TEST_REQUIRE_BACKENDS they stay, and fail.
    println!("cargo::rustc-check-cfg=cfg(zyenta_no_postgres)");
    println!("cargo::rustc-check-cfg=cfg(zyenta_no_mysql)");
    for variable in [
        "TEST_DATABASE_URL",
        "TEST_MYSQL_URL",
        "ZYENTA_TEST_REQUIRE_BACKENDS",
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
    }
    let required = matches!(
        std::env::var("ZYENTA_TEST_REQUIRE_BACKENDS").as_deref(),
        Ok("1" | "true" | "yes")
    );
    let set = |v: &str| std::env::var(v).is_ok_and(|v| !v.trim().is_empty());
    if !required && !set("TEST_DATABASE_URL") {
        println!("cargo::rustc-cfg=zyenta_no_postgres");
    }
    if !required && !set("TEST_MYSQL_URL") {
        println!("cargo::rustc-cfg=zyenta_no_mysql");
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migration/src");
    println!("cargo:rerun-if-changed={}", dir.display());
    // The schema's files only: the migrations (`m<date>_…`), the list of them (lib.rs) and
    // their helpers (schema.rs); the CLI and the runner do not change the schema.
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migration/src is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name == "lib.rs"
                || name == "schema.rs"
                || (name.starts_with('m') && name[1..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        // Listed one by one as well: a directory alone is not reliably rescanned for edits.
        println!("cargo:rerun-if-changed={}", file.display());
        file.file_name().hash(&mut hasher);
        std::fs::read(&file)
            .expect("migration source is readable")
            .hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=MIGRATIONS_FINGERPRINT={:016x}",
        hasher.finish()
    );
}
