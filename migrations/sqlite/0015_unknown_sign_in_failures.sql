-- Failed sign-in attempts against names that match no user. A client with
-- PreventUserExistenceErrors ENABLED must lock a guessed name out exactly as it locks a real user,
-- or "Password attempts exceeded" tells which names exist. Keyed by the name in the pool's
-- matching form; rows quiet for the lockout's reset time are pruned.
CREATE TABLE unknown_sign_in_failures (
    pool_id         TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name_key        TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    last_ms         BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name_key)
);
CREATE INDEX unknown_sign_in_failures_last ON unknown_sign_in_failures (last_ms);
