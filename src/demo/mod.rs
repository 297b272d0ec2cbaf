//! Demo mode: the simulator in-process, feeding the city's sensors and cameras to the
//! broker cityops itself listens on, as `sensors-sim run` would from outside; and one
//! user per role to log in with; and the crew (`crew.rs`) that plays the center, the
//! departments and the grid workers, so the demo city's incidents go round the loop.

pub mod crew;

use crate::auth::AuthError;
use crate::auth::users::{UserError, UserSpec};
use crate::clock::Clock;
use crate::config::Config;
use crate::model::Role;
use crate::sim::{Format, Generator, RunOptions};
use crate::spatial::City;
use crate::store::SharedStore;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
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

/// Creates, if missing, one demo user per role on the city's codes, with random
/// passwords, and returns the ones it created with their passwords (to print once):
/// `duty` (duty officer), `dispatcher`, `district-d0` (dispatcher of the first district),
/// `water` (department `water-city`), `grid` (grid worker on three grids of the first
/// district), `wall`, `engineer`, `admin`. Only `serve --demo` calls it.
pub async fn ensure_users(
    store: &SharedStore,
    city: &City,
    clock: &dyn Clock,
) -> Result<Vec<(String, String)>, UserError> {
    let mut created = Vec::new();
    for spec in demo_user_specs(city) {
        if let Some(password) = ensure_user(store, city, clock, &spec).await? {
            created.push((spec.name.clone(), password));
        }
    }
    Ok(created)
}

/// Creates `spec`'s user with a random password unless it exists; returns the password
/// if it created it.
async fn ensure_user(
    store: &SharedStore,
    city: &City,
    clock: &dyn Clock,
    spec: &UserSpec,
) -> Result<Option<String>, UserError> {
    if store.user(&spec.name).await?.is_some() {
        return Ok(None);
    }
    let password = random_password()?;
    match crate::auth::users::add(store, city, clock, spec, &password).await {
        Ok(_) => Ok(Some(password)),
        // Another node of a shared database made it first.
        Err(UserError::Exists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A code as a user-name part: `D-0` → `d0`, `water-city` → `watercity`.
fn short(code: &str) -> String {
    code.to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn demo_user_specs(city: &City) -> Vec<UserSpec> {
    let user = |name: &str, role: Role, display: &str| UserSpec {
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        display_name: Some(display.to_owned()),
        ..UserSpec::default()
    };
    let mut specs = vec![
        user("duty", Role::DutyOfficer, "值班员 Duty officer"),
        user("dispatcher", Role::Dispatcher, "派遣员 Dispatcher"),
        UserSpec {
            department: Some("water-city".into()),
            ..user("water", Role::Department, "市水务局 City Water Affairs")
        },
        user("wall", Role::Wall, "大屏 Video wall"),
        user("engineer", Role::Engineer, "规则工程师 Rules engineer"),
        user("admin", Role::Admin, "管理员 Administrator"),
    ];
    if let Some(district) = city.districts().first() {
        let code = &district.code;
        let short = short(code);
        specs.push(UserSpec {
            district: Some(code.clone()),
            ..user(
                &format!("district-{short}"),
                Role::Dispatcher,
                &format!("{} 派遣员 Dispatcher", district.name),
            )
        });
        let grids: Vec<String> = city
            .grids()
            .iter()
            .filter(|g| g.district.as_ref() == Some(code))
            .take(3)
            .map(|g| g.code.clone())
            .collect();
        if !grids.is_empty() {
            specs.push(UserSpec {
                grids,
                ..user("grid", Role::GridWorker, "网格员 Grid worker")
            });
        }
    }
    specs
}

/// 12 bytes from the OS random generator, base64url: 16 characters.
fn random_password() -> Result<String, UserError> {
    let mut bytes = [0u8; 12];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("OS random generator: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[tokio::test]
    async fn one_user_per_role_once() {
        let city = City::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("city/demo"))
            .unwrap();
        let store: SharedStore = Arc::new(
            crate::store::SqliteStore::open("sqlite::memory:", 10)
                .await
                .unwrap(),
        );
        let created = ensure_users(&store, &city, &SystemClock).await.unwrap();
        let names: Vec<&str> = created.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "duty",
                "dispatcher",
                "water",
                "wall",
                "engineer",
                "admin",
                "district-d0",
                "grid"
            ]
        );
        assert!(created.iter().all(|(_, p)| p.len() == 16));
        let grid = store.user("grid").await.unwrap().unwrap();
        assert_eq!(grid.grids.len(), 3);
        assert!(grid.grids.iter().all(|g| g.starts_with("G-")));
        assert_eq!(
            store
                .user("district-d0")
                .await
                .unwrap()
                .unwrap()
                .district
                .as_deref(),
            Some("D-0")
        );
        // A second start creates nothing and prints nothing.
        assert!(
            ensure_users(&store, &city, &SystemClock)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
