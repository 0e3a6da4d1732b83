-- Documents: a snapshot per document (inline, or in the blob store when large) plus an
-- append-only log of updates written since that snapshot. Loading a document merges the two;
-- compaction folds the log into a new snapshot and deletes exactly the rows it folded.
CREATE TABLE doc_snapshots (
    doc        TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    data       BYTEA,
    blob_key   TEXT,
    size_bytes BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((data IS NULL) <> (blob_key IS NULL))
);

CREATE TABLE doc_updates (
    id         BIGSERIAL PRIMARY KEY,
    doc        TEXT NOT NULL,
    data       BYTEA NOT NULL,
    updates    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX doc_updates_doc_id ON doc_updates (doc, id);
