-- Fair, latency-aware scheduling (issue 15): every stage carries its run's
-- scheduling key, the submission time in milliseconds, plus a bounded offset for
-- bulk submissions (the CLI, or a request with many services). Workers claim
-- expired leases first, then the lowest key; runs already queued keep the time
-- they were submitted.
ALTER TABLE stages ADD COLUMN sched_key BIGINT NOT NULL DEFAULT 0;
UPDATE stages SET sched_key = (SELECT created_at FROM runs WHERE runs.id = stages.run_id);
CREATE INDEX stages_sched ON stages (status, sched_key);
CREATE INDEX stages_lease ON stages (status, lease_expires_at);
