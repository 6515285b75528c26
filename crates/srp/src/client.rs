//! Client side (what amazon-cognito-identity-js does), for Rust end-to-end tests and benchmarks.
//!
//! Not for production clients: it follows the JS client's choices (1024-bit a, no retries) and
//! exists so the server can be exercised without Node.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_bigint::{ConcatenatingMul, Limb, Resize};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::encoding::LENIENT_BASE64;
use crate::group::{
    derive_key, exponent_int, group, int_hex, parse_hex_int, private_key_x, scrambler_u,
};
use crate::signature::claim_signature;
use crate::verifier::Verifier;
use crate::SrpError;

/// Length of the client secret a, as the JS client's `generateRandomSmallA`.
const CLIENT_SECRET_LEN: usize = 128;

/// Length of the random device password before base64, as the JS client's `generateHashDevice`.
const DEVICE_PASSWORD_LEN: usize = 40;

/// Length of a device salt, as the JS client's `generateHashDevice`.
const DEVICE_SALT_LEN: usize = 16;

/// One sign-in attempt's client state: the secret a and A = g^a mod N.
pub struct ClientSession {
    a: Zeroizing<Vec<u8>>,
    /// Minimal big-endian bytes of A.
    big_a: Vec<u8>,
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("a", &"<redacted>")
            .field("srp_a_hex", &self.srp_a_hex())
            .finish()
    }
}

impl Default for ClientSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSession {
    /// Random a (128 bytes, as the JS client).
    pub fn new() -> Self {
        let mut a = Zeroizing::new(vec![0u8; CLIENT_SECRET_LEN]);
        rand::thread_rng().fill_bytes(&mut a);
        Self::with_secret(&a)
    }

    /// A session with a chosen a (big-endian), for test vectors.
    pub fn with_secret(a: &[u8]) -> Self {
        let group = group();
        let big_a = group.to_be_bytes(&group.pow_g(a));
        ClientSession {
            a: Zeroizing::new(a.to_vec()),
            big_a,
        }
    }

    /// SRP_A: lower-case hex of A, not padHex'd.
    pub fn srp_a_hex(&self) -> String {
        int_hex(&self.big_a)
    }

    /// Given the PASSWORD_VERIFIER challenge parameters, the PASSWORD_CLAIM_SIGNATURE.
    ///
    /// `user_id_for_srp` is the challenge's USER_ID_FOR_SRP, `pool_name` the part of the pool id
    /// after '_' ([`crate::pool_name`]).
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        &self,
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
        secret_block_b64: &str,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        let key = self.key(pool_name, user_id_for_srp, password, salt_hex, srp_b_hex)?;
        let secret_block = LENIENT_BASE64
            .decode(secret_block_b64)
            .map_err(|_| SrpError::BadSecretBlock)?;
        Ok(claim_signature(
            &key,
            pool_name,
            user_id_for_srp,
            &secret_block,
            timestamp,
        ))
    }

    /// Same for device SRP (DeviceGroupKey in place of the pool name in x, DeviceKey as
    /// username).
    ///
    /// `_pool_name` is not used: both reference clients (amazon-cognito-identity-js
    /// `getDeviceResponse`, pycognito `process_device_challenge`) put the DeviceGroupKey, not
    /// the pool name, into x *and* into the signed message, and the test vector agrees. It stays
    /// in the signature only because callers were written against it.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_device(
        &self,
        device_group_key: &str,
        device_key: &str,
        device_password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
        secret_block_b64: &str,
        _pool_name: &str,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        self.sign(
            device_group_key,
            device_key,
            device_password,
            salt_hex,
            srp_b_hex,
            secret_block_b64,
            timestamp,
        )
    }

    /// The 16-byte key K the client derives: S = (B − k·g^x)^(a + u·x) mod N.
    pub fn password_authentication_key(
        &self,
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<[u8; 16], SrpError> {
        self.key(pool_name, user_id_for_srp, password, salt_hex, srp_b_hex)
    }

    fn key(
        &self,
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<[u8; 16], SrpError> {
        let (u, s) =
            self.premaster_secret(pool_name, user_id_for_srp, password, salt_hex, srp_b_hex)?;
        Ok(derive_key(&u, &s))
    }

    /// u and the minimal big-endian bytes of S, after the B and u checks.
    pub(crate) fn premaster_secret(
        &self,
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<([u8; 32], Zeroizing<Vec<u8>>), SrpError> {
        let group = group();
        let salt = parse_hex_int(salt_hex).ok_or(SrpError::BadSalt)?;
        let b_bytes = parse_hex_int(srp_b_hex).ok_or(SrpError::BadB)?;
        let big_b = group.residue(&b_bytes);
        if big_b.is_zero().to_bool() {
            return Err(SrpError::BadB);
        }
        let u = scrambler_u(&self.big_a, &b_bytes);
        if u.iter().all(|&byte| byte == 0) {
            return Err(SrpError::BadU);
        }
        let x = private_key_x(&salt, pool_name, user_id_for_srp, password);
        let g_x = Zeroizing::new(group.pow_g(x.as_ref()));
        let base = Zeroizing::new(big_b - &group.k * &*g_x);

        // The exponent a + u·x is a plain integer sum, not reduced (as the JS client computes
        // it); one extra limb holds the carry.
        let a = Zeroizing::new(exponent_int(&self.a));
        let x_int = Zeroizing::new(exponent_int(x.as_ref()));
        let ux = Zeroizing::new(exponent_int(&u).concatenating_mul(&*x_int));
        let bits = a.bits_precision().max(ux.bits_precision()) + Limb::BITS;
        let a_wide = Zeroizing::new((*a).clone().resize(bits));
        let ux_wide = Zeroizing::new((*ux).clone().resize(bits));
        let exponent = Zeroizing::new(a_wide.wrapping_add(&*ux_wide));
        let s = Zeroizing::new(group.pow_int(&base, &exponent));
        Ok((u, Zeroizing::new(group.to_be_bytes(&s))))
    }
}

/// What a client keeps and sends after a sign-in returned NewDeviceMetadata: the random device
/// password (kept) and the verifier (sent in ConfirmDevice via [`Verifier::to_device_config`]).
#[derive(Clone)]
pub struct DeviceSecret {
    pub device_password: String,
    pub verifier: Verifier,
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSecret")
            .field("device_password", &"<redacted>")
            .field("verifier", &self.verifier)
            .finish()
    }
}

/// A new device secret as the JS client's `generateHashDevice` makes it: base64 of 40 random
/// bytes as the password, 16 random bytes of salt.
pub fn generate_device_secret(device_group_key: &str, device_key: &str) -> DeviceSecret {
    let mut rng = rand::thread_rng();
    let mut password = Zeroizing::new([0u8; DEVICE_PASSWORD_LEN]);
    rng.fill_bytes(password.as_mut());
    let mut salt = [0u8; DEVICE_SALT_LEN];
    rng.fill_bytes(&mut salt);
    let device_password = STANDARD.encode(password.as_ref());
    let verifier = Verifier::with_salt(device_group_key, device_key, &device_password, &salt);
    DeviceSecret {
        device_password,
        verifier,
    }
}
