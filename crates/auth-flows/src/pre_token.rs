//! The PreTokenGeneration trigger: the event it gets (the user's attributes and groups, and for
//! V2/V3 the access token's scopes) and how its answer changes the tokens (triggers.md §4.6).
//!
//! V1_0 answers `claimsOverrideDetails`: claims added to or suppressed from the ID token, and
//! `groupOverrideDetails` for both tokens. V2_0 and V3_0 answer `claimsAndScopeOverrideDetails`
//! with separate ID and access token parts and scopes. Reserved claims are left alone.

use domain::ports::UserRecord;
use domain::services::triggers::{self, unrecognizable};
use domain::ServiceResult;
use serde_json::{json, Map, Value};

use crate::tokens::{ClaimOverrides, ADMIN_SCOPE};
use domain::ports::GroupRecord;

/// The trigger's version, from `PreTokenGenerationConfig` (V1_0 when only the legacy ARN is set).
pub use domain::services::triggers::pre_token_version as version;

/// The request and the pre-filled response of the event.
pub fn event_parts(version: u8, user: &UserRecord, groups: &[GroupRecord]) -> (Value, Value) {
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let roles: Vec<&str> = groups
        .iter()
        .filter_map(|g| g.role_arn.as_deref())
        .collect();
    let preferred = groups
        .iter()
        .filter(|g| g.role_arn.is_some() && g.precedence.is_some())
        .min_by_key(|g| g.precedence)
        .and_then(|g| g.role_arn.as_deref());
    let mut request = json!({
        "userAttributes": triggers::user_attributes(user),
        "groupConfiguration": {
            "groupsToOverride": names,
            "iamRolesToOverride": roles,
            "preferredRole": preferred,
        },
        "clientMetadata": Value::Null,
    });
    let response = if version == 1 {
        json!({ "claimsOverrideDetails": null })
    } else {
        request["scopes"] = json!([ADMIN_SCOPE]);
        json!({ "claimsAndScopeOverrideDetails": null })
    };
    (request, response)
}

fn object(v: Option<&Value>) -> ServiceResult<Option<&Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(unrecognizable()),
    }
}

fn strings(v: Option<&Value>) -> ServiceResult<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(unrecognizable))
            .collect::<ServiceResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(unrecognizable()),
    }
}

/// Claims to add: V1 takes strings only; V2/V3 any JSON value.
fn claims(v: Option<&Value>, strings_only: bool) -> ServiceResult<Map<String, Value>> {
    let Some(m) = object(v)? else {
        return Ok(Map::new());
    };
    if strings_only && m.values().any(|v| !v.is_string()) {
        return Err(unrecognizable());
    }
    Ok(m.clone())
}

fn groups(o: &mut ClaimOverrides, details: Option<&Value>) -> ServiceResult<()> {
    if let Some(g) = object(details)? {
        o.groups = strings(g.get("groupsToOverride"))?;
        o.roles = strings(g.get("iamRolesToOverride"))?;
        o.preferred_role = match g.get("preferredRole") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(unrecognizable()),
        };
    }
    Ok(())
}

/// What the answered `response` changes.
pub fn overrides(version: u8, response: &Map<String, Value>) -> ServiceResult<ClaimOverrides> {
    let mut o = ClaimOverrides::default();
    if version == 1 {
        if let Some(d) = object(response.get("claimsOverrideDetails"))? {
            o.id_add = claims(d.get("claimsToAddOrOverride"), true)?;
            o.id_suppress = strings(d.get("claimsToSuppress"))?.unwrap_or_default();
            groups(&mut o, d.get("groupOverrideDetails"))?;
        }
        return Ok(o);
    }
    if let Some(d) = object(response.get("claimsAndScopeOverrideDetails"))? {
        if let Some(id) = object(d.get("idTokenGeneration"))? {
            o.id_add = claims(id.get("claimsToAddOrOverride"), false)?;
            o.id_suppress = strings(id.get("claimsToSuppress"))?.unwrap_or_default();
        }
        if let Some(at) = object(d.get("accessTokenGeneration"))? {
            o.access_add = claims(at.get("claimsToAddOrOverride"), false)?;
            o.access_suppress = strings(at.get("claimsToSuppress"))?.unwrap_or_default();
            o.scopes_add = strings(at.get("scopesToAdd"))?.unwrap_or_default();
            o.scopes_suppress = strings(at.get("scopesToSuppress"))?.unwrap_or_default();
        }
        groups(&mut o, d.get("groupOverrideDetails"))?;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn v1_overrides_the_id_token_and_groups() {
        let o = overrides(
            1,
            &map(json!({"claimsOverrideDetails": {
                "claimsToAddOrOverride": {"tier": "gold"},
                "claimsToSuppress": ["email"],
                "groupOverrideDetails": {"groupsToOverride": ["admins"]}
            }})),
        )
        .unwrap();
        assert_eq!(o.id_add, map(json!({"tier": "gold"})));
        assert_eq!(o.id_suppress, ["email"]);
        assert_eq!(o.groups, Some(vec!["admins".to_string()]));
        assert!(o.access_add.is_empty());
        // V1 claims are strings.
        assert!(overrides(
            1,
            &map(json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"n": 1}}}))
        )
        .is_err());
        // Nothing answered changes nothing.
        let none = overrides(1, &map(json!({"claimsOverrideDetails": null}))).unwrap();
        assert!(none.id_add.is_empty() && none.groups.is_none());
    }

    #[test]
    fn v2_overrides_both_tokens_and_scopes() {
        let o = overrides(
            2,
            &map(json!({"claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": {"n": 1}},
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"roles": ["a", "b"]},
                    "claimsToSuppress": ["x"],
                    "scopesToAdd": ["api/read"],
                    "scopesToSuppress": ["aws.cognito.signin.user.admin"]
                }
            }})),
        )
        .unwrap();
        assert_eq!(o.id_add, map(json!({"n": 1})));
        assert_eq!(o.access_add, map(json!({"roles": ["a", "b"]})));
        assert_eq!(o.scopes_add, ["api/read"]);
        assert_eq!(o.scopes_suppress, [ADMIN_SCOPE]);
        assert!(overrides(2, &map(json!({"claimsAndScopeOverrideDetails": "x"}))).is_err());
    }
}
