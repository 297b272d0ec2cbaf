//! Tests of the working calendar: hand-computed due times on the default and the shipped
//! calendar, and properties checked against a naive day-by-day count. Reading the file
//! and its errors are in `calendar_error_tests.rs`.

use super::*;
use proptest::prelude::*;

pub(super) const SHIPPED: &str = include_str!("../../rules/calendar.toml");

pub(super) fn shipped() -> Calendar {
    Calendar::parse(Path::new("rules/calendar.toml"), SHIPPED).expect("the shipped calendar")
}

/// A local (+08:00) time "YYYY-MM-DD HH:MM".
fn t(s: &str) -> Timestamp {
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect(s);
    Timestamp::from_micros(local.and_utc().timestamp_micros() - 8 * 3_600_000_000)
}

pub(super) fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect(s)
}

fn hours(h: f64) -> Duration {
    Duration::from_micros((h * 3_600_000_000.0) as u64)
}

// ---- Due times, by hand ----------------------------------------------------------------

#[test]
fn friday_16_00_plus_4_working_hours_is_monday_11_00() {
    // Default: Fri 16:00–18:00 is 2 h, Mon 09:00–11:00 the other 2 h.
    let c = Calendar::default();
    assert_eq!(
        c.due(t("2026-03-06 16:00"), TimeLimit::WorkingHours(4.0)),
        t("2026-03-09 11:00")
    );
    // Shipped: Fri 16:00–17:30 is 1.5 h, Mon 08:30–11:00 the other 2.5 h.
    assert_eq!(
        shipped().due(t("2026-03-06 16:00"), TimeLimit::WorkingHours(4.0)),
        t("2026-03-09 11:00")
    );
}

#[test]
fn a_start_at_lunch_counts_from_the_afternoon() {
    let c = shipped();
    assert_eq!(
        c.due(t("2026-03-11 12:30"), TimeLimit::WorkingHours(1.0)),
        t("2026-03-11 14:30")
    );
    // Before work and at night: from the next period.
    assert_eq!(
        c.due(t("2026-03-11 06:00"), TimeLimit::WorkingHours(0.5)),
        t("2026-03-11 09:00")
    );
    assert_eq!(
        c.due(t("2026-03-11 22:00"), TimeLimit::WorkingHours(2.0)),
        t("2026-03-12 10:30")
    );
    // Ending exactly at the end of a period is due then, not after lunch.
    assert_eq!(
        c.due(t("2026-03-11 10:00"), TimeLimit::WorkingHours(2.0)),
        t("2026-03-11 12:00")
    );
    // A weekend start counts from Monday morning.
    assert_eq!(
        c.due(t("2026-03-07 10:00"), TimeLimit::WorkingHours(4.0)),
        t("2026-03-09 14:00")
    );
}

#[test]
fn one_working_day_from_wednesday_10_00_is_thursday_10_00() {
    for c in [Calendar::default(), shipped()] {
        assert_eq!(
            c.due(t("2026-03-11 10:00"), TimeLimit::WorkingDays(1)),
            t("2026-03-12 10:00")
        );
        // Five working days: the same time a week later.
        assert_eq!(
            c.due(t("2026-03-11 10:00"), TimeLimit::WorkingDays(5)),
            t("2026-03-18 10:00")
        );
    }
    let c = Calendar::default();
    assert_eq!(c.working_day_length(), hours(8.0));
    assert_eq!(shipped().working_day_length(), hours(7.5));
    // From Friday 17:00: 1 h on Friday, 7 h on Monday (default); 0.5 h and 7 h (shipped).
    assert_eq!(
        c.due(t("2026-03-13 17:00"), TimeLimit::WorkingDays(1)),
        t("2026-03-16 17:00")
    );
    assert_eq!(
        shipped().due(t("2026-03-13 17:00"), TimeLimit::WorkingDays(1)),
        t("2026-03-16 17:00")
    );
}

