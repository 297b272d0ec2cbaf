-- The closed loop (立案 → 派遣 → 处置 → 结案): what `Handling` carries for each incident, and
-- three final states (closed, rejected, merged) instead of one.

ALTER TABLE incidents
    ADD COLUMN department text,                          -- dispatched to, if any
    ADD COLUMN due_at timestamptz,                       -- when the current step is due
    ADD COLUMN supervision integer NOT NULL DEFAULT 0,   -- 督办: times escalated
    -- No foreign key: SQLite does not enforce one, and both backends keep one contract.
    ADD COLUMN merged_into uuid,                         -- incidents.id, when merged
    ADD COLUMN suspended_from text,                      -- status to resume to
    ADD COLUMN extension_requested timestamptz;          -- the due time asked for

-- At most one incident that is not final per key. A rejected or merged incident frees its
-- key like a closed one. `ON CONFLICT ... WHERE` repeats this predicate to infer the index.
DROP INDEX incidents_open_dedup_key;
CREATE UNIQUE INDEX incidents_open_dedup_key ON incidents (dedup_key)
    WHERE status NOT IN ('closed', 'rejected', 'merged');

-- A department's open incidents, newest first.
CREATE INDEX incidents_open_department ON incidents (department, opened_at)
    WHERE status NOT IN ('closed', 'rejected', 'merged');
-- Open incidents due before a time (time-limit checks).
CREATE INDEX incidents_open_due_at ON incidents (due_at)
    WHERE status NOT IN ('closed', 'rejected', 'merged');
