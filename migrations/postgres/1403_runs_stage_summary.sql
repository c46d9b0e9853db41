-- `GET /v1/runs` in one indexed read per page (issue 14): each run carries a summary of
-- its stages as one JSON array of [position, name, status, attempts, max_attempts,
-- started_at, finished_at, error] in stage order, kept by a trigger so that no write path
-- can forget it. Lease heartbeats and stage outputs do not fire it: the summary holds
-- none of those columns. Lock order is stage row, then run row, as in the workers.
ALTER TABLE runs ADD COLUMN stages_json TEXT NOT NULL DEFAULT '[]';

CREATE FUNCTION runs_stage_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE runs SET stages_json = (
        SELECT COALESCE(json_agg(json_build_array(position, name, status, attempts, max_attempts,
                                                  started_at, finished_at, error) ORDER BY position), '[]')::text
        FROM stages WHERE run_id = NEW.run_id)
    WHERE id = NEW.run_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER stages_summary AFTER INSERT OR UPDATE OF position, name, status, attempts, max_attempts,
    started_at, finished_at, error ON stages
    FOR EACH ROW EXECUTE FUNCTION runs_stage_summary();

UPDATE runs SET stages_json = (
    SELECT COALESCE(json_agg(json_build_array(position, name, status, attempts, max_attempts,
                                              started_at, finished_at, error) ORDER BY position), '[]')::text
    FROM stages WHERE run_id = runs.id)
WHERE EXISTS (SELECT 1 FROM stages WHERE run_id = runs.id);
