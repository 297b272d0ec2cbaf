//! The evaluation figures (综合评价, `docs/evaluation.md`) over a history made of real
//! moves (`incidents::act`): every count, rate, mean and p90 against a hand computation.
//!
//! The period is [T0, T0 + 10 days). Departments `water` (staff wu) and `roads` (staff lu);
//! districts d1 and d2 (street d1-s1, d2-s1). Dispatcher zhang files A–C, dispatcher qian
//! D–F and J; zhang dispatches, verifies and closes; duty officer li grants, suspends and
//! supervises by hand; grid worker wang (d1-g1) sends C back; `system` escalates overdue
//! incidents as the desk does. Times are after T0 (h = hour, d = day, m = minute):
//!
//! | | district, dept | filed | dispatch → ack | due | what happens | closed |
//! |---|---|---|---|---|---|---|
//! | A | d1 water | 1h zhang | 1h10m → 1h40m (1800 s) | 1d | li supervises by hand at 3h | 5h, on time |
//! | B | d1 water | 2h zhang | 2h10m → 3h10m (3600 s) | 1d | system escalates at 1d1m | 2d, late |
//! | C | d1 roads | 3h zhang | 3h10m → 3h20m (600 s) | 2d | reworked (wang) at 6h | 1d, on time |
//! | D | d2 roads | 4h qian | 4h10m → 4h30m (1200 s) | 1d → 3d | extension granted 20h | 2d, on time |
//! | E | d2 water | 5h qian | 5h10m → 5h40m (1800 s) | 1d | system escalates at 1d1m | open |
//! | F | d2 roads | 6h qian | 6h10m → 6h20m (600 s) | 2d | suspended by li at 1d | open |
//! | G | d1 water | −3d zhang | −3d (outside) | 12h | | 6h, on time |
//! | H | d2 roads | 11d (after the period) | | | | 11d2h |
//! | I | d1 — | never filed | | | a rule closes it at 2h | (not a case) |
//! | J | d2 roads | 7h qian | 7h10m, never acknowledged | 8h | rule:flood auto-closes at 9h | 9h, late (its due, 8h, still in force) |

use super::*;
use cityops::incidents::lifecycle::{Command, DueTimes};
use cityops::model::{Actor, Role};
use cityops::store::{EvaluationGroup, EvaluationRow, EvaluationScope};

const M: i64 = 60 * SEC;
const H: i64 = 3600 * SEC;
const FROM: i64 = T0;
const TO: i64 = T0 + 10 * DAY;

fn person(role: Role, id: &str, department: Option<&str>, grid: Option<&str>) -> Actor {
    Actor {
        id: id.into(),
        role,
        district: None,
        street: None,
        department: department.map(str::to_owned),
        grids: grid.into_iter().map(str::to_owned).collect(),
    }
}

struct People {
    zhang: Actor,
    qian: Actor,
    li: Actor,
    wu: Actor,
    lu: Actor,
    wang: Actor,
    system: Actor,
}

fn people() -> People {
    People {
        zhang: person(Role::Dispatcher, "zhang", None, None),
        qian: person(Role::Dispatcher, "qian", None, None),
        li: person(Role::DutyOfficer, "li", None, None),
        wu: person(Role::Department, "wu", Some("water"), None),
        lu: person(Role::Department, "lu", Some("roads"), None),
        wang: person(Role::GridWorker, "wang", None, Some("d1-g1")),
        system: Actor::system(),
    }
}

/// An incident: its key, district, when it was opened and its handling due time.
type Case<'a> = (&'a str, &'a str, i64, i64);
/// A move: when, by whom, what.
type Step<'a> = (i64, &'a Actor, Command);

