-- Bundle versions are unique per (profile, service). Earlier builds allocated
-- MAX+1 without a lock, so a (profile, service) pair that holds a duplicate is
-- first renumbered 1..n in creation order.
UPDATE runs SET bundle_version = (
    SELECT COUNT(*) FROM runs AS earlier
    WHERE earlier.profile_id = runs.profile_id AND earlier.service_id = runs.service_id
      AND (earlier.created_at < runs.created_at OR (earlier.created_at = runs.created_at AND earlier.id <= runs.id))
)
WHERE EXISTS (
    SELECT 1 FROM runs AS a JOIN runs AS b
      ON a.profile_id = b.profile_id AND a.service_id = b.service_id
     AND a.bundle_version = b.bundle_version AND a.id <> b.id
    WHERE a.profile_id = runs.profile_id AND a.service_id = runs.service_id
);
CREATE UNIQUE INDEX runs_bundle_version ON runs (profile_id, service_id, bundle_version);
