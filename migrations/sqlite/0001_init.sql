-- cityops schema for SQLite. Times are INTEGER microseconds since the Unix epoch (UTC),
-- the same resolution as PostgreSQL's timestamptz, so a reading's identity matches in both.

CREATE TABLE sensors (
    id       TEXT PRIMARY KEY NOT NULL,
    kind     TEXT NOT NULL,
    name     TEXT NOT NULL,
    metrics  TEXT NOT NULL,          -- JSON array of MetricSpec
    lon      REAL NOT NULL,
    lat      REAL NOT NULL,
    grid     TEXT,
    street   TEXT,
    district TEXT
);
CREATE INDEX sensors_kind ON sensors (kind);
CREATE INDEX sensors_district ON sensors (district);

CREATE TABLE cameras (
    id       TEXT PRIMARY KEY NOT NULL,
    name     TEXT NOT NULL,
    lon      REAL NOT NULL,
    lat      REAL NOT NULL,
    grid     TEXT,
    street   TEXT,
    district TEXT
);

-- Newest value per (sensor, metric); the writer only ever moves it forward in time.
CREATE TABLE sensor_latest (
    sensor_id TEXT NOT NULL,
    metric    TEXT NOT NULL,
    time      INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (sensor_id, metric)
) WITHOUT ROWID;

-- WITHOUT ROWID: the primary key is the only b-tree, so an insert touches one index and
-- range queries by (sensor, metric, time) read rows in key order.
CREATE TABLE readings (
    sensor_id TEXT NOT NULL,
    metric    TEXT NOT NULL,
    time      INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (sensor_id, metric, time)
) WITHOUT ROWID;

CREATE TABLE video_alerts (
    source_id    TEXT PRIMARY KEY NOT NULL,
    camera_id    TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    confidence   REAL NOT NULL,
    time         INTEGER NOT NULL,
    snapshot_url TEXT,
    lon          REAL NOT NULL,
    lat          REAL NOT NULL,
    grid         TEXT,
    street       TEXT,
    district     TEXT
);
CREATE INDEX video_alerts_time ON video_alerts (time);

-- Ids only grow (the newest row is never deleted), so `id <= max(id) - limit` finds the
-- rows past the bound without counting.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    source      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raw         BLOB NOT NULL
);

CREATE TABLE incidents (
    id         TEXT PRIMARY KEY NOT NULL,   -- UUIDv7, hyphenated
    dedup_key  TEXT NOT NULL,
    category   TEXT NOT NULL,
    severity   TEXT NOT NULL,
    status     TEXT NOT NULL,
    title      TEXT NOT NULL,
    source     TEXT,
    lon        REAL NOT NULL,
    lat        REAL NOT NULL,
    grid       TEXT,
    street     TEXT,
    district   TEXT,
    opened_at  INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    peak       REAL,
    cleared_at INTEGER,
    closed_at  INTEGER,
    version    INTEGER NOT NULL
);
-- At most one incident that is not closed per key: the database decides races.
CREATE UNIQUE INDEX incidents_open_dedup_key ON incidents (dedup_key) WHERE status <> 'closed';
CREATE INDEX incidents_opened_at ON incidents (opened_at);
