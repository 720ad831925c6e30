-- tuneloop embedded SQLite schema, version 3: what fine-tuning jobs keep besides their row.
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC). `job_files` holds the
-- JSONL files a job was built from (written once, never changed), `job_events` each job's
-- history (tuneloop's own steps and the provider's events, deduplicated by id), and
-- `leases` the named, expiring locks that let one instance among many do a piece of work.

CREATE TABLE job_files (
    job_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    sha256  TEXT NOT NULL,     -- hex SHA-256 of content
    bytes   INTEGER NOT NULL,  -- length of content in bytes
    content TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE job_events (
    -- One sequence over all jobs: a job's history is its events in seq order.
    seq        INTEGER PRIMARY KEY,
    job_id     TEXT NOT NULL,
    id         TEXT NOT NULL,
    source     TEXT NOT NULL,  -- `tuneloop` or `provider`
    level      TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Re-reading a provider's event log adds only the events not yet stored.
    UNIQUE (job_id, id)
);
CREATE INDEX job_events_job ON job_events(job_id, seq);

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- A model's jobs, newest first (the fine-tune policy looks up the last one per model).
CREATE INDEX jobs_model ON jobs(model_id, created_at);
