//! The one writer of the closed loop: read the incident, let [`lifecycle::decide`] judge
//! the command, and have the store apply the result only if nothing changed meanwhile.
//!
//! Authorization comes first, before the version, the state or the data of a command is
//! looked at: an incident the actor may not see is [`ActError::NotFound`], exactly as one
//! that does not exist, and so is an incident a command names (a merge's target). Only
//! then can a refusal or a conflict show anything of the incident.

use super::lifecycle::{self, Command, DueTimes, LifecycleError};
use crate::model::{Actor, Incident, IncidentId, Timestamp};
use crate::store::{SharedStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// No such incident, or none the actor may see: the two are never told apart.
    #[error("no incident {0}")]
    NotFound(IncidentId),
    #[error(transparent)]
    Refused(#[from] LifecycleError),
    /// Someone else changed it first: the current incident, to show.
    #[error("incident {} changed meanwhile (now version {}, {})", .0.id, .0.version, .0.status.as_str())]
    Conflict(Box<Incident>),
    #[error(transparent)]
    Store(StoreError),
}

/// Incident `id` if `actor` may see it; `NotFound` alike when it does not exist and when
/// it lies outside the actor's jurisdiction.
pub async fn visible(
    store: &SharedStore,
    id: IncidentId,
    actor: &Actor,
) -> Result<Incident, ActError> {
    match store.incident(id).await.map_err(ActError::Store)? {
        Some(i) if lifecycle::may_see(actor, &i) => Ok(i),
        _ => Err(ActError::NotFound(id)),
    }
}

/// The refusal of a merge target that does not exist or that the actor may not name:
/// the same words for both.
fn no_target(into: IncidentId) -> ActError {
    LifecycleError::Invalid(format!("no incident {into} to merge into")).into()
}

/// Carries out `command` by `actor` on `current` (read with [`visible`]) at `now`.
/// `expected_version` is the version the caller saw (a console's view): if the incident
/// has been edited since, the command is not applied and the current incident comes back
/// as a conflict. `due` gives the due times of the next steps for this incident. Only
/// [`super::Incidents`] calls it: it announces what this commits.
pub(super) async fn act_on(
    store: &SharedStore,
    current: Incident,
    actor: &Actor,
    command: &Command,
    expected_version: Option<i64>,
    now: Timestamp,
    due: impl Fn(&Incident) -> DueTimes,
) -> Result<Incident, ActError> {
    let id = current.id;
    lifecycle::authorize(&current, actor, command)?;
    let target = match command {
        Command::Merge { into } => match store.incident(*into).await.map_err(ActError::Store)? {
            Some(t) if lifecycle::may_name(actor, &t) => Some(t),
            _ => return Err(no_target(*into)),
        },
        _ => None,
    };
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(ActError::Conflict(Box::new(current)));
    }
    if let Some(t) = target.filter(|t| t.status.is_final()) {
        return Err(LifecycleError::Invalid(format!("incident {} is already final", t.id)).into());
    }
    let t = lifecycle::decide(&current, actor, command, now, due(&current))?;
    match store.transition(id, current.version, &t).await {
        Ok(i) => {
            tracing::info!(
                id = %i.id,
                actor = t.event.actor,
                command = command.name(),
                to = i.status.as_str(),
                "incident moved"
            );
            Ok(i)
        }
        // The conflict shows the incident as it is now, if the actor may still see it.
        Err(StoreError::Conflict(_)) => Err(match visible(store, id, actor).await {
            Ok(now_current) => ActError::Conflict(Box::new(now_current)),
            Err(e) => e,
        }),
        Err(e) => Err(ActError::Store(e)),
    }
}