/// Opens the incident and makes the moves, each at its time, with the acknowledge due 1 h
/// after it was opened and the handling due as the case says.
async fn history(store: &SharedStore, case: Case<'_>, steps: &[Step<'_>]) {
    let (key, district, opened, handle_due) = case;
    let (inc, _) = store
        .open_incident(&new_incident(key, district, opened))
        .await
        .unwrap();
    let due = DueTimes {
        acknowledge: Some(Timestamp(opened + H)),
        handle: Some(Timestamp(handle_due)),
    };
    for (at, who, command) in steps {
        act(store, inc.id, who, command, None, Timestamp(*at), |_| due)
            .await
            .unwrap_or_else(|e| panic!("{key}: {} by {}: {e}", command.name(), who.id));
    }
}

fn dispatch(department: &str) -> Command {
    Command::Dispatch {
        department: department.into(),
    }
}

fn feedback() -> Command {
    Command::Feedback {
        note: "fixed".into(),
    }
}

fn supervise(note: &str) -> Command {
    Command::Supervise { note: note.into() }
}

fn rework(reason: &str) -> Command {
    Command::Rework {
        reason: reason.into(),
    }
}

fn suspend(reason: &str) -> Command {
    Command::Suspend {
        reason: reason.into(),
    }
}

fn extension(until: i64) -> Command {
    Command::RequestExtension {
        until: Timestamp(until),
        reason: "asphalt plant closed".into(),
    }
}

/// The histories of the table above.
async fn city_history(store: &SharedStore) {
    let p = people();
    let (zhang, qian, li, wu, lu, wang, system) =
        (&p.zhang, &p.qian, &p.li, &p.wu, &p.lu, &p.wang, &p.system);
    let file = || Command::File { note: None };
    let (ack, start) = (|| Command::Acknowledge {}, || Command::Start {});
    let (verify, close) = (
        || Command::Verify { note: None },
        || Command::Close { note: None },
    );
    // The desk's escalation of an incident past its due time.
    let overdue = || supervise("overdue: supervised by the street center");
    let t = |offset: i64| T0 + offset;
    #[rustfmt::skip]
    let cases: Vec<(Case, Vec<Step>)> = vec![
        (("A", "d1", t(0), t(DAY)), vec![
            (t(H), zhang, file()),
            (t(H + 10 * M), zhang, dispatch("water")),
            (t(H + 40 * M), wu, ack()),
            (t(2 * H), wu, start()),
            (t(3 * H), li, supervise("hurry: a school nearby")),
            (t(4 * H), wu, feedback()),
            (t(4 * H + 30 * M), zhang, verify()),
            (t(5 * H), zhang, close()),
        ]),
        (("B", "d1", t(H), t(DAY)), vec![
            (t(2 * H), zhang, file()),
            (t(2 * H + 10 * M), zhang, dispatch("water")),
            (t(3 * H + 10 * M), wu, ack()),
            (t(4 * H), wu, start()),
            (t(DAY + M), system, overdue()),
            (t(DAY + 5 * H), wu, feedback()),
            (t(DAY + 6 * H), zhang, verify()),
            (t(2 * DAY), zhang, close()),
        ]),
        (("C", "d1", t(2 * H), t(2 * DAY)), vec![
            (t(3 * H), zhang, file()),
            (t(3 * H + 10 * M), zhang, dispatch("roads")),
            (t(3 * H + 20 * M), lu, ack()),
            (t(4 * H), lu, start()),
            (t(5 * H), lu, feedback()),
            (t(6 * H), wang, rework("still cracked")),
            (t(7 * H), lu, start()),
            (t(10 * H), lu, feedback()),
            (t(12 * H), zhang, verify()),
            (t(DAY), zhang, close()),
        ]),
        (("D", "d2", t(3 * H), t(DAY)), vec![
            (t(4 * H), qian, file()),
            (t(4 * H + 10 * M), zhang, dispatch("roads")),
            (t(4 * H + 30 * M), lu, ack()),
            (t(5 * H), lu, start()),
            (t(10 * H), lu, extension(t(3 * DAY))),
            (t(20 * H), li, Command::GrantExtension {}),
            (t(DAY + 20 * H), lu, feedback()),
            (t(DAY + 22 * H), zhang, verify()),
            (t(2 * DAY), zhang, close()),
        ]),
        (("E", "d2", t(4 * H), t(DAY)), vec![
            (t(5 * H), qian, file()),
            (t(5 * H + 10 * M), zhang, dispatch("water")),
            (t(5 * H + 40 * M), wu, ack()),
            (t(6 * H), wu, start()),
            (t(DAY + M), system, overdue()),
        ]),
        (("F", "d2", t(5 * H), t(2 * DAY)), vec![
            (t(6 * H), qian, file()),
            (t(6 * H + 10 * M), zhang, dispatch("roads")),
            (t(6 * H + 20 * M), lu, ack()),
            (t(DAY), li, suspend("waiting for the metro works")),
        ]),
        (("G", "d1", t(-4 * DAY), t(12 * H)), vec![
            (t(-3 * DAY), zhang, file()),
            (t(-3 * DAY + 10 * M), zhang, dispatch("water")),
            (t(-3 * DAY + 20 * M), wu, ack()),
            (t(-2 * DAY), wu, start()),
            (t(4 * H), wu, feedback()),
            (t(5 * H), zhang, verify()),
            (t(6 * H), zhang, close()),
        ]),
        (("H", "d2", t(11 * DAY), t(12 * DAY)), vec![
            (t(11 * DAY), qian, file()),
            (t(11 * DAY + 10 * M), zhang, dispatch("roads")),
            (t(11 * DAY + 20 * M), lu, ack()),
            (t(11 * DAY + 30 * M), lu, start()),
            (t(11 * DAY + H), lu, feedback()),
            (t(11 * DAY + 90 * M), zhang, verify()),
            (t(11 * DAY + 2 * H), zhang, close()),
        ]),
    ];
    for (case, steps) in &cases {
        history(store, *case, steps).await;
    }
    // I: raised and closed by a rule without ever being filed: not a case.
    store
        .open_incident(&new_incident("I", "d1", t(H)))
        .await
        .unwrap();
    store
        .clear_incident("I", Timestamp(t(2 * H)), true)
        .await
        .unwrap();
    // J: filed and dispatched (acknowledge due at 8h), then its rule closes it when the
    // condition clears.
    let (j, _) = store
        .open_incident(&NewIncident {
            rule: Some("flood".into()),
            ..new_incident("J", "d2", t(6 * H))
        })
        .await
        .unwrap();
    let due = |_: &Incident| DueTimes {
        acknowledge: Some(Timestamp(t(8 * H))),
        handle: None,
    };
    for (at, who, command) in [
        (t(7 * H), qian, file()),
        (t(7 * H + 10 * M), zhang, dispatch("roads")),
    ] {
        act(store, j.id, who, &command, None, Timestamp(at), due)
            .await
            .unwrap();
    }
    store
        .clear_incident("J", Timestamp(t(9 * H)), true)
        .await
        .unwrap();
}

