//! SigV4 verification for the signed operations. The signing-key derivation and the signature
//! itself come from `aws-sigv4` (the code the AWS SDKs sign with); this module rebuilds the
//! canonical request exactly as the client signed it and compares in constant time.
//! Derived signing keys are cached per (key, day, region): one HMAC chain per day, not per request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use domain::echo;

use crate::access::{AccessKey, AccessKeys};
use crate::error::ApiError;

pub const SERVICE: &str = "cognito-idp";
/// Allowed difference between the client's clock and ours.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// What a valid signature proves: which key signed, and for which region.
#[derive(Clone, Debug)]
pub struct Verified {
    pub key: Arc<AccessKey>,
    pub region: String,
}

/// The parts of an HTTP request the signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Header (name, value) pairs as received; names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

struct AuthHeader<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_auth_header(raw: &str) -> Result<AuthHeader<'_>, ApiError> {
    let rest = raw.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        ApiError::incomplete_signature(format!(
            "Unsupported authorization type: {}",
            echo(first_word(raw))
        ))
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(ApiError::incomplete_signature(format!(
                "'{}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'.", echo(part), echo(raw)
            )));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (v, name) in [
        (credential, "Credential"),
        (signature, "Signature"),
        (signed_headers, "SignedHeaders"),
    ] {
        if v.is_none() {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::incomplete_signature(format!(
            "{missing}Authorization={}",
            echo(raw)
        )));
    }
    let credential = credential.unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 {
        return Err(ApiError::incomplete_signature(format!(
            "Credential should have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'", echo(credential)
        )));
    }
    Ok(AuthHeader {
        access_key_id: scope[0],
        date: scope[1],
        region: scope[2],
        service: scope[3],
        terminator: scope[4],
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
    })
}

/// A region name as AWS spells them (`us-east-1`): lower-case letters, digits and `-`. The same
/// rule checks the configured regions.
pub fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Headers that change what a request does, or when it was made, and so must be covered by the
/// signature whenever they are sent: the operation (`X-Amz-Target`), how the body is read
/// (`Content-Type`) and the signing time (`X-Amz-Date`). Without this a signature made over
/// `host;x-amz-date` alone could be replayed with another target (review L3). Every AWS SDK signs
/// all three (their signers leave out only authorization, user-agent, expect, trace and hop-by-hop
/// headers); other `x-amz-*` headers are not required, since proxies add some (CloudFront's
/// `X-Amz-Cf-Id`).
const MUST_BE_SIGNED: [(&str, &str); 3] = [
    ("x-amz-target", "X-Amz-Target"),
    ("content-type", "Content-Type"),
    ("x-amz-date", "X-Amz-Date"),
];

