-- Evidence packages (issue 12): the per-enterprise chain of signed packages, append-only.
-- A package row is never updated or deleted by the service; the trigger below refuses it from
-- anyone, so an operator who wants to rewrite history must first drop the trigger — and the
-- Merkle log (013) and the checkpoints reviewers keep then show it.

CREATE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'evidence packages and their log are never changed; build a new package instead';
END $$;

CREATE TABLE evidence_packages (
    enterprise_id            int NOT NULL REFERENCES enterprises (id),
    sequence                 int NOT NULL CHECK (sequence >= 1),
    window_start             timestamptz NOT NULL,
    window_end               timestamptz NOT NULL,
    created_at               timestamptz NOT NULL,
    envelope_sha256          text NOT NULL UNIQUE CHECK (envelope_sha256 ~ '^[0-9a-f]{64}$'),
    previous_envelope_sha256 text,
    key_id                   text NOT NULL,
    envelope                 bytea NOT NULL,
    archive                  bytea NOT NULL,        -- the whole package as a zip, for download
    PRIMARY KEY (enterprise_id, sequence),
    CHECK ((sequence = 1) = (previous_envelope_sha256 IS NULL)),
    CHECK (window_end > window_start)
);

CREATE TRIGGER evidence_packages_append_only BEFORE UPDATE OR DELETE ON evidence_packages
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();
CREATE TRIGGER evidence_packages_no_truncate BEFORE TRUNCATE ON evidence_packages
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only();
