-- Multi-factor sign-in and remembered devices (issue #14).

-- A user's MFA factors: which are enabled and which is preferred (bit flags, as BIGINT so both
-- backends read them alike), the verified TOTP secret and one waiting for verification (both
-- sealed, bound to pool and user), and the last TOTP time step accepted. `totp_last_step` only
-- grows, through one conditional UPDATE, so a code is accepted once across every node.
CREATE TABLE user_mfa (
    pool_id             TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    enabled_factors     BIGINT NOT NULL,
    preferred_factor    TEXT,
    totp_secret         TEXT,
    totp_name           TEXT,
    pending_totp_secret TEXT,
    totp_last_step      BIGINT NOT NULL,
    modified_ms         BIGINT NOT NULL,
    PRIMARY KEY (pool_id, user_id),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);

-- Devices a user signed in from (NewDeviceMetadata), confirmed with their SRP verifier (sealed,
-- bound to pool and device key) and remembered or not.
CREATE TABLE devices (
    pool_id          TEXT NOT NULL,
    device_key       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    device_group_key TEXT NOT NULL,
    verifier         TEXT,
    name             TEXT,
    remembered       BIGINT NOT NULL,
    last_ip          TEXT,
    created_ms       BIGINT NOT NULL,
    modified_ms      BIGINT NOT NULL,
    last_auth_ms     BIGINT NOT NULL,
    PRIMARY KEY (pool_id, device_key),
    FOREIGN KEY (pool_id, user_id) REFERENCES users (pool_id, id) ON DELETE CASCADE
);
CREATE INDEX devices_user ON devices (pool_id, user_id, device_key);
-- Devices offered (NewDeviceMetadata) but never confirmed are pruned after a day.
CREATE INDEX devices_unconfirmed ON devices (created_ms) WHERE verifier IS NULL;

-- The device a signed-in session came from: its refresh must find the device still there.
ALTER TABLE token_sessions ADD COLUMN device_key TEXT;
