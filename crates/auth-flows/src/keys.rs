//! Token signing keys: one RSA key per pool for ID tokens and one for access tokens (as Cognito
//! does), made on first need, sealed in the store, cached per node, rotatable. Retired keys stay in
//! the JWKS until every token they signed has expired.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::RsaKeyPair;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use dashmap::DashMap;
use domain::ports::{Clock, KeyPurpose, SigningKeyRecord, Store};
use domain::{CognitoError, ServiceResult};
use jsonwebtoken::DecodingKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Cached key sets are re-read this often, so a rotation on another node shows up here.
const TTL: Duration = Duration::from_secs(60);
/// ID and access tokens live at most one day: a retired key is published that much longer.
const MAX_TOKEN_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;
const RSA_BITS: usize = 2048;

/// A pool's keys, ready to sign and verify.
pub struct PoolKeys {
    signing: HashMap<KeyPurpose, (String, RsaKeyPair)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: Value,
    /// A secret derived from the pool's private key material, for values that must be stable
    /// across nodes and unguessable (the decoy SRP challenge of unknown users).
    decoy: [u8; 32],
}

impl PoolKeys {
    pub fn signer(&self, purpose: KeyPurpose) -> Option<(&str, &RsaKeyPair)> {
        self.signing
            .get(&purpose)
            .map(|(kid, key)| (kid.as_str(), key))
    }

    pub fn verifier(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn decoy_key(&self) -> &[u8; 32] {
        &self.decoy
    }
}

#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache: Arc<DashMap<String, (Arc<PoolKeys>, Instant)>>,
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> CognitoError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        CognitoError::internal()
    }
}

/// A new RSA key. Its kid is the standard base64 of the SHA-256 of its public key, the form of
/// Cognito's own kids.
fn generate(pool_id: &str, purpose: KeyPurpose, now_ms: i64) -> ServiceResult<SigningKeyRecord> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .map_err(internal("RSA key generation failed"))?;
    let der = key
        .to_pkcs1_der()
        .map_err(internal("RSA key encoding failed"))?;
    let public = key
        .to_public_key()
        .to_pkcs1_der()
        .map_err(internal("RSA key encoding failed"))?;
    Ok(SigningKeyRecord {
        pool_id: pool_id.to_string(),
        kid: STANDARD.encode(Sha256::digest(public.as_bytes())),
        purpose,
        private_pkcs1_der: der.as_bytes().to_vec(),
        modulus: key.n().to_bytes_be(),
        exponent: key.e().to_bytes_be(),
        created_ms: now_ms,
        retired_ms: None,
    })
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cache: Arc::new(DashMap::new()),
        }
    }

    /// The pool's keys, creating the current ones when the pool has none yet.
    pub async fn keys(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        if let Some(e) = self.cache.get(pool_id) {
            if e.1.elapsed() < TTL {
                return Ok(e.0.clone());
            }
        }
        self.reload(pool_id).await
    }

    /// Reads the keys again (a token named a kid this node has not seen: maybe a rotation).
    pub async fn reload(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        let mut records = self.store.signing_keys(pool_id).await?;
        for purpose in [KeyPurpose::Id, KeyPurpose::Access] {
            let has_current = records
                .iter()
                .any(|k| k.purpose == purpose && k.retired_ms.is_none());
            if has_current {
                continue;
            }
            let now = self.clock.now_ms();
            let pid = pool_id.to_string();
            let key = tokio::task::spawn_blocking(move || generate(&pid, purpose, now))
                .await
                .map_err(internal("key generation task failed"))??;
            // Another node may have made one at the same moment: then use the winner.
            self.store.insert_signing_key(&key).await?;
            records = self.store.signing_keys(pool_id).await?;
        }
        let keys = Arc::new(self.build(records)?);
        self.cache
            .insert(pool_id.to_string(), (keys.clone(), Instant::now()));
        Ok(keys)
    }

    fn build(&self, records: Vec<SigningKeyRecord>) -> ServiceResult<PoolKeys> {
        let now = self.clock.now_ms();
        let mut signing = HashMap::new();
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        let mut decoy = Sha256::new();
        decoy.update(b"gatehouse decoy key");
        for k in records {
            let still_valid = k.retired_ms.is_none_or(|r| now < r + MAX_TOKEN_LIFETIME_MS);
            if !still_valid {
                continue;
            }
            if k.retired_ms.is_none() {
                decoy.update(&k.private_pkcs1_der);
                // AWS-LC signs an RS256 token in about half the time ring takes, and every
                // sign-in signs two.
                let pair = RsaKeyPair::from_der(&k.private_pkcs1_der)
                    .map_err(internal("stored RSA key rejected"))?;
                signing.insert(k.purpose, (k.kid.clone(), pair));
            }
            verifying.insert(
                k.kid.clone(),
                DecodingKey::from_rsa_raw_components(&k.modulus, &k.exponent),
            );
            published.push(json!({
                "alg": "RS256",
                "e": URL_SAFE_NO_PAD.encode(&k.exponent),
                "kid": k.kid,
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(&k.modulus),
                "use": "sig",
            }));
        }
        Ok(PoolKeys {
            signing,
            verifying,
            jwks: json!({ "keys": published }),
            decoy: decoy.finalize().into(),
        })
    }

    /// Retires the pool's current keys; new ones sign from the next token on. Old ones stay
    /// published (and accepted) until their tokens have expired.
    pub async fn rotate(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        self.store
            .retire_signing_keys(pool_id, self.clock.now_ms())
            .await?;
        self.cache.remove(pool_id);
        self.reload(pool_id).await
    }
}
