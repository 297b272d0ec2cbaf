//! The one typed configuration: embedded defaults, then a TOML file, then `CITYOPS_*`
//! environment variables, then command-line flags.
//!
//! Every key is documented in `cityops.example.toml`. Unknown keys and bad values are
//! errors naming the key. Environment variables are `CITYOPS_<SECTION>_<KEY>` (section
//! names have no underscore, so `CITYOPS_INGEST_MAX_PAYLOAD_BYTES` is
//! `ingest.max_payload_bytes`); values are read as TOML values, falling back to strings.

mod city;
mod demo;
mod http;
mod intake;
mod storage;
mod validate;

pub use city::{CityConfig, DeskConfig, IndicatorsConfig, RulesConfig};
pub use demo::DemoConfig;
pub use http::{AuthConfig, HttpConfig, LiveConfig};
pub use intake::{IngestConfig, MqttConfig};
pub use storage::{DatabaseConfig, ReportsConfig};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub mqtt: MqttConfig,
    pub database: DatabaseConfig,
    pub ingest: IngestConfig,
    pub city: CityConfig,
    pub live: LiveConfig,
    pub demo: DemoConfig,
    pub rules: RulesConfig,
    pub indicators: IndicatorsConfig,
    pub auth: AuthConfig,
    pub desk: DeskConfig,
    pub reports: ReportsConfig,
}

/// Where the broker is, decided by `mqtt.broker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerChoice {
    Embedded,
    External { host: String, port: u16 },
}

impl Config {
    /// Defaults, overlaid by the TOML file (if any), then by `env` (`CITYOPS_*` pairs).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                // Type-check the file alone first so its errors carry its line numbers.
                toml::from_str::<Config>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                table
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("CITYOPS_") else {
                continue;
            };
            let lower = rest.to_ascii_lowercase();
            let Some((section, key)) = lower.split_once('_') else {
                return Err(ConfigError::Env {
                    var,
                    message: "expected CITYOPS_<SECTION>_<KEY>".into(),
                });
            };
            let parsed = parse_env_value(&value);
            let entry = table
                .entry(section.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section_table) = entry.as_table_mut() else {
                return Err(ConfigError::Env {
                    var,
                    message: format!("[{section}] is not a section"),
                });
            };
            section_table.insert(key.to_owned(), parsed);
            // Check after each variable so the error names the variable that broke it.
            toml::Value::Table(table.clone())
                .try_into::<Config>()
                .map_err(|e| ConfigError::Env {
                    var: var.clone(),
                    message: e.to_string().trim().to_owned(),
                })?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// How many intake sessions to run (`mqtt.sessions`, or its automatic value): none on
    /// the embedded endpoint, where devices connect to cityops itself.
    pub fn intake_sessions(&self) -> u16 {
        match (self.mqtt.sessions, self.mqtt.broker.trim() == "embedded") {
            (_, true) => 0,
            (0, false) => 8,
            (n, false) => n,
        }
    }

    pub fn broker(&self) -> Result<BrokerChoice, ConfigError> {
        let b = self.mqtt.broker.trim();
        if b == "embedded" {
            return Ok(BrokerChoice::Embedded);
        }
        let err = || {
            ConfigError::Invalid(format!(
                "mqtt.broker: expected \"embedded\" or \"mqtt://host:port\", got {b:?}"
            ))
        };
        let rest = b
            .strip_prefix("mqtt://")
            .or_else(|| b.strip_prefix("tcp://"));
        let rest = rest.ok_or_else(err)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| err())?),
            None => (rest, 1883),
        };
        if host.is_empty() {
            return Err(err());
        }
        Ok(BrokerChoice::External {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
        })
    }

    /// The database URL with a relative SQLite path placed under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        let url = &self.database.url;
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.starts_with('/') && !path.starts_with(':') => {
                format!("sqlite://{}", data_dir.join(path).display())
            }
            _ => url.clone(),
        }
    }
}

/// MQTT's own ceiling: the largest remaining length a fixed header can state.
pub const MAX_MQTT_PACKET: usize = 268_435_455;

fn parse_env_value(raw: &str) -> toml::Value {
    // `key = <raw>` parses numbers, booleans, arrays and quoted strings as TOML does;
    // anything else (a bare URL, a path) is taken as a string.
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

#[cfg(test)]
mod tests;
