//! Token signing keys: one RSA key per pool for ID tokens and one for access tokens (as Cognito
//! does), made on first need, sealed in the store, cached per node, rotatable. Retired keys stay in
//! the JWKS until every token they signed has expired.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::RsaKeyPair;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use dashmap::DashMap;
use domain::ports::{Clock, KeyPurpose, SigningKeyRecord, Store};
use domain::{CognitoError, ServiceResult};
use jsonwebtoken::DecodingKey;
use rsa::pkcs1::der::Decode;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Cached key sets are re-read this often, so a rotation on another node shows up here.
const TTL: Duration = Duration::from_secs(60);
/// A token naming a kid the cached keys lack makes this node re-read the pool's keys (a rotation
/// elsewhere), but at most once per this interval per pool: forged tokens with random kids would
/// otherwise cost a database read and two key openings each. A rotation is picked up at once
/// unless a re-read happened in the last few seconds; then after them.
pub const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// RSA key generation takes a core for a good fraction of a second: at most this many run at once
/// on a node, whatever the number of pools or requesters.
const MAX_CONCURRENT_KEY_GENERATIONS: usize = 2;
/// ID and access tokens live at most one day: a retired key is published that much longer.
const MAX_TOKEN_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;
const RSA_BITS: usize = 2048;

/// A pool's keys, ready to sign and verify.
pub struct PoolKeys {
    signing: HashMap<KeyPurpose, (String, RsaKeyPair)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: Value,
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
}

#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Each pool's keys and when the read that produced them began.
    cache: Arc<DashMap<String, (Arc<PoolKeys>, Instant)>>,
    /// One read (and key generation) per pool at a time: concurrent requesters wait for it and
    /// share its result instead of each reading and generating.
    loading: Arc<DashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When a token with an unknown kid last made this node re-read a pool's keys.
    unknown_kid_reads: Arc<DashMap<String, Instant>>,
    generations: Arc<tokio::sync::Semaphore>,
    /// Reads of signing keys from the store, for /metrics (and tests of the limits above).
    reads: Arc<AtomicU64>,
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

/// The public half of a PKCS#1 private key: big-endian modulus and exponent.
fn public_components(private_pkcs1_der: &[u8]) -> ServiceResult<(Vec<u8>, Vec<u8>)> {
    let key = rsa::pkcs1::RsaPrivateKey::from_der(private_pkcs1_der)
        .map_err(internal("stored RSA key rejected"))?;
    Ok((
        key.modulus.as_bytes().to_vec(),
        key.public_exponent.as_bytes().to_vec(),
    ))
}

/// Which cached keys a load may answer with instead of reading.
#[derive(Clone, Copy)]
enum Accept {
    /// Keys younger than the TTL.
    Fresh,
    /// Keys read from a read that began at or after this instant.
    ReadSince(Instant),
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cache: Arc::new(DashMap::new()),
            loading: Arc::new(DashMap::new()),
            unknown_kid_reads: Arc::new(DashMap::new()),
            generations: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_KEY_GENERATIONS)),
            reads: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times this node has read signing keys from the store.
    pub fn key_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn cached(&self, pool_id: &str, accept: Accept) -> Option<Arc<PoolKeys>> {
        let e = self.cache.get(pool_id)?;
        let usable = match accept {
            Accept::Fresh => e.1.elapsed() < TTL,
            Accept::ReadSince(t) => e.1 >= t,
        };
        usable.then(|| e.0.clone())
    }

    /// The pool's keys, creating the current ones when the pool has none yet.
    pub async fn keys(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        if let Some(k) = self.cached(pool_id, Accept::Fresh) {
            return Ok(k);
        }
        self.load(pool_id, Accept::Fresh).await
    }

    /// Reads the keys again, now (after a rotation by this node, or on an operator's request).
    pub async fn reload(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        self.load(pool_id, Accept::ReadSince(Instant::now())).await
    }

    /// The pool's keys for verifying a token that names `kid`. A kid the cached keys lack may be a
    /// rotation on another node, so the keys are read again, but only once per
    /// UNKNOWN_KID_RELOAD_INTERVAL per pool: in between, such tokens are checked against the keys
    /// that read found (and a forged kid is refused without touching the database).
    pub async fn keys_for_kid(&self, pool_id: &str, kid: &str) -> ServiceResult<Arc<PoolKeys>> {
        let keys = self.keys(pool_id).await?;
        if keys.verifier(kid).is_some() {
            return Ok(keys);
        }
        let now = Instant::now();
        let since = {
            let mut last = self
                .unknown_kid_reads
                .entry(pool_id.to_string())
                .or_insert(now);
            if now.duration_since(*last) >= UNKNOWN_KID_RELOAD_INTERVAL {
                *last = now;
            }
            *last
        };
        self.load(pool_id, Accept::ReadSince(since)).await
    }

    /// Reads the pool's keys unless a read `accept` allows has finished meanwhile. Requesters of
    /// one pool queue on its lock, so a burst of them costs one read (and at most one key
    /// generation per purpose) on this node.
    async fn load(&self, pool_id: &str, accept: Accept) -> ServiceResult<Arc<PoolKeys>> {
        let lock = self.loading.entry(pool_id.to_string()).or_default().clone();
        let _turn = lock.lock().await;
        if let Some(k) = self.cached(pool_id, accept) {
            return Ok(k);
        }
        let started = Instant::now();
        let keys = Arc::new(self.read(pool_id).await?);
        self.cache
            .insert(pool_id.to_string(), (keys.clone(), started));
        Ok(keys)
    }

    async fn read(&self, pool_id: &str) -> ServiceResult<PoolKeys> {
        self.reads.fetch_add(1, Ordering::Relaxed);
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
            let _permit = self
                .generations
                .acquire()
                .await
                .map_err(internal("key generation limiter closed"))?;
            let key = tokio::task::spawn_blocking(move || generate(&pid, purpose, now))
                .await
                .map_err(internal("key generation task failed"))??;
            // Another node may have made one at the same moment: then use the winner.
            self.store.insert_signing_key(&key).await?;
            self.reads.fetch_add(1, Ordering::Relaxed);
            records = self.store.signing_keys(pool_id).await?;
        }
        build(self.clock.now_ms(), records)
    }

    /// Retires the pool's current keys; new ones sign from the next token on. Old ones stay
    /// published (and accepted) until their tokens have expired.
    pub async fn rotate(&self, pool_id: &str) -> ServiceResult<Arc<PoolKeys>> {
        self.store
            .retire_signing_keys(pool_id, self.clock.now_ms())
            .await?;
        self.reload(pool_id).await
    }
}

