//! The user pool: its stored record, the defaults Cognito fills in, and the rules for its settings.

use cognito_model::shapes::{
    AdminCreateUserConfigType, AttributeDataType, AuthFactorType, DefaultEmailOptionType,
    DeletionProtectionType, EmailConfigurationType, EmailMfaConfigType, EmailSendingAccountType,
    LambdaConfigType, NumberAttributeConstraintsType, PasswordPolicyType, SchemaAttributeType,
    SignInPolicyType, SmsMfaConfigType, SoftwareTokenMfaConfigType, StringAttributeConstraintsType,
    UserPoolMfaType, UserPoolPolicyType, UserPoolTierType, UserPoolType,
    VerificationMessageTemplateType, WebAuthnConfigurationType,
};
use serde::{Deserialize, Serialize};

/// One user pool as stored. The settings are kept in Cognito's own wire vocabulary (`UserPoolType`,
/// without the identity fields that live in their own columns), so what DescribeUserPool returns is
/// exactly what was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct UserPoolRecord {
    pub id: String,
    pub region: String,
    pub account_id: String,
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Bumped on every write; writers compare it to detect a concurrent change.
    pub version: i64,
    pub settings: PoolSettings,
}

/// The mutable configuration of a pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSettings {
    /// The pool's settings in wire form. Id, Name, Arn, dates, tags and the user estimate are not
    /// kept here; they are filled in when the pool is described.
    pub pool: UserPoolType,
    /// The MFA settings that SetUserPoolMfaConfig owns.
    #[serde(default)]
    pub mfa: MfaSettings,
}

impl PoolSettings {
    /// The MFA factors the pool offers. SMS counts once the pool has an SMS configuration (a pool
    /// made with MFA and an SmsConfiguration before SetUserPoolMfaConfig existed offers SMS).
    pub fn mfa_factors(&self) -> PoolMfaFactors {
        PoolMfaFactors {
            sms: self.mfa.sms.is_some() || self.pool.sms_configuration.is_some(),
            software_token: self
                .mfa
                .software_token
                .as_ref()
                .and_then(|t| t.enabled)
                .unwrap_or(false),
            email: self.mfa.email.is_some(),
        }
    }

    pub fn mfa_mode(&self) -> UserPoolMfaType {
        self.pool.mfa_configuration.unwrap_or(UserPoolMfaType::Off)
    }
}

/// Which MFA factors a pool offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolMfaFactors {
    pub sms: bool,
    pub software_token: bool,
    pub email: bool,
}

impl PoolMfaFactors {
    pub fn any(&self) -> bool {
        self.sms || self.software_token || self.email
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MfaSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsMfaConfigType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_token: Option<SoftwareTokenMfaConfigType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailMfaConfigType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_authn: Option<WebAuthnConfigurationType>,
}

/// The most tags one pool may carry.
pub const MAX_TAGS: usize = 50;

/// Milliseconds to the epoch-seconds number the wire uses.
pub fn wire_time(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Cognito's password policy when none is given.
pub fn default_password_policy() -> PasswordPolicyType {
    PasswordPolicyType {
        minimum_length: Some(8),
        require_uppercase: Some(true),
        require_lowercase: Some(true),
        require_numbers: Some(true),
        require_symbols: Some(true),
        temporary_password_validity_days: Some(7),
        ..Default::default()
    }
}

pub fn default_policies() -> UserPoolPolicyType {
    UserPoolPolicyType {
        password_policy: Some(default_password_policy()),
        sign_in_policy: Some(SignInPolicyType {
            allowed_first_auth_factors: Some(vec![AuthFactorType::Password]),
        }),
    }
}

pub fn default_admin_create_user_config() -> AdminCreateUserConfigType {
    AdminCreateUserConfigType {
        allow_admin_create_user_only: Some(false),
        unused_account_validity_days: Some(7),
        invite_message_template: None,
    }
}

pub fn default_verification_message_template() -> VerificationMessageTemplateType {
    VerificationMessageTemplateType {
        default_email_option: Some(DefaultEmailOptionType::ConfirmWithCode),
        ..Default::default()
    }
}

pub fn default_email_configuration() -> EmailConfigurationType {
    EmailConfigurationType {
        email_sending_account: Some(EmailSendingAccountType::CognitoDefault),
        ..Default::default()
    }
}

fn string_attr(
    name: &str,
    mutable: bool,
    required: bool,
    min: &str,
    max: &str,
) -> SchemaAttributeType {
    SchemaAttributeType {
        name: Some(name.to_string()),
        attribute_data_type: Some(AttributeDataType::String),
        developer_only_attribute: Some(false),
        mutable: Some(mutable),
        required: Some(required),
        number_attribute_constraints: None,
        string_attribute_constraints: Some(StringAttributeConstraintsType {
            min_length: Some(min.to_string()),
            max_length: Some(max.to_string()),
        }),
    }
}

fn boolean_attr(name: &str) -> SchemaAttributeType {
    SchemaAttributeType {
        name: Some(name.to_string()),
        attribute_data_type: Some(AttributeDataType::Boolean),
        developer_only_attribute: Some(false),
        mutable: Some(true),
        required: Some(false),
        number_attribute_constraints: None,
        string_attribute_constraints: None,
    }
}

/// The standard (OpenID Connect) attributes every pool has, in the order Cognito lists them.
pub fn standard_schema() -> Vec<SchemaAttributeType> {
    let s = |n: &str| string_attr(n, true, false, "0", "2048");
    vec![
        string_attr("sub", false, true, "1", "2048"),
        s("name"),
        s("given_name"),
        s("family_name"),
        s("middle_name"),
        s("nickname"),
        s("preferred_username"),
        s("profile"),
        s("picture"),
        s("website"),
        s("email"),
        boolean_attr("email_verified"),
        s("gender"),
        string_attr("birthdate", true, false, "10", "10"),
        s("zoneinfo"),
        s("locale"),
        s("phone_number"),
        boolean_attr("phone_number_verified"),
        s("address"),
        SchemaAttributeType {
            name: Some("updated_at".to_string()),
            attribute_data_type: Some(AttributeDataType::Number),
            developer_only_attribute: Some(false),
            mutable: Some(true),
            required: Some(false),
            number_attribute_constraints: Some(NumberAttributeConstraintsType {
                min_value: Some("0".to_string()),
                max_value: None,
            }),
            string_attribute_constraints: None,
        },
    ]
}

pub fn is_standard_attribute(name: &str) -> bool {
    STANDARD_ATTRIBUTE_NAMES.contains(&name)
}

pub const STANDARD_ATTRIBUTE_NAMES: &[&str] = &[
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The settings every pool starts from before the request's own values are applied.
pub fn default_settings() -> UserPoolType {
    UserPoolType {
        policies: Some(default_policies()),
        deletion_protection: Some(DeletionProtectionType::Inactive),
        lambda_config: Some(LambdaConfigType::default()),
        schema_attributes: Some(standard_schema()),
        verification_message_template: Some(default_verification_message_template()),
        mfa_configuration: Some(UserPoolMfaType::Off),
        email_configuration: Some(default_email_configuration()),
        admin_create_user_config: Some(default_admin_create_user_config()),
        user_pool_tier: Some(UserPoolTierType::Essentials),
        ..Default::default()
    }
}
