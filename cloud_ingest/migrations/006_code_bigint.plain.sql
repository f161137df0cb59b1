-- The device's status code does not fit int4: OPC UA StatusCodes are uint32, and every Bad one
-- (0x80000000 and up) is above 2^31 - 1, so such a sample would have failed its whole batch.
-- v_samples depends on the column and is rebuilt around the change.
DROP VIEW v_samples;
ALTER TABLE samples ALTER COLUMN code TYPE bigint;
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
