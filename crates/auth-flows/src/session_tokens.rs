//! Signed-in sessions: issuing tokens, refreshing them (with optional rotation), the calls an
//! access token authorises (GetUser, GlobalSignOut), AdminUserGlobalSignOut and RevokeToken.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminUserGlobalSignOutRequest, AdminUserGlobalSignOutResponse, AuthenticationResultType,
    FeatureType, GetTokensFromRefreshTokenRequest, GetTokensFromRefreshTokenResponse,
    GetUserRequest, GetUserResponse, GlobalSignOutRequest, GlobalSignOutResponse,
    RevokeTokenRequest, RevokeTokenResponse,
};
use domain::ports::{
    AppClientView, ChallengeProof, ChallengeStart, RefreshMatch, TokenSessionRecord, UserPoolView,
    UserRecord,
};
use domain::services::DirectoryService;
use domain::{CognitoError, RequestContext, ServiceResult};

use crate::client_gate::{check_client_secret, check_secret_hash, require_flow};
use crate::flows::user_disabled;
use crate::tokens::{
    self, claimed_pool, invalid_access_token, AccessClaims, Lifetimes, TokenSubject,
};
use crate::AuthService;

fn not_authorized(message: &str) -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, message)
}

fn invalid_refresh_token() -> CognitoError {
    not_authorized("Invalid Refresh Token")
}

/// A code challenge answered rightly: what the write that starts its session checks and claims.
pub(crate) struct AnsweredChallenge {
    /// The challenge's id; its session is stored under it.
    pub challenge_id: String,
    /// The TOTP step the code matched (claimed once per user).
    pub totp_step: Option<i64>,
}

/// A request authorised by an access token: the pool, the user and the token's claims.
pub struct Authorized {
    pub ctx: RequestContext,
    pub pool: UserPoolView,
    pub user: UserRecord,
    pub claims: AccessClaims,
}

impl AuthService {
    /// Signs the ID and access tokens of a session; `source` is the PreTokenGeneration trigger
    /// source the signing fires.
    #[allow(clippy::too_many_arguments)]
    async fn sign_tokens(
        &self,
        pool: &UserPoolView,
        client: &AppClientView,
        user: &UserRecord,
        origin_jti: &str,
        auth_time_s: i64,
        device_key: Option<&str>,
        source: &str,
    ) -> ServiceResult<(String, String, i64)> {
        let keys = self.keys.keys(&pool.record.id).await?;
        let mut groups = self
            .services
            .directory
            .groups_of(&pool.record.id, &user.id)
            .await?;
        tokens::order_groups(&mut groups);
        let overrides = self
            .pre_token_generation(pool, client, user, &groups, source)
            .await?;
        let issuer = self.issuer.issuer(&pool.record.id);
        let life = Lifetimes::of(&client.record.settings);
        let subject = TokenSubject {
            issuer: &issuer,
            client_id: &client.record.client_id,
            client: &client.record.settings,
            user,
            groups: &groups,
            origin_jti,
            auth_time_s,
            now_s: self.now_s(),
            device_key,
            overrides: overrides.as_ref(),
        };
        let access = tokens::access_token(&keys, &subject, life.access_s)?;
        let id = tokens::id_token(&keys, &subject, life.id_s)?;
        Ok((access, id, life.access_s))
    }

    /// The PreTokenGeneration trigger, when the pool has one: what its answer changes.
    async fn pre_token_generation(
        &self,
        pool: &UserPoolView,
        client: &AppClientView,
        user: &UserRecord,
        groups: &[domain::ports::GroupRecord],
        source: &str,
    ) -> ServiceResult<Option<tokens::ClaimOverrides>> {
        use domain::services::triggers::{Caller, Trigger, Triggers};
        if !Triggers::configured(pool, Trigger::PreTokenGeneration) {
            return Ok(None);
        }
        let version = crate::pre_token::version(pool);
        let (request, response) = crate::pre_token::event_parts(version, user, groups);
        let caller = Caller {
            client_id: Some(&client.record.client_id),
        };
        let answered = self
            .services
            .triggers
            .invoke(
                pool,
                Trigger::PreTokenGeneration,
                source,
                &user.username,
                caller,
                request,
                response,
            )
            .await?;
        answered
            .map(|r| crate::pre_token::overrides(version, &r))
            .transpose()
    }

