//! The fixed SRP group Cognito uses (RFC 3526 3072-bit MODP prime, g = 2), Cognito's `k`,
//! and the "padHex" integer encoding that every hash and the HKDF see.
//!
//! All modular arithmetic lives here so the rest of the crate handles byte strings only.

use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Choice, CtAssign, Limb, NonZero, Odd};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::modexp::Modulus;

/// Size of N in bits; every residue is held at this precision.
const N_BITS: u32 = 3072;

/// RFC 3526 §4 / RFC 5054 Appendix A 3072-bit prime, as in the Cognito client libraries.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// Integers arriving as hex (SRP_A, SRP_B, SALT) longer than this are refused before any
/// arithmetic, so a hostile client cannot make the server divide huge numbers. Honest values
/// are at most 768 hex digits (A and B are reduced mod N).
pub(crate) const MAX_HEX_DIGITS: usize = 2048;

/// `info` of Cognito's one-block HKDF (RFC 5869) that turns S into the 16-byte key.
const HKDF_INFO: &[u8] = b"Caldera Derived Key";

/// Bits of exponent per fixed-base window.
const COMB_WINDOW_BITS: usize = 4;
/// Entries per window (every value a window can take).
const COMB_ENTRIES: usize = 1 << COMB_WINDOW_BITS;
/// Exponents up to this many bytes (256 bits: b, x) use the fixed-base table for g.
const COMB_MAX_BYTES: usize = 32;
const COMB_WINDOWS: usize = COMB_MAX_BYTES * 8 / COMB_WINDOW_BITS;

/// Precomputed group constants, built once per process.
pub(crate) struct Group {
    params: BoxedMontyParams,
    n: NonZero<BoxedUint>,
    /// g = 2 in Montgomery form.
    pub(crate) g: BoxedMontyForm,
    /// Fixed-base table for g: `g_table[w * 16 + j]` is g^(j · 16^w), in Montgomery form.
    /// g^e for a 256-bit e is then 64 multiplications and no squarings, about a quarter of a
    /// generic exponentiation; g^b is a third of every server round and all of
    /// [`crate::Verifier::generate`]. 1024 entries × 384 bytes ≈ 400 KB, built once.
    g_table: Vec<BoxedUint>,
    /// k = H(padHex(N) ‖ padHex(g)) in Montgomery form.
    pub(crate) k: BoxedMontyForm,
    /// N for AWS-LC's exponentiation (see `modexp`).
    modulus: Modulus,
}

pub(crate) fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let n_bytes = hex::decode(N_HEX).expect("N_HEX is valid hex");
        let n = BoxedUint::from_be_slice(&n_bytes, N_BITS).expect("N fits in 3072 bits");
        let params = BoxedMontyParams::new(Odd::new(n.clone()).expect("N is odd"));
        let n = NonZero::new(n).expect("N is non-zero");
        // Cognito's k hashes the padHex encodings (N gets a 00 prefix, g becomes 02) rather than
        // RFC 5054's PAD(g) to |N|; the result differs from the RFC's k.
        let k_digest = hash(&[&pad_hex(&n_bytes), &pad_hex(&[2])]);
        let mut group = Group {
            g: BoxedMontyForm::one(&params),
            k: BoxedMontyForm::one(&params),
            g_table: Vec::new(),
            modulus: Modulus::new(&n_bytes),
            params,
            n,
        };
        group.g = group.residue(&[2]);
        group.k = group.residue(&k_digest);
        group.g_table = g_table(&group.g);
        group
    })
}

fn g_table(g: &BoxedMontyForm) -> Vec<BoxedUint> {
    let mut table = Vec::with_capacity(COMB_WINDOWS * COMB_ENTRIES);
    // g^(16^w) for the current window w.
    let mut window_base = g.clone();
    for _ in 0..COMB_WINDOWS {
        let mut entry = BoxedMontyForm::one(g.params());
        for _ in 0..COMB_ENTRIES {
            table.push(entry.as_montgomery().clone());
            entry = &entry * &window_base;
        }
        // After the loop `entry` is window_base^16 = g^(16^(w+1)).
        window_base = entry;
    }
    table
}

