//! Tests of reading a calendar file: loading, and every error with its line.

use super::tests::{SHIPPED, date, shipped};
use super::*;

fn parse_err(text: &str) -> CalendarError {
    Calendar::parse(Path::new("calendar.toml"), text).expect_err("should be rejected")
}

const HEAD: &str =
    "utc_offset = \"+08:00\"\nperiods = [[\"09:00\", \"12:00\"], [\"13:00\", \"18:00\"]]\n";

#[test]
fn load_reads_a_file_and_a_missing_file_is_an_error_or_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("calendar.toml");
    let e = Calendar::load(&path).expect_err("missing");
    assert_eq!((e.line, e.file.clone()), (0, path.clone()));
    assert!(e.message.contains("cannot read"), "{e}");
    assert_eq!(
        Calendar::load_or_default(&path).expect("default"),
        Calendar::default()
    );
    std::fs::write(&path, SHIPPED).expect("write");
    assert_eq!(Calendar::load(&path).expect("loads"), shipped());
    assert_eq!(Calendar::load_or_default(&path).expect("loads"), shipped());
}

#[test]
fn a_bad_time_is_reported_with_its_line() {
    let e = parse_err("utc_offset = \"+08:00\"\n\nperiods = [[\"8:30\", \"12:00\"]]\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("\"8:30\""), "{e}");
    assert_eq!(
        e.to_string(),
        format!("calendar.toml:3: {}", e.message),
        "file:line: message"
    );
    for bad in [
        "24:30", "12:60", "12-00", "noon", "1200", " 9:00", "09:00:00",
    ] {
        let e = parse_err(&format!(
            "utc_offset = \"+08:00\"\nperiods = [[\"08:00\", \"{bad}\"]]\n"
        ));
        assert_eq!(e.line, 2, "{bad}: {e}");
    }
    let e = parse_err("utc_offset = \"+08:00\"\nperiods = [[\"12:00\", \"09:00\"]]\n");
    assert!(e.message.contains("ends before it starts"), "{e}");
    let e = parse_err("utc_offset = \"+08:00\"\nperiods = []\n");
    assert!(e.message.contains("empty"), "{e}");
    let e = parse_err("utc_offset = \"+08:00\"\nperiods = [[\"08:00\"]]\n");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn bare_toml_dates_and_times_read_like_strings() {
    let bare = "utc_offset = \"+08:00\"\nperiods = [[08:30, 12:00], [13:30, 17:30]]\n\
                makeup = [2026-10-10]\n[[holiday]]\nname = \"国庆节\"\nfrom = 2026-10-01\nto = 2026-10-07\n";
    let quoted = bare
        .replace("08:30", "\"08:30\"")
        .replace("12:00", "\"12:00\"")
        .replace("13:30", "\"13:30\"")
        .replace("17:30", "\"17:30\"")
        .replace("2026-10-10", "\"2026-10-10\"")
        .replace("2026-10-01", "\"2026-10-01\"")
        .replace("2026-10-07", "\"2026-10-07\"");
    let c = Calendar::parse(Path::new("c.toml"), bare).expect("bare literals");
    assert_eq!(
        c,
        Calendar::parse(Path::new("c.toml"), &quoted).expect("strings")
    );
    // The same strict forms: seconds, date-times and other types are refused.
    let e = parse_err("utc_offset = \"+08:00\"\nperiods = [[08:30:00, 12:00]]\n");
    assert!(e.message.contains("\"08:30:00\""), "{e}");
    let e = parse_err(&format!("{HEAD}makeup = [2026-10-10T09:00:00]\n"));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("not a date"), "{e}");
    let e = parse_err(&format!("{HEAD}makeup = [20261010]\n"));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("YYYY-MM-DD"), "{e}");
}

#[test]
fn overlapping_or_unordered_periods_are_rejected() {
    let e = parse_err(
        "utc_offset = \"+08:00\"\nperiods = [\n  [\"08:30\", \"12:30\"],\n  [\"12:00\", \"17:30\"],\n]\n",
    );
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("overlaps the period 08:30–12:30"), "{e}");
    let e = parse_err(
        "utc_offset = \"+08:00\"\nperiods = [[\"13:30\", \"17:30\"], [\"08:30\", \"12:00\"]]\n",
    );
    assert!(e.message.contains("comes before"), "{e}");
    // Touching periods are fine.
    Calendar::parse(
        Path::new("c.toml"),
        "utc_offset = \"+08:00\"\nperiods = [[\"08:00\", \"12:00\"], [\"12:00\", \"13:00\"]]\n",
    )
    .expect("touching periods");
}

