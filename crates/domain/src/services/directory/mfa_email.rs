//! Email MFA set up during sign-in (MFA_SETUP answered with EMAIL, as Amplify's
//! CONTINUE_SIGN_IN_WITH_EMAIL_SETUP sends it): the address is checked as an attribute write
//! checks it before any code goes to it, and becomes the user's verified `email` only once the
//! code sent to it is answered. The code proves the address, as Cognito marks an address
//! verified after its first MFA code.

use cognito_model::shapes::AttributeType;

use super::attributes::{self, Mode};
use super::DirectoryService;
use crate::context::RequestContext;
use crate::error::ServiceResult;
use crate::ports::{UserPoolView, UserRecord};

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType {
        name: Some(name.to_string()),
        value: Some(value.to_string()),
    }
}

impl DirectoryService {
    /// The address in the form it would be stored in, or the error an attribute write of it
    /// answers (format, length, an immutable `email`).
    pub fn check_mfa_email(pool: &UserPoolView, address: &str) -> ServiceResult<String> {
        let checked = attributes::validate(
            &pool.record.settings.pool,
            &[attribute("email", address)],
            Mode::Update,
        )?;
        Ok(checked
            .into_iter()
            .find(|(n, _)| n == "email")
            .map_or_else(|| address.to_string(), |(_, v)| v))
    }

    /// Writes a proven address as the user's verified `email`, through the same write as any
    /// attribute update (so an alias already verified on another user is refused as there).
    pub async fn set_proven_email(
        &self,
        ctx: &RequestContext,
        pool: &UserPoolView,
        user: &UserRecord,
        address: &str,
    ) -> ServiceResult<UserRecord> {
        let update = self
            .update_attributes(
                ctx,
                Some(&pool.record.id),
                Some(&user.username),
                &[
                    attribute("email", address),
                    attribute("email_verified", "true"),
                ],
            )
            .await?;
        Ok(update.user)
    }
}
