-- TimescaleDB layout of `readings`: a hypertable with daily chunks, compression and a
-- retention policy. Only called when the extension is available (see 0004). Kept apart
-- because these machines cannot test it; the partitioned layout is the tested one.

CREATE FUNCTION cityops_create_readings_timescale() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    CREATE TABLE readings (
        sensor_id text NOT NULL,
        metric    text NOT NULL,
        time      timestamptz NOT NULL,
        value     double precision NOT NULL,
        PRIMARY KEY (sensor_id, metric, time)
    );
    PERFORM create_hypertable('readings', 'time', chunk_time_interval => INTERVAL '1 day');
    ALTER TABLE readings SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'sensor_id, metric',
        timescaledb.compress_orderby = 'time'
    );
    PERFORM add_compression_policy('readings', INTERVAL '7 days');
    PERFORM add_retention_policy('readings', INTERVAL '400 days');
END $$;

CREATE FUNCTION cityops_drop_readings_chunks_older_than(days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    dropped integer;
BEGIN
    EXECUTE 'SELECT count(*) FROM drop_chunks(''readings'', older_than => $1)'
        INTO dropped USING make_interval(days => days);
    RETURN dropped;
END $$;
