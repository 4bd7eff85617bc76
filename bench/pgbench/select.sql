-- hop's redirect lookup (store::resolve) for a random one of the first :links generated links.
\set id random(1, :links)
SELECT id, user_id, original_url FROM urls
WHERE short_code = bench_code(:id) AND is_active AND deleted_at IS NULL;
