-- A gateway's batches are numbered within a stream: one stream per edge buffer. A reinstalled
-- gateway (new disk, wiped buffer) starts a new stream at seq 1. Each stream gets a base of its
-- own, 2^32 apart, and the ledger stores base + seq: the (gateway_id, seq) key stays unique and
-- a new stream's seq 1 is never taken for a replay of an older one. The first stream (and data
-- from agents that send no stream id) has base 0, so its seq is stored as sent.
CREATE TABLE gateway_streams (
    gateway_id  int NOT NULL REFERENCES gateways (id),
    stream      text NOT NULL,
    base        bigint NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway_id, stream),
    UNIQUE (gateway_id, base)
);