impl Group {
    /// The residue of a big-endian integer of any length, in Montgomery form.
    pub(crate) fn residue(&self, be: &[u8]) -> BoxedMontyForm {
        let be = strip_leading_zeros(be);
        let value = if be.len() * 8 <= N_BITS as usize {
            // Montgomery conversion of any value below 2^3072 already yields a fully reduced
            // residue, so the division is only needed for longer inputs.
            BoxedUint::from_be_slice(be, N_BITS).expect("length checked")
        } else {
            Zeroizing::new(BoxedUint::from_be_slice_vartime(be)).rem(&self.n)
        };
        // `new` converts `value` in place, so no plain copy outlives this call.
        BoxedMontyForm::new(value, &self.params)
    }

    /// Minimal big-endian bytes (no leading zero bytes) of a residue.
    ///
    /// Stripping the zeros takes time that depends on how many there are; that cannot be avoided
    /// because Cognito hashes the minimal encoding, whose length is then visible anyway.
    pub(crate) fn to_be_bytes(&self, value: &BoxedMontyForm) -> Vec<u8> {
        let plain = Zeroizing::new(value.retrieve());
        let full = Zeroizing::new(plain.to_be_bytes());
        strip_leading_zeros(&full).to_vec()
    }

    /// `base^exponent mod N` with a secret-safe (constant-time) ladder whose running time depends
    /// only on the exponent's byte length, never on its value.
    pub(crate) fn pow(&self, base: &BoxedMontyForm, exponent_be: &[u8]) -> BoxedMontyForm {
        let plain = Zeroizing::new(base.retrieve());
        let base_be = Zeroizing::new(plain.to_be_bytes());
        let result = self.modulus.pow(&base_be, exponent_be);
        let value = BoxedUint::from_be_slice(&result, N_BITS).expect("results are below N");
        BoxedMontyForm::new(value, &self.params)
    }

    /// [`Group::pow`] by crypto-bigint's ladder: the reference the AWS-LC path is tested against.
    #[cfg(test)]
    pub(crate) fn pow_portable(&self, base: &BoxedMontyForm, exponent_be: &[u8]) -> BoxedMontyForm {
        let exponent = Zeroizing::new(exponent_int(exponent_be));
        let bits = u32::try_from(exponent_be.len() * 8).expect("exponent length fits in u32");
        base.pow_bounded_exp(&exponent, bits)
    }

    /// g^exponent mod N. Short exponents (≤ 256 bits) use the fixed-base table: every window
    /// does one constant-time scan of its 16 entries and one multiplication, so the time
    /// depends only on the exponent's length. Longer exponents (the JS-sized 1024-bit a, or a
    /// test vector's b) take the generic ladder.
    pub(crate) fn pow_g(&self, exponent_be: &[u8]) -> BoxedMontyForm {
        if exponent_be.len() > COMB_MAX_BYTES {
            return self.pow(&self.g, exponent_be);
        }
        let mut acc = Zeroizing::new(BoxedMontyForm::one(&self.params));
        let mut selected = Zeroizing::new(BoxedMontyForm::one(&self.params));
        // Windows from least significant: byte i from the end holds windows 2i (low nibble)
        // and 2i + 1 (high nibble).
        for (i, &byte) in exponent_be.iter().rev().enumerate() {
            for (half, nibble) in [(0, byte & 0x0f), (1, byte >> 4)] {
                let row = &self.g_table[(2 * i + half) * COMB_ENTRIES..][..COMB_ENTRIES];
                let slot = selected.as_montgomery_mut();
                slot.clone_from(&row[0]);
                for (j, entry) in row.iter().enumerate().skip(1) {
                    slot.ct_assign(entry, Choice::from_u8_eq(j as u8, nibble));
                }
                *acc = &*acc * &*selected;
            }
        }
        (*acc).clone()
    }

    /// `base^exponent mod N` for an exponent already held as an integer (the client's a + u·x).
    pub(crate) fn pow_int(&self, base: &BoxedMontyForm, exponent: &BoxedUint) -> BoxedMontyForm {
        base.pow(exponent)
    }

