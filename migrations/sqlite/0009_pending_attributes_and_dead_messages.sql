-- AttributesRequireVerificationBeforeUpdate: a changed email or phone number waits here (JSON list of
-- [name, value]) until the code sent to it is confirmed; the user's attributes keep the old value
-- until then. NULL when nothing is pending.
ALTER TABLE users ADD COLUMN pending_attributes TEXT;

-- Durable delivery gives up on a message that can never be delivered (a permanent SMTP rejection,
-- an SNS request that is invalid) or that kept failing for a day: it is marked dead here, no longer
-- leased, counted in /metrics, and pruned with the delivered rows.
ALTER TABLE message_outbox ADD COLUMN failed_ms BIGINT;
