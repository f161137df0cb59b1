-- A daily rollup beside samples_1m / samples_1h (plain PostgreSQL: a table kept by the
-- maintenance loop, recomputed from the hours like the hours from the minutes). Days are UTC
-- days, on the same grid as the hours. A month of a tag is 30 rows instead of 720: what the
-- evidence figures read for the whole days of a window (docs/evidence.md, "Where the figures
-- come from"). Besides the columns of the other rollups:
--   hours       how many hours of the day hold samples of the tag (rows of samples_1h)
--   n_good_min  the fewest good samples of the tag in any of those hours
-- With them a day can be known to be exactly as expected in every hour (hours = 24,
-- n_good_min = n = 24 x the samples an hour expects) without reading its hours.
SET LOCAL TIME ZONE 'UTC';
CREATE TABLE samples_1d (
    tag_id     int NOT NULL,
    bucket     timestamptz NOT NULL,
    n          bigint NOT NULL,
    n_good     bigint NOT NULL,
    n_values   bigint NOT NULL,
    sum        double precision,
    min        double precision,
    max        double precision,
    hours      int NOT NULL,
    n_good_min bigint NOT NULL,
    -- covering: the figures read a month of days per tag by index-only scans
    PRIMARY KEY (tag_id, bucket) INCLUDE (n, n_good, hours, n_good_min)
);
-- every day the hours hold already (an upgraded database keeps its history)
INSERT INTO samples_1d (tag_id, bucket, n, n_good, n_values, sum, min, max, hours, n_good_min)
SELECT tag_id, date_trunc('day', bucket), sum(n), sum(n_good), sum(n_values), sum(sum), min(min), max(max),
       count(*), min(n_good)
FROM samples_1h
GROUP BY 1, 2;
ANALYZE samples_1d;
