//! InitiateAuth / AdminInitiateAuth and RespondToAuthChallenge / AdminRespondToAuthChallenge:
//! the password flows, Cognito SRP (USER_SRP_AUTH → PASSWORD_VERIFIER) and NEW_PASSWORD_REQUIRED.
//!
//! The order of checks follows Cognito: client and flow, required parameters, SECRET_HASH, the
//! user (unknown users answer as PreventUserExistenceErrors says), disabled, lockout, the
//! credential, then the user's status (not confirmed, reset required, new password required).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminInitiateAuthRequest, AdminInitiateAuthResponse, AdminRespondToAuthChallengeRequest,
    AdminRespondToAuthChallengeResponse, AttributeType, AuthFlowType, AuthenticationResultType,
    ChallengeNameType, InitiateAuthRequest, InitiateAuthResponse, RespondToAuthChallengeRequest,
    RespondToAuthChallengeResponse, UserStatusType,
};
use domain::ports::{AppClientView, UserPoolView, UserRecord};
use domain::services::app_clients::prevents_user_existence_errors;
use domain::services::directory::{password, MigrationCall};
use domain::services::triggers::{self, Trigger, Triggers};
use domain::services::DirectoryService;
use domain::{CognitoError, RequestContext, ServiceResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::client_gate::{check_secret_hash, missing, require_flow};
use crate::sessions::{ChallengeState, SessionBook, SrpStep};
use crate::{lockout, AuthService};

/// How far a PASSWORD_VERIFIER TIMESTAMP may be from this server's clock.
const TIMESTAMP_SKEW_S: i64 = 300;

pub(crate) type Params = BTreeMap<String, String>;

/// What one sign-in step answers: tokens, or the next challenge.
pub(crate) enum Step {
    Tokens(AuthenticationResultType),
    Challenge {
        name: ChallengeNameType,
        session: String,
        params: Params,
    },
}

impl From<Step> for InitiateAuthResponse {
    fn from(s: Step) -> Self {
        match s {
            Step::Tokens(t) => InitiateAuthResponse {
                authentication_result: Some(t),
                challenge_parameters: Some(Params::new()),
                ..Default::default()
            },
            Step::Challenge {
                name,
                session,
                params,
            } => InitiateAuthResponse {
                challenge_name: Some(name),
                session: Some(session),
                challenge_parameters: Some(params),
                ..Default::default()
            },
        }
    }
}

impl From<Step> for AdminInitiateAuthResponse {
    fn from(s: Step) -> Self {
        let r = InitiateAuthResponse::from(s);
        AdminInitiateAuthResponse {
            challenge_name: r.challenge_name,
            session: r.session,
            challenge_parameters: r.challenge_parameters,
            authentication_result: r.authentication_result,
            ..Default::default()
        }
    }
}

impl From<Step> for RespondToAuthChallengeResponse {
    fn from(s: Step) -> Self {
        let r = InitiateAuthResponse::from(s);
        RespondToAuthChallengeResponse {
            challenge_name: r.challenge_name,
            session: r.session,
            challenge_parameters: r.challenge_parameters,
            authentication_result: r.authentication_result,
            ..Default::default()
        }
    }
}

impl From<Step> for AdminRespondToAuthChallengeResponse {
    fn from(s: Step) -> Self {
        let r = InitiateAuthResponse::from(s);
        AdminRespondToAuthChallengeResponse {
            challenge_name: r.challenge_name,
            session: r.session,
            challenge_parameters: r.challenge_parameters,
            authentication_result: r.authentication_result,
            ..Default::default()
        }
    }
}

pub(crate) fn incorrect() -> CognitoError {
    CognitoError::new(
        ErrorCode::NotAuthorizedException,
        "Incorrect username or password.",
    )
}

fn user_not_found() -> CognitoError {
    CognitoError::new(ErrorCode::UserNotFoundException, "User does not exist.")
}

fn not_confirmed() -> CognitoError {
    CognitoError::new(
        ErrorCode::UserNotConfirmedException,
        "User is not confirmed.",
    )
}

pub(crate) fn user_disabled() -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, "User is disabled.")
}

fn not_supported() -> CognitoError {
    CognitoError::invalid_parameter("Initiate Auth method not supported.")
}

