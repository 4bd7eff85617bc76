-- bench_code(id): the short code bench/gen.py gave link `id`, the base-62 digits of 62^5 + id.
-- One expression (no FROM, no aggregate), so the planner inlines it into pgbench's query.
-- `a` is the digit alphabet 0-9A-Za-z, bound by the outer function.
CREATE OR REPLACE FUNCTION bench_code_digits(id bigint, a text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT substr(a, ((916132832 + id) / 916132832 % 62)::int + 1, 1)
      || substr(a, ((916132832 + id) / 14776336 % 62)::int + 1, 1)
      || substr(a, ((916132832 + id) / 238328 % 62)::int + 1, 1)
      || substr(a, ((916132832 + id) / 3844 % 62)::int + 1, 1)
      || substr(a, ((916132832 + id) / 62 % 62)::int + 1, 1)
      || substr(a, ((916132832 + id) % 62)::int + 1, 1)
$$;

CREATE OR REPLACE FUNCTION bench_code(id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT bench_code_digits(id, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')
$$;
