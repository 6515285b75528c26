-- Query plans (with buffers) of AdminGetUser and the ListUsers filters, as the store runs them (see
-- crates/storage/src/sql/directory.rs): prepared, with the session settings of every Gatehouse
-- connection to Postgres (generic plans, no parallel workers; POSTGRES_SESSION in
-- crates/storage/src/sql/mod.rs). Every plan must be index scans only: no Seq Scan, no Sort of the
-- matching rows, no OFFSET; a value that matches few or no users must not scan the pool.
-- Usage: psql -v pool="'us-east-1_XXXX'" -v deep_user="'user0900000'" -f bench/directory_plans.sql DB
SET plan_cache_mode = force_generic_plan;
SET max_parallel_workers_per_gather = 0;
\set cols 'u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, NULL AS password, u.attributes, NULL AS pending_attributes'
\set scols 's.pool_id, s.user_id AS id, s.username, s.username_key, s.status, s.enabled, s.created_ms, s.modified_ms, s.version, NULL AS password, s.attributes, NULL AS pending_attributes'
\set explain 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)'

PREPARE by_key(text, text) AS SELECT u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, u.password, u.attributes, u.pending_attributes FROM users u WHERE u.pool_id = $1 AND u.username_key = $2;
PREPARE by_keys(text, text[]) AS SELECT u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, u.password, u.attributes, u.pending_attributes FROM users u WHERE u.pool_id = $1 AND u.username_key = ANY($2);
PREPARE by_alias(text, text) AS SELECT u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, u.password, u.attributes, u.pending_attributes FROM user_aliases a JOIN users u ON u.pool_id = a.pool_id AND u.id = a.user_id WHERE a.pool_id = $1 AND a.value = $2 ORDER BY a.kind LIMIT 1;
PREPARE attr_first(text, text, text, text, bigint) AS SELECT :scols, s.value AS sort_value FROM user_search s WHERE s.pool_id = $1 AND s.name = $2 AND s.value >= $3 AND s.value < $4 ORDER BY s.value, s.user_id LIMIT $5;
PREPARE attr_deep(text, text, text, text, text, bigint) AS SELECT :scols, s.value AS sort_value FROM user_search s WHERE s.pool_id = $1 AND s.name = $2 AND (s.value, s.user_id) > ($3, $4) AND s.value < $5 ORDER BY s.value, s.user_id LIMIT $6;
PREPARE attr_exact(text, text, text, bigint) AS SELECT :scols, s.value AS sort_value FROM user_search s WHERE s.pool_id = $1 AND s.name = $2 AND s.value = $3 ORDER BY s.value, s.user_id LIMIT $4;
PREPARE enabled(text, bigint, text, bigint) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.enabled = $2 AND u.username > $3 ORDER BY u.username LIMIT $4;
PREPARE status(text, text, text, bigint) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.status IN ($2) AND u.username > $3 ORDER BY u.username LIMIT $4;
PREPARE uname(text, text, text, text, bigint) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.username >= $2 AND u.username < $3 AND u.username > $4 ORDER BY u.username LIMIT $5;
PREPARE everyone(text, text, bigint) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.username > $2 ORDER BY u.username LIMIT $3;

\echo '== AdminGetUser (by username key)'
:explain EXECUTE by_key(:pool, :deep_user);
\echo '== AdminGetUser, four lookups by username key sharing one round trip (lookup_batch.rs)'
:explain EXECUTE by_keys(:pool, ARRAY[:deep_user, 'user0000001', 'user0500000', 'nobody']);
\echo '== AdminGetUser by alias (email)'
:explain EXECUTE by_alias(:pool, 'user0500000@example.com');
\echo '== email ^= "user0999", first page (the last thousand users)'
:explain EXECUTE attr_first(:pool, 'email', 'user0999', 'user099:', 61);
\echo '== email ^= "user", deep page'
:explain EXECUTE attr_deep(:pool, 'email', 'user0900000@example.com', '', 'uses', 61);
\echo '== email = "nobody@example.com" (no match)'
:explain EXECUTE attr_exact(:pool, 'email', 'nobody@example.com', 61);
\echo '== status = "Enabled", first page'
:explain EXECUTE enabled(:pool, 1, '', 61);
\echo '== status = "Enabled", deep page'
:explain EXECUTE enabled(:pool, 1, :deep_user, 61);
\echo '== status = "Disabled" (5% of users), first page'
:explain EXECUTE enabled(:pool, 0, '', 61);
\echo '== cognito:user_status = "CONFIRMED", first page'
:explain EXECUTE status(:pool, 'CONFIRMED', '', 61);
\echo '== cognito:user_status = "CONFIRMED", deep page'
:explain EXECUTE status(:pool, 'CONFIRMED', :deep_user, 61);
\echo '== cognito:user_status = "RESET_REQUIRED" (no user), first page'
:explain EXECUTE status(:pool, 'RESET_REQUIRED', '', 61);
\echo '== username ^= "user0999", first page'
:explain EXECUTE uname(:pool, 'user0999', 'user099:', '', 61);
\echo '== username ^= "user", deep page'
:explain EXECUTE uname(:pool, 'user', 'uses', :deep_user, 61);
\echo '== no filter, first page'
:explain EXECUTE everyone(:pool, '', 61);
