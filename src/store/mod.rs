//! The storage seam: a `Store` trait per concern (readings and the registry, incidents and
//! their events, rule state, users and sessions, reports and attachments, evaluation),
//! with a SQLite and a PostgreSQL implementation.
//!
//! Writes are idempotent so that MQTT redelivery (normal under QoS 1) never doubles a
//! reading: readings are unique by (sensor, metric, time), video alerts by source id.
//! Every change of an incident except added evidence appends to its event log in the same
//! transaction; what each change does is decided once, in `transitions.rs`, for both
//! backends. Both backends pass the same contract suite (`tests/store_contract.rs`).
//!
//! # Shared SQL
//! What both backends say the same way is written once, in `store/common/`, and each
//! backend compiles it against its own types: `include!`d into a module of the backend,
//! where `Db` names the sqlx database, `This` the store, `greatest!` and the like the few
//! words the dialects spell differently, and the backend's `types.rs` how ids and times are
//! held (microseconds and text on SQLite, `timestamptz` and `uuid` on PostgreSQL). SQL
//! placeholders are `$1`, `$2`, … in both. What truly differs (bulk writes, the rules step,
//! evaluation) stays in the backend's own files.
//!
//! An incident is *open* until it reaches a final status (`IncidentStatus::is_final`:
//! closed, rejected or merged); then nothing changes it any more and its dedup key is free.

/// SQL that holds for an incident that is not final, for splicing into `concat!`ed
/// queries. The partial unique index on `dedup_key` has this predicate word for word
/// (migrations `sqlite/0003`, `postgres/0006`), and the `ON CONFLICT` that relies on it
/// repeats it, so change them together.
macro_rules! not_final {
    () => {
        "status NOT IN ('closed', 'rejected', 'merged')"
    };
}

/// The incident columns in the order every incident query selects them (read by each
/// backend's `incidents::incident`), as a macro so queries stay `&'static str`.
macro_rules! incident_columns {
    () => {
        "id, dedup_key, category, severity, status, title, source, lon, lat, grid, street, \
         district, opened_at, last_seen, count, peak, cleared_at, closed_at, version, rule, \
         description, department, due_at, supervision, merged_into, suspended_from, \
         extension_requested"
    };
}

/// The modules of `store/common`, compiled into the backend that invokes it (see "Shared
/// SQL" above).
macro_rules! shared_sql {
    () => {
        mod evaluation_rows {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/evaluation.rs"
            ));
        }
        mod incidents {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/incidents.rs"
            ));
        }
        mod indicators {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/indicators.rs"
            ));
        }
        mod readings {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/readings.rs"
            ));
        }
        mod reports {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/reports.rs"
            ));
        }
        mod store {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/store.rs"
            ));
        }
        mod users {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/store/common/users.rs"
            ));
        }
    };
}

mod batch;
#[macro_use]
mod evaluation;
mod incidents;
mod indicators;
mod migrate;
mod postgres;
mod readings;
mod reports;
mod rule_write;
mod sqlite;
mod transitions;
mod users;

pub use evaluation::{EvaluationGroup, EvaluationRow, EvaluationScope, EvaluationStore};
pub use incidents::{IncidentFilter, IncidentStore, NewIncident, RuleStateStore};
pub use indicators::{IncidentTally, IndicatorSample, IndicatorStore};
pub use postgres::PgStore;
pub use readings::{BatchOutcome, IngestBatch, LatestValue, ReadingStore, SensorState};
pub use reports::{ATTACHED, Attachment, AttachmentId, ReportRecord, ReportStore, ReporterContact};
pub use rule_write::{RuleChange, RuleOutcome, RuleWrite};
pub use sqlite::SqliteStore;
pub use users::{NewSession, NewUser, Session, User, UserStore, parse_role};

use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; retrying may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed; the schema is not what this build expects.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A value read back could not be turned into a domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A value given to the store that it cannot represent (e.g. a timestamp outside the
    /// database's range); retrying the same call will fail the same way.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The row a call names (e.g. an incident id) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change is not allowed in the row's current state (e.g. the incident is final,
    /// or no longer at the version the change was decided for).
    #[error("conflict: {0}")]
    Conflict(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // A row that does not decode into the expected type is bad data, not an outage:
            // retrying would fail the same way.
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
            // A value the database cannot hold (e.g. a time outside its range).
            sqlx::Error::Encode(_) => StoreError::Invalid(e.to_string()),
            sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The whole store, one trait per concern. Callers hold a [`SharedStore`] and bring the
/// concern's trait into scope (`use crate::store::IncidentStore`).
#[async_trait]
pub trait Store:
    ReadingStore
    + IncidentStore
    + RuleStateStore
    + UserStore
    + ReportStore
    + EvaluationStore
    + IndicatorStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Round-trips to the database. Used by `/readyz` and the ingest retry loop.
    async fn ping(&self) -> StoreResult<()>;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the store a database URL names (`sqlite://...` or `postgres://...`) and
/// brings its schema up to date.
pub async fn open(url: &str, dead_letter_limit: u32) -> StoreResult<SharedStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, dead_letter_limit).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url, dead_letter_limit).await?))
    } else {
        Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme in {url:?}: expected sqlite: or postgres:"
        )))
    }
}
