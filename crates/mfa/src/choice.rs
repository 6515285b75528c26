//! Which MFA step a sign-in takes once the password (or SRP) is proven, from the pool's MFA mode
//! and factors and the user's settings.
//!
//! - OFF: none.
//! - OPTIONAL: only users with a factor enabled are challenged.
//! - ON: every user. A user with no usable factor is challenged on what they have, SMS to a phone
//!   number or EMAIL_OTP to an email address where the pool offers it (both: SELECT_MFA_TYPE);
//!   anyone else must set a factor up (MFA_SETUP, listing what the pool offers). This follows
//!   "Details of MFA logic at user runtime" in Cognito's developer guide, without its exception
//!   for the pool's primary recovery channel.
//!
//! A factor is usable when the user enabled it, the pool offers it, and the user has what it
//! needs (a phone number, an email address, a verified TOTP secret). The preferred one is
//! challenged; a single usable one is challenged; several without a preference let the user
//! choose (SELECT_MFA_TYPE).

use cognito_model::shapes::UserPoolMfaType;
use domain::ports::{MfaFactor, UserMfaRecord};
use domain::user_pool::PoolMfaFactors;

/// What the user brings to MFA besides their settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserMeans {
    pub phone_number: bool,
    pub email: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfaStep {
    /// No second factor: tokens.
    None,
    Challenge(MfaFactor),
    /// SELECT_MFA_TYPE with MFAS_CAN_CHOOSE.
    Select(Vec<MfaFactor>),
    /// MFA_SETUP with MFAS_CAN_SETUP.
    Setup(Vec<MfaFactor>),
}

pub fn offered(pool: PoolMfaFactors, f: MfaFactor) -> bool {
    match f {
        MfaFactor::Sms => pool.sms,
        MfaFactor::SoftwareToken => pool.software_token,
        MfaFactor::Email => pool.email,
    }
}

/// Whether the user has what factor `f` needs.
pub fn can_use(user: Option<&UserMfaRecord>, means: UserMeans, f: MfaFactor) -> bool {
    match f {
        MfaFactor::Sms => means.phone_number,
        MfaFactor::Email => means.email,
        MfaFactor::SoftwareToken => user.is_some_and(|u| u.totp_secret.is_some()),
    }
}

/// The user's usable factors, in Cognito's order: those enabled, and a verified TOTP
/// authenticator the user did not turn off (Cognito challenges it without a preference).
pub fn usable(
    pool: PoolMfaFactors,
    user: Option<&UserMfaRecord>,
    means: UserMeans,
) -> Vec<MfaFactor> {
    let Some(u) = user else { return Vec::new() };
    MfaFactor::ALL
        .into_iter()
        .filter(|f| {
            let active = u.enabled(*f)
                || (*f == MfaFactor::SoftwareToken && u.totp_secret.is_some() && !u.disabled(*f));
            active && offered(pool, *f) && can_use(user, means, *f)
        })
        .collect()
}

/// The MFA step of a sign-in.
pub fn decide(
    mode: UserPoolMfaType,
    pool: PoolMfaFactors,
    user: Option<&UserMfaRecord>,
    means: UserMeans,
) -> MfaStep {
    if mode == UserPoolMfaType::Off {
        return MfaStep::None;
    }
    let factors = usable(pool, user, means);
    if let Some(p) = user.and_then(|u| u.preferred) {
        if factors.contains(&p) {
            return MfaStep::Challenge(p);
        }
    }
    match factors.as_slice() {
        [] if mode == UserPoolMfaType::On => {
            // Required MFA reaches for what the user has: a phone number, an email address.
            let implicit: Vec<MfaFactor> = [
                (MfaFactor::Sms, pool.sms && means.phone_number),
                (MfaFactor::Email, pool.email && means.email),
            ]
            .into_iter()
            .filter_map(|(f, ok)| ok.then_some(f))
            .collect();
            match implicit.as_slice() {
                [] => MfaStep::Setup(setup_choices(pool)),
                [one] => MfaStep::Challenge(*one),
                many => MfaStep::Select(many.to_vec()),
            }
        }
        [] => MfaStep::None,
        [one] => MfaStep::Challenge(*one),
        many => MfaStep::Select(many.to_vec()),
    }
}

