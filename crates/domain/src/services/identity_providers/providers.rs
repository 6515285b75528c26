//! CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
//! DeleteIdentityProvider, ListIdentityProviders and GetIdentityProviderByIdentifier.

use std::collections::{BTreeMap, HashSet};

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    CreateIdentityProviderRequest, CreateIdentityProviderResponse, DeleteIdentityProviderRequest,
    DescribeIdentityProviderRequest, DescribeIdentityProviderResponse,
    GetIdentityProviderByIdentifierRequest, GetIdentityProviderByIdentifierResponse,
    IdentityProviderType, IdentityProviderTypeType, ListIdentityProvidersRequest,
    ListIdentityProvidersResponse, ProviderDescription, UpdateIdentityProviderRequest,
    UpdateIdentityProviderResponse,
};

use super::details;
use super::{
    concurrent_modification, limit_exceeded, IdentityProviderService, MAX_IDENTITY_PROVIDERS,
    WRITE_RETRIES,
};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{ChildWrite, IdentityProviderRecord, UserPoolView};
use crate::services::pagination;
use crate::user_pool::wire_time;

fn not_found(name: &str) -> CognitoError {
    CognitoError::resource_not_found(format!("Identity provider {name} does not exist."))
}

fn duplicate_name(name: &str, pool_id: &str) -> CognitoError {
    CognitoError::new(
        ErrorCode::DuplicateProviderException,
        format!("{name} already exists in user pool {pool_id}"),
    )
}

fn duplicate_identifier(id: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Duplicate identifier {id} found in user pool."))
}

fn wire(p: &IdentityProviderRecord) -> IdentityProviderType {
    IdentityProviderType {
        user_pool_id: Some(p.pool_id.clone()),
        provider_name: Some(p.provider_name.clone()),
        provider_type: Some(p.provider_type),
        provider_details: Some(details::visible(&p.details)),
        attribute_mapping: Some(p.attribute_mapping.clone()),
        idp_identifiers: Some(p.idp_identifiers.clone()),
        acr_mapping: p.acr_mapping.clone(),
        last_modified_date: Some(wire_time(p.modified_ms)),
        creation_date: Some(wire_time(p.created_ms)),
    }
}

/// The provider name must be the type's own name for the social types, and a social type's name
/// is reserved for that type.
fn check_name_fits_type(name: &str, t: IdentityProviderTypeType) -> ServiceResult<()> {
    let reserved = IdentityProviderTypeType::ALL
        .iter()
        .copied()
        .find(|s| details::is_social(*s) && s.as_str() == name);
    let fits = match reserved {
        Some(s) => s == t,
        None => !details::is_social(t),
    };
    if fits {
        Ok(())
    } else {
        Err(CognitoError::invalid_parameter(format!(
            "Provider {name} cannot be of type {}.",
            t.as_str()
        )))
    }
}

/// Every mapped pool attribute must exist in the pool's schema; `username` is always allowed.
/// The provider's default `username` source is added when the mapping names none.
fn mapping(
    view: &UserPoolView,
    t: IdentityProviderTypeType,
    given: BTreeMap<String, String>,
) -> ServiceResult<BTreeMap<String, String>> {
    let schema = view
        .record
        .settings
        .pool
        .schema_attributes
        .as_deref()
        .unwrap_or_default();
    for key in given.keys() {
        let known = key == "username" || schema.iter().any(|a| a.name.as_deref() == Some(key));
        if !known {
            return Err(CognitoError::invalid_parameter(format!(
                "Attribute {key} in the attribute mapping does not exist in the user pool schema."
            )));
        }
    }
    let mut m = given;
    if let Some(src) = details::default_username_source(t) {
        m.entry("username".to_string())
            .or_insert_with(|| src.to_string());
    }
    Ok(m)
}

fn identifiers(given: Option<Vec<String>>) -> ServiceResult<Vec<String>> {
    let ids = given.unwrap_or_default();
    let mut seen = HashSet::new();
    for id in &ids {
        if !seen.insert(id.as_str()) {
            return Err(duplicate_identifier(id));
        }
    }
    Ok(ids)
}

impl IdentityProviderService {
    pub async fn create_identity_provider(
        &self,
        ctx: &RequestContext,
        req: CreateIdentityProviderRequest,
    ) -> ServiceResult<CreateIdentityProviderResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let view = self.pools.load(ctx, &pool_id).await?;
        let name = req.provider_name.unwrap_or_default();
        let t = req
            .provider_type
            .ok_or_else(|| CognitoError::invalid_parameter("ProviderType is required."))?;
        check_name_fits_type(&name, t)?;
        let details = details::complete(t, &req.provider_details.unwrap_or_default())?;
        let attribute_mapping = mapping(&view, t, req.attribute_mapping.unwrap_or_default())?;
        let idp_identifiers = identifiers(req.idp_identifiers)?;
        let now = self.clock.now_ms();
        let record = IdentityProviderRecord {
            pool_id: pool_id.clone(),
            provider_name: name.clone(),
            provider_type: t,
            details,
            attribute_mapping,
            idp_identifiers,
            acr_mapping: req.acr_mapping,
            created_ms: now,
            modified_ms: now,
            version: 1,
        };
        match self
            .store
            .insert_identity_provider(&record, MAX_IDENTITY_PROVIDERS)
            .await?
        {
            ChildWrite::Written => Ok(CreateIdentityProviderResponse {
                identity_provider: Some(wire(&record)),
            }),
            ChildWrite::Duplicate => Err(duplicate_name(&name, &pool_id)),
            ChildWrite::DuplicateIdpIdentifier(id) => Err(duplicate_identifier(&id)),
            ChildWrite::LimitExceeded => Err(limit_exceeded(format!(
                "The user pool {pool_id} already has the maximum of {MAX_IDENTITY_PROVIDERS} identity providers."
            ))),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    pub async fn describe_identity_provider(
        &self,
        ctx: &RequestContext,
        req: DescribeIdentityProviderRequest,
    ) -> ServiceResult<DescribeIdentityProviderResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let name = req.provider_name.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let p = self
            .store
            .get_identity_provider(&pool_id, &name)
            .await?
            .ok_or_else(|| not_found(&name))?;
        Ok(DescribeIdentityProviderResponse {
            identity_provider: Some(wire(&p)),
        })
    }

