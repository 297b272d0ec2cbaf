//! SQLite reports and attachments. Attaching runs in one `BEGIN IMMEDIATE` transaction:
//! check the incident (exists, not final), count what it has, insert the row and append
//! the `attached` event, so the limit holds under concurrent uploads.

use super::BEGIN_WRITE;
use crate::model::{IncidentId, IncidentStatus, Timestamp};
use crate::store::{
    Attachment, AttachmentId, ReportRecord, ReporterContact, StoreError, StoreResult,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

macro_rules! attachment_columns {
    () => {
        "id, incident_id, kind, content_type, size, sha256, file, uploaded_by, at"
    };
}

fn uuid(text: &str, what: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("{what} {text:?}: {e}")))
}

fn attachment(row: &SqliteRow) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: AttachmentId(uuid(row.try_get("id")?, "attachment id")?),
        incident: IncidentId(uuid(row.try_get("incident_id")?, "incident id")?),
        kind: row.try_get("kind")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        file: row.try_get("file")?,
        uploaded_by: row.try_get("uploaded_by")?,
        at: Timestamp(row.try_get("at")?),
    })
}

/// Records a report inside the caller's transaction (the rules step that opens its
/// incident).
pub(in crate::store::sqlite) async fn record_report(
    conn: &mut SqliteConnection,
    r: &ReportRecord,
) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO reports (dedup_key, channel, reporter, contact_name, contact_phone, \
         contact_email, address, media_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&r.dedup_key)
    .bind(&r.channel)
    .bind(&r.reporter)
    .bind(&r.contact.name)
    .bind(&r.contact.phone)
    .bind(&r.contact.email)
    .bind(&r.address)
    .bind(&r.media_url)
    .bind(r.created_at.micros())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "a report {:?} is already recorded",
            r.dedup_key
        )));
    }
    Ok(())
}

pub(super) async fn report(
    pool: &SqlitePool,
    dedup_key: &str,
) -> StoreResult<Option<ReportRecord>> {
    let row = sqlx::query(
        "SELECT dedup_key, channel, reporter, contact_name, contact_phone, contact_email, \
         address, media_url, created_at FROM reports WHERE dedup_key = ?",
    )
    .bind(dedup_key)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(ReportRecord {
            dedup_key: row.try_get("dedup_key")?,
            channel: row.try_get("channel")?,
            reporter: row.try_get("reporter")?,
            contact: ReporterContact {
                name: row.try_get("contact_name")?,
                phone: row.try_get("contact_phone")?,
                email: row.try_get("contact_email")?,
            },
            address: row.try_get("address")?,
            media_url: row.try_get("media_url")?,
            created_at: Timestamp(row.try_get("created_at")?),
        })
    })
    .transpose()
}

pub(super) async fn add(pool: &SqlitePool, a: &Attachment, max: u32) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM incidents WHERE id = ?")
        .bind(a.incident.0.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(status) = status else {
        tx.rollback().await?;
        return Err(StoreError::NotFound(format!("incident {}", a.incident)));
    };
    let status = IncidentStatus::parse(&status).ok_or_else(|| {
        StoreError::Corrupt(format!("incident {}: status {status:?}", a.incident))
    })?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE incident_id = ? AND kind = ?")
            .bind(a.incident.0.to_string())
            .bind(&a.kind)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(why) = a.refusal(status, count, max) {
        tx.rollback().await?;
        return Err(StoreError::Conflict(why));
    }
    let inserted = sqlx::query(concat!(
        "INSERT INTO attachments (",
        attachment_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
    ))
    .bind(a.id.0.to_string())
    .bind(a.incident.0.to_string())
    .bind(&a.kind)
    .bind(&a.content_type)
    .bind(a.size)
    .bind(&a.sha256)
    .bind(&a.file)
    .bind(&a.uploaded_by)
    .bind(a.at.micros())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(StoreError::Conflict(format!("attachment {} exists", a.id)));
    }
    let e = a.event();
    sqlx::query(
        "INSERT INTO incident_events \
         (incident_id, at, actor, action, from_state, to_state, note) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.incident.0.to_string())
    .bind(e.at.micros())
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.from)
    .bind(&e.to)
    .bind(&e.note)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(pool: &SqlitePool, incident: IncidentId) -> StoreResult<Vec<Attachment>> {
    sqlx::query(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE incident_id = ? ORDER BY at, id"
    ))
    .bind(incident.0.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(attachment)
    .collect()
}

pub(super) async fn get(pool: &SqlitePool, id: AttachmentId) -> StoreResult<Option<Attachment>> {
    sqlx::query(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE id = ?"
    ))
    .bind(id.0.to_string())
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(attachment)
    .transpose()
}
