//! Storage port: App clients and their secrets.

use async_trait::async_trait;

#[async_trait]
pub trait AppClientStore: Send + Sync {}
