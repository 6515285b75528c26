//! Groups and memberships.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminAddUserToGroupRequest, AdminListGroupsForUserRequest, AdminListGroupsForUserResponse,
    AdminRemoveUserFromGroupRequest, CreateGroupRequest, CreateGroupResponse, DeleteGroupRequest,
    GetGroupRequest, GetGroupResponse, GroupType, ListGroupsRequest, ListGroupsResponse,
    ListUsersInGroupRequest, ListUsersInGroupResponse, UpdateGroupRequest, UpdateGroupResponse,
};

use super::{group_not_found, user_not_found, user_type, DirectoryService};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{GroupPage, GroupRecord, MembershipOutcome, StoreError};
use crate::services::pagination;
use crate::user_pool::wire_time;

fn group_type(g: &GroupRecord) -> GroupType {
    GroupType {
        group_name: Some(g.name.clone()),
        user_pool_id: Some(g.pool_id.clone()),
        description: g.description.clone(),
        role_arn: g.role_arn.clone(),
        precedence: g.precedence.map(|p| p.clamp(0, i32::MAX as i64) as i32),
        last_modified_date: Some(wire_time(g.modified_ms)),
        creation_date: Some(wire_time(g.created_ms)),
    }
}

fn limit_of(limit: Option<i32>) -> u32 {
    match limit.unwrap_or(60) {
        n if n <= 0 => 60,
        n => n.min(60) as u32,
    }
}

fn after_of(token: Option<&str>) -> ServiceResult<Option<String>> {
    token.map(pagination::decode).transpose()
}

fn groups_page(page: GroupPage) -> (Vec<GroupType>, Option<String>) {
    (
        page.groups.iter().map(group_type).collect(),
        page.last_key.as_deref().map(pagination::encode),
    )
}

impl DirectoryService {
    pub async fn create_group(
        &self,
        ctx: &RequestContext,
        req: CreateGroupRequest,
    ) -> ServiceResult<CreateGroupResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let now = self.clock.now_ms();
        let g = GroupRecord {
            pool_id: pool.record.id.clone(),
            name: req.group_name.clone().unwrap_or_default(),
            description: req.description.clone(),
            role_arn: req.role_arn.clone(),
            precedence: req.precedence.map(i64::from),
            created_ms: now,
            modified_ms: now,
        };
        match self.store.insert_group(&g).await {
            Ok(true) => Ok(CreateGroupResponse {
                group: Some(group_type(&g)),
            }),
            Ok(false) => Err(CognitoError::pool_not_found(&pool.record.id)),
            Err(StoreError::Conflict(_)) => Err(CognitoError::new(
                ErrorCode::GroupExistsException,
                format!("A group with the name {} already exists.", g.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn load_group(&self, pool_id: &str, name: Option<&str>) -> ServiceResult<GroupRecord> {
        self.store
            .get_group(pool_id, name.unwrap_or_default())
            .await?
            .ok_or_else(group_not_found)
    }

    pub async fn get_group(
        &self,
        ctx: &RequestContext,
        req: GetGroupRequest,
    ) -> ServiceResult<GetGroupResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let g = self
            .load_group(&pool.record.id, req.group_name.as_deref())
            .await?;
        Ok(GetGroupResponse {
            group: Some(group_type(&g)),
        })
    }

    /// UpdateGroup changes the members the request gives and keeps the others.
    pub async fn update_group(
        &self,
        ctx: &RequestContext,
        req: UpdateGroupRequest,
    ) -> ServiceResult<UpdateGroupResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let mut g = self
            .load_group(&pool.record.id, req.group_name.as_deref())
            .await?;
        if let Some(d) = &req.description {
            g.description = Some(d.clone());
        }
        if let Some(r) = &req.role_arn {
            g.role_arn = Some(r.clone());
        }
        if let Some(p) = req.precedence {
            g.precedence = Some(i64::from(p));
        }
        g.modified_ms = self.clock.now_ms().max(g.modified_ms);
        if !self.store.update_group(&g).await? {
            return Err(group_not_found());
        }
        Ok(UpdateGroupResponse {
            group: Some(group_type(&g)),
        })
    }

    pub async fn delete_group(
        &self,
        ctx: &RequestContext,
        req: DeleteGroupRequest,
    ) -> ServiceResult<()> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let name = req.group_name.as_deref().unwrap_or_default();
        if !self.store.delete_group(&pool.record.id, name).await? {
            return Err(group_not_found());
        }
        Ok(())
    }

    pub async fn list_groups(
        &self,
        ctx: &RequestContext,
        req: ListGroupsRequest,
    ) -> ServiceResult<ListGroupsResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let after = after_of(req.next_token.as_deref())?;
        let page = self
            .store
            .list_groups(&pool.record.id, after.as_deref(), limit_of(req.limit))
            .await?;
        let (groups, next_token) = groups_page(page);
        Ok(ListGroupsResponse {
            groups: Some(groups),
            next_token,
        })
    }

    pub async fn admin_add_user_to_group(
        &self,
        ctx: &RequestContext,
        req: AdminAddUserToGroupRequest,
    ) -> ServiceResult<()> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let user = self.find_user(&pool, req.username.as_deref()).await?;
        let group = req.group_name.as_deref().unwrap_or_default();
        match self
            .store
            .add_member(&pool.record.id, group, &user.id)
            .await?
        {
            MembershipOutcome::Written => Ok(()),
            MembershipOutcome::UserNotFound => Err(user_not_found()),
            MembershipOutcome::GroupNotFound => Err(group_not_found()),
        }
    }

    pub async fn admin_remove_user_from_group(
        &self,
        ctx: &RequestContext,
        req: AdminRemoveUserFromGroupRequest,
    ) -> ServiceResult<()> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let user = self.find_user(&pool, req.username.as_deref()).await?;
        let group = req.group_name.as_deref().unwrap_or_default();
        match self
            .store
            .remove_member(&pool.record.id, group, &user.id)
            .await?
        {
            MembershipOutcome::Written => Ok(()),
            MembershipOutcome::UserNotFound => Err(user_not_found()),
            MembershipOutcome::GroupNotFound => Err(group_not_found()),
        }
    }

    pub async fn admin_list_groups_for_user(
        &self,
        ctx: &RequestContext,
        req: AdminListGroupsForUserRequest,
    ) -> ServiceResult<AdminListGroupsForUserResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let user = self.find_user(&pool, req.username.as_deref()).await?;
        let after = after_of(req.next_token.as_deref())?;
        let page = self
            .store
            .list_groups_for_user(
                &pool.record.id,
                &user.id,
                after.as_deref(),
                limit_of(req.limit),
            )
            .await?;
        let (groups, next_token) = groups_page(page);
        Ok(AdminListGroupsForUserResponse {
            groups: Some(groups),
            next_token,
        })
    }

    pub async fn list_users_in_group(
        &self,
        ctx: &RequestContext,
        req: ListUsersInGroupRequest,
    ) -> ServiceResult<ListUsersInGroupResponse> {
        let pool = self.pool(ctx, req.user_pool_id.as_deref()).await?;
        let g = self
            .load_group(&pool.record.id, req.group_name.as_deref())
            .await?;
        let after = after_of(req.next_token.as_deref())?;
        let page = self
            .store
            .list_users_in_group(
                &pool.record.id,
                &g.name,
                after.as_deref(),
                limit_of(req.limit),
            )
            .await?;
        Ok(ListUsersInGroupResponse {
            users: Some(page.users.iter().map(|u| user_type(u, None)).collect()),
            next_token: page.next.map(|c| pagination::encode(&c.v)),
        })
    }
}
