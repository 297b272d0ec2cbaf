//! `migrate`: creates or upgrades the database schema, then exits.

use super::load_config;
use anyhow::Context;
use std::path::PathBuf;

pub async fn migrate(path: Option<&PathBuf>, data: PathBuf) -> anyhow::Result<()> {
    let config = load_config(path)?;
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let store =
        cityops::store::open(&config.database_url(&data), config.ingest.dead_letter_limit).await?;
    println!("database schema is up to date ({})", store.backend());
    Ok(())
}