    /// Minimal lower-case hex of a residue, as `BigInteger.toString(16)` prints it.
    pub(crate) fn to_hex(&self, value: &BoxedMontyForm) -> String {
        int_hex(&self.to_be_bytes(value))
    }
}

/// A big-endian byte string as an unsigned integer whose precision is its length rounded up to
/// whole limbs (so the exponent length, not its value, sets the work).
pub(crate) fn exponent_int(be: &[u8]) -> BoxedUint {
    let bits = u32::try_from(be.len().max(1) * 8)
        .expect("exponent length fits in u32")
        .next_multiple_of(Limb::BITS);
    BoxedUint::from_be_slice(be, bits).expect("precision covers the input")
}

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

pub(crate) fn strip_leading_zeros(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[first..]
}

/// Cognito's padHex as bytes: the minimal big-endian encoding, with a `00` in front when the top
/// bit is set (Java `BigInteger.toByteArray()`), and `00` for zero.
pub(crate) fn pad_hex(be: &[u8]) -> Vec<u8> {
    let be = strip_leading_zeros(be);
    let mut out = Vec::with_capacity(be.len() + 1);
    match be.first() {
        Some(&top) if top & 0x80 == 0 => {}
        _ => out.push(0),
    }
    out.extend_from_slice(be);
    out
}

