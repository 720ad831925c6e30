-- tuneloop PostgreSQL schema, version 2: the credit ledger.
--
-- Amounts are BIGINT credit units. Timestamps are BIGINT microseconds since the Unix epoch
-- (UTC), like the rest of the schema. `credit_accounts` holds each account's running
-- figures (every operation locks its account row with SELECT ... FOR UPDATE first),
-- `credit_holds` the two-phase holds, and `credit_entries` the append-only journal of every
-- applied operation with its idempotency key (unique per account).

CREATE TABLE credit_accounts (
    account    TEXT PRIMARY KEY,
    granted    BIGINT NOT NULL DEFAULT 0 CHECK (granted >= 0),
    pending    BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
    posted     BIGINT NOT NULL DEFAULT 0 CHECK (posted >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- No overdraft, enforced by the database as well as by the code.
    CHECK (posted + pending <= granted)
);

CREATE TABLE credit_holds (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL REFERENCES credit_accounts(account),
    amount      BIGINT NOT NULL CHECK (amount >= 0),
    posted      BIGINT CHECK (posted >= 0),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'released')),
    reserve_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    UNIQUE (account, reserve_key)
);
CREATE INDEX credit_holds_pending ON credit_holds (account) WHERE status = 'pending';

CREATE TABLE credit_entries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         TEXT NOT NULL REFERENCES credit_accounts(account),
    idempotency_key TEXT NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('grant', 'reserve', 'commit', 'release')),
    hold_id         TEXT REFERENCES credit_holds(id),
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    created_at      BIGINT NOT NULL,
    UNIQUE (account, idempotency_key)
);

-- The journal is append-only.
CREATE FUNCTION credit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credit_entries is append-only';
END;
$$;
CREATE TRIGGER credit_entries_no_change BEFORE UPDATE OR DELETE ON credit_entries
    FOR EACH ROW EXECUTE FUNCTION credit_entries_append_only();
