//! A user's MFA settings: the TOTP authenticator (AssociateSoftwareToken, VerifySoftwareToken, by
//! access token or, during sign-in, by the MFA_SETUP Session), the factors enabled and preferred
//! (SetUserMFAPreference, the legacy SetUserSettings, their Admin forms) and
//! AdminDeleteSoftwareToken.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminDeleteSoftwareTokenRequest, AdminDeleteSoftwareTokenResponse,
    AdminSetUserMFAPreferenceRequest, AdminSetUserMFAPreferenceResponse,
    AdminSetUserSettingsRequest, AdminSetUserSettingsResponse, AssociateSoftwareTokenRequest,
    AssociateSoftwareTokenResponse, DeliveryMediumType, MFAOptionType, SetUserMFAPreferenceRequest,
    SetUserMFAPreferenceResponse, SetUserSettingsRequest, SetUserSettingsResponse,
    VerifySoftwareTokenRequest, VerifySoftwareTokenResponse, VerifySoftwareTokenResponseType,
};
use domain::ports::{MfaFactor, UserMfaRecord, UserPoolView, UserRecord};
use domain::{CognitoError, RequestContext, ServiceResult};
use mfa::preferences::{self, FactorPreference};

use crate::second_factor::means;
use crate::sessions::{invalid_session, MfaState};
use crate::AuthService;

fn totp_not_enabled() -> CognitoError {
    CognitoError::new(
        ErrorCode::SoftwareTokenMFANotFoundException,
        "Software Token MFA has not been enabled by the userPool",
    )
}

fn no_token() -> CognitoError {
    CognitoError::new(
        ErrorCode::SoftwareTokenMFANotFoundException,
        "Software Token MFA does not exist for the user.",
    )
}

fn code_mismatch() -> CognitoError {
    CognitoError::new(
        ErrorCode::EnableSoftwareTokenMFAException,
        "Code mismatch and fail enable Software Token MFA",
    )
}

fn one_of_token_or_session() -> CognitoError {
    CognitoError::invalid_parameter("Provide either an AccessToken or a Session, but not both.")
}

/// The Session or the access token, exactly one.
fn token_or_session<'a>(
    token: Option<&'a str>,
    session: Option<&'a str>,
) -> ServiceResult<Result<&'a str, &'a str>> {
    match (
        token.filter(|t| !t.is_empty()),
        session.filter(|s| !s.is_empty()),
    ) {
        (Some(t), None) => Ok(Ok(t)),
        (None, Some(s)) => Ok(Err(s)),
        _ => Err(one_of_token_or_session()),
    }
}

