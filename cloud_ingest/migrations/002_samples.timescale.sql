-- Samples on TimescaleDB: the same columns as a hypertable with daily chunks (the service
-- adjusts the chunk interval and policies from its config after migrating).
CREATE TABLE samples (
    tag_id     int NOT NULL,
    ts         timestamptz NOT NULL,
    read_ts    timestamptz NOT NULL,
    value      double precision,
    value_text text,
    quality    smallint NOT NULL,
    code       bigint,                      -- the device's own status code (OPC UA: uint32)
    gateway_id int NOT NULL,
    seq        bigint NOT NULL
);
SELECT create_hypertable('samples', 'ts', chunk_time_interval => interval '1 day',
                         create_default_indexes => false);
CREATE INDEX samples_tag_ts ON samples (tag_id, ts);
ALTER TABLE samples SET (timescaledb.compress,
                         timescaledb.compress_segmentby = 'tag_id',
                         timescaledb.compress_orderby = 'ts');

-- Same name as on plain PostgreSQL, so the write path is one: chunks appear by themselves.
CREATE FUNCTION sfg_ensure_day_partition(day date) RETURNS boolean
LANGUAGE sql AS $$ SELECT false $$;
