//! Remembered devices: NewDeviceMetadata at the end of a sign-in, ConfirmDevice with the device's
//! own SRP verifier, device SRP (DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER) in place of MFA,
//! and the device operations (Get, List, UpdateStatus, Forget and their Admin forms).
//!
//! Device SRP is Cognito SRP with the device key as the username, the device group key as the
//! "pool name" and a secret only the client holds; the server keeps the verifier, sealed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_model::shapes::{
    AdminForgetDeviceRequest, AdminGetDeviceRequest, AdminGetDeviceResponse,
    AdminListDevicesRequest, AdminListDevicesResponse, AdminUpdateDeviceStatusRequest,
    AdminUpdateDeviceStatusResponse, AttributeType, AuthenticationResultType, ChallengeNameType,
    ConfirmDeviceRequest, ConfirmDeviceResponse, DeviceRememberedStatusType, DeviceType,
    ForgetDeviceRequest, GetDeviceRequest, GetDeviceResponse, ListDevicesRequest,
    ListDevicesResponse, NewDeviceMetadataType, UpdateDeviceStatusRequest,
    UpdateDeviceStatusResponse,
};
use domain::ports::{DeviceRecord, SrpVerifier, UserPoolView, UserRecord};
use domain::user_pool::wire_time;
use domain::{CognitoError, RequestContext, ServiceResult};
use rand::Rng;

use crate::client_gate::missing;
use crate::flows::{incorrect, param, srp_verifier, Candidate, Claim, Params, Step};
use crate::session_tokens::AnsweredChallenge;
use crate::sessions::{invalid_session, ChallengeState, MfaState, SrpStep};
use crate::{lockout, AuthService};

/// ListDevices' largest page (QueryLimitType), also its page when Limit is absent.
const MAX_DEVICES_PAGE: i32 = 60;

pub(crate) fn device_not_found() -> CognitoError {
    CognitoError::resource_not_found("Device does not exist.")
}

fn invalid_device_key() -> CognitoError {
    CognitoError::invalid_parameter("Invalid device key given.")
}

/// A device group key as Cognito shapes them: a dash and nine letters or digits.
fn new_group_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    let mut key = String::from("-");
    for _ in 0..9 {
        key.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    key
}

fn device_type(pool: &UserPoolView, user: &UserRecord, d: &DeviceRecord) -> DeviceType {
    let attr = |name: &str, value: String| AttributeType {
        name: Some(name.to_string()),
        value: Some(value),
    };
    let mut attributes = vec![attr("device_status", "valid".into())];
    if let Some(name) = &d.name {
        attributes.push(attr("device_name", name.clone()));
    }
    let owner = format!("{}.{}", user.username, pool.record.id);
    attributes.push(attr(
        "dev:device_arn",
        format!(
            "arn:aws:cognito-idp:{}:{}:owner/{owner}/device/{}",
            pool.record.region, pool.record.account_id, d.device_key
        ),
    ));
    attributes.push(attr("dev:device_owner", owner));
    if let Some(ip) = &d.last_ip {
        attributes.push(attr("last_ip_used", ip.clone()));
    }
    let status = if d.remembered {
        "remembered"
    } else {
        "not_remembered"
    };
    attributes.push(attr("dev:device_remembered_status", status.into()));
    DeviceType {
        device_key: Some(d.device_key.clone()),
        device_attributes: Some(attributes),
        device_create_date: Some(wire_time(d.created_ms)),
        device_last_modified_date: Some(wire_time(d.modified_ms)),
        device_last_authenticated_date: Some(wire_time(d.last_auth_ms)),
    }
}

impl AuthService {
    /// The tokens that end a sign-in (after a TOTP code, `totp_step` is claimed with them). With
    /// device tracking on, a sign-in from a device the
    /// client named is bound to it; one from an unnamed device gets a new one (NewDeviceMetadata)
    /// that the client confirms with ConfirmDevice.
    pub(crate) async fn finish(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        auth_time_s: i64,
        device_key: Option<String>,
        answered: Option<AnsweredChallenge>,
    ) -> ServiceResult<Step> {
        let tracking = c.pool.record.settings.pool.device_configuration.is_some();
        let now = self.clock.now_ms();
        let (device_key, metadata) = match device_key {
            Some(k) if tracking => {
                // One column, written alone: a whole-row write here could undo a ConfirmDevice or
                // UpdateDeviceStatus that ran between reading the device and writing it back.
                self.store.touch_device(&c.pool.record.id, &k, now).await?;
                (Some(k), None)
            }
            None if tracking => {
                let d = DeviceRecord {
                    pool_id: c.pool.record.id.clone(),
                    device_key: format!("{}_{}", c.pool.record.region, uuid::Uuid::new_v4()),
                    user_id: user.id.clone(),
                    device_group_key: new_group_key(),
                    verifier: None,
                    name: None,
                    remembered: false,
                    last_ip: None,
                    created_ms: now,
                    modified_ms: now,
                    last_auth_ms: now,
                };
                if !self.store.insert_device(&d).await? {
                    return Err(incorrect());
                }
                let meta = NewDeviceMetadataType {
                    device_key: Some(d.device_key.clone()),
                    device_group_key: Some(d.device_group_key),
                };
                (Some(d.device_key), Some(meta))
            }
            _ => (None, None),
        };
        let mut t: AuthenticationResultType = self
            .issue(c.pool, c.client, user, auth_time_s, device_key, answered)
            .await?;
        t.new_device_metadata = metadata;
        Ok(Step::Tokens(t))
    }

