-- Wire v1 grew two optional fields the evidence needs (edge_agent/wire.py):
--  * DataMessage.historical: the batch is backlog sealed before the gateway's current
--    connection, i.e. "late but delivered", as opposed to live data;
--  * TagInfo.report / heartbeat_ms: a tag reported by exception ("change") is expected at
--    most every heartbeat_ms, not every interval_ms, which completeness must know.
ALTER TABLE batches ADD COLUMN historical boolean NOT NULL DEFAULT false;
ALTER TABLE tags ADD COLUMN report_mode text NOT NULL DEFAULT 'all';
ALTER TABLE tags ADD COLUMN heartbeat_ms int;

CREATE OR REPLACE VIEW v_batches AS
SELECT e.code AS enterprise, g.code AS gateway, b.seq, b.session, b.sent_at, b.received_at,
       b.stored_at, b.n_samples, b.min_ts, b.max_ts, b.historical
FROM batches b
JOIN gateways g    ON g.id = b.gateway_id
JOIN enterprises e ON e.id = g.enterprise_id;
