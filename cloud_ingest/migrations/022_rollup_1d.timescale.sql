-- A daily rollup beside samples_1m / samples_1h (TimescaleDB: a continuous aggregate on
-- samples_1h, as samples_1h is on samples_1m, with real-time aggregation). time_bucket of a day
-- on timestamptz is the UTC day, the grid of the hours. A month of a tag is 30 rows instead of
-- 720: what the evidence figures read for the whole days of a window. Besides the columns of the
-- other rollups:
--   hours       how many hours of the day hold samples of the tag (rows of samples_1h)
--   n_good_min  the fewest good samples of the tag in any of those hours
-- With them a day can be known to be exactly as expected in every hour without reading its hours.
CREATE MATERIALIZED VIEW samples_1d WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tag_id,
       time_bucket(interval '1 day', bucket) AS bucket,
       sum(n)::bigint        AS n,
       sum(n_good)::bigint   AS n_good,
       sum(n_values)::bigint AS n_values,
       sum(sum)              AS sum,
       min(min)              AS min,
       max(max)              AS max,
       count(*)::int         AS hours,
       min(n_good)::bigint   AS n_good_min
FROM samples_1h
GROUP BY tag_id, time_bucket(interval '1 day', bucket)
WITH NO DATA;

-- The policy looks back past the hourly one's 7 days, so every hour that policy re-materialises
-- reaches its day; the day itself is materialised once it is over (real-time aggregation covers
-- the current one). Late backlog older than that is refreshed by the maintenance loop.
SELECT add_continuous_aggregate_policy('samples_1d', start_offset => interval '9 days',
       end_offset => interval '1 day', schedule_interval => interval '1 hour');
-- History the hours hold already (an upgraded database) is older than the policy's window: it is
-- materialised once, right after this migration commits (migrate.py, AFTER_COMMIT: a refresh
-- cannot run inside a transaction), or the first policy run would set the watermark past it and
-- leave those days out.
