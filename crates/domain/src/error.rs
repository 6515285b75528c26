//! The one error a service call returns: a Cognito error code and a message in Cognito's style.
//! The protocol layer turns it into `__type`, `x-amzn-ErrorType` and the HTTP status; nothing else does.

use cognito_model::errors::ErrorCode;

use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct CognitoError {
    pub code: ErrorCode,
    pub message: String,
}

pub type ServiceResult<T> = Result<T, CognitoError>;

/// At most this many characters of a caller's value are quoted back in a message.
pub const ECHO_LIMIT: usize = 256;

/// `value` as a message quotes it: cut at [`ECHO_LIMIT`] characters and marked `...`, so that an
/// answer (and its `x-amzn-ErrorMessage` header) does not grow with the input.
pub fn echo(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}...", &value[..cut]).into(),
        None => value.into(),
    }
}

impl CognitoError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterException, message)
    }
    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, message)
    }
    pub fn pool_not_found(pool_id: &str) -> Self {
        Self::resource_not_found(format!("User pool {} does not exist.", echo(pool_id)))
    }
    /// Cognito's throttling answer: a rate limit, or no room to queue CPU-heavy work.
    pub fn rate_exceeded() -> Self {
        Self::new(ErrorCode::TooManyRequestsException, "Rate exceeded")
    }
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalErrorException,
            "An internal error occurred.",
        )
    }
}

impl From<StoreError> for CognitoError {
    fn from(e: StoreError) -> Self {
        // The detail goes to the log; the client gets Cognito's generic internal error.
        tracing::error!(error = %e, "storage failure");
        CognitoError::internal()
    }
}
