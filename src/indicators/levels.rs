//! An indicator's levels: thresholds from blue to red, which way is worse, and the
//! hysteresis that keeps a value hovering at a threshold from flapping between two levels.

use super::def::LevelsDef;
use crate::model::Severity;
use crate::rules::check::Ctx;

/// Thresholds in `steps` from blue to red; `higher` when a larger value is worse.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    pub higher: bool,
    /// (level, threshold), from blue to red, only the levels given.
    pub steps: Vec<(Severity, f64)>,
    pub hysteresis: f64,
}

impl Levels {
    /// The level of `value` for something now at `current`: a level is entered when the
    /// value reaches its threshold (`>=`, or `<=` when lower is worse) and left only when it
    /// is back past the threshold by more than the hysteresis. `None` is normal.
    pub fn level(&self, value: Option<f64>, current: Option<Severity>) -> Option<Severity> {
        let v = value?;
        let mut out = None;
        for &(sev, t) in &self.steps {
            // Levels up to the current one are held down to threshold - hysteresis; higher
            // ones need the threshold itself.
            let held = current.is_some_and(|c| c <= sev);
            let reached = match (held, self.higher) {
                (false, true) => v >= t,
                (false, false) => v <= t,
                (true, true) => v >= t - self.hysteresis,
                (true, false) => v <= t + self.hysteresis,
            };
            if reached {
                out = Some(sev);
            }
        }
        out
    }
}

/// Checks `levels` as written: at least one threshold, in order, a hysteresis not negative.
pub(super) fn check(ctx: &mut Ctx<'_>, d: &LevelsDef) -> Levels {
    let higher = match d.worse.as_deref() {
        None | Some("higher") => true,
        Some("lower") => false,
        Some(w) => {
            ctx.err(format!("`levels.worse` = {w:?}: expected higher or lower"));
            true
        }
    };
    let mut steps = Vec::new();
    for (sev, v) in [
        (Severity::Blue, &d.blue),
        (Severity::Yellow, &d.yellow),
        (Severity::Orange, &d.orange),
        (Severity::Red, &d.red),
    ] {
        if let Some(n) = v
            && let Some(t) = ctx.num(&format!("levels.{}", sev.as_str()), n)
        {
            steps.push((sev, t));
        }
    }
    if steps.is_empty() {
        ctx.err("`levels` gives no threshold (blue, yellow, orange or red)");
    }
    for w in steps.windows(2) {
        let ordered = if higher {
            w[0].1 < w[1].1
        } else {
            w[0].1 > w[1].1
        };
        if !ordered {
            ctx.err(format!(
                "`levels`: {} ({}) must be {} than {} ({})",
                w[1].0.as_str(),
                w[1].1,
                if higher { "higher" } else { "lower" },
                w[0].0.as_str(),
                w[0].1
            ));
        }
    }
    let hysteresis = d
        .hysteresis
        .as_ref()
        .and_then(|h| ctx.num("levels.hysteresis", h))
        .unwrap_or(0.0);
    if hysteresis < 0.0 {
        ctx.err("`levels.hysteresis` must not be negative");
    }
    Levels {
        higher,
        steps,
        hysteresis: hysteresis.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(higher: bool, steps: &[(Severity, f64)], h: f64) -> Levels {
        Levels {
            higher,
            steps: steps.to_vec(),
            hysteresis: h,
        }
    }

    #[test]
    fn levels_enter_at_the_threshold_and_leave_past_the_hysteresis() {
        use Severity::*;
        let l = levels(
            true,
            &[(Blue, 1.0), (Yellow, 3.0), (Orange, 5.0), (Red, 10.0)],
            0.5,
        );
        assert_eq!(l.level(Some(0.5), None), None);
        assert_eq!(
            l.level(Some(1.0), None),
            Some(Blue),
            "a count of 1 reaches 1"
        );
        assert_eq!(l.level(Some(5.5), None), Some(Orange));
        // Held: back under 5 but not under 4.5.
        assert_eq!(l.level(Some(4.6), Some(Orange)), Some(Orange));
        assert_eq!(l.level(Some(4.4), Some(Orange)), Some(Yellow));
        assert_eq!(l.level(Some(0.0), Some(Orange)), None);
        // Rising needs the threshold itself.
        assert_eq!(l.level(Some(9.9), Some(Orange)), Some(Orange));
        assert_eq!(l.level(Some(10.0), Some(Orange)), Some(Red));
        assert_eq!(l.level(None, Some(Red)), None);
    }

    #[test]
    fn lower_is_worse_mirrors_it() {
        use Severity::*;
        let l = levels(false, &[(Blue, 98.0), (Yellow, 95.0), (Red, 80.0)], 2.0);
        assert_eq!(l.level(Some(99.0), None), None);
        assert_eq!(l.level(Some(94.0), None), Some(Yellow));
        assert_eq!(l.level(Some(96.5), Some(Yellow)), Some(Yellow));
        assert_eq!(l.level(Some(97.5), Some(Yellow)), Some(Blue));
        assert_eq!(l.level(Some(100.5), Some(Yellow)), None);
        assert_eq!(l.level(Some(80.0), Some(Yellow)), Some(Red));
    }
}
