-- The ids of links that are not deleted, in order: a page of GET /urls skips rows in this
-- index instead of reading them from the table (docs/bottlenecks.md, "Listing pages").
CREATE INDEX urls_live_id_idx ON urls (id) WHERE deleted_at IS NULL;
