//! The city's working calendar (工作日历): when its departments work, so that a time limit
//! (处置时限, [`TimeLimit`]) counted in 工作时 (working hours) or 工作日 (working days)
//! becomes a due time, and evaluation can measure the working time between two moments.
//!
//! Read from `rules/calendar.toml` (format in `docs/calendar.md`): a fixed UTC offset,
//! the working periods of a working day, the working weekdays, holidays (节假日) and
//! make-up working days (调休上班). A day's status is the weekday rule flipped by a sorted
//! list of exceptions, and all arithmetic is on integer microseconds of local time, so
//! counting working days between two dates costs O(log n) however far apart they are:
//! nothing steps day by day, let alone minute by minute.

use super::limits::TimeLimit;
use crate::model::Timestamp;
use crate::rules::load::line_of;
use chrono::{Datelike, FixedOffset, NaiveDate, Weekday};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: f64 = 3_600_000_000.0;
const DAY_US: i64 = 86_400_000_000;
/// Day 0 of the day numbers used inside (1970-01-01) counted from 0001-01-01 = day 1.
const EPOCH_FROM_CE: i64 = 719_163;
/// 1970-01-01 was a Thursday: weekday index (Monday = 0) of day `d` is `(d + 3) mod 7`.
const EPOCH_WEEKDAY: i64 = 3;
/// A longer holiday is almost surely a typo in a year.
const MAX_HOLIDAY_DAYS: i64 = 366;
/// Largest accepted UTC offset (ISO 8601 practice), hours.
const MAX_OFFSET_HOURS: i64 = 18;

/// A problem in the calendar file, at a line when it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CalendarError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one line (e.g. an unreadable file).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One named holiday, inclusive local dates as day numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holiday {
    name: String,
    from: i64,
    to: i64,
}

/// A checked working calendar. Days are local days numbered from 1970-01-01 (day 0);
/// times of day are local microseconds since midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Local time's fixed offset from UTC.
    offset: FixedOffset,
    /// The same, microseconds.
    offset_us: i64,
    /// Working periods of a working day: sorted, disjoint, non-empty `[start, end)`.
    periods: Vec<(i64, i64)>,
    /// Sum of the periods: the working time of one working day.
    day_len: i64,
    /// Working under the weekday rule, Monday first.
    weekdays: [bool; 7],
    /// `week_prefix[r]`: weekday-rule working days among days `0..r` (of any block of 7
    /// days starting at a multiple of 7); `week_prefix[7]` is the working days of a week.
    week_prefix: [i64; 8],
    /// Holidays sorted by start, disjoint.
    holidays: Vec<Holiday>,
    /// Make-up working days, sorted.
    makeup: Vec<i64>,
    /// Days whose status differs from the weekday rule, sorted.
    exceptions: Vec<i64>,
    /// `exception_sum[i]`: the sum over `exceptions[..i]` of +1 (make-up day) or −1
    /// (holiday on a working weekday), so any range's correction is two lookups.
    exception_sum: Vec<i64>,
    /// How many exceptions are −1: bounds the search for the n-th working day.
    days_off: i64,
}

impl Default for Calendar {
    /// Monday to Friday, 09:00–12:00 and 13:00–18:00 at +08:00, no holidays: for tests
    /// and for a city that has no calendar file yet.
    fn default() -> Self {
        let h = 60 * MINUTE_US;
        let weekdays = [true, true, true, true, true, false, false];
        let china = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
        Self::build(
            china,
            vec![(9 * h, 12 * h), (13 * h, 18 * h)],
            weekdays,
            Vec::new(),
            Vec::new(),
        )
    }
}

