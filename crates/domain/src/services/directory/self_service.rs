//! The user-side changes of self-service accounts: SignUp's new user, confirmation, a password
//! reset with a code, ChangePassword, DeleteUser. Codes, clients and tokens are checked by the
//! caller (the auth-flows crate); these functions only change the user as Cognito does.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{AttributeType, UserStatusType};

use super::attributes::{self, Mode};
use super::users::{get_attr, password_policy, set_attr};
use super::{alias_exists, password, DirectoryService};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{PasswordState, SrpVerifier, UserPoolView, UserRecord, UserWriteOutcome};
use crate::services::triggers::{self, Trigger, Triggers};

/// Most previous passwords kept for PasswordHistorySize (its model maximum).
const MAX_HISTORY: usize = 24;

/// Gives the user a new password state, keeping the old hash and the earlier ones (newest first)
/// as the history the pool's PasswordHistorySize asks for.
pub(super) fn replace_password(
    u: &mut UserRecord,
    hash: String,
    srp: SrpVerifier,
    now_ms: i64,
    history_size: usize,
) {
    let mut history = Vec::new();
    if let Some(old) = u.password.take() {
        if history_size > 0 {
            history.push(old.hash);
            history.extend(old.history);
            history.truncate(history_size.min(MAX_HISTORY));
        }
    }
    u.password = Some(PasswordState {
        hash,
        set_ms: now_ms,
        srp: Some(srp),
        history,
    });
}

fn username_exists() -> CognitoError {
    CognitoError::new(ErrorCode::UsernameExistsException, "User already exists")
}

/// What SignUp passes on to its PreSignUp trigger.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignUpCall<'a> {
    pub client_id: Option<&'a str>,
    pub validation_data: Option<&'a [AttributeType]>,
    pub client_metadata: Option<&'a std::collections::BTreeMap<String, String>>,
}

impl DirectoryService {
    /// The PreSignUp trigger, when the pool has one: a failure stops the creation. Marks a
    /// present email / phone number verified as the answer asks, and tells whether the answer
    /// confirms the user.
    pub(crate) async fn pre_sign_up(
        &self,
        pool: &UserPoolView,
        source: &str,
        username: &str,
        attrs: &mut Vec<(String, String)>,
        call: SignUpCall<'_>,
    ) -> ServiceResult<bool> {
        if !Triggers::configured(pool, Trigger::PreSignUp) {
            return Ok(false);
        }
        let status = if source == "PreSignUp_AdminCreateUser" {
            UserStatusType::ForceChangePassword
        } else {
            UserStatusType::Unconfirmed
        };
        let validation = call.validation_data.map(|v| {
            triggers::string_map(
                v.iter()
                    .filter_map(|a| Some((a.name.as_ref()?, a.value.as_ref()?))),
            )
        });
        let request = serde_json::json!({
            "userAttributes": triggers::attributes_of(attrs, status.as_str()),
            "validationData": validation,
            "clientMetadata": call.client_metadata.map(|m| triggers::string_map(m.iter())),
        });
        let response = serde_json::json!({
            "autoConfirmUser": false,
            "autoVerifyEmail": false,
            "autoVerifyPhone": false,
        });
        let caller = triggers::Caller {
            client_id: call.client_id,
        };
        let Some(r) = self
            .triggers
            .invoke(
                pool,
                Trigger::PreSignUp,
                source,
                username,
                caller,
                request,
                response,
            )
            .await?
        else {
            return Ok(false);
        };
        let confirm = triggers::answered_flag(&r, "autoConfirmUser")?;
        for (flag, attr) in [
            ("autoVerifyEmail", "email"),
            ("autoVerifyPhone", "phone_number"),
        ] {
            if triggers::answered_flag(&r, flag)? && attrs.iter().any(|(n, _)| n == attr) {
                set_attr(attrs, &format!("{attr}_verified"), "true");
            }
        }
        Ok(confirm)
    }

