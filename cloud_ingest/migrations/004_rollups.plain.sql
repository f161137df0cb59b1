-- Rollups on plain PostgreSQL: 1-minute and 1-hour tables kept by the service's maintenance
-- loop, with the same names and columns as the TimescaleDB continuous aggregates, so queries
-- are the same on both. avg = sum / n_values; n counts every sample, n_good the good ones.
CREATE TABLE samples_1m (
    tag_id   int NOT NULL,
    bucket   timestamptz NOT NULL,
    n        bigint NOT NULL,
    n_good   bigint NOT NULL,
    n_values bigint NOT NULL,
    sum      double precision,
    min      double precision,
    max      double precision,
    PRIMARY KEY (tag_id, bucket)
);
CREATE TABLE samples_1h (LIKE samples_1m INCLUDING ALL);

-- Batches whose minutes still have to be (re)computed. Set false by every stored batch,
-- flipped by the maintenance loop; the partial index keeps finding them cheap.
ALTER TABLE batches ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
CREATE INDEX batches_rollup_pending ON batches (gateway_id, seq) WHERE NOT rolled_up;