impl Calendar {
    /// Reads a calendar file; every problem is reported with the file and line.
    pub fn load(path: &Path) -> Result<Calendar, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|e| CalendarError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read the calendar: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Like [`Calendar::load`], but a missing file gives [`Calendar::default`].
    pub fn load_or_default(path: &Path) -> Result<Calendar, CalendarError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::default())
        }
    }

    /// Parses and checks calendar text; `file` is only used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Calendar, CalendarError> {
        let def: CalendarFile = toml::from_str(text).map_err(|e| CalendarError {
            file: file.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            message: e.message().trim().to_string(),
        })?;
        check(&Source { file, text }, def)
    }

    fn build(
        offset: FixedOffset,
        periods: Vec<(i64, i64)>,
        weekdays: [bool; 7],
        holidays: Vec<Holiday>,
        makeup: Vec<i64>,
    ) -> Self {
        let day_len = periods.iter().map(|(s, e)| e - s).sum();
        let mut week_prefix = [0i64; 8];
        for r in 0..7 {
            let weekday = (r as i64 + EPOCH_WEEKDAY).rem_euclid(7) as usize;
            week_prefix[r + 1] = week_prefix[r] + i64::from(weekdays[weekday]);
        }
        let mut deltas: Vec<(i64, i64)> = makeup.iter().map(|&d| (d, 1)).collect();
        for h in &holidays {
            for d in h.from..=h.to {
                if weekday_rule(&weekdays, d) {
                    deltas.push((d, -1));
                }
            }
        }
        deltas.sort_unstable();
        let exceptions = deltas.iter().map(|&(d, _)| d).collect();
        let mut exception_sum = Vec::with_capacity(deltas.len() + 1);
        exception_sum.push(0);
        let mut sum = 0;
        for &(_, delta) in &deltas {
            sum += delta;
            exception_sum.push(sum);
        }
        let days_off = deltas.iter().filter(|&&(_, delta)| delta < 0).count() as i64;
        Self {
            offset,
            offset_us: i64::from(offset.local_minus_utc()) * 1_000_000,
            periods,
            day_len,
            weekdays,
            week_prefix,
            holidays,
            makeup,
            exceptions,
            exception_sum,
            days_off,
        }
    }

    /// The fixed offset of the city's local time from UTC.
    pub fn utc_offset(&self) -> FixedOffset {
        self.offset
    }

    /// The working time of one full working day (the unit of 工作日).
    pub fn working_day_length(&self) -> Duration {
        Duration::from_micros(self.day_len as u64)
    }

    /// Whether departments work on this local date: a working weekday that is not in a
    /// holiday, or a make-up day. Dates outside the listed years follow the weekday rule.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working(day_number(date))
    }

    /// The name of the holiday this local date falls in, if any.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&str> {
        let d = day_number(date);
        let i = self.holidays.partition_point(|h| h.from <= d);
        let h = self.holidays.get(i.checked_sub(1)?)?;
        (d <= h.to).then_some(h.name.as_str())
    }

    /// Whether the file lists any holiday or make-up day in this year: a year it does
    /// not cover follows the weekday rule only, which is wrong for China. The city must
    /// add each year's arrangement when the State Council publishes it.
    pub fn covers_year(&self, year: i32) -> bool {
        let in_year = |d: i64| date_of(d).is_some_and(|date| date.year() == year);
        self.holidays
            .iter()
            .any(|h| in_year(h.from) || in_year(h.to))
            || self.makeup.iter().any(|&d| in_year(d))
    }

    /// When a time limit counted from `start` runs out.
    ///
    /// - `UrgentHours(h)`: `start + h` hours of wall-clock time, nights and holidays included.
    /// - `WorkingHours(h)`: the earliest moment by which `h` hours of working time have
    ///   elapsed since `start`; outside working time counting begins at the next working
    ///   period. A limit that ends exactly at the end of a period is due then (12:00, not
    ///   at the start of the afternoon).
    /// - `WorkingDays(n)`: as `WorkingHours`, for `n` × the working day's length.
    ///
    /// Hours are rounded to the microsecond. A limit that is not positive (or not a
    /// number) is due at `start`; a result beyond the representable range saturates.
    pub fn due(&self, start: Timestamp, limit: TimeLimit) -> Timestamp {
        match limit {
            TimeLimit::UrgentHours(h) => start.saturating_add_micros(hours_to_micros(h)),
            TimeLimit::WorkingHours(h) => self.advance(start, hours_to_micros(h)),
            TimeLimit::WorkingDays(n) => {
                self.advance(start, i64::from(n).saturating_mul(self.day_len))
            }
        }
    }

    /// Working time elapsed in `[a, b)`; zero when `b <= a`.
    pub fn working_time_between(&self, a: Timestamp, b: Timestamp) -> Duration {
        if b <= a {
            return Duration::ZERO;
        }
        let (da, ta) = self.local(a);
        let (db, tb) = self.local(b);
        let us: i128 = if da == db {
            if self.working(da) {
                i128::from(self.overlap(ta, tb))
            } else {
                0
            }
        } else {
            let first = if self.working(da) {
                self.overlap(ta, DAY_US)
            } else {
                0
            };
            let last = if self.working(db) {
                self.overlap(0, tb)
            } else {
                0
            };
            let middle = i128::from(self.working_days(da + 1, db)) * i128::from(self.day_len);
            i128::from(first) + middle + i128::from(last)
        };
        Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The moment `need` µs of working time after `start`.
    fn advance(&self, start: Timestamp, need: i64) -> Timestamp {
        if need <= 0 {
            return start;
        }
        let (mut day, t) = self.local(start);
        let mut need = need;
        if self.working(day) {
            if let Some(tod) = self.within_day(t, need) {
                return self.at(day, tod);
            }
            need -= self.overlap(t, DAY_US);
        }
        day += 1;
        // The rest takes `whole` working days, the last of which holds `rest` of it.
        let whole = (need - 1) / self.day_len + 1;
        let rest = need - (whole - 1) * self.day_len;
        let last = self.nth_working_day(day, whole);
        let tod = self.within_day(0, rest).unwrap_or(self.day_end());
        self.at(last, tod)
    }

    /// The `n`-th working day (n ≥ 1) counting `from` itself: the smallest `e` with
    /// `working_days(from, e + 1) >= n`, found by bisection.
    fn nth_working_day(&self, from: i64, n: i64) -> i64 {
        // Any 7·K days hold at least K weekday-rule working days, of which holidays
        // take at most `days_off`: K = n + days_off is enough.
        let span = n.saturating_add(self.days_off).saturating_mul(7);
        let (mut lo, mut hi) = (from, from.saturating_add(span));
        // Invariant: working_days(from, lo) < n <= working_days(from, hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.working_days(from, mid) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi - 1
    }

    /// Time of day at which `need` µs of working time have elapsed counting from time
    /// of day `t`, or `None` if the rest of the day holds less.
    fn within_day(&self, t: i64, mut need: i64) -> Option<i64> {
        for &(start, end) in &self.periods {
            let from = start.max(t);
            if from < end {
                if need <= end - from {
                    return Some(from + need);
                }
                need -= end - from;
            }
        }
        None
    }

    fn day_end(&self) -> i64 {
        self.periods.last().map_or(0, |&(_, end)| end)
    }

    /// Working time between times of day `t1` and `t2` of a working day.
    fn overlap(&self, t1: i64, t2: i64) -> i64 {
        self.periods
            .iter()
            .map(|&(start, end)| (end.min(t2) - start.max(t1)).max(0))
            .sum()
    }

    fn working(&self, day: i64) -> bool {
        weekday_rule(&self.weekdays, day) != self.exceptions.binary_search(&day).is_ok()
    }

    /// Working days in `[d1, d2)`, for `d1 <= d2`.
    fn working_days(&self, d1: i64, d2: i64) -> i64 {
        let rule = self.weekday_rule_count(d2) - self.weekday_rule_count(d1);
        let i1 = self.exceptions.partition_point(|&d| d < d1);
        let i2 = self.exceptions.partition_point(|&d| d < d2);
        rule + self.exception_sum[i2] - self.exception_sum[i1]
    }

    /// Weekday-rule working days in `[0, d)` (negative for `d < 0`): differences of it
    /// count any range.
    fn weekday_rule_count(&self, d: i64) -> i64 {
        d.div_euclid(7) * self.week_prefix[7] + self.week_prefix[d.rem_euclid(7) as usize]
    }

    /// Local day number and time of day.
    fn local(&self, t: Timestamp) -> (i64, i64) {
        let local = i128::from(t.micros()) + i128::from(self.offset_us);
        let day = local.div_euclid(i128::from(DAY_US));
        let tod = local.rem_euclid(i128::from(DAY_US));
        // |day| < 2^63 / 86_400_000_000 + 1 and tod < DAY_US: both fit.
        (day as i64, tod as i64)
    }

    /// The instant at local `day` and time of day `tod`, saturating.
    fn at(&self, day: i64, tod: i64) -> Timestamp {
        let us =
            i128::from(day) * i128::from(DAY_US) + i128::from(tod) - i128::from(self.offset_us);
        Timestamp::from_micros(us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }
}

fn weekday_rule(weekdays: &[bool; 7], day: i64) -> bool {
    weekdays[(day + EPOCH_WEEKDAY).rem_euclid(7) as usize]
}

fn hours_to_micros(h: f64) -> i64 {
    // `as` saturates and maps NaN to 0; a negative limit counts as none.
    ((h * HOUR_US).round() as i64).max(0)
}

fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - EPOCH_FROM_CE
}

fn date_of(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + EPOCH_FROM_CE).ok()?)
}

#[path = "calendar_file.rs"]
mod file;
use file::*;

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "calendar_error_tests.rs"]
mod error_tests;
