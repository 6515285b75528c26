//! See README.md beside this crate: auth-flows is reserved for the work it names and holds no code yet.
