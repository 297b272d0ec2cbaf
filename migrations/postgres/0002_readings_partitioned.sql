-- Plain-PostgreSQL layout of `readings`: range-partitioned by day (UTC) with a BRIN index on
-- time, and a DEFAULT partition so a reading is never rejected for its timestamp. The Rust
-- side calls `cityops_ensure_readings_partition` before a batch needs a day, and
-- `cityops_drop_readings_older_than` for retention.

CREATE FUNCTION cityops_create_readings_partitioned() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE readings (
        sensor_id text NOT NULL,
        metric    text NOT NULL,
        time      timestamptz NOT NULL,
        value     double precision NOT NULL,
        PRIMARY KEY (sensor_id, metric, time)
    ) PARTITION BY RANGE (time);
    CREATE INDEX readings_time_brin ON readings USING brin (time);
    CREATE TABLE readings_default PARTITION OF readings DEFAULT;
END $$;

-- Creates the partition for one UTC day unless it exists; returns whether it created it.
-- Rows of that day already in the DEFAULT partition are moved into the new one first,
-- since attaching a range the DEFAULT partition holds rows of would fail.
CREATE FUNCTION cityops_ensure_readings_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'readings_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Several writers (tasks or nodes) may want the same day at once.
    PERFORM pg_advisory_xact_lock(hashtext('cityops_readings_partitions'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM readings_default WHERE time >= %L AND time < %L RETURNING sensor_id, metric, time, value) '
        'INSERT INTO %I (sensor_id, metric, time, value) SELECT * FROM moved',
        lo, hi, part);
    EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END $$;

-- Drops the day partitions that end before `now() - days` and deletes rows that old from
-- the DEFAULT partition. Returns how many partitions it dropped.
CREATE FUNCTION cityops_drop_readings_older_than(days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := now() - make_interval(days => days);
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_p[0-9]{8}$'
    LOOP
        IF (to_date(substr(part.relname, 11), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM readings_default WHERE time < cutoff;
    RETURN dropped;
END $$;
