//! Time limits (处置时限) as the category catalog states them. GB/T 30428 practice
//! counts them three ways: 紧急 (urgent: wall-clock hours), 工作时 (working hours) and
//! 工作日 (working days) on the city's working calendar (`calendar.rs` turns a limit
//! and a start into a due time).

use serde::{Deserialize, Serialize};

/// One time limit. In TOML an inline table with one key:
/// `{ urgent_hours = 2 }`, `{ working_hours = 4 }` or `{ working_days = 1 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeLimit {
    /// 紧急: wall-clock hours, day and night, holidays included.
    UrgentHours(f64),
    /// 工作时: hours of working time on the calendar.
    WorkingHours(f64),
    /// 工作日: whole working days of working time (a working day's length each).
    WorkingDays(u32),
}

impl TimeLimit {
    /// A limit must be positive and finite, and not absurdly long (a year at most).
    pub fn check(&self) -> Result<(), String> {
        let ok = match *self {
            TimeLimit::UrgentHours(h) => h.is_finite() && h > 0.0 && h <= 24.0 * 366.0,
            TimeLimit::WorkingHours(h) => h.is_finite() && h > 0.0 && h <= 24.0 * 366.0,
            TimeLimit::WorkingDays(d) => (1..=366).contains(&d),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "time limit {self:?} must be positive and at most a year"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_forms_from_toml() {
        #[derive(Deserialize)]
        struct T {
            a: TimeLimit,
            b: TimeLimit,
            c: TimeLimit,
        }
        let t: T = toml::from_str(
            "a = { urgent_hours = 0.5 }\nb = { working_hours = 4 }\nc = { working_days = 1 }",
        )
        .unwrap();
        assert_eq!(t.a, TimeLimit::UrgentHours(0.5));
        assert_eq!(t.b, TimeLimit::WorkingHours(4.0));
        assert_eq!(t.c, TimeLimit::WorkingDays(1));
        assert!(TimeLimit::UrgentHours(0.0).check().is_err());
        assert!(TimeLimit::WorkingDays(0).check().is_err());
        assert!(
            toml::from_str::<T>(
                "a = { hours = 1 }\nb = { working_hours = 4 }\nc = { working_days = 1 }"
            )
            .is_err()
        );
    }
}
