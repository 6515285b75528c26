//! Amazon Cognito's SRP-6a variant, as used by `USER_SRP_AUTH`, `USER_AUTH` + `PASSWORD_SRP`,
//! `CUSTOM_AUTH` with `SRP_A`, and remembered-device sign-in (`DEVICE_SRP_AUTH`).
//!
//! Follows `shared/reference/srp.md`, not RFC 5054: Cognito hashes big integers in their
//! "padHex" (Java `toByteArray`) form, derives `k = H(padHex(N) ‖ padHex(g))`, and turns S into
//! a 16-byte key with a one-block HKDF whose info is `"Caldera Derived Key"`. Every intermediate
//! value is pinned by `tests/data/srp-test-vector.json`, which matches amazon-cognito-identity-js
//! and pycognito bit for bit.
//!
//! Server round: [`Verifier`] (stored per user / device) → [`ServerChallenge::new`] (SRP_B,
//! secret b sealed into the session) → [`password_authentication_key`] from the client's SRP_A →
//! [`verify_claim_signature`] over the echoed SECRET_BLOCK and TIMESTAMP
//! ([`parse_timestamp`] for the freshness check).
//!
//! # Big integers
//! Modular arithmetic uses RustCrypto's `crypto-bigint` (`BoxedUint` / `BoxedMontyForm`),
//! because the server exponent b, the verifier v and the password-derived x are secrets. Every
//! exponentiation is constant-time in the exponent's value (its running time depends only on
//! the exponent's byte length: 32 bytes for b, u and x). Powers of g use a precomputed
//! fixed-base table (64 multiplications for a 256-bit exponent, each preceded by a
//! constant-time scan of its 16 candidates) instead of the generic windowed ladder, which cuts a
//! server round by about a quarter and [`Verifier::generate`] by about three quarters. What
//! stays variable-time is inherent to the protocol: padHex strips the leading zero bytes of S
//! and v before they are hashed.
//!
//! `crypto-bigint` 0.7 needs Rust 1.87, above the workspace's declared `rust-version`.

pub mod client;
mod encoding;
mod error;
mod group;
mod modexp;
mod server;
mod signature;
mod timestamp;
mod verifier;

#[cfg(test)]
mod vector_tests;

pub use error::SrpError;
pub use server::{password_authentication_key, ServerChallenge};
pub use signature::{claim_signature, secret_hash, verify_claim_signature, verify_secret_hash};
pub use timestamp::{format_timestamp, parse_timestamp};
pub use verifier::{pool_name, Verifier};

/// Builds the group constants and the fixed-base table for g now (about 1 000 modular
/// multiplications, a few ms, once per process) so the first sign-in does not pay for it.
/// Optional: everything builds them lazily on first use.
pub fn precompute() {
    group::group();
}
