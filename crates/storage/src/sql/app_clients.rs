//! App clients and their secrets.

use async_trait::async_trait;
use domain::ports::AppClientStore;

use super::SqlStore;

#[async_trait]
impl AppClientStore for SqlStore {}
