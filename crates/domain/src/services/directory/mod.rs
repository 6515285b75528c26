//! Users and groups: the user directory of a pool.

mod attributes;
pub mod codes;
mod cpu_pool;
mod filter;
mod groups;
mod import;
mod invitations;
mod mfa_email;
mod migration;
pub mod password;
mod self_service;
mod sign_in;
mod users;

use std::sync::Arc;

pub use attributes::username_key;
pub use import::{import_write, ImportedUser};
pub use invitations::{mailbox_address, SenderPolicy};
pub use migration::MigrationCall;
pub use self_service::SignUpCall;
pub use users::{reset_refused, AttributeUpdate};

use crate::ports::{DropMessages, MessageSender};

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{AttributeType, UserPoolType, UserStatusType, UserType};

use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{
    Clock, OutboundMessage, Store, UserPoolView, UserRecord, UserWrite, UserWriteOutcome,
};
use crate::services::UserPoolService;
use crate::user_pool::wire_time;

/// How often a user write retries after losing an optimistic-concurrency race.
const WRITE_RETRIES: usize = 8;

#[derive(Clone)]
pub struct DirectoryService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pools: UserPoolService,
    sender: Arc<dyn MessageSender>,
    codes: Arc<codes::CodeSettings>,
    triggers: crate::services::triggers::Triggers,
}

pub(crate) fn user_not_found() -> CognitoError {
    CognitoError::new(ErrorCode::UserNotFoundException, "User does not exist.")
}

pub(crate) fn group_not_found() -> CognitoError {
    CognitoError::resource_not_found("Group not found.")
}

fn concurrent_modification() -> CognitoError {
    CognitoError::new(
        ErrorCode::ConcurrentModificationException,
        "The user was modified concurrently; try again.",
    )
}

/// The error for an alias value another user holds. Creating a user whose username attribute
/// (email or phone) is taken is a username clash; any other clash is an alias clash.
fn alias_exists(pool: &UserPoolType, kind: &str, creating: bool) -> CognitoError {
    let code = if !creating || attributes::username_attributes(pool).is_empty() {
        ErrorCode::AliasExistsException
    } else {
        ErrorCode::UsernameExistsException
    };
    CognitoError::new(
        code,
        format!("An account with the given {kind} already exists."),
    )
}

