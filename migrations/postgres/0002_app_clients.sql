-- App clients. Settings are Cognito's own wire document (UserPoolClientType without identity fields).
-- Client ids are unique across pools: sign-in calls name the client alone.
CREATE TABLE app_clients (
    client_id   TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    settings    TEXT NOT NULL
);
-- ListUserPoolClients pages by (pool, client id) without OFFSET.
CREATE INDEX app_clients_pool ON app_clients (pool_id, client_id);

-- Client secrets (at most two per client, checked under the pool lock). `secret` holds the value
-- sealed with the key-encryption key (AES-256-GCM, bound to client and secret id), never plain text.
CREATE TABLE app_client_secrets (
    client_id  TEXT NOT NULL REFERENCES app_clients (client_id) ON DELETE CASCADE,
    secret_id  TEXT NOT NULL,
    secret     TEXT NOT NULL,
    generated  BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (client_id, secret_id)
);
