-- What the evidence figures read besides the samples (docs/evidence.md, "Where the figures come from").

-- Polls the gateway had no time for (wire DeviceCounters.skipped_polls): gap cause gateway_overrun.
ALTER TABLE device_counters ADD COLUMN skipped_polls bigint NOT NULL DEFAULT 0;
-- The reconciliation and the gap causes look up a device's last report on a gateway before a time:
-- the device index gains the gateway, so that lookup is one backward step in the index.
DROP INDEX device_counters_device;
CREATE INDEX device_counters_device ON device_counters (device_id, gateway_id, sent_at);

-- The newest gateway read time of a batch, beside its source times (min_ts, max_ts): latency
-- splits into device -> gateway and gateway -> cloud from the ledger alone.
ALTER TABLE batches ADD COLUMN max_rt timestamptz;
-- The counter reports of a stretch of time are found by when they arrived.
CREATE INDEX batches_gateway_received ON batches (gateway_id, received_at);

-- Samples per device per batch, written with the batch: late samples, and what the cloud stored
-- between two counter reports, per device, without reading the samples.
CREATE TABLE batch_devices (
    gateway_id int NOT NULL,
    seq        bigint NOT NULL,
    device_id  int NOT NULL,
    n          int NOT NULL,
    PRIMARY KEY (gateway_id, seq, device_id) INCLUDE (n)   -- summed by index-only scans
);
INSERT INTO batch_devices (gateway_id, seq, device_id, n)
SELECT s.gateway_id, s.seq, t.device_id, count(*)
FROM samples s JOIN tags t ON t.id = s.tag_id
GROUP BY 1, 2, 3;

-- Every birth and death received (gateway_sessions keeps one row per session, overwritten when a
-- session is born again after a reconnect): the gateway's online history.
CREATE TABLE gateway_events (
    id          bigserial PRIMARY KEY,
    gateway_id  int NOT NULL REFERENCES gateways (id),
    session     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('birth', 'death')),
    ts          timestamptz,                 -- gateway clock, from the message
    received_at timestamptz NOT NULL,        -- cloud clock
    reason      text                         -- death: lost | shutdown
);
CREATE INDEX gateway_events_received ON gateway_events (gateway_id, received_at);
-- a redelivered birth or death (QoS 1) is the same event: stored once
CREATE UNIQUE INDEX gateway_events_once ON gateway_events (gateway_id, session, kind, ts);
INSERT INTO gateway_events (gateway_id, session, kind, ts, received_at)
SELECT gateway_id, session, 'birth', born_at, birth_received_at FROM gateway_sessions
WHERE birth_received_at IS NOT NULL;
INSERT INTO gateway_events (gateway_id, session, kind, ts, received_at, reason)
SELECT gateway_id, session, 'death', died_at, death_received_at, death_reason FROM gateway_sessions
WHERE death_received_at IS NOT NULL;

CREATE INDEX dead_letters_enterprise ON dead_letters (enterprise, received_at);

-- The figures read a month of hourly rollups per tag: covering them makes that an index-only
-- scan (about 3x faster than visiting the table), once vacuum has marked the pages visible.
CREATE INDEX samples_1h_cover ON samples_1h (tag_id, bucket) INCLUDE (n, n_good);
