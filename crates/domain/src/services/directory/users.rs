//! The admin user operations and ListUsers.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AddCustomAttributesRequest, AddCustomAttributesResponse, AdminConfirmSignUpRequest,
    AdminConfirmSignUpResponse, AdminCreateUserRequest, AdminCreateUserResponse,
    AdminDeleteUserAttributesRequest, AdminDeleteUserAttributesResponse, AdminDeleteUserRequest,
    AdminDisableUserRequest, AdminDisableUserResponse, AdminEnableUserRequest,
    AdminEnableUserResponse, AdminGetUserRequest, AdminGetUserResponse,
    AdminListUserAuthEventsRequest, AdminListUserAuthEventsResponse, AdminResetUserPasswordRequest,
    AdminResetUserPasswordResponse, AdminSetUserPasswordRequest, AdminSetUserPasswordResponse,
    AdminUpdateUserAttributesRequest, AdminUpdateUserAttributesResponse, AttributeType,
    CodeDeliveryDetailsType, GetCSVHeaderRequest, GetCSVHeaderResponse, ListUsersRequest,
    ListUsersResponse, MessageActionType, PasswordPolicyType, UserPoolType, UserStatusType,
};
use serde::{Deserialize, Serialize};

use super::attributes::{self, Mode};
use super::codes::CodePurpose;
use super::{
    alias_exists, filter, password, user_not_found, user_type, wire_attributes, DirectoryService,
};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{PasswordState, UserCursor, UserPoolView, UserRecord, UserWriteOutcome};
use crate::services::pagination;
use crate::user_pool::{default_password_policy, wire_time};

/// Most previous passwords kept for PasswordHistorySize (its model maximum).
const MAX_HISTORY: usize = 24;

pub(crate) fn password_policy(p: &UserPoolType) -> PasswordPolicyType {
    p.policies
        .as_ref()
        .and_then(|x| x.password_policy.clone())
        .unwrap_or_else(default_password_policy)
}

fn user_exists() -> CognitoError {
    CognitoError::new(
        ErrorCode::UsernameExistsException,
        "User account already exists",
    )
}

pub(crate) fn set_attr(attrs: &mut Vec<(String, String)>, name: &str, value: &str) {
    match attrs.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => attrs.push((name.to_string(), value.to_string())),
    }
}

pub(crate) fn get_attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The attributes of a pool whose new values wait for verification before they apply.
pub(crate) fn requires_verification_before_update(p: &UserPoolType) -> Vec<&'static str> {
    p.user_attribute_update_settings
        .as_ref()
        .and_then(|s| s.attributes_require_verification_before_update.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|a| a.as_str())
        .collect()
}

/// An applied attribute update and the codes it calls for.
#[derive(Clone, Debug)]
pub struct AttributeUpdate {
    pub user: UserRecord,
    /// (attribute, destination, pending): values to send a verification code to. Pending values
    /// always get one; a directly changed value only when the pool auto-verifies the attribute.
    pub to_verify: Vec<(String, String, bool)>,
}

/// What a ListUsers pagination token carries: the filter it belongs to and where the page ended.
#[derive(Serialize, Deserialize)]
struct ListToken {
    f: String,
    v: String,
    id: String,
}

