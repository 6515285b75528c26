//! Remembered devices: confirming, listing, remembering and forgetting them.

use auth_flows::AuthService;
use cognito_model::operations::Operation;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::ConfirmDevice,
    Operation::GetDevice,
    Operation::AdminGetDevice,
    Operation::ListDevices,
    Operation::AdminListDevices,
    Operation::UpdateDeviceStatus,
    Operation::AdminUpdateDeviceStatus,
    Operation::ForgetDevice,
    Operation::AdminForgetDevice,
];

pub async fn route(a: &AuthService, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    Ok(match op {
        Operation::ConfirmDevice => call(input, |r| a.confirm_device(ctx, r)).await,
        Operation::GetDevice => call(input, |r| a.get_device(ctx, r)).await,
        Operation::AdminGetDevice => call(input, |r| a.admin_get_device(ctx, r)).await,
        Operation::ListDevices => call(input, |r| a.list_devices(ctx, r)).await,
        Operation::AdminListDevices => call(input, |r| a.admin_list_devices(ctx, r)).await,
        Operation::UpdateDeviceStatus => call(input, |r| a.update_device_status(ctx, r)).await,
        Operation::AdminUpdateDeviceStatus => {
            call(input, |r| a.admin_update_device_status(ctx, r)).await
        }
        Operation::ForgetDevice => call(input, |r| a.forget_device(ctx, r)).await,
        Operation::AdminForgetDevice => call(input, |r| a.admin_forget_device(ctx, r)).await,
        _ => return Err(input),
    })
}
