//! The wire error: what goes out as `__type`, `x-amzn-ErrorType` and the HTTP status. Every failure
//! of a request becomes one of these exactly once, at the edge.

use std::borrow::Cow;

use cognito_model::errors::ErrorCode;
use domain::CognitoError;

/// Which key carries the message. Cognito's own exceptions use `message`; the protocol layer's
/// SerializationException is answered with `Message` by the real service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKey {
    Lower,
    Upper,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub type_name: Cow<'static, str>,
    pub status: u16,
    pub message: Option<String>,
    pub message_key: MessageKey,
}

impl ApiError {
    fn protocol(type_name: &'static str, status: u16, message: Option<String>) -> Self {
        ApiError {
            type_name: Cow::Borrowed(type_name),
            status,
            message,
            message_key: MessageKey::Lower,
        }
    }

    /// The target names no operation of the service. Real AWS JSON services answer without a message.
    pub fn unknown_operation() -> Self {
        Self::protocol("UnknownOperationException", 400, None)
    }

    /// The body is not JSON, or a member has the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> Self {
        ApiError {
            type_name: Cow::Borrowed("SerializationException"),
            status: 400,
            message: Some(message.into()),
            message_key: MessageKey::Upper,
        }
    }

    pub fn missing_authentication_token() -> Self {
        Self::protocol(
            "MissingAuthenticationTokenException",
            400,
            Some("Missing Authentication Token".into()),
        )
    }

    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::protocol("IncompleteSignatureException", 400, Some(message.into()))
    }

    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::protocol("InvalidSignatureException", 400, Some(message.into()))
    }

    pub fn signature_mismatch() -> Self {
        Self::invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        )
    }

    pub fn unrecognized_client() -> Self {
        Self::protocol(
            "UnrecognizedClientException",
            400,
            Some("The security token included in the request is invalid.".into()),
        )
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        // Observed on the live service as 400 although the model says 403.
        Self::protocol("AccessDeniedException", 400, Some(message.into()))
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::from(CognitoError::invalid_parameter(message))
    }

    pub fn internal() -> Self {
        Self::from(CognitoError::internal())
    }
}

/// The status sent for a modeled error. The model's `httpError` is the fallback; where captures of
/// the live service show another status, the capture wins (Cognito answers a missing pool with 400).
pub fn wire_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::ResourceNotFoundException | ErrorCode::NotAuthorizedException => 400,
        // A missing user and throttling too come with 400, not the model's 404 and 429
        // (corrections.md #13).
        ErrorCode::UserNotFoundException | ErrorCode::TooManyRequestsException => 400,
        other => other.http_status(),
    }
}

impl From<CognitoError> for ApiError {
    fn from(e: CognitoError) -> Self {
        ApiError {
            type_name: Cow::Borrowed(e.code.name()),
            status: wire_status(e.code),
            message: Some(e.message),
            message_key: MessageKey::Lower,
        }
    }
}
