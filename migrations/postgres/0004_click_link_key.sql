-- Every click row checked its link through this key: an index probe and a row lock on the
-- link (FOR KEY SHARE), which made the lock the larger part of a click's insert cost and
-- turned hot links into contended rows (docs/bottlenecks.md, entry 11). Links are never
-- removed from `urls` (a deleted link stays as a tombstone), and the two other writers of
-- `events`, POST /events and the import, check the link themselves. The user key stays: it
-- is what skips the queued clicks of a user deleted meanwhile.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_url_id_fkey;
