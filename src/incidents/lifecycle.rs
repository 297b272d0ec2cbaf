//! The closed loop (闭环处置): which commands move an incident from which states, who may
//! give them, and what each changes. One function, [`decide`], owns all of it; the
//! store applies its [`Transition`] only if the incident has not changed meanwhile
//! (optimistic versioning), so two consoles acting at once get a clear conflict.
//!
//! ```text
//! discovered ─file→ filed ─dispatch→ dispatched ─acknowledge→ acknowledged ─start→ handling
//!     │               │                 │  └─return→ returned ─dispatch→ …        │
//!     ├─reject→ rejected                └─────────────return──────┘        feedback←┘
//!     └─merge→ merged (also from filed, returned)        verify↙        ↘rework→ rework ─start→ handling
//!                                                    verified ─close→ closed
//! suspend (挂账) / resume from the working states; force_close (强制结案) from any open one;
//! request / grant / deny an extension (延期); supervise (督办) raises the escalation level.
//! ```

use crate::model::{
    Actor, Handling, Incident, IncidentEvent, IncidentId, IncidentStatus, Role, Timestamp,
    Transition,
};
use IncidentStatus as S;
use serde::Deserialize;

/// What someone asks to do with an incident. In JSON: `{"command": "dispatch",
/// "department": "water-d0"}`; unknown fields are rejected, so a body cannot smuggle in
/// `status`, `version` or a department where none belongs.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// 立案.
    File {
        note: Option<String>,
    },
    /// 不予立案.
    Reject {
        reason: String,
    },
    /// Merge this duplicate into another incident.
    Merge {
        into: IncidentId,
    },
    /// 派遣 to a department.
    Dispatch {
        department: String,
    },
    /// 签收.
    Acknowledge {},
    /// 退回: not ours.
    Return {
        reason: String,
    },
    /// Start handling on site.
    Start {},
    /// 反馈: the result.
    Feedback {
        note: String,
    },
    /// 核查: fixed.
    Verify {
        note: Option<String>,
    },
    /// 返工: not fixed.
    Rework {
        reason: String,
    },
    /// 结案.
    Close {
        note: Option<String>,
    },
    /// 强制结案.
    ForceClose {
        reason: String,
    },
    /// 挂账 / 缓办.
    Suspend {
        reason: String,
    },
    Resume {},
    /// 延期申请: a new due time.
    RequestExtension {
        until: Timestamp,
        reason: String,
    },
    GrantExtension {},
    DenyExtension {
        reason: String,
    },
    /// 督办.
    Supervise {
        note: String,
    },
    /// The system closes an incident whose rule closes on clear, from any open state.
    AutoClose {},
}

/// The note of the `closed` event of an auto-close.
pub const AUTO_CLOSE_NOTE: &str = "auto-closed: condition cleared";

impl Command {
    pub const fn name(&self) -> &'static str {
        match self {
            Command::File { .. } => "file",
            Command::Reject { .. } => "reject",
            Command::Merge { .. } => "merge",
            Command::Dispatch { .. } => "dispatch",
            Command::Acknowledge {} => "acknowledge",
            Command::Return { .. } => "return",
            Command::Start {} => "start",
            Command::Feedback { .. } => "feedback",
            Command::Verify { .. } => "verify",
            Command::Rework { .. } => "rework",
            Command::Close { .. } => "close",
            Command::ForceClose { .. } => "force_close",
            Command::Suspend { .. } => "suspend",
            Command::Resume {} => "resume",
            Command::RequestExtension { .. } => "request_extension",
            Command::GrantExtension {} => "grant_extension",
            Command::DenyExtension { .. } => "deny_extension",
            Command::Supervise { .. } => "supervise",
            Command::AutoClose {} => "auto_close",
        }
    }
}

/// Why a command was refused. The API maps `Forbidden` to 403, `NotNow` to 409 (with the
/// current incident) and `Invalid` to 422.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0}")]
    Forbidden(String),
    #[error("cannot {command} an incident that is {status}")]
    NotNow {
        command: &'static str,
        status: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Due times of the next steps, worked out by the caller from the category catalog and
/// the working calendar (the lifecycle itself knows neither).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DueTimes {
    /// When a dispatch made now must be acknowledged.
    pub acknowledge: Option<Timestamp>,
    /// When handling that starts now must be done.
    pub handle: Option<Timestamp>,
}

/// The roles of the center (they act within their jurisdiction).
const CENTER: &[Role] = &[Role::Dispatcher, Role::DutyOfficer];

fn in_jurisdiction(actor: &Actor, i: &Incident) -> bool {
    let l = &i.location;
    match actor.role {
        Role::System => true,
        Role::Department => actor.department.is_some() && actor.department == i.handling.department,
        Role::GridWorker => l.grid.as_ref().is_some_and(|g| actor.grids.contains(g)),
        _ => {
            actor
                .district
                .as_ref()
                .is_none_or(|d| l.district.as_ref() == Some(d))
                && actor
                    .street
                    .as_ref()
                    .is_none_or(|s| l.street.as_ref() == Some(s))
        }
    }
}

