-- AttributesRequireVerificationBeforeUpdate: a changed email or phone number waits here (JSON list of
-- [name, value]) until the code sent to it is confirmed; the user's attributes keep the old value
-- until then. NULL when nothing is pending.
ALTER TABLE users ADD COLUMN pending_attributes TEXT;
