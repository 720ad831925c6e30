-- tuneloop embedded SQLite schema, version 1.
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC). `*_day` columns hold
-- floor(created_at / 1 day) so metrics can group by day straight off an index and fold
-- days into weeks in Rust, without sorting.

CREATE TABLE models (
    key      INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL UNIQUE
);

CREATE TABLE responses (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    model_key    INTEGER NOT NULL REFERENCES models(key),
    query        TEXT NOT NULL,
    response     TEXT NOT NULL,
    conversation TEXT,             -- JSON array of {role, content}; NULL when empty
    metadata     TEXT,             -- JSON object; NULL when empty
    created_at   INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    content_hash BLOB NOT NULL
);
-- Response counts per model and day (covering), and time-range listings per model.
CREATE INDEX responses_model_day ON responses(model_key, day, created_at);

CREATE TABLE feedback (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    -- No REFERENCES clause on purpose: with foreign keys on, every multi-row insert keeps a
    -- statement journal and checks each row, which cost ~20 % of ingest speed. The writer
    -- resolves response_seq inside its BEGIN IMMEDIATE transaction from responses that exist
    -- (responses are never deleted), and `tuneloop check db` counts orphans.
    response_seq        INTEGER NOT NULL,
    -- Copied from the response so metrics are one index scan without a join.
    model_key           INTEGER NOT NULL,
    response_created_at INTEGER NOT NULL,
    response_day        INTEGER NOT NULL,
    variant             INTEGER NOT NULL,  -- 0 thumbs, 1 stars, 2 full
    thumbs_up           INTEGER,           -- 0/1 for thumbs, else NULL
    rating              INTEGER,           -- 1..5 for stars/full, else NULL
    polarity            INTEGER NOT NULL,  -- -1 negative, 0 neutral, 1 positive
    score               REAL NOT NULL,
    categories          TEXT,              -- JSON array of strings; NULL when none
    comment             TEXT,
    correction          TEXT,
    user_id             TEXT,
    created_at          INTEGER NOT NULL,
    content_hash        BLOB NOT NULL
);
-- Covering index for metrics: GROUP BY model_key, response_day, polarity, rating follows
-- the index order (no sorter); the exact time range is checked on the last column.
CREATE INDEX feedback_metrics
    ON feedback(model_key, response_day, polarity, rating, response_created_at);
-- Feedback of one response (problematic responses, listing by response).
CREATE INDEX feedback_response ON feedback(response_seq);

-- Category counts: a partial covering index over the feedback that has categories. Metrics
-- group by the categories' JSON text in index order (no sorter) and split the few distinct
-- arrays in Rust. Only feedback with categories pays for it at insert time.
CREATE INDEX feedback_categories
    ON feedback(model_key, response_day, categories, response_created_at)
    WHERE categories IS NOT NULL;

CREATE TABLE analysis_runs (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    params     TEXT NOT NULL,
    result     TEXT NOT NULL
);
CREATE INDEX analysis_runs_created ON analysis_runs(created_at);

CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    model_id   TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX jobs_created ON jobs(created_at);
