-- Creates `readings` as a TimescaleDB hypertable when the extension is available and
-- usable, otherwise as a day-partitioned table. A failed Timescale setup (e.g. the library
-- is installed but not in shared_preload_libraries) is rolled back to its savepoint and the
-- plain layout is used instead.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            PERFORM cityops_create_readings_timescale();
            RETURN;
        EXCEPTION WHEN others THEN
            RAISE WARNING 'timescaledb is available but could not be used (%); using plain partitions', SQLERRM;
        END;
    END IF;
    PERFORM cityops_create_readings_partitioned();
END $$;
