//! Multi-factor sign-in rules, free of storage and wire: TOTP codes (RFC 6238 via totp-rs), which
//! MFA step a sign-in takes, and how a user's MFA preferences change.

pub mod choice;
pub mod preferences;
pub mod totp;

pub use choice::{decide, MfaStep, UserMeans};
