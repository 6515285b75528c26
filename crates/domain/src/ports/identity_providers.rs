//! Storage port: resource servers (with their scopes) and federated identity providers.

use std::collections::BTreeMap;

use async_trait::async_trait;
use cognito_model::shapes::{IdentityProviderTypeType, ResourceServerScopeType};

use super::StoreResult;

/// A resource server as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceServerRecord {
    pub pool_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ResourceServerScopeType>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// An identity provider as stored. `details` holds secrets (client_secret, private_key), so this
/// type's `Debug` never prints them.
#[derive(Clone, PartialEq)]
pub struct IdentityProviderRecord {
    pub pool_id: String,
    pub provider_name: String,
    pub provider_type: IdentityProviderTypeType,
    pub details: BTreeMap<String, String>,
    pub attribute_mapping: BTreeMap<String, String>,
    pub idp_identifiers: Vec<String>,
    pub acr_mapping: Option<BTreeMap<String, String>>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub version: i64,
}

impl std::fmt::Debug for IdentityProviderRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderRecord")
            .field("pool_id", &self.pool_id)
            .field("provider_name", &self.provider_name)
            .field("provider_type", &self.provider_type)
            .field("details", &"<redacted>")
            .field("attribute_mapping", &self.attribute_mapping)
            .field("idp_identifiers", &self.idp_identifiers)
            .field("version", &self.version)
            .finish()
    }
}

/// An external identity linked to a pool user (AdminLinkProviderForUser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderLinkRecord {
    pub pool_id: String,
    pub provider_name: String,
    pub attribute_name: String,
    pub attribute_value: String,
    /// The destination user's username (its stored spelling; usernames never change).
    pub username: String,
    pub created_ms: i64,
}

/// The destination user's side of a link change: its `identities` attribute is rewritten in the
/// same transaction, guarded by its version like every other user write.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkedUserWrite {
    pub user_id: String,
    /// The new version; the stored one must still be `version - 1`.
    pub version: i64,
    pub modified_ms: i64,
    pub attributes: Vec<(String, String)>,
}

/// The outcome of a write to a pool's resource servers or identity providers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildWrite {
    Written,
    /// The pool is gone.
    PoolNotFound,
    /// The row to update or delete does not exist.
    NotFound,
    /// The key (identifier or provider name) is taken.
    Duplicate,
    /// An IdpIdentifier is taken by another provider of the pool.
    DuplicateIdpIdentifier(String),
    /// The pool already has the most rows of this kind it may have.
    LimitExceeded,
    /// Someone else changed the row since it was read: read again and retry.
    VersionConflict,
    /// The user a link belongs to is gone.
    UserNotFound,
}

/// A page in key order; `last_key` is set when more may follow.
#[derive(Clone, Debug)]
pub struct ChildPage<T> {
    pub items: Vec<T>,
    pub last_key: Option<String>,
}

#[async_trait]
pub trait IdentityProviderStore: Send + Sync {
    /// Inserts a resource server unless the identifier is taken or the pool holds `max` already.
    async fn insert_resource_server(
        &self,
        server: &ResourceServerRecord,
        max: usize,
    ) -> StoreResult<ChildWrite>;
    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<ResourceServerRecord>>;
    /// Replaces the name and scopes of an existing resource server.
    async fn update_resource_server(
        &self,
        server: &ResourceServerRecord,
    ) -> StoreResult<ChildWrite>;
    async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<ChildWrite>;
    /// Resource servers with identifiers greater than `after`, in identifier order.
    async fn list_resource_servers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ChildPage<ResourceServerRecord>>;

    /// Inserts a provider and its IdpIdentifiers in one transaction.
    async fn insert_identity_provider(
        &self,
        provider: &IdentityProviderRecord,
        max: usize,
    ) -> StoreResult<ChildWrite>;
    async fn get_identity_provider(
        &self,
        pool_id: &str,
        provider_name: &str,
    ) -> StoreResult<Option<IdentityProviderRecord>>;
    async fn get_identity_provider_by_identifier(
        &self,
        pool_id: &str,
        idp_identifier: &str,
    ) -> StoreResult<Option<IdentityProviderRecord>>;
    /// Replaces the provider if its version is still `provider.version - 1`.
    async fn update_identity_provider(
        &self,
        provider: &IdentityProviderRecord,
    ) -> StoreResult<ChildWrite>;
    async fn delete_identity_provider(
        &self,
        pool_id: &str,
        provider_name: &str,
    ) -> StoreResult<ChildWrite>;
    /// Providers with names greater than `after`, in name order.
    async fn list_identity_providers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ChildPage<IdentityProviderRecord>>;

    /// Links an external identity to a user and writes the user's new attributes, in one
    /// transaction. `Duplicate` when the identity is linked already (to any user), `NotFound` when
    /// the provider is gone, `UserNotFound` when the user is, `VersionConflict` when the user
    /// changed since it was read, `LimitExceeded` when it already has `max_per_user` links.
    async fn insert_provider_link(
        &self,
        link: &ProviderLinkRecord,
        user: &LinkedUserWrite,
        max_per_user: usize,
    ) -> StoreResult<ChildWrite>;
    /// Removes one link and writes its user's new attributes, in one transaction; `NotFound`
    /// when there is no such link, `VersionConflict` when the user changed since it was read.
    async fn delete_provider_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
        user: &LinkedUserWrite,
    ) -> StoreResult<ChildWrite>;
    /// The link of one external identity, if any.
    async fn get_provider_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
    ) -> StoreResult<Option<ProviderLinkRecord>>;
    /// The links of one user, in (provider, attribute name, value) order.
    async fn provider_links_of_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> StoreResult<Vec<ProviderLinkRecord>>;
}
