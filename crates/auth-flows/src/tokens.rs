//! ID, access and refresh tokens: Cognito's claims, lifetimes from the app client, RS256 signatures
//! with the pool's keys, and the checks an access token passes before it authorises a call.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{TimeUnitsType, UserPoolClientType};
use domain::ports::{GroupRecord, KeyPurpose, UserRecord};
use domain::{CognitoError, ServiceResult};
use jsonwebtoken::{Algorithm, Validation};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::keys::PoolKeys;

/// The only scope API sign-ins grant; self-service calls require it.
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// The header every refresh token starts with: Cognito's refresh tokens are JWE, and keeping that
/// shape keeps clients that sniff token formats happy. The rest is random and means nothing.
const REFRESH_HEADER: &str = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ";

fn seconds(value: i64, unit: TimeUnitsType) -> i64 {
    match unit {
        TimeUnitsType::Seconds => value,
        TimeUnitsType::Minutes => value * 60,
        TimeUnitsType::Hours => value * 3600,
        TimeUnitsType::Days => value * 86_400,
    }
}

/// Lifetimes in seconds from the client's settings and Cognito's defaults (one hour for ID and
/// access tokens, thirty days for refresh tokens).
pub struct Lifetimes {
    pub access_s: i64,
    pub id_s: i64,
    pub refresh_s: i64,
}

impl Lifetimes {
    pub fn of(c: &UserPoolClientType) -> Lifetimes {
        let units = c.token_validity_units.clone().unwrap_or_default();
        let access_s = c.access_token_validity.map_or(3600, |v| {
            seconds(v.into(), units.access_token.unwrap_or(TimeUnitsType::Hours))
        });
        let id_s = c.id_token_validity.map_or(3600, |v| {
            seconds(v.into(), units.id_token.unwrap_or(TimeUnitsType::Hours))
        });
        let refresh_s = match c.refresh_token_validity {
            Some(v) if v > 0 => {
                seconds(v.into(), units.refresh_token.unwrap_or(TimeUnitsType::Days))
            }
            _ => 30 * 86_400,
        };
        Lifetimes {
            access_s,
            id_s,
            refresh_s,
        }
    }
}

/// What the tokens of one sign-in describe.
pub struct TokenSubject<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client: &'a UserPoolClientType,
    pub user: &'a UserRecord,
    /// The user's groups in precedence order.
    pub groups: &'a [GroupRecord],
    pub origin_jti: &'a str,
    pub auth_time_s: i64,
    pub now_s: i64,
    /// The remembered device the session is bound to (`device_key` in the access token).
    pub device_key: Option<&'a str>,
    /// What a PreTokenGeneration answer changes.
    pub overrides: Option<&'a ClaimOverrides>,
}

/// What a PreTokenGeneration answer changes in the tokens (see `pre_token`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimOverrides {
    pub id_add: Map<String, Value>,
    pub id_suppress: Vec<String>,
    pub access_add: Map<String, Value>,
    pub access_suppress: Vec<String>,
    /// Replaces `cognito:groups` in both tokens; an empty list removes it.
    pub groups: Option<Vec<String>>,
    /// Replaces `cognito:roles` in the ID token; an empty list removes it.
    pub roles: Option<Vec<String>>,
    pub preferred_role: Option<String>,
    pub scopes_add: Vec<String>,
    pub scopes_suppress: Vec<String>,
}

/// Claims a trigger cannot add, override or suppress, in either token; the access token also
/// keeps its own identity claims (its scopes change through scopesToAdd / scopesToSuppress).
const RESERVED: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "cognito:username",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
];
const ACCESS_RESERVED: &[&str] = &["client_id", "scope", "username", "event_id", "device_key"];

fn apply(
    c: &mut Map<String, Value>,
    add: &Map<String, Value>,
    suppress: &[String],
    extra: &[&str],
) {
    let free = |k: &str| !RESERVED.contains(&k) && !extra.contains(&k);
    for (k, v) in add {
        if free(k) {
            c.insert(k.clone(), v.clone());
        }
    }
    // Suppression wins over an override of the same claim.
    for k in suppress {
        if free(k) {
            c.remove(k);
        }
    }
}