impl AuthService {
    /// The user an access token names and their MFA settings, in a pool that offers TOTP.
    async fn token_holder_totp(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> ServiceResult<(crate::session_tokens::Authorized, UserMfaRecord)> {
        let a = self.authorize(ctx, Some(token)).await?;
        if !a.pool.record.settings.mfa_factors().software_token {
            return Err(totp_not_enabled());
        }
        let record = self.mfa_record(&a.user).await?;
        Ok((a, record))
    }

    async fn mfa_record(&self, user: &UserRecord) -> ServiceResult<UserMfaRecord> {
        Ok(self
            .store
            .user_mfa(&user.pool_id, &user.id)
            .await?
            .unwrap_or_else(|| UserMfaRecord::new(&user.pool_id, &user.id)))
    }

    async fn save_mfa(&self, mut record: UserMfaRecord) -> ServiceResult<()> {
        record.modified_ms = self.clock.now_ms();
        if !self.store.put_user_mfa(&record).await? {
            return Err(CognitoError::new(
                ErrorCode::UserNotFoundException,
                "User does not exist.",
            ));
        }
        Ok(())
    }

    pub async fn associate_software_token(
        &self,
        ctx: &RequestContext,
        req: AssociateSoftwareTokenRequest,
    ) -> ServiceResult<AssociateSoftwareTokenResponse> {
        let secret = mfa::totp::new_secret();
        let code = mfa::totp::secret_code(&secret);
        match token_or_session(req.access_token.as_deref(), req.session.as_deref())? {
            Ok(token) => {
                let (_, mut record) = self.token_holder_totp(ctx, token).await?;
                // The new secret waits for VerifySoftwareToken; a verified one stays in use
                // until then.
                record.pending_totp_secret = Some(secret);
                self.save_mfa(record).await?;
                Ok(AssociateSoftwareTokenResponse {
                    secret_code: Some(code),
                    session: None,
                })
            }
            Err(session) => {
                let mut state = self.sessions.take_session(session, "").await?;
                let pool = self.store.get_user_pool(&state.pool_id).await?;
                let Some(pool) = pool else {
                    return Err(invalid_session());
                };
                if !pool.record.settings.mfa_factors().software_token {
                    return Err(totp_not_enabled());
                }
                match &mut state.mfa {
                    Some(MfaState::Setup {
                        factors,
                        totp_secret,
                        verified: false,
                    }) if factors
                        .iter()
                        .any(|f| f == MfaFactor::SoftwareToken.as_str()) =>
                    {
                        *totp_secret = Some(hex::encode(&secret));
                    }
                    _ => return Err(invalid_session()),
                }
                state.tries = 0;
                let minutes = self.client_session_minutes(&state.client_id).await?;
                let opened = self.sessions.open(&state, minutes).await?;
                Ok(AssociateSoftwareTokenResponse {
                    secret_code: Some(code),
                    session: Some(opened.session),
                })
            }
        }
    }

    async fn client_session_minutes(&self, client_id: &str) -> ServiceResult<i64> {
        match self.store.find_app_client(client_id).await? {
            Some(c) => Ok(self.session_minutes(&c)),
            None => Err(invalid_session()),
        }
    }

    pub async fn verify_software_token(
        &self,
        ctx: &RequestContext,
        req: VerifySoftwareTokenRequest,
    ) -> ServiceResult<VerifySoftwareTokenResponse> {
        let code = req.user_code.clone().unwrap_or_default();
        let now = self.now_s();
        match token_or_session(req.access_token.as_deref(), req.session.as_deref())? {
            Ok(token) => {
                let (a, mut record) = self.token_holder_totp(ctx, token).await?;
                let secret = record.pending_totp_secret.clone().ok_or_else(no_token)?;
                let step =
                    mfa::totp::matching_step(&secret, &code, now).ok_or_else(code_mismatch)?;
                record.totp_secret = Some(secret);
                record.pending_totp_secret = None;
                record.totp_name = req.friendly_device_name.clone();
                // A newly verified authenticator is in use (Cognito challenges it) unless the
                // user turns it off again; verifying does not add it to UserMFASettingList.
                record.forget_disabled(MfaFactor::SoftwareToken);
                self.save_mfa(record).await?;
                // The code that verified the secret is used: it does not also sign in.
                self.store
                    .use_totp_step(&a.user.pool_id, &a.user.id, step)
                    .await?;
                Ok(VerifySoftwareTokenResponse {
                    status: Some(VerifySoftwareTokenResponseType::Success),
                    session: None,
                })
            }
            Err(session) => {
                let taken = self.sessions.take_session_restorable(session, "").await?;
                let state = taken.state.clone();
                let Some(MfaState::Setup {
                    factors,
                    totp_secret: Some(secret_hex),
                    verified: false,
                }) = &state.mfa
                else {
                    return Err(invalid_session());
                };
                let secret = hex::decode(secret_hex).map_err(|_| invalid_session())?;
                let Some(step) = mfa::totp::matching_step(&secret, &code, now) else {
                    self.sessions.retry_after_wrong_code(taken).await?;
                    return Err(code_mismatch());
                };
                let pool = self
                    .store
                    .get_user_pool(&state.pool_id)
                    .await?
                    .ok_or_else(invalid_session)?;
                let user = self
                    .services
                    .directory
                    .sign_in_user(&pool, &state.username)
                    .await?
                    .filter(|u| Some(&u.id) == state.user_id.as_ref() && u.enabled)
                    .ok_or_else(invalid_session)?;
                // Set up during sign-in: the authenticator is the user's MFA from now on.
                let mut record = self.mfa_record(&user).await?;
                record.totp_secret = Some(secret);
                record.pending_totp_secret = None;
                record.totp_name = req.friendly_device_name.clone();
                record.set_enabled(MfaFactor::SoftwareToken, true);
                record.preferred = Some(MfaFactor::SoftwareToken);
                self.save_mfa(record).await?;
                self.store
                    .use_totp_step(&user.pool_id, &user.id, step)
                    .await?;
                let mut next = state.clone();
                next.mfa = Some(MfaState::Setup {
                    factors: factors.clone(),
                    totp_secret: None,
                    verified: true,
                });
                next.tries = 0;
                let minutes = self.client_session_minutes(&state.client_id).await?;
                let opened = self.sessions.open(&next, minutes).await?;
                Ok(VerifySoftwareTokenResponse {
                    status: Some(VerifySoftwareTokenResponseType::Success),
                    session: Some(opened.session),
                })
            }
        }
    }

    async fn apply_preferences(
        &self,
        user: &UserRecord,
        request: &[(MfaFactor, FactorPreference)],
    ) -> ServiceResult<()> {
        let mut record = self.mfa_record(user).await?;
        preferences::apply(&mut record, means(user), request)?;
        self.save_mfa(record).await
    }

    pub async fn set_user_mfa_preference(
        &self,
        ctx: &RequestContext,
        req: SetUserMFAPreferenceRequest,
    ) -> ServiceResult<SetUserMFAPreferenceResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let request = preference_request(
            req.sms_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.software_token_mfa_settings
                .map(|s| (s.enabled, s.preferred_mfa)),
            req.email_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
        );
        self.apply_preferences(&a.user, &request).await?;
        Ok(SetUserMFAPreferenceResponse {})
    }

