//! End-to-end tests: the real `gatehouse` binary, driven through the unmodified
//! `aws-sdk-cognitoidentityprovider` crate and raw HTTP. One test binary, so one link.

mod access_keys;
mod harness;
mod raw;

mod app_clients;
mod corrections;
mod delivery;
mod devices;
mod directory;
mod directory_properties;
mod dispatch_all;
mod identity_providers;
mod invitations;
mod logs;
mod mfa;
mod mfa_sessions;
mod nodes;
mod protocol;
mod security_accounts;
mod security_codes;
mod security_floods;
mod security_keys;
mod security_wire;
mod self_service;
mod sign_in;
mod triggers;
mod user_pools;
