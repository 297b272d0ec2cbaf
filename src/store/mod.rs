//! The storage seam: one `Store` trait with a SQLite and a PostgreSQL implementation.
//!
//! Writes are idempotent so that MQTT redelivery (normal under QoS 1) never doubles a
//! reading: readings are unique by (sensor, metric, time), video alerts by source id.
//! Every change of an incident except added evidence appends to its event log in the same
//! transaction; what each change does is decided once, in `transitions.rs`, for both
//! backends. Both backends pass the same contract suite (`tests/store_contract.rs`).
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

mod batch;
mod evaluation_types;
mod migrate;
mod postgres;
mod rule_write;
mod sqlite;
mod transitions;
mod users;

pub use evaluation_types::{EvaluationGroup, EvaluationRow, EvaluationScope};
pub use postgres::PgStore;
pub use rule_write::{RuleChange, RuleOutcome, RuleWrite};
pub use sqlite::SqliteStore;
pub use users::{NewSession, NewUser, Session, User, parse_role};

use crate::model::{
    CameraInfo, DeadLetter, Incident, IncidentEvent, IncidentId, IncidentStatus, Reading, SensorId,
    SensorInfo, Severity, Timestamp, Transition, VideoAlert,
};
use async_trait::async_trait;
use serde::Serialize;
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
            sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything one ingest batch carries. Written in one transaction.
#[derive(Debug, Default, Clone)]
pub struct IngestBatch {
    pub readings: Vec<Reading>,
    pub alerts: Vec<VideoAlert>,
    pub dead_letters: Vec<DeadLetter>,
}

impl IngestBatch {
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty() && self.alerts.is_empty() && self.dead_letters.is_empty()
    }
}

/// What a batch write did, index for index with the batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    /// `readings_new[i]` is false when `batch.readings[i]` was already stored.
    pub readings_new: Vec<bool>,
    /// `alerts_new[i]` is false when `batch.alerts[i]` was already stored.
    pub alerts_new: Vec<bool>,
}

/// A sensor with the latest value of each of its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SensorState {
    #[serde(flatten)]
    pub info: SensorInfo,
    pub latest: Vec<LatestValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LatestValue {
    pub metric: String,
    pub time: Timestamp,
    pub value: f64,
}

/// A new incident for the store to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub dedup_key: String,
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub source: Option<String>,
    pub location: crate::model::Location,
    pub opened_at: Timestamp,
    pub peak: Option<f64>,
    /// Name of the rule raising it; also names the actor of its `opened` event.
    pub rule: Option<String>,
    pub description: Option<String>,
}

/// Which incidents to list, newest first. The conditions given all hold.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only incidents that are not final (closed, rejected, merged).
    pub open_only: bool,
    pub district: Option<String>,
    /// Only incidents dispatched to this department.
    pub department: Option<String>,
    /// Only incidents in this status.
    pub status: Option<IncidentStatus>,
    /// At most this many; 0 means no limit (so `IncidentFilter::default()` lists all).
    pub limit: u32,
}

/// What a person's report carries beside its incident (`incidents::reports`): how it came
/// in, who entered it and the citizen's contact, which only the center's dispatchers and
/// duty officers may see (it is never part of the incident).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportRecord {
    /// The dedup key of its incident (`report:<uuid>`); the record is written first.
    pub dedup_key: String,
    /// `patrol`, `hotline_12345`, `snap`, `open311` or `other`.
    pub channel: String,
    /// User name of whoever entered it.
    pub reporter: String,
    pub contact: ReporterContact,
    /// The place in the reporter's words (Open311 `address_string`).
    pub address: Option<String>,
    /// Open311 `media_url`, kept as text and never fetched.
    pub media_url: Option<String>,
    pub created_at: Timestamp,
}

/// A citizen's contact details (12345 caller, Open311 reporter). Personal data: shown
/// only to dispatchers and duty officers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl ReporterContact {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.email.is_none()
    }
}

/// An attachment's id: a UUIDv7, like incident ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(transparent)]
pub struct AttachmentId(pub uuid::Uuid);

impl AttachmentId {
    pub fn new_v7() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl std::fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A file attached to an incident (a photo). The bytes live in the photo directory under
/// `file`, a name the server generated; the row says what they are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub incident: IncidentId,
    /// `photo`.
    pub kind: String,
    /// The type the bytes were recognised as (`image/jpeg`, `image/png`, `image/webp`).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// File name in the photo directory; never shown to clients.
    #[serde(skip)]
    pub file: String,
    /// Who uploaded it, as the event log names people (`user:<name>`).
    pub uploaded_by: String,
    pub at: Timestamp,
}

