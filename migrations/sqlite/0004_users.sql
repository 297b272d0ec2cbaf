-- Users and their login sessions (src/auth). A user row is everything an `Actor` needs:
-- role and jurisdiction (district, street, department, grids).

CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,   -- the user name, also the actor id
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,               -- admin, duty_officer, dispatcher, ...
    district      TEXT,
    street        TEXT,
    department    TEXT,
    grids         TEXT NOT NULL DEFAULT '[]',  -- JSON array of grid codes
    password_hash TEXT NOT NULL,               -- argon2id PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,  -- 0/1: a disabled user cannot log in
    created_at    INTEGER NOT NULL             -- µs
) WITHOUT ROWID;

-- One row per login. Only the SHA-256 of the session token is stored: a leaked table
-- does not let anyone log in.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,    -- lowercase hex SHA-256 of the token
    user_name    TEXT NOT NULL,                -- users.name
    created_at   INTEGER NOT NULL,             -- µs
    expires_at   INTEGER NOT NULL,             -- µs; slides forward with use
    last_seen_at INTEGER NOT NULL,             -- µs
    csrf_token   TEXT NOT NULL                 -- sent back as X-CSRF-Token with cookies
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires ON sessions (expires_at);
