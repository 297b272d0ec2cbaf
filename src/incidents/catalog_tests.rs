//! Tests of the category catalog: what a valid file resolves to (limits, codes), the
//! shipped catalog and its table in docs/catalog.md. Every error a file can have is in
//! `catalog_error_tests.rs`.

use super::*;

/// Acknowledge limits for every category, as the shipped catalog sets them.
pub(super) const DEFAULTS: &str = r#"
[defaults]
auto_dispatch = ["red", "orange"]

[defaults.limits.orange]
acknowledge = { urgent_hours = 0.25 }

[defaults.limits.default]
acknowledge = { working_hours = 0.5 }
"#;

/// A complete category with one handle limit for every severity.
pub(super) fn cat(kind: &str, code: &str) -> String {
    format!(
        r#"
[[category]]
code = "{code}"
kind = "{kind}"
name_zh = "名称"
name_en = "Name of {code}"
sector = "flood"
default_severity = "blue"
file_condition = "when to file"
close_condition = "when it is done"

[category.limits.default]
handle = {{ working_days = 1 }}
"#
    )
}

pub(super) fn parse(text: &str) -> Result<Catalog, CatalogErrors> {
    Catalog::parse(Path::new("rules/catalog.toml"), text)
}

pub(super) fn ok(text: &str) -> Catalog {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid catalog, got:\n{e}"),
    }
}

/// 1-based line of the first line containing `marker`.
pub(super) fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|l| l.contains(marker))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("marker {marker:?} not in the text"))
}

#[test]
fn a_valid_catalog_resolves_every_field() {
    let text = format!("{DEFAULTS}{}", cat("event", "0406"));
    let c = ok(&text);
    let w = c.get("0406").expect("0406");
    assert_eq!(w.kind, Kind::Event);
    assert_eq!(w.name_en, "Name of 0406");
    assert_eq!(w.sector, "flood");
    assert_eq!(w.default_severity, Severity::Blue);
    assert_eq!(w.file_condition, "when to file");
    assert_eq!(w.close_condition, "when it is done");
    assert_eq!(w.line, line_of(&text, "[[category]]"));
    assert_eq!(w.qualified_code(), "event:0406");
    assert!(w.is_standard());
    assert_eq!(c.major_of(w).map(|m| m.name_zh.as_str()), Some("突发事件"));
    assert!(w.auto_dispatch(Severity::Red) && w.auto_dispatch(Severity::Orange));
    assert!(!w.auto_dispatch(Severity::Yellow) && !w.auto_dispatch(Severity::Blue));
    assert_eq!(c.categories().len(), 1);
}

#[test]
fn limits_fall_back_to_less_severe_then_default_across_category_profile_and_defaults() {
    let text = format!(
        r#"{DEFAULTS}
[profile.cover]
sector = "manhole"
default_severity = "orange"
file_condition = "missing"
close_condition = "replaced"
auto_dispatch = ["red", "orange", "yellow"]

[profile.cover.limits.orange]
handle = {{ urgent_hours = 2 }}

[profile.cover.limits.default]
handle = {{ working_days = 1 }}

[[category]]
code = "0101"
kind = "component"
name_zh = "上水井盖"
name_en = "Water cover"
profile = "cover"

[[category]]
code = "manhole_cover"
kind = "component"
name_zh = "井盖异常"
name_en = "Cover monitor"
profile = "cover"
auto_dispatch = []

[category.limits.yellow]
handle = {{ working_hours = 4 }}

[[category]]
code = "0403"
kind = "event"
name_zh = "燃气管道破裂"
name_en = "Gas pipe break"
sector = "gas"
default_severity = "red"
file_condition = "gas"
close_condition = "fixed"

[category.limits.red]
acknowledge = {{ urgent_hours = 0.1 }}
handle = {{ urgent_hours = 2 }}

[category.limits.blue]
handle = {{ urgent_hours = 8 }}
"#
    );
    let c = ok(&text);
    let l = |code: &str, s| c.get(code).expect(code).limits(s);
    let urgent = TimeLimit::UrgentHours;

    // Only the profile sets `handle`: orange for red and orange, default below.
    assert_eq!(l("component:0101", Severity::Red).handle, urgent(2.0));
    assert_eq!(l("component:0101", Severity::Orange).handle, urgent(2.0));
    assert_eq!(
        l("component:0101", Severity::Yellow).handle,
        TimeLimit::WorkingDays(1)
    );
    // `acknowledge` from [defaults]: red falls back to orange, yellow and blue to default.
    assert_eq!(l("component:0101", Severity::Red).acknowledge, urgent(0.25));
    assert_eq!(
        l("component:0101", Severity::Blue).acknowledge,
        TimeLimit::WorkingHours(0.5)
    );

    // A severity set in any layer beats a less severe one: the profile's orange is red's
    // and orange's, though the category's own yellow is less severe and "closer".
    assert_eq!(l("manhole_cover", Severity::Red).handle, urgent(2.0));
    assert_eq!(l("manhole_cover", Severity::Orange).handle, urgent(2.0));
    assert_eq!(
        l("manhole_cover", Severity::Yellow).handle,
        TimeLimit::WorkingHours(4.0)
    );
    // Nothing at blue in any layer: `default`, the profile's.
    assert_eq!(
        l("manhole_cover", Severity::Blue).handle,
        TimeLimit::WorkingDays(1)
    );

    // Red's own; orange and yellow fall back to blue. Acknowledge: red's own; orange's
    // from [defaults], which sets orange, before the category's blue.
    assert_eq!(l("0403", Severity::Red).acknowledge, urgent(0.1));
    assert_eq!(l("0403", Severity::Red).handle, urgent(2.0));
    assert_eq!(l("0403", Severity::Orange).handle, urgent(8.0));
    assert_eq!(l("0403", Severity::Orange).acknowledge, urgent(0.25));
    assert_eq!(l("0403", Severity::Yellow).handle, urgent(8.0));
    assert_eq!(
        l("0403", Severity::Yellow).acknowledge,
        TimeLimit::WorkingHours(0.5)
    );

    // auto_dispatch: the category's, else the profile's, else [defaults]'.
    let auto = |code: &str| {
        let c = c.get(code).expect(code);
        SEVERITIES.map(|s| c.auto_dispatch(s))
    };
    assert_eq!(auto("0101"), [true, true, true, false]);
    assert_eq!(auto("manhole_cover"), [false; 4]);
    assert_eq!(auto("0403"), [true, true, false, false]);
    assert_eq!(
        c.get("0101").and_then(|c| c.profile.as_deref()),
        Some("cover")
    );
}

