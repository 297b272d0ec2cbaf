//! Logins from the outside: users added with the real `cityops user` CLI (password on
//! standard input) against a data directory, then the real `cityops serve` on it, driven
//! over HTTP: bearer and cookie sessions, CSRF, wrong passwords and the limiter, expiry,
//! disabled users, and the demo users of `serve --demo`.

mod common;
#[path = "auth/support.rs"]
mod support;

use common::*;
use reqwest::header::{AUTHORIZATION, COOKIE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_users_log_in_with_bearer_and_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli_add(
        data,
        "duty",
        &["--role", "duty_officer", "--display-name", "值班员 Li"],
    );
    cli_add(
        data,
        "water",
        &["--role", "department", "--department", "water-city"],
    );
    #[rustfmt::skip]
    cli_add(data, "grid", &["--role", "grid_worker", "--district", "D-0", "--grid", "G-00-01", "--grid", "G-00-00"]);
    cli_add(
        data,
        "s0",
        &[
            "--role",
            "dispatcher",
            "--district",
            "D-0",
            "--street",
            "S-00-01",
        ],
    );
    let list = ok(&cli(data, &["list"], ""));
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{list}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("duty ") && l.contains("duty_officer") && l.contains("city"))
    );
    assert!(lines.iter().any(|l| l.contains("dept water-city")));
    assert!(lines.iter().any(|l| l.contains("grids G-00-00,G-00-01")));
    assert!(lines.iter().any(|l| l.contains("D-0/S-00-01")));
    assert!(lines.iter().skip(1).all(|l| l.ends_with("no")), "{list}");

    let c = serve(data, &[]);
    let (token, csrf, v, cookie) = login_ok(&c, "duty").await;
    assert_eq!(token.len(), 43);
    assert_ne!(token, csrf);
    assert_eq!(
        v["user"],
        json!({"id": "duty", "display_name": "值班员 Li", "role": "duty_officer",
               "district": null, "street": null, "department": null, "grids": []})
    );
    // The cookie: the token, HttpOnly, SameSite=Strict, whole site, not Secure on http.
    assert!(
        cookie.starts_with(&format!("cityops_session={token};")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");

    let (status, who) = me(&c, AUTHORIZATION, &bearer(&token)).await;
    assert_eq!((status, &who), (200, &v["user"]));
    let session_cookie = format!("theme=dark; cityops_session={token}");
    assert_eq!(
        me(&c, COOKIE, &session_cookie).await,
        (200, v["user"].clone())
    );
    let (_, _, g, _) = login_ok(&c, "grid").await;
    assert_eq!(g["user"]["grids"], json!(["G-00-00", "G-00-01"]));
    assert_eq!(g["user"]["role"], "grid_worker");

    // No or bad credentials.
    let r = anonymous().get(c.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unauthenticated");
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&"A".repeat(43))).await.0, 401);
    assert_eq!(me(&c, AUTHORIZATION, "Basic ZHV0eTp4").await.0, 401);

    // A cookie POST without the CSRF header is refused and changes nothing.
    let logout = |headers: Vec<(&'static str, String)>| {
        let mut rq = anonymous().post(c.url("/api/v1/logout"));
        for (k, v) in headers {
            rq = rq.header(k, v);
        }
        rq.send()
    };
    let r = logout(vec![("cookie", session_cookie.clone())])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    let wrong = vec![
        ("cookie", session_cookie.clone()),
        ("x-csrf-token", "x".into()),
    ];
    assert_eq!(logout(wrong).await.unwrap().status(), 403);
    assert_eq!(
        me(&c, COOKIE, &session_cookie).await.0,
        200,
        "still logged in"
    );
    // With it, the logout ends the session and clears the cookie.
    let r = logout(vec![
        ("cookie", session_cookie.clone()),
        ("x-csrf-token", csrf),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(me(&c, COOKIE, &session_cookie).await.0, 401);
    assert_eq!(
        me(&c, AUTHORIZATION, &bearer(&token)).await.0,
        401,
        "one session"
    );

    // A bearer logout needs no CSRF header: browsers never send bearer tokens by themselves.
    let (token, _, _, _) = login_ok(&c, "water").await;
    let r = logout(vec![("authorization", bearer(&token))])
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&token)).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_then_throttled() {
    let dir = tempfile::tempdir().unwrap();
    cli_add(dir.path(), "duty", &["--role", "duty_officer"]);
    cli_add(dir.path(), "wall", &["--role", "wall"]);
    let c = serve(dir.path(), &[]);

    // Unknown fields and malformed bodies.
    let r = post_login(
        &c,
        json!({"user": "duty", "password": PASSWORD, "admin": true}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("admin"), "{v}");
    assert_eq!(post_login(&c, json!({"user": "duty"})).await.status(), 422);
    let r = anonymous()
        .post(c.url("/api/v1/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The same answer for a wrong password and an unknown user.
    let mut messages = Vec::new();
    for (user, password) in [("duty", "wrong password!"), ("nobody", PASSWORD)] {
        let r = post_login(&c, json!({"user": user, "password": password})).await;
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key(WWW_AUTHENTICATE));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "bad_credentials");
        messages.push(v["message"].clone());
    }
    assert_eq!(messages[0], messages[1]);

    // Four more wrong passwords make five: then even the right one waits.
    for _ in 0..4 {
        let r = post_login(&c, json!({"user": "duty", "password": "still wrong!"})).await;
        assert_eq!(r.status(), 401);
    }
    let r = post_login(&c, json!({"user": "duty", "password": PASSWORD})).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "too_many_attempts"
    );
    // Another user from the same address is not locked out by duty's failures.
    login_ok(&c, "wall").await;
}

