-- An attribute-filtered ListUsers page found its 60 users through user_search, then looked each
-- one up in users (a hash probe and a heap page per user): at 1,000,000 users that join was almost
-- half of Postgres's work per page. Each search row now carries a copy of what a listed user shows
-- (no password state, no pending values), so the page is one index range over user_search and its
-- rows. Every write of a user rewrites its search rows from the users row in the same transaction
-- (crates/storage/src/sql/directory.rs, SEARCH_COPIES). The cost: one copy of the attributes per
-- searchable attribute a user has (email, phone_number, name, ...).
ALTER TABLE user_search
    ADD COLUMN username     TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN username_key TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN status       TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN enabled      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN created_ms   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN modified_ms  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN version      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN attributes   TEXT NOT NULL DEFAULT '[]';
UPDATE user_search s
SET (username, username_key, status, enabled, created_ms, modified_ms, version, attributes) =
    (u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms, u.version,
     u.attributes)
FROM users u
WHERE u.pool_id = s.pool_id AND u.id = s.user_id;
