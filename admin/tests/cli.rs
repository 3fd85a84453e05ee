//! `zyenta-admin` as an operator runs it.

use std::process::Command;

use migration::connection::REDACTION_CASES;

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "zyenta-admin-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn admin(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zyenta-admin"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ZYENTA_ENV")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = command.output().expect("run zyenta-admin");
    (
        out.status.code(),
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
        for args in [
            &["status"][..],
            &["migrate"],
            &["dump", "x.bin"],
            &["restore", "x.bin"],
        ] {
            let (code, text) = admin(&dir, args, &[("DATABASE_URL", url), ("RUST_LOG", "trace")]);
            assert_ne!(code, Some(0), "{url}: {text}");
            assert!(!text.contains("S3cret"), "{url} {args:?}: {text}");
            assert!(!text.contains("panicked"), "{url}: {text}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncate_is_refused_in_production_before_connecting() {
    let dir = scratch();
    let (code, text) = admin(
        &dir,
        &["truncate", "--yes"],
        &[
            ("ZYENTA_ENV", "production"),
            ("DATABASE_URL", "sqlite://prod.db?mode=rwc"),
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        text.contains("refused when ZYENTA_ENV=production"),
        "{text}"
    );
    assert!(!dir.join("prod.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_migrate_truncate_on_the_default_sqlite_file() {
    let dir = scratch();
    let (code, text) = admin(&dir, &["status", "--require-current"], &[]);
    assert_eq!(code, Some(2), "nothing applied yet: {text}");
    assert!(text.contains("0 applied"), "{text}");
    let (code, text) = admin(&dir, &["migrate"], &[]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = admin(&dir, &["status", "--require-current"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("(current)") && text.contains("health: ok"),
        "{text}"
    );
    assert!(text.contains("users"), "row counts: {text}");
    let (code, text) = admin(&dir, &["truncate"], &[]);
    assert_eq!(code, Some(2), "asks for --yes: {text}");
    let (code, text) = admin(&dir, &["truncate", "--yes"], &[]);
    assert_eq!(code, Some(0), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