/// A login with `cookie` (a device mark, or nothing): the status and the device mark it
/// sets.
async fn login_from(c: &Cityops, user: &str, password: &str, mark: Option<&str>) -> (u16, String) {
    let mut req = anonymous()
        .post(c.url("/api/v1/login"))
        .json(&json!({"user": user, "password": password}));
    if let Some(m) = mark {
        req = req.header(COOKIE, format!("theme=dark; cityops_device={m}"));
    }
    let r = req.send().await.expect("POST /login");
    let set = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cityops_device="))
        .unwrap_or_default()
        .to_owned();
    (r.status().as_u16(), set)
}

fn mark_of(set_cookie: &str) -> String {
    let value = set_cookie.split(';').next().unwrap_or_default();
    value.trim_start_matches("cityops_device=").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_never_locks_out_a_known_browser() {
    let dir = tempfile::tempdir().unwrap();
    cli_add(dir.path(), "duty", &["--role", "duty_officer"]);
    cli_add(dir.path(), "wall", &["--role", "wall"]);
    let c = serve(dir.path(), &[]);

    // Each right password hands out a device mark, sent only back to the login.
    let (status, set) = login_from(&c, "duty", PASSWORD, None).await;
    assert_eq!(status, 200);
    for attribute in [
        "Path=/api/v1/login",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    let duty_browser = mark_of(&set);
    let (_, set) = login_from(&c, "wall", PASSWORD, None).await;
    let wall_browser = mark_of(&set);

    // Someone guesses at duty's password, from the hall's own (NAT) address.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login_from(&c, "duty", "a guess!", None).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // A stranger is stopped even with the right password; duty's own browser is not.
    assert_eq!(login_from(&c, "duty", PASSWORD, None).await.0, 429);
    let (status, set) = login_from(&c, "duty", PASSWORD, Some(&duty_browser)).await;
    assert_eq!(status, 200);
    assert_eq!(
        mark_of(&set),
        duty_browser,
        "a known browser keeps its mark"
    );
    // A mark is its user's only, and a made-up one is nobody's.
    assert_eq!(
        login_from(&c, "duty", PASSWORD, Some(&wall_browser))
            .await
            .0,
        429
    );
    assert_eq!(
        login_from(&c, "duty", PASSWORD, Some("forged.mark"))
            .await
            .0,
        429
    );

    // Guessing at many names from the address locks it for strangers, not for wall.
    for i in 0..20 {
        login_from(&c, &format!("user{i}"), "a guess!", None).await;
    }
    assert_eq!(login_from(&c, "wall", PASSWORD, None).await.0, 429);
    assert_eq!(
        login_from(&c, "wall", PASSWORD, Some(&wall_browser))
            .await
            .0,
        200
    );

    // A stolen mark still needs the password, and guessing with it locks only it.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            login_from(&c, "wall", "a guess!", Some(&wall_browser))
                .await
                .0,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(
        login_from(&c, "duty", PASSWORD, Some(&duty_browser))
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    cli_add(dir.path(), "wall", &["--role", "wall"]);
    // 0.0005 h = 1.8 s.
    let c = serve(dir.path(), &[("CITYOPS_AUTH_SESSION_HOURS", "0.0005")]);
    let (token, _, v, _) = login_ok(&c, "wall").await;
    assert!(v["expires_at"].is_string());
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&token)).await.0, 200);
    eventually("the session to expire", Duration::from_secs(10), || async {
        (me(&c, AUTHORIZATION, &bearer(&token)).await.0 == 401).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_or_a_new_password_ends_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli_add(data, "engineer", &["--role", "engineer"]);
    let c = serve(data, &[]);
    let (token, _, _, _) = login_ok(&c, "engineer").await;
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&token)).await.0, 200);

    // The CLI works on the database the server is using.
    ok(&cli(data, &["disable", "engineer"], ""));
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&token)).await.0, 401);
    let r = post_login(&c, json!({"user": "engineer", "password": PASSWORD})).await;
    assert_eq!(r.status(), 401, "a disabled user cannot log in");
    assert!(
        ok(&cli(data, &["list"], ""))
            .lines()
            .any(|l| l.ends_with("yes"))
    );

    ok(&cli(data, &["enable", "engineer"], ""));
    let (token, _, _, _) = login_ok(&c, "engineer").await;
    let new_password = "a brand new password";
    ok(&cli(
        data,
        &["passwd", "engineer"],
        &format!("{new_password}\n"),
    ));
    assert_eq!(me(&c, AUTHORIZATION, &bearer(&token)).await.0, 401);
    let r = post_login(&c, json!({"user": "engineer", "password": PASSWORD})).await;
    assert_eq!(r.status(), 401, "the old password is gone");
    let r = post_login(&c, json!({"user": "engineer", "password": new_password})).await;
    assert_eq!(r.status(), 200);
}

