//! What whoever made a report is told of its progress (办理进度, the citizen app following
//! its Open311 request; a 12345 call-back): open or closed, in fixed words per state —
//! never the center's internal notes and reasons.
//!
//! A report merged into another as a duplicate follows the incident it was merged into:
//! it is open while that one is and closes with it, so the citizen who reported second
//! hears how the first report ended.

use super::{is_report, is_reporter};
use crate::incidents::lifecycle::may_see;
use crate::model::{Actor, Incident, IncidentStatus, Timestamp};
use crate::store::{SharedStore, StoreResult};

/// How many merges progress follows to the incident that carries a report on.
const MAX_MERGE_HOPS: usize = 8;

/// A report's progress as its reporter sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The incident that carries the report on: itself, or the one it was merged into.
    pub carrier: Incident,
    /// True once the carrier is final (closed, rejected).
    pub closed: bool,
    /// What to tell the reporter, in Chinese and English.
    pub notes: String,
    /// When the report or its carrier last changed (its latest logged event).
    pub updated: Timestamp,
}

/// What a reporter is told of each state.
pub fn status_note(status: IncidentStatus) -> &'static str {
    use IncidentStatus as S;
    match status {
        S::Discovered => "已收到，等待受理 / received, waiting to be accepted",
        S::Filed => "已立案，等待派遣 / accepted as a case, waiting to be dispatched",
        S::Dispatched => "已派遣 / sent to the department responsible",
        S::Returned => "正在重新派遣 / being sent to another department",
        S::Acknowledged | S::Handling | S::Rework => "处置中 / being handled",
        S::Feedback | S::Verified => "已处置，等待核查 / handled, being checked on site",
        S::Suspended => "暂缓办理 / on hold",
        S::Closed => "已办结 / done",
        S::Rejected => "不予立案 / not accepted as a case",
        S::Merged => "已与相同问题的诉求合并 / merged with a report of the same problem",
    }
}

/// Whether `actor` may follow `incident` as a report: it came from one, and they may see
/// it or made it.
pub fn followable(actor: &Actor, incident: &Incident) -> bool {
    is_report(incident) && (may_see(actor, incident) || is_reporter(actor, incident))
}

/// The progress of the report behind `incident`.
pub async fn progress(store: &SharedStore, incident: &Incident) -> StoreResult<Progress> {
    let mut carrier = incident.clone();
    for _ in 0..MAX_MERGE_HOPS {
        let merged = carrier.status == IncidentStatus::Merged;
        let Some(into) = carrier.handling.merged_into.filter(|_| merged) else {
            break;
        };
        match store.incident(into).await? {
            Some(next) => carrier = next,
            None => break,
        }
    }
    let mut notes = status_note(carrier.status).to_owned();
    if carrier.id != incident.id {
        let merged = status_note(IncidentStatus::Merged);
        notes = format!("{merged} ({}): {notes}", carrier.id);
    }
    let mut updated = incident.opened_at;
    for id in [incident.id, carrier.id] {
        if let Some(last) = store.incident_events(id).await?.last() {
            updated = updated.max(last.at);
        }
    }
    Ok(Progress {
        closed: carrier.status.is_final(),
        carrier,
        notes,
        updated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_words_in_both_languages() {
        for status in IncidentStatus::ALL {
            let note = status_note(status);
            assert!(note.contains(" / "), "{status:?}: {note}");
        }
    }
}
