//! The cognito-idp wire surface: AWS JSON 1.1 over `POST /`, SigV4, model-driven validation,
//! access policies and dispatch to the domain services. Nothing below this crate sees HTTP.

pub mod access;
pub mod dispatch;
pub mod error;
pub mod routes;
pub mod server;
pub mod sigv4;
pub mod throttle;
pub mod validate;

pub use server::{routes, AppState, Readiness};
