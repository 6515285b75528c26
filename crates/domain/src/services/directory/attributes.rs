//! User attributes against the pool's schema, and the pool's username and alias rules.

use cognito_model::shapes::{
    AliasAttributeType, AttributeDataType, AttributeType, SchemaAttributeType, UserPoolType,
    UsernameAttributeType,
};

use crate::error::{CognitoError, ServiceResult};

/// Attributes ListUsers can filter on through the search index.
pub const SEARCHABLE: &[&str] = &[
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

fn schema_error(lines: &[String]) -> CognitoError {
    let mut msg = String::from("Attributes did not conform to the schema: ");
    for l in lines {
        msg.push_str(l);
        msg.push('\n');
    }
    CognitoError::invalid_parameter(msg)
}

/// The wording of attribute updates and deletes: one `user.<name>: ...` line per problem and no
/// heading; the heading above belongs to SignUp and AdminCreateUser (corrections.md #7).
pub fn update_error(lines: &[String]) -> CognitoError {
    let mut msg = String::new();
    for l in lines {
        msg.push_str("user.");
        msg.push_str(l);
        msg.push('\n');
    }
    CognitoError::invalid_parameter(msg)
}

pub fn schema(pool: &UserPoolType) -> &[SchemaAttributeType] {
    pool.schema_attributes.as_deref().unwrap_or_default()
}

fn find<'a>(schema: &'a [SchemaAttributeType], name: &str) -> Option<&'a SchemaAttributeType> {
    schema.iter().find(|a| a.name.as_deref() == Some(name))
}

pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(|c| c.is_whitespace())
        && !local.contains('@')
}

/// E.164: `+` then 1 to 15 digits, no leading zero.
pub fn is_phone(v: &str) -> bool {
    match v.strip_prefix('+') {
        Some(d) => {
            !d.is_empty()
                && d.len() <= 15
                && d.chars().all(|c| c.is_ascii_digit())
                && !d.starts_with('0')
        }
        None => false,
    }
}

/// Validates attributes an administrator writes (create or update) and normalises them: last
/// value wins for repeated names, booleans become `true`/`false`.
pub fn validate(
    pool: &UserPoolType,
    attrs: &[AttributeType],
    mode: Mode,
) -> ServiceResult<Vec<(String, String)>> {
    let schema = schema(pool);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    for a in attrs {
        let name = a.name.clone().unwrap_or_default();
        let value = a.value.clone().unwrap_or_default();
        let Some(def) = find(schema, &name) else {
            errors.push(format!("{name}: Attribute does not exist in the schema."));
            continue;
        };
        if name == "sub" {
            return Err(CognitoError::invalid_parameter(
                "Cannot modify the non-mutable attribute sub",
            ));
        }
        if mode == Mode::Update && def.mutable == Some(false) {
            return Err(CognitoError::invalid_parameter(format!(
                "Cannot modify the non-mutable attribute {name}"
            )));
        }
        let value = match def.attribute_data_type {
            Some(AttributeDataType::Boolean) => match value.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => {
                    errors.push(format!("{name}: Attribute value must be true or false."));
                    continue;
                }
            },
            Some(AttributeDataType::Number) => {
                let Ok(n) = value.trim().parse::<f64>() else {
                    errors.push(format!("{name}: Number could not be parsed."));
                    continue;
                };
                if let Some(c) = &def.number_attribute_constraints {
                    let bound =
                        |b: &Option<String>| b.as_deref().and_then(|s| s.parse::<f64>().ok());
                    if let Some(min) = bound(&c.min_value) {
                        if n < min {
                            errors.push(format!(
                                "{name}: Number must be no less than {}.",
                                c.min_value.as_deref().unwrap_or_default()
                            ));
                            continue;
                        }
                    }
                    if let Some(max) = bound(&c.max_value) {
                        if n > max {
                            errors.push(format!(
                                "{name}: Number must be no greater than {}.",
                                c.max_value.as_deref().unwrap_or_default()
                            ));
                            continue;
                        }
                    }
                }
                value
            }
            _ => {
                if let Some(c) = &def.string_attribute_constraints {
                    let len = value.chars().count();
                    let bound =
                        |b: &Option<String>| b.as_deref().and_then(|s| s.parse::<usize>().ok());
                    if let Some(max) = bound(&c.max_length) {
                        if len > max {
                            errors.push(format!(
                                "{name}: String must be no longer than {max} characters."
                            ));
                            continue;
                        }
                    }
                    if let Some(min) = bound(&c.min_length) {
                        if len < min && !value.is_empty() {
                            errors.push(format!(
                                "{name}: String must be no shorter than {min} characters."
                            ));
                            continue;
                        }
                    }
                }
                value
            }
        };
        if name == "email" && !is_email(&value) {
            return Err(CognitoError::invalid_parameter(
                "Invalid email address format.",
            ));
        }
        if name == "phone_number" && !is_phone(&value) {
            return Err(CognitoError::invalid_parameter(
                "Invalid phone number format.",
            ));
        }
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    if !errors.is_empty() {
        return Err(match mode {
            Mode::Create => schema_error(&errors),
            Mode::Update => update_error(&errors),
        });
    }
    Ok(out)
}

