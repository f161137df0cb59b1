-- What each running ingest worker holds in memory, written by the worker every few seconds
-- (cloud_ingest/worker_status.py), so `cloud-ingest status` in another process can show it:
-- above all the Sparkplug messages held unacknowledged while their node's births are awaited.
CREATE TABLE ingest_workers (
    worker     text PRIMARY KEY,            -- the worker's MQTT client id
    host       text NOT NULL,
    pid        int NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,        -- last report; stale when the worker died
    stopped_at timestamptz,                 -- set by a clean stop
    stats      jsonb NOT NULL               -- the worker's counters (ingestor.Stats)
);
