-- Profiles are immutable versions: a new content hash for a profile_id is version n+1.
CREATE TABLE profiles (
    profile_id   TEXT    NOT NULL,
    version      BIGINT  NOT NULL,
    content_hash TEXT    NOT NULL,
    document     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (profile_id, version),
    UNIQUE (profile_id, content_hash)
);

CREATE TABLE requests (
    id              TEXT    PRIMARY KEY,
    request_id      TEXT    NOT NULL,
    document        TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    profile_version BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    FOREIGN KEY (profile_id, profile_version) REFERENCES profiles (profile_id, version)
);

CREATE TABLE runs (
    id              TEXT    PRIMARY KEY,
    request_id      TEXT    NOT NULL REFERENCES requests (id),
    service_id      TEXT    NOT NULL,
    service_name    TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    profile_version BIGINT  NOT NULL,
    bundle_version  BIGINT  NOT NULL,
    status          TEXT    NOT NULL,
    error           TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_order ON runs (created_at, id);
CREATE INDEX runs_service ON runs (service_id, profile_id);

-- One row per stage of a run. Only the first unfinished stage is ever 'queued':
-- completing a stage queues the next in the same transaction.
CREATE TABLE stages (
    run_id           TEXT    NOT NULL REFERENCES runs (id),
    position         BIGINT  NOT NULL,
    name             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    run_after        BIGINT  NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    started_at       BIGINT,
    finished_at      BIGINT,
    error            TEXT,
    output           TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX stages_claimable ON stages (status, run_after);

-- Each execution of a stage, so "ran twice at once" can be checked after the fact.
CREATE TABLE stage_attempts (
    run_id      TEXT    NOT NULL,
    position    BIGINT  NOT NULL,
    attempt     BIGINT  NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT,
    outcome     TEXT
);
CREATE INDEX stage_attempts_run ON stage_attempts (run_id, position);
