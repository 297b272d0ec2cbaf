-- Users and their login sessions (src/auth). A user row is everything an `Actor` needs:
-- role and jurisdiction (district, street, department, grids).

CREATE TABLE users (
    name          text PRIMARY KEY,                 -- the user name, also the actor id
    display_name  text NOT NULL,
    role          text NOT NULL,                    -- admin, duty_officer, dispatcher, ...
    district      text,
    street        text,
    department    text,
    grids         jsonb NOT NULL DEFAULT '[]',      -- array of grid codes
    password_hash text NOT NULL,                    -- argon2id PHC string
    disabled      boolean NOT NULL DEFAULT false,   -- a disabled user cannot log in
    created_at    timestamptz NOT NULL
);

-- One row per login. Only the SHA-256 of the session token is stored: a leaked table
-- does not let anyone log in.
CREATE TABLE sessions (
    token_hash   text PRIMARY KEY,                  -- lowercase hex SHA-256 of the token
    user_name    text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,              -- slides forward with use
    last_seen_at timestamptz NOT NULL,
    csrf_token   text NOT NULL                      -- sent back as X-CSRF-Token with cookies
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires ON sessions (expires_at);