#[test]
fn national_day_week_is_skipped_and_make_up_days_count() {
    let c = shipped();
    // Wed 30 Sep 16:00: 1.5 h that day, 1–7 Oct off, the other 6 h on Thu 8 Oct.
    assert_eq!(
        c.due(t("2026-09-30 16:00"), TimeLimit::WorkingDays(1)),
        t("2026-10-08 16:00")
    );
    assert_eq!(
        c.due(t("2026-09-30 16:00"), TimeLimit::WorkingHours(4.0)),
        t("2026-10-08 11:00")
    );
    // Two more days: Fri 9 Oct, then Saturday 10 Oct, a make-up working day.
    assert_eq!(
        c.due(t("2026-09-30 16:00"), TimeLimit::WorkingDays(3)),
        t("2026-10-10 16:00")
    );
    assert_eq!(
        c.due(t("2026-10-09 16:00"), TimeLimit::WorkingHours(2.0)),
        t("2026-10-10 09:00")
    );
    // Sunday 20 Sep is worked; Mid-Autumn (25–27 Sep) then National Day are not.
    assert_eq!(
        c.due(t("2026-09-19 10:00"), TimeLimit::WorkingHours(1.0)),
        t("2026-09-20 09:30")
    );
    // From Thursday 24 Sep evening to 8 Oct morning only Mon 28 – Wed 30 Sep are worked.
    assert_eq!(
        c.working_time_between(t("2026-09-24 17:30"), t("2026-10-08 08:30")),
        hours(7.5) * 3
    );
}

#[test]
fn working_days_on_the_shipped_calendar() {
    let c = shipped();
    let working = |s| c.is_working_day(date(s));
    assert!(!working("2026-10-01"));
    assert!(!working("2026-10-03")); // a Saturday in the holiday
    assert!(working("2026-09-20")); // make-up Sunday
    assert!(working("2026-10-10")); // make-up Saturday
    assert!(!working("2026-10-11")); // an ordinary Sunday
    assert!(working("2026-02-14") && working("2026-02-28") && working("2026-01-04"));
    assert!(!working("2026-02-16") && !working("2026-02-23")); // 春节 weekdays
    assert!(working("2026-02-24"));
    assert!(!working("2026-05-05") && working("2026-05-09") && working("2026-05-06"));
    // Years the file does not list follow the weekday rule.
    assert!(working("2027-03-03") && !working("2027-03-06"));
    assert!(working("1990-10-01") && working("2101-10-03"));
    assert_eq!(
        c.holiday_name(date("2026-10-04")),
        Some("国庆节 National Day")
    );
    assert_eq!(c.holiday_name(date("2026-10-08")), None);
    assert_eq!(
        c.holiday_name(date("2026-01-01")),
        Some("元旦 New Year's Day")
    );
    assert_eq!(c.holiday_name(date("2025-12-31")), None);
    assert!(c.covers_year(2026) && !c.covers_year(2027));
    assert!(!Calendar::default().covers_year(2026));
    assert_eq!(c.utc_offset().local_minus_utc(), 8 * 3600);
}

#[test]
fn shipped_calendar_has_the_2026_arrangement() {
    let c = shipped();
    let names: Vec<&str> = c.holidays.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "元旦 New Year's Day",
            "春节 Spring Festival",
            "清明节 Qingming Festival",
            "劳动节 Labour Day",
            "端午节 Dragon Boat Festival",
            "中秋节 Mid-Autumn Festival",
            "国庆节 National Day"
        ]
    );
    let days: Vec<i64> = c.holidays.iter().map(|h| h.to - h.from + 1).collect();
    assert_eq!(days, [3, 9, 3, 5, 3, 3, 7]);
    assert_eq!(c.makeup.len(), 6);
    // Working days in 2026: 261 weekdays (2026 starts on a Thursday, 365 days), less the
    // 19 holiday weekdays, plus the 6 make-up days.
    let year = c.working_days(
        day_number(date("2026-01-01")),
        day_number(date("2027-01-01")),
    );
    assert_eq!(year, 261 - 19 + 6);
}

#[test]
fn urgent_hours_ignore_weekends_and_holidays() {
    let c = shipped();
    assert_eq!(
        c.due(t("2026-03-06 16:00"), TimeLimit::UrgentHours(48.0)),
        t("2026-03-08 16:00")
    );
    assert_eq!(
        c.due(t("2026-10-02 23:30"), TimeLimit::UrgentHours(0.5)),
        t("2026-10-03 00:00")
    );
    assert_eq!(
        c.due(t("2026-10-02 23:30"), TimeLimit::UrgentHours(2.0)),
        t("2026-10-03 01:30")
    );
}

