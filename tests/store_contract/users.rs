//! The contract for users and sessions (`auth`): names are unique, a session is found
//! only while it has not expired and its user is enabled, and a password change or a
//! disable ends the user's sessions.

use cityops::model::{Role, Timestamp};
use cityops::store::{NewSession, NewUser, SharedStore, StoreError};

const T0: i64 = super::T0;
const HOUR: i64 = 3600 * super::SEC;

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.into(),
        display_name: format!("{name} (display)"),
        role,
        district: None,
        street: None,
        department: None,
        grids: Vec::new(),
        password_hash: format!("$argon2id$hash-of-{name}"),
        created_at: Timestamp(T0),
    }
}

fn new_session(hash: &str, user: &str, created: i64, expires: i64) -> NewSession {
    NewSession {
        token_hash: hash.into(),
        user: user.into(),
        csrf_token: format!("csrf-{hash}"),
        created_at: Timestamp(created),
        expires_at: Timestamp(expires),
    }
}

pub async fn users_round_trip_and_names_are_unique(store: SharedStore) {
    let grid = NewUser {
        district: Some("D-0".into()),
        street: Some("S-00-01".into()),
        grids: vec!["G-00-00".into(), "G-00-01".into()],
        ..new_user("grid", Role::GridWorker)
    };
    let water = NewUser {
        department: Some("water-city".into()),
        ..new_user("water", Role::Department)
    };
    store.create_user(&water).await.expect("create water");
    store.create_user(&grid).await.expect("create grid");

    let got = store.user("grid").await.unwrap().expect("grid exists");
    assert_eq!(got.name, "grid");
    assert_eq!(got.display_name, "grid (display)");
    assert_eq!(got.role, Role::GridWorker);
    assert_eq!(got.district.as_deref(), Some("D-0"));
    assert_eq!(got.street.as_deref(), Some("S-00-01"));
    assert_eq!(got.grids, ["G-00-00", "G-00-01"]);
    assert_eq!(got.password_hash, "$argon2id$hash-of-grid");
    assert!(!got.disabled);
    assert_eq!(got.created_at, Timestamp(T0));
    let actor = got.actor();
    assert_eq!((actor.id.as_str(), actor.role), ("grid", Role::GridWorker));
    assert_eq!(actor.grids, ["G-00-00", "G-00-01"]);

    let water = store.user("water").await.unwrap().unwrap();
    assert_eq!(water.department.as_deref(), Some("water-city"));
    assert!(water.grids.is_empty() && water.district.is_none());
    assert!(store.user("nobody").await.unwrap().is_none());

    let again = store.create_user(&new_user("grid", Role::Wall)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store.user("grid").await.unwrap().unwrap().role,
        Role::GridWorker
    );

    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["grid", "water"], "all users, by name");
}

pub async fn sessions_live_until_they_expire(store: SharedStore) {
    store
        .create_user(&new_user("duty", Role::DutyOfficer))
        .await
        .unwrap();
    store
        .create_session(&new_session("h1", "duty", T0, T0 + 12 * HOUR))
        .await
        .expect("create session");

    let s = store
        .session("h1", Timestamp(T0 + HOUR))
        .await
        .unwrap()
        .expect("live");
    assert_eq!(s.token_hash, "h1");
    assert_eq!(s.csrf_token, "csrf-h1");
    assert_eq!(s.user.name, "duty");
    assert_eq!(s.user.role, Role::DutyOfficer);
    assert_eq!(
        (s.created_at, s.expires_at, s.last_seen_at),
        (Timestamp(T0), Timestamp(T0 + 12 * HOUR), Timestamp(T0))
    );
    assert!(
        store.session("h2", Timestamp(T0)).await.unwrap().is_none(),
        "unknown hash"
    );
    // Expired at its expiry instant, not a microsecond later.
    let at_expiry = Timestamp(T0 + 12 * HOUR);
    assert!(store.session("h1", at_expiry).await.unwrap().is_none());
    assert!(
        store
            .session("h1", Timestamp(T0 + 12 * HOUR - 1))
            .await
            .unwrap()
            .is_some()
    );

    let dup = store
        .create_session(&new_session("h1", "duty", T0, T0 + HOUR))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store
        .create_session(&new_session("h3", "nobody", T0, T0 + HOUR))
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    assert!(store.session("h3", Timestamp(T0)).await.unwrap().is_none());
}