/// An argon2id hash of nothing in particular: unknown users are checked against it so that their
/// answer takes as long as a wrong password's.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password::hash("gatehouse decoy password").unwrap_or_default())
}

pub(crate) fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// Who is signing in, resolved from the USERNAME parameter.
pub(crate) struct Candidate<'a> {
    pub ctx: &'a RequestContext,
    pub pool: &'a UserPoolView,
    pub client: &'a AppClientView,
    pub admin: bool,
    /// The call's ClientMetadata, for the triggers that receive it.
    pub client_metadata: Option<&'a BTreeMap<String, String>>,
}

impl AuthService {
    /// The client an unsigned call names, its pool, and the context of that pool's region.
    pub(crate) async fn client_by_id(
        &self,
        ctx: &RequestContext,
        client_id: Option<&str>,
    ) -> ServiceResult<(RequestContext, UserPoolView, AppClientView)> {
        self.services
            .app_clients
            .load_by_id(ctx, client_id.unwrap_or_default())
            .await
    }

    pub async fn initiate_auth(
        &self,
        ctx: &RequestContext,
        req: InitiateAuthRequest,
    ) -> ServiceResult<InitiateAuthResponse> {
        let flow = req.auth_flow.ok_or_else(|| missing("AuthFlow"))?;
        let (ctx, pool, client) = self.client_by_id(ctx, req.client_id.as_deref()).await?;
        if matches!(
            flow,
            AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth
        ) {
            return Err(not_supported());
        }
        let params = req.auth_parameters.unwrap_or_default();
        let c = Candidate {
            ctx: &ctx,
            pool: &pool,
            client: &client,
            admin: false,
            client_metadata: req.client_metadata.as_ref(),
        };
        Ok(self.start(&c, flow, &params).await?.into())
    }

    pub async fn admin_initiate_auth(
        &self,
        ctx: &RequestContext,
        req: AdminInitiateAuthRequest,
    ) -> ServiceResult<AdminInitiateAuthResponse> {
        let flow = req.auth_flow.ok_or_else(|| missing("AuthFlow"))?;
        let pool_id = req.user_pool_id.as_deref().unwrap_or_default();
        let pool = self.services.user_pools.load(ctx, pool_id).await?;
        let client = self
            .services
            .app_clients
            .load(ctx, pool_id, req.client_id.as_deref().unwrap_or_default())
            .await?;
        if flow == AuthFlowType::UserPasswordAuth {
            return Err(not_supported());
        }
        let params = req.auth_parameters.unwrap_or_default();
        let c = Candidate {
            ctx,
            pool: &pool,
            client: &client,
            admin: true,
            client_metadata: req.client_metadata.as_ref(),
        };
        Ok(self.start(&c, flow, &params).await?.into())
    }

    async fn start(
        &self,
        c: &Candidate<'_>,
        flow: AuthFlowType,
        p: &Params,
    ) -> ServiceResult<Step> {
        require_flow(c.client, flow)?;
        match flow {
            AuthFlowType::UserPasswordAuth
            | AuthFlowType::AdminUserPasswordAuth
            | AuthFlowType::AdminNoSrpAuth => self.password_flow(c, p).await,
            AuthFlowType::UserSrpAuth => self.srp_start(c, p).await,
            AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => {
                let token = param(p, "REFRESH_TOKEN").ok_or_else(|| missing("REFRESH_TOKEN"))?;
                let t = self
                    .refresh(
                        c.pool,
                        c.client,
                        token,
                        p.get("SECRET_HASH").map(String::as_str),
                        param(p, "DEVICE_KEY"),
                    )
                    .await?;
                Ok(Step::Tokens(t))
            }
            AuthFlowType::CustomAuth => self.custom_start(c, p).await,
            AuthFlowType::UserAuth => Err(CognitoError::invalid_parameter(
                "USER_AUTH (choice-based sign-in) is not supported by this server yet.",
            )),
        }
    }

