//! Storage port: App clients and their secrets.

use async_trait::async_trait;
use cognito_model::shapes::UserPoolClientType;

use super::StoreResult;

/// A client secret's value. Its `Debug` never shows the value, so it cannot leak into a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }
    /// The value itself, for the one answer that hands it out and for constant-time comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// One secret of an app client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSecretRecord {
    /// `<client-id>--<epoch-create-time>`, as Cognito names them.
    pub secret_id: String,
    pub value: SecretValue,
    pub created_ms: i64,
    /// True when Gatehouse generated the value, false when the caller supplied it.
    pub generated: bool,
}

/// One app client as stored. The settings are the wire document (`UserPoolClientType`) without the
/// identity fields (pool id, client id, name, secret, dates), which live in their own columns.
#[derive(Clone, Debug, PartialEq)]
pub struct AppClientRecord {
    pub pool_id: String,
    pub client_id: String,
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub settings: UserPoolClientType,
}

/// An app client with its secrets, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct AppClientView {
    pub record: AppClientRecord,
    pub secrets: Vec<ClientSecretRecord>,
}

/// A page of a pool's app clients in client-id order.
#[derive(Clone, Debug)]
pub struct AppClientPage {
    pub clients: Vec<AppClientRecord>,
    /// The id of the last client returned when more may follow.
    pub last_key: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertClientOutcome {
    Inserted,
    PoolNotFound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddSecretOutcome {
    Added,
    /// The client already holds the most secrets it may.
    LimitExceeded,
    /// The client has no secret at all: it is a public client.
    NotConfidential,
    ClientNotFound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteSecretOutcome {
    Deleted,
    SecretNotFound,
    /// The secret is the client's only one.
    LastSecret,
    ClientNotFound,
}

#[async_trait]
pub trait AppClientStore: Send + Sync {
    /// Inserts a client (and its first secret) in one transaction. `Conflict` when the id exists.
    async fn insert_app_client(
        &self,
        client: &AppClientRecord,
        secret: Option<&ClientSecretRecord>,
    ) -> StoreResult<InsertClientOutcome>;
    /// The client of that pool with its secrets.
    async fn get_app_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<AppClientView>>;
    /// The client with that id in whichever pool holds it, for calls that name the client alone
    /// (InitiateAuth, SignUp, the token endpoint).
    async fn find_app_client(&self, client_id: &str) -> StoreResult<Option<AppClientView>>;
    /// Replaces name, settings and modification time. False when the client does not exist.
    async fn update_app_client(&self, client: &AppClientRecord) -> StoreResult<bool>;
    /// Deletes the client and its secrets. False when it did not exist.
    async fn delete_app_client(&self, pool_id: &str, client_id: &str) -> StoreResult<bool>;
    /// Clients of one pool with ids greater than `after`, in id order.
    async fn list_app_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<AppClientPage>;
    /// Adds a secret unless the client already holds `max` (checked inside the write transaction).
    async fn add_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        secret: &ClientSecretRecord,
        max: usize,
    ) -> StoreResult<AddSecretOutcome>;
    /// Deletes one secret, never the client's last one.
    async fn delete_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> StoreResult<DeleteSecretOutcome>;
}
