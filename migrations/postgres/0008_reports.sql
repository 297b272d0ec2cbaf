-- People's reports (grid workers, 12345, Open311) and the photos attached to incidents
-- (src/incidents/reports.rs, docs/reports.md).

-- What a report carries beside its incident: how it came in, who entered it and the
-- citizen's contact, which only the center's dispatchers and duty officers see. Keyed by
-- the incident's dedup key (`report:<uuid>`): the row is written before the incident is
-- opened, so an incident never lacks its contact.
CREATE TABLE reports (
    dedup_key     text PRIMARY KEY,              -- incidents.dedup_key of its incident
    channel       text NOT NULL,                 -- patrol, hotline_12345, snap, open311, other
    reporter      text NOT NULL,                 -- user name of whoever entered it
    contact_name  text,
    contact_phone text,
    contact_email text,
    address       text,                          -- as the reporter described the place
    media_url     text,                          -- Open311 media_url, kept as text
    created_at    timestamptz NOT NULL
);

-- Files attached to an incident (photos). The file itself lives in the photo directory
-- under `file`, a name the server generated.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,               -- UUIDv7
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    kind         text NOT NULL,                  -- photo
    content_type text NOT NULL,                  -- image/jpeg, image/png, image/webp
    size         bigint NOT NULL,                -- bytes
    sha256       text NOT NULL,                  -- lowercase hex
    file         text NOT NULL,                  -- file name in the photo directory
    uploaded_by  text NOT NULL,                  -- user:<name>, as in the event log
    at           timestamptz NOT NULL
);
CREATE INDEX attachments_incident ON attachments (incident_id, at);