    /// A new signed-in session with its three tokens.
    pub(crate) async fn issue(
        &self,
        pool: &UserPoolView,
        client: &AppClientView,
        user: &UserRecord,
        auth_time_s: i64,
        device_key: Option<String>,
        answered: Option<AnsweredChallenge>,
    ) -> ServiceResult<AuthenticationResultType> {
        // A code challenge's session is stored under the challenge's id: one session per
        // challenge, however often its Session is replayed.
        let origin_jti = match &answered {
            Some(a) => a.challenge_id.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let (refresh, refresh_hash) = tokens::new_refresh_token();
        let now = self.clock.now_ms();
        let life = Lifetimes::of(&client.record.settings);
        let record = TokenSessionRecord {
            origin_jti: origin_jti.clone(),
            pool_id: pool.record.id.clone(),
            client_id: client.record.client_id.clone(),
            user_id: user.id.clone(),
            refresh_hash,
            previous_refresh_hash: None,
            previous_valid_until_ms: None,
            auth_time_s,
            created_ms: now,
            expires_ms: now + life.refresh_s * 1000,
            revoked_ms: None,
            device_key: device_key.clone(),
        };
        // A code answer's checks (lock, spent challenge, TOTP step) run in the same write that
        // starts the session. The tokens are signed while that write commits; they are handed
        // out only once it has.
        let write = async {
            match &answered {
                Some(a) => {
                    let proof = ChallengeProof {
                        totp_step: a.totp_step,
                        max_failures: i64::from(crate::sessions::WRONG_CODES_PER_SESSION),
                    };
                    self.store
                        .start_token_session_after_challenge(&record, &proof, now)
                        .await
                }
                None => self
                    .store
                    .start_token_session(&record)
                    .await
                    .map(|_| ChallengeStart::Started),
            }
        };
        let sign = self.sign_tokens(
            pool,
            client,
            user,
            &origin_jti,
            auth_time_s,
            device_key.as_deref(),
            "TokenGeneration_Authentication",
        );
        let (started, signed) = tokio::join!(write, sign);
        let started = started.map_err(|e| match e {
            // The user was deleted in the meantime.
            domain::ports::StoreError::Conflict(_) => crate::flows::incorrect(),
            other => other.into(),
        })?;
        match started {
            ChallengeStart::Started => {}
            ChallengeStart::Locked => return Err(crate::lockout::attempts_exceeded()),
            ChallengeStart::Spent => return Err(crate::sessions::invalid_session()),
            ChallengeStart::StepUsed => return Err(crate::second_factor::token_used()),
        }
        let (access, id, expires_in) = signed?;
        self.post_authentication(pool, client, user).await?;
        Ok(AuthenticationResultType {
            access_token: Some(access),
            expires_in: Some(expires_in as i32),
            token_type: Some("Bearer".into()),
            refresh_token: Some(refresh),
            id_token: Some(id),
            new_device_metadata: None,
        })
    }

    /// The PostAuthentication trigger of a sign-in, when the pool has one: a failure fails the
    /// sign-in (its tokens are not handed out).
    async fn post_authentication(
        &self,
        pool: &UserPoolView,
        client: &AppClientView,
        user: &UserRecord,
    ) -> ServiceResult<()> {
        use domain::services::triggers::{self, Trigger, Triggers};
        if !Triggers::configured(pool, Trigger::PostAuthentication) {
            return Ok(());
        }
        let request = serde_json::json!({
            "userAttributes": triggers::user_attributes(user),
            "newDeviceUsed": false,
        });
        self.services
            .triggers
            .notify(
                pool,
                Trigger::PostAuthentication,
                "PostAuthentication_Authentication",
                &user.username,
                &client.record.client_id,
                request,
            )
            .await
    }

    /// The session a refresh token continues, checked against the client; `rotating` says the
    /// caller may accept a token a rotation replaced (within its grace period).
    async fn refresh_session(
        &self,
        client: &AppClientView,
        token: &str,
        rotating: bool,
    ) -> ServiceResult<(TokenSessionRecord, bool)> {
        let hash = tokens::token_hash(token);
        let (session, current) = match self.store.token_session_by_refresh(&hash).await? {
            RefreshMatch::Current(s) => (s, true),
            RefreshMatch::Previous(s) => (s, false),
            RefreshMatch::None => return Err(invalid_refresh_token()),
        };
        if session.client_id != client.record.client_id {
            return Err(invalid_refresh_token());
        }
        if session.revoked_ms.is_some() {
            return Err(not_authorized("Refresh Token has been revoked"));
        }
        let now = self.clock.now_ms();
        if session.expires_ms <= now {
            return Err(not_authorized("Refresh Token has expired"));
        }
        if !current {
            let in_grace = session.previous_valid_until_ms.is_some_and(|t| now < t);
            if !rotating || !in_grace {
                return Err(CognitoError::new(
                    ErrorCode::RefreshTokenReuseException,
                    "The refresh token has already been used.",
                ));
            }
        }
        Ok((session, current))
    }

    async fn session_user(
        &self,
        pool: &UserPoolView,
        session: &TokenSessionRecord,
    ) -> ServiceResult<UserRecord> {
        match self
            .services
            .directory
            .user_by_sub(&pool.record.id, &session.user_id)
            .await?
        {
            Some(u) if u.enabled => Ok(u),
            Some(_) => Err(user_disabled()),
            None => Err(not_authorized("Refresh Token has been revoked")),
        }
    }

    /// REFRESH_TOKEN_AUTH: new ID and access tokens; the refresh token stays as it is.
    pub(crate) async fn refresh(
        &self,
        pool: &UserPoolView,
        client: &AppClientView,
        token: &str,
        secret_hash: Option<&str>,
        device_key: Option<&str>,
    ) -> ServiceResult<AuthenticationResultType> {
        let (session, _) = self.refresh_session(client, token, false).await?;
        let user = self.session_user(pool, &session).await?;
        self.check_refresh_device(
            session.device_key.as_deref(),
            &pool.record.id,
            &user.id,
            device_key,
        )
        .await?;
        // Cognito computes this SECRET_HASH over the internal username.
        check_secret_hash(
            client,
            &[user.username.as_str(), user.id.as_str()],
            secret_hash,
        )?;
        let (access, id, expires_in) = self
            .sign_tokens(
                pool,
                client,
                &user,
                &session.origin_jti,
                session.auth_time_s,
                session.device_key.as_deref(),
                "TokenGeneration_RefreshTokens",
            )
            .await?;
        Ok(AuthenticationResultType {
            access_token: Some(access),
            expires_in: Some(expires_in as i32),
            token_type: Some("Bearer".into()),
            refresh_token: None,
            id_token: Some(id),
            new_device_metadata: None,
        })
    }

    /// GetTokensFromRefreshToken: like REFRESH_TOKEN_AUTH, and with RefreshTokenRotation enabled
    /// the refresh token is replaced; the old one keeps working for RetryGracePeriodSeconds.
    pub async fn get_tokens_from_refresh_token(
        &self,
        ctx: &RequestContext,
        req: GetTokensFromRefreshTokenRequest,
    ) -> ServiceResult<GetTokensFromRefreshTokenResponse> {
        let (_, pool, client) = self.client_by_id(ctx, req.client_id.as_deref()).await?;
        require_flow(
            &client,
            cognito_model::shapes::AuthFlowType::RefreshTokenAuth,
        )?;
        check_client_secret(&client, req.client_secret.as_deref())?;
        let token = req.refresh_token.as_deref().unwrap_or_default();
        let rotation = client
            .record
            .settings
            .refresh_token_rotation
            .clone()
            .unwrap_or_default();
        let rotating = rotation.feature == Some(FeatureType::Enabled);
        let (session, _) = self.refresh_session(&client, token, rotating).await?;
        let user = self.session_user(&pool, &session).await?;
        self.check_refresh_device(
            session.device_key.as_deref(),
            &pool.record.id,
            &user.id,
            req.device_key.as_deref(),
        )
        .await?;
        let refresh_token = if rotating {
            let (new, new_hash) = tokens::new_refresh_token();
            let grace_ms = i64::from(rotation.retry_grace_period_seconds.unwrap_or(0)) * 1000;
            let replaced = self
                .store
                .rotate_refresh_token(
                    &session.origin_jti,
                    &session.refresh_hash,
                    &new_hash,
                    self.clock.now_ms() + grace_ms,
                )
                .await?;
            if !replaced {
                // A parallel request rotated this token first.
                return Err(CognitoError::new(
                    ErrorCode::RefreshTokenReuseException,
                    "The refresh token has already been used.",
                ));
            }
            Some(new)
        } else {
            None
        };
        let (access, id, expires_in) = self
            .sign_tokens(
                &pool,
                &client,
                &user,
                &session.origin_jti,
                session.auth_time_s,
                session.device_key.as_deref(),
                "TokenGeneration_RefreshTokens",
            )
            .await?;
        Ok(GetTokensFromRefreshTokenResponse {
            authentication_result: Some(AuthenticationResultType {
                access_token: Some(access),
                expires_in: Some(expires_in as i32),
                token_type: Some("Bearer".into()),
                refresh_token,
                id_token: Some(id),
                new_device_metadata: None,
            }),
        })
    }

    /// Checks an access token for a self-service call: signature (this pool's keys), issuer,
    /// use, scope, expiry, revocation, and that its user still exists and is enabled.
    pub async fn authorize(
        &self,
        ctx: &RequestContext,
        token: Option<&str>,
    ) -> ServiceResult<Authorized> {
        let token = token.unwrap_or_default();
        let (pool_id, kid) = claimed_pool(token).ok_or_else(invalid_access_token)?;
        let Some(pool) = self.store.get_user_pool(&pool_id).await? else {
            return Err(invalid_access_token());
        };
        let digest = tokens::token_digest(token);
        let claims = match self.verified.get(&digest) {
            // Seen and verified before: only what changes with time is checked again.
            Some(c) => tokens::still_valid(&c, self.now_s())?,
            None => {
                // An unknown kid may be another node's rotation: re-read, within limits.
                let keys = self.keys.keys_for_kid(&pool_id, &kid).await?;
                let issuer = self.issuer.issuer(&pool_id);
                let claims =
                    tokens::verify_access_token(&keys, &kid, token, &issuer, self.now_s())?;
                self.verified.insert(digest, claims.clone());
                claims
            }
        };
        if !self.store.token_session_active(&claims.origin_jti).await? {
            return Err(not_authorized("Access Token has been revoked"));
        }
        let user = match self
            .services
            .directory
            .sign_in_user(&pool, &claims.username)
            .await?
        {
            Some(u) if u.id == claims.sub => u,
            _ => return Err(not_authorized("User does not exist.")),
        };
        if !user.enabled {
            return Err(user_disabled());
        }
        Ok(Authorized {
            ctx: ctx.for_pool(&pool_id),
            pool,
            user,
            claims,
        })
    }

    pub async fn get_user(
        &self,
        ctx: &RequestContext,
        req: GetUserRequest,
    ) -> ServiceResult<GetUserResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        // The caller sees what the token's app client may read (its ReadAttributes), the same
        // attributes its ID token carries; a client deleted since no longer vouches for the token.
        let client = match self.store.find_app_client(&a.claims.client_id).await? {
            Some(c) if c.record.pool_id == a.pool.record.id => c,
            _ => return Err(invalid_access_token()),
        };
        let attributes = DirectoryService::wire_attributes_of(&a.user)
            .into_iter()
            .filter(|attr| {
                attr.name
                    .as_deref()
                    .is_some_and(|n| tokens::readable(&client.record.settings, n))
            })
            .collect();
        let mfa = self.store.user_mfa(&a.user.pool_id, &a.user.id).await?;
        let mfa = domain::ports::WireMfaSettings::of(mfa.as_ref());
        Ok(GetUserResponse {
            username: Some(a.user.username.clone()),
            user_attributes: Some(attributes),
            mfa_options: mfa.mfa_options,
            preferred_mfa_setting: mfa.preferred,
            user_mfa_setting_list: mfa.setting_list,
        })
    }

