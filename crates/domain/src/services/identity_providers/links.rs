//! AdminLinkProviderForUser and AdminDisableProviderForUser.
//!
//! A link ties an external identity (provider, attribute name, attribute value) to an existing
//! pool user. The link row and the destination user's `identities` attribute (a JSON array, as
//! AdminGetUser shows it) change together in one transaction, guarded by the user's version.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminDisableProviderForUserRequest, AdminDisableProviderForUserResponse,
    AdminLinkProviderForUserRequest, AdminLinkProviderForUserResponse, ProviderUserIdentifierType,
    UserStatusType,
};
use serde::{Deserialize, Serialize};

use super::{details, limit_exceeded, IdentityProviderService, WRITE_RETRIES};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{
    ChildWrite, IdentityProviderRecord, LinkedUserWrite, ProviderLinkRecord, UserPoolView,
    UserRecord,
};
use crate::services::directory::user_not_found;
use crate::services::DirectoryService;

/// The provider name of native users on the destination side.
pub const COGNITO_PROVIDER: &str = "Cognito";
/// The attribute name that stands for the IdP's own subject.
pub const COGNITO_SUBJECT: &str = "Cognito_Subject";
/// Most external identities one user may have linked.
pub const MAX_LINKS_PER_USER: usize = 5;
/// The user attribute that lists a user's external identities.
pub const IDENTITIES: &str = "identities";

/// One element of the `identities` attribute, in Cognito's member order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    user_id: String,
    provider_name: String,
    provider_type: String,
    issuer: Option<String>,
    primary: bool,
    date_created: i64,
}

