//! ProviderDetails per provider type: what Cognito requires, and the fixed values it fills in for
//! the social providers. Nothing is fetched over the network (OIDC discovery, SAML MetadataURL).

use std::collections::BTreeMap;

use cognito_model::shapes::IdentityProviderTypeType as T;

use super::saml;
use crate::error::{CognitoError, ServiceResult};

pub type Details = BTreeMap<String, String>;

/// Facebook's Graph API version when the request names none.
const DEFAULT_FACEBOOK_API_VERSION: &str = "v17.0";

/// Keys that are secrets and are never returned (SignInWithApple's private key).
pub const WRITE_ONLY_KEYS: &[&str] = &["private_key"];

/// The attribute Cognito maps `username` to when the mapping names none.
pub fn default_username_source(t: T) -> Option<&'static str> {
    match t {
        T::Google | T::SignInWithApple | T::Oidc => Some("sub"),
        T::Facebook => Some("id"),
        T::LoginWithAmazon => Some("user_id"),
        T::Saml => None,
    }
}

/// The social types whose provider name must be the type's own name.
pub fn is_social(t: T) -> bool {
    matches!(
        t,
        T::Google | T::Facebook | T::LoginWithAmazon | T::SignInWithApple
    )
}

fn has(d: &Details, key: &str) -> bool {
    d.get(key).is_some_and(|v| !v.trim().is_empty())
}

fn require(d: &Details, keys: &[&str], message: &str) -> ServiceResult<()> {
    if keys.iter().all(|k| has(d, k)) {
        Ok(())
    } else {
        Err(CognitoError::invalid_parameter(message))
    }
}

/// Validates the details the client gave and returns what Cognito stores and answers: the given
/// details plus the fixed endpoints of the social providers.
pub fn complete(t: T, given: &Details) -> ServiceResult<Details> {
    let mut d = given.clone();
    let mut set = |k: &str, v: &str| {
        d.insert(k.to_string(), v.to_string());
    };
    match t {
        T::Google => {
            require(
                given,
                &["client_id", "client_secret", "authorize_scopes"],
                "client_id, client_secret and authorize_scopes are all required idp details",
            )?;
            set(
                "attributes_url",
                "https://people.googleapis.com/v1/people/me?personFields=",
            );
            set("attributes_url_add_attributes", "true");
            set(
                "authorize_url",
                "https://accounts.google.com/o/oauth2/v2/auth",
            );
            set("oidc_issuer", "https://accounts.google.com");
            set("token_request_method", "POST");
            set("token_url", "https://www.googleapis.com/oauth2/v4/token");
        }
        T::Facebook => {
            require(
                given,
                &["client_id", "client_secret", "authorize_scopes"],
                "client_id, client_secret and authorize_scopes are all required idp details",
            )?;
            let v = given
                .get("api_version")
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| DEFAULT_FACEBOOK_API_VERSION.to_string());
            set(
                "attributes_url",
                &format!("https://graph.facebook.com/{v}/me?fields="),
            );
            set("attributes_url_add_attributes", "true");
            set(
                "authorize_url",
                &format!("https://www.facebook.com/{v}/dialog/oauth"),
            );
            set("token_request_method", "GET");
            set(
                "token_url",
                &format!("https://graph.facebook.com/{v}/oauth/access_token"),
            );
        }
        T::LoginWithAmazon => {
            require(
                given,
                &["client_id", "client_secret", "authorize_scopes"],
                "client_id, client_secret and authorize_scopes are all required idp details",
            )?;
            set("attributes_url", "https://api.amazon.com/user/profile");
            set("attributes_url_add_attributes", "false");
            set("authorize_url", "https://www.amazon.com/ap/oa");
            set("token_request_method", "POST");
            set("token_url", "https://api.amazon.com/auth/o2/token");
        }
        T::SignInWithApple => {
            require(
                given,
                &["client_id", "private_key", "team_id", "key_id"],
                "client_id, private_key, team_id, and key_id are all required idp details",
            )?;
            set("attributes_url_add_attributes", "false");
            set("authorize_url", "https://appleid.apple.com/auth/authorize");
            set("oidc_issuer", "https://appleid.apple.com");
            set("token_request_method", "POST");
            set("token_url", "https://appleid.apple.com/auth/token");
        }
        T::Oidc => {
            require(
                given,
                &[
                    "client_id",
                    "authorize_scopes",
                    "oidc_issuer",
                    "attributes_request_method",
                ],
                "client_id, authorize_scopes, oidc_issuer and attributes_request_method are all required idp details",
            )?;
            let method = given
                .get("attributes_request_method")
                .map(String::as_str)
                .unwrap_or_default();
            if method != "GET" && method != "POST" {
                return Err(CognitoError::invalid_parameter(format!(
                    "attributes_request_method must be GET or POST, not {method}"
                )));
            }
            d.entry("attributes_url_add_attributes".to_string())
                .or_insert_with(|| "false".to_string());
        }
        T::Saml => {
            let url = has(given, "MetadataURL");
            let file = has(given, "MetadataFile");
            if !url && !file {
                return Err(CognitoError::invalid_parameter(
                    "At least one of the MetadataURL or MetadataFile should be provided.",
                ));
            }
            if file {
                let xml = given.get("MetadataFile").map(String::as_str).unwrap_or("");
                let sso = saml::redirect_location(xml, "SingleSignOnService").ok_or_else(|| {
                    CognitoError::invalid_parameter(
                        "No SingleSignOn Http redirect binding location found in metadata.",
                    )
                })?;
                d.insert("SSORedirectBindingURI".to_string(), sso);
                if let Some(slo) = saml::redirect_location(xml, "SingleLogoutService") {
                    d.insert("SLORedirectBindingURI".to_string(), slo);
                }
            }
        }
    }
    Ok(d)
}

/// The details as answered: write-only secrets removed.
pub fn visible(d: &Details) -> Details {
    d.iter()
        .filter(|(k, _)| !WRITE_ONLY_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
