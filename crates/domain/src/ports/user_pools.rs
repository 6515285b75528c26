//! Storage port for user pools and their tags.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreResult;
use crate::user_pool::UserPoolRecord;

/// A pool with what hangs directly off it, as DescribeUserPool shows it.
#[derive(Clone, Debug)]
pub struct UserPoolView {
    pub record: UserPoolRecord,
    pub tags: BTreeMap<String, String>,
    pub estimated_users: i64,
}

/// The outcome of a write guarded by the record's version (optimistic concurrency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// Someone else changed the row since it was read: read again and retry.
    VersionConflict,
    NotFound,
}

/// The outcome of adding tags: the 50-tag limit is checked inside the same transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagOutcome {
    Written,
    TooManyTags,
    NotFound,
}

/// A page of user pools in id order, for ListUserPools.
#[derive(Clone, Debug)]
pub struct UserPoolPage {
    pub pools: Vec<UserPoolRecord>,
    /// The id of the last pool returned when more may follow.
    pub last_key: Option<String>,
}

#[async_trait]
pub trait UserPoolStore: Send + Sync {
    /// Inserts a new pool and its tags in one transaction. `Conflict` when the id exists.
    async fn insert_user_pool(
        &self,
        pool: &UserPoolRecord,
        tags: &BTreeMap<String, String>,
    ) -> StoreResult<()>;
    async fn get_user_pool(&self, pool_id: &str) -> StoreResult<Option<UserPoolView>>;
    /// Replaces the pool's settings if its version is still `pool.version - 1`; replaces the tags too
    /// when given.
    async fn update_user_pool(
        &self,
        pool: &UserPoolRecord,
        tags: Option<&BTreeMap<String, String>>,
    ) -> StoreResult<WriteOutcome>;
    /// Deletes the pool and everything that hangs off it. False when it did not exist.
    async fn delete_user_pool(&self, pool_id: &str) -> StoreResult<bool>;
    /// Pools of one account and region with ids greater than `after`, in id order.
    async fn list_user_pools(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<UserPoolPage>;
    async fn tag_user_pool(
        &self,
        pool_id: &str,
        tags: &BTreeMap<String, String>,
        max_tags: usize,
    ) -> StoreResult<TagOutcome>;
    /// Removes the given tag keys. False when the pool does not exist.
    async fn untag_user_pool(&self, pool_id: &str, keys: &[String]) -> StoreResult<bool>;
}
