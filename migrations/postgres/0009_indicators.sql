-- The city's vital signs (src/indicators, docs/indicators.md): each indicator's value and
-- level per scope at one-minute resolution of event time, kept `indicators.retention_days`.
-- A plain table with its own retention (the pipeline deletes old minutes); the rows are
-- already one-minute aggregates, so TimescaleDB would add nothing a city needs here.
CREATE TABLE indicator_values (
    indicator text NOT NULL,          -- the indicator's id (rules/indicators.toml)
    scope     text NOT NULL,          -- '' the whole city, 'district:<code>', 'street:<code>'
    minute    timestamptz NOT NULL,   -- the start of the minute (event time)
    value     double precision,       -- NULL: nothing to compute from (no sensor reporting)
    level     text NOT NULL,          -- normal, blue, yellow, orange, red
    PRIMARY KEY (indicator, scope, minute)
);

CREATE INDEX indicator_values_minute ON indicator_values USING brin (minute);
