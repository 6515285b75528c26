//! The user directory: users, attributes, groups and memberships.

use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::AdminCreateUser,
    Operation::AdminGetUser,
    Operation::AdminDeleteUser,
    Operation::AdminUpdateUserAttributes,
    Operation::AdminDeleteUserAttributes,
    Operation::AdminEnableUser,
    Operation::AdminDisableUser,
    Operation::AdminSetUserPassword,
    Operation::AdminResetUserPassword,
    Operation::AdminConfirmSignUp,
    Operation::AdminListUserAuthEvents,
    Operation::AddCustomAttributes,
    Operation::GetCSVHeader,
    Operation::ListUsers,
    Operation::CreateGroup,
    Operation::GetGroup,
    Operation::UpdateGroup,
    Operation::DeleteGroup,
    Operation::ListGroups,
    Operation::AdminAddUserToGroup,
    Operation::AdminRemoveUserFromGroup,
    Operation::AdminListGroupsForUser,
    Operation::ListUsersInGroup,
];

pub async fn route(s: &Services, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    let d = &s.directory;
    Ok(match op {
        Operation::AdminCreateUser => call(input, |r| d.admin_create_user(ctx, r)).await,
        Operation::AdminGetUser => call(input, |r| d.admin_get_user(ctx, r)).await,
        Operation::AdminDeleteUser => call(input, |r| d.admin_delete_user(ctx, r)).await,
        Operation::AdminUpdateUserAttributes => {
            call(input, |r| d.admin_update_user_attributes(ctx, r)).await
        }
        Operation::AdminDeleteUserAttributes => {
            call(input, |r| d.admin_delete_user_attributes(ctx, r)).await
        }
        Operation::AdminEnableUser => call(input, |r| d.admin_enable_user(ctx, r)).await,
        Operation::AdminDisableUser => call(input, |r| d.admin_disable_user(ctx, r)).await,
        Operation::AdminSetUserPassword => call(input, |r| d.admin_set_user_password(ctx, r)).await,
        Operation::AdminResetUserPassword => {
            call(input, |r| d.admin_reset_user_password(ctx, r)).await
        }
        Operation::AdminConfirmSignUp => call(input, |r| d.admin_confirm_sign_up(ctx, r)).await,
        Operation::AdminListUserAuthEvents => {
            call(input, |r| d.admin_list_user_auth_events(ctx, r)).await
        }
        Operation::AddCustomAttributes => call(input, |r| d.add_custom_attributes(ctx, r)).await,
        Operation::GetCSVHeader => call(input, |r| d.get_csv_header(ctx, r)).await,
        Operation::ListUsers => call(input, |r| d.list_users(ctx, r)).await,
        Operation::CreateGroup => call(input, |r| d.create_group(ctx, r)).await,
        Operation::GetGroup => call(input, |r| d.get_group(ctx, r)).await,
        Operation::UpdateGroup => call(input, |r| d.update_group(ctx, r)).await,
        Operation::DeleteGroup => call(input, |r| d.delete_group(ctx, r)).await,
        Operation::ListGroups => call(input, |r| d.list_groups(ctx, r)).await,
        Operation::AdminAddUserToGroup => call(input, |r| d.admin_add_user_to_group(ctx, r)).await,
        Operation::AdminRemoveUserFromGroup => {
            call(input, |r| d.admin_remove_user_from_group(ctx, r)).await
        }
        Operation::AdminListGroupsForUser => {
            call(input, |r| d.admin_list_groups_for_user(ctx, r)).await
        }
        Operation::ListUsersInGroup => call(input, |r| d.list_users_in_group(ctx, r)).await,
        _ => return Err(input),
    })
}
