//! Lambda-style triggers: the port through which a pool's LambdaConfig ARNs are invoked. The
//! adapter (crates/webhooks) maps each ARN to an endpoint the operator configured.

use serde_json::Value;

/// Why an invocation gave no event back, as the invoker saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvokeError {
    /// The function answered with an error of its own (its `errorMessage`).
    Function(String),
    /// The function could not be reached or did not answer in time, after Cognito's retries.
    Unreachable(String),
    /// The answer was not a JSON event.
    Unrecognizable,
    /// No endpoint is configured for the ARN.
    Unresolved,
}

#[async_trait::async_trait]
pub trait TriggerInvoker: Send + Sync {
    /// Whether an endpoint is configured for `arn`.
    fn resolves(&self, arn: &str) -> bool;
    /// Sends `event` to the function `arn` names and returns the event it answered.
    async fn invoke(&self, arn: &str, event: &Value) -> Result<Value, InvokeError>;
}

/// No endpoints at all: every ARN is unresolved.
pub struct NoTriggers;

#[async_trait::async_trait]
impl TriggerInvoker for NoTriggers {
    fn resolves(&self, _arn: &str) -> bool {
        false
    }
    async fn invoke(&self, _arn: &str, _event: &Value) -> Result<Value, InvokeError> {
        Err(InvokeError::Unresolved)
    }
}
