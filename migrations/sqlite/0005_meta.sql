-- Facts about the database itself, e.g. a value sealed with the key-encryption key, so a node
-- started with the wrong key refuses to run instead of failing on the first secret it reads.
CREATE TABLE gatehouse_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
