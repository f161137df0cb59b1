-- Samples on plain PostgreSQL: native daily range partitions on the source timestamp.
-- Rows stay narrow (ids, three timestamps, value); gateway_id + seq name the batch in the
-- ledger, which also gives the cloud-stored time (batches.stored_at) without a column per row.
CREATE TABLE samples (
    tag_id     int NOT NULL,
    ts         timestamptz NOT NULL,        -- device source time
    read_ts    timestamptz NOT NULL,        -- gateway read time
    value      double precision,            -- numbers, and bools as 0/1
    value_text text,                        -- strings
    quality    smallint NOT NULL,           -- 0 good, 1 uncertain, 2 bad
    code       int,                         -- the device's own status code
    gateway_id int NOT NULL,
    seq        bigint NOT NULL
) PARTITION BY RANGE (ts);

-- Series queries go by tag over a time range; no unique index (the ledger guards duplicates).
CREATE INDEX samples_tag_ts ON samples (tag_id, ts);

-- One UTC day per partition; safe to call concurrently and again.
CREATE FUNCTION sfg_ensure_day_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'samples_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sfg_samples_partitions'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
            part, to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
    EXCEPTION WHEN duplicate_table THEN
        RETURN false;  -- another worker made it between our check and our statement
    END;
    RETURN true;
END $$;

SELECT sfg_ensure_day_partition(d::date)
FROM generate_series(current_date - 1, current_date + 7, interval '1 day') AS d;