fn wire_attributes(u: &UserRecord, only: Option<&[String]>) -> Vec<AttributeType> {
    u.attributes
        .iter()
        .filter(|(n, _)| match only {
            Some(o) => o.iter().any(|x| x == n),
            None => true,
        })
        .map(|(n, v)| AttributeType {
            name: Some(n.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn status_of(u: &UserRecord) -> Option<UserStatusType> {
    u.status.parse().ok()
}

/// The user as ListUsers, AdminCreateUser and ListUsersInGroup show it.
pub(crate) fn user_type(u: &UserRecord, only: Option<&[String]>) -> UserType {
    UserType {
        username: Some(u.username.clone()),
        attributes: Some(wire_attributes(u, only)),
        user_create_date: Some(wire_time(u.created_ms)),
        user_last_modified_date: Some(wire_time(u.modified_ms)),
        enabled: Some(u.enabled),
        user_status: status_of(u),
        mfa_options: None,
    }
}

impl DirectoryService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, pools: UserPoolService) -> Self {
        Self {
            store,
            clock,
            pools,
            sender: Arc::new(DropMessages),
            codes: codes::CodeSettings::process_local(),
            triggers: Default::default(),
        }
    }

    /// The pools' Lambda triggers (PreSignUp fires inside SignUp's user creation).
    pub fn with_triggers(mut self, triggers: crate::services::triggers::Triggers) -> Self {
        self.triggers = triggers;
        self
    }

    /// The key one-time codes are hashed under and their limits.
    pub fn with_code_settings(mut self, settings: Arc<codes::CodeSettings>) -> Self {
        self.codes = settings;
        self
    }

    /// Where invitations and codes go.
    pub fn with_sender(mut self, sender: Arc<dyn MessageSender>) -> Self {
        self.sender = sender;
        self
    }

    async fn pool(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
    ) -> ServiceResult<UserPoolView> {
        self.pools.load(ctx, pool_id.unwrap_or_default()).await
    }

    /// Finds the user a `Username` parameter names: by username, or by an alias (a verified alias,
    /// or the email/phone of a username-attributes pool).
    pub async fn find_user(
        &self,
        pool: &UserPoolView,
        username: Option<&str>,
    ) -> ServiceResult<UserRecord> {
        let username = username.unwrap_or_default();
        let p = &pool.record.settings.pool;
        let key = attributes::username_key(p, username);
        if let Some(u) = self.store.get_user_by_key(&pool.record.id, &key).await? {
            return Ok(u);
        }
        let has_aliases = !attributes::username_attributes(p).is_empty()
            || !attributes::alias_attributes(p).is_empty();
        if has_aliases {
            let key = attributes::alias_key(p, "email", username);
            if let Some(u) = self.store.get_user_by_alias(&pool.record.id, &key).await? {
                return Ok(u);
            }
        }
        Err(user_not_found())
    }

    /// The write for a user: its search rows and the aliases it claims, from its attributes.
    fn write_of(&self, pool: &UserPoolType, user: UserRecord, force_aliases: bool) -> UserWrite {
        // In a username-attributes pool email and phone are usernames: never moved.
        let force_aliases = force_aliases && attributes::username_attributes(pool).is_empty();
        UserWrite {
            search: attributes::search_rows(&user.attributes),
            aliases: attributes::alias_claims(pool, &user.attributes),
            user,
            force_aliases,
        }
    }

    /// Read-modify-write of one user, retried when another writer got there first. `change`
    /// returns the new record (its version is bumped here) or an error to stop.
    pub(crate) async fn modify_user<F>(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        username: Option<&str>,
        force_aliases: bool,
        mut change: F,
    ) -> ServiceResult<UserRecord>
    where
        F: FnMut(&UserPoolType, UserRecord) -> ServiceResult<UserRecord>,
    {
        self.modify_user_and_queue(ctx, pool_id, username, force_aliases, |p, u| {
            Ok((change(p, u)?, Vec::new()))
        })
        .await
    }

    /// `modify_user` whose change also yields messages (an invitation) queued in the durable
    /// outbox in the transaction that writes the user.
    pub(crate) async fn modify_user_and_queue<F>(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        username: Option<&str>,
        force_aliases: bool,
        mut change: F,
    ) -> ServiceResult<UserRecord>
    where
        F: FnMut(&UserPoolType, UserRecord) -> ServiceResult<(UserRecord, Vec<OutboundMessage>)>,
    {
        for _ in 0..WRITE_RETRIES {
            let pool = self.pool(ctx, pool_id).await?;
            let current = self.find_user(&pool, username).await?;
            let p = &pool.record.settings.pool;
            let (mut next, messages) = change(p, current.clone())?;
            next.version = current.version + 1;
            let now = self.clock.now_ms();
            next.modified_ms = now.max(current.modified_ms);
            let w = self.write_of(p, next.clone(), force_aliases);
            match self.store.update_user_and_queue(&w, &messages, now).await? {
                UserWriteOutcome::Written => {
                    if !messages.is_empty() {
                        self.sender.queued();
                    }
                    return Ok(next);
                }
                UserWriteOutcome::VersionConflict => continue,
                UserWriteOutcome::NotFound => return Err(user_not_found()),
                UserWriteOutcome::AliasExists(kind) => return Err(alias_exists(p, &kind, false)),
                UserWriteOutcome::UsernameExists => {
                    return Err(CognitoError::new(
                        ErrorCode::UsernameExistsException,
                        "User account already exists",
                    ))
                }
            }
        }
        Err(concurrent_modification())
    }
}