#[test]
fn working_time_between_across_a_weekend() {
    let c = Calendar::default();
    assert_eq!(
        c.working_time_between(t("2026-03-06 16:00"), t("2026-03-09 11:00")),
        hours(4.0)
    );
    assert_eq!(
        c.working_time_between(t("2026-03-06 17:00"), t("2026-03-09 10:00")),
        hours(2.0)
    );
    // Lunch does not count, nor the weekend, nor a reversed or empty range.
    assert_eq!(
        c.working_time_between(t("2026-03-09 11:00"), t("2026-03-09 14:00")),
        hours(2.0)
    );
    assert_eq!(
        c.working_time_between(t("2026-03-07 08:00"), t("2026-03-08 20:00")),
        Duration::ZERO
    );
    assert_eq!(
        c.working_time_between(t("2026-03-09 11:00"), t("2026-03-06 16:00")),
        Duration::ZERO
    );
    // Two full weeks.
    assert_eq!(
        c.working_time_between(t("2026-03-02 00:00"), t("2026-03-16 00:00")),
        hours(80.0)
    );
}

#[test]
fn long_limits_and_far_away_times_work() {
    let c = shipped();
    // A year of working days: every one of the 366 is counted, across 2026's holidays.
    let start = t("2026-01-01 09:00");
    let due = c.due(start, TimeLimit::WorkingDays(366));
    assert_eq!(c.working_time_between(start, due), hours(7.5) * 366);
    // 24 × 366 working hours: some four and a half years later.
    let due = c.due(start, TimeLimit::WorkingHours(24.0 * 366.0));
    assert_eq!(c.working_time_between(start, due), hours(24.0 * 366.0));
    assert!(due > t("2030-06-01 00:00") && due < t("2031-06-01 00:00"));
    // Far outside the listed years: the weekday rule.
    assert_eq!(
        c.due(t("1900-01-05 16:00"), TimeLimit::WorkingHours(4.0)), // a Friday
        t("1900-01-08 11:00")
    );
    assert_eq!(
        c.due(t("2300-01-05 10:00"), TimeLimit::WorkingDays(1)), // a Friday
        t("2300-01-08 10:00")
    );
    // The ends of the range saturate instead of panicking.
    let max = Timestamp::from_micros(i64::MAX);
    let min = Timestamp::from_micros(i64::MIN);
    assert_eq!(c.due(max, TimeLimit::WorkingDays(366)), max);
    assert_eq!(c.due(max, TimeLimit::UrgentHours(1.0)), max);
    assert!(c.due(min, TimeLimit::WorkingHours(8000.0)) > min);
    assert!(c.working_time_between(min, max) > Duration::from_secs(1 << 40));
    assert_eq!(c.due(start, TimeLimit::WorkingHours(f64::INFINITY)), max);
    // Not positive or not a number: due at once.
    assert_eq!(c.due(start, TimeLimit::WorkingHours(f64::NAN)), start);
    assert_eq!(c.due(start, TimeLimit::UrgentHours(-1.0)), start);
}

#[test]
fn a_round_the_clock_calendar_counts_every_hour() {
    let c = Calendar::parse(
        Path::new("c.toml"),
        "utc_offset = \"-05:30\"\nperiods = [[\"00:00\", \"24:00\"]]\nweekdays = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\", \"Sat\", \"Sun\"]\n",
    )
    .expect("valid");
    let start = Timestamp::from_micros(1_780_000_000_123_456);
    assert_eq!(
        c.due(start, TimeLimit::WorkingHours(30.0)),
        c.due(start, TimeLimit::UrgentHours(30.0))
    );
    assert_eq!(
        c.due(start, TimeLimit::WorkingDays(2)),
        c.due(start, TimeLimit::UrgentHours(48.0))
    );
}

// ---- Properties -------------------------------------------------------------------------

/// Working time in [a, b) walking day by day: the reference for the O(log n) count.
fn naive_between(c: &Calendar, a: Timestamp, b: Timestamp) -> Duration {
    if b <= a {
        return Duration::ZERO;
    }
    let (da, ta) = c.local(a);
    let (db, tb) = c.local(b);
    let mut us = 0;
    for day in da..=db {
        let weekday = (day + EPOCH_WEEKDAY).rem_euclid(7) as usize;
        let date = date_of(day).expect("in range");
        let holiday = c.holiday_name(date).is_some();
        let makeup = c.makeup.contains(&day);
        if makeup || (c.weekdays[weekday] && !holiday) {
            let from = if day == da { ta } else { 0 };
            let to = if day == db { tb } else { DAY_US };
            for &(s, e) in &c.periods {
                us += (e.min(to) - s.max(from)).max(0);
            }
        }
    }
    Duration::from_micros(us as u64)
}

