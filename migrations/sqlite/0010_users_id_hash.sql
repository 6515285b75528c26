-- Postgres adds a hash index on users.id here; SQLite has no hash indexes, and its primary-key
-- lookups stay as they are. This file keeps both backends' migration numbers in step.
SELECT 1;