/// Whether `actor` may see `incident` at all (lists, the live feed).
pub fn may_see(actor: &Actor, incident: &Incident) -> bool {
    match actor.role {
        Role::Admin | Role::Engineer | Role::Wall | Role::DutyOfficer | Role::Dispatcher => {
            // Read-only roles and the center see their level of the center's area.
            actor
                .district
                .as_ref()
                .is_none_or(|d| incident.location.district.as_ref() == Some(d))
                && actor
                    .street
                    .as_ref()
                    .is_none_or(|s| incident.location.street.as_ref() == Some(s))
        }
        Role::Department | Role::GridWorker | Role::System => in_jurisdiction(actor, incident),
    }
}

fn required(text: &str, what: &str) -> Result<String, LifecycleError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(LifecycleError::Invalid(format!("{what} must not be empty")));
    }
    if t.chars().count() > 2000 {
        return Err(LifecycleError::Invalid(format!(
            "{what} is longer than 2000 characters"
        )));
    }
    Ok(t.to_string())
}

fn optional(text: &Option<String>, what: &str) -> Result<Option<String>, LifecycleError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => required(t, what).map(Some),
    }
}

/// Whether `actor` may give `command` to `incident`: the role may give it at all, and the
/// incident lies in the actor's jurisdiction. Checked before anything else about a
/// command (its version, its state, its data), so a refusal says nothing about those.
pub fn authorize(
    incident: &Incident,
    actor: &Actor,
    command: &Command,
) -> Result<(), LifecycleError> {
    use Command as C;
    let name = command.name();
    let allowed: &[Role] = match command {
        C::File { .. } | C::Dispatch { .. } => &[Role::Dispatcher, Role::DutyOfficer, Role::System],
        C::Reject { .. } | C::Merge { .. } | C::Close { .. } | C::Suspend { .. } | C::Resume {} => {
            CENTER
        }
        C::GrantExtension {} | C::DenyExtension { .. } => CENTER,
        C::Acknowledge {}
        | C::Return { .. }
        | C::Start {}
        | C::Feedback { .. }
        | C::RequestExtension { .. } => &[Role::Department],
        C::Verify { .. } | C::Rework { .. } => {
            &[Role::GridWorker, Role::Dispatcher, Role::DutyOfficer]
        }
        C::ForceClose { .. } => &[Role::DutyOfficer],
        C::Supervise { .. } => &[Role::DutyOfficer, Role::System],
        C::AutoClose {} => &[Role::System],
    };
    if !allowed.contains(&actor.role) {
        return Err(LifecycleError::Forbidden(format!(
            "a {} may not {name} an incident",
            actor.role.as_str()
        )));
    }
    if !in_jurisdiction(actor, incident) {
        return Err(LifecycleError::Forbidden(format!(
            "incident {} is outside {}'s jurisdiction",
            incident.id, actor.id
        )));
    }
    Ok(())
}

/// Whether `actor` may name `target` in a command (the incident a merge goes into): as
/// for the incident itself, it must be one they may see and act on.
pub fn may_name(actor: &Actor, target: &Incident) -> bool {
    may_see(actor, target) && in_jurisdiction(actor, target)
}