    pub async fn get_identity_provider_by_identifier(
        &self,
        ctx: &RequestContext,
        req: GetIdentityProviderByIdentifierRequest,
    ) -> ServiceResult<GetIdentityProviderByIdentifierResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let id = req.idp_identifier.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let p = self
            .store
            .get_identity_provider_by_identifier(&pool_id, &id)
            .await?
            .ok_or_else(|| {
                CognitoError::resource_not_found(format!(
                    "Identity provider with identifier {id} does not exist."
                ))
            })?;
        Ok(GetIdentityProviderByIdentifierResponse {
            identity_provider: Some(wire(&p)),
        })
    }

    /// UpdateIdentityProvider replaces ProviderDetails, AttributeMapping, IdpIdentifiers and
    /// AcrMapping only when the request gives them; what it omits stays as it was.
    pub async fn update_identity_provider(
        &self,
        ctx: &RequestContext,
        req: UpdateIdentityProviderRequest,
    ) -> ServiceResult<UpdateIdentityProviderResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        let name = req.provider_name.clone().unwrap_or_default();
        let view = self.pools.load(ctx, &pool_id).await?;
        let new_ids = match &req.idp_identifiers {
            Some(ids) => Some(identifiers(Some(ids.clone()))?),
            None => None,
        };
        for _ in 0..WRITE_RETRIES {
            let old = self
                .store
                .get_identity_provider(&pool_id, &name)
                .await?
                .ok_or_else(|| not_found(&name))?;
            let t = old.provider_type;
            let mut record = old.clone();
            if let Some(given) = &req.provider_details {
                let mut merged = given.clone();
                // A write-only secret the client never sees back is kept when not given again.
                for k in details::WRITE_ONLY_KEYS {
                    if !merged.contains_key(*k) {
                        if let Some(v) = old.details.get(*k) {
                            merged.insert((*k).to_string(), v.clone());
                        }
                    }
                }
                record.details = details::complete(t, &merged)?;
            }
            if let Some(m) = &req.attribute_mapping {
                record.attribute_mapping = mapping(&view, t, m.clone())?;
            }
            if let Some(ids) = &new_ids {
                record.idp_identifiers = ids.clone();
            }
            if let Some(acr) = &req.acr_mapping {
                record.acr_mapping = Some(acr.clone());
            }
            record.modified_ms = self.clock.now_ms().max(old.modified_ms);
            record.version = old.version + 1;
            match self.store.update_identity_provider(&record).await? {
                ChildWrite::Written => {
                    return Ok(UpdateIdentityProviderResponse {
                        identity_provider: Some(wire(&record)),
                    })
                }
                ChildWrite::VersionConflict => continue,
                ChildWrite::NotFound => return Err(not_found(&name)),
                ChildWrite::DuplicateIdpIdentifier(id) => return Err(duplicate_identifier(&id)),
                ChildWrite::PoolNotFound => return Err(CognitoError::pool_not_found(&pool_id)),
                _ => return Err(CognitoError::internal()),
            }
        }
        Err(concurrent_modification())
    }

    pub async fn delete_identity_provider(
        &self,
        ctx: &RequestContext,
        req: DeleteIdentityProviderRequest,
    ) -> ServiceResult<()> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let name = req.provider_name.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        match self.store.delete_identity_provider(&pool_id, &name).await? {
            ChildWrite::Written => Ok(()),
            ChildWrite::NotFound => Err(not_found(&name)),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    pub async fn list_identity_providers(
        &self,
        ctx: &RequestContext,
        req: ListIdentityProvidersRequest,
    ) -> ServiceResult<ListIdentityProvidersResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        // 0 is allowed by the model; it is taken as "the default page size".
        let limit = match req.max_results.unwrap_or(60) {
            n if n <= 0 => 60,
            n => n.min(60),
        } as u32;
        let after = req
            .next_token
            .as_deref()
            .map(pagination::decode)
            .transpose()?;
        let page = self
            .store
            .list_identity_providers(&pool_id, after.as_deref(), limit)
            .await?;
        Ok(ListIdentityProvidersResponse {
            providers: Some(
                page.items
                    .iter()
                    .map(|p| ProviderDescription {
                        provider_name: Some(p.provider_name.clone()),
                        provider_type: Some(p.provider_type),
                        last_modified_date: Some(wire_time(p.modified_ms)),
                        creation_date: Some(wire_time(p.created_ms)),
                    })
                    .collect(),
            ),
            next_token: page.last_key.as_deref().map(pagination::encode),
        })
    }
}
