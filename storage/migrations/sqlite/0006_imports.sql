-- Design imports (api-server/src/imports/): one row per submitted design, which is also the job
-- queue: workers claim the oldest queued row (queued -> running, attempts + 1) and finish it
-- (succeeded with the created document, or failed with an RFC 9457 problem as JSON text).
-- `attempts` fences a claim: a worker writes only while the row still carries its attempt.
-- A running row whose heartbeat stopped (its process died) is queued again, or failed after
-- too many attempts. The submitted JSON stays in `source` only until the job ends (then NULL),
-- so finished imports cost a few hundred bytes.
CREATE TABLE imports (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- The uploaded file the design came from (NULL: sent inline).
    file_id      TEXT,
    source       BLOB,
    source_bytes INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    document_id  TEXT REFERENCES documents (id) ON DELETE SET NULL,
    node_count   INTEGER,
    problem      TEXT,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    heartbeat_at INTEGER,
    finished_at  INTEGER
);

CREATE INDEX imports_status ON imports (status, id);
CREATE INDEX imports_project ON imports (project_id, id);