    /// SignUp's user: UNCONFIRMED, with its password and validated attributes, or CONFIRMED
    /// (and verified) as the pool's PreSignUp trigger answers. A failing trigger creates no
    /// user.
    pub async fn sign_up_user(
        &self,
        pool: &UserPoolView,
        username: &str,
        pw: &str,
        attrs: &[AttributeType],
        call: SignUpCall<'_>,
    ) -> ServiceResult<UserRecord> {
        let p = &pool.record.settings.pool;
        let policy = password_policy(p);
        let fills = attributes::check_new_username(p, username)?;
        let requested = attributes::validate(p, attrs, Mode::Create)?;
        password::check_policy(&policy, pw)?;
        let sub = uuid::Uuid::new_v4().to_string();
        let mut all = vec![("sub".to_string(), sub.clone())];
        all.extend(requested);
        let username = match fills {
            Some(kind) => {
                set_attr(&mut all, kind, username);
                sub.clone()
            }
            None => username.to_string(),
        };
        attributes::check_required(p, &all)?;
        // A taken name is refused before the password is hashed: hashing costs tens of
        // milliseconds of a core, and an unsigned caller must not be able to spend them at will.
        // The insert below still settles a race between two sign-ups of one name.
        let key = attributes::username_key(p, &username);
        if self
            .store
            .get_user_by_key(&pool.record.id, &key)
            .await?
            .is_some()
        {
            return Err(username_exists());
        }
        let mut status = UserStatusType::Unconfirmed;
        if self
            .pre_sign_up(pool, "PreSignUp_SignUp", &username, &mut all, call)
            .await?
        {
            status = UserStatusType::Confirmed;
        }
        let (pid, uname, to_hash) = (pool.record.id.clone(), username.clone(), pw.to_string());
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &to_hash)).await??;
        let now = self.clock.now_ms();
        let user = UserRecord {
            pending_attributes: vec![],
            pool_id: pool.record.id.clone(),
            id: sub,
            username_key: key,
            username,
            status: status.as_str().to_string(),
            enabled: true,
            created_ms: now,
            modified_ms: now,
            version: 1,
            password: Some(PasswordState {
                hash,
                set_ms: now,
                srp: Some(srp),
                history: vec![],
            }),
            attributes: all,
        };
        let w = self.write_of(p, user.clone(), false);
        match self.store.insert_user(&w).await? {
            UserWriteOutcome::Written => Ok(user),
            UserWriteOutcome::UsernameExists => Err(username_exists()),
            UserWriteOutcome::AliasExists(kind) => Err(alias_exists(p, &kind, true)),
            UserWriteOutcome::NotFound => Err(CognitoError::pool_not_found(&pool.record.id)),
            UserWriteOutcome::VersionConflict => Err(CognitoError::internal()),
        }
    }

    /// Marks an attribute verified (a confirmed code proved it; a pending new value of it takes
    /// effect), and for sign-up confirms the user.
    /// `proven` is the (attribute, value) the code was sent to: checked again inside the write,
    /// so a value changed after the code was checked (by a concurrent UpdateUserAttributes) is
    /// never the one marked verified; that answers CodeMismatchException and changes nothing.
    /// Claiming the alias may move it from another user with `force_alias`.
    pub async fn confirm_with_code(
        &self,
        ctx: &RequestContext,
        pool: &UserPoolView,
        user: &UserRecord,
        proven: Option<(&str, &str)>,
        confirm: bool,
        force_alias: bool,
    ) -> ServiceResult<UserRecord> {
        let verified_attribute = proven.map(|(name, _)| name);
        let flag = verified_attribute.map(|a| format!("{a}_verified"));
        self.modify_user(
            ctx,
            Some(&pool.record.id),
            Some(&user.username),
            force_alias,
            |_, mut u| {
                if u.id != user.id {
                    return Err(super::codes::code_mismatch());
                }
                if let Some((name, value)) = proven {
                    // Sign-up codes go to the current value; attribute codes to the value
                    // waiting for verification, if one does.
                    let now_for = if confirm {
                        Self::attribute(&u, name)
                    } else {
                        Self::verification_destination(&u, name)
                    };
                    if now_for != Some(value) {
                        return Err(super::codes::code_mismatch());
                    }
                }
                // A value waiting for verification (AttributesRequireVerificationBeforeUpdate)
                // is what the code went to: it becomes the attribute's value.
                if let (Some(name), false) = (verified_attribute, confirm) {
                    if let Some(i) = u.pending_attributes.iter().position(|(n, _)| n == name) {
                        let (_, value) = u.pending_attributes.remove(i);
                        set_attr(&mut u.attributes, name, &value);
                    }
                }
                if let Some(flag) = &flag {
                    set_attr(&mut u.attributes, flag, "true");
                }
                if confirm {
                    u.status = UserStatusType::Confirmed.as_str().to_string();
                }
                Ok(u)
            },
        )
        .await
    }

    /// Sets a new password the user chose (ConfirmForgotPassword, ChangePassword): the policy and
    /// history apply; the user ends CONFIRMED (a RESET_REQUIRED or UNCONFIRMED user included, as
    /// a proven recovery code confirms them).
    pub async fn set_own_password(
        &self,
        ctx: &RequestContext,
        pool: &UserPoolView,
        user: &UserRecord,
        new_password: &str,
        confirm: bool,
    ) -> ServiceResult<UserRecord> {
        let p = &pool.record.settings.pool;
        let policy = password_policy(p);
        password::check_policy(&policy, new_password)?;
        let history_size =
            (policy.password_history_size.unwrap_or(0).max(0) as usize).min(MAX_HISTORY);
        if history_size > 0 {
            let earlier: Vec<String> = user
                .password
                .iter()
                .flat_map(|s| std::iter::once(s.hash.clone()).chain(s.history.iter().cloned()))
                .take(history_size)
                .collect();
            let candidate = new_password.to_string();
            let reused =
                password::blocking(move || earlier.iter().any(|h| password::verify(h, &candidate)))
                    .await?;
            if reused {
                return Err(CognitoError::new(
                    ErrorCode::PasswordHistoryPolicyViolationException,
                    "The password provided has already been used previously.",
                ));
            }
        }
        let (pid, uname, pw) = (
            pool.record.id.clone(),
            user.username.clone(),
            new_password.to_string(),
        );
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &pw)).await??;
        let now = self.clock.now_ms();
        self.modify_user(
            ctx,
            Some(&pool.record.id),
            Some(&user.username),
            false,
            |_, mut u| {
                replace_password(&mut u, hash.clone(), srp.clone(), now, history_size);
                if confirm {
                    u.status = UserStatusType::Confirmed.as_str().to_string();
                }
                Ok(u)
            },
        )
        .await
    }

    /// DeleteUser: the user and everything that hangs off it.
    pub async fn delete_own_user(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
    ) -> ServiceResult<()> {
        self.store.delete_user(&pool.record.id, &user.id).await?;
        Ok(())
    }

    /// Where a verification code for the attribute goes: its pending new value if one waits,
    /// else its value.
    pub fn verification_destination<'a>(u: &'a UserRecord, name: &str) -> Option<&'a str> {
        get_attr(&u.pending_attributes, name)
            .filter(|v| !v.is_empty())
            .or_else(|| Self::attribute(u, name))
    }

    /// The value of an attribute, if set.
    pub fn attribute<'a>(u: &'a UserRecord, name: &str) -> Option<&'a str> {
        get_attr(&u.attributes, name).filter(|v| !v.is_empty())
    }
}
