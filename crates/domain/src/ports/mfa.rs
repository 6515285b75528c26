//! Storage port for multi-factor sign-in and remembered devices: a user's MFA factors and TOTP
//! secret, the TOTP steps already used, and the devices a user signed in from.

use async_trait::async_trait;

use super::{SrpVerifier, StoreResult};

/// One MFA factor, as Cognito names it in `UserMFASettingList` and `PreferredMfaSetting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MfaFactor {
    Sms,
    SoftwareToken,
    Email,
}

impl MfaFactor {
    pub const ALL: [MfaFactor; 3] = [MfaFactor::Sms, MfaFactor::SoftwareToken, MfaFactor::Email];

    /// The wire name (also the ChallengeName of the factor's sign-in step).
    pub fn as_str(self) -> &'static str {
        match self {
            MfaFactor::Sms => "SMS_MFA",
            MfaFactor::SoftwareToken => "SOFTWARE_TOKEN_MFA",
            MfaFactor::Email => "EMAIL_OTP",
        }
    }

    pub fn parse(s: &str) -> Option<MfaFactor> {
        MfaFactor::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn bit(self) -> i64 {
        match self {
            MfaFactor::Sms => 1,
            MfaFactor::SoftwareToken => 2,
            MfaFactor::Email => 4,
        }
    }
}

/// `enabled_factors` keeps each factor's "turned off explicitly" flag this many bits above its
/// enabled flag.
const DISABLED_SHIFT: u32 = 8;

/// A user's MFA settings. The store seals both TOTP secrets at rest; Debug never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserMfaRecord {
    pub pool_id: String,
    pub user_id: String,
    /// Bit set of enabled factors (see [`UserMfaRecord::enabled`]).
    pub enabled_factors: i64,
    pub preferred: Option<MfaFactor>,
    /// The verified TOTP secret (raw bytes).
    pub totp_secret: Option<Vec<u8>>,
    /// VerifySoftwareToken's FriendlyDeviceName.
    pub totp_name: Option<String>,
    /// A secret AssociateSoftwareToken handed out that VerifySoftwareToken has not confirmed yet.
    pub pending_totp_secret: Option<Vec<u8>>,
    pub modified_ms: i64,
}

impl UserMfaRecord {
    pub fn new(pool_id: &str, user_id: &str) -> Self {
        UserMfaRecord {
            pool_id: pool_id.to_string(),
            user_id: user_id.to_string(),
            ..Default::default()
        }
    }

    pub fn enabled(&self, f: MfaFactor) -> bool {
        self.enabled_factors & f.bit() != 0
    }

    pub fn set_enabled(&mut self, f: MfaFactor, on: bool) {
        if on {
            self.enabled_factors |= f.bit();
            self.enabled_factors &= !(f.bit() << DISABLED_SHIFT);
        } else {
            self.enabled_factors &= !f.bit();
            self.enabled_factors |= f.bit() << DISABLED_SHIFT;
            if self.preferred == Some(f) {
                self.preferred = None;
            }
        }
    }

    /// Forgets that the user turned the factor off (a newly verified authenticator is in use).
    pub fn forget_disabled(&mut self, f: MfaFactor) {
        self.enabled_factors &= !(f.bit() << DISABLED_SHIFT);
    }

    /// Whether the user turned the factor off explicitly (SetUserMFAPreference Enabled false).
    /// Cognito challenges a verified TOTP authenticator even when the user never enabled it,
    /// unless they turned it off.
    pub fn disabled(&self, f: MfaFactor) -> bool {
        self.enabled_factors & (f.bit() << DISABLED_SHIFT) != 0
    }

    /// The enabled factors in Cognito's order (SMS, software token, email).
    pub fn enabled_list(&self) -> Vec<MfaFactor> {
        MfaFactor::ALL
            .into_iter()
            .filter(|f| self.enabled(*f))
            .collect()
    }
}

/// How GetUser and AdminGetUser show a user's MFA settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WireMfaSettings {
    /// The legacy MFAOptions: SMS to the phone number, when SMS MFA is enabled.
    pub mfa_options: Option<Vec<cognito_model::shapes::MFAOptionType>>,
    pub preferred: Option<String>,
    /// The factors the user enabled; absent when none.
    pub setting_list: Option<Vec<String>>,
}

impl WireMfaSettings {
    pub fn of(record: Option<&UserMfaRecord>) -> WireMfaSettings {
        let Some(r) = record else {
            return WireMfaSettings::default();
        };
        let list: Vec<String> = r
            .enabled_list()
            .iter()
            .map(|f| f.as_str().to_string())
            .collect();
        WireMfaSettings {
            mfa_options: r.enabled(MfaFactor::Sms).then(|| {
                vec![cognito_model::shapes::MFAOptionType {
                    delivery_medium: Some(cognito_model::shapes::DeliveryMediumType::Sms),
                    attribute_name: Some("phone_number".into()),
                }]
            }),
            preferred: r.preferred.map(|f| f.as_str().to_string()),
            setting_list: (!list.is_empty()).then_some(list),
        }
    }
}

