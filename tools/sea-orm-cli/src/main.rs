//! The `sea-orm-cli` binary, built from the workspace's dependency tree.
//!
//! It runs the very same `main` as `cargo install sea-orm-cli`, pinned to the workspace's
//! version, so `generate entity` writes byte-identical files without a separate hour-long build.

#[tokio::main]
async fn main() {
    sea_orm_cli::main().await;
}
