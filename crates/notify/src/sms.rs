//! SMS through Amazon SNS `Publish` to a phone number, or any SNS-compatible endpoint.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sns::types::MessageAttributeValue;
use domain::ports::OutboundMessage;

use crate::{Deliverer, DeliveryError};

/// SNS error codes that no retry can cure: the request itself is wrong (an invalid phone number or
/// message, an attribute SNS refuses). Throttling, internal errors, credentials and KMS trouble
/// may pass, so they are retried.
const PERMANENT_SNS_ERRORS: &[&str] = &[
    "InvalidParameter",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "ValidationException",
    "EndpointDisabled",
    "EndpointDisabledException",
];

/// Whether an SNS service error code means the message can never be published.
pub fn sns_error_is_permanent(code: Option<&str>) -> bool {
    code.is_some_and(|c| PERMANENT_SNS_ERRORS.contains(&c))
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct SnsConfig {
    /// None: the region's AWS endpoint.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `AWS.SNS.SMS.SenderID`, where the destination country supports it.
    pub sender_id: Option<String>,
    /// `AWS.SNS.SMS.SMSType`: `Transactional` (the default here) or `Promotional`.
    pub sms_type: Option<String>,
}

/// Never prints the secret.
impl std::fmt::Debug for SnsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("sender_id", &self.sender_id)
            .field("sms_type", &self.sms_type)
            .finish()
    }
}

pub struct SnsDeliverer {
    client: aws_sdk_sns::Client,
    attributes: Vec<(String, String)>,
}

impl SnsDeliverer {
    pub fn new(config: &SnsConfig) -> SnsDeliverer {
        let credentials = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
            None,
            None,
            "gatehouse-configuration",
        );
        let timeouts = aws_sdk_sns::config::timeout::TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(20))
            .build();
        let mut conf = aws_sdk_sns::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .timeout_config(timeouts)
            // The dispatcher retries with its own backoff; one attempt per lease keeps leases short.
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled());
        if let Some(endpoint) = &config.endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        let conf = conf.build();
        let mut attributes = vec![(
            "AWS.SNS.SMS.SMSType".to_string(),
            config
                .sms_type
                .clone()
                .unwrap_or_else(|| "Transactional".into()),
        )];
        if let Some(id) = &config.sender_id {
            attributes.push(("AWS.SNS.SMS.SenderID".into(), id.clone()));
        }
        SnsDeliverer {
            client: aws_sdk_sns::Client::from_conf(conf),
            attributes,
        }
    }
}

#[async_trait]
impl Deliverer for SnsDeliverer {
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let mut publish = self
            .client
            .publish()
            .phone_number(&message.destination)
            .message(&message.body);
        for (name, value) in &self.attributes {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| DeliveryError::permanent(format!("SNS attribute {name}: {e}")))?;
            publish = publish.message_attributes(name, v);
        }
        publish.send().await.map(|_| ()).map_err(|e| {
            use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
            let permanent = match &e {
                SdkError::ServiceError(se) => sns_error_is_permanent(se.err().code()),
                // The request could not even be built.
                SdkError::ConstructionFailure(_) => true,
                _ => false,
            };
            // The SDK's Display is terse ("service error") and its full context dumps the raw
            // response: a service error is logged as its code and message, anything else (no
            // connection, a timeout) with its causes.
            let detail = match &e {
                SdkError::ServiceError(se) => format!(
                    "{}: {}",
                    se.err().code().unwrap_or("unknown error"),
                    se.err().message().unwrap_or_default()
                ),
                other => aws_sdk_sns::error::DisplayErrorContext(other).to_string(),
            };
            let text = format!("SNS Publish: {detail}");
            if permanent {
                DeliveryError::permanent(text)
            } else {
                DeliveryError::transient(text)
            }
        })
    }

    fn name(&self) -> &'static str {
        "sns"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_requests_are_permanent_throttling_is_not() {
        assert!(sns_error_is_permanent(Some("InvalidParameter")));
        assert!(sns_error_is_permanent(Some(
            "InvalidParameterValueException"
        )));
        assert!(!sns_error_is_permanent(Some("Throttling")));
        assert!(!sns_error_is_permanent(Some("InternalError")));
        assert!(!sns_error_is_permanent(Some("AuthorizationError")));
        assert!(!sns_error_is_permanent(None));
    }
}
