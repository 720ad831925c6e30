-- tuneloop embedded SQLite schema, version 4: pairwise feedback.
--
-- A comparison judges two responses to the same conversation context (checked by the
-- writer, which also copies the two responses' models so rankings and filters need no
-- join). Timestamps are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE comparisons (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    response_a   TEXT NOT NULL,
    response_b   TEXT NOT NULL,
    model_a      TEXT NOT NULL,
    model_b      TEXT NOT NULL,
    winner       TEXT NOT NULL,    -- `a`, `b` or `tie`
    user_id      TEXT,
    comment      TEXT,
    created_at   INTEGER NOT NULL,
    content_hash BLOB NOT NULL
);
CREATE INDEX comparisons_created ON comparisons(created_at);
