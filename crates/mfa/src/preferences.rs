//! SetUserMFAPreference / AdminSetUserMFAPreference and the legacy SetUserSettings: which factors
//! a user enables and prefers. A factor can be enabled only when the user can use it.

use domain::ports::{MfaFactor, UserMfaRecord};
use domain::{CognitoError, ServiceResult};

use crate::choice::{can_use, UserMeans};

/// One factor's part of the request: `Enabled` and `PreferredMfa`, each optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FactorPreference {
    pub enabled: Option<bool>,
    pub preferred: Option<bool>,
}

/// A factor the user lacks the means for (a phone number, an email address, a verified
/// authenticator): refused when enabled, and when a sign-in would send its code.
pub fn cannot_enable(f: MfaFactor) -> CognitoError {
    CognitoError::invalid_parameter(format!(
        "User does not have delivery config set to turn on {}",
        f.as_str()
    ))
}

/// Applies a preference request to `record`. Checks every enabling first, so a refused request
/// changes nothing. The user's means decide, not the pool: a factor the pool does not offer is
/// simply not challenged at sign-in (Cognito keeps a verified authenticator working after the
/// pool turns TOTP off).
pub fn apply(
    record: &mut UserMfaRecord,
    means: UserMeans,
    request: &[(MfaFactor, FactorPreference)],
) -> ServiceResult<()> {
    if request
        .iter()
        .filter(|(_, p)| p.preferred == Some(true))
        .count()
        > 1
    {
        return Err(CognitoError::invalid_parameter(
            "Only one MFA method can be set as preferred.",
        ));
    }
    for (f, p) in request {
        if (p.enabled == Some(true) || p.preferred == Some(true))
            && !can_use(Some(record), means, *f)
        {
            return Err(cannot_enable(*f));
        }
    }
    for (f, p) in request {
        match p.enabled {
            Some(on) => record.set_enabled(*f, on),
            // Preferring a factor enables it.
            None if p.preferred == Some(true) => record.set_enabled(*f, true),
            None => {}
        }
        match p.preferred {
            Some(true) if record.enabled(*f) => record.preferred = Some(*f),
            Some(false) if record.preferred == Some(*f) => record.preferred = None,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: UserMeans = UserMeans {
        phone_number: true,
        email: true,
    };
    const ON: FactorPreference = FactorPreference {
        enabled: Some(true),
        preferred: None,
    };
    const PREFERRED: FactorPreference = FactorPreference {
        enabled: Some(true),
        preferred: Some(true),
    };

    #[test]
    fn a_factor_needs_its_means() {
        let mut r = UserMfaRecord::new("p", "u");
        let none = UserMeans::default();
        let e = apply(&mut r, none, &[(MfaFactor::Sms, ON)]).unwrap_err();
        assert_eq!(
            e.message,
            "User does not have delivery config set to turn on SMS_MFA"
        );
        let e = apply(&mut r, none, &[(MfaFactor::Email, ON)]).unwrap_err();
        assert!(e.message.ends_with("EMAIL_OTP"), "{}", e.message);
        let e = apply(&mut r, BOTH, &[(MfaFactor::SoftwareToken, ON)]).unwrap_err();
        assert!(e.message.ends_with("SOFTWARE_TOKEN_MFA"), "{}", e.message);
        assert_eq!(
            r,
            UserMfaRecord::new("p", "u"),
            "a refused request changes nothing"
        );
    }

    #[test]
    fn preferring_moves_the_preference_and_disabling_clears_it() {
        let mut r = UserMfaRecord::new("p", "u");
        r.totp_secret = Some(vec![1; 20]);
        apply(
            &mut r,
            BOTH,
            &[(MfaFactor::Sms, PREFERRED), (MfaFactor::SoftwareToken, ON)],
        )
        .unwrap();
        assert_eq!(r.preferred, Some(MfaFactor::Sms));
        apply(&mut r, BOTH, &[(MfaFactor::SoftwareToken, PREFERRED)]).unwrap();
        assert_eq!(r.preferred, Some(MfaFactor::SoftwareToken));
        assert!(r.enabled(MfaFactor::Sms));
        let off = FactorPreference {
            enabled: Some(false),
            preferred: None,
        };
        apply(&mut r, BOTH, &[(MfaFactor::SoftwareToken, off)]).unwrap();
        assert_eq!(r.preferred, None);
        assert_eq!(r.enabled_list(), vec![MfaFactor::Sms]);
        assert!(r.disabled(MfaFactor::SoftwareToken));
    }

    #[test]
    fn two_preferred_factors_are_refused() {
        let mut r = UserMfaRecord::new("p", "u");
        let e = apply(
            &mut r,
            BOTH,
            &[(MfaFactor::Sms, PREFERRED), (MfaFactor::Email, PREFERRED)],
        )
        .unwrap_err();
        assert!(e.message.contains("preferred"), "{}", e.message);
    }
}