#[test]
fn a_bare_code_means_the_event_and_a_prefix_picks_the_kind() {
    let text = format!(
        "{DEFAULTS}{}{}{}",
        cat("component", "0102"),
        cat("event", "0102"),
        cat("component", "0118")
    );
    let c = ok(&text);
    assert_eq!(c.get("0102").map(|c| c.kind), Some(Kind::Event));
    assert_eq!(c.get("event:0102").map(|c| c.kind), Some(Kind::Event));
    assert_eq!(
        c.get("component:0102").map(|c| c.kind),
        Some(Kind::Component)
    );
    // Only a component has it: the bare code finds the component.
    assert_eq!(c.get("0118").map(|c| c.kind), Some(Kind::Component));
    assert!(c.get("event:0118").is_none());
    assert!(c.get("part:0102").is_none());
    assert!(c.get("0406").is_none());
    assert_eq!(
        c.get_kind(Kind::Component, "0102").map(|c| c.line),
        Some(line_of(&text, "[[category]]"))
    );
}

fn shipped() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/catalog.toml");
    match Catalog::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("the shipped catalog has errors:\n{e}"),
    }
}

#[test]
fn the_shipped_catalog_keeps_the_published_examples() {
    let c = shipped();
    let handle = |code: &str, s| c.get(code).expect(code).limits(s).handle;
    // Exposed garbage: 4 working hours.
    assert_eq!(handle("0102", Severity::Blue), TimeLimit::WorkingHours(4.0));
    // Missing sewer manhole cover (the hole open: orange): 2 hours, day and night.
    assert_eq!(
        handle("component:0102", Severity::Orange),
        TimeLimit::UrgentHours(2.0)
    );
    // Three street lamps out in a row: 1 working day.
    assert_eq!(handle("0118", Severity::Blue), TimeLimit::WorkingDays(1));
    // Illegal building: 15 working days.
    assert_eq!(
        handle("event:0101", Severity::Blue),
        TimeLimit::WorkingDays(15)
    );
    // The cases the brief names exist with their standard names.
    for (code, name) in [
        ("component:0101", "上水井盖"),
        ("component:0102", "污水井盖"),
        ("component:0103", "雨水井盖"),
        ("component:0111", "燃气井盖"),
        ("component:0118", "路灯"),
        ("event:0102", "暴露垃圾"),
        ("event:0302", "工地扬尘"),
        ("event:0401", "路面塌陷"),
        ("event:0403", "燃气管道破裂"),
        ("event:0406", "道路积水"),
        ("event:0501", "无照经营游商"),
        ("event:0505", "机动车乱停放"),
    ] {
        assert_eq!(
            c.get(code).map(|c| c.name_zh.as_str()),
            Some(name),
            "{code}"
        );
    }
}

/// Markdown for a time limit: `2 h 紧急`, `4 工作时`, `1 工作日`.
pub(super) fn show(t: TimeLimit) -> String {
    match t {
        TimeLimit::UrgentHours(h) if h < 1.0 => format!("{} min urgent", (h * 60.0).round()),
        TimeLimit::UrgentHours(h) => format!("{h} h urgent"),
        TimeLimit::WorkingHours(h) => format!("{h} working h"),
        TimeLimit::WorkingDays(d) => format!("{d} working d"),
    }
}

/// The table of shipped categories in docs/catalog.md, generated from the catalog.
fn table(c: &Catalog) -> String {
    let mut out = String::from(
        "| Key | 名称 | Name | Sector | Default | Red | Orange | Yellow | Blue | Auto-dispatch |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for cat in c.categories() {
        let cells: Vec<String> = SEVERITIES
            .iter()
            .map(|&s| {
                let l = cat.limits(s);
                format!("{} / {}", show(l.acknowledge), show(l.handle))
            })
            .collect();
        let auto: Vec<&str> = SEVERITIES
            .iter()
            .filter(|&&s| cat.auto_dispatch(s))
            .map(|s| s.as_str())
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            cat.qualified_code(),
            cat.name_zh,
            cat.name_en,
            cat.sector,
            cat.default_severity.as_str(),
            cells.join(" | "),
            if auto.is_empty() {
                "—".to_string()
            } else {
                auto.join(", ")
            },
        ));
    }
    out
}

#[test]
fn docs_show_the_shipped_catalog() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/catalog.md");
    let docs = std::fs::read_to_string(docs).unwrap_or_default();
    let table = table(&shipped());
    assert!(
        docs.contains(&table),
        "docs/catalog.md does not show the shipped catalog; its table should read:\n\n{table}"
    );
}