#[test]
fn cli_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let pw = format!("{PASSWORD}\n");
    for (args, expected) in [
        (vec!["add", "x", "--role", "boss"], "unknown role \"boss\""),
        (
            vec!["add", "x", "--role", "system"],
            "unknown role \"system\"",
        ),
        (
            vec!["add", "x", "--role", "department"],
            "needs --department",
        ),
        (
            vec!["add", "x", "--role", "grid_worker"],
            "at least one --grid",
        ),
        (
            vec![
                "add",
                "x",
                "--role",
                "grid_worker",
                "--grid",
                "G-00-00",
                "--grid",
                "G-99-99",
            ],
            "unknown grid \"G-99-99\"",
        ),
        (
            vec!["add", "x", "--role", "dispatcher", "--district", "D-9"],
            "unknown district \"D-9\"",
        ),
        (
            vec!["add", "x", "--role", "dispatcher", "--street", "S-00-01"],
            "needs its --district",
        ),
        (
            vec![
                "add",
                "x",
                "--role",
                "dispatcher",
                "--district",
                "D-1",
                "--street",
                "S-00-01",
            ],
            "is in district \"D-0\"",
        ),
        (
            vec!["add", "x", "--role", "wall", "--department", "water-city"],
            "only for department",
        ),
        (vec!["add", "Bad Name", "--role", "wall"], "bad user name"),
        (vec!["passwd", "nobody"], "no user named \"nobody\""),
        (vec!["disable", "nobody"], "no user named \"nobody\""),
    ] {
        let out = cli(data, &args, &pw);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // Short passwords, and names taken.
    let out = cli(data, &["add", "x", "--role", "wall"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    cli_add(data, "x", &["--role", "wall"]);
    let out = cli(data, &["add", "x", "--role", "engineer"], &pw);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        ok(&cli(data, &["list"], ""))
            .lines()
            .filter(|l| !l.starts_with("it-"))
            .count(),
        2,
        "header and x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_creates_one_user_per_role_once() {
    let dir = tempfile::tempdir().unwrap();
    let users = demo_start(dir.path());
    let names: Vec<&str> = users.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "duty",
        "dispatcher",
        "water",
        "grid",
        "district-d0",
        "wall",
        "engineer",
        "admin",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(
        demo_start(dir.path()).is_empty(),
        "a second start creates and prints none"
    );

    // The printed passwords work.
    let c = serve(dir.path(), &[]);
    let (_, password) = users.iter().find(|(n, _)| n == "water").unwrap();
    let r = post_login(&c, json!({"user": "water", "password": password})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["role"], "department");
    assert_eq!(v["user"]["department"], "water-city");
    let (_, password) = users.iter().find(|(n, _)| n == "district-d0").unwrap();
    let v: Value = post_login(&c, json!({"user": "district-d0", "password": password}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["user"]["role"].as_str(), v["user"]["district"].as_str()),
        (Some("dispatcher"), Some("D-0"))
    );
    // A start without --demo adds none (besides the harness's own test user).
    let list = ok(&cli(dir.path(), &["list"], ""));
    // The demo crew's own users (`staff-*`, `patrol-*`) have no printed password.
    let listed = list
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("it-") && !l.starts_with("staff-") && !l.starts_with("patrol-"));
    assert_eq!(listed.count(), users.len(), "{list}");
}
