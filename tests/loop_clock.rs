//! One incident through the whole closed loop on a controlled clock, on SQLite and on
//! PostgreSQL, against an in-process server with the shipped catalog, routing and
//! calendar: a grid worker reports exposed garbage on a Friday afternoon, it is dispatched
//! to the wrong department and returned, dispatched again, acknowledged, extended, handled,
//! sent back for rework; the department does not finish the rework before its (extended)
//! due time on Monday, so the desk escalates it (督办) — first the street center, a reminder
//! later the district center — before it is fed back, verified and closed, and the week's
//! evaluation counts it late.

mod common;

use cityops::clock::ManualClock;
use cityops::model::Timestamp;
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Generous: on the Monday jump the desk also files and dispatches the 3 000 sensors the
/// shipped device-offline rule reports, one by one, before its next escalation round
/// (about 14 s on a local PostgreSQL).
const WAIT: Duration = Duration::from_secs(120);
/// A grid of street S-00-00 in district D-0: exposed garbage (0102) routes to the district's
/// sanitation station there (S-01-00 has a street route of its own).
const GRID: &str = "G-00-00";

/// Local time of the shipped calendar (+08:00).
fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{s}+08:00")).expect("a local time")
}

fn cmd(name: &str) -> Value {
    json!({ "command": name })
}

/// A command with its one text field (`reason`, `note`, `department`).
fn with(name: &str, field: &str, text: &str) -> Value {
    json!({ "command": name, field: text })
}

struct Api {
    base: String,
    users: HashMap<&'static str, reqwest::Client>,
}

impl Api {
    /// GET when `body` is `None`, else POST it.
    async fn call(&self, who: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let req = match body {
            None => self.users[who].get(url),
            Some(b) => self.users[who].post(url).json(&b),
        };
        let r = req.send().await.expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, who: &str, path: &str) -> (u16, Value) {
        self.call(who, path, None).await
    }
    async fn act(&self, who: &str, id: &str, body: Value) -> (u16, Value) {
        let path = format!("/api/v1/incidents/{id}/actions");
        self.call(who, &path, Some(body)).await
    }
    /// `who` gives the command and it succeeds: the incident after it.
    async fn ok(&self, who: &str, id: &str, body: Value) -> Value {
        let (status, v) = self.act(who, id, body.clone()).await;
        assert_eq!(status, 200, "{who}: {body}: {v}");
        v
    }
    async fn incident(&self, id: &str) -> Value {
        let (status, v) = self.get("duty", &format!("/api/v1/incidents/{id}")).await;
        assert_eq!(status, 200, "{v}");
        v
    }
    async fn supervisions(&self, id: &str) -> Vec<Value> {
        let (_, v) = self
            .get("duty", &format!("/api/v1/incidents/{id}/events"))
            .await;
        let events = v.as_array().expect("events").iter();
        events
            .filter(|e| e["action"] == "supervise")
            .cloned()
            .collect()
    }
    /// Waits until the desk has escalated `id` `n` times.
    async fn escalated(&self, id: &str, n: i64) -> Vec<Value> {
        eventually(&format!("escalation #{n} of {id}"), WAIT, || async {
            let i = self.incident(id).await;
            (i["supervision"].as_i64() >= Some(n)).then_some(())
        })
        .await;
        self.supervisions(id).await
    }
}

