//! How many rows each table holds: the operator's first look at a database.

use entity::prelude::*;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

use crate::error::{Result, Table};

/// Rows per table, every table of the schema in its order ([`Table::ALL`]).
///
/// # Errors
/// [`crate::Error::Database`] when a count fails.
#[tracing::instrument(skip_all, err)]
pub async fn count_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<(Table, u64)>> {
    let mut counts = Vec::with_capacity(Table::ALL.len());
    for table in Table::ALL {
        let rows = match table {
            Table::Users => Users::find().count(db).await?,
            Table::Accounts => Accounts::find().count(db).await?,
            Table::Sessions => Sessions::find().count(db).await?,
            Table::VerificationTokens => VerificationTokens::find().count(db).await?,
            Table::SupplierAccounts => SupplierAccounts::find().count(db).await?,
            Table::Stores => Stores::find().count(db).await?,
            Table::Products => Products::find().count(db).await?,
            Table::ProductVariants => ProductVariants::find().count(db).await?,
            Table::ProductImages => ProductImages::find().count(db).await?,
            Table::Pages => Pages::find().count(db).await?,
            Table::MediaAssets => MediaAssets::find().count(db).await?,
            Table::AgentJobs => AgentJobs::find().count(db).await?,
        };
        counts.push((table, rows));
    }
    Ok(counts)
}