/// Decides what `command` by `actor` does to `incident` at `now`. Checks, in order: the
/// role may give this command at all and the incident lies in the actor's jurisdiction
/// ([`authorize`]), the incident's state allows it, the command's own data is valid.
pub fn decide(
    incident: &Incident,
    actor: &Actor,
    command: &Command,
    now: Timestamp,
    due: DueTimes,
) -> Result<Transition, LifecycleError> {
    use Command as C;
    let name = command.name();
    authorize(incident, actor, command)?;
    let from = incident.status;
    let not_now = || LifecycleError::NotNow {
        command: name,
        status: from.as_str(),
    };
    let from_any = |states: &[IncidentStatus]| {
        if states.contains(&from) {
            Ok(())
        } else {
            Err(not_now())
        }
    };
    let mut h: Handling = incident.handling.clone();
    let mut closed_at = incident.closed_at;
    let mut note: Option<String> = None;
    let to = match command {
        C::File { note: n } => {
            from_any(&[S::Discovered])?;
            note = optional(n, "note")?;
            S::Filed
        }
        C::Reject { reason } => {
            from_any(&[S::Discovered])?;
            note = Some(required(reason, "reason")?);
            closed_at = Some(now);
            S::Rejected
        }
        C::Merge { into } => {
            from_any(&[S::Discovered, S::Filed, S::Returned])?;
            if *into == incident.id {
                return Err(LifecycleError::Invalid(
                    "an incident cannot be merged into itself".into(),
                ));
            }
            h.merged_into = Some(*into);
            note = Some(format!("merged into {into}"));
            closed_at = Some(now);
            S::Merged
        }
        C::Dispatch { department } => {
            from_any(&[S::Filed, S::Returned])?;
            let d = required(department, "department")?;
            note = Some(format!("to {d}"));
            h.department = Some(d);
            h.due_at = due.acknowledge;
            h.extension_requested = None;
            S::Dispatched
        }
        C::Acknowledge {} => {
            from_any(&[S::Dispatched])?;
            h.due_at = due.handle;
            S::Acknowledged
        }
        C::Return { reason } => {
            from_any(&[S::Dispatched, S::Acknowledged])?;
            note = Some(required(reason, "reason")?);
            // Back to the center: no department, no due time until it is dispatched again.
            note = note.map(|n| format!("{n} (from {})", h.department.as_deref().unwrap_or("-")));
            h.department = None;
            h.due_at = None;
            h.extension_requested = None;
            S::Returned
        }
        C::Start {} => {
            from_any(&[S::Acknowledged, S::Rework])?;
            // After a rework the handling due time stands as it was (counted from the
            // dispatch, or moved by a granted extension).
            S::Handling
        }
        C::Feedback { note: n } => {
            from_any(&[S::Handling])?;
            note = Some(required(n, "note")?);
            S::Feedback
        }
        C::Verify { note: n } => {
            from_any(&[S::Feedback])?;
            note = optional(n, "note")?;
            S::Verified
        }
        C::Rework { reason } => {
            from_any(&[S::Feedback])?;
            note = Some(required(reason, "reason")?);
            S::Rework
        }
        C::Close { note: n } => {
            from_any(&[S::Verified])?;
            note = optional(n, "note")?;
            closed_at = Some(now);
            S::Closed
        }
        C::ForceClose { reason } => {
            if from.is_final() {
                return Err(not_now());
            }
            note = Some(required(reason, "reason")?);
            closed_at = Some(now);
            S::Closed
        }
        C::Suspend { reason } => {
            from_any(&[
                S::Filed,
                S::Returned,
                S::Dispatched,
                S::Acknowledged,
                S::Handling,
                S::Rework,
            ])?;
            note = Some(required(reason, "reason")?);
            h.suspended_from = Some(from);
            S::Suspended
        }
        C::Resume {} => {
            from_any(&[S::Suspended])?;
            h.suspended_from.take().unwrap_or(S::Filed)
        }
        C::RequestExtension { until, reason } => {
            from_any(&[S::Acknowledged, S::Handling, S::Rework])?;
            if h.extension_requested.is_some() {
                return Err(LifecycleError::Invalid(
                    "an extension request is already pending".into(),
                ));
            }
            if h.due_at.is_some_and(|d| *until <= d) || *until <= now {
                return Err(LifecycleError::Invalid(
                    "an extension must end after the current due time and after now".into(),
                ));
            }
            note = Some(format!("until {until}: {}", required(reason, "reason")?));
            h.extension_requested = Some(*until);
            from
        }
        C::GrantExtension {} | C::DenyExtension { .. } => {
            if from.is_final() {
                return Err(not_now());
            }
            let Some(until) = h.extension_requested.take() else {
                return Err(LifecycleError::Invalid(
                    "no extension request is pending".into(),
                ));
            };
            if let C::DenyExtension { reason } = command {
                note = Some(required(reason, "reason")?);
            } else {
                note = Some(format!("due {until}"));
                h.due_at = Some(until);
            }
            from
        }
        C::Supervise { note: n } => {
            if from.is_final() {
                return Err(not_now());
            }
            note = Some(required(n, "note")?);
            h.supervision = h.supervision.saturating_add(1);
            from
        }
        C::AutoClose {} => {
            if from.is_final() {
                return Err(not_now());
            }
            note = Some(AUTO_CLOSE_NOTE.to_owned());
            closed_at = Some(now);
            S::Closed
        }
    };
    // The log's word for a close is `closed` whoever closes; an auto-close keeps it.
    let action = match command {
        C::AutoClose {} => IncidentEvent::CLOSED,
        _ => name,
    };
    // A final incident keeps the due time in force when it ended: evaluation compares it
    // with closed_at (按期结案). Nothing escalates a final incident.
    Ok(Transition {
        status: to,
        handling: h,
        closed_at,
        event: IncidentEvent {
            incident: incident.id,
            at: now,
            actor: actor.log_name(),
            action: action.to_string(),
            from: Some(from.as_str().to_string()),
            to: Some(to.as_str().to_string()),
            note,
        },
    })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "lifecycle_access_tests.rs"]
mod access_tests;
