//! See README.md beside this crate: notify is reserved for the work it names and holds no code yet.
