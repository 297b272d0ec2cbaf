//! The embedded migrations of both backends.
//!
//! Built by hand from `include_str!` because `sqlx::migrate!` needs sqlx's `macros`
//! feature. Versions and descriptions follow the file names, as `sqlx migrate` would read
//! them, so the same folders also work with sqlx-cli.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

macro_rules! migration {
    ($version:literal, $desc:literal, $file:literal) => {
        Migration::new(
            $version,
            $desc.into(),
            MigrationType::Simple,
            include_str!($file).into_sql_str(),
            false,
        )
    };
}

pub(crate) fn sqlite() -> Migrator {
    Migrator::with_migrations(vec![
        migration!(1, "init", "../../migrations/sqlite/0001_init.sql"),
        migration!(
            2,
            "incident rules",
            "../../migrations/sqlite/0002_incident_rules.sql"
        ),
        migration!(
            3,
            "incident handling",
            "../../migrations/sqlite/0003_incident_handling.sql"
        ),
        migration!(4, "users", "../../migrations/sqlite/0004_users.sql"),
        migration!(5, "reports", "../../migrations/sqlite/0005_reports.sql"),
        migration!(
            6,
            "indicators",
            "../../migrations/sqlite/0006_indicators.sql"
        ),
    ])
}

pub(crate) fn postgres() -> Migrator {
    Migrator::with_migrations(vec![
        migration!(1, "init", "../../migrations/postgres/0001_init.sql"),
        migration!(
            2,
            "readings partitioned",
            "../../migrations/postgres/0002_readings_partitioned.sql"
        ),
        migration!(
            3,
            "readings timescale",
            "../../migrations/postgres/0003_readings_timescale.sql"
        ),
        migration!(4, "readings", "../../migrations/postgres/0004_readings.sql"),
        migration!(
            5,
            "incident rules",
            "../../migrations/postgres/0005_incident_rules.sql"
        ),
        migration!(
            6,
            "incident handling",
            "../../migrations/postgres/0006_incident_handling.sql"
        ),
        migration!(7, "users", "../../migrations/postgres/0007_users.sql"),
        migration!(8, "reports", "../../migrations/postgres/0008_reports.sql"),
        migration!(
            9,
            "indicators",
            "../../migrations/postgres/0009_indicators.sql"
        ),
    ])
}
