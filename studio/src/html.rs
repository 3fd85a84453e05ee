//! The page frame and small rendering helpers shared by every page.

use axum::http::StatusCode;
use axum::response::Html;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::Studio;

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#16161d;color:#eee;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#9fe8ff;text-decoration:none}header .mode{margin-left:auto;font-weight:600}
.ro{color:#8fdc8f}.rw{color:#ffb347}
main{padding:1em 1.2em;max-width:1400px}
table{border-collapse:collapse;margin:.4em 0 1.2em;background:#fff}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top;max-width:28em;overflow-wrap:anywhere}
th{background:#f0f0f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.secret{color:#777;font-style:italic}.null{color:#aaa}
.swatch{display:inline-block;width:4em;height:2.2em;border:1px solid #999;border-radius:4px;vertical-align:middle;margin-right:.4em}
form.inline{display:inline;margin:0 .3em 0 0}
.badge{padding:0 .4em;border-radius:3px;background:#eee;font-size:12px}
.deleted{background:#fdd}
nav.pager a{margin-right:1em}
"#;

/// The frame of every page: title, navigation, and the mode the studio runs in.
pub(crate) fn page(studio: &Studio, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { (title) " · Zyenta studio" }
                    style { (PreEscaped(STYLE)) }
                }
                body {
                    header {
                        strong { "Zyenta studio" }
                        a href="/" { "Overview" }
                        a href="/t/users" { "Users" }
                        a href="/t/stores" { "Stores" }
                        a href="/jobs" { "Job queue" }
                        @if studio.writes() {
                            span.mode.rw { "write mode: domain actions allowed" }
                        } @else {
                            span.mode.ro { "read-only" }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The error page: status and a message that never carries stored values.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (status.as_u16()) " · Zyenta studio" } }
                body {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p #error { (message) }
                    p { a href="/" { "Back to the overview" } }
                }
            }
        }
        .into_string(),
    )
}

/// A form that posts one domain action, with the CSRF token; rendered only in write mode.
pub(crate) fn action(studio: &Studio, path: &str, label: &str, fields: Markup) -> Markup {
    if !studio.writes() {
        return html! {};
    }
    html! {
        form.inline method="post" action=(path) {
            input type="hidden" name="csrf" value=(studio.csrf_token());
            (fields)
            button type="submit" { (label) }
        }
    }
}

/// An optional value, or a grey dash.
pub(crate) fn opt<T: std::fmt::Display>(value: Option<T>) -> Markup {
    match value {
        Some(v) => html! { (v.to_string()) },
        None => html! { span.null { "—" } },
    }
}

/// Whether `value` is a CSS hex colour (`#rgb`, `#rrggbb`, `#rrggbbaa`), safe in a style.
pub(crate) fn is_hex_color(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|hex| {
        matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// A byte count for people: 1536 → "1.5 KiB (1536 bytes)".
pub(crate) fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    #[expect(clippy::cast_precision_loss, reason = "a rounded figure for display")]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {} ({n} bytes)", UNITS[unit])
    }
}
