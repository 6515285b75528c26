-- Each search row carries a copy of what a listed user shows, so an attribute-filtered ListUsers
-- page reads user_search alone (see the Postgres migration of the same number for why).
ALTER TABLE user_search ADD COLUMN username TEXT NOT NULL DEFAULT '';
ALTER TABLE user_search ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
ALTER TABLE user_search ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE user_search ADD COLUMN enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_search ADD COLUMN created_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_search ADD COLUMN modified_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_search ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_search ADD COLUMN attributes TEXT NOT NULL DEFAULT '[]';
UPDATE user_search
SET (username, username_key, status, enabled, created_ms, modified_ms, version, attributes) =
    (SELECT u.username, u.username_key, u.status, u.enabled, u.created_ms, u.modified_ms,
            u.version, u.attributes
     FROM users u WHERE u.pool_id = user_search.pool_id AND u.id = user_search.user_id);
