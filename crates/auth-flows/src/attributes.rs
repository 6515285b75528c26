//! A signed-in user's own attributes: UpdateUserAttributes, GetUserAttributeVerificationCode,
//! VerifyUserAttribute, DeleteUserAttributes. A changed email or phone number is unverified until
//! the code sent to it is confirmed.

use cognito_model::shapes::{
    AdminDeleteUserAttributesRequest, DeleteUserAttributesRequest, DeleteUserAttributesResponse,
    GetUserAttributeVerificationCodeRequest, GetUserAttributeVerificationCodeResponse,
    UpdateUserAttributesRequest, UpdateUserAttributesResponse, VerifyUserAttributeRequest,
    VerifyUserAttributeResponse,
};
use domain::ports::DeliveryChannel;
use domain::services::directory::codes::CodePurpose;
use domain::services::DirectoryService;
use domain::{CognitoError, RequestContext, ServiceResult};

use crate::session_tokens::Authorized;
use crate::AuthService;

/// The code purpose and channel of a verifiable attribute.
fn verifiable(name: &str) -> ServiceResult<(CodePurpose, DeliveryChannel)> {
    CodePurpose::verifying(name).ok_or_else(|| {
        CognitoError::invalid_parameter(format!("Attribute {name} cannot be verified"))
    })
}

impl AuthService {
    /// The access token's client allows these attribute writes (see `client_gate::check_writable`).
    async fn check_writable(&self, a: &Authorized, names: &[String]) -> ServiceResult<()> {
        let client = self
            .services
            .app_clients
            .load(&a.ctx, &a.pool.record.id, &a.claims.client_id)
            .await?;
        crate::client_gate::check_writable(&client, names.iter().map(String::as_str))
    }

    pub async fn update_user_attributes(
        &self,
        ctx: &RequestContext,
        req: UpdateUserAttributesRequest,
    ) -> ServiceResult<UpdateUserAttributesResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let attrs = req.user_attributes.clone().unwrap_or_default();
        let names: Vec<String> = attrs.iter().filter_map(|x| x.name.clone()).collect();
        self.check_writable(&a, &names).await?;
        let update = self
            .services
            .directory
            .update_attributes(
                &a.ctx,
                Some(&a.pool.record.id),
                Some(&a.user.username),
                &attrs,
            )
            .await?;
        // A new email or phone number gets a code when the pool verifies that attribute; a value
        // held back until verified always does.
        let details = self
            .services
            .directory
            .send_verification_codes(&a.pool, &update, true)
            .await?;
        Ok(UpdateUserAttributesResponse {
            code_delivery_details_list: if details.is_empty() {
                None
            } else {
                Some(details)
            },
        })
    }

    pub async fn get_user_attribute_verification_code(
        &self,
        ctx: &RequestContext,
        req: GetUserAttributeVerificationCodeRequest,
    ) -> ServiceResult<GetUserAttributeVerificationCodeResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let name = req.attribute_name.clone().unwrap_or_default();
        let (purpose, channel) = verifiable(&name)?;
        let dest = DirectoryService::verification_destination(&a.user, &name)
            .ok_or_else(|| {
                CognitoError::invalid_parameter(format!("User has no attribute {name}"))
            })?
            .to_string();
        let d = self
            .services
            .directory
            .issue_code(&a.pool, &a.user, purpose, channel, &dest)
            .await?;
        Ok(GetUserAttributeVerificationCodeResponse {
            code_delivery_details: Some(d),
        })
    }

    pub async fn verify_user_attribute(
        &self,
        ctx: &RequestContext,
        req: VerifyUserAttributeRequest,
    ) -> ServiceResult<VerifyUserAttributeResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let name = req.attribute_name.clone().unwrap_or_default();
        let (purpose, _) = verifiable(&name)?;
        // The code proves only the value it was sent to: it is checked against that value, and
        // the write that marks it verified checks again that it is still the value.
        let dest = DirectoryService::verification_destination(&a.user, &name)
            .unwrap_or_default()
            .to_string();
        self.services
            .directory
            .check_code(
                &a.pool,
                &a.user,
                purpose,
                &dest,
                req.code.as_deref().unwrap_or_default(),
            )
            .await?;
        self.services
            .directory
            .confirm_with_code(&a.ctx, &a.pool, &a.user, Some((&name, &dest)), false, false)
            .await?;
        Ok(VerifyUserAttributeResponse {})
    }

    pub async fn delete_user_attributes(
        &self,
        ctx: &RequestContext,
        req: DeleteUserAttributesRequest,
    ) -> ServiceResult<DeleteUserAttributesResponse> {
        let a = self.authorize(ctx, req.access_token.as_deref()).await?;
        let names = req.user_attribute_names.clone().unwrap_or_default();
        self.check_writable(&a, &names).await?;
        self.services
            .directory
            .admin_delete_user_attributes(
                &a.ctx,
                AdminDeleteUserAttributesRequest {
                    user_pool_id: Some(a.pool.record.id.clone()),
                    username: Some(a.user.username.clone()),
                    user_attribute_names: Some(names),
                },
            )
            .await?;
        Ok(DeleteUserAttributesResponse {})
    }
}
