//! Why an SRP computation was refused.

/// Refusals of SRP inputs. `BadA` and `BadU` are the server-side checks (RFC 5054 §2.5.4 and
/// the clients' own `A mod N` / `u` checks); the others only arise from malformed challenge
/// parameters, which the server produces itself and the test client receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// SRP_A is empty, not hex, absurdly long, or A mod N == 0.
    #[error("SRP_A is not a usable value")]
    BadA,
    /// u = H(padHex(A) ‖ padHex(B)) is zero.
    #[error("the SRP scrambling parameter u is zero")]
    BadU,
    /// SRP_B is empty, not hex, absurdly long, or B mod N == 0.
    #[error("SRP_B is not a usable value")]
    BadB,
    /// SALT is empty or not hex (client side only).
    #[error("SALT is not a usable value")]
    BadSalt,
    /// SECRET_BLOCK is not base64 (client side only).
    #[error("SECRET_BLOCK is not base64")]
    BadSecretBlock,
}
