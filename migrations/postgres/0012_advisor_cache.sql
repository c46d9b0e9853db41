-- Advisor answers by hash of (model id, system prompt, prompt): a retried or re-run
-- advise stage reads the stored answer instead of asking the model again.
CREATE TABLE advisor_cache (
    key        TEXT   PRIMARY KEY,
    model_id   TEXT   NOT NULL,
    answer     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
