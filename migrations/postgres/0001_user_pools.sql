-- User pools. Settings are Cognito's own wire document (UserPoolType without identity fields).
CREATE TABLE user_pools (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    settings    TEXT NOT NULL
);
-- ListUserPools pages by (account, region, id) without OFFSET.
CREATE INDEX user_pools_scope ON user_pools (account_id, region, id);

CREATE TABLE user_pool_tags (
    pool_id TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (pool_id, key)
);
