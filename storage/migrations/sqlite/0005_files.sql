-- Files uploaded to a project through presigned URLs. A row is created `pending` with the
-- name, type and size the client declared and the blob key its bytes go to (files/<project>/<id>,
-- never the user's name); `complete` checks the stored object against the declaration and
-- makes it `ready`. A pending row expires (expires_at) and is swept with its object; a ready
-- row has no expiry. Deleting a project (or its org) cascades to its files.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    blob_key     TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    completed_at INTEGER
);

CREATE INDEX files_project ON files (project_id, id);
CREATE INDEX files_pending_expiry ON files (expires_at) WHERE status = 'pending';

-- Blob keys whose row is gone (deleted by a user, swept, or cascaded from a project or org)
-- and whose object may still exist: the sweeper deletes each object, then its key here. A
-- trigger fills it (foreign key cascades fire it too), so no way of deleting a row can leave
-- its object behind unnoticed.
CREATE TABLE file_trash (
    blob_key TEXT PRIMARY KEY
);

CREATE TRIGGER files_trash AFTER DELETE ON files
BEGIN
    INSERT OR IGNORE INTO file_trash (blob_key) VALUES (OLD.blob_key);
END;