pub async fn touch_slides_a_session_forward_only(store: SharedStore) {
    store
        .create_user(&new_user("duty", Role::DutyOfficer))
        .await
        .unwrap();
    store
        .create_session(&new_session("h1", "duty", T0, T0 + 12 * HOUR))
        .await
        .unwrap();

    let later = Timestamp(T0 + 10 * HOUR);
    assert!(
        store
            .touch_session("h1", later, Timestamp(T0 + 22 * HOUR))
            .await
            .unwrap()
    );
    let s = store
        .session("h1", Timestamp(T0 + 20 * HOUR))
        .await
        .unwrap()
        .expect("slid");
    assert_eq!(
        (s.last_seen_at, s.expires_at),
        (later, Timestamp(T0 + 22 * HOUR))
    );

    // An older touch (a slow request finishing late) never moves either back.
    assert!(
        store
            .touch_session("h1", Timestamp(T0 + HOUR), Timestamp(T0 + 13 * HOUR))
            .await
            .unwrap()
    );
    let s = store
        .session("h1", Timestamp(T0 + 20 * HOUR))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.last_seen_at, s.expires_at),
        (later, Timestamp(T0 + 22 * HOUR))
    );

    assert!(!store.touch_session("gone", later, later).await.unwrap());
}

pub async fn logout_and_logout_everywhere(store: SharedStore) {
    for name in ["duty", "wall"] {
        store
            .create_user(&new_user(name, Role::Wall))
            .await
            .unwrap();
    }
    for (hash, user) in [("d1", "duty"), ("d2", "duty"), ("w1", "wall")] {
        store
            .create_session(&new_session(hash, user, T0, T0 + HOUR))
            .await
            .unwrap();
    }
    let now = Timestamp(T0);
    assert!(store.delete_session("d1").await.unwrap());
    assert!(!store.delete_session("d1").await.unwrap(), "already gone");
    assert!(store.session("d1", now).await.unwrap().is_none());
    assert!(store.session("d2", now).await.unwrap().is_some());

    assert_eq!(store.delete_sessions_of("duty").await.unwrap(), 1);
    assert!(store.session("d2", now).await.unwrap().is_none());
    assert!(
        store.session("w1", now).await.unwrap().is_some(),
        "others' stay"
    );
    assert_eq!(store.delete_sessions_of("duty").await.unwrap(), 0);
}

pub async fn password_change_and_disable_end_sessions(store: SharedStore) {
    store
        .create_user(&new_user("duty", Role::DutyOfficer))
        .await
        .unwrap();
    store
        .create_user(&new_user("wall", Role::Wall))
        .await
        .unwrap();
    let now = Timestamp(T0);
    store
        .create_session(&new_session("d1", "duty", T0, T0 + HOUR))
        .await
        .unwrap();
    store
        .create_session(&new_session("w1", "wall", T0, T0 + HOUR))
        .await
        .unwrap();

    store
        .set_password("duty", "$argon2id$new")
        .await
        .expect("set password");
    assert_eq!(
        store.user("duty").await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(
        store.session("d1", now).await.unwrap().is_none(),
        "ended by the change"
    );
    assert!(store.session("w1", now).await.unwrap().is_some());

    store
        .create_session(&new_session("d2", "duty", T0, T0 + HOUR))
        .await
        .unwrap();
    store
        .set_user_disabled("duty", true)
        .await
        .expect("disable");
    assert!(store.user("duty").await.unwrap().unwrap().disabled);
    assert!(
        store.session("d2", now).await.unwrap().is_none(),
        "ended by the disable"
    );
    // Even a session written after the disable is refused while the user is disabled.
    store
        .create_session(&new_session("d3", "duty", T0, T0 + HOUR))
        .await
        .unwrap();
    assert!(store.session("d3", now).await.unwrap().is_none());
    store
        .set_user_disabled("duty", false)
        .await
        .expect("enable");
    assert!(!store.user("duty").await.unwrap().unwrap().disabled);
    assert!(
        store.session("d3", now).await.unwrap().is_some(),
        "enabled again"
    );
    assert!(
        store.session("d2", now).await.unwrap().is_none(),
        "ended stays ended"
    );

    for result in [
        store.set_password("nobody", "x").await,
        store.set_user_disabled("nobody", true).await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
}

pub async fn expired_sessions_are_swept(store: SharedStore) {
    store
        .create_user(&new_user("duty", Role::DutyOfficer))
        .await
        .unwrap();
    store
        .create_session(&new_session("old", "duty", T0, T0 + HOUR))
        .await
        .unwrap();
    store
        .create_session(&new_session("new", "duty", T0, T0 + 3 * HOUR))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_expired_sessions(Timestamp(T0 + HOUR))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_expired_sessions(Timestamp(T0 + HOUR))
            .await
            .unwrap(),
        0
    );
    // The swept one is gone for good; the other still works before its own expiry.
    assert!(
        store
            .session("new", Timestamp(T0 + 2 * HOUR))
            .await
            .unwrap()
            .is_some()
    );
    assert!(!store.delete_session("old").await.unwrap());
}
