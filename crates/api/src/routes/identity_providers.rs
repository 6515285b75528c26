//! Resource servers and identity providers.

use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateResourceServer,
    Operation::DescribeResourceServer,
    Operation::UpdateResourceServer,
    Operation::DeleteResourceServer,
    Operation::ListResourceServers,
    Operation::CreateIdentityProvider,
    Operation::DescribeIdentityProvider,
    Operation::UpdateIdentityProvider,
    Operation::DeleteIdentityProvider,
    Operation::ListIdentityProviders,
    Operation::GetIdentityProviderByIdentifier,
    Operation::AdminLinkProviderForUser,
    Operation::AdminDisableProviderForUser,
];

pub async fn route(s: &Services, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    let p = &s.identity_providers;
    Ok(match op {
        Operation::CreateResourceServer => call(input, |r| p.create_resource_server(ctx, r)).await,
        Operation::DescribeResourceServer => {
            call(input, |r| p.describe_resource_server(ctx, r)).await
        }
        Operation::UpdateResourceServer => call(input, |r| p.update_resource_server(ctx, r)).await,
        Operation::DeleteResourceServer => call(input, |r| p.delete_resource_server(ctx, r)).await,
        Operation::ListResourceServers => call(input, |r| p.list_resource_servers(ctx, r)).await,
        Operation::CreateIdentityProvider => {
            call(input, |r| p.create_identity_provider(ctx, r)).await
        }
        Operation::DescribeIdentityProvider => {
            call(input, |r| p.describe_identity_provider(ctx, r)).await
        }
        Operation::UpdateIdentityProvider => {
            call(input, |r| p.update_identity_provider(ctx, r)).await
        }
        Operation::DeleteIdentityProvider => {
            call(input, |r| p.delete_identity_provider(ctx, r)).await
        }
        Operation::ListIdentityProviders => {
            call(input, |r| p.list_identity_providers(ctx, r)).await
        }
        Operation::GetIdentityProviderByIdentifier => {
            call(input, |r| p.get_identity_provider_by_identifier(ctx, r)).await
        }
        Operation::AdminLinkProviderForUser => {
            call(input, |r| p.admin_link_provider_for_user(ctx, r)).await
        }
        Operation::AdminDisableProviderForUser => {
            call(input, |r| p.admin_disable_provider_for_user(ctx, r)).await
        }
        _ => return Err(input),
    })
}
