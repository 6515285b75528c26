//! App clients (CreateUserPoolClient …) and their secrets.
//!
//! A client's settings are kept in Cognito's wire vocabulary (`UserPoolClientType`), filled with
//! Cognito's defaults at create time and again at update time: UpdateUserPoolClient, like
//! UpdateUserPool, resets every setting the request omits.

use std::sync::Arc;

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AddUserPoolClientSecretRequest, AddUserPoolClientSecretResponse, AnalyticsConfigurationType,
    ClientSecretDescriptorType, ClientTypeType, CreateUserPoolClientRequest,
    CreateUserPoolClientResponse, DeleteUserPoolClientRequest, DeleteUserPoolClientSecretRequest,
    DeleteUserPoolClientSecretResponse, DescribeUserPoolClientRequest,
    DescribeUserPoolClientResponse, ExplicitAuthFlowsType, ListUserPoolClientSecretsRequest,
    ListUserPoolClientSecretsResponse, ListUserPoolClientsRequest, ListUserPoolClientsResponse,
    OAuthFlowType, PreventUserExistenceErrorTypes, RefreshTokenRotationType, TimeUnitsType,
    TokenValidityUnitsType, UpdateUserPoolClientRequest, UpdateUserPoolClientResponse,
    UserPoolClientDescription, UserPoolClientType, UserPoolType,
};
use rand::Rng;
use subtle::{Choice, ConstantTimeEq};

use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{
    AddSecretOutcome, AppClientRecord, AppClientView, ClientSecretRecord, Clock,
    DeleteSecretOutcome, InsertClientOutcome, SecretValue, Store, StoreError, UserPoolView,
};
use crate::services::pagination;
use crate::services::UserPoolService;
use crate::user_pool::wire_time;

/// Most secrets one client holds at once (rotation keeps an old and a new one).
pub const MAX_CLIENT_SECRETS: usize = 2;
/// Cognito's client ids: 26 characters of `[a-z0-9]`.
pub const CLIENT_ID_LEN: usize = 26;
/// Cognito's generated client secrets: 51 characters of `[a-z0-9]`.
pub const CLIENT_SECRET_LEN: usize = 51;
/// Refresh token validity when none is given, in the refresh token's unit (days by default).
pub const DEFAULT_REFRESH_TOKEN_VALIDITY: i32 = 30;
/// Minutes a sign-in session may take to answer each challenge, when none is given.
pub const DEFAULT_AUTH_SESSION_VALIDITY: i32 = 3;
/// How often a write retries after a fresh random id clashed.
const WRITE_RETRIES: usize = 8;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The scopes every pool knows without a resource server.
const STANDARD_SCOPES: &[&str] = &[
    "phone",
    "email",
    "openid",
    "profile",
    "aws.cognito.signin.user.admin",
];

/// Attributes no app client may write: Cognito sets them itself.
const UNWRITABLE_ATTRIBUTES: &[&str] = &["sub", "email_verified", "phone_number_verified"];

fn random_lower_alnum(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(LOWER_ALNUM[rng.gen_range(0..LOWER_ALNUM.len())]))
        .collect()
}

/// A fresh client id in Cognito's format.
pub fn new_client_id() -> String {
    random_lower_alnum(CLIENT_ID_LEN)
}

/// A fresh client secret in Cognito's format, from the thread's CSPRNG.
pub fn new_client_secret() -> SecretValue {
    SecretValue::new(random_lower_alnum(CLIENT_SECRET_LEN))
}

/// `<client-id>--<epoch-create-time>`, Cognito's secret id format.
fn secret_id(client_id: &str, created_ms: i64) -> String {
    format!("{client_id}--{created_ms}")
}

pub fn client_not_found(client_id: &str) -> CognitoError {
    CognitoError::resource_not_found(format!(
        "User pool client {} does not exist.",
        crate::error::echo(client_id)
    ))
}

