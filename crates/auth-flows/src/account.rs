//! Self-service accounts: SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword,
//! ConfirmForgotPassword, ChangePassword and DeleteUser. The client (and its SECRET_HASH) or the
//! access token is checked here; the user changes and the codes are the directory's.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    ChangePasswordRequest, ChangePasswordResponse, CodeDeliveryDetailsType,
    ConfirmForgotPasswordRequest, ConfirmForgotPasswordResponse, ConfirmSignUpRequest,
    ConfirmSignUpResponse, DeleteUserRequest, ForgotPasswordRequest, ForgotPasswordResponse,
    RecoveryOptionNameType, ResendConfirmationCodeRequest, ResendConfirmationCodeResponse,
    SignUpRequest, SignUpResponse, UserStatusType, VerifiedAttributeType,
};
use domain::ports::{AppClientView, DeliveryChannel, UserPoolView, UserRecord};
use domain::services::app_clients::prevents_user_existence_errors;
use domain::services::directory::codes::{self, recovery_channel, CodePurpose, CodeSubject};
use domain::services::directory::{password, MigrationCall, SignUpCall};
use domain::services::triggers::{self, Trigger, Triggers};
use domain::services::DirectoryService;
use domain::{CognitoError, RequestContext, ServiceResult};

use crate::client_gate::check_secret_hash;
use crate::{lockout, AuthService};

fn combination_not_found() -> CognitoError {
    CognitoError::new(
        ErrorCode::UserNotFoundException,
        "Username/client id combination not found.",
    )
}

/// Where a sign-up code goes: the first of the pool's AutoVerifiedAttributes the user has.
fn sign_up_channel(pool: &UserPoolView, user: &UserRecord) -> Option<(DeliveryChannel, String)> {
    let auto = pool
        .record
        .settings
        .pool
        .auto_verified_attributes
        .clone()
        .unwrap_or_default();
    let email = DirectoryService::attribute(user, "email");
    let phone = DirectoryService::attribute(user, "phone_number");
    if auto.contains(&VerifiedAttributeType::Email) {
        if let Some(e) = email {
            return Some((DeliveryChannel::Email, e.to_string()));
        }
    }
    if auto.contains(&VerifiedAttributeType::PhoneNumber) {
        if let Some(p) = phone {
            return Some((DeliveryChannel::Sms, p.to_string()));
        }
    }
    None
}

/// Whether users of the pool plausibly have a verified `attribute` (it is auto-verified, or
/// users sign in with it), so a simulated delivery may name it.
fn plausible(pool: &UserPoolView, attribute: &str) -> bool {
    let p = &pool.record.settings.pool;
    let auto = p
        .auto_verified_attributes
        .iter()
        .flatten()
        .map(|a| a.as_str());
    let username = p.username_attributes.iter().flatten().map(|a| a.as_str());
    let alias = p.alias_attributes.iter().flatten().map(|a| a.as_str());
    auto.chain(username).chain(alias).any(|a| a == attribute)
}

/// The channel a recovery code would take for a user of this pool, for answers about users the
/// client hides: the pool's AccountRecoverySetting in priority order (by default a verified
/// phone number, then a verified email), skipping channels users of the pool cannot have.
fn simulated_recovery_channel(pool: &UserPoolView) -> DeliveryChannel {
    for name in codes::recovery_options(pool) {
        match name {
            RecoveryOptionNameType::VerifiedEmail if plausible(pool, "email") => {
                return DeliveryChannel::Email
            }
            RecoveryOptionNameType::VerifiedPhoneNumber if plausible(pool, "phone_number") => {
                return DeliveryChannel::Sms
            }
            _ => {}
        }
    }
    DeliveryChannel::Email
}

/// The channel a sign-up code takes in this pool, as [`sign_up_channel`] picks it for a user
/// who has the attribute; None when the pool verifies nothing.
fn simulated_sign_up_channel(pool: &UserPoolView) -> Option<DeliveryChannel> {
    let auto = pool
        .record
        .settings
        .pool
        .auto_verified_attributes
        .clone()
        .unwrap_or_default();
    if auto.contains(&VerifiedAttributeType::Email) {
        Some(DeliveryChannel::Email)
    } else if auto.contains(&VerifiedAttributeType::PhoneNumber) {
        Some(DeliveryChannel::Sms)
    } else {
        None
    }
}

