-- Wrong codes given to a sealed challenge Session (SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA), by the
-- challenge's id: the Session carries its own state, so this row, written only when a code is
-- wrong, is what spends it after a few wrong codes. Pruned once the challenge has expired.
CREATE TABLE challenge_failures (
    challenge_id TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL
);
CREATE INDEX challenge_failures_expiry ON challenge_failures (expires_ms);
