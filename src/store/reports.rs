//! People's reports and the files attached to incidents (`incidents::reports`).

use super::StoreResult;
use crate::model::{IncidentEvent, IncidentId, IncidentStatus, Timestamp};
use async_trait::async_trait;
use serde::Serialize;

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

/// Reports and attachments.
#[async_trait]
pub trait ReportStore: Send + Sync {
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
