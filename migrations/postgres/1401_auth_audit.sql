-- API keys (only the SHA-256 of each key), profile ownership and the audit log (issue 14).
CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    key_hash   TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

-- The principal that created a profile id; only it (or an admin) may add versions.
CREATE TABLE profile_owners (
    profile_id TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- Every mutating call: who, what, on which target, when, with which request id.
CREATE TABLE audit_log (
    id         TEXT    PRIMARY KEY,
    at         BIGINT  NOT NULL,
    principal  TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    status     BIGINT  NOT NULL,
    request_id TEXT    NOT NULL
);
CREATE INDEX audit_log_order ON audit_log (at, id);
