-- The last foreign key a click row checked: each row ran the key's trigger, which probes
-- `users` and locks the user's row (FOR KEY SHARE), so every click of a popular user's links
-- took a lock on the same row (docs/bottlenecks.md, entry 20). The writers of `events` now
-- check the user themselves, under an advisory lock that `delete_user` takes alone
-- (PgStore::hold_event_gate), and `delete_user` deletes the user's events itself, as it
-- already did. SQLite keeps the key: its check takes no lock and its writer is single.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_user_id_fkey;