    /// The user a USERNAME names. Unknown users fail here unless the client hides their
    /// existence; then `None` and the caller fails later exactly like a wrong password.
    /// An unconfirmed user is refused here, before any credential is checked, whatever the
    /// password and whatever PreventUserExistenceErrors says: Cognito checks the status first
    /// (corrections.md #8; docs/resources/sign-in-order.md).
    pub(crate) async fn candidate_user(
        &self,
        c: &Candidate<'_>,
        username: &str,
        password: Option<&str>,
    ) -> ServiceResult<Option<UserRecord>> {
        let directory = &self.services.directory;
        let mut user = directory.sign_in_user(c.pool, username).await?;
        if user.is_none() {
            // A password sign-in of an unknown name may move the user in from the old system.
            if let Some(password) = password {
                user = directory
                    .migrate_user(
                        c.pool,
                        username,
                        MigrationCall::SignIn { password },
                        &c.client.record.client_id,
                        c.client_metadata,
                    )
                    .await?;
            }
        }
        match user {
            Some(u) if !u.enabled => Err(user_disabled()),
            Some(u) if u.status == UserStatusType::Unconfirmed.as_str() => Err(not_confirmed()),
            Some(u) => Ok(Some(u)),
            None if prevents_user_existence_errors(&c.client.record.settings) => Ok(None),
            None => Err(user_not_found()),
        }
    }

    /// The PreAuthentication trigger, when the pool has one: it may refuse the sign-in. Fired
    /// before the credential is checked, with the call's ClientMetadata as `validationData`.
    pub(crate) async fn pre_authentication(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
    ) -> ServiceResult<()> {
        if !Triggers::configured(c.pool, Trigger::PreAuthentication) {
            return Ok(());
        }
        let request = serde_json::json!({
            "userAttributes": triggers::user_attributes(user),
            "validationData": c.client_metadata.map(|m| triggers::string_map(m.iter())),
        });
        self.services
            .triggers
            .notify(
                c.pool,
                Trigger::PreAuthentication,
                "PreAuthentication_Authentication",
                &user.username,
                &c.client.record.client_id,
                request,
            )
            .await
    }

