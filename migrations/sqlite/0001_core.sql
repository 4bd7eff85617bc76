-- Users, short links and their event log. Timestamps are TEXT `YYYY-MM-DD HH:MM:SS` (UTC),
-- booleans 0/1, details a JSON object as TEXT.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL,
    -- Set for users created through the API, whose usernames are unique; imported data may
    -- repeat a username and leaves this NULL.
    unique_username TEXT UNIQUE,
    email           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_username_idx ON users (username);

-- A deleted link stays as a tombstone (deleted_at set) so its code is never handed out again
-- and its events stay readable.
CREATE TABLE urls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    short_code   TEXT NOT NULL UNIQUE,
    original_url TEXT NOT NULL,
    title        TEXT,
    is_active    INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX urls_user_id_idx ON urls (user_id, id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url_id      INTEGER NOT NULL REFERENCES urls (id),
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_url_id_idx ON events (url_id, id);
CREATE INDEX events_user_id_idx ON events (user_id, id);
CREATE INDEX events_type_idx ON events (event_type, id);