    /// DEVICE_SRP_AUTH for a remembered device: it proves itself instead of an MFA code.
    pub(crate) async fn device_challenge(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        auth_time_s: i64,
        d: DeviceRecord,
    ) -> ServiceResult<Step> {
        let mut state = self.challenge_state(c, user, auth_time_s, Some(d.device_key.clone()));
        state.challenge = ChallengeNameType::DeviceSrpAuth.as_str().into();
        state.mfa = Some(MfaState::Device {
            group_key: d.device_group_key,
        });
        let mut params = Params::new();
        params.insert("USERNAME".into(), user.username.clone());
        self.open_challenge(c, state, ChallengeNameType::DeviceSrpAuth, params)
            .await
    }

    /// The remembered device of a device challenge, which must still be the user's.
    async fn challenged_device(
        &self,
        c: &Candidate<'_>,
        state: &ChallengeState,
        r: &Params,
    ) -> ServiceResult<(UserRecord, DeviceRecord, String)> {
        let key = state.device_key.clone().ok_or_else(invalid_session)?;
        if param(r, "DEVICE_KEY").is_some_and(|given| given != key) {
            return Err(device_not_found());
        }
        let Some(MfaState::Device { group_key }) = &state.mfa else {
            return Err(invalid_session());
        };
        let user = self
            .state_user(c, state)
            .await?
            .ok_or_else(invalid_session)?;
        match self.store.device(&c.pool.record.id, &key).await? {
            Some(d) if d.user_id == user.id && d.verifier.is_some() => {
                Ok((user, d, group_key.clone()))
            }
            _ => Err(device_not_found()),
        }
    }

    /// DEVICE_SRP_AUTH answered with SRP_A: DEVICE_PASSWORD_VERIFIER with B and the salt.
    pub(crate) async fn device_srp_start(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let srp_a = param(r, "SRP_A").ok_or_else(|| missing("SRP_A"))?;
        if !crate::flows::srp_a_valid(srp_a) {
            return Err(CognitoError::invalid_parameter("SRP_A is invalid"));
        }
        let (user, device, _) = self.challenged_device(c, &state, r).await?;
        let stored = device.verifier.as_ref().ok_or_else(device_not_found)?;
        let verifier = srp_verifier(stored)?;
        let sc = cognito_srp::ServerChallenge::new(&verifier);
        let mut next = state.clone();
        next.challenge = ChallengeNameType::DevicePasswordVerifier.as_str().into();
        next.srp = Some(SrpStep {
            b: hex::encode(&sc.b),
            srp_b: sc.srp_b_hex.clone(),
            srp_a: srp_a.to_string(),
        });
        let opened = self
            .sessions
            .open(&next, self.session_minutes(c.client))
            .await?;
        let mut params = Params::new();
        params.insert("SRP_B".into(), sc.srp_b_hex);
        params.insert("SALT".into(), verifier.salt_hex());
        params.insert("SECRET_BLOCK".into(), opened.secret_block);
        params.insert("USERNAME".into(), user.username.clone());
        params.insert("DEVICE_KEY".into(), device.device_key);
        Ok(Step::Challenge {
            name: ChallengeNameType::DevicePasswordVerifier,
            session: opened.session,
            params,
        })
    }

    /// DEVICE_PASSWORD_VERIFIER: the device's claim signature; right, and the sign-in ends.
    pub(crate) async fn device_srp_verify(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let claim = Claim::of(r)?;
        let srp = state.srp.clone().ok_or_else(invalid_session)?;
        let (user, device, group_key) = self.challenged_device(c, &state, r).await?;
        if !claim.timely(self.now_s()) {
            return Err(incorrect());
        }
        lockout::begin(&*self.store, &user.pool_id, &user.id, self.clock.now_ms()).await?;
        let stored = device.verifier.as_ref().ok_or_else(device_not_found)?;
        if !claim
            .holds(stored, srp, group_key, device.device_key.clone())
            .await?
        {
            return Err(incorrect());
        }
        let auth_time = state.auth_time_s.unwrap_or_else(|| self.now_s());
        self.finish(c, &user, auth_time, Some(device.device_key), None)
            .await
    }

