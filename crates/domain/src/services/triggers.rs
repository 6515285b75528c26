//! Lambda triggers as Cognito runs them: which ARN of the pool's LambdaConfig a trigger uses, the
//! event Cognito sends (the common envelope with `response` pre-filled with its defaults), and how
//! a failure reaches the caller (../shared/reference/triggers.md §2–§4).
//!
//! Built so far: PreSignUp (SignUp, AdminCreateUser), PostConfirmation (ConfirmSignUp, sign-ups
//! a PreSignUp confirmed, ConfirmForgotPassword), PreAuthentication, PostAuthentication and
//! PreTokenGeneration (auth-flows/src/pre_token.rs) and UserMigration (directory/migration.rs).
//! The rest of issue 16 is open.

use std::sync::Arc;

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::LambdaConfigType;
use serde_json::{json, Map, Value};

use crate::error::{CognitoError, ServiceResult};
use crate::ports::{InvokeError, NoTriggers, TriggerInvoker, UserPoolView, UserRecord};

/// The triggers, by their LambdaConfig names (which are also the names Cognito's messages use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    UserMigration,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::UserMigration => "UserMigration",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
        }
    }

    fn arn(self, c: &LambdaConfigType) -> Option<&str> {
        match self {
            Trigger::PreSignUp => c.pre_sign_up.as_deref(),
            Trigger::PostConfirmation => c.post_confirmation.as_deref(),
            Trigger::PreAuthentication => c.pre_authentication.as_deref(),
            Trigger::PostAuthentication => c.post_authentication.as_deref(),
            // The versioned configuration wins; the legacy key must name the same function.
            Trigger::PreTokenGeneration => c
                .pre_token_generation_config
                .as_ref()
                .and_then(|v| v.lambda_arn.as_deref())
                .or(c.pre_token_generation.as_deref()),
            Trigger::UserMigration => c.user_migration.as_deref(),
            Trigger::DefineAuthChallenge => c.define_auth_challenge.as_deref(),
            Trigger::CreateAuthChallenge => c.create_auth_challenge.as_deref(),
            Trigger::VerifyAuthChallengeResponse => c.verify_auth_challenge_response.as_deref(),
        }
    }
}

/// Every function ARN a LambdaConfig names, with the key that names it.
fn configured_arns(c: &LambdaConfigType) -> Vec<(&'static str, &str)> {
    let plain = [
        ("PreSignUp", &c.pre_sign_up),
        ("CustomMessage", &c.custom_message),
        ("PostConfirmation", &c.post_confirmation),
        ("PreAuthentication", &c.pre_authentication),
        ("PostAuthentication", &c.post_authentication),
        ("DefineAuthChallenge", &c.define_auth_challenge),
        ("CreateAuthChallenge", &c.create_auth_challenge),
        (
            "VerifyAuthChallengeResponse",
            &c.verify_auth_challenge_response,
        ),
        ("PreTokenGeneration", &c.pre_token_generation),
        ("UserMigration", &c.user_migration),
    ];
    let mut out: Vec<(&'static str, &str)> = plain
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|a| (k, a)))
        .collect();
    let versioned = [
        (
            "PreTokenGenerationConfig",
            c.pre_token_generation_config
                .as_ref()
                .and_then(|v| v.lambda_arn.as_deref()),
        ),
        (
            "CustomSMSSender",
            c.custom_sms_sender
                .as_ref()
                .and_then(|v| v.lambda_arn.as_deref()),
        ),
        (
            "CustomEmailSender",
            c.custom_email_sender
                .as_ref()
                .and_then(|v| v.lambda_arn.as_deref()),
        ),
        (
            "InboundFederation",
            c.inbound_federation
                .as_ref()
                .and_then(|v| v.lambda_arn.as_deref()),
        ),
    ];
    out.extend(versioned.into_iter().filter_map(|(k, v)| v.map(|a| (k, a))));
    out
}

