// Users and sessions, the same SQL for both backends (included by each; see
// `store/mod.rs`). Grids are a JSON array (`text` on SQLite, `jsonb` on PostgreSQL).
// An unknown user is refused by inserting a session from the user's row, not by a
// foreign key (SQLite runs with foreign keys off).

use super::{Db, This};
use crate::model::Timestamp;
use crate::store::{
    NewSession, NewUser, Session, StoreError, StoreResult, User, UserStore, parse_role,
};
use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::{Row, Transaction};

/// The user columns, read by [`user`]; a macro so queries stay `&'static str`.
macro_rules! user_columns {
    () => {
        "u.name, u.display_name, u.role, u.district, u.street, u.department, u.grids, \
         u.password_hash, u.disabled, u.created_at"
    };
}

fn user(row: &<Db as sqlx::Database>::Row) -> StoreResult<User> {
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
        created_at: row.try_get("created_at")?,
        name,
    })
}

async fn end_sessions(tx: &mut Transaction<'static, Db>, name: &str) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_name = $1")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl UserStore for This {
    async fn create_user(&self, u: &NewUser) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO users (name, display_name, role, district, street, department, grids, \
             password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&u.name)
        .bind(&u.display_name)
        .bind(u.role.as_str())
        .bind(&u.district)
        .bind(&u.street)
        .bind(&u.department)
        .bind(Json(&u.grids))
        .bind(&u.password_hash)
        .bind(u.created_at)
        .execute(self.writer())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a user named {:?} already exists",
                u.name
            )));
        }
        Ok(())
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
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

    async fn set_user_disabled(&self, name: &str, disabled: bool) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
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

    async fn user(&self, name: &str) -> StoreResult<Option<User>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.name = $1"
        ))
        .bind(name)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(user)
        .transpose()
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u ORDER BY u.name"
        ))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(user)
        .collect()
    }

    async fn create_session(&self, s: &NewSession) -> StoreResult<()> {
        // Inserting from the user's row makes an unknown user insert nothing; the check
        // after it tells the two empty outcomes apart.
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, created_at, expires_at, \
             last_seen_at, csrf_token) SELECT $1, name, $3, $4, $3, $5 FROM users \
             WHERE name = $2 ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(&s.token_hash)
        .bind(&s.user)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(&s.csrf_token)
        .execute(self.writer())
        .await?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        if self.user(&s.user).await?.is_none() {
            return Err(StoreError::NotFound(format!("user {:?}", s.user)));
        }
        Err(StoreError::Conflict("session token already stored".into()))
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT s.token_hash, s.csrf_token, s.created_at AS s_created_at, s.expires_at, \
             s.last_seen_at, ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            token_hash: row.try_get("token_hash")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("s_created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            user: user(&row)?,
        }))
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(concat!(
            "UPDATE sessions SET last_seen_at = ",
            greatest!(),
            "(last_seen_at, $1), expires_at = ",
            greatest!(),
            "(expires_at, $2) WHERE token_hash = $3"
        ))
        .bind(now)
        .bind(expires_at)
        .bind(token_hash)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let n = end_sessions(&mut tx, user).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }
}
