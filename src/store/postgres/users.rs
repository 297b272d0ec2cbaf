//! PostgreSQL users and sessions. Times are `timestamptz`, grids a `jsonb` array; a
//! session's user is a foreign key, and deleting a user would take its sessions with it.

use super::{from_pg, to_pg};
use crate::model::Timestamp;
use crate::store::{NewSession, NewUser, Session, StoreError, StoreResult, User, parse_role};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Row};

/// The user columns, read by [`user`]; a macro so queries stay `&'static str`.
macro_rules! user_columns {
    () => {
        "u.name, u.display_name, u.role, u.district, u.street, u.department, u.grids, \
         u.password_hash, u.disabled, u.created_at"
    };
}

fn user(row: &PgRow) -> StoreResult<User> {
    let name: String = row.try_get("name")?;
    let role: &str = row.try_get("role")?;
    let Json(grids): Json<Vec<String>> = row.try_get("grids")?;
    Ok(User {
        role: parse_role(role)
            .ok_or_else(|| StoreError::Corrupt(format!("user {name}: role {role:?}")))?,
        grids,
        display_name: row.try_get("display_name")?,
        district: row.try_get("district")?,
        street: row.try_get("street")?,
        department: row.try_get("department")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get("disabled")?,
        created_at: from_pg(row.try_get("created_at")?),
        name,
    })
}

pub(super) async fn create_user(pool: &PgPool, u: &NewUser) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO users (name, display_name, role, district, street, department, grids, \
         password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&u.name)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(&u.district)
    .bind(&u.street)
    .bind(&u.department)
    .bind(Json(&u.grids))
    .bind(&u.password_hash)
    .bind(to_pg(u.created_at)?)
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

pub(super) async fn set_password(pool: &PgPool, name: &str, hash: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
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

pub(super) async fn set_disabled(pool: &PgPool, name: &str, disabled: bool) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
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

async fn end_sessions(conn: &mut PgConnection, name: &str) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn get_user(pool: &PgPool, name: &str) -> StoreResult<Option<User>> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(user)
    .transpose()
}

pub(super) async fn list_users(pool: &PgPool) -> StoreResult<Vec<User>> {
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

pub(super) async fn create_session(pool: &PgPool, s: &NewSession) -> StoreResult<()> {
    // Inserting from the user's row makes an unknown user insert nothing, rather than
    // fail on the foreign key; the check after it tells the two empty outcomes apart.
    let done = sqlx::query(
        "INSERT INTO sessions (token_hash, user_name, created_at, expires_at, last_seen_at, \
         csrf_token) SELECT $1, name, $3, $4, $3, $5 FROM users WHERE name = $2 \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(&s.token_hash)
    .bind(&s.user)
    .bind(to_pg(s.created_at)?)
    .bind(to_pg(s.expires_at)?)
    .bind(&s.csrf_token)
    .execute(pool)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    if get_user(pool, &s.user).await?.is_none() {
        return Err(StoreError::NotFound(format!("user {:?}", s.user)));
    }
    Err(StoreError::Conflict("session token already stored".into()))
}

pub(super) async fn session(
    pool: &PgPool,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<Session>> {
    let row = sqlx::query(concat!(
        "SELECT s.token_hash, s.csrf_token, s.created_at AS s_created_at, s.expires_at, \
         s.last_seen_at, ",
        user_columns!(),
        " FROM sessions s JOIN users u ON u.name = s.user_name \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
    ))
    .bind(token_hash)
    .bind(to_pg(now)?)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let time =
        |c: &str| -> StoreResult<Timestamp> { Ok(from_pg(row.try_get::<DateTime<Utc>, _>(c)?)) };
    Ok(Some(Session {
        token_hash: row.try_get("token_hash")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: time("s_created_at")?,
        expires_at: time("expires_at")?,
        last_seen_at: time("last_seen_at")?,
        user: user(&row)?,
    }))
}

pub(super) async fn touch_session(
    pool: &PgPool,
    token_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1), \
         expires_at = GREATEST(expires_at, $2) WHERE token_hash = $3",
    )
    .bind(to_pg(now)?)
    .bind(to_pg(expires_at)?)
    .bind(token_hash)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_session(pool: &PgPool, token_hash: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_sessions_of(pool: &PgPool, user: &str) -> StoreResult<u64> {
    let mut conn = pool.acquire().await?;
    end_sessions(&mut conn, user).await
}

pub(super) async fn delete_expired(pool: &PgPool, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(to_pg(now)?)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
