//! The seed binary as a user runs it.

use std::process::Command;

use migration::connection::REDACTION_CASES;

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "zyenta-seed-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn seed(dir: &std::path::Path, envs: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seed"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ZYENTA_ENV")
        .env_remove("ZYENTA_ENCRYPTION_KEY")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = command.output().expect("run seed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn no_output_shows_the_password_whatever_the_url_looks_like() {
    let dir = scratch();
    for url in REDACTION_CASES {
        for log in ["warn", "trace"] {
            let (ok, text) = seed(&dir, &[("DATABASE_URL", url), ("RUST_LOG", log)]);
            assert!(!ok, "{url}: {text}");
            assert!(!text.contains("S3cret"), "{url} (RUST_LOG={log}): {text}");
            assert!(!text.contains("panicked"), "{url}: {text}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn production_without_a_key_refuses_before_touching_the_database() {
    let dir = scratch();
    let (ok, text) = seed(
        &dir,
        &[
            ("ZYENTA_ENV", "production"),
            ("DATABASE_URL", "sqlite://prod.db?mode=rwc"),
        ],
    );
    assert!(!ok);
    assert!(text.contains("ZYENTA_ENCRYPTION_KEY"), "{text}");
    // Checked before connect: the database was not even created, let alone migrated.
    assert!(!dir.join("prod.db").exists(), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_env_file_is_read_like_by_every_binary() {
    let dir = scratch();
    std::fs::write(
        dir.join(".env"),
        "DATABASE_URL=sqlite://from-env-file.db?mode=rwc\n",
    )
    .expect("write .env");
    let (ok, text) = seed(&dir, &[]);
    assert!(ok, "{text}");
    assert!(dir.join("from-env-file.db").is_file(), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
