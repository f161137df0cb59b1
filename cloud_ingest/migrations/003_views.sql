-- Read-side views with names, for the evidence, the API and people at a psql prompt.
CREATE VIEW v_samples AS
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
       s.seq
FROM samples s
JOIN tags t        ON t.id = s.tag_id
JOIN devices d     ON d.id = t.device_id
JOIN enterprises e ON e.id = d.enterprise_id
JOIN gateways g    ON g.id = s.gateway_id
JOIN batches b     ON b.gateway_id = s.gateway_id AND b.seq = s.seq;

CREATE VIEW v_batches AS
SELECT e.code AS enterprise, g.code AS gateway, b.seq, b.session, b.sent_at, b.received_at,
       b.stored_at, b.n_samples, b.min_ts, b.max_ts
FROM batches b
JOIN gateways g    ON g.id = b.gateway_id
JOIN enterprises e ON e.id = g.enterprise_id;
