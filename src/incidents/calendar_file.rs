//! Reading `rules/calendar.toml`: the file as written, and every check that turns it
//! into a [`Calendar`] or a [`CalendarError`] with its line.

use super::*;

// ---- The file, as written -------------------------------------------------------------

/// `rules/calendar.toml`. Every table denies unknown keys, so a typo is an error with
/// its line rather than a setting silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CalendarFile {
    /// `"+08:00"`: local time's fixed offset from UTC.
    utc_offset: Spanned<String>,
    /// `[["08:30", "12:00"], ["13:30", "17:30"]]`: the working periods of a working day.
    periods: Spanned<Vec<Spanned<(Text, Text)>>>,
    /// `["Mon", "Tue", "Wed", "Thu", "Fri"]` when absent.
    weekdays: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    holiday: Vec<HolidayDef>,
    /// Make-up working days (调休上班): weekend dates worked.
    #[serde(default)]
    makeup: Vec<Spanned<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HolidayDef {
    name: Spanned<String>,
    from: Spanned<Text>,
    to: Spanned<Text>,
}

/// A date or a time of day as written: a string (`"2026-10-01"`, `"08:30"`) or the same
/// as a bare TOML literal (`2026-10-01`, `08:30`), so both forms read alike and get the
/// same strict check.
#[derive(Debug)]
pub(super) struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date \"YYYY-MM-DD\" or a time of day \"HH:MM\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                // A TOML date/time literal arrives as a map; anything else fails here.
                let literal = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(Text(literal.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Where a problem is: the file and its text, to turn spans into lines.
pub(super) struct Source<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
}

impl Source<'_> {
    fn error<T>(&self, at: &Spanned<T>, message: String) -> CalendarError {
        CalendarError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, at.span().start),
            message,
        }
    }
}

/// Checks a parsed file and builds the calendar; the first problem wins.
pub(super) fn check(src: &Source, def: CalendarFile) -> Result<Calendar, CalendarError> {
    let offset = parse_offset(def.utc_offset.get_ref()).ok_or_else(|| {
        src.error(
            &def.utc_offset,
            format!(
                "utc_offset {:?} is not a fixed offset like \"+08:00\" (±HH:MM, at most ±18:00)",
                def.utc_offset.get_ref()
            ),
        )
    })?;
    let periods = check_periods(src, &def.periods)?;
    let weekdays = check_weekdays(src, def.weekdays.as_ref())?;
    let holidays = check_holidays(src, &def.holiday)?;
    let makeup = check_makeup(src, &def.makeup, &weekdays, &holidays)?;
    Ok(Calendar::build(offset, periods, weekdays, holidays, makeup))
}

pub(super) fn check_periods(
    src: &Source,
    periods: &Spanned<Vec<Spanned<(Text, Text)>>>,
) -> Result<Vec<(i64, i64)>, CalendarError> {
    if periods.get_ref().is_empty() {
        return Err(src.error(
            periods,
            "periods is empty: a working day needs at least one working period".into(),
        ));
    }
    let mut out: Vec<(i64, i64)> = Vec::new();
    for p in periods.get_ref() {
        let (Text(from), Text(to)) = p.get_ref();
        let time = |s: &str| {
            parse_time(s).ok_or_else(|| {
                src.error(
                    p,
                    format!("period time {s:?} is not a time of day HH:MM (00:00 to 24:00)"),
                )
            })
        };
        let (start, end) = (time(from)?, time(to)?);
        if start >= end {
            return Err(src.error(
                p,
                format!("period {from}–{to} ends before it starts (or is empty)"),
            ));
        }
        if let Some(&(prev_start, prev_end)) = out.last()
            && start < prev_end
        {
            let how = if start < prev_start {
                "comes before"
            } else {
                "overlaps"
            };
            return Err(src.error(
                p,
                format!(
                    "period {from}–{to} {how} the period {}–{}: list periods in order, \
                     without overlaps",
                    show_time(prev_start),
                    show_time(prev_end)
                ),
            ));
        }
        out.push((start, end));
    }
    Ok(out)
}

