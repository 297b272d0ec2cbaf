//! `check-config`: everything `serve` checks before it starts, with the same loaders,
//! then the effective configuration printed with its passwords redacted.

use super::load_config;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `check-config`: the checks `serve` makes before it starts, with the same loaders.
pub async fn check_config(path: Option<&PathBuf>, data: &Path) -> anyhow::Result<()> {
    let mut config = load_config(path)?;
    let city = Arc::new(
        cityops::spatial::City::load(&config.city.dir)
            .with_context(|| format!("loading the city from {}", config.city.dir.display()))?,
    );
    let mut problems: Vec<String> = Vec::new();
    let rules = match cityops::rules::load_dir(&config.rules.dir, Some(&city)) {
        Ok(set) => set.rules.len(),
        Err(errors) => {
            problems.push(format!(
                "rules in {}: {} error(s):\n{errors}",
                config.rules.dir.display(),
                errors.0.len()
            ));
            0
        }
    };
    if let Err(e) = cityops::incidents::desk::Desk::load(&config.rules.dir, &city, 0) {
        problems.push(format!(
            "loading the category catalog, routing and calendar: {e:#}"
        ));
    }
    if let Some(path) = &config.mqtt.device_passwords
        && let Err(e) = cityops::endpoint::DevicePasswords::load(path)
    {
        problems.push(format!("{e:#}"));
    }
    let db_url = config.database_url(data);
    let database = match check_database(&db_url).await {
        Ok(what) => what,
        Err(e) => {
            problems.push(format!("database: {e:#}"));
            String::new()
        }
    };
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    if config.mqtt.password.is_some() {
        config.mqtt.password = Some("********".into());
    }
    config.database.url = redact_password(&config.database.url);
    print!("{}", toml::to_string_pretty(&config)?);
    let n = city.counts();
    println!(
        "# ok: city {:?}: {} districts, {} streets, {} grids, {} sensors, {} cameras; {} rules; database {}",
        city.name(),
        n.districts,
        n.streets,
        n.grids,
        n.sensors,
        n.cameras,
        rules,
        database
    );
    Ok(())
}

/// How long `check-config` waits for the database.
const DB_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects to the database once, as `serve` would, and says what answered. A SQLite file
/// that does not exist yet is fine: `serve` creates it.
async fn check_database(url: &str) -> anyhow::Result<String> {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let in_time = |what: &'static str| {
        move |_| {
            anyhow::anyhow!(
                "{what} did not answer within {} s",
                DB_CHECK_TIMEOUT.as_secs()
            )
        }
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !Path::new(path).exists() {
            return Ok(format!("sqlite {path} (serve creates it)"));
        }
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
        tokio::time::timeout(DB_CHECK_TIMEOUT, opts.connect())
            .await
            .map_err(in_time("SQLite"))?
            .with_context(|| format!("cannot open {path}"))?;
        return Ok(format!("sqlite {path}"));
    }
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)
        .context("the PostgreSQL URL cannot be read")?;
    let target = format!(
        "postgres {}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default()
    );
    tokio::time::timeout(DB_CHECK_TIMEOUT, opts.connect())
        .await
        .map_err(in_time("PostgreSQL"))?
        .with_context(|| format!("cannot connect to {target}"))?;
    Ok(target)
}

/// The URL with its password replaced, for printing.
fn redact_password(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => match rest.split_once('@') {
            Some((cred, host)) => match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
