-- People's reports (grid workers, 12345, Open311) and the photos attached to incidents
-- (src/incidents/reports.rs, docs/reports.md).

-- What a report carries beside its incident: how it came in, who entered it and the
-- citizen's contact, which only the center's dispatchers and duty officers see. Keyed by
-- the incident's dedup key (`report:<uuid>`): the row is written before the incident is
-- opened, so an incident never lacks its contact.
CREATE TABLE reports (
    dedup_key     TEXT PRIMARY KEY NOT NULL,  -- incidents.dedup_key of its incident
    channel       TEXT NOT NULL,              -- patrol, hotline_12345, snap, open311, other
    reporter      TEXT NOT NULL,              -- user name of whoever entered it
    contact_name  TEXT,
    contact_phone TEXT,
    contact_email TEXT,
    address       TEXT,                       -- as the reporter described the place
    media_url     TEXT,                       -- Open311 media_url, kept as text
    created_at    INTEGER NOT NULL            -- µs
) WITHOUT ROWID;

-- Files attached to an incident (photos). The file itself lives in the photo directory
-- under `file`, a name the server generated.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY NOT NULL,   -- UUIDv7
    incident_id  TEXT NOT NULL,               -- incidents.id
    kind         TEXT NOT NULL,               -- photo
    content_type TEXT NOT NULL,               -- image/jpeg, image/png, image/webp
    size         INTEGER NOT NULL,            -- bytes
    sha256       TEXT NOT NULL,               -- lowercase hex
    file         TEXT NOT NULL,               -- file name in the photo directory
    uploaded_by  TEXT NOT NULL,               -- user:<name>, as in the event log
    at           INTEGER NOT NULL             -- µs
) WITHOUT ROWID;
CREATE INDEX attachments_incident ON attachments (incident_id, at);
