//! The process's one metrics recorder, behind `/metrics`.

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// How often histogram samples are drained into their summaries.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) fn handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let h = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    // The recorder keeps every histogram sample until upkeep drains it into its summary;
    // rendering `/metrics` drains too, so without a scraper the samples piled up for as
    // long as the process ran (about 1 MB a minute at 10 000 readings/s). A thread of
    // its own, not a task, so no runtime's end can stop it.
    let upkeep = h.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                upkeep.run_upkeep();
            }
        })
        .context("starting the metrics upkeep thread")?;
    Ok(HANDLE.get_or_init(|| h).clone())
}