/// Whether `candidate` equals one of the client's secrets. Every secret is compared, each in
/// constant time, so the answer's timing says nothing about which secret matched or how much of it.
pub fn secret_matches(secrets: &[ClientSecretRecord], candidate: &str) -> bool {
    let mut any = Choice::from(0u8);
    for s in secrets {
        any |= s.value.expose().as_bytes().ct_eq(candidate.as_bytes());
    }
    any.into()
}

#[derive(Clone, Copy)]
enum Verb {
    Creating,
    Updating,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Creating => "creating",
            Verb::Updating => "updating",
        }
    }
}

/// The settings CreateUserPoolClient and UpdateUserPoolClient share.
struct ClientInput<'a> {
    refresh_token_validity: Option<i32>,
    access_token_validity: Option<i32>,
    id_token_validity: Option<i32>,
    token_validity_units: Option<&'a TokenValidityUnitsType>,
    read_attributes: Option<&'a [String]>,
    write_attributes: Option<&'a [String]>,
    explicit_auth_flows: Option<&'a [ExplicitAuthFlowsType]>,
    supported_identity_providers: Option<&'a [String]>,
    callback_urls: Option<&'a [String]>,
    logout_urls: Option<&'a [String]>,
    default_redirect_uri: Option<&'a str>,
    allowed_o_auth_flows: Option<&'a [OAuthFlowType]>,
    allowed_o_auth_scopes: Option<&'a [String]>,
    allowed_o_auth_flows_user_pool_client: Option<bool>,
    analytics_configuration: Option<&'a AnalyticsConfigurationType>,
    prevent_user_existence_errors: Option<PreventUserExistenceErrorTypes>,
    enable_token_revocation: Option<bool>,
    enable_propagate_additional_user_context_data: Option<bool>,
    auth_session_validity: Option<i32>,
    refresh_token_rotation: Option<&'a RefreshTokenRotationType>,
}

macro_rules! client_input {
    ($r:expr) => {
        ClientInput {
            refresh_token_validity: $r.refresh_token_validity,
            access_token_validity: $r.access_token_validity,
            id_token_validity: $r.id_token_validity,
            token_validity_units: $r.token_validity_units.as_ref(),
            read_attributes: $r.read_attributes.as_deref(),
            write_attributes: $r.write_attributes.as_deref(),
            explicit_auth_flows: $r.explicit_auth_flows.as_deref(),
            supported_identity_providers: $r.supported_identity_providers.as_deref(),
            callback_urls: $r.callback_urls.as_deref(),
            logout_urls: $r.logout_urls.as_deref(),
            default_redirect_uri: $r.default_redirect_uri.as_deref(),
            allowed_o_auth_flows: $r.allowed_o_auth_flows.as_deref(),
            allowed_o_auth_scopes: $r.allowed_o_auth_scopes.as_deref(),
            allowed_o_auth_flows_user_pool_client: $r.allowed_o_auth_flows_user_pool_client,
            analytics_configuration: $r.analytics_configuration.as_ref(),
            prevent_user_existence_errors: $r.prevent_user_existence_errors,
            enable_token_revocation: $r.enable_token_revocation,
            enable_propagate_additional_user_context_data: $r
                .enable_propagate_additional_user_context_data,
            auth_session_validity: $r.auth_session_validity,
            refresh_token_rotation: $r.refresh_token_rotation.as_ref(),
        }
    };
}

/// Drops repeated values, keeping the first occurrence's order.
fn dedup<T: Clone + PartialEq>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    out
}

/// A non-empty list, deduplicated; an empty one counts as not given.
fn non_empty<T: Clone + PartialEq>(items: Option<&[T]>) -> Option<Vec<T>> {
    items.filter(|v| !v.is_empty()).map(dedup)
}

fn in_seconds(value: i32, unit: TimeUnitsType) -> i64 {
    let v = i64::from(value);
    match unit {
        TimeUnitsType::Seconds => v,
        TimeUnitsType::Minutes => v * 60,
        TimeUnitsType::Hours => v * 3_600,
        TimeUnitsType::Days => v * 86_400,
    }
}

