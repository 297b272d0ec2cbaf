//! SQLite users and sessions. Times are µs integers, grids a JSON array in text.
//! Foreign keys are off in this backend, so the user a session names is checked here.

use super::BEGIN_WRITE;
use crate::model::Timestamp;
use crate::store::{NewSession, NewUser, Session, StoreError, StoreResult, User, parse_role};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// The user columns, read by [`user`]; a macro so queries stay `&'static str`.
macro_rules! user_columns {
    () => {
        "u.name, u.display_name, u.role, u.district, u.street, u.department, u.grids, \
         u.password_hash, u.disabled, u.created_at"
    };
}

fn user(row: &SqliteRow) -> StoreResult<User> {
    let name: String = row.try_get("name")?;
    let role: &str = row.try_get("role")?;
    let grids: &str = row.try_get("grids")?;
    Ok(User {
        role: parse_role(role)
            .ok_or_else(|| StoreError::Corrupt(format!("user {name}: role {role:?}")))?,
        grids: serde_json::from_str(grids)
            .map_err(|e| StoreError::Corrupt(format!("user {name}: grids {grids:?}: {e}")))?,
        display_name: row.try_get("display_name")?,
        district: row.try_get("district")?,
        street: row.try_get("street")?,
        department: row.try_get("department")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get("disabled")?,
        created_at: Timestamp(row.try_get("created_at")?),
        name,
    })
}

fn grids_json(grids: &[String]) -> StoreResult<String> {
    serde_json::to_string(grids).map_err(|e| StoreError::Invalid(format!("grids: {e}")))
}

pub(super) async fn create_user(pool: &SqlitePool, u: &NewUser) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO users (name, display_name, role, district, street, department, grids, \
         password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&u.name)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(&u.district)
    .bind(&u.street)
    .bind(&u.department)
    .bind(grids_json(&u.grids)?)
    .bind(&u.password_hash)
    .bind(u.created_at.micros())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "a user named {:?} already exists",
            u.name
        )));
    }
    Ok(())
}

pub(super) async fn set_password(pool: &SqlitePool, name: &str, hash: &str) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let done = sqlx::query("UPDATE users SET password_hash = ? WHERE name = ?")
        .bind(hash)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("user {name:?}")));
    }
    end_sessions(&mut tx, name).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn set_disabled(pool: &SqlitePool, name: &str, disabled: bool) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let done = sqlx::query("UPDATE users SET disabled = ? WHERE name = ?")
        .bind(disabled)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("user {name:?}")));
    }
    if disabled {
        end_sessions(&mut tx, name).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn end_sessions(tx: &mut SqliteConnection, name: &str) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_name = ?")
        .bind(name)
        .execute(tx)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn get_user(pool: &SqlitePool, name: &str) -> StoreResult<Option<User>> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.name = ?"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(user)
    .transpose()
}

pub(super) async fn list_users(pool: &SqlitePool) -> StoreResult<Vec<User>> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u ORDER BY u.name"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(user)
    .collect()
}

pub(super) async fn create_session(pool: &SqlitePool, s: &NewSession) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE name = ?")
        .bind(&s.user)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("user {:?}", s.user)));
    }
    let done = sqlx::query(
        "INSERT INTO sessions (token_hash, user_name, created_at, expires_at, last_seen_at, \
         csrf_token) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(&s.token_hash)
    .bind(&s.user)
    .bind(s.created_at.micros())
    .bind(s.expires_at.micros())
    .bind(s.created_at.micros())
    .bind(&s.csrf_token)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict("session token already stored".into()));
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(
    pool: &SqlitePool,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<Session>> {
    let row = sqlx::query(concat!(
        "SELECT s.token_hash, s.csrf_token, s.created_at AS s_created_at, s.expires_at, \
         s.last_seen_at, ",
        user_columns!(),
        " FROM sessions s JOIN users u ON u.name = s.user_name \
         WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0"
    ))
    .bind(token_hash)
    .bind(now.micros())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Session {
        token_hash: row.try_get("token_hash")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: Timestamp(row.try_get("s_created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        last_seen_at: Timestamp(row.try_get("last_seen_at")?),
        user: user(&row)?,
    }))
}

pub(super) async fn touch_session(
    pool: &SqlitePool,
    token_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?), \
         expires_at = MAX(expires_at, ?) WHERE token_hash = ?",
    )
    .bind(now.micros())
    .bind(expires_at.micros())
    .bind(token_hash)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_session(pool: &SqlitePool, token_hash: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_sessions_of(pool: &SqlitePool, user: &str) -> StoreResult<u64> {
    let mut conn = pool.acquire().await?;
    end_sessions(&mut conn, user).await
}

pub(super) async fn delete_expired(pool: &SqlitePool, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
        .bind(now.micros())
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
