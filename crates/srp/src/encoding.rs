//! Base64 as the Cognito clients produce and accept it.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard-alphabet base64 decoder that accepts input with or without `=` padding: Node's
/// `Buffer.from(s, 'base64')` (the JS client) does, and we decode values clients produce
/// (SECRET_BLOCK echoes, signatures, device configs). Encoding always uses
/// `general_purpose::STANDARD` (padded), as every client does.
pub(crate) const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
