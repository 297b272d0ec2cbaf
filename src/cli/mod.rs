//! The bodies of the subcommands, one file each; `main.rs` parses the command line and
//! calls them. Every subcommand reads the configuration the same way ([`load_config`]).

pub mod check_config;
pub mod migrate;
pub mod rules;
pub mod serve;
pub mod user;

use cityops::config::Config;
use std::path::PathBuf;

/// The configuration: the file (if any), then the `CITYOPS_*` environment.
pub fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(path.map(|p| p.as_path()), std::env::vars())?)
}