fn auto_verification_off() -> CognitoError {
    CognitoError::invalid_parameter("Auto verification not turned on.")
}

impl AuthService {
    async fn client_user(
        &self,
        ctx: &RequestContext,
        client_id: Option<&str>,
        username: Option<&str>,
        secret_hash: Option<&str>,
    ) -> ServiceResult<(
        RequestContext,
        UserPoolView,
        AppClientView,
        Option<UserRecord>,
    )> {
        let (ctx, pool, client) = self.client_by_id(ctx, client_id).await?;
        let username = username.unwrap_or_default();
        check_secret_hash(&client, &[username], secret_hash)?;
        let user = self
            .services
            .directory
            .sign_in_user(&pool, username)
            .await?;
        Ok((ctx, pool, client, user))
    }

    pub async fn sign_up(
        &self,
        ctx: &RequestContext,
        req: SignUpRequest,
    ) -> ServiceResult<SignUpResponse> {
        let (_, pool, client) = self.client_by_id(ctx, req.client_id.as_deref()).await?;
        let username = req.username.clone().unwrap_or_default();
        check_secret_hash(&client, &[username.as_str()], req.secret_hash.as_deref())?;
        let admin_only = pool
            .record
            .settings
            .pool
            .admin_create_user_config
            .as_ref()
            .and_then(|c| c.allow_admin_create_user_only)
            .unwrap_or(false);
        if admin_only {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                "SignUp is not permitted for this user pool",
            ));
        }
        let pw = req
            .password
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                CognitoError::invalid_parameter("Missing required parameter Password")
            })?;
        let attrs = req.user_attributes.as_deref().unwrap_or_default();
        // SignUp writes through the client like any user-facing write: WriteAttributes apply and
        // no verified flag can be claimed (an address is verified only by a code sent to it).
        crate::client_gate::check_writable(
            &client,
            attrs.iter().filter_map(|a| a.name.as_deref()),
        )?;
        let call = SignUpCall {
            client_id: Some(&client.record.client_id),
            validation_data: req.validation_data.as_deref(),
            client_metadata: req.client_metadata.as_ref(),
        };
        let user = self
            .services
            .directory
            .sign_up_user(&pool, &username, &pw, attrs, call)
            .await?;
        if user.status == UserStatusType::Confirmed.as_str() {
            // PreSignUp confirmed the user: no code to send, and PostConfirmation follows.
            self.post_confirmation(
                &pool,
                &user,
                "PostConfirmation_ConfirmSignUp",
                &client.record.client_id,
                req.client_metadata.as_ref(),
            )
            .await?;
            return Ok(SignUpResponse {
                user_confirmed: Some(true),
                code_delivery_details: None,
                user_sub: Some(user.id.clone()),
                ..Default::default()
            });
        }
        let details = match sign_up_channel(&pool, &user) {
            Some((channel, dest)) => Some(
                self.services
                    .directory
                    .issue_code(&pool, &user, CodePurpose::SignUp, channel, &dest)
                    .await?,
            ),
            None => None,
        };
        Ok(SignUpResponse {
            user_confirmed: Some(false),
            code_delivery_details: details,
            user_sub: Some(user.id.clone()),
            ..Default::default()
        })
    }

    /// A delivery answered for a user the client hides: shaped like a real one on the channel
    /// the pool would use, with a destination derived from the typed username (so repeats agree).
    fn simulated_delivery(&self, channel: DeliveryChannel, typed: &str) -> CodeDeliveryDetailsType {
        let mut d = codes::delivery_details(channel, "");
        d.destination = Some(
            self.services
                .directory
                .simulated_destination(channel, typed),
        );
        d
    }

    pub async fn confirm_sign_up(
        &self,
        ctx: &RequestContext,
        req: ConfirmSignUpRequest,
    ) -> ServiceResult<ConfirmSignUpResponse> {
        let (ctx, pool, client, user) = self
            .client_user(
                ctx,
                req.client_id.as_deref(),
                req.username.as_deref(),
                req.secret_hash.as_deref(),
            )
            .await?;
        let hide = prevents_user_existence_errors(&client.record.settings);
        let typed = req.username.as_deref().unwrap_or_default();
        let user = match user {
            Some(u) if u.status == UserStatusType::Unconfirmed.as_str() => u,
            // Hidden: an unknown or already confirmed user answers like a wrong code, counted
            // like one (so the attempt limit shows at the same point for every name).
            _ if hide => {
                return self
                    .services
                    .directory
                    .check_hidden_code(&pool, typed, CodePurpose::SignUp)
                    .await
                    .map(|_| ConfirmSignUpResponse::default())
            }
            None => return Err(combination_not_found()),
            Some(u) => {
                return Err(CognitoError::new(
                    ErrorCode::NotAuthorizedException,
                    format!("User cannot be confirmed. Current status is {}", u.status),
                ))
            }
        };
        let code = req.confirmation_code.as_deref().unwrap_or_default();
        // The code went to (and so proves) the first auto-verified attribute the user has; it is
        // bound to that value.
        let sent_to = sign_up_channel(&pool, &user);
        let dest = sent_to
            .as_ref()
            .map(|(_, d)| d.as_str())
            .unwrap_or_default();
        self.services
            .directory
            .check_code(&pool, &user, CodePurpose::SignUp, dest, code)
            .await?;
        let proven = sent_to.as_ref().map(|(c, d)| (c.attribute(), d.as_str()));
        let confirmed = self
            .services
            .directory
            .confirm_with_code(
                &ctx,
                &pool,
                &user,
                proven,
                true,
                req.force_alias_creation.unwrap_or(false),
            )
            .await?;
        // The user stays confirmed when PostConfirmation fails; the caller hears the failure.
        self.post_confirmation(
            &pool,
            &confirmed,
            "PostConfirmation_ConfirmSignUp",
            &client.record.client_id,
            req.client_metadata.as_ref(),
        )
        .await?;
        Ok(ConfirmSignUpResponse::default())
    }

    /// The PostConfirmation trigger, when the pool has one (its answer carries nothing).
    async fn post_confirmation(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        source: &str,
        client_id: &str,
        client_metadata: Option<&std::collections::BTreeMap<String, String>>,
    ) -> ServiceResult<()> {
        let request = serde_json::json!({
            "userAttributes": triggers::user_attributes(user),
            "clientMetadata": client_metadata.map(|m| triggers::string_map(m.iter())),
        });
        self.services
            .triggers
            .notify(
                pool,
                Trigger::PostConfirmation,
                source,
                &user.username,
                client_id,
                request,
            )
            .await
    }

    pub async fn resend_confirmation_code(
        &self,
        ctx: &RequestContext,
        req: ResendConfirmationCodeRequest,
    ) -> ServiceResult<ResendConfirmationCodeResponse> {
        let (_, pool, client, user) = self
            .client_user(
                ctx,
                req.client_id.as_deref(),
                req.username.as_deref(),
                req.secret_hash.as_deref(),
            )
            .await?;
        let hide = prevents_user_existence_errors(&client.record.settings);
        let typed = req.username.as_deref().unwrap_or_default();
        let directory = &self.services.directory;
        let user = match user {
            Some(u) if u.status == UserStatusType::Unconfirmed.as_str() => u,
            // Hidden: unknown and already confirmed users get what an unconfirmed one would,
            // counted against the same limit, and no code. (Cognito answers "User is already
            // confirmed." even then; that names a confirmed user, so it is not given here.)
            Some(u) if hide => {
                let real = sign_up_channel(&pool, &u).map(|(c, d)| codes::delivery_details(c, &d));
                return self
                    .hidden_resend(&pool, CodeSubject::User(&u), real, typed)
                    .await;
            }
            None if hide => {
                return self
                    .hidden_resend(&pool, CodeSubject::Unknown(typed), None, typed)
                    .await
            }
            None => return Err(combination_not_found()),
            Some(_) => {
                return Err(CognitoError::invalid_parameter(
                    "User is already confirmed.",
                ))
            }
        };
        let (channel, dest) = sign_up_channel(&pool, &user).ok_or_else(auto_verification_off)?;
        let details = directory
            .issue_code(&pool, &user, CodePurpose::SignUp, channel, &dest)
            .await?;
        Ok(ResendConfirmationCodeResponse {
            code_delivery_details: Some(details),
        })
    }

    /// ResendConfirmationCode for a user the client hides (unknown, already confirmed): what an
    /// unconfirmed user would get (its real masked address when it has one), no code, counted
    /// against the same limit as a real code.
    async fn hidden_resend(
        &self,
        pool: &UserPoolView,
        subject: CodeSubject<'_>,
        real: Option<CodeDeliveryDetailsType>,
        typed: &str,
    ) -> ServiceResult<ResendConfirmationCodeResponse> {
        let channel = simulated_sign_up_channel(pool).ok_or_else(auto_verification_off)?;
        self.services
            .directory
            .count_unsent_code(pool, subject, CodePurpose::SignUp)
            .await?;
        Ok(ResendConfirmationCodeResponse {
            code_delivery_details: Some(
                real.unwrap_or_else(|| self.simulated_delivery(channel, typed)),
            ),
        })
    }

    /// ForgotPassword for a user the client hides (unknown, disabled, without a recovery
    /// channel): a delivery shaped like a real one and no code, counted against the same limit
    /// as a real code.
    async fn hidden_forgot_password(
        &self,
        pool: &UserPoolView,
        subject: CodeSubject<'_>,
        typed: &str,
    ) -> ServiceResult<ForgotPasswordResponse> {
        self.services
            .directory
            .count_unsent_code(pool, subject, CodePurpose::ForgotPassword)
            .await?;
        Ok(ForgotPasswordResponse {
            code_delivery_details: Some(
                self.simulated_delivery(simulated_recovery_channel(pool), typed),
            ),
        })
    }

    pub async fn forgot_password(
        &self,
        ctx: &RequestContext,
        req: ForgotPasswordRequest,
    ) -> ServiceResult<ForgotPasswordResponse> {
        let (_, pool, client, user) = self
            .client_user(
                ctx,
                req.client_id.as_deref(),
                req.username.as_deref(),
                req.secret_hash.as_deref(),
            )
            .await?;
        let hide = prevents_user_existence_errors(&client.record.settings);
        let typed = req.username.as_deref().unwrap_or_default();
        let directory = &self.services.directory;
        // An unknown name may be moved in from the old system, waiting for a new password.
        let user = match user {
            Some(u) => Some(u),
            None => {
                directory
                    .migrate_user(
                        &pool,
                        typed,
                        MigrationCall::ForgotPassword,
                        &client.record.client_id,
                        req.client_metadata.as_ref(),
                    )
                    .await?
            }
        };
        let user = match user {
            Some(u) if u.enabled => u,
            Some(u) if hide => {
                return self
                    .hidden_forgot_password(&pool, CodeSubject::User(&u), typed)
                    .await
            }
            None if hide => {
                return self
                    .hidden_forgot_password(&pool, CodeSubject::Unknown(typed), typed)
                    .await
            }
            Some(_) => {
                return Err(CognitoError::new(
                    ErrorCode::NotAuthorizedException,
                    "User is disabled.",
                ))
            }
            None => return Err(combination_not_found()),
        };
        if user.status == UserStatusType::ForceChangePassword.as_str() {
            return Err(domain::services::directory::reset_refused());
        }
        let (channel, dest) = match recovery_channel(&pool, &user) {
            Ok(c) => c,
            Err(_) if hide => {
                return self
                    .hidden_forgot_password(&pool, CodeSubject::User(&user), typed)
                    .await
            }
            Err(e) => return Err(e),
        };
        let details = directory
            .issue_code(&pool, &user, CodePurpose::ForgotPassword, channel, &dest)
            .await?;
        Ok(ForgotPasswordResponse {
            code_delivery_details: Some(details),
        })
    }

    pub async fn confirm_forgot_password(
        &self,
        ctx: &RequestContext,
        req: ConfirmForgotPasswordRequest,
    ) -> ServiceResult<ConfirmForgotPasswordResponse> {
        let (ctx, pool, client, user) = self
            .client_user(
                ctx,
                req.client_id.as_deref(),
                req.username.as_deref(),
                req.secret_hash.as_deref(),
            )
            .await?;
        let directory = &self.services.directory;
        let user = match user {
            Some(u) if u.enabled => u,
            // Hidden users answer like a wrong code, counted like one.
            _ if prevents_user_existence_errors(&client.record.settings) => {
                return directory
                    .check_hidden_code(
                        &pool,
                        req.username.as_deref().unwrap_or_default(),
                        CodePurpose::ForgotPassword,
                    )
                    .await
                    .map(|_| ConfirmForgotPasswordResponse {})
            }
            Some(_) => {
                return Err(CognitoError::new(
                    ErrorCode::NotAuthorizedException,
                    "User is disabled.",
                ))
            }
            None => return Err(combination_not_found()),
        };
        // The code first: checking the password policy first would answer
        // InvalidPasswordException for real users only, for free. A right code is used up only
        // once the password is acceptable, so a weak password does not cost the user the code.
        let checked = directory
            .verify_code(
                &pool,
                &user,
                CodePurpose::ForgotPassword,
                "",
                req.confirmation_code.as_deref().unwrap_or_default(),
            )
            .await?;
        let pw = req.password.clone().unwrap_or_default();
        password::check_policy(&crate::account::policy(&pool), &pw)?;
        directory.use_code(checked).await?;
        let confirm = user.status == UserStatusType::ResetRequired.as_str()
            || user.status == UserStatusType::ForceChangePassword.as_str();
        directory
            .set_own_password(&ctx, &pool, &user, &pw, confirm)
            .await?;
        if Triggers::configured(&pool, Trigger::PostConfirmation) {
            let now = directory
                .sign_in_user(&pool, &user.username)
                .await?
                .unwrap_or(user);
            self.post_confirmation(
                &pool,
                &now,
                "PostConfirmation_ConfirmForgotPassword",
                &client.record.client_id,
                req.client_metadata.as_ref(),
            )
            .await?;
        }
        Ok(ConfirmForgotPasswordResponse {})
    }

    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        req: ChangePasswordRequest,
    ) -> ServiceResult<ChangePasswordResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let previous = req.previous_password.clone().unwrap_or_default();
        let proposed = req.proposed_password.clone().unwrap_or_default();
        password::check_policy(&policy(&a.pool), &proposed)?;
        lockout::begin(
            &*self.store,
            &a.pool.record.id,
            &a.user.id,
            self.clock.now_ms(),
        )
        .await?;
        let Some(hash) = a.user.password.as_ref().map(|p| p.hash.clone()) else {
            return Err(crate::flows::incorrect());
        };
        let ok = password::blocking(move || password::verify(&hash, &previous)).await?;
        if !ok {
            return Err(crate::flows::incorrect());
        }
        lockout::succeeded(&*self.store, &a.pool.record.id, &a.user.id).await?;
        self.services
            .directory
            .set_own_password(&a.ctx, &a.pool, &a.user, &proposed, false)
            .await?;
        Ok(ChangePasswordResponse {})
    }

    pub async fn delete_user(
        &self,
        ctx: &RequestContext,
        req: DeleteUserRequest,
    ) -> ServiceResult<()> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        // Its sessions go with it (the rows cascade); every node must stop honouring them now.
        self.store
            .revoke_user_sessions(&a.pool.record.id, &a.user.id, self.clock.now_ms())
            .await?;
        self.services
            .directory
            .delete_own_user(&a.pool, &a.user)
            .await?;
        Ok(())
    }
}

pub(crate) fn policy(pool: &UserPoolView) -> cognito_model::shapes::PasswordPolicyType {
    pool.record
        .settings
        .pool
        .policies
        .as_ref()
        .and_then(|p| p.password_policy.clone())
        .unwrap_or_else(domain::user_pool::default_password_policy)
}
