//! `rules check` and `rules test`: the rule files checked against the city, and their
//! tests run with a readable diff per failure.

use super::load_config;
use crate::RulesCommand;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

pub fn rules(config: Option<&PathBuf>, cmd: RulesCommand) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let (dir, test) = match cmd {
        RulesCommand::Check { dir } => (dir, false),
        RulesCommand::Test { dir } => (dir, true),
    };
    let dir = dir.unwrap_or(config.rules.dir.clone());
    let city = Arc::new(
        cityops::spatial::City::load(&config.city.dir)
            .with_context(|| format!("loading the city from {}", config.city.dir.display()))?,
    );
    let set = match cityops::rules::load_dir(&dir, Some(&city)) {
        Ok(set) => Arc::new(set),
        Err(errors) => {
            eprintln!("{errors}");
            anyhow::bail!("{} error(s) in {}", errors.0.len(), dir.display());
        }
    };
    if !test {
        println!(
            "ok: {} rules in {} files under {}; {} indicators in {} sectors",
            set.rules.len(),
            set.files.len(),
            dir.display(),
            set.indicators.indicators.len(),
            set.indicators.sectors.len()
        );
        return Ok(());
    }
    let results =
        cityops::rules::testing::run_dir(&dir, &set, &city).map_err(anyhow::Error::msg)?;
    let mut failed = 0;
    for r in &results {
        if r.failures.is_empty() {
            println!("ok      {}: {}", r.file.display(), r.name);
        } else {
            failed += 1;
            println!("FAILED  {}: {}", r.file.display(), r.name);
            for f in &r.failures {
                println!("  {}", f.replace('\n', "\n  "));
            }
        }
    }
    let untested = cityops::rules::testing::untested(&dir, &set);
    for name in &untested {
        println!("UNTESTED rule {name:?}: no test names it");
    }
    println!("{} passed, {} failed", results.len() - failed, failed);
    if failed > 0 || !untested.is_empty() {
        anyhow::bail!("rule tests failed");
    }
    Ok(())
}
