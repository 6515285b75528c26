//! The user directory through the SDK: users, attributes, aliases, groups.
