//! What the database holds, table by table.

use entity::prelude::*;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

/// Rows per table, in the order of the schema.
///
/// # Errors
/// [`domain::Error::Database`] when a count fails.
pub async fn counts<C: ConnectionTrait>(db: &C) -> domain::Result<Vec<(&'static str, u64)>> {
    Ok(vec![
        ("users", Users::find().count(db).await?),
        ("accounts", Accounts::find().count(db).await?),
        ("sessions", Sessions::find().count(db).await?),
        (
            "verification_tokens",
            VerificationTokens::find().count(db).await?,
        ),
        (
            "supplier_accounts",
            SupplierAccounts::find().count(db).await?,
        ),
        ("stores", Stores::find().count(db).await?),
        ("products", Products::find().count(db).await?),
        ("product_variants", ProductVariants::find().count(db).await?),
        ("product_images", ProductImages::find().count(db).await?),
        ("pages", Pages::find().count(db).await?),
        ("media_assets", MediaAssets::find().count(db).await?),
        ("agent_jobs", AgentJobs::find().count(db).await?),
    ])
}

/// The counts as an aligned table.
pub fn render(counts: &[(&str, u64)]) -> String {
    let mut out = format!("{:<22}{:>10}\n", "table", "rows");
    for (table, rows) in counts {
        out.push_str(&format!("{table:<22}{rows:>10}\n"));
    }
    out
}