impl std::fmt::Debug for UserMfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserMfaRecord")
            .field("pool_id", &self.pool_id)
            .field("user_id", &self.user_id)
            .field("enabled", &self.enabled_list())
            .field("preferred", &self.preferred)
            .field(
                "totp_secret",
                &self.totp_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "pending_totp_secret",
                &self.pending_totp_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A device a user signed in from. `verifier` is set by ConfirmDevice (sealed at rest; Debug
/// hides it); until then the device is known but cannot sign in by itself.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub pool_id: String,
    pub device_key: String,
    pub user_id: String,
    pub device_group_key: String,
    pub verifier: Option<SrpVerifier>,
    pub name: Option<String>,
    pub remembered: bool,
    pub last_ip: Option<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub last_auth_ms: i64,
}

impl std::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("pool_id", &self.pool_id)
            .field("device_key", &self.device_key)
            .field("user_id", &self.user_id)
            .field("confirmed", &self.verifier.is_some())
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's MFA settings; None when never set.
    async fn user_mfa(&self, pool_id: &str, user_id: &str) -> StoreResult<Option<UserMfaRecord>>;
    /// Creates or replaces the settings (the used-step counter is kept). False when the user is
    /// gone.
    async fn put_user_mfa(&self, r: &UserMfaRecord) -> StoreResult<bool>;
    /// Records `step` as the user's last accepted TOTP step if it is later than the one stored,
    /// in one conditional write: false when it (or a later one) was used already, on any node.
    async fn use_totp_step(&self, pool_id: &str, user_id: &str, step: i64) -> StoreResult<bool>;
    /// Adds a device. False when the user is gone.
    async fn insert_device(&self, d: &DeviceRecord) -> StoreResult<bool>;
    async fn device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<DeviceRecord>>;
    /// ConfirmDevice: stores the verifier, name and remembered state of a device nobody confirmed
    /// yet, in one conditional write. False when it is gone, not the user's, or was confirmed
    /// meanwhile (two confirmations at once: one wins).
    async fn confirm_device(&self, d: &DeviceRecord) -> StoreResult<bool>;
    /// Remembers or forgets a confirmed device of the user, changing nothing else. False when
    /// there is no such confirmed device.
    async fn set_device_remembered(
        &self,
        pool_id: &str,
        user_id: &str,
        device_key: &str,
        remembered: bool,
        at_ms: i64,
    ) -> StoreResult<bool>;
    /// Records a sign-in from the device (its last-authenticated time), changing nothing else.
    async fn touch_device(&self, pool_id: &str, device_key: &str, at_ms: i64) -> StoreResult<()>;
    /// The user's devices ordered by key, after `after` (exclusive), at most `limit`.
    async fn list_devices(
        &self,
        pool_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRecord>>;
    /// Forgets a device (its sessions can no longer refresh). False when it was unknown.
    async fn delete_device(
        &self,
        pool_id: &str,
        user_id: &str,
        device_key: &str,
    ) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_totp_secrets_and_device_verifiers() {
        let mut r = UserMfaRecord::new("p", "u");
        r.totp_secret = Some(vec![0x5e; 20]);
        r.pending_totp_secret = Some(vec![0x5f; 20]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("94") && !shown.contains("95"), "{shown}");
        let d = DeviceRecord {
            pool_id: "p".into(),
            device_key: "k".into(),
            user_id: "u".into(),
            device_group_key: "g".into(),
            verifier: Some(SrpVerifier {
                salt: "5a175a17".into(),
                verifier: "7e417e41".into(),
            }),
            name: None,
            remembered: true,
            last_ip: None,
            created_ms: 0,
            modified_ms: 0,
            last_auth_ms: 0,
        };
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("5a17") && !shown.contains("7e41"),
            "{shown}"
        );
    }

    #[test]
    fn disabling_the_preferred_factor_clears_the_preference() {
        let mut r = UserMfaRecord::new("p", "u");
        r.set_enabled(MfaFactor::SoftwareToken, true);
        r.set_enabled(MfaFactor::Sms, true);
        r.preferred = Some(MfaFactor::Sms);
        assert_eq!(
            r.enabled_list(),
            vec![MfaFactor::Sms, MfaFactor::SoftwareToken]
        );
        r.set_enabled(MfaFactor::Sms, false);
        assert_eq!(r.preferred, None);
        assert_eq!(r.enabled_list(), vec![MfaFactor::SoftwareToken]);
    }
}
