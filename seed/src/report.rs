//! What the database holds, table by table.

use domain::prelude::ConnectionTrait;

/// Rows per table, in the order of the schema ([`domain::db::count_rows`]).
///
/// # Errors
/// [`domain::Error::Database`] when a count fails.
pub async fn counts<C: ConnectionTrait>(db: &C) -> domain::Result<Vec<(&'static str, u64)>> {
    Ok(domain::db::count_rows(db)
        .await?
        .into_iter()
        .map(|(table, rows)| (table.name(), rows))
        .collect())
}

/// The counts as an aligned table.
pub fn render(counts: &[(&str, u64)]) -> String {
    let mut out = format!("{:<22}{:>10}\n", "table", "rows");
    for (table, rows) in counts {
        out.push_str(&format!("{table:<22}{rows:>10}\n"));
    }
    out
}
