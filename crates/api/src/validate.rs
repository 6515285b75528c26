//! Input validation driven by the service model's constraint tables: required members, lengths,
//! ranges, patterns and enums, reported the way Cognito reports them:
//! `2 validation errors detected: Value 'x' at 'userPoolId' failed to satisfy constraint: ...; ...`.
//! A member of the wrong JSON type is a SerializationException instead, as on the real service.

use std::sync::OnceLock;

use cognito_model::model::{Shape, ShapeId, ShapeKind, SHAPES};
use regex::Regex;
use serde_json::Value;

use crate::error::ApiError;

/// Validates `value` against the input shape `shape`.
pub fn validate_input(value: &Value, shape: ShapeId) -> Result<(), ApiError> {
    let mut v = Validator { errors: Vec::new() };
    v.walk(value, shape, "", false)?;
    if v.errors.is_empty() {
        return Ok(());
    }
    let n = v.errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    Err(ApiError::invalid_parameter(format!(
        "{n} validation {noun} detected: {}",
        v.errors.join("; ")
    )))
}

struct Validator {
    errors: Vec<String>,
}

fn shape(id: ShapeId) -> &'static Shape {
    &SHAPES[id as usize]
}

/// The value as messages quote it, cut at [`domain::error::ECHO_LIMIT`] characters: a value
/// thousands of characters long would otherwise come back whole, in the body and in the
/// `x-amzn-ErrorMessage` header (docs/resources/corrections.md).
fn echo(value: &Value) -> String {
    domain::echo(&render(value)).into_owned()
}

/// How a value is quoted in messages (Java's toString style): strings bare, lists as `[a, b]`.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn type_error(expected: &str) -> ApiError {
    // The live service's texts for these are terse and vary; clients read only the type.
    ApiError::serialization(format!("Unexpected field type: expected {expected}"))
}

