//! The admin services, one module per Cognito resource.

pub mod pagination;
pub mod user_pools;

pub use user_pools::UserPoolService;
