//! Storage port: Resource servers (with scopes) and identity providers, and users' links to providers.

use async_trait::async_trait;

#[async_trait]
pub trait IdentityProviderStore: Send + Sync {}
