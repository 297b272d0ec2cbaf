//! The state of one dedup key (rule + sensor, camera or grid) and the moves between
//! states that every rule kind shares: pending (`for:`), firing (with a grace period
//! after its condition stops holding), suppressed (after clearing). An idle key has no
//! entry at all, so a quiet city costs nothing here.
//!
//! The persistent part (phase, level, times) is saved through the store when it
//! changes, so pending timers and firing keys survive a restart.

use crate::model::Severity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition holds but not yet for the rule's `for:`.
    Pending,
    Firing,
    /// Cleared recently; the key does not fire again until `suppress_until`.
    Suppressed,
}

/// Times are event-time microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub phase: Phase,
    pub level: Severity,
    /// Pending: since when the condition holds. Firing: when the incident opened.
    pub since: i64,
    /// Firing: when the condition stopped holding (the grace period runs from here).
    pub quiet_since: Option<i64>,
    /// Newest evidence (video, correlation: `clear_after` runs from here).
    pub last_evidence: i64,
    pub suppress_until: i64,
}

impl KeyState {
    pub fn pending(level: Severity, since: i64) -> Self {
        Self {
            phase: Phase::Pending,
            level,
            since,
            quiet_since: None,
            last_evidence: since,
            suppress_until: i64::MIN,
        }
    }
}

/// What is persisted per key: the state and the fingerprint of the rule it belongs to,
/// so a changed rule does not inherit stale state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub fingerprint: u64,
    #[serde(flatten)]
    pub state: KeyState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_round_trips_as_json() {
        let s = Saved {
            fingerprint: 42,
            state: KeyState {
                quiet_since: Some(5),
                ..KeyState::pending(Severity::Orange, 1)
            },
        };
        let text = serde_json::to_string(&s).unwrap();
        let back: Saved = serde_json::from_str(&text).unwrap();
        assert_eq!(back.fingerprint, 42);
        assert_eq!(back.state, s.state);
    }
}