/// The log action of attaching a file.
pub const ATTACHED: &str = "attached";

impl Attachment {
    /// Why the store refuses to attach this to an incident in `status` that already has
    /// `count` attachments of its kind, at most `max`; `None` when it may. Both backends
    /// ask here, under their write lock.
    pub(crate) fn refusal(&self, status: IncidentStatus, count: i64, max: u32) -> Option<String> {
        if status.is_final() {
            return Some(format!(
                "incident {} is {}; nothing more can be attached",
                self.incident,
                status.as_str()
            ));
        }
        (count >= i64::from(max)).then(|| {
            format!(
                "incident {} already has {count} {} attachment(s), the most allowed",
                self.incident, self.kind
            )
        })
    }

    /// The `attached` event that records it in the incident's log.
    pub(crate) fn event(&self) -> IncidentEvent {
        IncidentEvent {
            incident: self.incident,
            at: self.at,
            actor: self.uploaded_by.clone(),
            action: ATTACHED.to_owned(),
            from: None,
            to: Some(self.id.to_string()),
            note: Some(format!(
                "{} {}, {} bytes",
                self.kind, self.content_type, self.size
            )),
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Round-trips to the database. Used by `/readyz` and the ingest retry loop.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts or updates the registry (sensors and cameras by id).
    async fn register_city(
        &self,
        sensors: &[SensorInfo],
        cameras: &[CameraInfo],
    ) -> StoreResult<()>;

    /// Writes a batch in one transaction: new readings, latest values (only moving
    /// forward in time), new alerts, dead letters (keeping at most the configured
    /// number, oldest dropped). Idempotent for readings and alerts.
    async fn write_batch(&self, batch: &IngestBatch) -> StoreResult<BatchOutcome>;

    /// Sensors with their latest values, optionally of one kind or district.
    async fn sensors(
        &self,
        kind: Option<&str>,
        district: Option<&str>,
    ) -> StoreResult<Vec<SensorState>>;

    /// A sensor's readings in `[from, to)`, oldest first, at most `limit`.
    async fn readings(
        &self,
        sensor: &SensorId,
        metric: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Reading>>;

    /// Total readings stored (for tests and the load command).
    async fn count_readings(&self) -> StoreResult<u64>;

    /// Video alerts, newest first.
    async fn video_alerts(&self, limit: u32) -> StoreResult<Vec<VideoAlert>>;

    /// Dead letters, newest first.
    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>>;

    /// Opens an incident unless one that is not final exists for its dedup key, which
    /// is then returned unchanged with `false`. The unique index decides races, not a
    /// check in memory. A created incident gets an `opened` event (to = its severity, actor
    /// `rule:<rule>`, or `system` without a rule) in the same transaction.
    async fn open_incident(&self, new: &NewIncident) -> StoreResult<(Incident, bool)>;

    /// Writes one step of the rules ([`RuleWrite`]) in one transaction with a constant
    /// number of statements, whatever the number of keys: the open incidents of its keys
    /// are read under the write lock, every change is worked out in memory
    /// (`rule_write::plan`), and the new incidents, changed incidents, their events and
    /// the rule state are written set-based. Returns the incidents that changed (the
    /// newest state of each, by id) and which of them it opened. Evidence neither bumps the version nor writes an event;
    /// every other change does both. A change for a key with no open incident changes
    /// nothing.
    async fn write_rules(&self, step: &RuleWrite) -> StoreResult<RuleOutcome>;

    /// One change through [`Store::write_rules`]: the incident with this key as it stands
    /// afterwards (changed or not), `None` if no incident that is not final has the key
    /// (or, after an auto-close, the closed one).
    async fn write_rule_change(&self, change: RuleChange) -> StoreResult<Option<Incident>> {
        let key = change.key().to_owned();
        let changed = self
            .write_rules(&RuleWrite {
                changes: vec![change],
                ..Default::default()
            })
            .await?
            .changed;
        if let Some(i) = changed.into_iter().next() {
            return Ok(Some(i));
        }
        self.open_incident_by_key(&key).await
    }

    /// The incident with this dedup key that is not final, if any.
    async fn open_incident_by_key(&self, key: &str) -> StoreResult<Option<Incident>>;

    /// Records that the condition of the open incident with this key cleared at `at`
    /// (cleared_at set once, a `cleared` event by `system`), and with `close` closes it
    /// through the closed loop's `auto_close` (a `closed` event by `system` from the old
    /// status, noted "auto-closed: condition cleared"). Returns `None` if no open
    /// incident has this key.
    async fn clear_incident(
        &self,
        dedup_key: &str,
        at: Timestamp,
        close: bool,
    ) -> StoreResult<Option<Incident>> {
        if self.open_incident_by_key(dedup_key).await?.is_none() {
            return Ok(None);
        }
        self.write_rule_change(RuleChange::Clear {
            key: dedup_key.to_owned(),
            at,
            close,
        })
        .await
    }

    /// Applies a lifecycle transition decided for `expected_version`: sets status, the
    /// handling fields and closed_at from `t`, bumps version by one and appends `t.event`
    /// (with its `incident` field set to `id`), all in one transaction. `Conflict` (nothing
    /// written) if the incident's version is no longer `expected_version` or it is final;
    /// `NotFound` if there is no such incident.
    ///
    /// The store checks versions, not rules: whether the move is allowed to whom is
    /// `incidents::lifecycle`'s to decide. Other fields (severity, evidence, cleared_at)
    /// are left as they are.
    async fn transition(
        &self,
        id: IncidentId,
        expected_version: i64,
        t: &Transition,
    ) -> StoreResult<Incident>;

    /// The incident's event log, oldest first (in the order the changes were committed).
    /// Empty for an unknown id.
    async fn incident_events(&self, id: IncidentId) -> StoreResult<Vec<IncidentEvent>>;

    /// Rules-engine state that must survive a restart (pending `for:` timers, firing
    /// levels), as opaque JSON text per key. `Some(v)` upserts, `None` deletes; applied in
    /// order (a key given twice ends as its last change), in one transaction.
    async fn save_rule_state(&self, changes: &[(String, Option<String>)]) -> StoreResult<()> {
        self.write_rules(&RuleWrite {
            state: changes.to_vec(),
            ..Default::default()
        })
        .await
        .map(|_| ())
    }

    /// All saved rule state, by key.
    async fn rule_state(&self) -> StoreResult<Vec<(String, String)>>;

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;

    // ---- Users and sessions (`auth`) ----

    /// Adds a user, enabled. `Conflict` if the name is taken.
    async fn create_user(&self, user: &NewUser) -> StoreResult<()>;

    /// Replaces a user's password hash and ends all their sessions, in one transaction:
    /// whoever knew the old password is logged out. `NotFound` for an unknown name.
    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()>;

    /// Disables or re-enables a user. Disabling also ends all their sessions in the same
    /// transaction ([`Store::session`] would refuse them anyway). `NotFound` for an
    /// unknown name.
    async fn set_user_disabled(&self, name: &str, disabled: bool) -> StoreResult<()>;

    /// The user with this name, disabled or not.
    async fn user(&self, name: &str) -> StoreResult<Option<User>>;

    /// All users, by name.
    async fn users(&self) -> StoreResult<Vec<User>>;

    /// Records a session. `NotFound` if its user does not exist, `Conflict` if the token
    /// hash is already stored (a token collision: never in practice).
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;

    /// The session with this token hash and its user, if it has not expired at `now`
    /// (`expires_at > now`) and its user is enabled; otherwise `None`.
    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;

    /// Slides a session: last_seen_at = `now`, expires_at = `expires_at` (never moved
    /// back). Returns false if the session no longer exists.
    async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<bool>;

    /// Ends one session (logout). Returns false if there was none.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;

    /// Ends every session of a user; returns how many there were.
    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64>;

    /// Deletes the sessions that expired at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;

    // ---- Evaluation (综合评价, `docs/evaluation.md`) ----

    /// The evaluation figures of the period `[from, to)` per `by` group, of the incidents
    /// `scope` allows, rows ordered by group (byte-wise, the row without a group last).
    /// Incidents still open are judged as they stand now, so `to` should not lie in the
    /// future: an open incident due in the period counts as overdue.
    async fn evaluation(
        &self,
        from: Timestamp,
        to: Timestamp,
        by: EvaluationGroup,
        scope: &EvaluationScope,
    ) -> StoreResult<Vec<EvaluationRow>>;

    // ---- People's reports and attachments (`incidents::reports`) ----

    /// The report recorded under an incident's dedup key, if any.
    async fn report(&self, dedup_key: &str) -> StoreResult<Option<ReportRecord>>;

    /// Attaches a file to an incident and appends an `attached` event to its log (actor
    /// `uploaded_by`, `to` the attachment id, a note with kind, type and size), in one
    /// transaction. Like evidence, it is not an edit: the version stays. `NotFound` if
    /// the incident does not exist; `Conflict` (nothing written) if it is final, if it
    /// already has `max` attachments of this kind, or if the id is taken.
    async fn add_attachment(&self, attachment: &Attachment, max: u32) -> StoreResult<()>;

    /// An incident's attachments, oldest first.
    async fn attachments(&self, incident: IncidentId) -> StoreResult<Vec<Attachment>>;

    /// One attachment by id.
    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>>;
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
