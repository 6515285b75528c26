//! Access keys and what each may do: an IAM-like allow list of actions and resources with
//! wildcards, e.g. `cognito-idp:Admin*` on `arn:aws:cognito-idp:us-east-1:111122223333:userpool/*`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cognito_model::model::{ShapeKind, SHAPES};
use cognito_model::operations::Operation;
use serde_json::Value;

/// One allow statement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Policy {
    /// Actions such as `cognito-idp:DescribeUserPool`, `cognito-idp:Admin*` or `*`.
    pub actions: Vec<String>,
    /// Resource ARNs with `*` and `?` wildcards; `*` alone matches everything.
    #[serde(default = "everything")]
    pub resources: Vec<String>,
}

fn everything() -> Vec<String> {
    vec!["*".to_string()]
}

impl Policy {
    pub fn allow_all() -> Self {
        Policy {
            actions: everything(),
            resources: everything(),
        }
    }
    fn allows(&self, action: &str, resource: &str) -> bool {
        self.actions.iter().any(|a| glob_match(a, action, true))
            && self
                .resources
                .iter()
                .any(|r| glob_match(r, resource, false))
    }
}

pub struct AccessKey {
    pub id: String,
    secret: String,
    /// The name shown in AccessDenied messages (`arn:aws:iam::<account>:user/<name>`).
    pub name: String,
    pub policies: Vec<Policy>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"*** redacted ***")
            .field("name", &self.name)
            .field("policies", &self.policies)
            .finish()
    }
}

impl AccessKey {
    pub fn new(
        id: impl Into<String>,
        secret: impl Into<String>,
        name: impl Into<String>,
        policies: Vec<Policy>,
    ) -> Self {
        AccessKey {
            id: id.into(),
            secret: secret.into(),
            name: name.into(),
            policies,
        }
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.policies.iter().any(|p| p.allows(action, resource))
    }
}

/// Every configured key, by access key id.
#[derive(Debug, Default)]
pub struct AccessKeys {
    by_id: HashMap<String, Arc<AccessKey>>,
}

impl AccessKeys {
    pub fn new(keys: Vec<AccessKey>) -> Self {
        AccessKeys {
            by_id: keys
                .into_iter()
                .map(|k| (k.id.clone(), Arc::new(k)))
                .collect(),
        }
    }
    pub fn find(&self, id: &str) -> Option<Arc<AccessKey>> {
        self.by_id.get(id).cloned()
    }
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// A string member of the request, only when the operation's input shape declares it. Members the
/// model does not declare are ignored by the operation, so they must not steer authorisation
/// either: a `UserPoolId` added to TagResource would otherwise be authorised in place of the
/// `ResourceArn` the call acts on.
pub fn modelled_str<'a>(op: Operation, input: &'a Value, member: &str) -> Option<&'a str> {
    let shape = op.input_shape()?;
    let ShapeKind::Structure { members } = &SHAPES[usize::from(shape)].kind else {
        return None;
    };
    if !members.iter().any(|m| m.name == member) {
        return None;
    }
    input.get(member).and_then(Value::as_str)
}

/// The resource a signed call is authorised against, as IAM does for Cognito: the ARN of the pool
/// named by a modelled `UserPoolId`, else a modelled `ResourceArn`, else `*` (operations on no
/// particular pool, such as CreateUserPool and ListUserPools).
pub fn authorised_resource(op: Operation, input: &Value, region: &str, account_id: &str) -> String {
    if let Some(pool_id) = modelled_str(op, input, "UserPoolId") {
        return domain::ids::user_pool_arn(region, account_id, pool_id);
    }
    if let Some(arn) = modelled_str(op, input, "ResourceArn") {
        return arn.to_string();
    }
    "*".to_string()
}

/// IAM-style wildcard match: `*` any run, `?` one character. Actions compare case-insensitively,
/// as IAM does; resources compare exactly.
pub fn glob_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative matcher with backtracking to the last star: linear in practice, no recursion.
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match(
            "cognito-idp:Admin*",
            "cognito-idp:AdminGetUser",
            true
        ));
        assert!(glob_match(
            "cognito-idp:admin*",
            "cognito-idp:AdminGetUser",
            true
        ));
        assert!(!glob_match(
            "cognito-idp:Admin*",
            "cognito-idp:ListUsers",
            true
        ));
        assert!(glob_match("*", "anything", false));
        assert!(glob_match(
            "arn:aws:cognito-idp:us-east-1:1:userpool/*",
            "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_a",
            false
        ));
        assert!(!glob_match(
            "arn:aws:cognito-idp:us-east-1:1:userpool/*",
            "arn:aws:cognito-idp:eu-west-1:1:userpool/x",
            false
        ));
        assert!(glob_match("a?c", "abc", false));
        assert!(!glob_match("a?c", "ac", false));
    }

    #[test]
    fn key_debug_hides_secret() {
        let k = AccessKey::new("AKID", "topsecret", "n", vec![]);
        assert!(!format!("{k:?}").contains("topsecret"));
    }

    #[test]
    fn policies_combine() {
        let k = AccessKey::new(
            "A",
            "s",
            "n",
            vec![Policy {
                actions: vec!["cognito-idp:Describe*".into()],
                resources: vec!["arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_ok".into()],
            }],
        );
        assert!(k.allows(
            "cognito-idp:DescribeUserPool",
            "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_ok"
        ));
        assert!(!k.allows(
            "cognito-idp:DescribeUserPool",
            "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_no"
        ));
        assert!(!k.allows(
            "cognito-idp:DeleteUserPool",
            "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_ok"
        ));
    }

    #[test]
    fn resource_comes_from_modelled_members_only() {
        let arn_b = "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_b";
        let injected = serde_json::json!({"UserPoolId": "us-east-1_a", "ResourceArn": arn_b});
        assert_eq!(
            authorised_resource(Operation::TagResource, &injected, "us-east-1", "1"),
            arn_b
        );
        assert_eq!(
            authorised_resource(Operation::ListUserPools, &injected, "us-east-1", "1"),
            "*"
        );
        assert_eq!(
            authorised_resource(Operation::CreateUserPool, &injected, "us-east-1", "1"),
            "*"
        );
        assert_eq!(
            authorised_resource(Operation::DescribeUserPool, &injected, "us-east-1", "1"),
            "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_a"
        );
        assert_eq!(
            modelled_str(Operation::InitiateAuth, &injected, "UserPoolId"),
            None
        );
    }
}
