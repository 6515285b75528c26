//! See README.md beside this crate: mfa is reserved for the work it names and holds no code yet.