fn set_list(c: &mut Map<String, Value>, claim: &str, list: &Option<Vec<String>>) {
    match list {
        Some(v) if v.is_empty() => {
            c.remove(claim);
        }
        Some(v) => {
            c.insert(
                claim.into(),
                Value::Array(v.iter().cloned().map(Value::from).collect()),
            );
        }
        None => {}
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Groups ordered as Cognito orders them in tokens: by precedence (unset last), then name.
pub fn order_groups(groups: &mut [GroupRecord]) {
    groups.sort_by(|a, b| {
        let pa = a.precedence.unwrap_or(i64::MAX);
        let pb = b.precedence.unwrap_or(i64::MAX);
        pa.cmp(&pb).then_with(|| a.name.cmp(&b.name))
    });
}

/// The claim value of an attribute: the verified flags are booleans, `updated_at` a number,
/// everything else (custom attributes too, whatever their type) a string.
fn attribute_claim(name: &str, value: &str) -> Value {
    match name {
        "email_verified" | "phone_number_verified" => Value::Bool(value == "true"),
        "updated_at" => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.to_string())),
        _ => Value::String(value.to_string()),
    }
}

/// Whether the client may read an attribute (its ReadAttributes; none listed means all). `sub` is
/// always readable. The ID token's claims and GetUser's answer both follow this.
pub(crate) fn readable(client: &UserPoolClientType, name: &str) -> bool {
    match &client.read_attributes {
        Some(list) if !list.is_empty() => name == "sub" || list.iter().any(|a| a == name),
        _ => true,
    }
}

