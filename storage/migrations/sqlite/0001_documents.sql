-- Documents: a snapshot per document (inline, or in the blob store when large) plus an
-- append-only log of updates written since that snapshot. Loading a document merges the two;
-- compaction folds the log into a new snapshot and deletes exactly the rows it folded.
CREATE TABLE doc_snapshots (
    doc        TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    data       BLOB,
    blob_key   TEXT,
    size_bytes INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((data IS NULL) <> (blob_key IS NULL))
);

CREATE TABLE doc_updates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc        TEXT NOT NULL,
    data       BLOB NOT NULL,
    updates    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX doc_updates_doc_id ON doc_updates (doc, id);
