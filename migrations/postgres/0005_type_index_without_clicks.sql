-- Clicks are nearly every event, and each one also went into the index by type, under the
-- others ('click' sorts before 'created', so every insert searched down the tree with text
-- comparisons). The index now holds the other types only: a list of clicks reads the table
-- in id order, where nearly every row is a click; a list of another type names the index's
-- condition in its own text so that the planner may use it (docs/bottlenecks.md, entry 20).
-- The rebuild scans `events` once and blocks writes to it meanwhile: 0.1 s for 1.2 million
-- events here, since only the few rows that are not clicks go into the index.
DROP INDEX IF EXISTS events_type_idx;
CREATE INDEX events_type_idx ON events (event_type, id) WHERE event_type <> 'click';
