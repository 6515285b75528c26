//! Resource servers and identity providers through the SDK.
