//! `sea-orm-cli migrate up|down|status|fresh|refresh|reset` runs this binary
//! (`cargo run --manifest-path ./migration/Cargo.toml -- <sub>`); it reads `DATABASE_URL`
//! from the environment or a `.env` file, or `-u <url>`.

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