fn sign(
    keys: &PoolKeys,
    purpose: KeyPurpose,
    claims: &Map<String, Value>,
) -> ServiceResult<String> {
    let (kid, key) = keys.signer(purpose).ok_or_else(CognitoError::internal)?;
    let failed = |what: &str| {
        tracing::error!("token signing failed: {what}");
        CognitoError::internal()
    };
    // Cognito's header is exactly {"kid", "alg"}, in that order.
    let kid = serde_json::to_string(kid).map_err(|_| failed("kid"))?;
    let header = format!(r#"{{"kid":{kid},"alg":"RS256"}}"#);
    let payload = serde_json::to_vec(claims).map_err(|_| failed("claims"))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        token.as_bytes(),
        &mut signature,
    )
    .map_err(|_| failed("RSA"))?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

pub fn access_token(
    keys: &PoolKeys,
    s: &TokenSubject<'_>,
    lifetime_s: i64,
) -> ServiceResult<String> {
    let mut c = Map::new();
    c.insert("sub".into(), s.user.id.clone().into());
    if let Some(device) = s.device_key {
        c.insert("device_key".into(), device.into());
    }
    if !s.groups.is_empty() {
        let names: Vec<Value> = s.groups.iter().map(|g| g.name.clone().into()).collect();
        c.insert("cognito:groups".into(), Value::Array(names));
    }
    c.insert("iss".into(), s.issuer.into());
    c.insert("client_id".into(), s.client_id.into());
    c.insert("origin_jti".into(), s.origin_jti.into());
    c.insert("event_id".into(), uuid().into());
    c.insert("token_use".into(), "access".into());
    let mut scopes = vec![ADMIN_SCOPE.to_string()];
    if let Some(o) = s.overrides {
        set_list(&mut c, "cognito:groups", &o.groups);
        for add in &o.scopes_add {
            if !scopes.contains(add) {
                scopes.push(add.clone());
            }
        }
        scopes.retain(|sc| !o.scopes_suppress.contains(sc));
    }
    c.insert("scope".into(), scopes.join(" ").into());
    c.insert("auth_time".into(), s.auth_time_s.into());
    c.insert("exp".into(), (s.now_s + lifetime_s).into());
    c.insert("iat".into(), s.now_s.into());
    c.insert("jti".into(), uuid().into());
    c.insert("username".into(), s.user.username.clone().into());
    if let Some(o) = s.overrides {
        apply(&mut c, &o.access_add, &o.access_suppress, ACCESS_RESERVED);
    }
    sign(keys, KeyPurpose::Access, &c)
}

pub fn id_token(keys: &PoolKeys, s: &TokenSubject<'_>, lifetime_s: i64) -> ServiceResult<String> {
    let mut c = Map::new();
    c.insert("sub".into(), s.user.id.clone().into());
    if !s.groups.is_empty() {
        let names: Vec<Value> = s.groups.iter().map(|g| g.name.clone().into()).collect();
        c.insert("cognito:groups".into(), Value::Array(names));
        let roles: Vec<&GroupRecord> = s.groups.iter().filter(|g| g.role_arn.is_some()).collect();
        if !roles.is_empty() {
            let arns: Vec<Value> = roles
                .iter()
                .filter_map(|g| g.role_arn.clone().map(Value::from))
                .collect();
            c.insert("cognito:roles".into(), Value::Array(arns));
            // The role of the group with the lowest precedence value that has one.
            if let Some(r) = roles
                .iter()
                .filter(|g| g.precedence.is_some())
                .min_by_key(|g| g.precedence)
                .and_then(|g| g.role_arn.clone())
            {
                c.insert("cognito:preferred_role".into(), r.into());
            }
        }
    }
    for (name, value) in &s.user.attributes {
        if name == "sub" || !readable(s.client, name) {
            continue;
        }
        c.insert(name.clone(), attribute_claim(name, value));
    }
    c.insert("iss".into(), s.issuer.into());
    c.insert("cognito:username".into(), s.user.username.clone().into());
    c.insert("origin_jti".into(), s.origin_jti.into());
    c.insert("aud".into(), s.client_id.into());
    c.insert("event_id".into(), uuid().into());
    c.insert("token_use".into(), "id".into());
    c.insert("auth_time".into(), s.auth_time_s.into());
    c.insert("exp".into(), (s.now_s + lifetime_s).into());
    c.insert("iat".into(), s.now_s.into());
    c.insert("jti".into(), uuid().into());
    if let Some(o) = s.overrides {
        set_list(&mut c, "cognito:groups", &o.groups);
        set_list(&mut c, "cognito:roles", &o.roles);
        if let Some(r) = &o.preferred_role {
            c.insert("cognito:preferred_role".into(), r.clone().into());
        }
        apply(&mut c, &o.id_add, &o.id_suppress, &[]);
    }
    sign(keys, KeyPurpose::Id, &c)
}

/// A new opaque refresh token and the hash the store keeps of it.
pub fn new_refresh_token() -> (String, String) {
    let mut parts = [[0u8; 32]; 4];
    for p in parts.iter_mut() {
        rand::rngs::OsRng.fill_bytes(p);
    }
    let token = format!(
        "{REFRESH_HEADER}.{}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(&parts[0][..]),
        URL_SAFE_NO_PAD.encode(&parts[1][..12]),
        URL_SAFE_NO_PAD.encode(&parts[2][..]),
        URL_SAFE_NO_PAD.encode(&parts[3][..16]),
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 (hex) of a bearer value; only hashes of refresh tokens and sessions are stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The claims an access token must carry to authorise a self-service call.
#[derive(Clone, Debug, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub client_id: String,
    pub origin_jti: String,
    pub token_use: String,
    pub scope: String,
    pub exp: i64,
    pub username: String,
}

fn not_authorized(message: &str) -> CognitoError {
    CognitoError::new(ErrorCode::NotAuthorizedException, message)
}

pub fn invalid_access_token() -> CognitoError {
    not_authorized("Invalid Access Token")
}

/// The pool an access token claims to come from (its issuer's last path segment), read without
/// trusting it: the signature is checked with that pool's keys next.
pub fn claimed_pool(token: &str) -> Option<(String, String)> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let kid = header.kid?;
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = v.get("iss")?.as_str()?;
    let pool = iss.rsplit('/').next()?.to_string();
    Some((pool, kid))
}

/// SHA-256 of a token, the key of the verified-token cache.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The checks of a verified token that change with time.
pub fn still_valid(c: &AccessClaims, now_s: i64) -> ServiceResult<AccessClaims> {
    if c.exp <= now_s {
        return Err(not_authorized("Access Token has expired"));
    }
    Ok(c.clone())
}

/// Access tokens whose signature, issuer, use and scope were checked already, so a token used
/// for many calls costs one RSA verification per node. Bounded: when full it starts over.
#[derive(Default)]
pub struct VerifiedTokens {
    map: dashmap::DashMap<[u8; 32], AccessClaims>,
}

impl VerifiedTokens {
    const CAPACITY: usize = 100_000;

    pub fn get(&self, digest: &[u8; 32]) -> Option<AccessClaims> {
        self.map.get(digest).map(|c| c.clone())
    }

    pub fn insert(&self, digest: [u8; 32], claims: AccessClaims) {
        if self.map.len() >= Self::CAPACITY {
            self.map.clear();
        }
        self.map.insert(digest, claims);
    }
}

/// Checks signature, issuer, use, scope and expiry of an access token. Revocation and the user's
/// state are checked by the caller.
pub fn verify_access_token(
    keys: &PoolKeys,
    kid: &str,
    token: &str,
    issuer: &str,
    now_s: i64,
) -> ServiceResult<AccessClaims> {
    let key = keys.verifier(kid).ok_or_else(invalid_access_token)?;
    let mut v = Validation::new(Algorithm::RS256);
    // Expiry is checked below to answer Cognito's own message; audience is not in access tokens.
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<AccessClaims>(token, key, &v).map_err(|_| invalid_access_token())?;
    let c = data.claims;
    if c.token_use != "access" || c.iss != issuer {
        return Err(invalid_access_token());
    }
    if c.exp <= now_s {
        return Err(not_authorized("Access Token has expired"));
    }
    if !c.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
        return Err(not_authorized("Access Token does not have required scopes"));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_unscoped_tokens_are_refused() {
        let c = AccessClaims {
            sub: "s".into(),
            iss: "i".into(),
            client_id: "c".into(),
            origin_jti: "o".into(),
            token_use: "access".into(),
            scope: ADMIN_SCOPE.into(),
            exp: 1000,
            username: "u".into(),
        };
        assert!(still_valid(&c, 999).is_ok());
        assert_eq!(
            still_valid(&c, 1000).unwrap_err().message,
            "Access Token has expired"
        );
    }

    #[test]
    fn lifetimes_follow_units_and_defaults() {
        let mut c = UserPoolClientType::default();
        let l = Lifetimes::of(&c);
        assert_eq!((l.access_s, l.id_s, l.refresh_s), (3600, 3600, 30 * 86_400));
        c.access_token_validity = Some(5);
        c.id_token_validity = Some(2);
        c.refresh_token_validity = Some(60);
        c.token_validity_units = Some(cognito_model::shapes::TokenValidityUnitsType {
            access_token: Some(TimeUnitsType::Minutes),
            id_token: None,
            refresh_token: Some(TimeUnitsType::Minutes),
        });
        let l = Lifetimes::of(&c);
        assert_eq!((l.access_s, l.id_s, l.refresh_s), (300, 7200, 3600));
    }

    #[test]
    fn refresh_tokens_look_like_cognitos_and_hash_stably() {
        let (t, h) = new_refresh_token();
        assert_eq!(t.split('.').count(), 5);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b)));
        assert_eq!(token_hash(&t), h);
        assert_ne!(new_refresh_token().0, t);
    }

    #[test]
    fn groups_order_by_precedence_then_name() {
        let g = |n: &str, p: Option<i64>| GroupRecord {
            pool_id: "p".into(),
            name: n.into(),
            description: None,
            role_arn: None,
            precedence: p,
            created_ms: 0,
            modified_ms: 0,
        };
        let mut v = vec![
            g("c", None),
            g("b", Some(5)),
            g("a", Some(1)),
            g("d", Some(5)),
        ];
        order_groups(&mut v);
        let names: Vec<&str> = v.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "d", "c"]);
    }
}
