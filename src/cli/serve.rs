//! `serve`: starts the system with the command line's overrides, prints where it listens,
//! and runs until SIGINT or SIGTERM.

use super::load_config;
use cityops::clock::SystemClock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub async fn serve(
    path: Option<&PathBuf>,
    http: Option<SocketAddr>,
    mqtt: Option<SocketAddr>,
    data: PathBuf,
    demo: bool,
) -> anyhow::Result<()> {
    let mut config = load_config(path)?;
    if let Some(a) = http {
        config.http.listen = a;
    }
    if let Some(a) = mqtt {
        config.mqtt.embedded_listen = a;
    }
    if demo {
        config.demo.simulate = true;
    }
    let running = cityops::server::start(cityops::server::ServeOptions {
        config,
        data_dir: data,
        clock: Arc::new(SystemClock),
    })
    .await?;
    let mqtt = running
        .mqtt_addr
        .map_or("external".to_owned(), |a| a.to_string());
    println!("cityops listening http={} mqtt={}", running.http_addr, mqtt);
    if !running.demo_users.is_empty() {
        println!("  demo users created (shown only now; `cityops user passwd` changes them):");
        for (name, password) in &running.demo_users {
            println!("    {name:<12} {password}");
        }
    }
    println!(
        "  live page:  http://{0}/\n  API:        http://{0}/api/v1/sensors\n  live feed:  ws://{0}/ws\n  metrics:    http://{0}/metrics",
        running.http_addr
    );
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        shutdown.cancel();
    });
    running.wait().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
