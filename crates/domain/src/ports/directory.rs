//! Storage port: Users, their attributes and aliases, and groups and memberships.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{OutboundMessage, StoreResult};

/// One user as stored. `id` is the user's `sub`; `username_key` is the username as it is matched
/// (lower-cased in case-insensitive pools), unique in the pool.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub pool_id: String,
    pub id: String,
    pub username: String,
    pub username_key: String,
    /// Cognito's `UserStatusType` wire value, e.g. `FORCE_CHANGE_PASSWORD`.
    pub status: String,
    pub enabled: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Bumped on every write; writers compare it to detect a concurrent change.
    pub version: i64,
    pub password: Option<PasswordState>,
    /// The attributes in the order the user sees them (`sub` first).
    pub attributes: Vec<(String, String)>,
    /// New values of email / phone_number waiting for verification (the pool's
    /// AttributesRequireVerificationBeforeUpdate): never shown, applied by VerifyUserAttribute.
    pub pending_attributes: Vec<(String, String)>,
}

/// The user's password: never the plaintext, only argon2id PHC strings and the SRP verifier.
/// The store seals the whole state at rest. Its Debug shows no hash or verifier (nor does
/// UserRecord's, which prints this), so a stray `{:?}` cannot leak them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PasswordState {
    pub hash: String,
    pub set_ms: i64,
    /// Cognito SRP's salt and verifier (`v = g^x mod N`), lower-case hex. Absent only for
    /// passwords set before SRP existed here; such users must sign in with a password flow once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srp: Option<SrpVerifier>,
    /// Hashes of earlier passwords, newest first (for PasswordHistorySize).
    #[serde(default)]
    pub history: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrpVerifier {
    pub salt: String,
    pub verifier: String,
}

impl std::fmt::Debug for PasswordState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordState")
            .field("hash", &"<redacted>")
            .field("set_ms", &self.set_ms)
            .field("srp", &self.srp)
            .field(
                "history",
                &format_args!("<{} redacted>", self.history.len()),
            )
            .finish()
    }
}

impl std::fmt::Debug for SrpVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrpVerifier(<redacted>)")
    }
}

/// A user with what the store indexes for it: searchable attribute values and claimed aliases.
#[derive(Clone, Debug)]
pub struct UserWrite {
    pub user: UserRecord,
    /// (attribute name, value) rows for ListUsers filters.
    pub search: Vec<(String, String)>,
    /// (kind, key) values this user holds exclusively in the pool: verified aliases and username
    /// attributes. `kind` is the attribute name.
    pub aliases: Vec<(String, String)>,
    /// Take over alias values another user holds (ForceAliasCreation); the other user's
    /// `<kind>_verified` attribute becomes `false`.
    pub force_aliases: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserWriteOutcome {
    Written,
    UsernameExists,
    /// Another user holds this alias kind's value.
    AliasExists(String),
    /// The user (on update) or the pool is gone.
    NotFound,
    /// Someone else changed the user since it was read: read again and retry.
    VersionConflict,
}

/// Which users ListUsers looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserQuery {
    /// Every user, in username order.
    All,
    /// Username equal to / starting with the value.
    Username {
        value: String,
        prefix: bool,
    },
    /// `sub` equal to / starting with the value.
    Sub {
        value: String,
        prefix: bool,
    },
    /// Users whose status is one of these.
    Status(Vec<String>),
    Enabled(bool),
    /// A searchable attribute equal to / starting with the value.
    Attribute {
        name: String,
        value: String,
        prefix: bool,
    },
    /// Matches nobody (e.g. a status filter no status satisfies).
    Nothing,
}

/// Where the previous page ended: the sort value and the user id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCursor {
    pub v: String,
    pub id: String,
}

#[derive(Clone, Debug)]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    pub next: Option<UserCursor>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupRecord {
    pub pool_id: String,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

#[derive(Clone, Debug)]
pub struct GroupPage {
    pub groups: Vec<GroupRecord>,
    /// The name of the last group returned when more may follow.
    pub last_key: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipOutcome {
    Written,
    UserNotFound,
    GroupNotFound,
}

#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Inserts a new user with its search rows and aliases in one transaction.
    async fn insert_user(&self, w: &UserWrite) -> StoreResult<UserWriteOutcome>;
    /// Inserts a new user and queues `messages` (its invitation) in the durable outbox, due at
    /// `now_ms`, in the same transaction: the user never exists without its messages, and a user
    /// that is not written (a taken username) queues nothing.
    async fn insert_user_and_queue(
        &self,
        w: &UserWrite,
        messages: &[OutboundMessage],
        now_ms: i64,
    ) -> StoreResult<UserWriteOutcome>;
    /// Replaces the user if its version is still `w.user.version - 1`, with its search rows and
    /// aliases.
    async fn update_user(&self, w: &UserWrite) -> StoreResult<UserWriteOutcome>;
    /// `update_user`, queueing `messages` in the durable outbox in the same transaction (only if
    /// the write happens).
    async fn update_user_and_queue(
        &self,
        w: &UserWrite,
        messages: &[OutboundMessage],
        now_ms: i64,
    ) -> StoreResult<UserWriteOutcome>;
    /// Deletes the user, its attributes, aliases and memberships. False when it did not exist.
    async fn delete_user(&self, pool_id: &str, user_id: &str) -> StoreResult<bool>;
    async fn get_user_by_key(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> StoreResult<Option<UserRecord>>;
    /// The user holding an alias value of any kind.
    async fn get_user_by_alias(&self, pool_id: &str, key: &str) -> StoreResult<Option<UserRecord>>;
    /// A page of users matching `query`. Listed users carry no password state (`password` is
    /// None): no list shows it.
    async fn list_users(
        &self,
        pool_id: &str,
        query: &UserQuery,
        after: Option<&UserCursor>,
        limit: u32,
    ) -> StoreResult<UserPage>;

    /// `Conflict` when the group exists; false when the pool is gone.
    async fn insert_group(&self, g: &GroupRecord) -> StoreResult<bool>;
    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<GroupRecord>>;
    /// False when the group does not exist.
    async fn update_group(&self, g: &GroupRecord) -> StoreResult<bool>;
    /// Deletes the group and its memberships. False when it did not exist.
    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<bool>;
    async fn list_groups(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<GroupPage>;
    async fn add_member(
        &self,
        pool_id: &str,
        group: &str,
        user_id: &str,
    ) -> StoreResult<MembershipOutcome>;
    async fn remove_member(
        &self,
        pool_id: &str,
        group: &str,
        user_id: &str,
    ) -> StoreResult<MembershipOutcome>;
    /// The user's groups in name order after `after`.
    async fn list_groups_for_user(
        &self,
        pool_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<GroupPage>;
    /// The group's members in username order after `after` (a username), without their
    /// password state.
    async fn list_users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<UserPage>;
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_of_a_user_shows_no_password_secret() {
        let user = UserRecord {
            pool_id: "p".into(),
            id: "id".into(),
            username: "alice".into(),
            username_key: "alice".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_ms: 0,
            modified_ms: 0,
            version: 1,
            password: Some(PasswordState {
                hash: "$argon2id$SECRET-HASH".into(),
                set_ms: 7,
                srp: Some(SrpVerifier {
                    salt: "SECRET-SALT".into(),
                    verifier: "SECRET-VERIFIER".into(),
                }),
                history: vec!["$argon2id$SECRET-OLD".into()],
            }),
            attributes: vec![("email".into(), "a@example.com".into())],
            pending_attributes: vec![],
        };
        let shown = format!("{user:?} {:#?}", user.password);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("set_ms: 7"),
            "{shown}"
        );
    }
}
