-- Integers beyond 2^53 lose digits in double precision (a uint64 energy register of
-- 4632251081920692269 read back as ...224), so such a value is also stored exactly in
-- value_exact (numeric: every int64 and uint64, any size JSON can carry). value keeps the
-- nearest double, for the rollups and any query that computes; value_exact is NULL for every
-- other row (a NULL costs one bit), so rows and the write path stay as they were. The writer
-- fills it from 10^15 on (cloud_ingest/copy_rows.py): the float8 -> numeric cast keeps 15
-- digits, so coalesce(value_exact, value::numeric) is exact for every integer.
-- Both flavours: a nullable column without default is a catalog change, also on a compressed
-- TimescaleDB hypertable. v_samples shows it, at the end of its columns.
ALTER TABLE samples ADD COLUMN value_exact numeric;

-- v_samples gains value_exact as its last column. The view is extended from its current
-- definition rather than spelled out again, so columns that earlier migrations added to it
-- (samples.reason, for one) stay where they are.
DO $$
DECLARE
    def  text := pg_get_viewdef('v_samples'::regclass);
    -- the select list ends before the first FROM; pg_get_viewdef writes "FROM (((samples s ..."
    grown text := regexp_replace(def, '\s+FROM\s', ', s.value_exact FROM ');
BEGIN
    IF grown = def OR def !~ 'FROM \(*samples s\M' THEN
        RAISE EXCEPTION 'v_samples is not the view over samples s it should be: %', def;
    END IF;
    EXECUTE 'CREATE OR REPLACE VIEW v_samples AS ' || grown;
END $$;
