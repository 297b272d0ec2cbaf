// People's reports and attachments, the same SQL for both backends (included by each;
// see `store/mod.rs`). Attaching runs in one transaction that locks the incident first
// (`FOR UPDATE` on PostgreSQL, SQLite's `BEGIN IMMEDIATE`), as every change of an
// incident does: concurrent uploads then count one after the other, so the limit holds,
// and the log stays in commit order.

use super::incidents::append_event;
use super::{Conn, DbRow, This};
use crate::model::{IncidentId, IncidentStatus};
use crate::store::{
    Attachment, AttachmentId, ReportRecord, ReportStore, ReporterContact, StoreError,
    StoreResult,
};
use async_trait::async_trait;
use sqlx::Row;

macro_rules! attachment_columns {
    () => {
        "id, incident_id, kind, content_type, size, sha256, file, uploaded_by, at"
    };
}

fn attachment(row: &DbRow) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: row.try_get("id")?,
        incident: row.try_get("incident_id")?,
        kind: row.try_get("kind")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        file: row.try_get("file")?,
        uploaded_by: row.try_get("uploaded_by")?,
        at: row.try_get("at")?,
    })
}

/// Records a report inside the caller's transaction (the rules step that opens its
/// incident).
pub(super) async fn record_report(conn: &mut Conn, r: &ReportRecord) -> StoreResult<()> {
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
    .bind(r.created_at)
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

#[async_trait]
impl ReportStore for This {
    async fn report(&self, dedup_key: &str) -> StoreResult<Option<ReportRecord>> {
        let row = sqlx::query(
            "SELECT dedup_key, channel, reporter, contact_name, contact_phone, contact_email, \
             address, media_url, created_at FROM reports WHERE dedup_key = $1",
        )
        .bind(dedup_key)
        .fetch_optional(self.reader())
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
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn add_attachment(&self, a: &Attachment, max: u32) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let status: Option<String> = sqlx::query_scalar(concat!(
            "SELECT status FROM incidents WHERE id = $1",
            for_update!()
        ))
        .bind(a.incident)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(status) = status else {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("incident {}", a.incident)));
        };
        let status = IncidentStatus::parse(&status).ok_or_else(|| {
            StoreError::Corrupt(format!("incident {}: status {status:?}", a.incident))
        })?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM attachments WHERE incident_id = $1 AND kind = $2",
        )
        .bind(a.incident)
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
        .bind(a.id)
        .bind(a.incident)
        .bind(&a.kind)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&a.file)
        .bind(&a.uploaded_by)
        .bind(a.at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!("attachment {} exists", a.id)));
        }
        append_event(&mut tx, &a.event()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attachments(&self, incident: IncidentId) -> StoreResult<Vec<Attachment>> {
        sqlx::query(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE incident_id = $1 ORDER BY at, id"
        ))
        .bind(incident)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(attachment)
        .collect()
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        sqlx::query(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(attachment)
        .transpose()
    }
}
