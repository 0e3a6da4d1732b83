-- Messaging: channels of a project, their messages, reactions and each member's read position.
-- A message is unique per (channel, author, client_id), so a send that is retried with the same
-- client message id finds the first one instead of adding a duplicate. Deleting a message keeps
-- a tombstone (deleted_at set, body emptied) so clients that saw it learn it went. `seq` numbers a
-- channel's messages 1, 2, 3, … in commit order (an insert takes the channel's highest plus one and
-- retries on a clash), so "everything after this message" never skips one committed late; ids,
-- minted from a clock before the insert, do not promise that.
CREATE TABLE channels (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    topic      TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE INDEX channels_project ON channels (project_id, id);

CREATE TABLE messages (
    id         TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    author_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted_at INTEGER,
    UNIQUE (channel_id, author_id, client_id),
    UNIQUE (channel_id, seq)
);

CREATE TABLE message_reactions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- The newest message a user has read in a channel; it only moves forward.
CREATE TABLE channel_reads (
    channel_id   TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_id TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
