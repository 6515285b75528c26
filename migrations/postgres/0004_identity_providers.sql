-- Resource servers (OAuth scopes) and federated identity providers of a pool.
CREATE TABLE resource_servers (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    identifier  TEXT NOT NULL,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

-- Attribute mapping and ACR mapping are Cognito's wire documents as JSON text. Provider details hold
-- client secrets and private keys: they are stored sealed with the key-encryption key, never in clear.
CREATE TABLE identity_providers (
    pool_id           TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    provider_name     TEXT NOT NULL,
    provider_type     TEXT NOT NULL,
    details           TEXT NOT NULL,
    attribute_mapping TEXT NOT NULL,
    acr_mapping       TEXT,
    created_ms        BIGINT NOT NULL,
    modified_ms       BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    PRIMARY KEY (pool_id, provider_name)
);

-- IdpIdentifiers are unique per pool across providers; the key enforces it under concurrency.
CREATE TABLE identity_provider_identifiers (
    pool_id       TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    position      BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identifier),
    FOREIGN KEY (pool_id, provider_name)
        REFERENCES identity_providers (pool_id, provider_name) ON DELETE CASCADE
);
CREATE INDEX identity_provider_identifiers_provider
    ON identity_provider_identifiers (pool_id, provider_name, position);

-- AdminLinkProviderForUser: an external identity (provider, attribute name, value) linked to a pool
-- user. The username is stored as given; the users table arrives separately, so there is no key to it
-- yet. A provider's links go with the provider, and a pool's with the pool.
CREATE TABLE provider_user_links (
    pool_id         TEXT NOT NULL,
    provider_name   TEXT NOT NULL,
    attribute_name  TEXT NOT NULL,
    attribute_value TEXT NOT NULL,
    username        TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    PRIMARY KEY (pool_id, provider_name, attribute_name, attribute_value),
    FOREIGN KEY (pool_id, provider_name)
        REFERENCES identity_providers (pool_id, provider_name) ON DELETE CASCADE
);
CREATE INDEX provider_user_links_user ON provider_user_links (pool_id, username);