    /// A device of the user, as the caller may see it: confirmed devices only (a device nobody
    /// confirmed is a sign-in's offer, not a device yet), and for the user-level calls remembered
    /// ones only (Cognito's SDKs show none before the user remembers one).
    async fn users_device(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        key: Option<&str>,
        remembered_only: bool,
    ) -> ServiceResult<DeviceRecord> {
        let key = key.ok_or_else(|| missing("DeviceKey"))?;
        match self.store.device(&pool.record.id, key).await? {
            Some(d)
                if d.user_id == user.id
                    && d.verifier.is_some()
                    && (d.remembered || !remembered_only) =>
            {
                Ok(d)
            }
            _ => Err(device_not_found()),
        }
    }

    pub async fn confirm_device(
        &self,
        ctx: &RequestContext,
        req: ConfirmDeviceRequest,
    ) -> ServiceResult<ConfirmDeviceResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let key = req
            .device_key
            .as_deref()
            .ok_or_else(|| missing("DeviceKey"))?;
        let mut device = match self.store.device(&a.pool.record.id, key).await? {
            Some(d) if d.user_id == a.user.id && d.verifier.is_none() => d,
            _ => return Err(invalid_device_key()),
        };
        let config = req.device_secret_verifier_config.unwrap_or_default();
        let verifier = match (&config.password_verifier, &config.salt) {
            (Some(v), Some(s)) => cognito_srp::Verifier::from_device_config(v, s),
            _ => None,
        }
        .ok_or_else(|| {
            CognitoError::invalid_parameter("Invalid device secret verifier config given.")
        })?;
        let on_prompt = a
            .pool
            .record
            .settings
            .pool
            .device_configuration
            .as_ref()
            .and_then(|d| d.device_only_remembered_on_user_prompt)
            .unwrap_or(false);
        device.verifier = Some(SrpVerifier {
            salt: hex::encode(&verifier.salt),
            verifier: hex::encode(&verifier.verifier),
        });
        device.name = req.device_name.clone().or(device.name);
        device.remembered = !on_prompt;
        device.modified_ms = self.clock.now_ms();
        if !self.store.confirm_device(&device).await? {
            return Err(invalid_device_key());
        }
        Ok(ConfirmDeviceResponse {
            user_confirmation_necessary: Some(on_prompt),
        })
    }

    async fn set_device_status(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        key: Option<&str>,
        status: Option<DeviceRememberedStatusType>,
    ) -> ServiceResult<()> {
        // The user decides about any of their confirmed devices, remembered or not yet.
        let key = key.ok_or_else(|| missing("DeviceKey"))?;
        let remembered = status == Some(DeviceRememberedStatusType::Remembered);
        let now = self.clock.now_ms();
        if !self
            .store
            .set_device_remembered(&pool.record.id, &user.id, key, remembered, now)
            .await?
        {
            return Err(device_not_found());
        }
        Ok(())
    }

    pub async fn update_device_status(
        &self,
        ctx: &RequestContext,
        req: UpdateDeviceStatusRequest,
    ) -> ServiceResult<UpdateDeviceStatusResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        self.set_device_status(
            &a.pool,
            &a.user,
            req.device_key.as_deref(),
            req.device_remembered_status,
        )
        .await?;
        Ok(UpdateDeviceStatusResponse {})
    }

    pub async fn admin_update_device_status(
        &self,
        ctx: &RequestContext,
        req: AdminUpdateDeviceStatusRequest,
    ) -> ServiceResult<AdminUpdateDeviceStatusResponse> {
        let (pool, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        self.set_device_status(
            &pool,
            &user,
            req.device_key.as_deref(),
            req.device_remembered_status,
        )
        .await?;
        Ok(AdminUpdateDeviceStatusResponse {})
    }

    pub async fn get_device(
        &self,
        ctx: &RequestContext,
        req: GetDeviceRequest,
    ) -> ServiceResult<GetDeviceResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let d = self
            .users_device(&a.pool, &a.user, req.device_key.as_deref(), true)
            .await?;
        Ok(GetDeviceResponse {
            device: Some(device_type(&a.pool, &a.user, &d)),
        })
    }

    pub async fn admin_get_device(
        &self,
        ctx: &RequestContext,
        req: AdminGetDeviceRequest,
    ) -> ServiceResult<AdminGetDeviceResponse> {
        let (pool, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        let d = self
            .users_device(&pool, &user, req.device_key.as_deref(), false)
            .await?;
        Ok(AdminGetDeviceResponse {
            device: Some(device_type(&pool, &user, &d)),
        })
    }

    async fn device_page(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        limit: Option<i32>,
        token: Option<&str>,
        remembered_only: bool,
    ) -> ServiceResult<(Vec<DeviceType>, Option<String>)> {
        let limit = match limit {
            None | Some(0) => MAX_DEVICES_PAGE,
            Some(n) => n.clamp(1, MAX_DEVICES_PAGE),
        };
        let after = match token {
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    // A device key never holds control characters (and Postgres cannot compare
                    // text with a NUL in it).
                    .filter(|k| !k.is_empty() && !k.chars().any(char::is_control))
                    .ok_or_else(|| CognitoError::invalid_parameter("Invalid pagination token."))?,
            ),
            None => None,
        };
        let mut devices = Vec::new();
        let mut cursor = after;
        // Read one more than a page to know whether another follows; skipping devices the
        // caller does not see may take further reads.
        loop {
            let batch = self
                .store
                .list_devices(
                    &pool.record.id,
                    &user.id,
                    cursor.as_deref(),
                    i64::from(limit) + 1,
                )
                .await?;
            let exhausted = batch.len() <= limit as usize;
            cursor = batch.last().map(|d| d.device_key.clone());
            for d in batch {
                if d.verifier.is_some() && (!remembered_only || d.remembered) {
                    devices.push(d);
                }
            }
            if exhausted || devices.len() > limit as usize {
                break;
            }
        }
        let next = if devices.len() > limit as usize {
            devices.truncate(limit as usize);
            devices
                .last()
                .map(|d| URL_SAFE_NO_PAD.encode(d.device_key.as_bytes()))
        } else {
            None
        };
        let wire = devices.iter().map(|d| device_type(pool, user, d)).collect();
        Ok((wire, next))
    }

    pub async fn list_devices(
        &self,
        ctx: &RequestContext,
        req: ListDevicesRequest,
    ) -> ServiceResult<ListDevicesResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let (devices, token) = self
            .device_page(
                &a.pool,
                &a.user,
                req.limit,
                req.pagination_token.as_deref(),
                true,
            )
            .await?;
        Ok(ListDevicesResponse {
            devices: Some(devices),
            pagination_token: token,
        })
    }

    pub async fn admin_list_devices(
        &self,
        ctx: &RequestContext,
        req: AdminListDevicesRequest,
    ) -> ServiceResult<AdminListDevicesResponse> {
        let (pool, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        let (devices, token) = self
            .device_page(
                &pool,
                &user,
                req.limit,
                req.pagination_token.as_deref(),
                false,
            )
            .await?;
        Ok(AdminListDevicesResponse {
            devices: Some(devices),
            pagination_token: token,
        })
    }

    async fn forget(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        key: Option<&str>,
    ) -> ServiceResult<()> {
        let key = key.ok_or_else(|| missing("DeviceKey"))?;
        if !self
            .store
            .delete_device(&pool.record.id, &user.id, key)
            .await?
        {
            return Err(device_not_found());
        }
        Ok(())
    }

    pub async fn forget_device(
        &self,
        ctx: &RequestContext,
        req: ForgetDeviceRequest,
    ) -> ServiceResult<()> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        self.forget(&a.pool, &a.user, req.device_key.as_deref())
            .await?;
        Ok(())
    }

    pub async fn admin_forget_device(
        &self,
        ctx: &RequestContext,
        req: AdminForgetDeviceRequest,
    ) -> ServiceResult<()> {
        let (pool, user) = self
            .pool_user(ctx, req.user_pool_id.as_deref(), req.username.as_deref())
            .await?;
        self.forget(&pool, &user, req.device_key.as_deref()).await?;
        Ok(())
    }

    /// A refresh of a session bound to a device: the client must name that device, and it must
    /// still be there (forgetting a device ends its refreshes).
    pub(crate) async fn check_refresh_device(
        &self,
        session_device: Option<&str>,
        pool_id: &str,
        user_id: &str,
        given: Option<&str>,
    ) -> ServiceResult<()> {
        let Some(key) = session_device else {
            return Ok(());
        };
        let invalid = || {
            CognitoError::new(
                cognito_model::errors::ErrorCode::NotAuthorizedException,
                "Invalid Refresh Token",
            )
        };
        if given != Some(key) {
            return Err(invalid());
        }
        match self.store.device(pool_id, key).await? {
            Some(d) if d.user_id == user_id && d.verifier.is_some() => Ok(()),
            _ => Err(invalid()),
        }
    }
}
