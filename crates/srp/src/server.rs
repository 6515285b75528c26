//! The server's half of one PASSWORD_VERIFIER (or DEVICE_PASSWORD_VERIFIER) round: issue B,
//! then derive the shared key K from the client's A.

use std::fmt;

use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::SrpError;
use crate::group::{derive_key, group, parse_hex_int, scrambler_u};
use crate::verifier::Verifier;

/// Length of a generated server secret b.
///
/// 32 bytes (256 bits) is enough: the best attack on b given B is a discrete logarithm, either
/// in the 3072-bit group (≈128-bit work, the group's own strength) or by Pollard's rho/kangaroo
/// on the exponent, which costs ≈ 2^(bits/2) = 2^128 for a 256-bit b. A longer b (the JS client
/// uses 1024 bits for a) buys no security beyond the group's, but makes each exponentiation
/// proportionally slower. RFC 5054 §2.5.3 likewise asks for at least 256 bits.
const SERVER_SECRET_LEN: usize = 32;

/// Server state for one PASSWORD_VERIFIER round: the secret b (keep it secret; it goes sealed
/// into the session) and B.
#[derive(Clone)]
pub struct ServerChallenge {
    /// The server's ephemeral secret, big-endian. Never log it or send it in the clear.
    pub b: Vec<u8>,
    /// SRP_B: minimal lower-case hex of B = (k·v + g^b) mod N.
    pub srp_b_hex: String,
}

impl fmt::Debug for ServerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerChallenge")
            .field("b", &"<redacted>")
            .field("srp_b_hex", &self.srp_b_hex)
            .finish()
    }
}

impl ServerChallenge {
    /// A fresh random b of 32 bytes and B = k·v + g^b mod N. 256 bits is enough: the best attack
    /// on b is a discrete logarithm costing about 2^128 either way (the 3072-bit group's own
    /// strength, or Pollard's kangaroo on a 256-bit exponent), so a longer b only slows rounds.
    pub fn new(verifier: &Verifier) -> ServerChallenge {
        let mut b = Zeroizing::new(vec![0u8; SERVER_SECRET_LEN]);
        rand::thread_rng().fill_bytes(&mut b);
        ServerChallenge::with_secret(verifier, &b)
    }

    /// B for a given b (the test vector's, or a b recovered from a session).
    pub fn with_secret(verifier: &Verifier, b: &[u8]) -> ServerChallenge {
        let group = group();
        let v = Zeroizing::new(group.residue(&verifier.verifier));
        let g_b = Zeroizing::new(group.pow_g(b));
        let big_b = &group.k * &*v + &*g_b;
        ServerChallenge {
            b: b.to_vec(),
            srp_b_hex: group.to_hex(&big_b),
        }
    }
}

/// K (16 bytes) from the client's SRP_A (hex as sent), the server secret b, B and the verifier.
///
/// S = (A · v^u)^b mod N with u = H(padHex(A) ‖ padHex(B)); K = HKDF(padHex(u), padHex(S)).
/// Refuses A mod N == 0 (`BadA`, which would force S = 0 whatever the password) and u == 0
/// (`BadU`). `srp_b_hex` is the server's own SRP_B as issued; it only enters u.
pub fn password_authentication_key(
    verifier: &Verifier,
    srp_a_hex: &str,
    b: &[u8],
    srp_b_hex: &str,
) -> Result<[u8; 16], SrpError> {
    let (u, s) = premaster_secret(verifier, srp_a_hex, b, srp_b_hex)?;
    Ok(derive_key(&u, &s))
}

/// u and the minimal big-endian bytes of S = (A · v^u)^b mod N, after the A and u checks.
pub(crate) fn premaster_secret(
    verifier: &Verifier,
    srp_a_hex: &str,
    b: &[u8],
    srp_b_hex: &str,
) -> Result<([u8; 32], Zeroizing<Vec<u8>>), SrpError> {
    let group = group();
    let a_bytes = parse_hex_int(srp_a_hex).ok_or(SrpError::BadA)?;
    let big_a = group.residue(&a_bytes);
    // A is public, so branching on it leaks nothing.
    if big_a.is_zero().to_bool() {
        return Err(SrpError::BadA);
    }
    let b_bytes = parse_hex_int(srp_b_hex).ok_or(SrpError::BadB)?;
    // u hashes A as the client sent it (its own unreduced value), exactly as the client does.
    let u = scrambler_u(&a_bytes, &b_bytes);
    if u.iter().all(|&byte| byte == 0) {
        return Err(SrpError::BadU);
    }
    let v = Zeroizing::new(group.residue(&verifier.verifier));
    let v_u = Zeroizing::new(group.pow(&v, &u));
    let base = Zeroizing::new(big_a * &*v_u);
    let s = Zeroizing::new(group.pow(&base, b));
    Ok((u, Zeroizing::new(group.to_be_bytes(&s))))
}