fn value(id: &Option<ProviderUserIdentifierType>) -> ProviderUserIdentifierType {
    id.clone().unwrap_or_default()
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn user_modified() -> CognitoError {
    CognitoError::new(
        ErrorCode::ConcurrentModificationException,
        "The user was modified concurrently; try again.",
    )
}

fn already_linked() -> CognitoError {
    CognitoError::invalid_parameter("SourceUser is already linked to DestinationUser")
}

/// The external identity named by a SourceUser / User parameter, checked against its provider.
struct Source {
    provider: IdentityProviderRecord,
    attribute: String,
    value: String,
}

fn identities_of(u: &UserRecord) -> ServiceResult<Vec<Identity>> {
    match u.attributes.iter().find(|(n, _)| n == IDENTITIES) {
        // Only this module writes the attribute (it is not in the pool schema).
        Some((_, v)) => serde_json::from_str(v).map_err(|_| CognitoError::internal()),
        None => Ok(vec![]),
    }
}

/// The user's attributes with `identities` replaced (kept right after `sub`, where Cognito shows
/// it), or removed when no identity is left.
fn with_identities(u: &UserRecord, ids: &[Identity]) -> ServiceResult<Vec<(String, String)>> {
    let mut attrs: Vec<(String, String)> = u.attributes.clone();
    let pos = attrs.iter().position(|(n, _)| n == IDENTITIES);
    if ids.is_empty() {
        if let Some(i) = pos {
            attrs.remove(i);
        }
        return Ok(attrs);
    }
    let json = serde_json::to_string(ids).map_err(|_| CognitoError::internal())?;
    match pos {
        Some(i) => attrs[i].1 = json,
        None => {
            let at = attrs
                .iter()
                .position(|(n, _)| n == "sub")
                .map_or(0, |i| i + 1);
            attrs.insert(at, (IDENTITIES.to_string(), json));
        }
    }
    Ok(attrs)
}

impl IdentityProviderService {
    fn directory(&self) -> DirectoryService {
        DirectoryService::new(self.store.clone(), self.clock.clone(), self.pools.clone())
    }

    /// Checks an external identity against its provider: it must name an existing provider other
    /// than Cognito, and the attribute name must be Cognito_Subject (social) or Cognito_Subject /
    /// a mapped pool attribute (OIDC, SAML).
    async fn source_identity(
        &self,
        pool_id: &str,
        source: &ProviderUserIdentifierType,
        role: &str,
    ) -> ServiceResult<Source> {
        let (Some(provider), Some(attr), Some(val)) = (
            non_empty(&source.provider_name),
            non_empty(&source.provider_attribute_name),
            non_empty(&source.provider_attribute_value),
        ) else {
            return Err(CognitoError::invalid_parameter(format!(
                "{role} ProviderName, ProviderAttributeName and ProviderAttributeValue are required."
            )));
        };
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
        Ok(Source {
            provider: p,
            attribute: attr.to_string(),
            value: val.to_string(),
        })
    }

    /// The federated user an external identity signed in as (`<provider>_<value>`, status
    /// EXTERNAL_PROVIDER), if there is one.
    async fn federated_user(
        &self,
        dir: &DirectoryService,
        pool: &UserPoolView,
        provider: &str,
        value: &str,
    ) -> ServiceResult<Option<UserRecord>> {
        let name = format!("{provider}_{value}");
        match dir.find_user(pool, Some(&name)).await {
            Ok(u) if u.status == UserStatusType::ExternalProvider.as_str() => Ok(Some(u)),
            Ok(_) => Ok(None),
            Err(e) if e.code == ErrorCode::UserNotFoundException => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The DestinationUser: a user of the pool. For ProviderName `Cognito` the value is a
    /// username (or alias, as in other admin calls); for an IdP it is that IdP's user id. Its
    /// ProviderAttributeName is ignored.
    async fn destination_user(
        &self,
        dir: &DirectoryService,
        pool: &UserPoolView,
        dest: &ProviderUserIdentifierType,
    ) -> ServiceResult<UserRecord> {
        let Some(val) = non_empty(&dest.provider_attribute_value) else {
            return Err(user_not_found());
        };
        let user = match non_empty(&dest.provider_name) {
            Some(COGNITO_PROVIDER) => dir.find_user(pool, Some(val)).await?,
            Some(p) => dir.find_user(pool, Some(&format!("{p}_{val}"))).await?,
            None => return Err(user_not_found()),
        };
        // A federated destination is allowed: AWS documents DestinationUser as a native or a
        // federated user.
        // Linking rewrites the user's profile, which Cognito refuses for immutable attributes.
        let schema = pool
            .record
            .settings
            .pool
            .schema_attributes
            .as_deref()
            .unwrap_or_default();
        let immutable = user.attributes.iter().any(|(n, _)| {
            n.starts_with("custom:")
                && schema
                    .iter()
                    .any(|a| a.name.as_deref() == Some(n.as_str()) && a.mutable == Some(false))
        });
        if immutable {
            return Err(CognitoError::invalid_parameter(
                "Invalid DestinationUser: all attributes of the DestinationUser must be mutable.",
            ));
        }
        Ok(user)
    }

    pub async fn admin_link_provider_for_user(
        &self,
        ctx: &RequestContext,
        req: AdminLinkProviderForUserRequest,
    ) -> ServiceResult<AdminLinkProviderForUserResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let source = value(&req.source_user);
        if source.provider_name.as_deref() == Some(COGNITO_PROVIDER) {
            self.pools.load(ctx, &pool_id).await?;
            return Err(CognitoError::invalid_parameter(
                "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser",
            ));
        }
        let dir = self.directory();
        for _ in 0..WRITE_RETRIES {
            let pool = self.pools.load(ctx, &pool_id).await?;
            let src = self
                .source_identity(&pool_id, &source, "SourceUser")
                .await?;
            let user = self
                .destination_user(&dir, &pool, &value(&req.destination_user))
                .await?;
            if self
                .federated_user(&dir, &pool, &src.provider.provider_name, &src.value)
                .await?
                .is_some()
            {
                return Err(CognitoError::invalid_parameter(
                    "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
                ));
            }
            let now = self.clock.now_ms();
            let mut ids = identities_of(&user)?;
            // An entry left behind by a deleted provider is replaced, not repeated.
            ids.retain(|x| {
                !(x.provider_name == src.provider.provider_name && x.user_id == src.value)
            });
            ids.push(Identity {
                user_id: src.value.clone(),
                provider_name: src.provider.provider_name.clone(),
                provider_type: src.provider.provider_type.as_str().to_string(),
                issuer: None,
                primary: false,
                date_created: now,
            });
            let write = LinkedUserWrite {
                user_id: user.id.clone(),
                version: user.version + 1,
                modified_ms: now.max(user.modified_ms),
                attributes: with_identities(&user, &ids)?,
            };
            let link = ProviderLinkRecord {
                pool_id: pool_id.clone(),
                provider_name: src.provider.provider_name.clone(),
                attribute_name: src.attribute.clone(),
                attribute_value: src.value.clone(),
                username: user.username.clone(),
                created_ms: now,
            };
            return match self
                .store
                .insert_provider_link(&link, &write, MAX_LINKS_PER_USER)
                .await?
            {
                ChildWrite::Written => Ok(AdminLinkProviderForUserResponse {}),
                ChildWrite::VersionConflict => continue,
                ChildWrite::Duplicate => Err(already_linked()),
                ChildWrite::LimitExceeded => Err(limit_exceeded(format!(
                    "A user can have at most {MAX_LINKS_PER_USER} linked identities."
                ))),
                ChildWrite::NotFound => Err(CognitoError::resource_not_found(format!(
                    "Identity provider {} does not exist.",
                    link.provider_name
                ))),
                ChildWrite::UserNotFound => Err(user_not_found()),
                ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
                _ => Err(CognitoError::internal()),
            };
        }
        Err(user_modified())
    }

    pub async fn admin_disable_provider_for_user(
        &self,
        ctx: &RequestContext,
        req: AdminDisableProviderForUserRequest,
    ) -> ServiceResult<AdminDisableProviderForUserResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let target = value(&req.user);
        if target.provider_name.as_deref() == Some(COGNITO_PROVIDER) {
            self.pools.load(ctx, &pool_id).await?;
            return Err(CognitoError::invalid_parameter(
                "Invalid User: only users of an external identity provider can be passed in as a User.",
            ));
        }
        let dir = self.directory();
        for _ in 0..WRITE_RETRIES {
            let pool = self.pools.load(ctx, &pool_id).await?;
            let src = self.source_identity(&pool_id, &target, "User").await?;
            let provider = src.provider.provider_name.clone();
            let link = self
                .store
                .get_provider_link(&pool_id, &provider, &src.attribute, &src.value)
                .await?;
            let Some(link) = link else {
                // Not linked: a federated user who signed in with this identity is disabled.
                let Some(fed) = self
                    .federated_user(&dir, &pool, &provider, &src.value)
                    .await?
                else {
                    return Err(user_not_found());
                };
                dir.modify_user(
                    ctx,
                    Some(&pool_id),
                    Some(&fed.username),
                    false,
                    |_, mut u| {
                        u.enabled = false;
                        Ok(u)
                    },
                )
                .await?;
                return Ok(AdminDisableProviderForUserResponse {});
            };
            let user = match dir.find_user(&pool, Some(&link.username)).await {
                Ok(u) if u.username == link.username => u,
                // The user (and with it the link) went away between the reads: look again.
                Ok(_) => continue,
                Err(e) if e.code == ErrorCode::UserNotFoundException => continue,
                Err(e) => return Err(e),
            };
            let now = self.clock.now_ms();
            let mut ids = identities_of(&user)?;
            if let Some(i) = ids
                .iter()
                .position(|x| x.provider_name == provider && x.user_id == src.value)
            {
                ids.remove(i);
            }
            let write = LinkedUserWrite {
                user_id: user.id.clone(),
                version: user.version + 1,
                modified_ms: now.max(user.modified_ms),
                attributes: with_identities(&user, &ids)?,
            };
            match self
                .store
                .delete_provider_link(&pool_id, &provider, &src.attribute, &src.value, &write)
                .await?
            {
                ChildWrite::Written => return Ok(AdminDisableProviderForUserResponse {}),
                ChildWrite::VersionConflict | ChildWrite::NotFound | ChildWrite::UserNotFound => {
                    continue
                }
                ChildWrite::PoolNotFound => return Err(CognitoError::pool_not_found(&pool_id)),
                _ => return Err(CognitoError::internal()),
            }
        }
        Err(user_modified())
    }
}