/// What MFA_SETUP offers: the pool's factors that can be set up.
pub fn setup_choices(pool: PoolMfaFactors) -> Vec<MfaFactor> {
    MfaFactor::ALL
        .into_iter()
        .filter(|f| offered(pool, *f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: PoolMfaFactors = PoolMfaFactors {
        sms: true,
        software_token: true,
        email: true,
    };
    const PHONE: UserMeans = UserMeans {
        phone_number: true,
        email: false,
    };

    fn user(enabled: &[MfaFactor], preferred: Option<MfaFactor>, totp: bool) -> UserMfaRecord {
        let mut u = UserMfaRecord::new("p", "u");
        for f in enabled {
            u.set_enabled(*f, true);
        }
        u.preferred = preferred;
        if totp {
            u.totp_secret = Some(vec![1; 20]);
        }
        u
    }

    #[test]
    fn off_never_challenges() {
        let u = user(&[MfaFactor::Sms], Some(MfaFactor::Sms), false);
        assert_eq!(
            decide(UserPoolMfaType::Off, ALL, Some(&u), PHONE),
            MfaStep::None
        );
    }

    #[test]
    fn optional_challenges_only_users_with_a_usable_factor() {
        let opt = UserPoolMfaType::Optional;
        assert_eq!(decide(opt, ALL, None, PHONE), MfaStep::None);
        let u = user(&[MfaFactor::Sms], None, false);
        assert_eq!(
            decide(opt, ALL, Some(&u), PHONE),
            MfaStep::Challenge(MfaFactor::Sms)
        );
        // SMS enabled but the phone number is gone: nothing usable.
        assert_eq!(
            decide(opt, ALL, Some(&u), UserMeans::default()),
            MfaStep::None
        );
        // A factor the pool stopped offering does not count.
        let no_sms = PoolMfaFactors { sms: false, ..ALL };
        assert_eq!(decide(opt, no_sms, Some(&u), PHONE), MfaStep::None);
    }

    #[test]
    fn preferred_wins_and_several_without_preference_select() {
        let opt = UserPoolMfaType::Optional;
        let both = [MfaFactor::Sms, MfaFactor::SoftwareToken];
        let u = user(&both, Some(MfaFactor::SoftwareToken), true);
        assert_eq!(
            decide(opt, ALL, Some(&u), PHONE),
            MfaStep::Challenge(MfaFactor::SoftwareToken)
        );
        let u = user(&both, None, true);
        assert_eq!(
            decide(opt, ALL, Some(&u), PHONE),
            MfaStep::Select(both.to_vec())
        );
        // TOTP enabled without a verified secret is not usable.
        let u = user(&both, None, false);
        assert_eq!(
            decide(opt, ALL, Some(&u), PHONE),
            MfaStep::Challenge(MfaFactor::Sms)
        );
    }

    #[test]
    fn on_falls_back_to_sms_for_a_phone_else_setup() {
        let on = UserPoolMfaType::On;
        assert_eq!(
            decide(on, ALL, None, PHONE),
            MfaStep::Challenge(MfaFactor::Sms)
        );
        let totp_only = PoolMfaFactors {
            software_token: true,
            ..Default::default()
        };
        assert_eq!(
            decide(on, totp_only, None, PHONE),
            MfaStep::Setup(vec![MfaFactor::SoftwareToken])
        );
        assert_eq!(
            decide(on, ALL, None, UserMeans::default()),
            MfaStep::Setup(MfaFactor::ALL.to_vec())
        );
        let both = UserMeans {
            phone_number: true,
            email: true,
        };
        assert_eq!(
            decide(on, ALL, None, both),
            MfaStep::Select(vec![MfaFactor::Sms, MfaFactor::Email])
        );
    }

    #[test]
    fn a_verified_authenticator_counts_until_turned_off() {
        let opt = UserPoolMfaType::Optional;
        let mut u = user(&[], None, true);
        assert_eq!(
            decide(opt, ALL, Some(&u), PHONE),
            MfaStep::Challenge(MfaFactor::SoftwareToken)
        );
        u.set_enabled(MfaFactor::SoftwareToken, false);
        assert_eq!(decide(opt, ALL, Some(&u), PHONE), MfaStep::None);
    }
}
