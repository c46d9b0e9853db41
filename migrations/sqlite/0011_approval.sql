-- Approval decisions and the control library (issue 11). One decision per run:
-- the primary key is what makes "decided once" hold under concurrent reviewers.
CREATE TABLE approval_decisions (
    run_id          TEXT    PRIMARY KEY,
    service_id      TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    profile_version INTEGER NOT NULL,
    bundle_version  INTEGER NOT NULL,
    decision        TEXT    NOT NULL CHECK (decision IN ('approve', 'reject')),
    reviewer        TEXT    NOT NULL,
    comment         TEXT,
    waivers         TEXT    NOT NULL,
    decided_at      BIGINT  NOT NULL
);

-- Append-only trail of every recorded decision with its time.
CREATE TABLE approval_audit (
    id              TEXT    PRIMARY KEY,
    run_id          TEXT    NOT NULL,
    service_id      TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    profile_version INTEGER NOT NULL,
    bundle_version  INTEGER NOT NULL,
    decision        TEXT    NOT NULL,
    reviewer        TEXT    NOT NULL,
    comment         TEXT,
    waivers         TEXT    NOT NULL,
    decided_at      BIGINT  NOT NULL
);
CREATE INDEX approval_audit_run ON approval_audit (run_id, decided_at);

-- Approved bundle versions, copied at approval so they can never change.
CREATE TABLE library_bundles (
    run_id          TEXT    PRIMARY KEY REFERENCES approval_decisions (run_id),
    profile_id      TEXT    NOT NULL,
    service_id      TEXT    NOT NULL,
    bundle_version  INTEGER NOT NULL,
    profile_version INTEGER NOT NULL,
    reviewer        TEXT    NOT NULL,
    approved_at     BIGINT  NOT NULL,
    iam_model       TEXT    NOT NULL,
    templates       TEXT    NOT NULL,
    artifacts       TEXT    NOT NULL,
    UNIQUE (profile_id, service_id, bundle_version)
);
CREATE INDEX library_bundles_service ON library_bundles (service_id, profile_id, bundle_version);

CREATE TABLE library_controls (
    run_id      TEXT NOT NULL REFERENCES library_bundles (run_id),
    control_id  TEXT NOT NULL,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    priority    TEXT NOT NULL,
    frameworks  TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
CREATE INDEX library_controls_category ON library_controls (category);

CREATE TABLE library_waivers (
    run_id      TEXT   NOT NULL REFERENCES library_bundles (run_id),
    control_id  TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
