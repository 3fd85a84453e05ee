//! The migration binary as an operator runs it.

use std::process::Command;

use migration::connection::REDACTION_CASES;

fn run(args: &[&str], url: Option<&str>, dir: &std::path::Path) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_migration"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    let out = command.output().expect("run migration");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "zyenta-migration-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn no_output_shows_the_password_whatever_the_url_looks_like() {
    let dir = scratch();
    for url in REDACTION_CASES {
        for args in [&["status"][..], &["up"], &["-v", "status"]] {
            let (ok, text) = run(args, Some(url), &dir);
            assert!(!ok, "{url}: {text}");
            assert!(!text.contains("S3cret"), "{url} {args:?}: {text}");
            assert!(!text.contains("panicked"), "{url} {args:?}: {text}");
        }
        let (ok, text) = run(&["-u", url, "status"], None, &dir);
        assert!(!ok && !text.contains("S3cret"), "{url} via -u: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_database_url_it_uses_the_sqlite_default_and_env_files_like_every_binary() {
    let dir = scratch();
    let (ok, text) = run(&["up"], None, &dir);
    assert!(ok, "{text}");
    assert!(
        text.contains("database: sqlite://zyenta.db?mode=rwc"),
        "{text}"
    );
    assert!(dir.join("zyenta.db").is_file());
    // A .env file is read (as seed and the services read it).
    std::fs::write(
        dir.join(".env"),
        "DATABASE_URL=sqlite://from-env-file.db?mode=rwc\n",
    )
    .expect("write .env");
    let (ok, text) = run(&["status"], None, &dir);
    assert!(ok, "{text}");
    assert!(text.contains("from-env-file.db"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refused_port_is_reported_at_once_as_a_message() {
    let dir = scratch();
    let started = std::time::Instant::now();
    let (ok, text) = run(&["status"], Some("postgres://app@127.0.0.1:1/zyenta"), &dir);
    assert!(!ok);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        text.contains("cannot connect to 127.0.0.1:1: connection refused"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dropping_everything_is_refused_in_production_before_connecting() {
    let dir = scratch();
    for command in ["fresh", "refresh", "reset"] {
        let out = Command::new(env!("CARGO_BIN_EXE_migration"))
            .arg(command)
            .current_dir(&dir)
            .env("ZYENTA_ENV", "production")
            .env("DATABASE_URL", "sqlite://prod.db?mode=rwc")
            .output()
            .expect("run migration");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refused when ZYENTA_ENV=production")
        );
        assert!(!dir.join("prod.db").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
