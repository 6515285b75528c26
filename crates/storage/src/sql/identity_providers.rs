//! Resource servers and identity providers.

use async_trait::async_trait;
use domain::ports::IdentityProviderStore;

use super::SqlStore;

#[async_trait]
impl IdentityProviderStore for SqlStore {}