impl Validator {
    fn fail(&mut self, value: Option<&Value>, sensitive: bool, path: &str, constraint: String) {
        let what = match value {
            None => "Value null".to_string(),
            Some(_) if sensitive => "Value".to_string(),
            Some(v) => format!("Value '{}'", echo(v)),
        };
        self.errors.push(format!(
            "{what} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// `within_sensitive`: an enclosing shape is sensitive. Sensitivity flows down, so the keys,
    /// values and members of a sensitive map, list or structure are never echoed even though
    /// their own shapes (often plain `StringType`) are not marked (review L5).
    fn walk(
        &mut self,
        value: &Value,
        id: ShapeId,
        path: &str,
        within_sensitive: bool,
    ) -> Result<(), ApiError> {
        let sh = shape(id);
        let sensitive = within_sensitive || sh.sensitive;
        match &sh.kind {
            ShapeKind::Structure { members } => {
                let Value::Object(map) = value else {
                    return Err(ApiError::serialization(if value.is_array() {
                        "Start of list found where not expected"
                    } else {
                        "Expected map or null"
                    }));
                };
                for m in members.iter() {
                    let p = join(path, m.wire_path_name);
                    match map.get(m.name) {
                        None | Some(Value::Null) => {
                            if m.required {
                                self.fail(None, false, &p, "Member must not be null".into());
                            }
                        }
                        Some(v) => self.walk(v, m.target, &p, sensitive)?,
                    }
                }
            }
            ShapeKind::String {
                min,
                max,
                pattern,
                enum_values,
            } => {
                let Value::String(s) = value else {
                    if value.is_object() {
                        return Err(ApiError::serialization(
                            "Start of structure or map found where not expected.",
                        ));
                    }
                    return Err(type_error("string"));
                };
                let len = s.chars().count() as u64;
                if let Some(min) = min {
                    if len < *min {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length greater than or equal to {min}"),
                        );
                    }
                }
                if let Some(max) = max {
                    if len > *max {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length less than or equal to {max}"),
                        );
                    }
                }
                let mut pattern_failed = false;
                if let Some(p) = pattern {
                    if let Some(re) = pattern_regex(id) {
                        if !re.is_match(s) {
                            pattern_failed = true;
                            self.fail(
                                Some(value),
                                sensitive,
                                path,
                                format!("Member must satisfy regular expression pattern: {p}"),
                            );
                        }
                    }
                }
                // U+0000 cannot be stored in Postgres text, and SQLite would keep it: refused
                // in every string, the same on both backends, before any lookup or write
                // (docs/resources/validation-messages.md). A pattern that already refused the
                // value said enough.
                if !pattern_failed && s.contains('\0') {
                    self.fail(
                        Some(value),
                        sensitive,
                        path,
                        "Member must not contain null characters".into(),
                    );
                }
                if !enum_values.is_empty() && !enum_values.contains(&s.as_str()) {
                    self.fail(
                        Some(value),
                        sensitive,
                        path,
                        format!(
                            "Member must satisfy enum value set: [{}]",
                            java_hash_set_order(enum_values).join(", ")
                        ),
                    );
                }
            }
            ShapeKind::Integer { min, max } | ShapeKind::Long { min, max } => {
                let n = match value {
                    Value::Number(n) => n.as_i64().ok_or_else(|| type_error("integer"))?,
                    _ => return Err(type_error("integer")),
                };
                if matches!(sh.kind, ShapeKind::Integer { .. }) && i32::try_from(n).is_err() {
                    return Err(type_error("integer"));
                }
                if let Some(min) = min {
                    if n < *min {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have value greater than or equal to {min}"),
                        );
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have value less than or equal to {max}"),
                        );
                    }
                }
            }
            ShapeKind::Boolean => {
                if !value.is_boolean() {
                    return Err(type_error("boolean"));
                }
            }
            ShapeKind::Timestamp => {
                if !value.is_number() {
                    return Err(type_error("timestamp"));
                }
            }
            ShapeKind::Blob { min, max } => {
                let Value::String(s) = value else {
                    return Err(type_error("blob"));
                };
                let len = s.len() as u64 * 3 / 4;
                if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                    self.fail(
                        Some(value),
                        true,
                        path,
                        "Member must have length within the allowed range".into(),
                    );
                }
            }
            ShapeKind::List { member, min, max } => {
                let Value::Array(items) = value else {
                    if value.is_object() {
                        return Err(ApiError::serialization(
                            "Start of structure or map found where not expected.",
                        ));
                    }
                    return Err(type_error("list"));
                };
                let n = items.len() as u64;
                if let Some(min) = min {
                    if n < *min {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length greater than or equal to {min}"),
                        );
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length less than or equal to {max}"),
                        );
                    }
                }
                // Members that are structures, lists or maps are reported at their own paths
                // (`schema.1.member.name`); scalar members are reported once, as the whole list
                // at the list's path with the members' constraints nested (corrections.md #11).
                let scalar = !matches!(
                    shape(*member).kind,
                    ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. }
                );
                let mut nested: Vec<String> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if item.is_null() {
                        continue;
                    }
                    let member_path = format!("{path}.{}.member", i + 1);
                    if !scalar {
                        self.walk(item, *member, &member_path, sensitive)?;
                        continue;
                    }
                    let mut inner = Validator { errors: Vec::new() };
                    inner.walk(item, *member, &member_path, sensitive)?;
                    for e in inner.errors {
                        let constraint = constraint_of(&e).to_string();
                        if !nested.contains(&constraint) {
                            nested.push(constraint);
                        }
                    }
                }
                if !nested.is_empty() {
                    self.fail(
                        Some(value),
                        sensitive,
                        path,
                        format!("Member must satisfy constraint: [{}]", nested.join(", ")),
                    );
                }
            }
            ShapeKind::Map {
                key,
                value: val,
                min,
                max,
            } => {
                let Value::Object(map) = value else {
                    return Err(ApiError::serialization("Expected map or null"));
                };
                let n = map.len() as u64;
                if let Some(min) = min {
                    if n < *min {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length greater than or equal to {min}"),
                        );
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        self.fail(
                            Some(value),
                            sensitive,
                            path,
                            format!("Member must have length less than or equal to {max}"),
                        );
                    }
                }
                for (k, v) in map {
                    let key_value = Value::String(k.clone());
                    let mut inner = Validator { errors: Vec::new() };
                    inner.walk(&key_value, *key, path, sensitive)?;
                    for e in inner.errors {
                        self.errors.push(wrap_map_error(e, "Map keys"));
                    }
                    if v.is_null() {
                        continue;
                    }
                    let mut inner = Validator { errors: Vec::new() };
                    inner.walk(v, *val, path, sensitive)?;
                    for e in inner.errors {
                        self.errors.push(wrap_map_error(e, "Map value"));
                    }
                }
            }
            ShapeKind::Document => {}
        }
        Ok(())
    }
}