/// Minimal lower-case hex (no leading zero digit; `0` for zero).
pub(crate) fn int_hex(be: &[u8]) -> String {
    let encoded = hex::encode(strip_leading_zeros(be));
    let trimmed = encoded.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Parses an integer sent as hex the way the JS client's `new BigInteger(s, 16)` does for sane
/// input: either case, odd length allowed, leading zeros allowed. Empty, non-hex or oversized
/// strings are refused.
pub(crate) fn parse_hex_int(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > MAX_HEX_DIGITS {
        return None;
    }
    if s.len() % 2 == 1 {
        hex::decode(format!("0{s}")).ok()
    } else {
        hex::decode(s).ok()
    }
}

/// x = H(padHex(salt) ‖ H(P ‖ U ‖ ":" ‖ password)); P is the pool name (the device group key for
/// device SRP) and U the USER_ID_FOR_SRP (the device key for device SRP).
pub(crate) fn private_key_x(
    salt: &[u8],
    pool: &str,
    user: &str,
    password: &str,
) -> Zeroizing<[u8; 32]> {
    let inner = Zeroizing::new(hash(&[
        pool.as_bytes(),
        user.as_bytes(),
        b":",
        password.as_bytes(),
    ]));
    Zeroizing::new(hash(&[&pad_hex(salt), inner.as_ref()]))
}

/// u = H(padHex(A) ‖ padHex(B)) as its 32-byte digest (callers refuse u == 0).
pub(crate) fn scrambler_u(a_be: &[u8], b_be: &[u8]) -> [u8; 32] {
    hash(&[&pad_hex(a_be), &pad_hex(b_be)])
}

/// K = first 16 bytes of HKDF-SHA256(salt = padHex(u), ikm = padHex(S), info = "Caldera Derived Key").
pub(crate) fn derive_key(u: &[u8; 32], s_be: &[u8]) -> [u8; 16] {
    let ikm = Zeroizing::new(pad_hex(s_be));
    let hkdf = Hkdf::<Sha256>::new(Some(&pad_hex(u)), &ikm);
    let mut key = [0u8; 16];
    hkdf.expand(HKDF_INFO, &mut key)
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_hex_follows_java_to_byte_array() {
        assert_eq!(pad_hex(&[]), vec![0]);
        assert_eq!(pad_hex(&[0, 0]), vec![0]);
        assert_eq!(pad_hex(&[0x7f]), vec![0x7f]);
        assert_eq!(pad_hex(&[0x80]), vec![0, 0x80]);
        assert_eq!(pad_hex(&[0, 0, 0x0a, 0xff]), vec![0x0a, 0xff]);
        assert_eq!(pad_hex(&[0, 0x9f, 0x00]), vec![0, 0x9f, 0x00]);
    }

    #[test]
    fn int_hex_is_minimal() {
        assert_eq!(int_hex(&[0, 0x0a, 0xbc]), "abc");
        assert_eq!(int_hex(&[0x10]), "10");
        assert_eq!(int_hex(&[]), "0");
        assert_eq!(int_hex(&[0, 0]), "0");
    }

    #[test]
    fn parse_hex_int_accepts_odd_length_and_either_case() {
        assert_eq!(parse_hex_int("abc"), Some(vec![0x0a, 0xbc]));
        assert_eq!(parse_hex_int("00ABC0"), Some(vec![0, 0xab, 0xc0]));
        assert_eq!(parse_hex_int(""), None);
        assert_eq!(parse_hex_int("xyz"), None);
        assert_eq!(parse_hex_int(&"1".repeat(MAX_HEX_DIGITS + 1)), None);
    }

    #[test]
    fn residue_reduces_values_of_any_length() {
        let g = group();
        let n = hex::decode(N_HEX).unwrap();
        // N + 5 still fits in 3072 bits; 2N + 5 does not and takes the division path.
        let n_plus_5 = add_small(&n, 5);
        let two_n_plus_5 = add_small(&double(&n), 5);
        assert_eq!(g.to_be_bytes(&g.residue(&n_plus_5)), vec![5]);
        assert_eq!(g.to_be_bytes(&g.residue(&two_n_plus_5)), vec![5]);
        assert!(g.to_be_bytes(&g.residue(&n)).is_empty());
    }

    #[test]
    fn fixed_base_table_agrees_with_the_generic_ladder() {
        let g = group();
        let mut exponents: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![0x0f],
            vec![0x10],
            vec![0xff; 32],
            vec![0; 32],
            (0u8..32).collect(),
            vec![0x80, 0, 0, 1],
        ];
        for seed in 0u8..8 {
            exponents.push(
                (0u8..32)
                    .map(|i| i.wrapping_mul(37).wrapping_add(seed * 11))
                    .collect(),
            );
        }
        for e in &exponents {
            assert_eq!(
                g.to_be_bytes(&g.pow_g(e)),
                g.to_be_bytes(&g.pow(&g.g, e)),
                "exponent {e:02x?}"
            );
        }
        assert_eq!(g.to_be_bytes(&g.pow_g(&[10])), vec![4, 0]);
    }

    #[test]
    fn aws_lc_exponentiation_agrees_with_crypto_bigint() {
        let g = group();
        let n = hex::decode(N_HEX).unwrap();
        let mut n_minus_1 = n.clone();
        *n_minus_1.last_mut().unwrap() -= 1;
        let bases: Vec<Vec<u8>> = vec![
            vec![],
            vec![1],
            vec![2],
            n_minus_1,
            (0u16..384).map(|i| (i * 7 + 3) as u8).collect(),
            vec![0xab; 100],
        ];
        let exponents: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![0; 32],
            vec![0xff; 32],
            (0u8..32).map(|i| i.wrapping_mul(59)).collect(),
            vec![0x80; 128],
            (0u16..384).map(|i| (i * 13) as u8).collect(),
        ];
        for b in &bases {
            let base = g.residue(b);
            for e in &exponents {
                assert_eq!(
                    g.to_be_bytes(&g.pow(&base, e)),
                    g.to_be_bytes(&g.pow_portable(&base, e)),
                    "base {b:02x?} exponent {e:02x?}"
                );
            }
        }
    }

    fn double(be: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; be.len() + 1];
        let mut carry = 0u16;
        for i in (0..be.len()).rev() {
            let v = u16::from(be[i]) * 2 + carry;
            out[i + 1] = v as u8;
            carry = v >> 8;
        }
        out[0] = carry as u8;
        out
    }

    fn add_small(be: &[u8], small: u8) -> Vec<u8> {
        let mut out = be.to_vec();
        let mut carry = u16::from(small);
        for byte in out.iter_mut().rev() {
            let v = u16::from(*byte) + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0, "test helper does not grow the number");
        out
    }
}
