-- Query plans (with buffers) of AdminGetUser and the ListUsers filters, as the store sends them (see
-- crates/storage/src/sql/directory.rs), on a seeded pool. Every plan must be index scans only:
-- no Seq Scan, no Sort of the matching rows, no OFFSET.
-- Usage: psql -v pool="'us-east-1_XXXX'" -v deep_user="'user0900000'" -f bench/directory_plans.sql DB
-- Generic plans, as a prepared statement gets after five runs, are checked too.
\set cols 'u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, NULL AS password, u.attributes'
\echo '== AdminGetUser (by username key)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, u.password, u.attributes FROM users u WHERE u.pool_id = :pool AND u.username_key = :deep_user;
\echo '== AdminGetUser by alias (email)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version, u.password, u.attributes FROM user_aliases a JOIN users u ON u.pool_id = a.pool_id AND u.id = a.user_id WHERE a.pool_id = :pool AND a.value = 'user0500000@example.com' ORDER BY a.kind LIMIT 1;
\echo '== email ^= "user0999", first page (the last thousand users)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols, s.value AS sort_value FROM user_search s JOIN users u ON u.pool_id = s.pool_id AND u.id = s.user_id WHERE s.pool_id = :pool AND s.name = 'email' AND s.value >= 'user0999' AND s.value < 'user1000' ORDER BY s.value, s.user_id LIMIT 61;
\echo '== email ^= "user", deep page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols, s.value AS sort_value FROM user_search s JOIN users u ON u.pool_id = s.pool_id AND u.id = s.user_id WHERE s.pool_id = :pool AND s.name = 'email' AND (s.value, s.user_id) > ('user0900000@example.com', '') AND s.value < 'uses' ORDER BY s.value, s.user_id LIMIT 61;
\echo '== status = "Enabled", first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.enabled = 1 AND u.username > '' ORDER BY u.username LIMIT 61;
\echo '== status = "Enabled", deep page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.enabled = 1 AND u.username > :deep_user ORDER BY u.username LIMIT 61;
\echo '== status = "Disabled" (5% of users), first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.enabled = 0 AND u.username > '' ORDER BY u.username LIMIT 61;
\echo '== cognito:user_status = "CONFIRMED", first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.status IN ('CONFIRMED') AND u.username > '' ORDER BY u.username LIMIT 61;
\echo '== cognito:user_status = "CONFIRMED", deep page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.status IN ('CONFIRMED') AND u.username > :deep_user ORDER BY u.username LIMIT 61;
\echo '== username ^= "user0999", first page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.username >= 'user0999' AND u.username < 'user1000' AND u.username > '' ORDER BY u.username LIMIT 61;
\echo '== username ^= "user", deep page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT :cols FROM users u WHERE u.pool_id = :pool AND u.username >= 'user' AND u.username < 'uses' AND u.username > :deep_user ORDER BY u.username LIMIT 61;
\echo '== generic plans (prepared statements after five runs)'
SET plan_cache_mode = force_generic_plan;
PREPARE st(text, text, text) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.status IN ($2) AND u.username > $3 ORDER BY u.username LIMIT 61;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE st(:pool, 'CONFIRMED', :deep_user);
PREPARE en(text, bigint, text) AS SELECT :cols FROM users u WHERE u.pool_id = $1 AND u.enabled = $2 AND u.username > $3 ORDER BY u.username LIMIT 61;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE en(:pool, 1, :deep_user);
PREPARE em(text, text, text, text, text) AS SELECT :cols, s.value AS sort_value FROM user_search s JOIN users u ON u.pool_id = s.pool_id AND u.id = s.user_id WHERE s.pool_id = $1 AND s.name = $2 AND (s.value, s.user_id) > ($3, $4) AND s.value < $5 ORDER BY s.value, s.user_id LIMIT 61;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE em(:pool, 'email', 'user0900000@example.com', '', 'uses');
PREPARE ef(text, text, text, text) AS SELECT :cols, s.value AS sort_value FROM user_search s JOIN users u ON u.pool_id = s.pool_id AND u.id = s.user_id WHERE s.pool_id = $1 AND s.name = $2 AND s.value >= $3 AND s.value < $4 ORDER BY s.value, s.user_id LIMIT 61;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE ef(:pool, 'email', 'user0999', 'user1000');
PREPARE gk(text, text) AS SELECT u.id FROM users u WHERE u.pool_id = $1 AND u.username_key = $2;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE gk(:pool, :deep_user);