/// The `X` of `... failed to satisfy constraint: X`.
fn constraint_of(e: &str) -> &str {
    const MARK: &str = "failed to satisfy constraint: ";
    e.find(MARK).map_or(e, |i| &e[i + MARK.len()..])
}

/// The values in the order a Java `HashSet<String>` of them iterates, which is the order
/// Cognito lists enum values in its messages: captured `[OPTIONAL, OFF, ON]` for the model's
/// `[OFF, ON, OPTIONAL]` and `[implicit, client_credentials, code]` for `[code, implicit,
/// client_credentials]` (corrections.md #12). Buckets are `hash ^ hash >>> 16` masked by the
/// table size (16, doubled while more than three quarters full); a bucket keeps insertion order.
fn java_hash_set_order<'a>(values: &[&'a str]) -> Vec<&'a str> {
    let mut table = 16usize;
    while values.len() * 4 > table * 3 {
        table *= 2;
    }
    let bucket = |v: &str| {
        let h = v
            .encode_utf16()
            .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
        ((h ^ (h >> 16)) as usize) & (table - 1)
    };
    let mut ordered: Vec<(usize, usize, &'a str)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (bucket(v), i, *v))
        .collect();
    ordered.sort_unstable();
    ordered.into_iter().map(|(_, _, v)| v).collect()
}

/// Rewrites `... failed to satisfy constraint: X` into `... failed to satisfy constraint: Map keys must satisfy constraint: [X]`.
fn wrap_map_error(e: String, what: &str) -> String {
    let tail = constraint_of(&e);
    if tail.len() == e.len() {
        return e;
    }
    let head = &e[..e.len() - tail.len()];
    format!("{head}{what} must satisfy constraint: [{tail}]")
}

/// A model pattern in Rust form. Rust's regex has no look-behind; the one form the model uses,
/// a trailing `(?<!c)$` ("must not end with c"), is kept as a separate check.
pub struct JavaPattern {
    regex: Regex,
    forbidden_last: Option<char>,
}

impl JavaPattern {
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s) && !self.forbidden_last.is_some_and(|c| s.ends_with(c))
    }
}

/// The compiled pattern of a string shape, or None when it has none or cannot be expressed.
fn pattern_regex(id: ShapeId) -> Option<&'static JavaPattern> {
    static COMPILED: OnceLock<Vec<Option<JavaPattern>>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            SHAPES
                .iter()
                .map(|s| match &s.kind {
                    ShapeKind::String {
                        pattern: Some(p), ..
                    } => compile_java_pattern(p),
                    _ => None,
                })
                .collect()
        })
        .get(id as usize)
        .and_then(|r| r.as_ref())
}

/// Java regex → Rust regex for the model's patterns. Java's `\w`, `\d` and `\s` are ASCII-only
/// while Rust's are Unicode, so they are spelled out; the pattern must match the whole value.
pub fn compile_java_pattern(p: &str) -> Option<JavaPattern> {
    let (p, forbidden_last) = split_trailing_lookbehind(p);
    let mut out = String::with_capacity(p.len() + 16);
    let mut in_class = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else { break };
                let (inside, outside) = match n {
                    'w' => ("0-9A-Za-z_", "[0-9A-Za-z_]"),
                    'd' => ("0-9", "[0-9]"),
                    's' => ("\\t\\n\\x0B\\x0C\\r ", "[\\t\\n\\x0B\\x0C\\r ]"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                        continue;
                    }
                };
                out.push_str(if in_class { inside } else { outside });
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A leading `]` or `^]` is literal inside a class.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    match Regex::new(&format!("^(?:{out})$")) {
        Ok(regex) => Some(JavaPattern {
            regex,
            forbidden_last,
        }),
        Err(e) => {
            tracing::warn!(pattern = p, error = %e, "model pattern not expressible; length and enum checks still apply");
            None
        }
    }
}

