-- Limits on one-time codes (C1). One row per counted scope of a pool: failed code attempts per user
-- and purpose, which a new code does not reset; codes issued per user and purpose, per typed
-- username (hidden users), per destination and per pool. A fixed window starts with the first hit
-- and `hits` counts within it; a hit after the window starts a new one. Destinations and typed
-- usernames appear in `scope` only as keyed hashes.
CREATE TABLE code_limits (
    pool_id         TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    scope           TEXT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    hits            BIGINT NOT NULL,
    PRIMARY KEY (pool_id, scope)
);
CREATE INDEX code_limits_window ON code_limits (window_start_ms);

-- Codes are now stored as HMAC-SHA-256 under a key derived from the key-encryption key (L1). The
-- bare SHA-256 hashes stored before cannot be checked any more, and could be reversed by anyone
-- who reads the table: drop them (their users request a new code).
DELETE FROM user_codes;
