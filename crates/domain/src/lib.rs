//! The Cognito user-pool domain: entities, rules, the ports services need, and the admin services.
//!
//! Nothing here knows HTTP, JSON framing or SQL. Services take the typed wire inputs generated from the
//! service model (they are Cognito's own vocabulary) and answer typed outputs or a [`CognitoError`].

pub mod context;
pub mod error;
pub mod ids;
pub mod ports;
pub mod services;
pub mod user_pool;

pub use cognito_model as model;
pub use context::RequestContext;
pub use error::{echo, CognitoError, ServiceResult};