/// The rows as lines: `group | filed due closed on-time rework extended overdue suspended
/// | 结案率 按期结案率 返工率 | ack mean, ack p90, close mean, close p90 (s)`, `-` for none.
fn table(rows: &[EvaluationRow]) -> Vec<String> {
    let opt = |v: Option<f64>, decimals: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
    };
    rows.iter()
        .map(|r| {
            format!(
                "{} | {} {} {} {} {} {} {} {} | {} {} {} | {} {} {} {}",
                r.group.as_deref().unwrap_or("-"),
                r.filed,
                r.due,
                r.closed,
                r.closed_on_time,
                r.rework,
                r.extended,
                r.overdue,
                r.suspended,
                opt(r.closure_rate, 4),
                opt(r.on_time_rate, 4),
                opt(r.rework_rate, 4),
                opt(r.acknowledge_mean_secs, 1),
                opt(r.acknowledge_p90_secs, 1),
                opt(r.close_mean_secs, 1),
                opt(r.close_p90_secs, 1),
            )
        })
        .collect()
}

async fn evaluate(
    store: &SharedStore,
    by: EvaluationGroup,
    scope: &EvaluationScope,
) -> Vec<String> {
    let rows = store
        .evaluation(Timestamp(FROM), Timestamp(TO), by, scope)
        .await
        .unwrap();
    table(&rows)
}

