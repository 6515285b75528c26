//! AdminLinkProviderForUser and AdminDisableProviderForUser as stored links.
//!
//! NOT ROUTED YET: Cognito's answers depend on the user directory, which is a separate resource. Before
//! these go into `OPERATIONS` they must (1) answer `UserNotFoundException` when the destination user
//! does not exist and refuse a destination with immutable custom attributes, (2) refuse a source
//! identity that has already signed in ("Merging is not currently supported, provide a SourceUser that
//! has not been used to sign in before, or delete the user first."), (3) add the link to the
//! destination user's `identities` attribute, and (4) for AdminDisableProviderForUser, disable a
//! federated user that signed in without a link. Everything that depends only on this resource is
//! here: the source provider must exist, the attribute name must fit the provider type, at most
//! five identities per user, one user per identity.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminDisableProviderForUserRequest, AdminDisableProviderForUserResponse,
    AdminLinkProviderForUserRequest, AdminLinkProviderForUserResponse, ProviderUserIdentifierType,
};

use super::{details, limit_exceeded, IdentityProviderService};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{ChildWrite, ProviderLinkRecord};

/// The provider name of native users on the destination side.
pub const COGNITO_PROVIDER: &str = "Cognito";
/// The attribute name that stands for the IdP's own subject.
pub const COGNITO_SUBJECT: &str = "Cognito_Subject";
/// Most external identities one user may have linked.
pub const MAX_LINKS_PER_USER: usize = 5;

fn value(id: &Option<ProviderUserIdentifierType>) -> ProviderUserIdentifierType {
    id.clone().unwrap_or_default()
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl IdentityProviderService {
    /// Checks the source identity against its provider: it must exist and not be Cognito, and the
    /// attribute name must be Cognito_Subject (social) or Cognito_Subject / a mapped pool attribute
    /// (OIDC, SAML). Answers (provider, attribute name, attribute value).
    async fn source_identity(
        &self,
        pool_id: &str,
        source: &ProviderUserIdentifierType,
        role: &str,
    ) -> ServiceResult<(String, String, String)> {
        let (Some(provider), Some(attr), Some(val)) = (
            non_empty(&source.provider_name),
            non_empty(&source.provider_attribute_name),
            non_empty(&source.provider_attribute_value),
        ) else {
            return Err(CognitoError::invalid_parameter(format!(
                "{role} ProviderName, ProviderAttributeName and ProviderAttributeValue are required."
            )));
        };
        if provider == COGNITO_PROVIDER {
            return Err(CognitoError::invalid_parameter(format!(
                "{role} must be a federated user, not a Cognito user."
            )));
        }
        let p = self
            .store
            .get_identity_provider(pool_id, provider)
            .await?
            .ok_or_else(|| {
                CognitoError::resource_not_found(format!(
                    "Identity provider {provider} does not exist."
                ))
            })?;
        let fits = attr == COGNITO_SUBJECT
            || (!details::is_social(p.provider_type) && p.attribute_mapping.contains_key(attr));
        if !fits {
            return Err(CognitoError::invalid_parameter(format!(
                "ProviderAttributeName {attr} is not valid for provider {provider}."
            )));
        }
        Ok((provider.to_string(), attr.to_string(), val.to_string()))
    }

    /// Not routed yet: see the module documentation.
    pub async fn admin_link_provider_for_user(
        &self,
        ctx: &RequestContext,
        req: AdminLinkProviderForUserRequest,
    ) -> ServiceResult<AdminLinkProviderForUserResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let dest = value(&req.destination_user);
        if dest.provider_name.as_deref() != Some(COGNITO_PROVIDER) {
            return Err(CognitoError::invalid_parameter(
                "DestinationUser ProviderName must be Cognito.",
            ));
        }
        let Some(username) = non_empty(&dest.provider_attribute_value) else {
            return Err(CognitoError::invalid_parameter(
                "DestinationUser ProviderAttributeValue is required.",
            ));
        };
        let (provider, attr, val) = self
            .source_identity(&pool_id, &value(&req.source_user), "SourceUser")
            .await?;
        let link = ProviderLinkRecord {
            pool_id: pool_id.clone(),
            provider_name: provider.clone(),
            attribute_name: attr,
            attribute_value: val,
            username: username.to_string(),
            created_ms: self.clock.now_ms(),
        };
        match self
            .store
            .insert_provider_link(&link, MAX_LINKS_PER_USER)
            .await?
        {
            ChildWrite::Written => Ok(AdminLinkProviderForUserResponse {}),
            ChildWrite::Duplicate => Err(CognitoError::new(
                ErrorCode::InvalidParameterException,
                "SourceUser is already linked to another user.",
            )),
            ChildWrite::LimitExceeded => Err(limit_exceeded(format!(
                "A user can have at most {MAX_LINKS_PER_USER} linked identities."
            ))),
            ChildWrite::NotFound => Err(CognitoError::resource_not_found(format!(
                "Identity provider {provider} does not exist."
            ))),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    /// Not routed yet: see the module documentation.
    pub async fn admin_disable_provider_for_user(
        &self,
        ctx: &RequestContext,
        req: AdminDisableProviderForUserRequest,
    ) -> ServiceResult<AdminDisableProviderForUserResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let (provider, attr, val) = self
            .source_identity(&pool_id, &value(&req.user), "User")
            .await?;
        match self
            .store
            .delete_provider_link(&pool_id, &provider, &attr, &val)
            .await?
        {
            ChildWrite::Written => Ok(AdminDisableProviderForUserResponse {}),
            ChildWrite::NotFound => Err(CognitoError::new(
                ErrorCode::UserNotFoundException,
                "User does not exist.",
            )),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }
}
