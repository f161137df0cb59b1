-- Why a sample is not good ("device offline: …" from the gateway's supervisor, a Modbus
-- exception, an OPC UA status): the evidence tells a device that could not be reached from one
-- that answered with a bad value. NULL for good samples, so the column costs a null flag per row.
-- (Same on TimescaleDB: a nullable column without a default can be added to a compressed hypertable.)
DROP VIEW v_samples;
ALTER TABLE samples ADD COLUMN reason text;
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
       s.reason,
       s.seq
FROM samples s
JOIN tags t        ON t.id = s.tag_id
JOIN devices d     ON d.id = t.device_id
JOIN enterprises e ON e.id = d.enterprise_id
JOIN gateways g    ON g.id = s.gateway_id
JOIN batches b     ON b.gateway_id = s.gateway_id AND b.seq = s.seq;
