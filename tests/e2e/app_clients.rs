//! App clients and their secrets through the SDK.
