//! What each incident transition changes and which events it records, decided once for
//! both backends. A backend reads the incident under its write lock, asks here, and then
//! applies the update and appends the events in the same transaction.

use super::{StoreError, StoreResult};
use crate::model::{Incident, IncidentEvent, IncidentStatus, Severity, Timestamp, Transition};

fn event(
    current: &Incident,
    at: Timestamp,
    actor: String,
    action: &str,
    from: Option<&str>,
    to: Option<&str>,
    note: Option<&str>,
) -> IncidentEvent {
    IncidentEvent {
        incident: current.id,
        at,
        actor,
        action: action.to_owned(),
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
        note: note.filter(|n| !n.is_empty()).map(str::to_owned),
    }
}

/// `Conflict` if `current` is final (closed, rejected, merged): nothing changes it any more.
pub(crate) fn not_final(current: &Incident, what: &str) -> StoreResult<()> {
    if current.status.is_final() {
        return Err(StoreError::Conflict(format!(
            "incident {} is {}; cannot {what}",
            current.id,
            current.status.as_str()
        )));
    }
    Ok(())
}

/// The events to append for applying `t` to `current`, which the caller read under its
/// write lock: `t.event` addressed to `current`, and for a merge a `merged_from` event on
/// the incident it goes into, so both logs tell the story. `Conflict` if `current` is
/// final or has moved on from `expected_version` (someone else changed it since `t` was
/// decided).
pub(crate) fn transition(
    current: &Incident,
    expected_version: i64,
    t: &Transition,
) -> StoreResult<Vec<IncidentEvent>> {
    not_final(current, "change its status")?;
    if current.version != expected_version {
        return Err(StoreError::Conflict(format!(
            "incident {} is at version {}, not {expected_version}; it changed meanwhile",
            current.id, current.version
        )));
    }
    let mut events = vec![IncidentEvent {
        incident: current.id,
        ..t.event.clone()
    }];
    let merged = t.status == IncidentStatus::Merged && current.status != IncidentStatus::Merged;
    if let Some(into) = t.handling.merged_into.filter(|_| merged) {
        events.push(IncidentEvent {
            incident: into,
            at: t.event.at,
            actor: t.event.actor.clone(),
            action: IncidentEvent::MERGED_FROM.to_owned(),
            from: None,
            to: None,
            note: Some(format!("merged from {}", current.id)),
        });
    }
    Ok(events)
}

/// The `opened` event of the incident `id` that `new` describes: to its severity, by its
/// rule (`rule:<name>`), or by `system` without one.
pub(crate) fn opened(id: crate::model::IncidentId, new: &super::NewIncident) -> IncidentEvent {
    IncidentEvent {
        incident: id,
        at: new.opened_at,
        actor: IncidentEvent::rule_actor(new.rule.as_deref()),
        action: IncidentEvent::OPENED.to_owned(),
        from: None,
        to: Some(new.severity.as_str().to_owned()),
        note: None,
    }
}

/// The `cleared` event of the open incident `current`, whose condition cleared at `at`.
/// The system records it: the condition is a fact about the city, not anyone's decision.
pub(crate) fn cleared(current: &Incident, at: Timestamp) -> IncidentEvent {
    event(
        current,
        at,
        IncidentEvent::SYSTEM.to_owned(),
        IncidentEvent::CLEARED,
        None,
        None,
        None,
    )
}

/// The `severity` event of moving `current` to `severity`; `None` when it already has it.
pub(crate) fn set_severity(
    current: &Incident,
    severity: Severity,
    at: Timestamp,
    actor: &str,
    note: &str,
) -> StoreResult<Option<IncidentEvent>> {
    not_final(current, "change its severity")?;
    if current.severity == severity {
        return Ok(None);
    }
    Ok(Some(event(
        current,
        at,
        actor.to_owned(),
        IncidentEvent::SEVERITY,
        Some(current.severity.as_str()),
        Some(severity.as_str()),
        Some(note),
    )))
}

/// The `refired` event of `current`; `None` when its condition has not cleared.
pub(crate) fn refire(
    current: &Incident,
    at: Timestamp,
    actor: &str,
) -> StoreResult<Option<IncidentEvent>> {
    not_final(current, "refire it")?;
    if current.cleared_at.is_none() {
        return Ok(None);
    }
    Ok(Some(event(
        current,
        at,
        actor.to_owned(),
        IncidentEvent::REFIRED,
        None,
        None,
        None,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL the backends splice in (and the unique index repeats) names exactly the
    /// statuses the model calls final.
    #[test]
    fn not_final_sql_names_the_final_statuses() {
        let sql = not_final!();
        for status in IncidentStatus::ALL {
            let named = sql.contains(&format!("'{}'", status.as_str()));
            assert_eq!(named, status.is_final(), "{status:?} in {sql}");
        }
    }
}
