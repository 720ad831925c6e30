-- tuneloop embedded SQLite schema, version 2: the credit ledger.
--
-- Amounts are INTEGER credit units (at most 2^63 - 1). Timestamps are INTEGER microseconds
-- since the Unix epoch (UTC). `credit_accounts` holds each account's running figures,
-- `credit_holds` the two-phase holds, and `credit_entries` the append-only journal of every
-- applied operation with its idempotency key (unique per account). An operation updates all
-- three in one transaction.

CREATE TABLE credit_accounts (
    account    TEXT PRIMARY KEY,
    granted    INTEGER NOT NULL DEFAULT 0 CHECK (granted >= 0),
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    posted     INTEGER NOT NULL DEFAULT 0 CHECK (posted >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- No overdraft, enforced by the database as well as by the code.
    CHECK (posted + pending <= granted)
);

CREATE TABLE credit_holds (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL REFERENCES credit_accounts(account),
    amount      INTEGER NOT NULL CHECK (amount >= 0),
    posted      INTEGER CHECK (posted >= 0),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'released')),
    reserve_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    UNIQUE (account, reserve_key)
);
CREATE INDEX credit_holds_pending ON credit_holds(account) WHERE status = 'pending';

CREATE TABLE credit_entries (
    seq             INTEGER PRIMARY KEY,
    account         TEXT NOT NULL REFERENCES credit_accounts(account),
    idempotency_key TEXT NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('grant', 'reserve', 'commit', 'release')),
    hold_id         TEXT REFERENCES credit_holds(id),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    created_at      INTEGER NOT NULL,
    UNIQUE (account, idempotency_key)
);

-- The journal is append-only.
CREATE TRIGGER credit_entries_no_update BEFORE UPDATE ON credit_entries
BEGIN
    SELECT RAISE(ABORT, 'credit_entries is append-only');
END;
CREATE TRIGGER credit_entries_no_delete BEFORE DELETE ON credit_entries
BEGIN
    SELECT RAISE(ABORT, 'credit_entries is append-only');
END;
