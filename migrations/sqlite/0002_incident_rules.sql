-- What the rules engine needs from the store: which rule raised an incident, the incident
-- event log, and the engine state that must survive a restart.

ALTER TABLE incidents ADD COLUMN rule TEXT;          -- name of the rule that raised it
ALTER TABLE incidents ADD COLUMN description TEXT;

-- Append-only: one row per change of an incident, written in the change's transaction.
-- `id` gives the log order (AUTOINCREMENT: never reused, even after the newest row goes).
CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,        -- incidents.id
    at          INTEGER NOT NULL,     -- event time of the change, µs
    actor       TEXT NOT NULL,        -- rule:<name>, system, a user
    action      TEXT NOT NULL,        -- opened, severity, cleared, refired, closed
    from_state  TEXT,
    to_state    TEXT,
    note        TEXT
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- Rules-engine state (pending `for:` timers, firing levels) as opaque JSON per key.
CREATE TABLE rule_state (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL       -- wall-clock µs of the write, for operators
) WITHOUT ROWID;