    /// USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH: one round trip.
    async fn password_flow(&self, c: &Candidate<'_>, p: &Params) -> ServiceResult<Step> {
        let username = param(p, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
        let pw = param(p, "PASSWORD")
            .ok_or_else(|| missing("PASSWORD"))?
            .to_string();
        check_secret_hash(
            c.client,
            &[username],
            p.get("SECRET_HASH").map(String::as_str),
        )?;
        let Some(user) = self.candidate_user(c, username, Some(&pw)).await? else {
            // Count and lock the name as a real user's, and spend what a real check spends,
            // before answering like a wrong password; a full CPU queue refuses unknown names
            // exactly as it refuses real ones.
            let name = self.decoy_name(c, username).await?;
            let now = self.clock.now_ms();
            lockout::begin_unknown(&*self.store, &c.pool.record.id, &name, now).await?;
            password::blocking(move || password::verify(decoy_hash(), &pw)).await?;
            return Err(incorrect());
        };
        self.pre_authentication(c, &user).await?;
        lockout::begin(&*self.store, &user.pool_id, &user.id, self.clock.now_ms()).await?;
        let Some(hash) = user.password.as_ref().map(|s| s.hash.clone()) else {
            // A user without a password (imported, say) costs what a check costs, too.
            let _ = password::blocking(move || password::verify(decoy_hash(), &pw)).await;
            return Err(incorrect());
        };
        let ok = password::blocking(move || password::verify(&hash, &pw)).await?;
        if !ok {
            return Err(incorrect());
        }
        let device_key = param(p, "DEVICE_KEY").map(str::to_string);
        self.after_password(c, user, device_key).await
    }

    /// The password was proven: the user's status decides what comes next. The failed attempts
    /// are forgotten when the user's status stops the sign-in here; a sign-in that goes on to
    /// its tokens forgets them with its session (one database write). One that goes on to a
    /// second factor keeps them until it ends, so that knowing the password does not buy fresh
    /// guesses at the code.
    async fn after_password(
        &self,
        c: &Candidate<'_>,
        user: UserRecord,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        let status: Option<UserStatusType> = user.status.parse().ok();
        if matches!(
            status,
            Some(
                UserStatusType::Unconfirmed
                    | UserStatusType::ResetRequired
                    | UserStatusType::ForceChangePassword
            )
        ) {
            lockout::succeeded(&*self.store, &user.pool_id, &user.id).await?;
        }
        match status {
            Some(UserStatusType::Unconfirmed) => Err(not_confirmed()),
            Some(UserStatusType::ResetRequired) => Err(CognitoError::new(
                ErrorCode::PasswordResetRequiredException,
                "Password reset required for the user",
            )),
            Some(UserStatusType::ForceChangePassword) => {
                if DirectoryService::temporary_password_expired(c.pool, &user, self.clock.now_ms())
                {
                    return Err(CognitoError::new(
                        ErrorCode::NotAuthorizedException,
                        "Temporary password has expired and must be reset by an administrator.",
                    ));
                }
                self.new_password_challenge(c, &user, device_key).await
            }
            _ => self.second_factor(c, &user, self.now_s(), device_key).await,
        }
    }

    async fn new_password_challenge(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        let required = DirectoryService::missing_required_attributes(c.pool, user);
        let attrs: serde_json::Map<String, serde_json::Value> = user
            .attributes
            .iter()
            .filter(|(n, _)| n != "sub")
            .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let state = ChallengeState {
            pool_id: c.pool.record.id.clone(),
            client_id: c.client.record.client_id.clone(),
            user_id: Some(user.id.clone()),
            username: user.username.clone(),
            challenge: ChallengeNameType::NewPasswordRequired.as_str().to_string(),
            admin: c.admin,
            srp: None,
            auth_time_s: Some(self.now_s()),
            device_key,
            mfa: None,
            tries: 0,
            custom: None,
        };
        let opened = self
            .sessions
            .open(&state, self.session_minutes(c.client))
            .await?;
        let mut params = Params::new();
        params.insert("USER_ID_FOR_SRP".into(), user.username.clone());
        params.insert(
            "requiredAttributes".into(),
            serde_json::to_string(&required).unwrap_or_else(|_| "[]".into()),
        );
        params.insert(
            "userAttributes".into(),
            serde_json::Value::Object(attrs).to_string(),
        );
        Ok(Step::Challenge {
            name: ChallengeNameType::NewPasswordRequired,
            session: opened.session,
            params,
        })
    }

    pub(crate) fn session_minutes(&self, client: &AppClientView) -> i64 {
        client
            .record
            .settings
            .auth_session_validity
            .map_or(3, i64::from)
            .clamp(3, 15)
    }

    /// USER_SRP_AUTH, first half: answer PASSWORD_VERIFIER with the salt, B and a SECRET_BLOCK.
    async fn srp_start(&self, c: &Candidate<'_>, p: &Params) -> ServiceResult<Step> {
        let username = param(p, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
        let srp_a = param(p, "SRP_A").ok_or_else(|| missing("SRP_A"))?;
        check_secret_hash(
            c.client,
            &[username],
            p.get("SECRET_HASH").map(String::as_str),
        )?;
        let user = self.candidate_user(c, username, None).await?;
        if let Some(u) = &user {
            self.pre_authentication(c, u).await?;
        }
        self.srp_challenge(c, p, username, srp_a, user, None).await
    }

    /// The PASSWORD_VERIFIER challenge for `user` (None: an unknown name, answered with a
    /// decoy). `custom`: the custom-auth rounds this SRP step belongs to (SRP_A in CUSTOM_AUTH).
    pub(crate) async fn srp_challenge(
        &self,
        c: &Candidate<'_>,
        p: &Params,
        username: &str,
        srp_a: &str,
        user: Option<UserRecord>,
        custom: Option<crate::sessions::CustomRound>,
    ) -> ServiceResult<Step> {
        let verifier = user
            .as_ref()
            .and_then(|u| u.password.as_ref())
            .and_then(|s| s.srp.as_ref())
            .and_then(|s| {
                Some(cognito_srp::Verifier {
                    salt: hex::decode(&s.salt).ok()?,
                    verifier: hex::decode(&s.verifier).ok()?,
                })
            });
        // Unknown users (and users without an SRP verifier) get a challenge that looks real and
        // is stable per username, and then fail like a wrong password.
        let (verifier, internal) = match (&user, verifier) {
            (Some(u), Some(v)) => (v, u.username.clone()),
            (Some(u), None) => (
                self.decoy_verifier(c, &u.username).await?,
                u.username.clone(),
            ),
            (None, _) => {
                let name = self.decoy_name(c, username).await?;
                (self.decoy_verifier(c, &name).await?, name)
            }
        };
        if !srp_a_valid(srp_a) {
            return Err(CognitoError::invalid_parameter("SRP_A is invalid"));
        }
        let sc = cognito_srp::ServerChallenge::new(&verifier);
        let state = ChallengeState {
            pool_id: c.pool.record.id.clone(),
            client_id: c.client.record.client_id.clone(),
            user_id: user
                .as_ref()
                .filter(|u| u.password.as_ref().is_some_and(|p| p.srp.is_some()))
                .map(|u| u.id.clone()),
            username: internal.clone(),
            challenge: ChallengeNameType::PasswordVerifier.as_str().to_string(),
            admin: c.admin,
            srp: Some(SrpStep {
                b: hex::encode(&sc.b),
                srp_b: sc.srp_b_hex.clone(),
                srp_a: srp_a.to_string(),
            }),
            auth_time_s: None,
            device_key: param(p, "DEVICE_KEY").map(str::to_string),
            mfa: None,
            tries: 0,
            custom,
        };
        let opened = self
            .sessions
            .open(&state, self.session_minutes(c.client))
            .await?;
        let mut params = Params::new();
        params.insert("SALT".into(), verifier.salt_hex());
        params.insert("SRP_B".into(), sc.srp_b_hex);
        params.insert("SECRET_BLOCK".into(), opened.secret_block);
        params.insert("USER_ID_FOR_SRP".into(), internal.clone());
        params.insert("USERNAME".into(), internal);
        Ok(Step::Challenge {
            name: ChallengeNameType::PasswordVerifier,
            session: opened.session,
            params,
        })
    }

    pub async fn respond_to_auth_challenge(
        &self,
        ctx: &RequestContext,
        req: RespondToAuthChallengeRequest,
    ) -> ServiceResult<RespondToAuthChallengeResponse> {
        let name = req.challenge_name.ok_or_else(|| missing("ChallengeName"))?;
        let (ctx, pool, client) = self.client_by_id(ctx, req.client_id.as_deref()).await?;
        let c = Candidate {
            ctx: &ctx,
            pool: &pool,
            client: &client,
            admin: false,
            client_metadata: req.client_metadata.as_ref(),
        };
        let responses = req.challenge_responses.unwrap_or_default();
        Ok(self
            .respond(&c, name, req.session.as_deref(), &responses)
            .await?
            .into())
    }

    pub async fn admin_respond_to_auth_challenge(
        &self,
        ctx: &RequestContext,
        req: AdminRespondToAuthChallengeRequest,
    ) -> ServiceResult<AdminRespondToAuthChallengeResponse> {
        let name = req.challenge_name.ok_or_else(|| missing("ChallengeName"))?;
        let pool_id = req.user_pool_id.as_deref().unwrap_or_default();
        let pool = self.services.user_pools.load(ctx, pool_id).await?;
        let client = self
            .services
            .app_clients
            .load(ctx, pool_id, req.client_id.as_deref().unwrap_or_default())
            .await?;
        let c = Candidate {
            ctx,
            pool: &pool,
            client: &client,
            admin: true,
            client_metadata: req.client_metadata.as_ref(),
        };
        let responses = req.challenge_responses.unwrap_or_default();
        Ok(self
            .respond(&c, name, req.session.as_deref(), &responses)
            .await?
            .into())
    }

    async fn respond(
        &self,
        c: &Candidate<'_>,
        name: ChallengeNameType,
        session: Option<&str>,
        r: &Params,
    ) -> ServiceResult<Step> {
        let client_id = c.client.record.client_id.as_str();
        let block = param(r, "PASSWORD_CLAIM_SECRET_BLOCK");
        let verifier_step = matches!(
            name,
            ChallengeNameType::PasswordVerifier | ChallengeNameType::DevicePasswordVerifier
        );
        let taken = match (session.filter(|s| !s.is_empty()), block) {
            (Some(s), b) => {
                // Only a verifier step's block names the session; other answers may carry
                // leftovers from an earlier step (pycognito sends them) and are ignored.
                if let (true, Some(b)) = (verifier_step, b) {
                    if !SessionBook::same_handle(s, b) {
                        return Err(crate::sessions::invalid_session());
                    }
                }
                self.sessions.take_session_restorable(s, client_id).await?
            }
            // SRP clients may answer with the SECRET_BLOCK alone.
            (None, Some(b)) if name == ChallengeNameType::PasswordVerifier => {
                let state = self.sessions.take_secret_block(b, client_id).await?;
                return self.answer(c, name, state, None, r).await;
            }
            (None, _) => return Err(missing("Session")),
        };
        let state = taken.state.clone();
        self.answer(c, name, state, Some(taken), r).await
    }

    /// Checks a taken challenge state against the answer and dispatches it. `taken` lets a code
    /// challenge put its Session back after a wrong code.
    async fn answer(
        &self,
        c: &Candidate<'_>,
        name: ChallengeNameType,
        state: ChallengeState,
        taken: Option<crate::sessions::Taken>,
        r: &Params,
    ) -> ServiceResult<Step> {
        if state.challenge != name.as_str()
            || state.admin != c.admin
            || state.pool_id != c.pool.record.id
        {
            return Err(crate::sessions::invalid_session());
        }
        // USERNAME may be the alias the user typed or the internal name; SECRET_HASH may use either.
        let given = param(r, "USERNAME").unwrap_or(&state.username);
        check_secret_hash(
            c.client,
            &[given, state.username.as_str()],
            r.get("SECRET_HASH").map(String::as_str),
        )?;
        match name {
            ChallengeNameType::PasswordVerifier => self.srp_verify(c, state, r).await,
            ChallengeNameType::NewPasswordRequired => self.new_password(c, state, r).await,
            ChallengeNameType::SmsMfa
            | ChallengeNameType::EmailOtp
            | ChallengeNameType::SoftwareTokenMfa => self.answer_mfa_code(c, taken, r).await,
            ChallengeNameType::SelectMfaType => self.answer_mfa_choice(c, state, r).await,
            ChallengeNameType::MfaSetup => self.answer_mfa_setup(c, state, r).await,
            ChallengeNameType::DeviceSrpAuth => self.device_srp_start(c, state, r).await,
            ChallengeNameType::DevicePasswordVerifier => self.device_srp_verify(c, state, r).await,
            ChallengeNameType::CustomChallenge => self.custom_answer(c, state, r).await,
            _ => Err(crate::sessions::invalid_session()),
        }
    }

    /// The user a challenge state belongs to, if it still exists and is enabled.
    pub(crate) async fn state_user(
        &self,
        c: &Candidate<'_>,
        state: &ChallengeState,
    ) -> ServiceResult<Option<UserRecord>> {
        let Some(id) = &state.user_id else {
            return Ok(None);
        };
        match self
            .services
            .directory
            .sign_in_user(c.pool, &state.username)
            .await?
        {
            Some(u) if &u.id == id => {
                if u.enabled {
                    Ok(Some(u))
                } else {
                    Err(user_disabled())
                }
            }
            _ => Ok(None),
        }
    }

    /// USER_SRP_AUTH, second half: check PASSWORD_CLAIM_SIGNATURE.
    async fn srp_verify(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let claim = Claim::of(r)?;
        let Some(srp) = state.srp.clone() else {
            return Err(crate::sessions::invalid_session());
        };
        if state.user_id.is_none() {
            // The challenge went to a name that matches no user (or one without a verifier):
            // answer as a wrong password would, after the same lockout count and the same work.
            return self.srp_verify_decoy(c, &state, srp, &claim).await;
        }
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(incorrect());
        };
        let Some(v) = user.password.as_ref().and_then(|p| p.srp.clone()) else {
            return Err(incorrect());
        };
        if !claim.timely(self.now_s()) {
            return Err(incorrect());
        }
        lockout::begin(&*self.store, &user.pool_id, &user.id, self.clock.now_ms()).await?;
        let pool_name = cognito_srp::pool_name(&c.pool.record.id).to_string();
        if !claim
            .holds(&v, srp, pool_name, state.username.clone())
            .await?
        {
            return Err(incorrect());
        }
        let device_key = state
            .device_key
            .clone()
            .or_else(|| param(r, "DEVICE_KEY").map(str::to_string));
        if let Some(round) = state.custom {
            // SRP inside CUSTOM_AUTH: the password is proven; DefineAuthChallenge goes on.
            let mut history = round.history;
            history.push(serde_json::json!({
                "challengeName": "PASSWORD_VERIFIER",
                "challengeResult": true,
                "challengeMetadata": null,
            }));
            lockout::succeeded(&*self.store, &user.pool_id, &user.id).await?;
            return self.custom_next(c, &user, history, device_key).await;
        }
        self.after_password(c, user, device_key).await
    }

    /// The name a challenge answers with for a USERNAME that matches no user, when the client
    /// hides user existence: what a real user of this pool would be called. A pool whose users
    /// sign in with email or phone number names them by a UUID, so the decoy is a UUID derived
    /// from the typed name; elsewhere it is the typed name in the pool's matching form (a real
    /// user answers with its stored name). The same name keys the decoy's lockout count.
    async fn decoy_name(&self, c: &Candidate<'_>, typed: &str) -> ServiceResult<String> {
        let p = &c.pool.record.settings.pool;
        if p.username_attributes
            .as_ref()
            .is_some_and(|a| !a.is_empty())
        {
            Ok(decoy_identity(&self.pool_decoy_key(c), typed).1)
        } else {
            Ok(domain::services::directory::username_key(p, typed))
        }
    }

    /// The pool's decoy secret: the server's, keyed by the pool, so pools' decoys differ.
    fn pool_decoy_key(&self, c: &Candidate<'_>) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.decoy_secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(c.pool.record.id.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// A salt and verifier that look real for `name` and stay the same every time it is asked
    /// for, so probing cannot tell them from a stored one.
    async fn decoy_verifier(
        &self,
        c: &Candidate<'_>,
        name: &str,
    ) -> ServiceResult<cognito_srp::Verifier> {
        Ok(decoy_identity(&self.pool_decoy_key(c), name).0)
    }

    /// PASSWORD_VERIFIER for a decoy challenge: the TIMESTAMP check, the lockout count and the
    /// two exponentiations a real answer costs, then a wrong-password answer.
    async fn srp_verify_decoy(
        &self,
        c: &Candidate<'_>,
        state: &ChallengeState,
        srp: SrpStep,
        claim: &Claim<'_>,
    ) -> ServiceResult<Step> {
        if !claim.timely(self.now_s()) {
            return Err(incorrect());
        }
        let now = self.clock.now_ms();
        lockout::begin_unknown(&*self.store, &c.pool.record.id, &state.username, now).await?;
        let verifier = self.decoy_verifier(c, &state.username).await?;
        let b = hex::decode(&srp.b).map_err(|_| CognitoError::internal())?;
        let _ = password::blocking(move || {
            cognito_srp::password_authentication_key(&verifier, &srp.srp_a, &b, &srp.srp_b).is_ok()
        })
        .await;
        Err(incorrect())
    }

    /// NEW_PASSWORD_REQUIRED: set the new password and the required attributes, then sign in.
    async fn new_password(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let new_pw = param(r, "NEW_PASSWORD").ok_or_else(|| missing("NEW_PASSWORD"))?;
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(crate::sessions::invalid_session());
        };
        let attrs: Vec<AttributeType> = r
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.").map(|n| AttributeType {
                    name: Some(n.to_string()),
                    value: Some(v.clone()),
                })
            })
            .collect();
        // The challenge's attributes are the user's own writes: the client's WriteAttributes
        // apply and the verified flags are refused, exactly as in UpdateUserAttributes.
        crate::client_gate::check_writable(
            c.client,
            attrs.iter().filter_map(|a| a.name.as_deref()),
        )?;
        let user = self
            .services
            .directory
            .complete_new_password(c.ctx, c.pool, &user, new_pw.to_string(), attrs)
            .await?;
        let auth_time = state.auth_time_s.unwrap_or_else(|| self.now_s());
        self.second_factor(c, &user, auth_time, state.device_key.clone())
            .await
    }
}

