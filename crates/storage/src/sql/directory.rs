//! Users, attributes, aliases, groups and memberships.

use async_trait::async_trait;
use domain::ports::DirectoryStore;

use super::SqlStore;

#[async_trait]
impl DirectoryStore for SqlStore {}