/// `X(?<!\.)$` → (`X$`, Some('.')).
fn split_trailing_lookbehind(p: &str) -> (String, Option<char>) {
    for suffix_len in [8usize, 7] {
        if p.len() > suffix_len && p.ends_with(")$") {
            let tail = &p[p.len() - suffix_len..];
            if let Some(inner) = tail.strip_prefix("(?<!").and_then(|t| t.strip_suffix(")$")) {
                let c = inner.strip_prefix('\\').unwrap_or(inner);
                let mut chars = c.chars();
                if let (Some(ch), None) = (chars.next(), chars.next()) {
                    return (format!("{}$", &p[..p.len() - suffix_len]), Some(ch));
                }
            }
        }
    }
    (p.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_model::model::shape_by_name;
    use serde_json::json;

    fn input(name: &str) -> ShapeId {
        shape_by_name(name).expect("shape exists")
    }

    #[test]
    fn every_model_pattern_compiles() {
        let failing: Vec<&str> = SHAPES
            .iter()
            .filter_map(|s| match &s.kind {
                ShapeKind::String {
                    pattern: Some(p), ..
                } if compile_java_pattern(p).is_none() => Some(*p),
                _ => None,
            })
            .collect();
        assert!(failing.is_empty(), "patterns not compiled: {failing:?}");
    }

    #[test]
    fn trailing_lookbehind_becomes_a_suffix_check() {
        let re = compile_java_pattern(r"^[0-9A-Za-z\.\-_]*(?<!\.)$").unwrap();
        assert!(re.is_match("abc.d"));
        assert!(!re.is_match("abc."));
        assert!(re.is_match(""));
    }

    #[test]
    fn java_classes_are_ascii() {
        let re = compile_java_pattern(r"[\w-]+_[0-9a-zA-Z]+").unwrap();
        assert!(re.is_match("us-east-1_abc"));
        assert!(!re.is_match("ü-east_abc"));
        assert!(!re.is_match("us-east-1_abc "));
    }

    #[test]
    fn reports_pattern_and_null_like_cognito() {
        let err = validate_input(
            &json!({"UserPoolId": "string"}),
            input("DescribeUserPoolRequest"),
        )
        .unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value 'string' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+")
        );
        let err = validate_input(&json!({}), input("DescribeUserPoolRequest")).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: Member must not be null")
        );
        assert_eq!(err.type_name, "InvalidParameterException");
    }

    #[test]
    fn counts_several_errors_and_hides_sensitive_values() {
        let err = validate_input(
            &json!({"ClientId": "", "Username": "", "Password": "a b"}),
            input("SignUpRequest"),
        )
        .unwrap_err();
        let msg = err.message.unwrap();
        assert!(msg.starts_with("5 validation errors detected: "), "{msg}");
        assert!(msg.contains("Value at 'password' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\S]+"), "{msg}");
        assert!(!msg.contains("a b"));
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let err = validate_input(&json!({"MaxResults": "10"}), input("ListUserPoolsRequest"))
            .unwrap_err();
        assert_eq!(err.type_name, "SerializationException");
        let err = validate_input(
            &json!({"PoolName": {"a": 1}}),
            input("CreateUserPoolRequest"),
        )
        .unwrap_err();
        assert_eq!(err.type_name, "SerializationException");
    }

    #[test]
    fn ranges_and_enums() {
        let err =
            validate_input(&json!({"MaxResults": 61}), input("ListUserPoolsRequest")).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60")
        );
        let err = validate_input(
            &json!({"PoolName": "p", "MfaConfiguration": "MAYBE"}),
            input("CreateUserPoolRequest"),
        )
        .unwrap_err();
        assert!(err
            .message
            .unwrap()
            .contains("Member must satisfy enum value set: [OPTIONAL, OFF, ON]"));
    }

    #[test]
    fn enums_are_listed_in_java_hash_set_order() {
        // The two orders captured from Cognito (corrections.md #12).
        assert_eq!(
            java_hash_set_order(&["OFF", "ON", "OPTIONAL"]),
            ["OPTIONAL", "OFF", "ON"]
        );
        assert_eq!(
            java_hash_set_order(&["code", "implicit", "client_credentials"]),
            ["implicit", "client_credentials", "code"]
        );
        // Past twelve values the table doubles, and every value is still listed once.
        let many: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut ordered = java_hash_set_order(&refs);
        assert_ne!(ordered, refs);
        ordered.sort_unstable();
        let mut sorted = refs.clone();
        sorted.sort_unstable();
        assert_eq!(ordered, sorted);
    }

    #[test]
    fn scalar_list_members_are_reported_at_the_list() {
        let err = validate_input(
            &json!({"UserPoolId": "us-east-1_abc", "ClientName": "c",
                    "AllowedOAuthFlows": ["code", "token"]}),
            input("CreateUserPoolClientRequest"),
        )
        .unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value '[code, token]' at 'allowedOAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [implicit, client_credentials, code]]")
        );
        // Members that are structures keep their own paths.
        let err = validate_input(
            &json!({"PoolName": "p", "Schema": [{"Name": "a"}, {"Name": ""}]}),
            input("CreateUserPoolRequest"),
        )
        .unwrap_err();
        assert!(
            err.message
                .as_deref()
                .unwrap()
                .contains("at 'schema.2.member.name'"),
            "{:?}",
            err.message
        );
    }

    #[test]
    fn null_characters_are_refused_in_every_string() {
        // A map value (InitiateAuth's USERNAME) ...
        let err = validate_input(
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "abc",
                    "AuthParameters": {"USERNAME": "u1\u{0}", "PASSWORD": "p"}}),
            input("InitiateAuthRequest"),
        )
        .unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value at 'authParameters' failed to satisfy constraint: Map value must satisfy constraint: [Member must not contain null characters]")
        );
        // ... a member without a pattern (a group's description) ...
        let err = validate_input(
            &json!({"UserPoolId": "us-east-1_abc", "GroupName": "g", "Description": "a\u{0}b"}),
            input("CreateGroupRequest"),
        )
        .unwrap_err();
        assert!(err
            .message
            .unwrap()
            .ends_with("at 'description' failed to satisfy constraint: Member must not contain null characters"));
        // ... and a member whose pattern already refuses it gets the pattern's message only.
        let err = validate_input(
            &json!({"UserPoolId": "us-east-1_abc", "Username": "u\u{0}"}),
            input("AdminGetUserRequest"),
        )
        .unwrap_err();
        let msg = err.message.unwrap();
        assert!(msg.starts_with("1 validation error detected: "), "{msg}");
        assert!(msg.contains("regular expression pattern"), "{msg}");
    }

    #[test]
    fn echoed_values_are_bounded() {
        let huge = "x".repeat(70_000);
        let err = validate_input(
            &json!({"UserPoolId": huge, "Username": "u"}),
            input("AdminGetUserRequest"),
        )
        .unwrap_err();
        let msg = err.message.unwrap();
        assert!(msg.len() < 1_000, "{} characters", msg.len());
        assert!(msg.contains(&format!("Value '{}...' at 'userPoolId'", "x".repeat(256))));
    }

    #[test]
    fn sensitive_maps_hide_their_keys_and_values() {
        let secret = format!("TOPSECRET-{}", "x".repeat(131_072));
        let err = validate_input(
            &json!({"ClientId": "c", "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": "u", "PASSWORD": secret}}),
            input("InitiateAuthRequest"),
        )
        .unwrap_err();
        assert_eq!(err.type_name, "InvalidParameterException");
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value at 'authParameters' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 131072]")
        );
        let long_key = format!("SECRETKEY{}", "k".repeat(131_072));
        let err = validate_input(
            &json!({"ClientId": "c", "ChallengeName": "NEW_PASSWORD_REQUIRED",
                    "ChallengeResponses": {long_key: "v", "NEW_PASSWORD": secret}}),
            input("RespondToAuthChallengeRequest"),
        )
        .unwrap_err();
        let msg = err.message.unwrap();
        assert!(msg.starts_with("2 validation errors detected: "), "{msg}");
        assert!(
            !msg.contains("TOPSECRET") && !msg.contains("SECRETKEY"),
            "{msg}"
        );
    }

    #[test]
    fn map_constraints_are_wrapped() {
        let long_key = "k".repeat(129);
        let err = validate_input(
            &json!({"ResourceArn": "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_x", "Tags": {long_key: "v"}}),
            input("TagResourceRequest"),
        )
        .unwrap_err();
        assert!(err.message.unwrap().contains(
            "Map keys must satisfy constraint: [Member must have length less than or equal to 128]"
        ));
    }
}

/// Drops `null` members, map entries and list items: AWS JSON treats them as absent, and real
/// clients send them (amazon-cognito-identity-js sends `"DEVICE_KEY": null` when a browser has
/// no device key). Validation skips them already; the typed request must not see them either.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => {
            items.retain(|v| !v.is_null());
            items.iter_mut().for_each(drop_nulls);
        }
        _ => {}
    }
}

#[cfg(test)]
mod null_tests {
    use super::*;

    #[test]
    fn nulls_are_dropped_at_every_depth() {
        let mut v =
            serde_json::json!({"A": null, "M": {"k": null, "j": "x"}, "L": [null, {"z": null}]});
        drop_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"M": {"j": "x"}, "L": [{}]}));
    }
}
