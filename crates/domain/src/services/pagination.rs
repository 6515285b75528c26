//! Opaque pagination tokens. A token names the last key of the previous page (keyset paging, never
//! OFFSET), so pages stay complete and free of duplicates while rows come and go between calls.

use crate::error::CognitoError;

const PREFIX: &str = "gh1.";

/// Encodes the last key of a page as an opaque token (`[\S]+`, as the model asks).
pub fn encode(last_key: &str) -> String {
    let mut out = String::with_capacity(PREFIX.len() + last_key.len() * 2);
    out.push_str(PREFIX);
    for b in last_key.as_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Decodes a token made by [`encode`]; anything else is Cognito's invalid-token error.
pub fn decode(token: &str) -> Result<String, CognitoError> {
    let bad = || CognitoError::invalid_parameter("Invalid pagination token.");
    let hex = token.strip_prefix(PREFIX).ok_or_else(bad)?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let key = String::from_utf8(bytes).map_err(|_| bad())?;
    // No key we issue holds a control character, and Postgres cannot compare text with a NUL.
    if key.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let t = encode("us-east-1_Abc");
        assert!(!t.contains(char::is_whitespace));
        assert_eq!(decode(&t).unwrap(), "us-east-1_Abc");
        assert!(decode("nonsense").is_err());
        assert!(decode("gh1.0").is_err());
        assert!(decode("gh1.zz").is_err());
        assert!(decode("gh1.00").is_err());
        assert!(decode("gh1.610a").is_err());
    }
}