/// A stored verifier (hex) in the SRP crate's form.
pub(crate) fn srp_verifier(v: &domain::ports::SrpVerifier) -> ServiceResult<cognito_srp::Verifier> {
    Ok(cognito_srp::Verifier {
        salt: hex::decode(&v.salt).map_err(|_| CognitoError::internal())?,
        verifier: hex::decode(&v.verifier).map_err(|_| CognitoError::internal())?,
    })
}

/// The proof of a PASSWORD_VERIFIER or DEVICE_PASSWORD_VERIFIER answer.
pub(crate) struct Claim<'a> {
    signature: &'a str,
    block_b64: &'a str,
    timestamp: &'a str,
}

impl<'a> Claim<'a> {
    pub(crate) fn of(r: &'a Params) -> ServiceResult<Self> {
        Ok(Claim {
            signature: param(r, "PASSWORD_CLAIM_SIGNATURE")
                .ok_or_else(|| missing("PASSWORD_CLAIM_SIGNATURE"))?,
            block_b64: param(r, "PASSWORD_CLAIM_SECRET_BLOCK")
                .ok_or_else(|| missing("PASSWORD_CLAIM_SECRET_BLOCK"))?,
            timestamp: param(r, "TIMESTAMP").ok_or_else(|| missing("TIMESTAMP"))?,
        })
    }

