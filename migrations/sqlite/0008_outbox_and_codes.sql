-- Durable delivery: every email and SMS is queued here first (in the same transaction as the code it
-- carries) and a sender drains the queue with retries. `message` is the sealed JSON of the message
-- (it holds codes and temporary passwords). Delivered rows are kept for a while for audit, then pruned.
CREATE TABLE message_outbox (
    id              TEXT PRIMARY KEY,
    pool_id         TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    leased_until_ms BIGINT NOT NULL,
    last_error      TEXT,
    delivered_ms    BIGINT
);
CREATE INDEX message_outbox_due ON message_outbox (next_attempt_ms) WHERE delivered_ms IS NULL;

-- One outstanding code per user and purpose (sign-up confirmation, forgot password, attribute
-- verification): a new code replaces the old. Only the code's hash is kept.
CREATE TABLE user_codes (
    pool_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (pool_id, user_id, purpose),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
