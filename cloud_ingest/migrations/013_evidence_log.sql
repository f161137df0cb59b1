-- The RFC 9162 Merkle log of each enterprise's packages: one leaf per package (the leaf hash of
-- its chain record) and the signed C2SP checkpoint after each append. Append-only like 012.

CREATE TABLE evidence_log_leaves (
    enterprise_id int NOT NULL,
    sequence      int NOT NULL,                    -- leaf index = sequence - 1
    entry         bytea NOT NULL,                  -- the chain record the leaf commits to
    leaf_hash     bytea NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (enterprise_id, sequence),
    FOREIGN KEY (enterprise_id, sequence) REFERENCES evidence_packages (enterprise_id, sequence)
);

CREATE TABLE evidence_checkpoints (
    enterprise_id int NOT NULL REFERENCES enterprises (id),
    tree_size     int NOT NULL CHECK (tree_size >= 1),
    root_hash     bytea NOT NULL CHECK (length(root_hash) = 32),
    note          text NOT NULL,                   -- the signed checkpoint, as published
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (enterprise_id, tree_size)
);

CREATE TRIGGER evidence_log_leaves_append_only BEFORE UPDATE OR DELETE ON evidence_log_leaves
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();
CREATE TRIGGER evidence_log_leaves_no_truncate BEFORE TRUNCATE ON evidence_log_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only();
CREATE TRIGGER evidence_checkpoints_append_only BEFORE UPDATE OR DELETE ON evidence_checkpoints
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();
CREATE TRIGGER evidence_checkpoints_no_truncate BEFORE TRUNCATE ON evidence_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only();