    pub async fn admin_set_user_mfa_preference(
        &self,
        ctx: &RequestContext,
        req: AdminSetUserMFAPreferenceRequest,
    ) -> ServiceResult<AdminSetUserMFAPreferenceResponse> {
        let (_, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        let request = preference_request(
            req.sms_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.software_token_mfa_settings
                .map(|s| (s.enabled, s.preferred_mfa)),
            req.email_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
        );
        self.apply_preferences(&user, &request).await?;
        Ok(AdminSetUserMFAPreferenceResponse {})
    }

    pub async fn set_user_settings(
        &self,
        ctx: &RequestContext,
        req: SetUserSettingsRequest,
    ) -> ServiceResult<SetUserSettingsResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        self.apply_preferences(&a.user, &legacy_sms(&req.mfa_options.unwrap_or_default()))
            .await?;
        Ok(SetUserSettingsResponse {})
    }

    pub async fn admin_set_user_settings(
        &self,
        ctx: &RequestContext,
        req: AdminSetUserSettingsRequest,
    ) -> ServiceResult<AdminSetUserSettingsResponse> {
        let (_, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        self.apply_preferences(&user, &legacy_sms(&req.mfa_options.unwrap_or_default()))
            .await?;
        Ok(AdminSetUserSettingsResponse {})
    }

    pub async fn admin_delete_software_token(
        &self,
        ctx: &RequestContext,
        req: AdminDeleteSoftwareTokenRequest,
    ) -> ServiceResult<AdminDeleteSoftwareTokenResponse> {
        let (_, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        let mut record = self.mfa_record(&user).await?;
        record.totp_secret = None;
        record.pending_totp_secret = None;
        record.totp_name = None;
        record.set_enabled(MfaFactor::SoftwareToken, false);
        self.save_mfa(record).await?;
        Ok(AdminDeleteSoftwareTokenResponse {})
    }

    /// The pool and user an admin call names.
    pub(crate) async fn pool_user(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        username: Option<&str>,
    ) -> ServiceResult<(UserPoolView, UserRecord)> {
        let pool = self
            .services
            .user_pools
            .load(ctx, pool_id.unwrap_or_default())
            .await?;
        let user = self.services.directory.find_user(&pool, username).await?;
        Ok((pool, user))
    }
}

type Pair = (Option<bool>, Option<bool>);

fn preference_request(
    sms: Option<Pair>,
    totp: Option<Pair>,
    email: Option<Pair>,
) -> Vec<(MfaFactor, FactorPreference)> {
    [
        (MfaFactor::Sms, sms),
        (MfaFactor::SoftwareToken, totp),
        (MfaFactor::Email, email),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.map(|(enabled, preferred)| (f, FactorPreference { enabled, preferred })))
    .collect()
}

/// SetUserSettings' MFAOptions: an SMS option turns SMS MFA on, none turns it off.
fn legacy_sms(options: &[MFAOptionType]) -> Vec<(MfaFactor, FactorPreference)> {
    let sms = options
        .iter()
        .any(|o| o.delivery_medium == Some(DeliveryMediumType::Sms));
    vec![(
        MfaFactor::Sms,
        FactorPreference {
            enabled: Some(sms),
            preferred: None,
        },
    )]
}
