-- Deleted documents. A tombstone makes loading the document fail as deleted and turns appends
-- into no-ops, so a node that writes late (its connections not yet closed) cannot bring a
-- deleted document back.
CREATE TABLE doc_tombstones (
    doc        TEXT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
