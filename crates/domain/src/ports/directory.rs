//! Storage port: Users, their attributes and aliases, and groups and memberships.

use async_trait::async_trait;

#[async_trait]
pub trait DirectoryStore: Send + Sync {}
