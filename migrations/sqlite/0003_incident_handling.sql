-- The closed loop (立案 → 派遣 → 处置 → 结案): what `Handling` carries for each incident, and
-- three final states (closed, rejected, merged) instead of one.

ALTER TABLE incidents ADD COLUMN department TEXT;               -- dispatched to, if any
ALTER TABLE incidents ADD COLUMN due_at INTEGER;                -- current step due, µs
ALTER TABLE incidents ADD COLUMN supervision INTEGER NOT NULL DEFAULT 0;  -- 督办 count
ALTER TABLE incidents ADD COLUMN merged_into TEXT;              -- incidents.id, when merged
ALTER TABLE incidents ADD COLUMN suspended_from TEXT;           -- status to resume to
ALTER TABLE incidents ADD COLUMN extension_requested INTEGER;   -- asked-for due time, µs

-- At most one incident that is not final per key. A rejected or merged incident frees its
-- key like a closed one. The store's queries repeat this predicate word for word (an
-- upsert's conflict target and a partial index are matched by their text).
DROP INDEX incidents_open_dedup_key;
CREATE UNIQUE INDEX incidents_open_dedup_key ON incidents (dedup_key)
    WHERE status NOT IN ('closed', 'rejected', 'merged');

-- A department's open incidents, newest first.
CREATE INDEX incidents_open_department ON incidents (department, opened_at)
    WHERE status NOT IN ('closed', 'rejected', 'merged');
-- Open incidents due before a time (time-limit checks).
CREATE INDEX incidents_open_due_at ON incidents (due_at)
    WHERE status NOT IN ('closed', 'rejected', 'merged');
