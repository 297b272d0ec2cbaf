-- cityops schema for PostgreSQL, everything but `readings` (see 0003).

CREATE TABLE sensors (
    id       text PRIMARY KEY,
    kind     text NOT NULL,
    name     text NOT NULL,
    metrics  jsonb NOT NULL,          -- array of MetricSpec
    lon      double precision NOT NULL,
    lat      double precision NOT NULL,
    grid     text,
    street   text,
    district text
);
CREATE INDEX sensors_kind ON sensors (kind);
CREATE INDEX sensors_district ON sensors (district);

CREATE TABLE cameras (
    id       text PRIMARY KEY,
    name     text NOT NULL,
    lon      double precision NOT NULL,
    lat      double precision NOT NULL,
    grid     text,
    street   text,
    district text
);

-- Newest value per (sensor, metric); the writer only ever moves it forward in time.
CREATE TABLE sensor_latest (
    sensor_id text NOT NULL,
    metric    text NOT NULL,
    time      timestamptz NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (sensor_id, metric)
);

CREATE TABLE video_alerts (
    source_id    text PRIMARY KEY,
    camera_id    text NOT NULL,
    event_type   text NOT NULL,
    confidence   double precision NOT NULL,
    time         timestamptz NOT NULL,
    snapshot_url text,
    lon          double precision NOT NULL,
    lat          double precision NOT NULL,
    grid         text,
    street       text,
    district     text
);
CREATE INDEX video_alerts_time ON video_alerts (time);

-- Bounded by the writer: after an insert it deletes `id <= max(id) - limit`. Sequence gaps
-- only make it keep fewer rows, never more.
CREATE TABLE dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL,
    source      text NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL,
    raw         bytea NOT NULL
);

CREATE TABLE incidents (
    id         uuid PRIMARY KEY,
    dedup_key  text NOT NULL,
    category   text NOT NULL,
    severity   text NOT NULL,
    status     text NOT NULL,
    title      text NOT NULL,
    source     text,
    lon        double precision NOT NULL,
    lat        double precision NOT NULL,
    grid       text,
    street     text,
    district   text,
    opened_at  timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    count      bigint NOT NULL,
    peak       double precision,
    cleared_at timestamptz,
    closed_at  timestamptz,
    version    bigint NOT NULL
);
-- At most one incident that is not closed per key: the database decides races.
CREATE UNIQUE INDEX incidents_open_dedup_key ON incidents (dedup_key) WHERE status <> 'closed';
CREATE INDEX incidents_opened_at ON incidents (opened_at);