pub async fn evaluation_figures_by_department_and_area(store: SharedStore) {
    city_history(&store).await;
    let all = EvaluationScope::default();

    // water = A, B, E, G (J, H, I elsewhere or outside).
    //   filed A, B, E = 3 (G before the period); due: closed A, B, G + open E (due 1d) = 4;
    //   closed A, B, G = 3; on time A, G = 2 (B escalated by the system, A only by hand);
    //   overdue B (closed late) + E (open past its due) = 2.
    //   结案率 3/(4−0) = 0.75, 按期结案率 2/4 = 0.5, 返工率 0/3 = 0.
    //   ack A 1800, B 3600, E 1800 (G's before the period): mean 2400; p90 at position
    //   0.9×2 = 1.8 of [1800, 1800, 3600] = 1800 + 0.8×1800 = 3240.
    //   close (filed → closed) A 4h = 14400, B 2d−2h = 165600, G 3d6h = 280800:
    //   mean 153600; p90 = 165600 + 0.8×115200 = 257760.
    // roads = C, D, F, J (H after the period).
    //   filed 4; due: closed C, D, J + open F (due 2d) = 4; closed 3; on time C, D = 2
    //   (J closed at 9h, past the acknowledge due time of 8h in force when it closed);
    //   rework C = 1; extended D = 1; overdue J = 1; suspended F = 1.
    //   结案率 3/(4−1) = 1, 按期结案率 2/3, 返工率 1/3.
    //   ack C 600, D 1200, F 600 (J never): mean 800; p90 = 600 + 0.8×600 = 1080.
    //   close C 1d−3h = 75600, D 2d−4h = 158400, J 2h = 7200: mean 80400;
    //   p90 of [7200, 75600, 158400] = 75600 + 0.8×82800 = 141840.
    assert_eq!(
        evaluate(&store, EvaluationGroup::Department, &all).await,
        [
            "roads | 4 4 3 2 1 1 1 1 | 1.0000 0.6667 0.3333 | 800.0 1080.0 80400.0 141840.0",
            "water | 3 4 3 2 0 0 2 0 | 0.7500 0.5000 0.0000 | 2400.0 3240.0 153600.0 257760.0",
        ]
    );

    // d1 = A, B, C, G: filed 3; due 4 (all closed); closed 4; on time A, C, G = 3;
    //   rework 1; overdue B = 1. 结案率 4/4, 按期 3/4, 返工率 1/4.
    //   ack A 1800, B 3600, C 600: mean 2000, p90 = 1800 + 0.8×1800 = 3240.
    //   close 14400, 165600, 75600, 280800: mean 134100; p90 at 0.9×3 = 2.7 of the sorted
    //   [14400, 75600, 165600, 280800] = 165600 + 0.7×115200 = 246240.
    // d2 = D, E, F, J: filed 4; due D, J (closed) + E, F (open) = 4; closed D, J = 2, on
    //   time D = 1; extended 1; overdue E, J = 2; suspended F = 1. 结案率 2/(4−1), 按期 1/3,
    //   返工率 0/2. ack D 1200, E 1800, F 600: mean 1200, p90 = 1200 + 0.8×600 = 1680.
    //   close D 158400, J 7200: mean 82800, p90 = 7200 + 0.9×151200 = 143280.
    let d1 = "| 3 4 4 3 1 0 1 0 | 1.0000 0.7500 0.2500 | 2000.0 3240.0 134100.0 246240.0";
    let d2 = "| 4 4 2 1 0 1 2 1 | 0.6667 0.3333 0.0000 | 1200.0 1680.0 82800.0 143280.0";
    assert_eq!(
        evaluate(&store, EvaluationGroup::District, &all).await,
        [format!("d1 {d1}"), format!("d2 {d2}")]
    );
    // Each district has one street here: the same figures.
    assert_eq!(
        evaluate(&store, EvaluationGroup::Street, &all).await,
        [format!("d1-s1 {d1}"), format!("d2-s1 {d2}")]
    );
}

