-- Responses to POSTs sent with an Idempotency-Key, per principal, kept 24 h (issue 14).
-- status 0 marks a call still in progress.
CREATE TABLE idempotency_keys (
    principal    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       BIGINT  NOT NULL,
    content_type TEXT,
    location     TEXT,
    body         TEXT,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
