//! The token issuer (`iss`) of a pool, and the discovery document that names it.

use serde_json::{json, Value};

/// Where tokens say they come from. By default `<public URL>/<pool id>`, so the JWKS is served
/// by this server at `<iss>/.well-known/jwks.json`. A deployment whose apps pin Cognito-style
/// issuers sets a template such as `https://cognito-idp.{region}.amazonaws.com/{pool_id}`.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    pub public_url: String,
    pub template: Option<String>,
}

impl IssuerConfig {
    pub fn new(public_url: impl Into<String>, template: Option<String>) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_string();
        Self {
            public_url,
            template: template.filter(|t| !t.trim().is_empty()),
        }
    }

    pub fn issuer(&self, pool_id: &str) -> String {
        let region = pool_id.split('_').next().unwrap_or_default();
        match &self.template {
            Some(t) => t
                .replace("{public_url}", &self.public_url)
                .replace("{region}", region)
                .replace("{pool_id}", pool_id),
            None => format!("{}/{pool_id}", self.public_url),
        }
    }

    /// The OpenID discovery document, shaped like Cognito's for a pool without a domain: its
    /// OAuth endpoints are placeholders until hosted sign-in exists.
    pub fn openid_configuration(&self, pool_id: &str) -> Value {
        let iss = self.issuer(pool_id);
        json!({
            "authorization_endpoint": format!("{iss}/authorize"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": iss,
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "response_types_supported": ["code", "token"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint": format!("{iss}/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "userinfo_endpoint": format!("{iss}/userInfo"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_templated_issuers() {
        let c = IssuerConfig::new("http://127.0.0.1:9229/", None);
        assert_eq!(
            c.issuer("eu-west-1_abc"),
            "http://127.0.0.1:9229/eu-west-1_abc"
        );
        let c = IssuerConfig::new(
            "http://x",
            Some("https://cognito-idp.{region}.amazonaws.com/{pool_id}".into()),
        );
        assert_eq!(
            c.issuer("eu-west-1_abc"),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        let doc = c.openid_configuration("eu-west-1_abc");
        assert_eq!(
            doc["jwks_uri"],
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
        );
    }
}
