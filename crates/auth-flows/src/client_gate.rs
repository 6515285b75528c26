//! What the app client decides before any user is looked at: which flows it allows, the
//! SECRET_HASH a client with a secret requires, and which attributes its users may write.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{AuthFlowType, ExplicitAuthFlowsType};
use domain::ports::AppClientView;
use domain::services::app_clients::{effective_explicit_auth_flows, secret_matches};
use domain::{CognitoError, ServiceResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

fn is_legacy(f: ExplicitAuthFlowsType) -> bool {
    matches!(
        f,
        ExplicitAuthFlowsType::AdminNoSrpAuth
            | ExplicitAuthFlowsType::CustomAuthFlowOnly
            | ExplicitAuthFlowsType::UserPasswordAuth
    )
}

/// Whether the client's ExplicitAuthFlows allow a flow. Clients still on the legacy values always
/// allowed SRP and refresh, as Cognito's legacy settings did.
pub fn flow_allowed(client: &AppClientView, flow: AuthFlowType) -> bool {
    let flows = effective_explicit_auth_flows(&client.record.settings);
    let has = |f: ExplicitAuthFlowsType| flows.contains(&f);
    let legacy = flows.iter().copied().any(is_legacy);
    match flow {
        AuthFlowType::UserSrpAuth => has(ExplicitAuthFlowsType::AllowUserSrpAuth) || legacy,
        AuthFlowType::UserPasswordAuth => {
            has(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                || has(ExplicitAuthFlowsType::UserPasswordAuth)
        }
        AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth => {
            has(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
                || has(ExplicitAuthFlowsType::AdminNoSrpAuth)
        }
        AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => {
            has(ExplicitAuthFlowsType::AllowRefreshTokenAuth) || legacy
        }
        AuthFlowType::CustomAuth => {
            has(ExplicitAuthFlowsType::AllowCustomAuth)
                || has(ExplicitAuthFlowsType::CustomAuthFlowOnly)
        }
        AuthFlowType::UserAuth => has(ExplicitAuthFlowsType::AllowUserAuth),
    }
}

pub fn require_flow(client: &AppClientView, flow: AuthFlowType) -> ServiceResult<()> {
    if flow_allowed(client, flow) {
        Ok(())
    } else {
        Err(CognitoError::invalid_parameter(format!(
            "{} flow not enabled for this client",
            flow.as_str()
        )))
    }
}

/// The client's WriteAttributes allow a user (through this client) to write these attribute names:
/// all of them when it lists none. The verified flags are never the user's to set: only a code
/// sent to the address, or an administrator, verifies one. Every user-facing write goes through
/// this check (SignUp, NEW_PASSWORD_REQUIRED's attributes, UpdateUserAttributes,
/// DeleteUserAttributes).
pub fn check_writable<'a>(
    client: &AppClientView,
    names: impl IntoIterator<Item = &'a str>,
) -> ServiceResult<()> {
    let listed = client
        .record
        .settings
        .write_attributes
        .as_ref()
        .filter(|l| !l.is_empty());
    for name in names {
        let verified_flag = name.ends_with("_verified");
        let unlisted = listed.is_some_and(|l| !l.iter().any(|w| w == name));
        if verified_flag || unlisted {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                "A client attempted to write unauthorized attribute",
            ));
        }
    }
    Ok(())
}

pub fn missing(name: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Missing required parameter {name}"))
}

fn secret_hash(secret: &str, username: &str, client_id: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Checks SECRET_HASH for a client with a secret (any of its current secrets; during rotation a
/// client has two). Clients without a secret ignore it, as Cognito does.
pub fn check_secret_hash(
    client: &AppClientView,
    usernames: &[&str],
    given: Option<&str>,
) -> ServiceResult<()> {
    if client.secrets.is_empty() {
        return Ok(());
    }
    let id = &client.record.client_id;
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            format!("Client {id} is configured for secret but secret was not received"),
        ));
    };
    use base64::Engine;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given)
        .unwrap_or_default();
    let ok = client.secrets.iter().any(|s| {
        usernames.iter().any(|u| {
            let expected = secret_hash(s.value.expose(), u, id);
            bool::from(expected.ct_eq(&given))
        })
    });
    if ok {
        Ok(())
    } else {
        Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            format!("Unable to verify secret hash for client {id}"),
        ))
    }
}

/// Checks the raw ClientSecret of GetTokensFromRefreshToken and RevokeToken.
pub fn check_client_secret(client: &AppClientView, given: Option<&str>) -> ServiceResult<()> {
    if client.secrets.is_empty() {
        return Ok(());
    }
    let id = &client.record.client_id;
    match given.filter(|g| !g.is_empty()) {
        None => Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            format!("Client {id} is configured for secret but secret was not received"),
        )),
        Some(g) if secret_matches(&client.secrets, g) => Ok(()),
        Some(_) => Err(CognitoError::new(
            ErrorCode::NotAuthorizedException,
            format!("Unable to verify secret hash for client {id}"),
        )),
    }
}
