-- Per-project webhooks and their delivery outbox. Any process may enqueue a delivery (a row)
-- and any may deliver it: a delivery is claimed for a lease by an UPDATE that also counts the
-- attempt, so two processes never send one attempt twice, and a process that dies mid-way
-- leaves a row that is claimed again once the lease runs out. Deliveries outlive restarts.
-- Ids are UUIDv7 text compared bytewise; timestamps unix milliseconds.
CREATE TABLE webhooks (
    id         TEXT COLLATE "C" PRIMARY KEY,
    project_id TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    -- The HMAC-SHA256 key deliveries are signed with (shown to the creator once).
    secret     TEXT NOT NULL,
    -- The subscribed event names, separated by single spaces.
    events     TEXT NOT NULL,
    active     BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_by TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE INDEX webhooks_project ON webhooks (project_id, id);

-- One delivery of one event to one webhook. `attempts` counts claims (attempts started);
-- `claimed_until` is the lease of the attempt in flight. A change with a debounce key is
-- merged into the pending, not yet attempted delivery with that key (at most one such row
-- per webhook and key), so a document changed many times in a window is announced once.
CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    webhook_id       TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    claimed_until    BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    debounce_key     TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);

CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE UNIQUE INDEX webhook_deliveries_debounce ON webhook_deliveries (webhook_id, debounce_key)
    WHERE status = 'pending' AND attempts = 0 AND debounce_key IS NOT NULL;
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (created_at) WHERE status <> 'pending';