/// Who triggered the event: the app client, when there is one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caller<'a> {
    pub client_id: Option<&'a str>,
}

#[derive(Clone)]
pub struct Triggers {
    invoker: Arc<dyn TriggerInvoker>,
    /// A LambdaConfig may name ARNs no endpoint is configured for; invoking one then fails as
    /// an invocation Cognito cannot make fails.
    allow_unresolved: bool,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            invoker: Arc::new(NoTriggers),
            allow_unresolved: true,
        }
    }
}

impl Triggers {
    pub fn new(invoker: Arc<dyn TriggerInvoker>, allow_unresolved: bool) -> Self {
        Triggers {
            invoker,
            allow_unresolved,
        }
    }

    /// CreateUserPool / UpdateUserPool: every ARN must resolve to a configured endpoint, unless
    /// the operator allows unresolved ARNs.
    pub fn check_lambda_config(&self, c: Option<&LambdaConfigType>) -> ServiceResult<()> {
        if self.allow_unresolved {
            return Ok(());
        }
        for (key, arn) in c.map(configured_arns).unwrap_or_default() {
            if !self.invoker.resolves(arn) {
                return Err(CognitoError::invalid_parameter(format!(
                    "The {key} Lambda function {} cannot be invoked: no trigger endpoint is configured for it.",
                    crate::error::echo(arn)
                )));
            }
        }
        Ok(())
    }

    /// The ARN the pool configured for `trigger`, if any.
    pub fn arn_of(pool: &UserPoolView, trigger: Trigger) -> Option<&str> {
        pool.record
            .settings
            .pool
            .lambda_config
            .as_ref()
            .and_then(|c| trigger.arn(c))
            .filter(|a| !a.is_empty())
    }

    /// Whether the pool has `trigger` configured.
    pub fn configured(pool: &UserPoolView, trigger: Trigger) -> bool {
        Self::arn_of(pool, trigger).is_some()
    }

    /// A trigger whose answer carries nothing (PostConfirmation, PreAuthentication,
    /// PostAuthentication): only its failure matters.
    pub async fn notify(
        &self,
        pool: &UserPoolView,
        trigger: Trigger,
        source: &str,
        user_name: &str,
        client_id: &str,
        request: Value,
    ) -> ServiceResult<()> {
        let caller = Caller {
            client_id: Some(client_id),
        };
        self.invoke(pool, trigger, source, user_name, caller, request, json!({}))
            .await
            .map(drop)
    }

    /// Invokes `trigger` with the envelope Cognito sends around `request` and the pre-filled
    /// `response`, and returns the answered `response` object. None when the pool has no such
    /// trigger. Failures are Cognito's: UserLambdaValidationException when the function
    /// failed, UnexpectedLambdaException when it could not be invoked, and
    /// InvalidLambdaResponseException when its answer is not an event.
    #[allow(clippy::too_many_arguments)]
    pub async fn invoke(
        &self,
        pool: &UserPoolView,
        trigger: Trigger,
        source: &str,
        user_name: &str,
        caller: Caller<'_>,
        request: Value,
        response: Value,
    ) -> ServiceResult<Option<Map<String, Value>>> {
        let Some(arn) = Self::arn_of(pool, trigger) else {
            return Ok(None);
        };
        let event = json!({
            "version": version_of(trigger, pool),
            "triggerSource": source,
            "region": pool.record.region,
            "userPoolId": pool.record.id,
            "userName": user_name,
            "callerContext": {
                "awsSdkVersion": "aws-sdk-unknown-unknown",
                "clientId": caller.client_id,
            },
            "request": request,
            "response": response,
        });
        let answer = self
            .invoker
            .invoke(arn, &event)
            .await
            .map_err(|e| match e {
                InvokeError::Function(msg) => CognitoError::new(
                    ErrorCode::UserLambdaValidationException,
                    format!(
                        "{} failed with error {}.",
                        trigger.name(),
                        crate::error::echo(&msg)
                    ),
                ),
                InvokeError::Unreachable(why) => unexpected(trigger, &why),
                // Cognito's own words when it may not invoke a function.
                InvokeError::Unresolved => unexpected(trigger, "AccessDeniedException"),
                InvokeError::Unrecognizable => unrecognizable(),
            })?;
        match answer.get("response") {
            Some(Value::Object(r)) => Ok(Some(r.clone())),
            // A function that returns the event with `response` emptied answers nothing.
            Some(Value::Null) | None => Ok(Some(Map::new())),
            Some(_) => Err(unrecognizable()),
        }
    }
}