fn check_required_signed(req: &SignedRequest<'_>, signed_names: &[&str]) -> Result<(), ApiError> {
    for (name, display) in MUST_BE_SIGNED {
        let present = req.header(name).is_some();
        let signed = signed_names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if present && !signed {
            // Worded as AWS words the same refusal for Host.
            return Err(ApiError::invalid_signature(format!(
                "'{display}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }
    Ok(())
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

const AMZ_DATE: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

fn format_amz(t: OffsetDateTime) -> String {
    t.format(AMZ_DATE).unwrap_or_default()
}

/// Verifies the request's signature; `regions` restricts the credential scope's region when not empty.
pub struct Verifier {
    keys: Arc<AccessKeys>,
    regions: Vec<String>,
    signing_keys: DashMap<(String, String, String), [u8; 32]>,
}

impl Verifier {
    pub fn new(keys: Arc<AccessKeys>, regions: Vec<String>) -> Self {
        Verifier {
            keys,
            regions,
            signing_keys: DashMap::new(),
        }
    }

    pub fn verify(&self, req: &SignedRequest<'_>, now: SystemTime) -> Result<Verified, ApiError> {
        let Some(raw) = req.header("authorization") else {
            return Err(ApiError::missing_authentication_token());
        };
        let raw = std::str::from_utf8(raw).map_err(|_| {
            ApiError::incomplete_signature("Authorization header is not valid text.")
        })?;
        let auth = parse_auth_header(raw)?;
        let Some(amz_date_raw) = req.header("x-amz-date") else {
            return Err(ApiError::incomplete_signature(format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={}", echo(raw)
            )));
        };
        let amz_date = std::str::from_utf8(amz_date_raw).unwrap_or("");
        let signed_at = PrimitiveDateTime::parse(amz_date, AMZ_DATE)
            .map(|t| t.assume_utc())
            .map_err(|_| ApiError::incomplete_signature(format!("Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601", echo(amz_date))))?;
        if auth.service != SERVICE {
            return Err(ApiError::invalid_signature(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        if auth.terminator != "aws4_request" {
            return Err(ApiError::invalid_signature(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                echo(auth.terminator)
            )));
        }
        if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
            return Err(ApiError::invalid_signature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                echo(auth.date),
                amz_date.get(..8).unwrap_or(amz_date),
                echo(amz_date)
            )));
        }
        // The scope's region becomes the region of every pool the call creates or names, so it
        // must be well formed even when any region is accepted.
        if !is_valid_region(auth.region)
            || (!self.regions.is_empty() && !self.regions.iter().any(|r| r == auth.region))
        {
            return Err(ApiError::invalid_signature(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                echo(auth.region)
            )));
        }
        let now_t = OffsetDateTime::from(now);
        let skew = time::Duration::try_from(MAX_SKEW).unwrap_or(time::Duration::minutes(5));
        let mins = MAX_SKEW.as_secs() / 60;
        if signed_at < now_t - skew {
            return Err(ApiError::invalid_signature(format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - {mins} min.)",
                format_amz(now_t - skew),
                format_amz(now_t)
            )));
        }
        if signed_at > now_t + skew {
            return Err(ApiError::invalid_signature(format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + {mins} min.)",
                format_amz(now_t + skew),
                format_amz(now_t)
            )));
        }
        let Some(key) = self.keys.find(auth.access_key_id) else {
            return Err(ApiError::unrecognized_client());
        };
        if req.header("x-amz-security-token").is_some() {
            // Temporary credentials are not issued by Gatehouse, so no session token can be valid.
            return Err(ApiError::unrecognized_client());
        }
        let signed_names: Vec<&str> = auth.signed_headers.split(';').collect();
        if !signed_names.contains(&"host") {
            return Err(ApiError::invalid_signature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        check_required_signed(req, &signed_names)?;
        let canonical = canonical_request(req, &signed_names, auth.signed_headers);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
            auth.date,
            auth.region,
            auth.service,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let signing_key = self.signing_key(&key, signed_at, auth.region);
        let expected =
            aws_sigv4::sign::v4::calculate_signature(signing_key, string_to_sign.as_bytes());
        let given = auth.signature.as_bytes();
        if expected.len() != given.len() || !bool::from(expected.as_bytes().ct_eq(given)) {
            return Err(ApiError::signature_mismatch());
        }
        Ok(Verified {
            key,
            region: auth.region.to_string(),
        })
    }

    fn signing_key(&self, key: &AccessKey, signed_at: OffsetDateTime, region: &str) -> [u8; 32] {
        let day = signed_at.date().to_string();
        let cache_key = (key.id.clone(), day, region.to_string());
        if let Some(k) = self.signing_keys.get(&cache_key) {
            return *k;
        }
        let derived = aws_sigv4::sign::v4::generate_signing_key(
            key.secret(),
            SystemTime::from(signed_at),
            region,
            SERVICE,
        );
        let mut out = [0u8; 32];
        out.copy_from_slice(&derived.as_ref()[..32]);
        // Keys from other days are useless after the skew window; keep the map small.
        if self.signing_keys.len() > 4096 {
            self.signing_keys.clear();
        }
        self.signing_keys.insert(cache_key, out);
        out
    }
}

/// The canonical request of SigV4: method, URI, query, the signed headers, the payload hash.
fn canonical_request(
    req: &SignedRequest<'_>,
    signed_names: &[&str],
    signed_headers: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_names {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (n, v) in req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            let _ = n;
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&normalize_header_value(v));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(&hex::encode(Sha256::digest(req.body)));
    out
}

fn normalize_header_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AccessKey, Policy};

    /// A request signed by the AWS SDK's own signer must verify; one changed byte must not.
    #[test]
    fn verifies_what_aws_sigv4_signs() {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let creds =
            aws_credential_types::Credentials::new("AKIDTEST", "secretsecret", None, None, "test");
        let identity = creds.into();
        let now = SystemTime::now();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("cognito-idp")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let body = br#"{"MaxResults":10}"#;
        let headers = [
            ("host", "127.0.0.1:9229"),
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AWSCognitoIdentityProviderService.ListUserPools",
            ),
        ];
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:9229/",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut all: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        for (k, v) in instructions.headers() {
            all.push((k.to_string(), v.as_bytes().to_vec()));
        }
        let pairs: Vec<(&str, &[u8])> = all
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        let keys = Arc::new(AccessKeys::new(vec![AccessKey::new(
            "AKIDTEST",
            "secretsecret",
            "tester",
            vec![Policy::allow_all()],
        )]));
        let verifier = Verifier::new(keys, vec![]);
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &pairs,
            body,
        };
        let ok = verifier.verify(&req, now).unwrap();
        assert_eq!(ok.region, "eu-west-1");
        assert_eq!(ok.key.id, "AKIDTEST");

        let tampered = SignedRequest {
            body: br#"{"MaxResults":11}"#,
            ..req
        };
        assert_eq!(
            verifier.verify(&tampered, now).unwrap_err().type_name,
            "InvalidSignatureException"
        );

        let late = now + Duration::from_secs(6 * 60);
        let err = verifier
            .verify(&SignedRequest { body, ..tampered }, late)
            .unwrap_err();
        assert!(err.message.unwrap().starts_with("Signature expired: "));
    }

    /// Signs `POST /` over `signed` (plus the signer's own x-amz-date) and returns every header
    /// sent: the signed ones, the signature, and `unsigned` added afterwards.
    fn sign_over(
        region: &str,
        signed: &[(&str, &str)],
        unsigned: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Vec<(String, Vec<u8>)> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let creds =
            aws_credential_types::Credentials::new("AKIDTEST", "secretsecret", None, None, "test");
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("cognito-idp")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:9229/",
            signed.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut all: Vec<(String, Vec<u8>)> = signed
            .iter()
            .chain(unsigned)
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        for (k, v) in instructions.headers() {
            all.push((k.to_string(), v.as_bytes().to_vec()));
        }
        all
    }

    fn verify_all(
        verifier: &Verifier,
        all: &[(String, Vec<u8>)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, ApiError> {
        let pairs: Vec<(&str, &[u8])> = all
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        verifier.verify(
            &SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &pairs,
                body,
            },
            now,
        )
    }

    fn test_verifier(regions: Vec<String>) -> Verifier {
        let keys = Arc::new(AccessKeys::new(vec![AccessKey::new(
            "AKIDTEST",
            "secretsecret",
            "tester",
            vec![Policy::allow_all()],
        )]));
        Verifier::new(keys, regions)
    }

    /// A signature over `host;x-amz-date` alone must not let anyone choose the operation or the
    /// body's content type afterwards (review L3).
    #[test]
    fn target_and_content_type_must_be_signed() {
        let verifier = test_verifier(vec![]);
        let now = SystemTime::now();
        let body = br#"{"UserPoolId":"us-east-1_abc"}"#;
        let host = [("host", "127.0.0.1:9229")];
        let target = (
            "x-amz-target",
            "AWSCognitoIdentityProviderService.DeleteUserPool",
        );
        let json = ("content-type", "application/x-amz-json-1.1");

        let all = sign_over("us-east-1", &host, &[target, json], body, now);
        let err = verify_all(&verifier, &all, body, now).unwrap_err();
        assert_eq!(err.type_name, "InvalidSignatureException");
        assert_eq!(
            err.message.as_deref(),
            Some("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
        );

        let all = sign_over("us-east-1", &[host[0], target], &[json], body, now);
        let err = verify_all(&verifier, &all, body, now).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("'Content-Type' must be a 'SignedHeader' in the AWS Authorization.")
        );

        // What every SDK sends verifies; headers absent from the request need no signature.
        let all = sign_over("us-east-1", &[host[0], target, json], &[], body, now);
        assert!(verify_all(&verifier, &all, body, now).is_ok());
        let all = sign_over("us-east-1", &[host[0], target], &[], body, now);
        assert!(verify_all(&verifier, &all, body, now).is_ok());
    }

    #[test]
    fn x_amz_date_must_be_signed() {
        let verifier = test_verifier(vec![]);
        let now = SystemTime::now();
        let body = b"{}";
        let mut all = sign_over(
            "us-east-1",
            &[
                ("host", "127.0.0.1:9229"),
                (
                    "x-amz-target",
                    "AWSCognitoIdentityProviderService.ListUserPools",
                ),
            ],
            &[],
            body,
            now,
        );
        for (name, value) in all.iter_mut() {
            if name == "authorization" {
                let text = String::from_utf8(value.clone()).unwrap();
                *value = text
                    .replace(";x-amz-date", "")
                    .replace("x-amz-date;", "")
                    .into_bytes();
            }
        }
        let err = verify_all(&verifier, &all, body, now).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        );
    }

    /// With no region list configured, the scope's region still has to look like a region.
    #[test]
    fn scope_region_format_is_checked_without_a_region_list() {
        let verifier = test_verifier(vec![]);
        let now = SystemTime::now();
        let body = b"{}";
        let headers = [
            ("host", "127.0.0.1:9229"),
            (
                "x-amz-target",
                "AWSCognitoIdentityProviderService.ListUserPools",
            ),
        ];
        for bad in ["us_east_1", "US-EAST-1", "eu.west.1"] {
            let all = sign_over(bad, &headers, &[], body, now);
            let err = verify_all(&verifier, &all, body, now).unwrap_err();
            assert_eq!(err.type_name, "InvalidSignatureException", "{bad}");
            assert_eq!(
                err.message.as_deref(),
                Some(
                    format!("Credential should be scoped to a valid region, not '{bad}'. ")
                        .as_str()
                )
            );
        }
        let all = sign_over("ap-south-2", &headers, &[], body, now);
        assert_eq!(
            verify_all(&verifier, &all, body, now).unwrap().region,
            "ap-south-2"
        );
        assert!(is_valid_region("us-gov-west-1"));
        assert!(!is_valid_region(""));
    }
}