/// Cognito's defaults when a client names no flows: ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH
/// and ALLOW_CUSTOM_AUTH. They apply but are not shown by DescribeUserPoolClient.
pub fn default_explicit_auth_flows() -> Vec<ExplicitAuthFlowsType> {
    vec![
        ExplicitAuthFlowsType::AllowRefreshTokenAuth,
        ExplicitAuthFlowsType::AllowUserSrpAuth,
        ExplicitAuthFlowsType::AllowCustomAuth,
    ]
}

/// The flows a client allows: its own list, or Cognito's defaults when it has none.
pub fn effective_explicit_auth_flows(client: &UserPoolClientType) -> Vec<ExplicitAuthFlowsType> {
    client
        .explicit_auth_flows
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(default_explicit_auth_flows)
}

/// Whether the client hides user existence: ENABLED only when set so (API default LEGACY).
pub fn prevents_user_existence_errors(client: &UserPoolClientType) -> bool {
    client.prevent_user_existence_errors == Some(PreventUserExistenceErrorTypes::Enabled)
}

fn is_legacy_flow(f: &ExplicitAuthFlowsType) -> bool {
    matches!(
        f,
        ExplicitAuthFlowsType::AdminNoSrpAuth
            | ExplicitAuthFlowsType::CustomAuthFlowOnly
            | ExplicitAuthFlowsType::UserPasswordAuth
    )
}

/// A redirect (callback or sign-out) URL Cognito accepts: absolute, no fragment, HTTPS unless it is
/// on the local machine (`http://localhost`, and since August 2025 the loopback addresses
/// `http://127.0.0.1` and `http://[::1]`: corrections.md #14), or an app scheme such as
/// `myapp://callback`.
fn valid_redirect_url(url: &str) -> bool {
    if url.contains('#') || url.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return false;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => {
            let (host, after) = match rest.strip_prefix('[') {
                Some(v6) => match v6.split_once(']') {
                    Some((host, after)) => (host, after),
                    None => return false,
                },
                None => rest.split_at(rest.find([':', '/', '?']).unwrap_or(rest.len())),
            };
            let port_ok = match after.strip_prefix(':') {
                Some(p) => {
                    let digits = p.split(['/', '?']).next().unwrap_or_default();
                    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
                }
                None => after.is_empty() || after.starts_with(['/', '?']),
            };
            port_ok
                && (host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "::1")
        }
        _ => true,
    }
}

fn check_urls(list: &[String], what: &str) -> ServiceResult<()> {
    for url in list {
        if !valid_redirect_url(url) {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid {what}: {url}. A redirect URL must be absolute, contain no fragment, and use HTTPS unless it is http://localhost."
            )));
        }
    }
    Ok(())
}

fn valid_scope(scope: &str) -> bool {
    if STANDARD_SCOPES.contains(&scope) {
        return true;
    }
    // A resource server's scope: `<resource server identifier>/<scope name>`.
    matches!(scope.rsplit_once('/'), Some((server, name)) if !server.is_empty() && !name.is_empty())
}