    /// Whether the TIMESTAMP is within the skew this server allows.
    pub(crate) fn timely(&self, now_s: i64) -> bool {
        cognito_srp::parse_timestamp(self.timestamp)
            .is_some_and(|t| (t - now_s).abs() <= TIMESTAMP_SKEW_S)
    }

    /// Whether the signature proves the secret behind `stored`: the key from A, b and the
    /// verifier, then the HMAC over (`pool_name`, `user_id`, block, timestamp). Two 3072-bit
    /// exponentiations, so off the async workers. Device SRP passes the device group key and
    /// device key as pool name and user.
    pub(crate) async fn holds(
        &self,
        stored: &domain::ports::SrpVerifier,
        srp: SrpStep,
        pool_name: String,
        user_id: String,
    ) -> ServiceResult<bool> {
        use base64::Engine;
        let Ok(block) = base64::engine::general_purpose::STANDARD.decode(self.block_b64) else {
            return Ok(false);
        };
        let verifier = srp_verifier(stored)?;
        let b = hex::decode(&srp.b).map_err(|_| CognitoError::internal())?;
        let (ts, sig) = (self.timestamp.to_string(), self.signature.to_string());
        password::blocking(move || {
            match cognito_srp::password_authentication_key(&verifier, &srp.srp_a, &b, &srp.srp_b) {
                Ok(key) => cognito_srp::verify_claim_signature(
                    &key, &pool_name, &user_id, &block, &ts, &sig,
                ),
                Err(_) => false,
            }
        })
        .await
    }
}

