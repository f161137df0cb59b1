-- API tokens kept in the database (issue 15), so they are issued, listed and revoked with
-- `cloud-ingest tokens …` and take effect without a restart. Only the SHA-256 of a token is
-- stored: tokens are 256 random bits made by the product, so their digest can neither be
-- reversed nor guessed; a secret a person chooses (a password) would need a slow hash
-- (argon2, scrypt) instead, and the product issues no such secrets.
CREATE TABLE api_tokens (
    id           serial PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'reviewer', 'enterprise')),
    enterprise   text,                  -- enterprise code; for role enterprise only
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,                  -- the operating-system user who ran `tokens create`
    expires_at   timestamptz,           -- never, when empty
    revoked_at   timestamptz,
    last_used_at timestamptz,           -- updated at most once per cache period of a worker
    CHECK ((role = 'enterprise') = (enterprise IS NOT NULL))
);
