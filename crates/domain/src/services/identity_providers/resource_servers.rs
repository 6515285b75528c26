//! CreateResourceServer, DescribeResourceServer, UpdateResourceServer, DeleteResourceServer and
//! ListResourceServers.

use cognito_model::shapes::{
    CreateResourceServerRequest, CreateResourceServerResponse, DeleteResourceServerRequest,
    DescribeResourceServerRequest, DescribeResourceServerResponse, ListResourceServersRequest,
    ListResourceServersResponse, ResourceServerType, UpdateResourceServerRequest,
    UpdateResourceServerResponse,
};

use super::{limit_exceeded, IdentityProviderService, MAX_RESOURCE_SERVERS};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{ChildWrite, ResourceServerRecord};
use crate::services::pagination;

fn not_found(identifier: &str) -> CognitoError {
    CognitoError::resource_not_found(format!("Resource server {identifier} does not exist."))
}

fn wire(r: &ResourceServerRecord) -> ResourceServerType {
    ResourceServerType {
        user_pool_id: Some(r.pool_id.clone()),
        identifier: Some(r.identifier.clone()),
        name: Some(r.name.clone()),
        scopes: Some(r.scopes.clone()),
        ..Default::default()
    }
}

impl IdentityProviderService {
    pub async fn create_resource_server(
        &self,
        ctx: &RequestContext,
        req: CreateResourceServerRequest,
    ) -> ServiceResult<CreateResourceServerResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let now = self.clock.now_ms();
        let record = ResourceServerRecord {
            pool_id: pool_id.clone(),
            identifier: req.identifier.unwrap_or_default(),
            name: req.name.unwrap_or_default(),
            scopes: req.scopes.unwrap_or_default(),
            created_ms: now,
            modified_ms: now,
        };
        match self
            .store
            .insert_resource_server(&record, MAX_RESOURCE_SERVERS)
            .await?
        {
            ChildWrite::Written => Ok(CreateResourceServerResponse {
                resource_server: Some(wire(&record)),
            }),
            ChildWrite::Duplicate => Err(CognitoError::invalid_parameter(format!(
                "{} already exists in pool {pool_id}.",
                record.identifier
            ))),
            ChildWrite::LimitExceeded => Err(limit_exceeded(format!(
                "The user pool {pool_id} already has the maximum of {MAX_RESOURCE_SERVERS} resource servers."
            ))),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    pub async fn describe_resource_server(
        &self,
        ctx: &RequestContext,
        req: DescribeResourceServerRequest,
    ) -> ServiceResult<DescribeResourceServerResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let identifier = req.identifier.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let r = self
            .store
            .get_resource_server(&pool_id, &identifier)
            .await?
            .ok_or_else(|| not_found(&identifier))?;
        Ok(DescribeResourceServerResponse {
            resource_server: Some(wire(&r)),
        })
    }

    /// UpdateResourceServer replaces the name and the scopes: scopes the request omits are gone.
    pub async fn update_resource_server(
        &self,
        ctx: &RequestContext,
        req: UpdateResourceServerRequest,
    ) -> ServiceResult<UpdateResourceServerResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let identifier = req.identifier.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let existing = self
            .store
            .get_resource_server(&pool_id, &identifier)
            .await?
            .ok_or_else(|| not_found(&identifier))?;
        let record = ResourceServerRecord {
            name: req.name.unwrap_or_default(),
            scopes: req.scopes.unwrap_or_default(),
            modified_ms: self.clock.now_ms().max(existing.modified_ms),
            ..existing
        };
        match self.store.update_resource_server(&record).await? {
            ChildWrite::Written => Ok(UpdateResourceServerResponse {
                resource_server: Some(wire(&record)),
            }),
            ChildWrite::NotFound => Err(not_found(&identifier)),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    pub async fn delete_resource_server(
        &self,
        ctx: &RequestContext,
        req: DeleteResourceServerRequest,
    ) -> ServiceResult<()> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let identifier = req.identifier.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        match self
            .store
            .delete_resource_server(&pool_id, &identifier)
            .await?
        {
            ChildWrite::Written => Ok(()),
            ChildWrite::NotFound => Err(not_found(&identifier)),
            ChildWrite::PoolNotFound => Err(CognitoError::pool_not_found(&pool_id)),
            _ => Err(CognitoError::internal()),
        }
    }

    pub async fn list_resource_servers(
        &self,
        ctx: &RequestContext,
        req: ListResourceServersRequest,
    ) -> ServiceResult<ListResourceServersResponse> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        self.pools.load(ctx, &pool_id).await?;
        let limit = req.max_results.unwrap_or(50).clamp(1, 50) as u32;
        let after = req
            .next_token
            .as_deref()
            .map(pagination::decode)
            .transpose()?;
        let page = self
            .store
            .list_resource_servers(&pool_id, after.as_deref(), limit)
            .await?;
        Ok(ListResourceServersResponse {
            resource_servers: Some(page.items.iter().map(wire).collect()),
            next_token: page.last_key.as_deref().map(pagination::encode),
        })
    }
}
