-- hop's create-link transaction (store::try_insert_link): the link, then its `created` event.
\set uid random(1, :users)
\set r random(1, 1000000000000000)
BEGIN;
INSERT INTO urls (user_id, short_code, original_url, title, is_active, created_at, updated_at)
VALUES (:uid, 'pgb' || :r, 'https://example.com/pgbench/' || :r, NULL, TRUE,
        localtimestamp(0), localtimestamp(0))
RETURNING id \gset
INSERT INTO events (url_id, user_id, event_type, occurred_at, details)
VALUES (:id, :uid, 'created', localtimestamp(0),
        jsonb_build_object('short_code', 'pgb' || :r,
                           'original_url', 'https://example.com/pgbench/' || :r));
END;
