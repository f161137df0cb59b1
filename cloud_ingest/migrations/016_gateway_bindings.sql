-- Gateway identity (issue 15): every gateway id is bound to one enterprise, by an admin
-- (`cloud-ingest gateways register`) or by the first message that names it, and then fixed. A
-- message whose topic and payload name another enterprise for a bound gateway goes to the dead
-- letters (reason identity_mismatch); only `cloud-ingest gateways move` changes a binding, and
-- every change is kept in gateway_binding_changes. A gateway id is therefore unique in a cloud,
-- as the CN of its certificate is unique at the broker.
CREATE TABLE gateway_bindings (
    gateway    text PRIMARY KEY,
    enterprise text NOT NULL,
    identity   text,                    -- the MQTT identity (certificate CN / username) the
                                        -- broker must name as publisher; the gateway id when empty
    bound_by   text NOT NULL CHECK (bound_by IN ('admin', 'first_message', 'migration')),
    bound_at   timestamptz NOT NULL DEFAULT now(),
    note       text
);

CREATE TABLE gateway_binding_changes (
    id              bigserial PRIMARY KEY,
    gateway         text NOT NULL,
    from_enterprise text,
    to_enterprise   text NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      text,
    note            text
);

-- An existing registry: each gateway id seen under exactly one enterprise keeps it. An id used
-- by several enterprises stays unbound (`cloud-ingest gateways list --unbound` shows them; the
-- next message binds it, or an admin does first).
INSERT INTO gateway_bindings (gateway, enterprise, bound_by)
SELECT g.code, min(e.code), 'migration'
FROM gateways g JOIN enterprises e ON e.id = g.enterprise_id
GROUP BY g.code HAVING count(DISTINCT e.code) = 1;

CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at);
