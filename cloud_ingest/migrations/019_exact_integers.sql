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

CREATE OR REPLACE VIEW v_samples AS
SELECT e.code        AS enterprise,
       g.code        AS gateway,
       d.code        AS device,
       t.name        AS tag,
       s.ts,
       s.read_ts,
       b.stored_at   AS stored_ts,
       s.value,
       s.value_text,
       s.quality,
       s.code,
       s.seq,
       s.value_exact
FROM samples s
JOIN tags t        ON t.id = s.tag_id
JOIN devices d     ON d.id = t.device_id
JOIN enterprises e ON e.id = d.enterprise_id
JOIN gateways g    ON g.id = s.gateway_id
JOIN batches b     ON b.gateway_id = s.gateway_id AND b.seq = s.seq;
