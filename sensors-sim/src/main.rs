//! `sensors-sim`: the city simulator for cityops.
//!
//! - `city` generates a synthetic city in the format of `docs/city-format.md`;
//! - `run` publishes its sensors' readings and its cameras' video-AI alerts over MQTT;
//! - `load` measures cityops end to end: readings/s stored, messages lost, and the
//!   latency from publishing a reading to seeing it on `/ws`.

mod load;

use anyhow::Context;
use cityops::sim::{Format, Generator, RunOptions};
use cityops::spatial::City;
use cityops::spatial::testcity::{self, TestCityParams};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(version, about = "City simulator for cityops", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic city (districts, streets, grids, sensors, cameras) as GeoJSON.
    ///
    /// The same seed always gives the same files. `city/demo` is `--seed 7`.
    City {
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Directory to write the files into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Sensors to place.
        #[arg(long, default_value_t = 3000)]
        sensors: usize,
        /// Cameras to place.
        #[arg(long, default_value_t = 300)]
        cameras: usize,
    },
    /// Publish readings of every sensor of a city, and video-AI alerts, over MQTT (QoS 1).
    ///
    /// Values follow each kind's daily or slow cycle with noise; now and then a sensor
    /// goes anomalous for a few readings (water over the road, gas, an open manhole...).
    Run {
        #[arg(long, default_value = "city/demo")]
        city: PathBuf,
        /// Broker address, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:1883")]
        mqtt: String,
        /// Readings per second, all sensors together.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        #[arg(long, default_value_t = 6.0)]
        alerts_per_min: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Format::Mixed)]
        format: Format,
        /// Readings per SenML pack (on `city/packs/{pack}`); 1 = one message per sensor.
        #[arg(long, default_value_t = 1)]
        pack: usize,
        /// Chance per reading that its sensor starts an anomaly.
        #[arg(long, default_value_t = 0.0005)]
        anomaly_rate: f64,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Measure a running cityops end to end (see `docs/performance.md`).
    Load(load::LoadArgs),
}

fn parse_addr(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--mqtt {s:?}: expected HOST:PORT"))?;
    let port = port
        .parse()
        .with_context(|| format!("--mqtt {s:?}: bad port"))?;
    Ok((host.to_owned(), port))
}

fn positive(name: &str, v: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        v.is_finite() && v >= 0.0,
        "{name} must be a finite number >= 0, got {v}"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::City {
            seed,
            out,
            sensors,
            cameras,
        } => {
            let params = TestCityParams {
                seed,
                sensors,
                cameras,
                name: "Ya'an demo city (synthetic)".into(),
                ..Default::default()
            };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            testcity::generate(&params)
                .write(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            let city = City::load(&out).context("the generated city does not load")?;
            let n = city.counts();
            println!(
                "wrote {}: {} districts, {} streets, {} grids, {} sensors, {} cameras",
                out.display(),
                n.districts,
                n.streets,
                n.grids,
                n.sensors,
                n.cameras
            );
        }
        Command::Run {
            city,
            mqtt,
            rate,
            alerts_per_min,
            seed,
            format,
            pack,
            anomaly_rate,
            duration,
        } => {
            positive("--rate", rate)?;
            positive("--alerts-per-min", alerts_per_min)?;
            anyhow::ensure!(
                (0.0..=1.0).contains(&anomaly_rate),
                "--anomaly-rate must be in [0, 1]"
            );
            let (host, port) = parse_addr(&mqtt)?;
            let city = City::load(&city).with_context(|| format!("loading {}", city.display()))?;
            let opts = RunOptions {
                host,
                port,
                client_id: format!("sensors-sim-{}", std::process::id()),
                rate,
                alerts_per_min,
                format,
                pack,
                duration: duration.map(Duration::from_secs_f64),
            };
            let cancel = CancellationToken::new();
            tokio::spawn({
                let cancel = cancel.clone();
                async move {
                    let _ = tokio::signal::ctrl_c().await;
                    cancel.cancel();
                }
            });
            let stats =
                cityops::sim::run(Generator::new(&city, seed, anomaly_rate), opts, cancel).await?;
            println!(
                "published {} messages ({} readings, {} alerts); {} acknowledged",
                stats.messages, stats.readings, stats.alerts, stats.acked
            );
        }
        Command::Load(args) => load::run(args).await?,
    }
    Ok(())
}