pub(super) fn check_weekdays(
    src: &Source,
    weekdays: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<[bool; 7], CalendarError> {
    let Some(list) = weekdays else {
        return Ok([true, true, true, true, true, false, false]);
    };
    let mut out = [false; 7];
    for w in list.get_ref() {
        let day: Weekday = w.get_ref().parse().map_err(|_| {
            src.error(
                w,
                format!(
                    "weekday {:?} is not a day of the week (Mon, Tue, Wed, Thu, Fri, Sat, Sun)",
                    w.get_ref()
                ),
            )
        })?;
        let i = day.num_days_from_monday() as usize;
        if out[i] {
            return Err(src.error(w, format!("weekday {day} is listed twice")));
        }
        out[i] = true;
    }
    if !out.contains(&true) {
        return Err(src.error(
            list,
            "weekdays is empty: with no working weekday no working-time limit could ever \
             run out"
                .into(),
        ));
    }
    Ok(out)
}

pub(super) fn check_holidays(
    src: &Source,
    defs: &[HolidayDef],
) -> Result<Vec<Holiday>, CalendarError> {
    let mut out: Vec<(Holiday, &HolidayDef)> = Vec::new();
    for def in defs {
        let name = def.name.get_ref().trim();
        if name.is_empty() {
            return Err(src.error(&def.name, "a holiday needs a name".into()));
        }
        let from = parse_date(src, "from", &def.from)?;
        let to = parse_date(src, "to", &def.to)?;
        if to < from {
            return Err(src.error(
                &def.to,
                format!(
                    "holiday {name:?} ends ({}) before it starts ({})",
                    def.to.get_ref().0,
                    def.from.get_ref().0
                ),
            ));
        }
        if to - from >= MAX_HOLIDAY_DAYS {
            return Err(src.error(
                &def.to,
                format!("holiday {name:?} is longer than {MAX_HOLIDAY_DAYS} days: a typo?"),
            ));
        }
        let holiday = Holiday {
            name: name.to_string(),
            from,
            to,
        };
        out.push((holiday, def));
    }
    out.sort_by_key(|(h, _)| h.from);
    for pair in out.windows(2) {
        let ((a, _), (b, b_def)) = (&pair[0], &pair[1]);
        if b.from <= a.to {
            return Err(src.error(
                &b_def.from,
                format!("holiday {:?} overlaps holiday {:?}", b.name, a.name),
            ));
        }
    }
    Ok(out.into_iter().map(|(h, _)| h).collect())
}

pub(super) fn check_makeup(
    src: &Source,
    defs: &[Spanned<Text>],
    weekdays: &[bool; 7],
    holidays: &[Holiday],
) -> Result<Vec<i64>, CalendarError> {
    let mut out = Vec::with_capacity(defs.len());
    for def in defs {
        let day = parse_date(src, "makeup", def)?;
        let date = &def.get_ref().0;
        if weekday_rule(weekdays, day) {
            let weekday = date_of(day)
                .map(|d| d.weekday().to_string())
                .unwrap_or_default();
            return Err(src.error(
                def,
                format!(
                    "make-up day {date} is a {weekday}, a working weekday already: a make-up \
                     day (调休上班) is a weekend day that is worked"
                ),
            ));
        }
        if let Some(h) = holidays.iter().find(|h| (h.from..=h.to).contains(&day)) {
            return Err(src.error(
                def,
                format!("make-up day {date} falls in the holiday {:?}", h.name),
            ));
        }
        if out.contains(&day) {
            return Err(src.error(def, format!("make-up day {date} is listed twice")));
        }
        out.push(day);
    }
    out.sort_unstable();
    Ok(out)
}

/// `"+08:00"` / `"-05:30"`: a sign, two-digit hours, a colon, two-digit minutes.
pub(super) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let hours = two_digits(&b[1..3])?;
    let minutes = two_digits(&b[4..6])?;
    if minutes > 59 || hours * 60 + minutes > MAX_OFFSET_HOURS * 60 {
        return None;
    }
    FixedOffset::east_opt(i32::try_from(sign * (hours * 3600 + minutes * 60)).ok()?)
}

/// `"HH:MM"` from 00:00 to 24:00 as microseconds since midnight.
pub(super) fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let hours = two_digits(&b[0..2])?;
    let minutes = two_digits(&b[3..5])?;
    let ok = (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0);
    ok.then_some((hours * 60 + minutes) * MINUTE_US)
}

pub(super) fn show_time(us: i64) -> String {
    let minutes = us / MINUTE_US;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub(super) fn two_digits(b: &[u8]) -> Option<i64> {
    match b {
        [h @ b'0'..=b'9', l @ b'0'..=b'9'] => Some(i64::from((h - b'0') * 10 + (l - b'0'))),
        _ => None,
    }
}

/// A `"YYYY-MM-DD"` date (exactly that form) as a day number.
pub(super) fn parse_date(src: &Source, key: &str, s: &Spanned<Text>) -> Result<i64, CalendarError> {
    let text = &s.get_ref().0;
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .map(day_number)
        .ok_or_else(|| src.error(s, format!("{key} {text:?} is not a date YYYY-MM-DD")))
}
