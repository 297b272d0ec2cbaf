//! Demo mode: the simulator in-process, feeding the city's sensors and cameras to the
//! broker cityops itself listens on, as `sensors-sim run` would from outside.

use crate::config::Config;
use crate::sim::{Format, Generator, RunOptions};
use crate::spatial::City;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Publishes `[demo]` readings and alerts to `host:port` until `stop` fires.
pub fn spawn_simulator(
    config: &Config,
    city: Arc<City>,
    host: &str,
    port: u16,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let demo = &config.demo;
    let generator = Generator::new(&city, demo.seed, demo.anomaly_rate);
    let opts = RunOptions {
        host: host.to_owned(),
        port,
        client_id: format!("cityops-demo-sim-{}", std::process::id()),
        rate: demo.rate,
        alerts_per_min: demo.alerts_per_min,
        format: Format::Mixed,
        pack: 1,
        duration: None,
    };
    tracing::info!(
        rate = demo.rate,
        alerts_per_min = demo.alerts_per_min,
        "demo simulator started"
    );
    tokio::spawn(async move {
        match crate::sim::run(generator, opts, stop).await {
            Ok(stats) => tracing::info!(?stats, "demo simulator stopped"),
            Err(e) => tracing::error!(error = %e, "demo simulator failed"),
        }
    })
}
