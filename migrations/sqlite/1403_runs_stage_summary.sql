-- `GET /v1/runs` in one indexed read per page (issue 14): each run carries a summary of
-- its stages as one JSON array of [position, name, status, attempts, max_attempts,
-- started_at, finished_at, error] in stage order, kept by triggers so that no write path
-- can forget it. Lease heartbeats and stage outputs do not fire them: the summary holds
-- none of those columns.
ALTER TABLE runs ADD COLUMN stages_json TEXT NOT NULL DEFAULT '[]';

CREATE TRIGGER stages_summary_insert AFTER INSERT ON stages
BEGIN
    UPDATE runs SET stages_json = (
        SELECT json_group_array(json_array(position, name, status, attempts, max_attempts,
                                           started_at, finished_at, error) ORDER BY position)
        FROM stages WHERE run_id = NEW.run_id)
    WHERE id = NEW.run_id;
END;

CREATE TRIGGER stages_summary_update AFTER UPDATE OF position, name, status, attempts, max_attempts,
    started_at, finished_at, error ON stages
BEGIN
    UPDATE runs SET stages_json = (
        SELECT json_group_array(json_array(position, name, status, attempts, max_attempts,
                                           started_at, finished_at, error) ORDER BY position)
        FROM stages WHERE run_id = NEW.run_id)
    WHERE id = NEW.run_id;
END;

UPDATE runs SET stages_json = (
    SELECT json_group_array(json_array(position, name, status, attempts, max_attempts,
                                       started_at, finished_at, error) ORDER BY position)
    FROM stages WHERE run_id = runs.id)
WHERE EXISTS (SELECT 1 FROM stages WHERE run_id = runs.id);
