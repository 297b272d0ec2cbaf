//! A committed incident change is never lost to a live client, even when the process dies
//! between the commit and the announcement: the hub announces only after the commit, and
//! after a restart a client that resumes gets a fresh snapshot from the store.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_after_a_crash_gets_every_committed_change() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ServeSpec {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let mut c = Cityops::start(&spec);
    c.wait_ready().await;
    let mut live = Live::connect(&c).await;
    let snapshot = live
        .until("the first snapshot", WAIT, |m| m["type"] == "snapshot")
        .await;
    let epoch = snapshot["epoch"].as_str().unwrap().to_owned();
    let seq = snapshot["seq"].as_u64().unwrap();

    // A person's report: committed (with its incident) when the API answers 201.
    let r = c
        .http_client
        .post(c.url("/api/v1/reports"))
        .json(&json!({
            "category": "0406",
            "location": { "lon": 102.9525, "lat": 29.97 },
            "description": "路口积水 water across the junction",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Whatever had or had not gone out live dies with the process.
    c.sigkill();
    drop(live);

    let c = Cityops::start(&spec);
    c.wait_ready().await;
    let mut resumed = Live::resume(&c, &epoch, seq).await;
    let first = resumed.next(WAIT).await;
    assert_eq!(
        first["type"], "snapshot",
        "a new process cannot replay: {first}"
    );
    assert_ne!(first["epoch"].as_str(), Some(epoch.as_str()));
    let ids: Vec<&str> = first["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(
        ids.contains(&id.as_str()),
        "the snapshot has the committed incident {id}: {ids:?}"
    );
}
