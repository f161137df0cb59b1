-- Rollups on TimescaleDB: continuous aggregates (1 minute, and 1 hour built on it), with the
-- same names and columns as the plain-PostgreSQL tables. Real-time aggregation is on, so the
-- newest minutes are included before the refresh policy materialises them.
CREATE MATERIALIZED VIEW samples_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tag_id,
       time_bucket(interval '1 minute', ts) AS bucket,
       count(*)                              AS n,
       sum(CASE WHEN quality = 0 THEN 1 ELSE 0 END)::bigint AS n_good,
       count(value)                          AS n_values,
       sum(value)                            AS sum,
       min(value)                            AS min,
       max(value)                            AS max
FROM samples
GROUP BY tag_id, time_bucket(interval '1 minute', ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW samples_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tag_id,
       time_bucket(interval '1 hour', bucket) AS bucket,
       sum(n)::bigint        AS n,
       sum(n_good)::bigint   AS n_good,
       sum(n_values)::bigint AS n_values,
       sum(sum)              AS sum,
       min(min)              AS min,
       max(max)              AS max
FROM samples_1m
GROUP BY tag_id, time_bucket(interval '1 hour', bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('samples_1m', start_offset => interval '3 days',
       end_offset => interval '1 minute', schedule_interval => interval '1 minute');
SELECT add_continuous_aggregate_policy('samples_1h', start_offset => interval '7 days',
       end_offset => interval '1 hour', schedule_interval => interval '30 minutes');

-- The refresh policies only look back a few days; a late backlog batch older than that is
-- refreshed explicitly by the maintenance loop, which finds it here (as on plain PostgreSQL).
ALTER TABLE batches ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
CREATE INDEX batches_rollup_pending ON batches (gateway_id, seq) WHERE NOT rolled_up;
