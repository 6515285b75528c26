-- Sign-in: token signing keys, challenge sessions, token sessions and failed-attempt counters.

-- RSA keys that sign a pool's ID and access tokens. `private_key` is sealed with the
-- key-encryption key (bound to pool and kid). One current key per purpose; retired keys stay
-- published in the JWKS until tokens they signed have expired.
CREATE TABLE signing_keys (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    kid         TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    private_key TEXT NOT NULL,
    modulus     TEXT NOT NULL,
    exponent    TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    retired_ms  BIGINT,
    PRIMARY KEY (pool_id, kid)
);
CREATE UNIQUE INDEX signing_keys_current ON signing_keys (pool_id, purpose) WHERE retired_ms IS NULL;

-- One row per outstanding challenge (the Session between InitiateAuth and RespondToAuthChallenge),
-- keyed by the SHA-256 of the Session string; `state` is sealed. Taken (deleted) when answered.
CREATE TABLE challenge_sessions (
    id_hash    TEXT PRIMARY KEY,
    pool_id    TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX challenge_sessions_expiry ON challenge_sessions (expires_ms);

-- One row per signed-in session (origin_jti): its refresh token (hash only) and revocation.
CREATE TABLE token_sessions (
    origin_jti   TEXT PRIMARY KEY,
    pool_id      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    refresh_hash TEXT NOT NULL UNIQUE,
    previous_refresh_hash   TEXT,
    previous_valid_until_ms BIGINT,
    auth_time_s  BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    revoked_ms   BIGINT,
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
CREATE INDEX token_sessions_user ON token_sessions (pool_id, user_id);
CREATE INDEX token_sessions_previous ON token_sessions (previous_refresh_hash);
CREATE INDEX token_sessions_expiry ON token_sessions (expires_ms);

-- Consecutive failed sign-in attempts per user, for Cognito's growing lockout.
CREATE TABLE sign_in_failures (
    pool_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    last_ms         BIGINT NOT NULL,
    PRIMARY KEY (pool_id, user_id),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);

-- Live nodes (Postgres deployments): a revocation waits until every live node confirms it dropped
-- the revoked session from its cache, so no node accepts a revoked token after the call answered.
CREATE TABLE gatehouse_nodes (
    node_id TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