/// The keys of `records`. Public keys (for verifying and the JWKS) come from the opened private
/// key, which the store authenticates with the key-encryption key: the plain modulus and
/// exponent columns beside it could be rewritten by anyone who can write the database.
fn build(now: i64, records: Vec<SigningKeyRecord>) -> ServiceResult<PoolKeys> {
    let mut signing = HashMap::new();
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for k in records {
        let still_valid = k.retired_ms.is_none_or(|r| now < r + MAX_TOKEN_LIFETIME_MS);
        if !still_valid {
            continue;
        }
        if k.retired_ms.is_none() {
            // AWS-LC signs an RS256 token in about half the time ring takes, and every
            // sign-in signs two.
            let pair = RsaKeyPair::from_der(&k.private_pkcs1_der)
                .map_err(internal("stored RSA key rejected"))?;
            signing.insert(k.purpose, (k.kid.clone(), pair));
        }
        let (modulus, exponent) = public_components(&k.private_pkcs1_der)?;
        if modulus != k.modulus || exponent != k.exponent {
            tracing::warn!(
                pool_id = %k.pool_id,
                kid = %k.kid,
                "a signing key's stored public key differs from its sealed private key; \
                 the sealed key is used (was the database written to?)"
            );
        }
        verifying.insert(
            k.kid.clone(),
            DecodingKey::from_rsa_raw_components(&modulus, &exponent),
        );
        published.push(json!({
            "alg": "RS256",
            "e": URL_SAFE_NO_PAD.encode(&exponent),
            "kid": k.kid,
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(&modulus),
            "use": "sig",
        }));
    }
    Ok(PoolKeys {
        signing,
        verifying,
        jwks: json!({ "keys": published }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_come_from_the_sealed_private_key_not_the_plain_columns() {
        let real = generate("p", KeyPurpose::Access, 0).unwrap();
        let other = generate("p", KeyPurpose::Id, 0).unwrap();
        let mut tampered = real.clone();
        tampered.modulus = other.modulus.clone();
        let keys = build(1, vec![tampered]).unwrap();
        let published = &keys.jwks()["keys"][0];
        assert_eq!(published["n"], URL_SAFE_NO_PAD.encode(&real.modulus));
        assert_eq!(published["e"], URL_SAFE_NO_PAD.encode(&real.exponent));
        // A token signed by the other key does not verify under this kid.
        let sign = |k: &SigningKeyRecord| {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some(real.kid.clone());
            jsonwebtoken::encode(
                &header,
                &json!({"sub": "s"}),
                &jsonwebtoken::EncodingKey::from_rsa_der(&k.private_pkcs1_der),
            )
            .unwrap()
        };
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let key = keys.verifier(&real.kid).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&sign(&real), key, &v).is_ok());
        assert!(jsonwebtoken::decode::<Value>(&sign(&other), key, &v).is_err());
    }
}
