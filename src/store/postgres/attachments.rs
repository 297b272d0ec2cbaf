//! PostgreSQL reports and attachments. Attaching runs in one transaction that row-locks
//! the incident (`FOR UPDATE`), as every change of an incident does: concurrent uploads
//! then count one after the other, so the limit holds, and the log stays in commit order.

use super::{from_pg, to_pg};
use crate::model::{IncidentId, IncidentStatus};
use crate::store::{
    Attachment, AttachmentId, ReportRecord, ReporterContact, StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

macro_rules! attachment_columns {
    () => {
        "id, incident_id, kind, content_type, size, sha256, file, uploaded_by, at"
    };
}

fn attachment(row: &PgRow) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: AttachmentId(row.try_get("id")?),
        incident: IncidentId(row.try_get("incident_id")?),
        kind: row.try_get("kind")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        file: row.try_get("file")?,
        uploaded_by: row.try_get("uploaded_by")?,
        at: from_pg(row.try_get::<DateTime<Utc>, _>("at")?),
    })
}

/// Records a report inside the caller's transaction (the rules step that opens its
/// incident).
pub(in crate::store::postgres) async fn record_report(
    conn: &mut PgConnection,
    r: &ReportRecord,
) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO reports (dedup_key, channel, reporter, contact_name, contact_phone, \
         contact_email, address, media_url, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&r.dedup_key)
    .bind(&r.channel)
    .bind(&r.reporter)
    .bind(&r.contact.name)
    .bind(&r.contact.phone)
    .bind(&r.contact.email)
    .bind(&r.address)
    .bind(&r.media_url)
    .bind(to_pg(r.created_at)?)
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

pub(super) async fn report(pool: &PgPool, dedup_key: &str) -> StoreResult<Option<ReportRecord>> {
    let row = sqlx::query(
        "SELECT dedup_key, channel, reporter, contact_name, contact_phone, contact_email, \
         address, media_url, created_at FROM reports WHERE dedup_key = $1",
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
            created_at: from_pg(row.try_get("created_at")?),
        })
    })
    .transpose()
}

pub(super) async fn add(pool: &PgPool, a: &Attachment, max: u32) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1 FOR UPDATE")
            .bind(a.incident.0)
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
        sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE incident_id = $1 AND kind = $2")
            .bind(a.incident.0)
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
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
    ))
    .bind(a.id.0)
    .bind(a.incident.0)
    .bind(&a.kind)
    .bind(&a.content_type)
    .bind(a.size)
    .bind(&a.sha256)
    .bind(&a.file)
    .bind(&a.uploaded_by)
    .bind(to_pg(a.at)?)
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
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.incident.0)
    .bind(to_pg(e.at)?)
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

pub(super) async fn list(pool: &PgPool, incident: IncidentId) -> StoreResult<Vec<Attachment>> {
    sqlx::query(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE incident_id = $1 ORDER BY at, id"
    ))
    .bind(incident.0)
    .fetch_all(pool)
    .await?
    .iter()
    .map(attachment)
    .collect()
}

pub(super) async fn get(pool: &PgPool, id: AttachmentId) -> StoreResult<Option<Attachment>> {
    sqlx::query(concat!(
        "SELECT ",
        attachment_columns!(),
        " FROM attachments WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(attachment)
    .transpose()
}
