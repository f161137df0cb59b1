-- Registry, sessions, the batch ledger, counters and dead letters: everything except samples.
-- Ids are surrogate integers so the samples table stays narrow (tag_id int, not names).

CREATE TABLE enterprises (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text,
    industry      text,
    district      text,
    registered_by text NOT NULL DEFAULT 'birth',   -- 'birth', or 'data' when seen first in data
    first_seen    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateways (
    id              serial PRIMARY KEY,
    enterprise_id   int NOT NULL REFERENCES enterprises (id),
    code            text NOT NULL,
    agent_version   text,
    current_session text,
    registered_by   text NOT NULL DEFAULT 'birth',
    first_seen      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, code)
);

-- A device belongs to an enterprise; gateway_id is the gateway that reads it now.
CREATE TABLE devices (
    id            serial PRIMARY KEY,
    enterprise_id int NOT NULL REFERENCES enterprises (id),
    gateway_id    int REFERENCES gateways (id),
    code          text NOT NULL,
    profile       text,
    protocol      text,
    manufacturer  text,
    model         text,
    workshop      text,
    line          text,
    key_process   boolean NOT NULL DEFAULT false,
    registered_by text NOT NULL DEFAULT 'birth',
    first_seen    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, code)
);

CREATE TABLE tags (
    id            serial PRIMARY KEY,
    device_id     int NOT NULL REFERENCES devices (id),
    name          text NOT NULL,
    data_type     text,
    unit          text,
    interval_ms   int,
    description   text,
    registered_by text NOT NULL DEFAULT 'birth',
    first_seen    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, name)
);

-- Birth/death history: one row per gateway session (a connection of the edge agent).
CREATE TABLE gateway_sessions (
    gateway_id        int NOT NULL REFERENCES gateways (id),
    session           text NOT NULL,
    born_at           timestamptz,          -- gateway clock, from the birth message
    birth_received_at timestamptz,
    next_seq          bigint,
    agent_version     text,
    died_at           timestamptz,          -- from the death (last will) message
    death_received_at timestamptz,
    death_reason      text,
    PRIMARY KEY (gateway_id, session)
);

-- The batch ledger: one row per stored data message. Its primary key is the idempotency
-- guard: the row is inserted in the same transaction as the COPY of the batch's samples, so
-- a redelivered (gateway, seq) conflicts and its samples are skipped.
CREATE TABLE batches (
    gateway_id  int NOT NULL REFERENCES gateways (id),
    seq         bigint NOT NULL,
    session     text NOT NULL,
    sent_at     timestamptz NOT NULL,       -- gateway clock
    received_at timestamptz NOT NULL,       -- cloud clock, when the MQTT message arrived
    stored_at   timestamptz NOT NULL DEFAULT now(),   -- the storing transaction's time
    n_samples   int NOT NULL,
    min_ts      timestamptz NOT NULL,
    max_ts      timestamptz NOT NULL,
    PRIMARY KEY (gateway_id, seq)
);
CREATE INDEX batches_stored_at ON batches (stored_at);

-- Every counter the gateway reports, per data message (history) and the latest per gateway.
CREATE TABLE gateway_counters (
    gateway_id        int NOT NULL REFERENCES gateways (id),
    seq               bigint NOT NULL,
    sent_at           timestamptz NOT NULL,
    batches_published bigint NOT NULL,
    raw               jsonb NOT NULL,       -- the counters object as sent, for forward compatibility
    PRIMARY KEY (gateway_id, seq)
);

CREATE TABLE device_counters (
    gateway_id  int NOT NULL,
    seq         bigint NOT NULL,
    device_id   int NOT NULL REFERENCES devices (id),
    sent_at     timestamptz NOT NULL,
    read        bigint NOT NULL,
    buffered    bigint NOT NULL,
    published   bigint NOT NULL,
    read_errors bigint NOT NULL,
    dropped     jsonb NOT NULL,             -- reason -> samples
    PRIMARY KEY (gateway_id, seq, device_id)
);
CREATE INDEX device_counters_device ON device_counters (device_id, sent_at);

CREATE TABLE gateway_counters_latest (
    gateway_id        int PRIMARY KEY REFERENCES gateways (id),
    seq               bigint NOT NULL,
    sent_at           timestamptz NOT NULL,
    batches_published bigint NOT NULL,
    raw               jsonb NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    reason      text NOT NULL,              -- oversized | bad_json | unknown_version | schema | ...
    detail      text,
    enterprise  text,                       -- from the topic, when it has the expected shape
    gateway     text,
    payload     bytea NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
