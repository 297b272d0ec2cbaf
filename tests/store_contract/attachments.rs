//! The contract for people's reports and attachments: a report's record is kept once per
//! key with its contact; attaching is logged, bounded per incident (also under concurrent
//! uploads), refused for final incidents, and is not an edit (the version stays).

use super::*;
use cityops::store::{Attachment, AttachmentId, ReportRecord, ReporterContact, StoreError};

fn photo(incident: IncidentId, n: i64) -> Attachment {
    let id = AttachmentId::new_v7();
    Attachment {
        id,
        incident,
        kind: "photo".into(),
        content_type: "image/png".into(),
        size: 100 + n,
        sha256: format!("{n:064x}"),
        file: format!("{id}.png"),
        uploaded_by: "user:grid".into(),
        at: Timestamp(T0 + n * SEC),
    }
}

pub async fn reports_are_recorded_once_with_their_contact(store: SharedStore) {
    let record = ReportRecord {
        dedup_key: "report:0001".into(),
        channel: "hotline_12345".into(),
        reporter: "dispatcher".into(),
        contact: ReporterContact {
            name: Some("张女士".into()),
            phone: Some("13800000000".into()),
            email: None,
        },
        address: Some("人民路12号门口".into()),
        media_url: Some("https://app.example/p/1.jpg".into()),
        created_at: Timestamp(T0),
    };
    let first = record_report(&store, &record, "report:0001")
        .await
        .expect("record");
    assert_eq!(first.opened.len(), 1, "the report opened its incident");
    assert_eq!(
        store.report("report:0001").await.unwrap(),
        Some(record.clone())
    );
    let again = ReportRecord {
        reporter: "someone else".into(),
        ..record.clone()
    };
    assert!(matches!(
        record_report(&store, &again, "report:0001-again").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.report("report:0001").await.unwrap(),
        Some(record),
        "the first record stays"
    );
    assert_eq!(
        store
            .open_incident_by_key("report:0001-again")
            .await
            .unwrap(),
        None,
        "a report that is refused opens no incident: the two commit or fail together"
    );
    let bare = ReportRecord {
        dedup_key: "report:0002".into(),
        channel: "patrol".into(),
        reporter: "grid".into(),
        created_at: Timestamp(T0),
        ..Default::default()
    };
    record_report(&store, &bare, "report:0002")
        .await
        .expect("record without contact");
    assert_eq!(store.report("report:0002").await.unwrap(), Some(bare));
    assert_eq!(store.report("report:none").await.unwrap(), None);
}

pub async fn attachments_round_trip_and_are_logged(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    let (other, _) = store
        .open_incident(&new_incident("k2", "d1", T0))
        .await
        .unwrap();
    let first = photo(inc.id, 1);
    let second = Attachment {
        content_type: "image/jpeg".into(),
        file: "x.jpg".into(),
        ..photo(inc.id, 2)
    };
    store.add_attachment(&first, 6).await.expect("first");
    store.add_attachment(&second, 6).await.expect("second");
    store.add_attachment(&photo(other.id, 3), 6).await.unwrap();

    assert_eq!(
        store.attachments(inc.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first, only this incident's"
    );
    assert_eq!(
        store.attachment(second.id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.attachment(AttachmentId::new_v7()).await.unwrap(),
        None
    );
    assert!(
        store
            .attachments(IncidentId::new_v7())
            .await
            .unwrap()
            .is_empty()
    );

    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(actions(&events), vec!["opened", "attached", "attached"]);
    let e = &events[1];
    assert_eq!(e.actor, "user:grid");
    assert_eq!(e.at, Timestamp(T0 + SEC));
    assert_eq!(e.to.as_deref(), Some(first.id.to_string().as_str()));
    assert_eq!(e.note.as_deref(), Some("photo image/png, 101 bytes"));
    let now = store.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(now.version, inc.version, "an attachment is not an edit");

    assert!(matches!(
        store.add_attachment(&first, 6).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .add_attachment(&photo(IncidentId::new_v7(), 4), 6)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.attachments(inc.id).await.unwrap().len(), 2);
    assert_eq!(store.incident_events(inc.id).await.unwrap().len(), 3);
}

pub async fn attachments_are_bounded_and_final_incidents_take_none(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    store.add_attachment(&photo(inc.id, 1), 2).await.unwrap();
    store.add_attachment(&photo(inc.id, 2), 2).await.unwrap();
    assert!(matches!(
        store.add_attachment(&photo(inc.id, 3), 2).await,
        Err(StoreError::Conflict(_))
    ));
    // Another kind counts on its own.
    let doc = Attachment {
        kind: "document".into(),
        ..photo(inc.id, 4)
    };
    store.add_attachment(&doc, 2).await.expect("another kind");
    assert_eq!(store.attachments(inc.id).await.unwrap().len(), 3);

    store
        .clear_incident("k1", Timestamp(T0 + 10 * SEC), true)
        .await
        .unwrap();
    let before = store.incident_events(inc.id).await.unwrap().len();
    assert!(matches!(
        store.add_attachment(&photo(inc.id, 5), 6).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.incident_events(inc.id).await.unwrap().len(), before);
    assert_eq!(store.attachments(inc.id).await.unwrap().len(), 3);
}

pub async fn concurrent_attachments_keep_the_limit(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.add_attachment(&photo(inc.id, n), 3).await })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => stored += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(stored, 3);
    assert_eq!(store.attachments(inc.id).await.unwrap().len(), 3);
    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        actions(&events)
            .iter()
            .filter(|a| **a == "attached")
            .count(),
        3,
        "one event per stored attachment"
    );
}