/// Validates a Create/Update request against the pool and fills in Cognito's defaults.
fn build_settings(
    pool: &UserPoolType,
    inp: &ClientInput<'_>,
    has_secret: bool,
    verb: Verb,
) -> ServiceResult<UserPoolClientType> {
    // Token validity, each in its unit (refresh: days, access and ID: hours, unless given).
    let units = inp.token_validity_units.cloned().unwrap_or_default();
    let bad_range = || CognitoError::invalid_parameter("Invalid range for token validity.");
    let refresh = match inp.refresh_token_validity {
        Some(v) if v != 0 => v,
        _ => DEFAULT_REFRESH_TOKEN_VALIDITY,
    };
    let refresh_s = in_seconds(refresh, units.refresh_token.unwrap_or(TimeUnitsType::Days));
    if !(3_600..=315_360_000).contains(&refresh_s) {
        return Err(bad_range());
    }
    let short_lived = |v: Option<i32>, unit: Option<TimeUnitsType>| -> ServiceResult<Option<i32>> {
        match v {
            Some(v) if v != 0 => {
                let s = in_seconds(v, unit.unwrap_or(TimeUnitsType::Hours));
                if (300..=86_400).contains(&s) {
                    Ok(Some(v))
                } else {
                    Err(bad_range())
                }
            }
            _ => Ok(None),
        }
    };
    let access = short_lived(inp.access_token_validity, units.access_token)?;
    let id = short_lived(inp.id_token_validity, units.id_token)?;

    // Explicit auth flows: legacy names or ALLOW_ names, never both; ALLOW_ lists must allow refresh.
    // Omitted, they stay absent from the client (as Cognito shows it) and mean the default flows.
    let given_flows = non_empty(inp.explicit_auth_flows);
    let flows = given_flows
        .clone()
        .unwrap_or_else(default_explicit_auth_flows);
    let legacy = flows.iter().filter(|f| is_legacy_flow(f)).count();
    if legacy > 0 && legacy < flows.len() {
        return Err(CognitoError::invalid_parameter(
            "ExplicitAuthFlows cannot mix legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) with ALLOW_ values.",
        ));
    }
    if legacy == 0 && !flows.contains(&ExplicitAuthFlowsType::AllowRefreshTokenAuth) {
        return Err(CognitoError::invalid_parameter(
            "REFRESH_TOKEN_AUTH should always be allowed.",
        ));
    }

    // Read and write attributes name attributes of the pool's schema.
    let schema = pool.schema_attributes.as_deref().unwrap_or_default();
    let find = |name: &str| {
        schema
            .iter()
            .find(|a| a.name.as_deref() == Some(name) && a.developer_only_attribute != Some(true))
    };
    let read = non_empty(inp.read_attributes);
    if let Some(read) = &read {
        if read.iter().any(|a| find(a).is_none()) {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid read attributes specified while {} a client",
                verb.as_str()
            )));
        }
    }
    let write = non_empty(inp.write_attributes);
    if let Some(write) = &write {
        let writable = |a: &String| {
            !UNWRITABLE_ATTRIBUTES.contains(&a.as_str())
                && find(a).is_some_and(|s| s.mutable != Some(false))
        };
        // Every app client can write the attributes the pool requires.
        let required_missing = schema.iter().any(|s| {
            s.required == Some(true)
                && s.name.as_deref().is_some_and(|n| {
                    !UNWRITABLE_ATTRIBUTES.contains(&n) && !write.iter().any(|w| w == n)
                })
        });
        if !write.iter().all(writable) || required_missing {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid write attributes specified while {} a client",
                verb.as_str()
            )));
        }
    }

    // Redirect URLs.
    let callback_urls = non_empty(inp.callback_urls);
    let logout_urls = non_empty(inp.logout_urls);
    check_urls(callback_urls.as_deref().unwrap_or_default(), "CallbackURL")?;
    check_urls(logout_urls.as_deref().unwrap_or_default(), "LogoutURL")?;
    if let Some(d) = inp.default_redirect_uri {
        check_urls(std::slice::from_ref(&d.to_string()), "DefaultRedirectURI")?;
        if !callback_urls
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|u| u == d)
        {
            return Err(CognitoError::invalid_parameter(
                "DefaultRedirectURI must be one of the CallbackURLs.",
            ));
        }
    }

    // OAuth flows and scopes.
    let oauth_flows = non_empty(inp.allowed_o_auth_flows);
    if let Some(f) = &oauth_flows {
        let cc = f.contains(&OAuthFlowType::ClientCredentials);
        let browser = f.contains(&OAuthFlowType::Code) || f.contains(&OAuthFlowType::Implicit);
        if cc && browser {
            return Err(CognitoError::new(
                ErrorCode::InvalidOAuthFlowException,
                "client_credentials flow can not be selected along with code flow or implicit flow.",
            ));
        }
        if cc && !has_secret {
            return Err(CognitoError::new(
                ErrorCode::InvalidOAuthFlowException,
                "client_credentials flow can not be selected if client does not have a client secret.",
            ));
        }
        if browser && callback_urls.is_none() {
            return Err(CognitoError::new(
                ErrorCode::InvalidOAuthFlowException,
                "CallbackUrls can not be empty when code flow or implicit flow is selected",
            ));
        }
    }
    let scopes = non_empty(inp.allowed_o_auth_scopes);
    if let Some(bad) = scopes.iter().flatten().find(|s| !valid_scope(s)) {
        return Err(CognitoError::new(
            ErrorCode::ScopeDoesNotExistException,
            format!("Invalid scope requested: {bad}"),
        ));
    }

    // Machine-to-machine tokens carry resource-server scopes only.
    if oauth_flows
        .as_deref()
        .is_some_and(|f| f.contains(&OAuthFlowType::ClientCredentials))
    {
        if let Some(s) = scopes
            .iter()
            .flatten()
            .find(|s| STANDARD_SCOPES.contains(&s.as_str()))
        {
            return Err(CognitoError::new(
                ErrorCode::InvalidOAuthFlowException,
                format!("{s} is not supported with client_credentials flow"),
            ));
        }
    }

    let propagate = inp
        .enable_propagate_additional_user_context_data
        .unwrap_or(false);
    if propagate && !has_secret {
        return Err(CognitoError::invalid_parameter(
            "EnablePropagateAdditionalUserContextData can only be activated for an app client that has a client secret.",
        ));
    }

    Ok(UserPoolClientType {
        refresh_token_validity: Some(refresh),
        access_token_validity: access,
        id_token_validity: id,
        token_validity_units: Some(units),
        read_attributes: read,
        write_attributes: write,
        explicit_auth_flows: given_flows,
        supported_identity_providers: non_empty(inp.supported_identity_providers),
        callback_urls,
        logout_urls,
        default_redirect_uri: inp.default_redirect_uri.map(str::to_string),
        allowed_o_auth_flows: oauth_flows,
        allowed_o_auth_scopes: scopes,
        allowed_o_auth_flows_user_pool_client: Some(
            inp.allowed_o_auth_flows_user_pool_client.unwrap_or(false),
        ),
        analytics_configuration: inp.analytics_configuration.cloned(),
        // Omitted, Cognito leaves it out and behaves as LEGACY.
        prevent_user_existence_errors: inp.prevent_user_existence_errors,
        enable_token_revocation: Some(inp.enable_token_revocation.unwrap_or(true)),
        enable_propagate_additional_user_context_data: Some(propagate),
        auth_session_validity: Some(
            inp.auth_session_validity
                .unwrap_or(DEFAULT_AUTH_SESSION_VALIDITY),
        ),
        refresh_token_rotation: inp.refresh_token_rotation.cloned(),
        ..Default::default()
    })
}

