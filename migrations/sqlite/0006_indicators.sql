-- The city's vital signs (src/indicators, docs/indicators.md): each indicator's value and
-- level per scope at one-minute resolution of event time, kept `indicators.retention_days`.
CREATE TABLE indicator_values (
    indicator TEXT NOT NULL,     -- the indicator's id (rules/indicators.toml)
    scope     TEXT NOT NULL,     -- '' the whole city, 'district:<code>', 'street:<code>'
    minute    INTEGER NOT NULL,  -- µs, the start of the minute (event time)
    value     REAL,              -- NULL: nothing to compute from (no sensor reporting)
    level     TEXT NOT NULL,     -- normal, blue, yellow, orange, red
    PRIMARY KEY (indicator, scope, minute)
) WITHOUT ROWID;

CREATE INDEX indicator_values_minute ON indicator_values (minute);