/// The PreTokenGeneration version a pool configured: 1, 2 or 3 (1 when only the legacy ARN is
/// set).
pub fn pre_token_version(pool: &UserPoolView) -> u8 {
    let v = pool
        .record
        .settings
        .pool
        .lambda_config
        .as_ref()
        .and_then(|c| c.pre_token_generation_config.as_ref())
        .and_then(|c| c.lambda_version)
        .map(|v| v.as_str());
    match v {
        Some("V2_0") => 2,
        Some("V3_0") => 3,
        _ => 1,
    }
}

/// The event's `version`: "1", except PreTokenGeneration V2_0 / V3_0 events ("2" / "3").
fn version_of(trigger: Trigger, pool: &UserPoolView) -> &'static str {
    match (trigger, pre_token_version(pool)) {
        (Trigger::PreTokenGeneration, 2) => "2",
        (Trigger::PreTokenGeneration, 3) => "3",
        _ => "1",
    }
}

fn unexpected(trigger: Trigger, why: &str) -> CognitoError {
    CognitoError::new(
        ErrorCode::UnexpectedLambdaException,
        format!(
            "{} invocation failed due to error {}.",
            trigger.name(),
            crate::error::echo(why)
        ),
    )
}

pub fn unrecognizable() -> CognitoError {
    CognitoError::new(
        ErrorCode::InvalidLambdaResponseException,
        "Unrecognizable lambda output",
    )
}

/// A boolean of an answered `response`: absent or null is false; anything else that is not a
/// boolean makes the answer unrecognizable.
pub fn answered_flag(r: &Map<String, Value>, key: &str) -> ServiceResult<bool> {
    match r.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(unrecognizable()),
    }
}

/// `request.userAttributes` as Cognito fills it: every value a string, with the user's status.
pub fn user_attributes(user: &UserRecord) -> Value {
    attributes_of(&user.attributes, &user.status)
}

/// [`user_attributes`] of attributes not stored yet.
pub fn attributes_of(attrs: &[(String, String)], status: &str) -> Value {
    let mut m = Map::new();
    for (k, v) in attrs {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    m.insert("cognito:user_status".into(), Value::String(status.into()));
    Value::Object(m)
}

/// A string map from the API (ClientMetadata, ValidationData) as the event carries it.
pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_arn_is_listed_with_its_key() {
        let c = LambdaConfigType {
            pre_sign_up: Some("arn:a".into()),
            user_migration: Some("arn:b".into()),
            custom_email_sender: Some(cognito_model::shapes::CustomEmailLambdaVersionConfigType {
                lambda_arn: Some("arn:c".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            configured_arns(&c),
            [
                ("PreSignUp", "arn:a"),
                ("UserMigration", "arn:b"),
                ("CustomEmailSender", "arn:c")
            ]
        );
    }

    #[test]
    fn flags_must_be_booleans() {
        let r: Map<String, Value> =
            serde_json::from_value(json!({"a": true, "b": null, "c": "yes"})).unwrap();
        assert!(answered_flag(&r, "a").unwrap());
        assert!(!answered_flag(&r, "b").unwrap());
        assert!(!answered_flag(&r, "missing").unwrap());
        assert!(answered_flag(&r, "c").is_err());
    }
}
