//! The one writer of the closed loop: read the incident, let [`lifecycle::decide`] judge
//! the command, and have the store apply the result only if nothing changed meanwhile.

use super::lifecycle::{self, Command, DueTimes, LifecycleError};
use crate::model::{Actor, Incident, IncidentId, Timestamp};
use crate::store::{SharedStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActError {
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

/// Carries out `command` by `actor` on incident `id` at `now`. `expected_version` is the
/// version the caller saw (a console's view): if the incident has been edited since,
/// the command is not applied and the current incident comes back as a conflict.
/// `due` gives the due times of the next steps for this incident.
pub async fn act(
    store: &SharedStore,
    id: IncidentId,
    actor: &Actor,
    command: &Command,
    expected_version: Option<i64>,
    now: Timestamp,
    due: impl Fn(&Incident) -> DueTimes,
) -> Result<Incident, ActError> {
    let current = store
        .incident(id)
        .await
        .map_err(ActError::Store)?
        .ok_or(ActError::NotFound(id))?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(ActError::Conflict(Box::new(current)));
    }
    if let Command::Merge { into } = command {
        match store.incident(*into).await.map_err(ActError::Store)? {
            Some(target) if !target.status.is_final() => {}
            Some(_) => {
                return Err(
                    LifecycleError::Invalid(format!("incident {into} is already final")).into(),
                );
            }
            None => {
                return Err(
                    LifecycleError::Invalid(format!("no incident {into} to merge into")).into(),
                );
            }
        }
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
        Err(StoreError::Conflict(_)) => match store.incident(id).await.map_err(ActError::Store)? {
            Some(now_current) => Err(ActError::Conflict(Box::new(now_current))),
            None => Err(ActError::NotFound(id)),
        },
        Err(e) => Err(ActError::Store(e)),
    }
}
