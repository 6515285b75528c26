//! End-to-end tests: the real `gatehouse` binary, driven through the unmodified
//! `aws-sdk-cognitoidentityprovider` crate and raw HTTP. One test binary, so one link.

mod harness;
mod raw;

mod dispatch_all;
mod nodes;
mod protocol;
mod user_pools;