#[test]
fn a_bad_offset_is_rejected() {
    for bad in [
        "+8:00", "UTC+8", "08:00", "+08", "+0800", "+19:00", "+08:60", "Z",
    ] {
        let e = parse_err(&format!(
            "# a comment\nutc_offset = \"{bad}\"\nperiods = [[\"09:00\", \"17:00\"]]\n"
        ));
        assert_eq!(e.line, 2, "{bad}: {e}");
        assert!(e.message.contains("utc_offset"), "{bad}: {e}");
    }
    let c = Calendar::parse(
        Path::new("c.toml"),
        "utc_offset = \"-03:30\"\nperiods = [[\"09:00\", \"17:00\"]]\n",
    )
    .expect("valid");
    assert_eq!(c.utc_offset().local_minus_utc(), -(3 * 3600 + 1800));
}

#[test]
fn a_holiday_ending_before_it_starts_is_rejected() {
    let e = parse_err(&format!(
        "{HEAD}\n[[holiday]]\nname = \"国庆节\"\nfrom = \"2026-10-07\"\nto = \"2026-10-01\"\n"
    ));
    assert_eq!(e.line, 7, "{e}");
    assert!(
        e.message.contains("ends (2026-10-01) before it starts"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"x\"\nfrom = \"2026-10-01\"\nto = \"2028-10-01\"\n"
    ));
    assert!(e.message.contains("longer than"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"x\"\nfrom = \"2026-9-27\"\nto = \"2026-10-01\"\n"
    ));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("not a date"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"x\"\nfrom = \"2026-02-30\"\nto = \"2026-03-01\"\n"
    ));
    assert!(e.message.contains("not a date"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \" \"\nfrom = \"2026-03-01\"\nto = \"2026-03-01\"\n"
    ));
    assert!(e.message.contains("name"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"a\"\nfrom = \"2026-03-01\"\nto = \"2026-03-03\"\n\
         [[holiday]]\nname = \"b\"\nfrom = \"2026-03-03\"\nto = \"2026-03-04\"\n"
    ));
    assert_eq!(e.line, 9, "{e}");
    assert!(e.message.contains("overlaps"), "{e}");
}

#[test]
fn a_make_up_day_must_be_a_weekend_outside_holidays() {
    // 2026-09-30 is a Wednesday.
    let e = parse_err(&format!(
        "{HEAD}makeup = [\n  \"2026-09-20\",\n  \"2026-09-30\",\n]\n"
    ));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("is a Wed"), "{e}");
    // 2026-09-27 is a Sunday, but in the Mid-Autumn holiday.
    let e = parse_err(&format!(
        "{HEAD}makeup = [\"2026-09-27\"]\n[[holiday]]\nname = \"中秋节\"\nfrom = \"2026-09-25\"\nto = \"2026-09-27\"\n"
    ));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("falls in the holiday \"中秋节\""), "{e}");
    let e = parse_err(&format!(
        "{HEAD}makeup = [\"2026-09-20\", \"2026-09-20\"]\n"
    ));
    assert!(e.message.contains("twice"), "{e}");
    // With Saturday a working weekday, a Saturday cannot be a make-up day.
    let e = parse_err(&format!(
        "{HEAD}weekdays = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\", \"Sat\"]\nmakeup = [\"2026-10-10\"]\n"
    ));
    assert_eq!(e.line, 4, "{e}");
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let e = parse_err(&format!("{HEAD}holidays = []\n"));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("holidays"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"x\"\nfrom = \"2026-03-01\"\nuntil = \"2026-03-01\"\n"
    ));
    assert_eq!(e.line, 6, "{e}");
    // A key after a [[holiday]] table belongs to it: the classic TOML slip.
    let e = parse_err(&format!(
        "{HEAD}[[holiday]]\nname = \"x\"\nfrom = \"2026-03-01\"\nto = \"2026-03-01\"\nmakeup = [\"2026-03-07\"]\n"
    ));
    assert_eq!(e.line, 7, "{e}");
    // Missing required keys.
    let e = parse_err("periods = [[\"09:00\", \"17:00\"]]\n");
    assert!(e.message.contains("utc_offset"), "{e}");
}

#[test]
fn a_calendar_with_no_working_weekday_is_rejected() {
    let e = parse_err(&format!("{HEAD}weekdays = []\nmakeup = [\"2026-10-10\"]\n"));
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("no working weekday"), "{e}");
    let e = parse_err(&format!("{HEAD}weekdays = [\"Mon\", \"Funday\"]\n"));
    assert!(e.message.contains("Funday"), "{e}");
    let e = parse_err(&format!("{HEAD}weekdays = [\"Mon\", \"Mon\"]\n"));
    assert!(e.message.contains("twice"), "{e}");
    // Weekdays other than Mon–Fri.
    let c = Calendar::parse(
        Path::new("c.toml"),
        &format!("{HEAD}weekdays = [\"Sun\", \"Sat\"]\n"),
    )
    .expect("valid");
    assert!(c.is_working_day(date("2026-03-07")) && !c.is_working_day(date("2026-03-09")));
}