/// The client as DescribeUserPoolClient shows it: settings plus identity, dates and the secret.
fn describe_view(view: &AppClientView) -> UserPoolClientType {
    let r = &view.record;
    UserPoolClientType {
        user_pool_id: Some(r.pool_id.clone()),
        client_name: Some(r.name.clone()),
        client_id: Some(r.client_id.clone()),
        client_secret: view.secrets.first().map(|s| s.value.expose().to_string()),
        last_modified_date: Some(wire_time(r.modified_ms)),
        creation_date: Some(wire_time(r.created_ms)),
        ..r.settings.clone()
    }
}

fn descriptor(s: &ClientSecretRecord, with_value: bool) -> ClientSecretDescriptorType {
    ClientSecretDescriptorType {
        client_secret_id: Some(s.secret_id.clone()),
        client_secret_value: with_value.then(|| s.value.expose().to_string()),
        client_secret_create_date: Some(wire_time(s.created_ms)),
    }
}

#[derive(Clone)]
pub struct AppClientService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pools: UserPoolService,
}

impl AppClientService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, pools: UserPoolService) -> Self {
        Self {
            store,
            clock,
            pools,
        }
    }

    /// Loads a client of a pool the caller can see, with its secrets.
    pub async fn load(
        &self,
        ctx: &RequestContext,
        pool_id: &str,
        client_id: &str,
    ) -> ServiceResult<AppClientView> {
        self.pools.load(ctx, pool_id).await?;
        self.store
            .get_app_client(pool_id, client_id)
            .await?
            .ok_or_else(|| client_not_found(client_id))
    }

    /// Loads a client named by its id alone (sign-in and token calls) with its pool and the
    /// context of that pool's region, if the pool is one the caller's account can see there.
    /// Unknown clients and clients of invisible pools answer Cognito's not-found error.
    pub async fn load_by_id(
        &self,
        ctx: &RequestContext,
        client_id: &str,
    ) -> ServiceResult<(RequestContext, UserPoolView, AppClientView)> {
        let view = self
            .store
            .find_app_client(client_id)
            .await?
            .ok_or_else(|| client_not_found(client_id))?;
        let ctx = ctx.for_pool(&view.record.pool_id);
        let pool = self
            .pools
            .load(&ctx, &view.record.pool_id)
            .await
            .map_err(|_| client_not_found(client_id))?;
        Ok((ctx, pool, view))
    }

    pub async fn create(
        &self,
        ctx: &RequestContext,
        req: CreateUserPoolClientRequest,
    ) -> ServiceResult<CreateUserPoolClientResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let pool = self.pools.load(ctx, &pool_id).await?;
        let custom_secret = req.client_secret.clone();
        let has_secret = custom_secret.is_some() || req.generate_secret == Some(true);
        let settings = build_settings(
            &pool.record.settings.pool,
            &client_input!(req),
            has_secret,
            Verb::Creating,
        )?;
        let now = self.clock.now_ms();
        for _ in 0..WRITE_RETRIES {
            let client_id = new_client_id();
            let secret = has_secret.then(|| ClientSecretRecord {
                secret_id: secret_id(&client_id, now),
                value: custom_secret
                    .clone()
                    .map(SecretValue::new)
                    .unwrap_or_else(new_client_secret),
                created_ms: now,
                generated: custom_secret.is_none(),
            });
            let record = AppClientRecord {
                pool_id: pool_id.clone(),
                client_id,
                name: req.client_name.clone().unwrap_or_default(),
                created_ms: now,
                modified_ms: now,
                settings: settings.clone(),
            };
            match self.store.insert_app_client(&record, secret.as_ref()).await {
                Ok(InsertClientOutcome::Inserted) => {
                    let view = AppClientView {
                        record,
                        secrets: secret.into_iter().collect(),
                    };
                    return Ok(CreateUserPoolClientResponse {
                        user_pool_client: Some(describe_view(&view)),
                    });
                }
                Ok(InsertClientOutcome::PoolNotFound) => {
                    return Err(CognitoError::pool_not_found(&pool_id))
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CognitoError::internal())
    }

    pub async fn describe(
        &self,
        ctx: &RequestContext,
        req: DescribeUserPoolClientRequest,
    ) -> ServiceResult<DescribeUserPoolClientResponse> {
        let view = self
            .load(
                ctx,
                req.user_pool_id.as_deref().unwrap_or_default(),
                req.client_id.as_deref().unwrap_or_default(),
            )
            .await?;
        Ok(DescribeUserPoolClientResponse {
            user_pool_client: Some(describe_view(&view)),
        })
    }

    /// Replaces every setting: what the request omits goes back to Cognito's default. The name is
    /// kept when omitted; secrets are untouched.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        req: UpdateUserPoolClientRequest,
    ) -> ServiceResult<UpdateUserPoolClientResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let client_id = req.client_id.clone().unwrap_or_default();
        let pool = self.pools.load(ctx, &pool_id).await?;
        let view = self
            .store
            .get_app_client(&pool_id, &client_id)
            .await?
            .ok_or_else(|| client_not_found(&client_id))?;
        let settings = build_settings(
            &pool.record.settings.pool,
            &client_input!(req),
            !view.secrets.is_empty(),
            Verb::Updating,
        )?;
        let mut record = view.record.clone();
        if let Some(name) = &req.client_name {
            record.name = name.clone();
        }
        record.settings = settings;
        record.modified_ms = self.clock.now_ms().max(record.modified_ms);
        if !self.store.update_app_client(&record).await? {
            return Err(client_not_found(&client_id));
        }
        let updated = AppClientView {
            record,
            secrets: view.secrets,
        };
        Ok(UpdateUserPoolClientResponse {
            user_pool_client: Some(describe_view(&updated)),
        })
    }

    pub async fn delete(
        &self,
        ctx: &RequestContext,
        req: DeleteUserPoolClientRequest,
    ) -> ServiceResult<()> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let client_id = req.client_id.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        if !self.store.delete_app_client(&pool_id, &client_id).await? {
            return Err(client_not_found(&client_id));
        }
        Ok(())
    }

    pub async fn list(
        &self,
        ctx: &RequestContext,
        req: ListUserPoolClientsRequest,
    ) -> ServiceResult<ListUserPoolClientsResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let limit = req.max_results.unwrap_or(60).clamp(1, 60) as u32;
        let after = req
            .next_token
            .as_deref()
            .map(pagination::decode)
            .transpose()?;
        if req.client_type == Some(ClientTypeType::Dcr) {
            // Gatehouse has no dynamically registered clients.
            return Ok(ListUserPoolClientsResponse {
                user_pool_clients: Some(vec![]),
                next_token: None,
            });
        }
        let page = self
            .store
            .list_app_clients(&pool_id, after.as_deref(), limit)
            .await?;
        let clients = page
            .clients
            .iter()
            .map(|c| UserPoolClientDescription {
                client_id: Some(c.client_id.clone()),
                user_pool_id: Some(c.pool_id.clone()),
                client_name: Some(c.name.clone()),
            })
            .collect();
        Ok(ListUserPoolClientsResponse {
            user_pool_clients: Some(clients),
            next_token: page.last_key.as_deref().map(pagination::encode),
        })
    }

    pub async fn add_secret(
        &self,
        ctx: &RequestContext,
        req: AddUserPoolClientSecretRequest,
    ) -> ServiceResult<AddUserPoolClientSecretResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let client_id = req.client_id.clone().unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let generated = req.client_secret.is_none();
        let value = req
            .client_secret
            .clone()
            .map(SecretValue::new)
            .unwrap_or_else(new_client_secret);
        let mut created_ms = self.clock.now_ms();
        for _ in 0..WRITE_RETRIES {
            let secret = ClientSecretRecord {
                secret_id: secret_id(&client_id, created_ms),
                value: value.clone(),
                created_ms,
                generated,
            };
            let outcome = self
                .store
                .add_client_secret(&pool_id, &client_id, &secret, MAX_CLIENT_SECRETS)
                .await;
            match outcome {
                Ok(AddSecretOutcome::Added) => {
                    return Ok(AddUserPoolClientSecretResponse {
                        client_secret_descriptor: Some(descriptor(&secret, generated)),
                    })
                }
                Ok(AddSecretOutcome::LimitExceeded) => {
                    return Err(CognitoError::new(
                        ErrorCode::LimitExceededException,
                        format!(
                            "App client {client_id} already has the maximum number of client secrets ({MAX_CLIENT_SECRETS})."
                        ),
                    ))
                }
                Ok(AddSecretOutcome::NotConfidential) => {
                    return Err(CognitoError::invalid_parameter(format!(
                        "App client {client_id} has no client secret; secrets can only be added to confidential app clients."
                    )))
                }
                Ok(AddSecretOutcome::ClientNotFound) => return Err(client_not_found(&client_id)),
                // Another secret was created in the same millisecond: take the next one.
                Err(StoreError::Conflict(_)) => created_ms += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CognitoError::internal())
    }

    pub async fn list_secrets(
        &self,
        ctx: &RequestContext,
        req: ListUserPoolClientSecretsRequest,
    ) -> ServiceResult<ListUserPoolClientSecretsResponse> {
        let view = self
            .load(
                ctx,
                req.user_pool_id.as_deref().unwrap_or_default(),
                req.client_id.as_deref().unwrap_or_default(),
            )
            .await?;
        // At most two secrets: one page, never a token, never a value.
        Ok(ListUserPoolClientSecretsResponse {
            client_secrets: Some(view.secrets.iter().map(|s| descriptor(s, false)).collect()),
            next_token: None,
        })
    }

    pub async fn delete_secret(
        &self,
        ctx: &RequestContext,
        req: DeleteUserPoolClientSecretRequest,
    ) -> ServiceResult<DeleteUserPoolClientSecretResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let client_id = req.client_id.unwrap_or_default();
        let secret_id = req.client_secret_id.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        match self
            .store
            .delete_client_secret(&pool_id, &client_id, &secret_id)
            .await?
        {
            DeleteSecretOutcome::Deleted => Ok(DeleteUserPoolClientSecretResponse {}),
            DeleteSecretOutcome::ClientNotFound => Err(client_not_found(&client_id)),
            DeleteSecretOutcome::SecretNotFound => Err(CognitoError::resource_not_found(format!(
                "Client secret {secret_id} does not exist."
            ))),
            DeleteSecretOutcome::LastSecret => Err(CognitoError::invalid_parameter(format!(
                "Client secret {secret_id} is the only secret of app client {client_id} and cannot be deleted."
            ))),
        }
    }

    /// Whether `candidate` is one of the client's current secrets, compared in constant time. For
    /// the sign-in and token operations.
    pub async fn verify_secret(
        &self,
        ctx: &RequestContext,
        pool_id: &str,
        client_id: &str,
        candidate: &str,
    ) -> ServiceResult<bool> {
        let view = self.load(ctx, pool_id, client_id).await?;
        Ok(secret_matches(&view.secrets, candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_have_cognito_shape() {
        let id = new_client_id();
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|b| LOWER_ALNUM.contains(&b)));
        let s = new_client_secret();
        assert_eq!(s.expose().len(), 51);
        assert!(s.expose().bytes().all(|b| LOWER_ALNUM.contains(&b)));
        assert_ne!(new_client_id(), id);
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn redirect_urls() {
        for ok in [
            "https://example.com/cb",
            "http://localhost",
            "http://localhost:3000/cb",
            "http://127.0.0.1",
            "http://127.0.0.1:8080/callback?x=1",
            "http://[::1]/cb",
            "http://[::1]:4200",
            "myapp://callback",
        ] {
            assert!(valid_redirect_url(ok), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://localhost.evil.com/",
            "http://127.0.0.1.evil.com/",
            "http://127.0.0.2/",
            "http://[::1",
            "http://[::2]/",
            "http://127.0.0.1:/cb",
            "https://example.com/#frag",
            "example.com",
            "://x",
        ] {
            assert!(!valid_redirect_url(bad), "{bad}");
        }
    }

    #[test]
    fn secret_comparison() {
        let secrets = vec![
            ClientSecretRecord {
                secret_id: "a--1".into(),
                value: SecretValue::new("one".into()),
                created_ms: 1,
                generated: true,
            },
            ClientSecretRecord {
                secret_id: "a--2".into(),
                value: SecretValue::new("two".into()),
                created_ms: 2,
                generated: true,
            },
        ];
        assert!(secret_matches(&secrets, "one"));
        assert!(secret_matches(&secrets, "two"));
        assert!(!secret_matches(&secrets, "tw"));
        assert!(!secret_matches(&secrets, ""));
        assert!(!secret_matches(&[], "one"));
    }
}
