//! The shape of `domain`, checked by reading its source: the rules a reviewer would otherwise
//! have to check by eye on every change.
//!
//! - no module imports from a module that imports it (the top-level modules form a DAG);
//! - no file is longer than 500 lines;
//! - every public repository function (one that takes `db: &C`) is named by the verb table and
//!   is a `tracing` span (`#[tracing::instrument(skip_all, err, …)]`);
//! - every `Invalid.field` named in the source follows the one scheme: `table.column[.path]`
//!   of a real table and column, a table (a limit on its rows), or the name of an argument that
//!   is not stored as given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sea_orm::{Iden, Iterable};

const MAX_LINES: usize = 500;

/// The verbs of every repository function (a qualifier may follow after `_`).
const VERBS: &[&str] = &[
    "get",
    "find",
    "list",
    "count",
    "create",
    "update",
    "delete",
    "soft",
    "restore",
    "transition",
    "purge",
];

/// Verbs that one area adds, each with one meaning there.
const AREA_VERBS: &[(&str, &[&str])] = &[
    (
        "agent_jobs",
        &[
            "claim",
            "heartbeat",
            "complete",
            "fail",
            "cancel",
            "rescue",
            "retry",
            "snooze",
            // `agent_jobs::stats`: throughput and latency over a window, the word the
            // dashboards and the pipeline issue use; no row is read back as such.
            "stats",
            // Methods of the worker side: `Worker::run`, `Wakeup::listen`.
            "run",
            "listen",
        ],
    ),
    // An import creates a supplier's product or refreshes it: neither verb alone.
    ("products", &["import"]),
    // `StoreScope::obtain`: the proof of ownership every store function takes.
    ("scope", &["obtain"]),
    // Key rotation walks each table with encrypted columns from that table's module:
    // `users::accounts::rotate_keys` and `supplier_accounts::rotate_keys`.
    ("users", &["authenticate", "rotate"]),
    ("supplier_accounts", &["rotate"]),
    // Infrastructure rather than rows: connecting, migrating, transactions, replicas.
    (
        "db",
        &["connect", "health", "migrate", "migration", "pending"],
    ),
    ("txn", &["transaction"]),
    ("replica", &["connect", "read", "wait"]),
];

/// Argument names an `Invalid.field` may use for values that are not stored as given.
const ARGUMENTS: &[&str] = &[
    // Typed values read from JSON (serde), where no column is known: named by their type.
    "amount",
    "color",
    "currency",
    // Arguments.
    "age",
    "argon2.iterations",
    "argon2.memory_kib",
    "argon2.parallelism",
    "backoff",
    "attempts",
    "batch_size",
    "cron",
    "cursor",
    "delay",
    "image_ids",
    "interval",
    "jobs",
    "lease",
    "lifetime",
    "limit",
    "older_than",
    "parents",
    "password",
    "price",
    "search",
    "url",
    "window",
    "worker_id",
    "write_mark",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of `domain/src` with their text, comments and doc comments removed line by line
/// (so that an intra-doc link is not mistaken for an import).
fn sources() -> Vec<(PathBuf, String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read file");
            let code = text
                .lines()
                .map(|line| match line.trim_start() {
                    l if l.starts_with("//") => "",
                    _ => line,
                })
                .collect::<Vec<_>>()
                .join("\n");
            (path, text, code)
        })
        .collect()
}