    pub async fn global_sign_out(
        &self,
        ctx: &RequestContext,
        req: GlobalSignOutRequest,
    ) -> ServiceResult<GlobalSignOutResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        self.store
            .revoke_user_sessions(&a.pool.record.id, &a.user.id, self.clock.now_ms())
            .await?;
        Ok(GlobalSignOutResponse {})
    }

    pub async fn admin_user_global_sign_out(
        &self,
        ctx: &RequestContext,
        req: AdminUserGlobalSignOutRequest,
    ) -> ServiceResult<AdminUserGlobalSignOutResponse> {
        let pool = self
            .services
            .user_pools
            .load(ctx, req.user_pool_id.as_deref().unwrap_or_default())
            .await?;
        let user = self
            .services
            .directory
            .find_user(&pool, req.username.as_deref())
            .await?;
        self.store
            .revoke_user_sessions(&pool.record.id, &user.id, self.clock.now_ms())
            .await?;
        Ok(AdminUserGlobalSignOutResponse {})
    }

    /// RevokeToken: revokes a refresh token and every access token issued from it.
    pub async fn revoke_token(
        &self,
        ctx: &RequestContext,
        req: RevokeTokenRequest,
    ) -> ServiceResult<RevokeTokenResponse> {
        let (_, _, client) = self.client_by_id(ctx, req.client_id.as_deref()).await?;
        if client.record.settings.enable_token_revocation == Some(false) {
            return Err(CognitoError::new(
                ErrorCode::UnsupportedOperationException,
                "Token revocation is not enabled for this client.",
            ));
        }
        check_client_secret(&client, req.client_secret.as_deref())?;
        let token = req.token.as_deref().unwrap_or_default();
        if token.split('.').count() == 3 {
            return Err(CognitoError::new(
                ErrorCode::UnsupportedTokenTypeException,
                "Unsupported token type",
            ));
        }
        let hash = tokens::token_hash(token);
        let session = match self.store.token_session_by_refresh(&hash).await? {
            RefreshMatch::Current(s) | RefreshMatch::Previous(s) => s,
            // Unknown or long gone: revoking it is already true.
            RefreshMatch::None => return Ok(RevokeTokenResponse {}),
        };
        if session.client_id != client.record.client_id {
            return Err(CognitoError::new(
                ErrorCode::UnauthorizedException,
                "The token was not issued to this client.",
            ));
        }
        self.store
            .revoke_token_session(&session.origin_jti, self.clock.now_ms())
            .await?;
        Ok(RevokeTokenResponse {})
    }
}