/// The longest honest SRP_A: A is reduced mod the 3072-bit N (768 hex digits), and clients that
/// padHex it add one "00". Longer ones only cost storage (the challenge session keeps A).
const MAX_SRP_A_HEX: usize = 768 + 2;

/// SRP_A must be hex of a number that is not 0 mod N; the exact check happens in the SRP step.
pub(crate) fn srp_a_valid(a: &str) -> bool {
    !a.is_empty() && a.len() <= MAX_SRP_A_HEX && a.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A salt and verifier that look real for an unknown username, the same every time it is asked
/// for (so probing cannot tell), derived from a secret only this pool's keys hold.
fn decoy_identity(key: &[u8; 32], username: &str) -> (cognito_srp::Verifier, String) {
    let mac = |label: &str| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(label.as_bytes());
        m.update(username.as_bytes());
        m.finalize().into_bytes()
    };
    let mut salt = mac("salt:");
    // Shaped as a generated salt is (first byte in 0x40..=0x7f: 32 hex digits, no leading zero),
    // or its form alone would tell a decoy from a real user.
    salt[0] = (salt[0] & 0x3f) | 0x40;
    let id = mac("id:");
    let mut verifier = Vec::with_capacity(384);
    for i in 0..12u8 {
        verifier.extend_from_slice(&mac(&format!("v{i}:")));
    }
    let uuid = uuid::Builder::from_random_bytes(id[..16].try_into().unwrap_or([0; 16])).into_uuid();
    (
        cognito_srp::Verifier {
            salt: salt[..16].to_vec(),
            verifier,
        },
        uuid.to_string(),
    )
}
