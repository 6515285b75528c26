//! The ListUsers filter: `<attribute> = "<value>"` (exact) or `<attribute> ^= "<value>"` (prefix).

use cognito_model::shapes::UserStatusType;

use crate::error::{CognitoError, ServiceResult};
use crate::ports::UserQuery;

use super::attributes::SEARCHABLE;

fn parse_error() -> CognitoError {
    CognitoError::invalid_parameter("Error while parsing filter.")
}

/// Splits a filter into (attribute, prefix?, value). Quotes and backslashes inside the value are
/// escaped with a backslash.
pub fn split(filter: &str) -> ServiceResult<(String, bool, String)> {
    let s = filter.trim();
    let name_end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .ok_or_else(parse_error)?;
    let name = &s[..name_end];
    if name.is_empty() {
        return Err(parse_error());
    }
    let rest = s[name_end..].trim_start();
    let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else {
        return Err(parse_error());
    };
    let rest = rest.trim_start();
    let mut chars = rest.strip_prefix('"').ok_or_else(parse_error)?.chars();
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(parse_error()),
            Some('\\') => value.push(chars.next().ok_or_else(parse_error)?),
            Some('"') => break,
            Some(c) => value.push(c),
        }
    }
    if !chars.as_str().trim().is_empty() {
        return Err(parse_error());
    }
    Ok((name.to_string(), prefix, value))
}

fn matches(candidate: &str, value: &str, prefix: bool) -> bool {
    if prefix {
        candidate.starts_with(value)
    } else {
        candidate == value
    }
}

/// The query a filter asks for. An absent or blank filter lists everybody.
pub fn parse(filter: Option<&str>) -> ServiceResult<UserQuery> {
    let Some(f) = filter.filter(|f| !f.trim().is_empty()) else {
        return Ok(UserQuery::All);
    };
    let (name, prefix, value) = split(f)?;
    Ok(match name.as_str() {
        "username" => UserQuery::Username { value, prefix },
        "sub" => UserQuery::Sub { value, prefix },
        "cognito:user_status" => {
            let v = value.to_uppercase();
            // ARCHIVED, COMPROMISED and UNKNOWN are no longer used: no user has them. Of the
            // others, every non-empty prefix names at most one, so each query is one index range.
            let live = UserStatusType::ALL.iter().filter(|s| {
                !matches!(
                    s,
                    UserStatusType::Archived
                        | UserStatusType::Compromised
                        | UserStatusType::Unknown
                )
            });
            let hits: Vec<String> = live
                .clone()
                .map(|s| s.as_str())
                .filter(|s| matches(s, &v, prefix))
                .map(str::to_string)
                .collect();
            match hits.len() {
                0 => UserQuery::Nothing,
                n if n == live.count() => UserQuery::All,
                _ => UserQuery::Status(hits),
            }
        }
        "status" => {
            let enabled = matches("Enabled", &value, prefix);
            let disabled = matches("Disabled", &value, prefix);
            match (enabled, disabled) {
                (true, true) => UserQuery::All,
                (true, false) => UserQuery::Enabled(true),
                (false, true) => UserQuery::Enabled(false),
                (false, false) => UserQuery::Nothing,
            }
        }
        n if SEARCHABLE.contains(&n) => UserQuery::Attribute {
            name,
            value,
            prefix,
        },
        _ => {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid search attribute: {name}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(parse(None).unwrap(), UserQuery::All);
        assert_eq!(
            parse(Some("email ^= \"Jo\"")).unwrap(),
            UserQuery::Attribute {
                name: "email".into(),
                value: "Jo".into(),
                prefix: true
            }
        );
        assert_eq!(
            parse(Some(r#"username="a\"b""#)).unwrap(),
            UserQuery::Username {
                value: "a\"b".into(),
                prefix: false
            }
        );
        assert_eq!(
            parse(Some("cognito:user_status = \"confirmed\"")).unwrap(),
            UserQuery::Status(vec!["CONFIRMED".into()])
        );
        assert_eq!(
            parse(Some("cognito:user_status ^= \"C\"")).unwrap(),
            UserQuery::Status(vec!["CONFIRMED".into()])
        );
        assert_eq!(
            parse(Some("cognito:user_status ^= \"\"")).unwrap(),
            UserQuery::All
        );
        assert_eq!(
            parse(Some("cognito:user_status = \"ARCHIVED\"")).unwrap(),
            UserQuery::Nothing
        );
        assert_eq!(
            parse(Some("status = \"Disabled\"")).unwrap(),
            UserQuery::Enabled(false)
        );
        assert_eq!(
            parse(Some("status = \"disabled\"")).unwrap(),
            UserQuery::Nothing
        );
        for bad in [
            "email",
            "email = x",
            "email = \"x",
            "= \"x\"",
            "email ~ \"x\"",
            "email = \"x\" and",
        ] {
            assert_eq!(
                parse(Some(bad)).unwrap_err().message,
                "Error while parsing filter.",
                "{bad}"
            );
        }
        assert_eq!(
            parse(Some("custom:x = \"1\"")).unwrap_err().message,
            "Invalid search attribute: custom:x"
        );
    }
}