/// The top-level module a file belongs to (`products/read.rs` → `products`).
fn top_module(path: &Path) -> String {
    let relative = path.strip_prefix(src()).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn words_after<'a>(code: &'a str, prefix: &str) -> impl Iterator<Item = &'a str> {
    code.match_indices(prefix).map(move |(at, _)| {
        let rest = &code[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

#[test]
fn no_module_imports_from_a_module_that_imports_it() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, _, code) in sources() {
        let from = top_module(&path);
        if from == "lib" {
            continue;
        }
        let mut targets: BTreeSet<String> = words_after(&code, "crate::")
            .filter(|to| !to.is_empty() && *to != from)
            .map(str::to_owned)
            .collect();
        // `use crate::{a, b::c}` groups.
        for (at, _) in code.match_indices("crate::{") {
            let group = &code[at + "crate::{".len()..];
            let group = &group[..group.find("};").unwrap_or(group.len())];
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_ascii_alphabetic() || c == '_') => {
                        start = false;
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if name != from {
                            targets.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        }
        edges.entry(from).or_default().extend(targets);
    }
    // Items re-exported at the crate root (`crate::Error`) are not modules.
    let modules: BTreeSet<String> = edges.keys().cloned().collect();
    for targets in edges.values_mut() {
        targets.retain(|t| modules.contains(t));
    }
    let mut cycles = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if reaches(&edges, to, from, &mut BTreeSet::new()) {
                cycles.push(format!("{from} -> {to} -> … -> {from}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules: {cycles:#?}"
    );
    // The bottom of the graph is where the shared types live.
    for bottom in ["error", "scope", "clock"] {
        let up: Vec<_> = edges[bottom]
            .iter()
            .filter(|m| !["error", "rules", "clock", "scope", "values"].contains(&m.as_str()))
            .collect();
        assert!(up.is_empty(), "{bottom} imports from {up:?}");
    }
}

fn reaches(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    target: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    if from == target {
        return true;
    }
    if !seen.insert(from.to_owned()) {
        return false;
    }
    edges
        .get(from)
        .is_some_and(|next| next.iter().any(|n| reaches(edges, n, target, seen)))
}

#[test]
fn no_file_passes_five_hundred_lines() {
    let long: Vec<_> = sources()
        .into_iter()
        .map(|(path, text, _)| (path, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

#[test]
fn every_repository_function_is_named_by_the_verb_table() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, _, code) in sources() {
        let module = top_module(&path);
        let extra: &[&str] = AREA_VERBS
            .iter()
            .find(|(area, _)| *area == module)
            .map_or(&[], |(_, verbs)| verbs);
        for (at, _) in code.match_indices("pub async fn ") {
            let signature = &code[at..];
            let signature = &signature[..signature.find('{').unwrap_or(signature.len())];
            if !signature.contains("db: &") {
                continue;
            }
            checked += 1;
            let name = words_after(signature, "pub async fn ")
                .next()
                .unwrap_or_default();
            let verb = name.split('_').next().unwrap_or_default();
            if !VERBS.contains(&verb) && !extra.contains(&verb) {
                wrong.push(format!("{}: {name}", path.display()));
            }
            if verb == "soft" && !name.starts_with("soft_delete") {
                wrong.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} repository functions found");
    assert!(wrong.is_empty(), "names outside the verb table: {wrong:#?}");
}

#[test]
fn every_repository_function_is_a_tracing_span() {
    let mut bare = Vec::new();
    for (path, _, code) in sources() {
        for (at, _) in code.match_indices("pub async fn ") {
            let signature = &code[at..];
            let signature = &signature[..signature.find('{').unwrap_or(signature.len())];
            if !signature.contains("db: &") {
                continue;
            }
            // The attributes stand right above the function (its doc comment is blanked).
            let above: Vec<&str> = code[..at]
                .lines()
                .rev()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .take_while(|l| {
                    l.starts_with("#[")
                        || l.ends_with(")]")
                        || l.ends_with(',')
                        || l.starts_with('%')
                        || l.starts_with("fields(")
                })
                .collect();
            if !above.iter().any(|l| l.contains("tracing::instrument(")) {
                let name = words_after(signature, "pub async fn ")
                    .next()
                    .unwrap_or_default();
                bare.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "repository functions without a span: {bare:#?}"
    );
}

/// Every column of every table, by table name, from the generated entities.
fn columns() -> BTreeMap<&'static str, BTreeSet<String>> {
    fn names<C: Iterable + Iden>() -> BTreeSet<String> {
        C::iter().map(|c| c.to_string()).collect()
    }
    BTreeMap::from([
        ("users", names::<entity::users::Column>()),
        ("accounts", names::<entity::accounts::Column>()),
        ("sessions", names::<entity::sessions::Column>()),
        (
            "verification_tokens",
            names::<entity::verification_tokens::Column>(),
        ),
        (
            "supplier_accounts",
            names::<entity::supplier_accounts::Column>(),
        ),
        ("stores", names::<entity::stores::Column>()),
        ("products", names::<entity::products::Column>()),
        (
            "product_variants",
            names::<entity::product_variants::Column>(),
        ),
        ("product_images", names::<entity::product_images::Column>()),
        ("pages", names::<entity::pages::Column>()),
        ("media_assets", names::<entity::media_assets::Column>()),
        ("agent_jobs", names::<entity::agent_jobs::Column>()),
        (
            "agent_job_dependencies",
            names::<entity::agent_job_dependencies::Column>(),
        ),
        (
            "agent_job_schedules",
            names::<entity::agent_job_schedules::Column>(),
        ),
        (
            "agent_job_gates",
            names::<entity::agent_job_gates::Column>(),
        ),
    ])
}

/// The string literal that starts `text` (after `"`), if it is a plain one.
fn literal(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('"')?;
    let end = rest.find('"')?;
    let value = &rest[..end];
    value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        .then_some(value)
}

#[test]
fn every_invalid_field_names_a_column_or_an_argument() {
    let columns = columns();
    // The places a field name is written: the variant's own field, and the first argument of
    // the validating constructors and helpers.
    let callers = [
        "field: ",
        "parse(",
        "required_text(",
        "optional_text(",
        "printable(",
        "json_document(",
        "bounded(",
        "ago(",
        "from_now(",
        "stock(",
        "too_much(",
        "invalid(",
    ];
    let mut wrong = BTreeSet::new();
    let mut checked = 0;
    for (path, _, code) in sources() {
        // The unit tests inside a file may use any name they like for a value.
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        for caller in callers {
            for (at, _) in code.match_indices(caller) {
                let Some(field) = literal(code[at + caller.len()..].trim_start()) else {
                    continue;
                };
                checked += 1;
                let ok = match field.split_once('.') {
                    Some((table, rest)) if columns.contains_key(table) => {
                        let column = rest.split('.').next().unwrap_or_default();
                        columns[table].contains(column)
                    }
                    // A bare table: a limit on its rows (the variants or images of a product).
                    None if columns.contains_key(field) => true,
                    _ => ARGUMENTS.contains(&field),
                };
                if !ok {
                    wrong.insert(format!("{}: {field}", path.display()));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} field names found");
    assert!(
        wrong.is_empty(),
        "fields that name neither a table.column nor an argument: {wrong:#?}"
    );
}