pub async fn evaluation_figures_by_post_scope_and_bounds(store: SharedStore) {
    city_history(&store).await;
    let all = EvaluationScope::default();

    // By post each event counts for its actor; due, overdue and suspended for whoever
    // acknowledged the incident. Rates are not given by post.
    //   The system auto-closed J (7200 s), late. li granted D's extension. lu acknowledged C, D, F
    //   (due 3, suspended F; ack 600, 1200, 600). qian filed D, E, F, J. wang sent C back.
    //   wu acknowledged A, B, E, G (due 4, overdue B and E; ack 1800, 3600, 1800).
    //   zhang filed A, B, C, closed A, B, C, D, G (on time all but B): close times 14400,
    //   165600, 75600, 158400, 280800, mean 138960, p90 at 3.6 of the sorted =
    //   165600 + 0.6×115200 = 234720. J's due and its lateness have nobody: it was never
    //   acknowledged.
    assert_eq!(
        evaluate(&store, EvaluationGroup::Post, &all).await,
        [
            "system | 0 0 1 0 0 0 0 0 | - - - | - - 7200.0 7200.0",
            "user:li | 0 0 0 0 0 1 0 0 | - - - | - - - -",
            "user:lu | 0 3 0 0 0 0 0 1 | - - - | 800.0 1080.0 - -",
            "user:qian | 4 0 0 0 0 0 0 0 | - - - | - - - -",
            "user:wang | 0 0 0 0 1 0 0 0 | - - - | - - - -",
            "user:wu | 0 4 0 0 0 0 2 0 | - - - | 2400.0 3240.0 - -",
            "user:zhang | 3 0 5 4 0 0 0 0 | - - - | - - 138960.0 234720.0",
            "- | 0 1 0 0 0 0 1 0 | - - - | - - - -",
        ]
    );

    // A district center sees its district's incidents only: d2 = D, F, J (roads; J late) and E
    // (water: filed, due, overdue; acknowledged in 1800 s).
    let d2 = EvaluationScope {
        district: Some("d2".into()),
        ..Default::default()
    };
    let rows = evaluate(&store, EvaluationGroup::Department, &d2).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(
        rows[0].starts_with("roads | 3 3 2 1 0 1 1 1 "),
        "{}",
        rows[0]
    );
    assert_eq!(
        rows[1],
        "water | 1 1 0 0 0 0 1 0 | 0.0000 0.0000 - | 1800.0 1800.0 - -"
    );
    // A department's staff see its incidents only, here split by district: roads in d1 =
    // C (reworked once); in d2 = D, F, J.
    let roads = EvaluationScope {
        department: Some("roads".into()),
        ..Default::default()
    };
    let rows = evaluate(&store, EvaluationGroup::District, &roads).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(
        rows[0],
        "d1 | 1 1 1 1 1 0 0 0 | 1.0000 1.0000 1.0000 | 600.0 600.0 75600.0 75600.0"
    );
    assert!(rows[1].starts_with("d2 | 3 3 2 1 0 1 1 1 "), "{}", rows[1]);

    // The period is half-open: in [T0, T0 + 5h) A's close (at 5h) and E's filing (at 5h)
    // fall outside; G closes at 6h. water filed A, B; nothing closed, nothing due (no
    // rates); acknowledged A in 1800 s, B in 3600 s.
    let rows = store
        .evaluation(
            Timestamp(FROM),
            Timestamp(T0 + 5 * H),
            EvaluationGroup::Department,
            &all,
        )
        .await
        .unwrap();
    let rows = table(&rows);
    assert_eq!(
        rows.last().map(String::as_str),
        Some("water | 2 0 0 0 0 0 0 0 | - - - | 2700.0 3420.0 - -")
    );
    // Nothing at all in an empty period.
    let before = store
        .evaluation(
            Timestamp(T0 - 20 * DAY),
            Timestamp(T0 - 10 * DAY),
            EvaluationGroup::Post,
            &all,
        )
        .await
        .unwrap();
    assert!(before.is_empty(), "{before:#?}");
}