/// Any moment from 2024 to 2029 (around the shipped year), to the microsecond.
fn any_time() -> impl Strategy<Value = Timestamp> {
    (1_704_000_000_000_000i64..1_893_000_000_000_000).prop_map(Timestamp::from_micros)
}

/// A random but valid calendar: any offset, one to three periods, any non-empty set of
/// working weekdays, disjoint holidays and make-up days around 2024–2029.
fn random_calendar() -> impl Strategy<Value = Calendar> {
    let first = day_number(date("2024-01-01"));
    (
        -720i32..=840,
        prop::collection::btree_set(0i64..=1440, 2..=6),
        1u8..128,
        prop::collection::vec((0i64..2000, 0i64..20), 0..12),
        prop::collection::vec(0i64..2000, 0..12),
    )
        .prop_map(
            move |(offset_min, bounds, mask, holiday_spans, makeup_days)| {
                let bounds: Vec<i64> = bounds.into_iter().collect();
                let periods = bounds
                    .chunks_exact(2)
                    .map(|p| (p[0] * MINUTE_US, p[1] * MINUTE_US))
                    .collect();
                let weekdays: [bool; 7] = std::array::from_fn(|i| mask & (1 << i) != 0);
                let mut spans: Vec<(i64, i64)> = holiday_spans
                    .into_iter()
                    .map(|(from, len)| (first + from, first + from + len))
                    .collect();
                spans.sort_unstable();
                let mut holidays: Vec<Holiday> = Vec::new();
                for (from, to) in spans {
                    if holidays.last().is_none_or(|h| from > h.to) {
                        let name = format!("h{from}");
                        holidays.push(Holiday { name, from, to });
                    }
                }
                let mut makeup: Vec<i64> = makeup_days
                    .into_iter()
                    .map(|d| first + d)
                    .filter(|&d| !weekday_rule(&weekdays, d))
                    .filter(|&d| !holidays.iter().any(|h| (h.from..=h.to).contains(&d)))
                    .collect();
                makeup.sort_unstable();
                makeup.dedup();
                let offset = FixedOffset::east_opt(offset_min * 60).expect("within a day");
                Calendar::build(offset, periods, weekdays, holidays, makeup)
            },
        )
}

fn calendars() -> impl Strategy<Value = Calendar> {
    prop_oneof![
        1 => Just(Calendar::default()),
        2 => Just(shipped()),
        3 => random_calendar(),
    ]
}

proptest! {
    #[test]
    fn working_hours_elapse_exactly_by_the_due_time(
        c in calendars(),
        start in any_time(),
        h in 0.000_001f64..(24.0 * 366.0),
    ) {
        let due = c.due(start, TimeLimit::WorkingHours(h));
        let need = Duration::from_micros((h * 3_600_000_000.0).round() as u64);
        prop_assert_eq!(c.working_time_between(start, due), need);
        // ...and not a microsecond earlier.
        let before = Timestamp::from_micros(due.micros() - 1);
        prop_assert!(c.working_time_between(start, before) < need);
    }

    #[test]
    fn working_days_elapse_exactly_by_the_due_time(
        c in calendars(),
        start in any_time(),
        n in 1u32..=366,
    ) {
        let due = c.due(start, TimeLimit::WorkingDays(n));
        prop_assert_eq!(c.working_time_between(start, due), c.working_day_length() * n);
    }

    #[test]
    fn due_is_monotonic_in_the_limit(
        c in calendars(),
        start in any_time(),
        a in 0.0f64..2000.0,
        b in 0.0f64..2000.0,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(c.due(start, TimeLimit::WorkingHours(lo)) <= c.due(start, TimeLimit::WorkingHours(hi)));
        prop_assert!(c.due(start, TimeLimit::UrgentHours(lo)) <= c.due(start, TimeLimit::UrgentHours(hi)));
        let (dl, dh) = ((lo / 8.0) as u32, (hi / 8.0) as u32);
        prop_assert!(c.due(start, TimeLimit::WorkingDays(dl)) <= c.due(start, TimeLimit::WorkingDays(dh)));
        prop_assert!(c.due(start, TimeLimit::WorkingHours(lo)) >= start);
    }

    #[test]
    fn working_time_between_matches_a_day_by_day_count(
        c in calendars(),
        a in any_time(),
        span in 0i64..(120 * DAY_US),
    ) {
        let b = Timestamp::from_micros(a.micros() + span);
        prop_assert_eq!(c.working_time_between(a, b), naive_between(&c, a, b));
    }
}
