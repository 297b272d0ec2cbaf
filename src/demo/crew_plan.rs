//! What the crew does next to an incident, and when: a step for its state, a delay drawn
//! from the pace (and the due time), and the command that carries the step out with the
//! member of the crew who gives it.

use super::*;
use rand::Rng;

const MINUTE: i64 = 60_000_000;
/// A department that runs late does so only when its due time is this close; one due
/// tomorrow morning is met (a night-long overdue case is not a demo's typical day).
const LATE_HORIZON: i64 = 4 * 60 * MINUTE;

/// The next thing the crew will do to one incident, and when.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) status: S,
    pub(super) version: i64,
    pub(super) at: Timestamp,
    pub(super) step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    File,
    Dispatch,
    Acknowledge,
    Return,
    Start,
    Feedback,
    Verify,
    Rework,
    Close,
}

impl Crew {
    /// A delay of about `mean` minutes (half to one and a half times it).
    fn about(&mut self, mean: f64) -> i64 {
        let f: f64 = self.rng.random_range(0.5..1.5);
        ((mean.max(0.0) * f) * MINUTE as f64) as i64
    }

    /// A delay for a step the department owes by `due`: mostly well before it; with
    /// `late_rate`, somewhat after it.
    fn before_due(&mut self, mean: f64, due: Option<Timestamp>, now: Timestamp) -> i64 {
        let delay = self.about(mean);
        let late = self.rng.random_bool(self.pace.late_rate.clamp(0.0, 1.0));
        match due.map(|d| d.micros() - now.micros()) {
            Some(left) if left > 0 && late && left <= LATE_HORIZON => left + delay / 2,
            Some(left) if left > 0 => delay.min(left * 9 / 10).max(MINUTE / 2),
            _ => delay,
        }
    }

    pub(super) fn plan(&mut self, i: &Incident, now: Timestamp) -> Option<Plan> {
        let p = self.pace.clone();
        let has_route = !self.candidates(i).is_empty();
        let owner = i.handling.department.as_ref();
        let staffed = owner.is_some_and(|d| self.departments.contains_key(d));
        let (step, delay) = match i.status {
            S::Discovered if has_route => (Step::File, self.about(p.dispatch_minutes)),
            S::Filed | S::Returned if has_route => (Step::Dispatch, self.about(p.dispatch_minutes)),
            S::Dispatched if staffed => {
                let others = self.candidates(i).len() > 1;
                if others && self.rng.random_bool(p.return_rate.clamp(0.0, 1.0)) {
                    (Step::Return, self.about(p.acknowledge_minutes))
                } else {
                    let d = self.before_due(p.acknowledge_minutes, i.handling.due_at, now);
                    (Step::Acknowledge, d)
                }
            }
            S::Acknowledged | S::Rework if staffed => (Step::Start, self.about(p.start_minutes)),
            S::Handling if staffed => {
                let d = self.before_due(p.handle_minutes, i.handling.due_at, now);
                (Step::Feedback, d)
            }
            S::Feedback => {
                if self.rng.random_bool(p.rework_rate.clamp(0.0, 1.0)) {
                    (Step::Rework, self.about(p.verify_minutes))
                } else {
                    (Step::Verify, self.about(p.verify_minutes))
                }
            }
            S::Verified => (Step::Close, self.about(p.close_minutes)),
            // Suspended, final, or nobody of the crew can take it: left to people.
            _ => return None,
        };
        Some(Plan {
            status: i.status,
            version: i.version,
            at: Timestamp::from_micros(now.micros().saturating_add(delay)),
            step,
        })
    }

    fn candidates(&self, i: &Incident) -> Vec<String> {
        self.desk
            .routing
            .candidates(&i.category, &i.location)
            .iter()
            .map(|d| d.as_str().to_string())
            .collect()
    }

    /// The department the center dispatches `i` to: the first candidate, or after a
    /// return the next one (the first again after the last).
    fn choose_department(&self, i: &Incident) -> Option<String> {
        let list = self.candidates(i);
        let after = self
            .returned_by
            .get(&i.id)
            .and_then(|r| list.iter().position(|d| d == r));
        match after {
            Some(k) => list.get((k + 1) % list.len()).cloned(),
            None => list.first().cloned(),
        }
    }

    fn verifier(&self, i: &Incident) -> &Actor {
        i.location
            .grid
            .as_ref()
            .and_then(|g| self.patrols.iter().find(|a| a.grids.contains(g)))
            .unwrap_or(&self.center)
    }

    pub(super) fn command(&self, i: &Incident, step: Step) -> Option<(Command, Actor)> {
        let staff = || {
            i.handling
                .department
                .as_ref()
                .and_then(|d| self.departments.get(d))
                .cloned()
        };
        let center = self.center.clone();
        Some(match step {
            Step::File => (
                Command::File {
                    note: Some("受理 accepted by the center".into()),
                },
                center,
            ),
            Step::Dispatch => (
                Command::Dispatch {
                    department: self.choose_department(i)?,
                },
                center,
            ),
            Step::Acknowledge => (Command::Acknowledge {}, staff()?),
            Step::Return => (
                Command::Return {
                    reason: "非本部门职责 not ours".into(),
                },
                staff()?,
            ),
            Step::Start => (Command::Start {}, staff()?),
            Step::Feedback => (
                Command::Feedback {
                    note: "已处置 handled on site".into(),
                },
                staff()?,
            ),
            Step::Verify => (
                Command::Verify {
                    note: Some("现场核查 checked on site".into()),
                },
                self.verifier(i).clone(),
            ),
            Step::Rework => (
                Command::Rework {
                    reason: "未处置到位 not fixed yet".into(),
                },
                self.verifier(i).clone(),
            ),
            Step::Close => (
                Command::Close {
                    note: Some("结案 closed".into()),
                },
                center,
            ),
        })
    }
}
