-- The user directory: users, their searchable attributes, aliases, groups and memberships.
-- Text keys compare bytewise (SQLite BINARY), so prefix searches are plain index ranges.
CREATE TABLE users (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    username    TEXT NOT NULL,
    username_key TEXT NOT NULL,
    status      TEXT NOT NULL,
    enabled     BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    password    TEXT,
    attributes  TEXT NOT NULL,
    PRIMARY KEY (pool_id, id)
);
CREATE UNIQUE INDEX users_username_key ON users (pool_id, username_key);
CREATE UNIQUE INDEX users_username ON users (pool_id, username);
CREATE INDEX users_status ON users (pool_id, status, username);
CREATE INDEX users_enabled ON users (pool_id, enabled, username);

-- One row per searchable attribute value (email, phone_number, name, ...), for ListUsers filters.
CREATE TABLE user_search (
    pool_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, name, value, user_id),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
CREATE INDEX user_search_user ON user_search (pool_id, user_id);

-- Sign-in aliases and username attributes: each value belongs to at most one user of the pool.
CREATE TABLE user_aliases (
    pool_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    value   TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, kind, value),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
CREATE INDEX user_aliases_value ON user_aliases (pool_id, value);
CREATE INDEX user_aliases_user ON user_aliases (pool_id, user_id);

CREATE TABLE groups (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    role_arn    TEXT,
    precedence  BIGINT,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    PRIMARY KEY (pool_id, group_name, username),
    FOREIGN KEY (pool_id, group_name) REFERENCES groups (pool_id, name) ON DELETE CASCADE,
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX group_members_user ON group_members (pool_id, user_id, group_name);

-- The pool's user count, kept in the same transactions that add and remove users, so
-- DescribeUserPool's EstimatedNumberOfUsers never has to count a large pool.
CREATE TABLE user_counts (
    pool_id TEXT PRIMARY KEY REFERENCES user_pools (id) ON DELETE CASCADE,
    n       BIGINT NOT NULL
);