async fn scenario(database_url: Option<String>) {
    let data = tempfile::tempdir().expect("tempdir");
    // Friday 2026-11-27, an ordinary week (no holiday or make-up day near it).
    let clock = ManualClock::new(local("2026-11-27T16:00:00"));
    let mut config = cityops::config::Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
    config.city.dir = demo_city();
    config.rules.dir = repo().join("rules");
    config.desk.scan_secs = 1;
    config.desk.reminder_minutes = 60;
    let mut env = Vec::new();
    if let Some(url) = &database_url {
        config.database.url = url.clone();
        env.push(("CITYOPS_DATABASE_URL".to_string(), url.clone()));
    }
    let people: [(&str, &[&str]); 7] = [
        ("grid", &["--role", "grid_worker", "--grid", GRID]),
        ("dispatcher", &["--role", "dispatcher"]),
        ("duty", &["--role", "duty_officer"]),
        ("cityman", &["--role=department", "--department=cityman-d0"]),
        (
            "sanitation",
            &["--role=department", "--department=sanitation-d0"],
        ),
        ("d1", &["--role", "dispatcher", "--district", "D-1"]),
        ("wall", &["--role", "wall"]),
    ];
    for (name, args) in people {
        add_user(data.path(), &env, name, args);
    }
    let running = cityops::server::start(cityops::server::ServeOptions {
        config,
        data_dir: data.path().to_path_buf(),
        clock: clock.clone(),
    })
    .await
    .expect("start");
    let http = running.http_addr;
    let sign_in = || async move {
        let mut users = HashMap::new();
        for (name, _) in people {
            let token = tokio::task::spawn_blocking(move || login(http, name, TEST_PASSWORD))
                .await
                .unwrap()
                .expect("login");
            users.insert(name, client_with(&token));
        }
        users
    };
    let mut api = Api {
        base: format!("http://{http}"),
        users: sign_in().await,
    };
    // Each step happens at its own minute. The shipped device-offline rule reports every
    // silent sensor 10 minutes after the start (3 000 of them), so Friday's steps stay
    // before 16:10 and the weekend jump lands them on Monday, due later than our checks.
    let at = |t: &str| clock.set(local(&format!("2026-11-27T{t}")));

    // 16:00 The grid worker reports exposed garbage on patrol in their grid; and, as a
    // probe of the desk's rounds (below), unlicensed vending there.
    let report = |category: &str, description: &str| {
        let body =
            json!({"category": category, "location": {"grid": GRID}, "description": description});
        api.call("grid", "/api/v1/reports", Some(body))
    };
    let (status, incident) = report("0102", "垃圾桶满溢，垃圾散落路边").await;
    assert_eq!(status, 201, "{incident}");
    assert_eq!(incident["status"], "discovered");
    assert_eq!(incident["severity"], "blue"); // 0102's default: not auto-dispatched
    assert_eq!(incident["source"], "report:grid");
    assert_eq!(incident["location"]["district"], "D-0");
    let id = incident["id"].as_str().unwrap().to_owned();
    let (status, probe) = report("0501", "路口有流动摊贩").await;
    assert_eq!(status, 201, "{probe}");
    let probe = probe["id"].as_str().unwrap().to_owned();

    // Nobody outside the center's D-0 jurisdiction or without the role gives commands.
    let (status, _) = api.get("d1", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, 404, "another district's center does not see it");
    let (status, _) = api.get("wall", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, 200, "the wall sees it");
    // Out of scope is as for an unknown id (404); in scope without the role, 403.
    for (who, expected) in [
        ("wall", 403),
        ("d1", 404),
        ("grid", 403),
        ("sanitation", 404),
    ] {
        let (status, v) = api.act(who, &id, cmd("file")).await;
        assert_eq!(status, expected, "{who} filing: {v}");
    }

    at("16:01:00");
    api.ok("dispatcher", &id, cmd("file")).await;
    api.ok("dispatcher", &probe, cmd("file")).await;
    at("16:02:00");
    let to_cityman = with("dispatch", "department", "cityman-d0");
    let v = api.ok("dispatcher", &id, to_cityman.clone()).await;
    assert_eq!(v["department"], "cityman-d0");
    api.ok("dispatcher", &probe, to_cityman).await;
    let (status, v) = api.act("sanitation", &id, cmd("acknowledge")).await;
    assert_eq!(status, 404, "not sanitation's yet, so unknown to it: {v}");

    at("16:03:00");
    let v = api
        .ok("cityman", &id, with("return", "reason", "归环卫所"))
        .await;
    assert_eq!(v["status"], "returned"); // blue 0102: the desk does not re-dispatch it
    assert_eq!(v["department"], Value::Null);
    assert_eq!(v["due_at"], Value::Null);
    // The probe: acknowledged, so its handling time runs out on Monday morning:
    // 2 working hours from dispatch at Fri 16:02 = 1 h 28 min to 17:30, then 32 min from
    // Mon 08:30 = Mon 09:02.
    let v = api.ok("cityman", &probe, cmd("acknowledge")).await;
    assert_eq!(v["due_at"], local("2026-11-30T09:02:00").to_rfc3339());

    at("16:04:00");
    let to_sanitation = with("dispatch", "department", "sanitation-d0");
    let v = api.ok("dispatcher", &id, to_sanitation).await;
    // 签收: half a working hour ([defaults.limits.default]) from Fri 16:04, inside the
    // afternoon period 13:30–17:30: Fri 16:34.
    assert_eq!(v["due_at"], local("2026-11-27T16:34:00").to_rfc3339());
    assert_eq!(v["status"], "dispatched");
    for body in [cmd("acknowledge"), cmd("start")] {
        let (status, v) = api.act("cityman", &id, body.clone()).await;
        assert_eq!(status, 404, "cityman after returning it: {body}: {v}");
    }
    let (status, _) = api.get("cityman", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, 404, "no longer cityman's to see");

    at("16:05:00");
    let v = api.ok("sanitation", &id, cmd("acknowledge")).await;
    // 处置: 4 working hours (0102's published limit) from the dispatch at Fri 16:04:
    // 1 h 26 min to 17:30; Saturday and Sunday do not count; 2 h 34 min from Mon 08:30 =
    // Mon 2026-11-30 11:04.
    assert_eq!(v["due_at"], local("2026-11-30T11:04:00").to_rfc3339());

    at("16:06:00");
    let until = local("2026-11-30T14:00:00");
    let ask = json!({"command": "request_extension", "until": until.to_rfc3339(), "reason": "清运车周末检修"});
    let v = api.ok("sanitation", &id, ask).await;
    assert_eq!(v["status"], "acknowledged");
    assert_eq!(v["extension_requested"], until.to_rfc3339());
    let (status, _) = api.act("sanitation", &id, cmd("grant_extension")).await;
    assert_eq!(status, 403, "a department does not grant its own extension");
    at("16:06:30");
    let v = api.ok("duty", &id, cmd("grant_extension")).await;
    assert_eq!(v["due_at"], until.to_rfc3339(), "moved by the grant");
    assert_eq!(v["extension_requested"], Value::Null);

    at("16:07:00");
    api.ok("sanitation", &id, cmd("start")).await;
    at("16:07:30");
    api.ok("sanitation", &id, with("feedback", "note", "已清运"))
        .await;
    at("16:08:00");
    let (status, _) = api.act("wall", &id, with("rework", "reason", "x")).await;
    assert_eq!(status, 403);
    let (status, _) = api.act("d1", &id, with("rework", "reason", "x")).await;
    assert_eq!(
        status, 404,
        "another district's center: as for an unknown id"
    );
    api.ok("grid", &id, with("rework", "reason", "桶边仍有垃圾"))
        .await;
    at("16:08:30");
    let v = api.ok("sanitation", &id, cmd("start")).await;
    assert_eq!(v["due_at"], until.to_rfc3339(), "rework keeps the due time");
    assert_eq!(v["status"], "handling");
    assert_eq!(v["supervision"], 0);

    // The department does not finish it before the weekend. Monday, one second before the due time: the desk runs at that
    // time (its round escalates the probe, due at 09:02, and its event carries the clock's
    // time) and leaves our incident alone.
    let just_before = local("2026-11-30T13:59:59");
    clock.set(just_before);
    // Sessions end after 12 idle hours (auth.session_hours) on the server's clock: on
    // Monday everyone signs in again.
    let (status, _) = api.get("duty", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, 401, "Friday's session is over");
    api.users = sign_in().await;
    let probed = api.escalated(&probe, 1).await;
    assert_eq!(probed[0]["at"], just_before.to_rfc3339(), "{probed:?}");
    assert_eq!(probed[0]["actor"], "system");
    let note = probed[0]["note"].as_str().unwrap();
    assert!(note.starts_with("overdue by 297 min"), "{note}");
    assert!(api.supervisions(&id).await.is_empty(), "not due yet");
    assert_eq!(api.incident(&id).await["supervision"], 0);

    // Five minutes past the due time: the street center supervises it.
    clock.set(local("2026-11-30T14:05:00"));
    let sup = api.escalated(&id, 1).await;
    assert_eq!(sup.len(), 1, "{sup:?}");
    assert_eq!(sup[0]["actor"], "system");
    assert_eq!(sup[0]["at"], local("2026-11-30T14:05:00").to_rfc3339());
    assert_eq!(sup[0]["from"], "handling");
    assert_eq!(sup[0]["to"], "handling");
    let note = sup[0]["note"].as_str().unwrap();
    assert!(note.contains("overdue by 5 min"), "{note}");
    assert!(note.contains("street center"), "{note}");
    assert!(note.contains(&until.to_rfc3339()), "{note}");

    // One reminder (60 min) after the due time, nobody having moved it: the district's.
    clock.set(local("2026-11-30T15:05:00"));
    let sup = api.escalated(&id, 2).await;
    assert_eq!(sup.len(), 2, "{sup:?}");
    assert_eq!(sup[1]["actor"], "system");
    assert_eq!(sup[1]["at"], local("2026-11-30T15:05:00").to_rfc3339());
    let note = sup[1]["note"].as_str().unwrap();
    assert!(note.contains("overdue by 65 min"), "{note}");
    assert!(note.contains("district center"), "{note}");

    clock.set(local("2026-11-30T15:08:00"));
    api.ok("sanitation", &id, with("feedback", "note", "已清运并冲洗"))
        .await;
    clock.set(local("2026-11-30T15:10:00"));
    api.ok("grid", &id, with("verify", "note", "现场整洁"))
        .await;
    let (status, _) = api.act("sanitation", &id, cmd("close")).await;
    assert_eq!(status, 403);
    clock.set(local("2026-11-30T15:15:00"));
    let v = api.ok("dispatcher", &id, cmd("close")).await;
    assert_eq!(v["status"], "closed");
    assert_eq!(
        v["due_at"],
        until.to_rfc3339(),
        "the due time in force when it closed"
    );
    assert_eq!(v["closed_at"], local("2026-11-30T15:15:00").to_rfc3339());
    assert_eq!(v["supervision"], 2);

    let (status, events) = api
        .get("dispatcher", &format!("/api/v1/incidents/{id}/events"))
        .await;
    assert_eq!(status, 200);
    let events = events.as_array().expect("events").iter();
    let log: String = events
        .map(|e| format!("{} {}\n", e["action"], e["actor"]).replace('"', ""))
        .collect();
    // `opened` is logged as `system` although the grid worker's report opened it: the
    // reporter is only in `source` (`report:grid`) and the report record.
    let want = "opened system
file user:dispatcher
dispatch user:dispatcher
return user:cityman
dispatch user:dispatcher
acknowledge user:sanitation
request_extension user:sanitation
grant_extension user:duty
start user:sanitation
feedback user:sanitation
rework user:grid
start user:sanitation
supervise system
supervise system
feedback user:sanitation
verify user:grid
close user:dispatcher
";
    assert_eq!(log, want);

    // The evaluation of the seven days from Friday (evaluated up to now; an event exactly
    // at `to` belongs to the next period, so the clock moves past the closing first).
    clock.set(local("2026-11-30T15:20:00"));
    let from = "2026-11-27T00:00:00%2B08:00";
    let to = "2026-12-04T00:00:00%2B08:00";
    let path = format!("/api/v1/evaluation?from={from}&to={to}&by=department");
    let (status, eval) = api.get("duty", &path).await;
    assert_eq!(status, 200, "{eval}");
    let rows = eval["rows"].as_array().expect("rows");
    let row = |g: &str| rows.iter().find(|r| r["group"] == g).cloned().expect(g);
    let r = row("sanitation-d0");
    let counts = "filed due closed closed_on_time rework extended overdue suspended";
    let figures = |r: &Value| -> Vec<i64> {
        let names = counts.split(' ');
        names.map(|f| r[f].as_i64().expect(f)).collect()
    };
    // Filed and closed in the period (so due); sent back once; extended once; supervised
    // by `system` after its last dispatch and grant and before closing: late, so overdue
    // and not closed on time.
    assert_eq!(figures(&r), [1, 1, 1, 0, 1, 1, 1, 0], "{counts}: {r}");
    assert_eq!(r["closure_rate"], 1.0);
    assert_eq!(r["on_time_rate"], 0.0);
    assert_eq!(r["rework_rate"], 1.0);
    // Acknowledged at 16:05, a minute after its latest dispatch.
    assert_eq!(r["acknowledge_mean_secs"], 60.0);
    assert_eq!(r["acknowledge_p90_secs"], 60.0);
    // Filed Fri 16:01, closed Mon 15:15: 3 days less 46 minutes, wall-clock seconds.
    assert_eq!(r["close_mean_secs"], (3.0 * 86_400.0 - 46.0 * 60.0));
    assert_eq!(r["close_p90_secs"], (3.0 * 86_400.0 - 46.0 * 60.0));
    // The department it went to first and that returned it is not answerable for it: its
    // row holds only the probe (open, due Mon 09:02, overdue).
    let c = row("cityman-d0");
    assert_eq!(figures(&c), [1, 1, 0, 0, 0, 0, 1, 0], "{counts}: {c}");

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_incident_across_a_weekend_on_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_incident_across_a_weekend_on_postgres() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    scenario(Some(db.url.clone())).await;
}
