-- What the rules engine needs from the store: which rule raised an incident, the incident
-- event log, and the engine state that must survive a restart.

ALTER TABLE incidents ADD COLUMN rule text;          -- name of the rule that raised it
ALTER TABLE incidents ADD COLUMN description text;

-- Append-only: one row per change of an incident, written in the change's transaction.
-- Changes of one incident hold its row lock, so within an incident `id` is the log order.
CREATE TABLE incident_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL,  -- event time of the change
    actor       text NOT NULL,         -- rule:<name>, system, a user
    action      text NOT NULL,         -- opened, severity, cleared, refired, closed
    from_state  text,
    to_state    text,
    note        text
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- Rules-engine state (pending `for:` timers, firing levels) as opaque JSON per key. Text,
-- not jsonb: the store never looks inside, and it comes back byte for byte.
CREATE TABLE rule_state (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()  -- wall clock of the write, for operators
);