/// Every required attribute must have a value.
pub fn check_required(pool: &UserPoolType, attrs: &[(String, String)]) -> ServiceResult<()> {
    let missing: Vec<String> = schema(pool)
        .iter()
        .filter(|a| a.required == Some(true))
        .filter_map(|a| a.name.clone())
        .filter(|n| n != "sub" && !attrs.iter().any(|(k, v)| k == n && !v.is_empty()))
        .map(|n| format!("{n}: The attribute is required"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(schema_error(&missing))
    }
}

/// Whether usernames (and case-insensitive aliases) are matched regardless of case.
pub fn case_insensitive(pool: &UserPoolType) -> bool {
    pool.username_configuration
        .as_ref()
        .and_then(|c| c.case_sensitive)
        == Some(false)
}

/// The form a username is matched in.
pub fn username_key(pool: &UserPoolType, username: &str) -> String {
    if case_insensitive(pool) {
        username.to_lowercase()
    } else {
        username.to_string()
    }
}

/// The form an alias value of `kind` is matched in.
pub fn alias_key(pool: &UserPoolType, kind: &str, value: &str) -> String {
    if kind != "phone_number" && case_insensitive(pool) {
        value.to_lowercase()
    } else {
        value.to_string()
    }
}

pub fn username_attributes(pool: &UserPoolType) -> Vec<&'static str> {
    pool.username_attributes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|a| a.as_str())
        .collect()
}

pub fn alias_attributes(pool: &UserPoolType) -> Vec<&'static str> {
    pool.alias_attributes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|a: &AliasAttributeType| a.as_str())
        .collect()
}

fn value_of<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The alias values a user with these attributes holds exclusively in the pool: email and phone
/// in a username-attributes pool (verified or not); verified email and phone and any
/// preferred_username configured as aliases.
pub fn alias_claims(pool: &UserPoolType, attrs: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let uattrs = username_attributes(pool);
    if !uattrs.is_empty() {
        for kind in uattrs {
            if let Some(v) = value_of(attrs, kind).filter(|v| !v.is_empty()) {
                out.push((kind.to_string(), alias_key(pool, kind, v)));
            }
        }
        return out;
    }
    for kind in alias_attributes(pool) {
        let Some(v) = value_of(attrs, kind).filter(|v| !v.is_empty()) else {
            continue;
        };
        let verified = match kind {
            "preferred_username" => true,
            k => value_of(attrs, &format!("{k}_verified")) == Some("true"),
        };
        if verified {
            out.push((kind.to_string(), alias_key(pool, kind, v)));
        }
    }
    out
}

/// The rows of the ListUsers search index for a user with these attributes.
pub fn search_rows(attrs: &[(String, String)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .filter(|(n, _)| SEARCHABLE.contains(&n.as_str()))
        .cloned()
        .collect()
}

/// Checks a new username against the pool's username/alias configuration. For a
/// username-attributes pool it answers which attribute the username fills.
pub fn check_new_username(
    pool: &UserPoolType,
    username: &str,
) -> ServiceResult<Option<&'static str>> {
    let uattrs = username_attributes(pool);
    if !uattrs.is_empty() {
        let email = uattrs.contains(&UsernameAttributeType::Email.as_str());
        let phone = uattrs.contains(&UsernameAttributeType::PhoneNumber.as_str());
        if email && is_email(username) {
            return Ok(Some("email"));
        }
        if phone && is_phone(username) {
            return Ok(Some("phone_number"));
        }
        let msg = match (email, phone) {
            (true, true) => "Username should be either an email or a phone number.",
            (true, false) => "Username should be an email.",
            _ => "Username should be a phone number.",
        };
        return Err(CognitoError::invalid_parameter(msg));
    }
    let aliases = alias_attributes(pool);
    if aliases.contains(&"email") && is_email(username) {
        return Err(CognitoError::invalid_parameter(
            "Username cannot be of email format, since user pool is configured for email alias.",
        ));
    }
    if aliases.contains(&"phone_number") && is_phone(username) {
        return Err(CognitoError::invalid_parameter(
            "Username cannot be of phone number format, since user pool is configured for phone number alias.",
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@"));
        assert!(!is_email("ab.co"));
        assert!(!is_email("a b@c.d"));
        assert!(is_phone("+14155550100"));
        assert!(!is_phone("14155550100"));
        assert!(!is_phone("+1-415"));
        assert!(!is_phone("+"));
    }
}