impl DirectoryService {
    pub async fn admin_create_user(
        &self,
        ctx: &RequestContext,
        req: AdminCreateUserRequest,
    ) -> ServiceResult<AdminCreateUserResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let p = &pool.record.settings.pool;
        let policy = password_policy(p);
        if req.message_action == Some(MessageActionType::Resend) {
            return self.resend_invitation(ctx, &req, &policy).await;
        }
        let given = req.username.clone().unwrap_or_default();
        let fills = attributes::check_new_username(p, &given)?;
        let requested = attributes::validate(
            p,
            req.user_attributes.as_deref().unwrap_or_default(),
            Mode::Create,
        )?;
        let sub = uuid::Uuid::new_v4().to_string();
        let mut attrs = vec![("sub".to_string(), sub.clone())];
        attrs.extend(requested);
        let username = match fills {
            Some(kind) => {
                set_attr(&mut attrs, kind, &given);
                sub.clone()
            }
            None => given,
        };
        attributes::check_required(p, &attrs)?;
        // An administrator's user is created on a temporary password whatever the answer;
        // the answer may still mark the email or phone number verified.
        let call = super::SignUpCall {
            client_id: None,
            validation_data: req.validation_data.as_deref(),
            client_metadata: req.client_metadata.as_ref(),
        };
        self.pre_sign_up(
            &pool,
            "PreSignUp_AdminCreateUser",
            &username,
            &mut attrs,
            call,
        )
        .await?;
        let temp = match req.temporary_password.clone().filter(|t| !t.is_empty()) {
            Some(t) => {
                password::check_policy(&policy, &t)?;
                t
            }
            None => password::generate(&policy),
        };
        let (pid, uname, to_hash) = (pool.record.id.clone(), username.clone(), temp.clone());
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &to_hash)).await??;
        let now = self.clock.now_ms();
        let user = UserRecord {
            pending_attributes: vec![],
            pool_id: pool.record.id.clone(),
            id: sub,
            username_key: attributes::username_key(p, &username),
            username,
            status: UserStatusType::ForceChangePassword.as_str().to_string(),
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
            attributes: attrs,
        };
        let w = self.write_of(p, user.clone(), req.force_alias_creation.unwrap_or(false));
        // The invitation is queued in the transaction that inserts the user: a crash cannot
        // leave a user whose temporary password was never sent, nor a message for no user.
        let invitation = if req.message_action == Some(MessageActionType::Suppress) {
            Vec::new()
        } else {
            super::invitations::invitation_messages(
                p,
                &pool.record.id,
                &user,
                &temp,
                req.desired_delivery_mediums.as_deref(),
            )
        };
        match self
            .store
            .insert_user_and_queue(&w, &invitation, now)
            .await?
        {
            UserWriteOutcome::Written => {
                if !invitation.is_empty() {
                    self.sender.queued();
                }
                Ok(AdminCreateUserResponse {
                    user: Some(user_type(&user, None)),
                })
            }
            UserWriteOutcome::UsernameExists => Err(user_exists()),
            UserWriteOutcome::AliasExists(kind) => Err(alias_exists(p, &kind, true)),
            UserWriteOutcome::NotFound => Err(CognitoError::pool_not_found(&pool.record.id)),
            UserWriteOutcome::VersionConflict => Err(CognitoError::internal()),
        }
    }

    /// MessageAction RESEND: a new temporary password for a user still waiting for its first
    /// sign-in, sent again as an invitation.
    async fn resend_invitation(
        &self,
        ctx: &RequestContext,
        req: &AdminCreateUserRequest,
        policy: &PasswordPolicyType,
    ) -> ServiceResult<AdminCreateUserResponse> {
        let temp = match req.temporary_password.clone().filter(|t| !t.is_empty()) {
            Some(t) => {
                password::check_policy(policy, &t)?;
                t
            }
            None => password::generate(policy),
        };
        // The SRP verifier is bound to the internal username, which an alias does not tell.
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let found = self.find_user(&pool, req.username.as_deref()).await?;
        let (pid, uname, to_hash) = (pool.record.id.clone(), found.username, temp.clone());
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &to_hash)).await??;
        let now = self.clock.now_ms();
        let mediums = req.desired_delivery_mediums.as_deref();
        // The new invitation is queued in the transaction that stores the new password.
        let user = self
            .modify_user_and_queue(
                ctx,
                req.user_pool_id.as_deref(),
                req.username.as_deref(),
                false,
                |p, mut u| {
                    if u.status != UserStatusType::ForceChangePassword.as_str() {
                        return Err(CognitoError::new(
                            ErrorCode::UnsupportedUserStateException,
                            format!(
                                "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
                                u.username
                            ),
                        ));
                    }
                    let history = u.password.take().map(|p| p.history).unwrap_or_default();
                    u.password = Some(PasswordState {
                        hash: hash.clone(),
                        set_ms: now,
                        srp: Some(srp.clone()),
                        history,
                    });
                    let messages =
                        super::invitations::invitation_messages(p, &u.pool_id, &u, &temp, mediums);
                    Ok((u, messages))
                },
            )
            .await?;
        Ok(AdminCreateUserResponse {
            user: Some(user_type(&user, None)),
        })
    }

    pub async fn admin_get_user(
        &self,
        ctx: &RequestContext,
        req: AdminGetUserRequest,
    ) -> ServiceResult<AdminGetUserResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let u = self.find_user(&pool, req.username.as_deref()).await?;
        let mfa = self.store.user_mfa(&u.pool_id, &u.id).await?;
        let mfa = crate::ports::WireMfaSettings::of(mfa.as_ref());
        Ok(AdminGetUserResponse {
            mfa_options: mfa.mfa_options,
            preferred_mfa_setting: mfa.preferred,
            user_mfa_setting_list: mfa.setting_list,
            username: Some(u.username.clone()),
            user_attributes: Some(wire_attributes(&u, None)),
            user_create_date: Some(wire_time(u.created_ms)),
            user_last_modified_date: Some(wire_time(u.modified_ms)),
            enabled: Some(u.enabled),
            user_status: u.status.parse().ok(),
        })
    }

    pub async fn admin_delete_user(
        &self,
        ctx: &RequestContext,
        req: AdminDeleteUserRequest,
    ) -> ServiceResult<()> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let u = self.find_user(&pool, req.username.as_deref()).await?;
        if !self.store.delete_user(&pool.record.id, &u.id).await? {
            return Err(user_not_found());
        }
        Ok(())
    }

    pub async fn admin_update_user_attributes(
        &self,
        ctx: &RequestContext,
        req: AdminUpdateUserAttributesRequest,
    ) -> ServiceResult<AdminUpdateUserAttributesResponse> {
        let update = self
            .update_attributes(
                ctx,
                req.user_pool_id.as_deref(),
                req.username.as_deref(),
                req.user_attributes.as_deref().unwrap_or_default(),
            )
            .await?;
        // The codes go out as for the user's own update; the answer carries no delivery details.
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        self.send_verification_codes(&pool, &update, false).await?;
        Ok(AdminUpdateUserAttributesResponse {})
    }

    /// Applies an attribute update (AdminUpdateUserAttributes, UpdateUserAttributes). A changed
    /// email or phone number becomes unverified unless the request sets its `*_verified` flag;
    /// with AttributesRequireVerificationBeforeUpdate it does not change at all but waits as a
    /// pending value (a later change replaces it) until VerifyUserAttribute proves it, while the
    /// old value and its verified flag stay in force. `*_verified = true` in the same request
    /// applies it at once.
    pub async fn update_attributes(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        username: Option<&str>,
        attrs: &[AttributeType],
    ) -> ServiceResult<AttributeUpdate> {
        let pool = self.pool(ctx, pool_id).await?;
        let changes = attributes::validate(&pool.record.settings.pool, attrs, Mode::Update)?;
        let mut to_verify: Vec<(String, String, bool)> = Vec::new();
        let mut settled: Vec<String> = Vec::new();
        let user = self
            .modify_user(ctx, pool_id, username, false, |p, mut u| {
                to_verify.clear();
                settled.clear();
                let held_back = requires_verification_before_update(p);
                for (name, value) in &changes {
                    if name == "email" || name == "phone_number" {
                        let flag = format!("{name}_verified");
                        let flag_given = changes.iter().any(|(n, _)| *n == flag);
                        let proven = changes.iter().any(|(n, v)| *n == flag && v == "true");
                        let differs = get_attr(&u.attributes, name) != Some(value.as_str());
                        if differs && !proven && held_back.contains(&name.as_str()) {
                            set_attr(&mut u.pending_attributes, name, value);
                            to_verify.push((name.clone(), value.clone(), true));
                            continue;
                        }
                        // A value written directly settles whatever was waiting for this attribute.
                        let waiting = get_attr(&u.pending_attributes, name).is_some();
                        u.pending_attributes.retain(|(n, _)| n != name);
                        if differs || waiting {
                            settled.push(name.clone());
                        }
                        if differs && !flag_given {
                            if get_attr(&u.attributes, &flag).is_some() {
                                set_attr(&mut u.attributes, &flag, "false");
                            }
                            to_verify.push((name.clone(), value.clone(), false));
                        }
                    }
                    set_attr(&mut u.attributes, name, value);
                }
                Ok(u)
            })
            .await?;
        // A code sent to an earlier value proves nothing about the new one.
        for name in &settled {
            self.drop_verification_code(&user, name).await?;
        }
        Ok(AttributeUpdate { user, to_verify })
    }

    /// Sends the codes an attribute update calls for: to each pending value, and to each newly
    /// set email or phone number the pool auto-verifies. Returns the delivery details.
    /// `limited` (the user's own update): the code limits apply, and a code over a limit is not
    /// sent (the update itself has been written, so it is not failed for that; the user can ask
    /// for the code later with GetUserAttributeVerificationCode).
    pub async fn send_verification_codes(
        &self,
        pool: &UserPoolView,
        update: &AttributeUpdate,
        limited: bool,
    ) -> ServiceResult<Vec<CodeDeliveryDetailsType>> {
        let auto = pool
            .record
            .settings
            .pool
            .auto_verified_attributes
            .clone()
            .unwrap_or_default();
        let mut details = Vec::new();
        for (name, dest, pending) in &update.to_verify {
            let Some((purpose, channel)) = CodePurpose::verifying(name) else {
                continue;
            };
            // VerifiedAttributeType's values are the attribute names.
            if !*pending && !auto.iter().any(|kind| kind.as_str() == name.as_str()) {
                continue;
            }
            if !limited {
                details.push(
                    self.issue_code_unlimited(pool, &update.user, purpose, channel, dest)
                        .await?,
                );
                continue;
            }
            match self
                .issue_code(pool, &update.user, purpose, channel, dest)
                .await
            {
                Ok(d) => details.push(d),
                Err(e) if e.code == ErrorCode::LimitExceededException => {
                    tracing::debug!(attribute = %name, "verification code not sent: over a code limit");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(details)
    }

    pub async fn admin_delete_user_attributes(
        &self,
        ctx: &RequestContext,
        req: AdminDeleteUserAttributesRequest,
    ) -> ServiceResult<AdminDeleteUserAttributesResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let names = req.user_attribute_names.clone().unwrap_or_default();
        let schema = attributes::schema(&pool.record.settings.pool);
        let mut errors = Vec::new();
        for n in &names {
            match schema
                .iter()
                .find(|a| a.name.as_deref() == Some(n.as_str()))
            {
                None => errors.push(format!("{n}: Attribute does not exist in the schema.")),
                Some(_) if n == "sub" => {
                    return Err(CognitoError::invalid_parameter(
                        "Cannot modify the non-mutable attribute sub",
                    ))
                }
                Some(a) if a.required == Some(true) => {
                    errors.push(format!("{n}: The attribute is required"))
                }
                Some(a) if a.mutable == Some(false) => {
                    return Err(CognitoError::invalid_parameter(format!(
                        "Cannot modify the non-mutable attribute {n}"
                    )))
                }
                Some(_) => {}
            }
        }
        if !errors.is_empty() {
            return Err(attributes::update_error(&errors));
        }
        self.modify_user(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            false,
            |_, mut u| {
                u.attributes.retain(|(n, _)| !names.contains(n));
                u.pending_attributes.retain(|(n, _)| !names.contains(n));
                Ok(u)
            },
        )
        .await?;
        Ok(AdminDeleteUserAttributesResponse {})
    }

    async fn set_enabled(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        username: Option<&str>,
        enabled: bool,
    ) -> ServiceResult<()> {
        self.modify_user(ctx, pool_id, username, false, |_, mut u| {
            u.enabled = enabled;
            Ok(u)
        })
        .await
        .map(|_| ())
    }

    pub async fn admin_enable_user(
        &self,
        ctx: &RequestContext,
        req: AdminEnableUserRequest,
    ) -> ServiceResult<AdminEnableUserResponse> {
        self.set_enabled(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            true,
        )
        .await?;
        Ok(AdminEnableUserResponse {})
    }

    pub async fn admin_disable_user(
        &self,
        ctx: &RequestContext,
        req: AdminDisableUserRequest,
    ) -> ServiceResult<AdminDisableUserResponse> {
        self.set_enabled(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            false,
        )
        .await?;
        Ok(AdminDisableUserResponse {})
    }

    pub async fn admin_set_user_password(
        &self,
        ctx: &RequestContext,
        req: AdminSetUserPasswordRequest,
    ) -> ServiceResult<AdminSetUserPasswordResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let p = &pool.record.settings.pool;
        let policy = password_policy(p);
        let pw = req.password.clone().unwrap_or_default();
        password::check_policy(&policy, &pw)?;
        let user = self.find_user(&pool, req.username.as_deref()).await?;
        let history_size = policy.password_history_size.unwrap_or(0).max(0) as usize;
        if history_size > 0 {
            let earlier: Vec<String> = user
                .password
                .iter()
                .flat_map(|s| std::iter::once(s.hash.clone()).chain(s.history.iter().cloned()))
                .take(history_size)
                .collect();
            let candidate = pw.clone();
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
        let (pid, uname) = (pool.record.id.clone(), user.username.clone());
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &pw)).await??;
        let permanent = req.permanent.unwrap_or(false);
        let now = self.clock.now_ms();
        self.modify_user(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            false,
            |_, mut u| {
                let mut history = Vec::new();
                if let Some(old) = u.password.take() {
                    if history_size > 0 {
                        history.push(old.hash);
                        history.extend(old.history);
                        history.truncate(MAX_HISTORY.min(history_size));
                    }
                }
                u.password = Some(PasswordState {
                    hash: hash.clone(),
                    set_ms: now,
                    srp: Some(srp.clone()),
                    history,
                });
                u.status = if permanent {
                    UserStatusType::Confirmed
                } else {
                    UserStatusType::ForceChangePassword
                }
                .as_str()
                .to_string();
                Ok(u)
            },
        )
        .await?;
        Ok(AdminSetUserPasswordResponse {})
    }

    pub async fn admin_reset_user_password(
        &self,
        ctx: &RequestContext,
        req: AdminResetUserPasswordRequest,
    ) -> ServiceResult<AdminResetUserPasswordResponse> {
        self.modify_user(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            false,
            |_, mut u| {
                // A disabled user, and one who never set a password, cannot be reset
                // (corrections.md #9 and #10).
                if !u.enabled {
                    return Err(CognitoError::new(
                        ErrorCode::NotAuthorizedException,
                        "User is disabled.",
                    ));
                }
                if u.status == UserStatusType::ForceChangePassword.as_str() {
                    return Err(reset_refused());
                }
                let verified = |k: &str| get_attr(&u.attributes, k) == Some("true");
                if !verified("email_verified") && !verified("phone_number_verified") {
                    return Err(CognitoError::invalid_parameter(
                        "Cannot reset password for the user as there is no registered/verified email or phone_number",
                    ));
                }
                u.status = UserStatusType::ResetRequired.as_str().to_string();
                Ok(u)
            },
        )
        .await?;
        // The user finishes the reset with ConfirmForgotPassword and this code.
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let user = self.find_user(&pool, req.username.as_deref()).await?;
        if let Ok((channel, dest)) = super::codes::recovery_channel(&pool, &user) {
            self.issue_code_unlimited(
                &pool,
                &user,
                super::codes::CodePurpose::ForgotPassword,
                channel,
                &dest,
            )
            .await?;
        }
        Ok(AdminResetUserPasswordResponse {})
    }

    pub async fn admin_confirm_sign_up(
        &self,
        ctx: &RequestContext,
        req: AdminConfirmSignUpRequest,
    ) -> ServiceResult<AdminConfirmSignUpResponse> {
        self.modify_user(
            ctx,
            req.user_pool_id.as_deref(),
            req.username.as_deref(),
            false,
            |_, mut u| {
                if u.status != UserStatusType::Unconfirmed.as_str() {
                    return Err(CognitoError::new(
                        ErrorCode::NotAuthorizedException,
                        format!("User cannot be confirmed. Current status is {}", u.status),
                    ));
                }
                u.status = UserStatusType::Confirmed.as_str().to_string();
                Ok(u)
            },
        )
        .await?;
        Ok(AdminConfirmSignUpResponse {})
    }

    /// Auth events are recorded only with threat protection, which is not offered: an empty page.
    pub async fn admin_list_user_auth_events(
        &self,
        ctx: &RequestContext,
        req: AdminListUserAuthEventsRequest,
    ) -> ServiceResult<AdminListUserAuthEventsResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        self.find_user(&pool, req.username.as_deref()).await?;
        Ok(AdminListUserAuthEventsResponse {
            auth_events: Some(vec![]),
            next_token: None,
        })
    }

    pub async fn list_users(
        &self,
        ctx: &RequestContext,
        req: ListUsersRequest,
    ) -> ServiceResult<ListUsersResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let filter_text = req.filter.clone().unwrap_or_default();
        let query = filter::parse(Some(&filter_text))?;
        let limit = match req.limit.unwrap_or(60) {
            n if n <= 0 => 60,
            n => n.min(60) as u32,
        };
        let bad_token = || CognitoError::invalid_parameter("Invalid pagination token.");
        let after = match req.pagination_token.as_deref() {
            None => None,
            Some(t) => {
                let raw = pagination::decode(t)?;
                let tok: ListToken = serde_json::from_str(&raw).map_err(|_| bad_token())?;
                if tok.f != filter_text.trim() {
                    return Err(bad_token());
                }
                Some(UserCursor {
                    v: tok.v,
                    id: tok.id,
                })
            }
        };
        let page = self
            .store
            .list_users(&pool.record.id, &query, after.as_ref(), limit)
            .await?;
        let only = req.attributes_to_get.as_deref();
        let users = page.users.iter().map(|u| user_type(u, only)).collect();
        let token = match page.next {
            Some(c) => Some(pagination::encode(
                &serde_json::to_string(&ListToken {
                    f: filter_text.trim().to_string(),
                    v: c.v,
                    id: c.id,
                })
                .map_err(|_| CognitoError::internal())?,
            )),
            None => None,
        };
        Ok(ListUsersResponse {
            users: Some(users),
            pagination_token: token,
        })
    }

    /// The header of a user-import CSV: the pool's attributes except `sub`, then
    /// `cognito:mfa_enabled` and `cognito:username`.
    pub async fn get_csv_header(
        &self,
        ctx: &RequestContext,
        req: GetCSVHeaderRequest,
    ) -> ServiceResult<GetCSVHeaderResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let mut header: Vec<String> = attributes::schema(&pool.record.settings.pool)
            .iter()
            .filter_map(|a| a.name.clone())
            .filter(|n| n != "sub")
            .collect();
        header.push("cognito:mfa_enabled".to_string());
        header.push("cognito:username".to_string());
        Ok(GetCSVHeaderResponse {
            user_pool_id: Some(pool.record.id.clone()),
            csv_header: Some(header),
        })
    }

    pub async fn add_custom_attributes(
        &self,
        ctx: &RequestContext,
        req: AddCustomAttributesRequest,
    ) -> ServiceResult<AddCustomAttributesResponse> {
        self.pools
            .add_custom_attributes(
                ctx,
                req.user_pool_id.as_deref().unwrap_or_default(),
                req.custom_attributes.as_deref().unwrap_or_default(),
            )
            .await?;
        Ok(AddCustomAttributesResponse {})
    }
}

/// Cognito's answer to a password reset of a user still on a temporary password: the
/// administrator resends the invitation instead (AdminCreateUser with RESEND).
pub fn reset_refused() -> CognitoError {
    CognitoError::new(
        ErrorCode::NotAuthorizedException,
        "User password cannot be reset in the current state.",
    )
}
