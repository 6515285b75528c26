//! A property test of ListUsers paging and alias uniqueness through the unmodified SDK: random
//! users in an AliasAttributes [email, preferred_username] pool, paged with a random Limit and
//! filter while random creates, deletes, email updates and disables run between pages. Every
//! user that matched throughout is listed exactly once, nothing is listed twice (unless its
//! sort value moved), pages respect Limit, every write answers success or the Cognito error the
//! model predicts, and no alias value ends up held twice.
//!
//! The store-level twin with more cases and concurrent claims is
//! crates/storage/tests/directory_properties.rs. `PROPTEST_CASES` overrides the case count.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AliasAttributeType, AttributeType, MessageActionType, UserType, UsernameConfigurationType,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::harness::{error_code, error_message, Backend, Server};

crate::backend_tests!(sdk_paging_and_aliases_hold_under_random_writes);

const PREFERRED: &[&str] = &["pat", "Pat", "quinn"];

#[derive(Clone, Debug)]
struct NewUser {
    username: String,
    email: String,
    verified: bool,
    preferred: Option<usize>,
}

#[derive(Clone, Debug)]
enum Filter {
    All,
    EmailPrefix(String),
    UsernamePrefix(String),
    ForceChangePassword,
    Enabled,
}

impl Filter {
    fn text(&self) -> Option<String> {
        match self {
            Filter::All => None,
            Filter::EmailPrefix(v) => Some(format!("email ^= \"{v}\"")),
            Filter::UsernamePrefix(v) => Some(format!("username ^= \"{v}\"")),
            Filter::ForceChangePassword => {
                Some("cognito:user_status = \"FORCE_CHANGE_PASSWORD\"".to_string())
            }
            Filter::Enabled => Some("status = \"Enabled\"".to_string()),
        }
    }

    fn matches(&self, m: &Model) -> bool {
        match self {
            Filter::All => true,
            Filter::EmailPrefix(v) => m.email.starts_with(v.as_str()),
            Filter::UsernamePrefix(v) => m.username.starts_with(v.as_str()),
            Filter::ForceChangePassword => m.status == "FORCE_CHANGE_PASSWORD",
            Filter::Enabled => m.enabled,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Create(NewUser),
    Delete(usize),
    UpdateEmail(usize, String, Option<bool>),
    Disable(usize),
}

#[derive(Clone, Debug)]
struct Case {
    case_sensitive: bool,
    initial: Vec<NewUser>,
    limit: i32,
    filter: Filter,
    gaps: Vec<Vec<Op>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Model {
    username: String,
    email: String,
    verified: bool,
    preferred: Option<String>,
    enabled: bool,
    status: String,
}

/// Few distinct emails, so pages often split runs of equal values (ties broken by sub).
const EMAIL: &str = "[xyX]b?@a\\.co";

fn new_user() -> impl Strategy<Value = NewUser> {
    (
        "[aAbB]{1,3}",
        EMAIL,
        any::<bool>(),
        proptest::option::weighted(0.3, 0..PREFERRED.len()),
    )
        .prop_map(|(username, email, verified, preferred)| NewUser {
            username,
            email,
            verified,
            preferred,
        })
}

fn case() -> impl Strategy<Value = Case> {
    let op = prop_oneof![
        3 => new_user().prop_map(Op::Create),
        2 => any::<usize>().prop_map(Op::Delete),
        2 => (any::<usize>(), EMAIL, proptest::option::of(any::<bool>()))
            .prop_map(|(i, e, v)| Op::UpdateEmail(i, e, v)),
        1 => any::<usize>().prop_map(Op::Disable),
    ];
    let filter = prop_oneof![
        1 => Just(Filter::All),
        3 => "[xyX]b?".prop_map(Filter::EmailPrefix),
        1 => "[aAbB]{0,2}".prop_map(Filter::UsernamePrefix),
        1 => Just(Filter::ForceChangePassword),
        1 => Just(Filter::Enabled),
    ];
    (
        any::<bool>(),
        vec(new_user(), 4..32),
        1..=7i32,
        filter,
        vec(vec(op, 0..3), 0..6),
    )
        .prop_map(|(case_sensitive, initial, limit, filter, gaps)| Case {
            case_sensitive,
            initial,
            limit,
            filter,
            gaps,
        })
}

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .expect("attribute")
}

fn attr_of<'a>(u: &'a UserType, name: &str) -> Option<&'a str> {
    u.attributes()
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

struct Run<'a> {
    c: &'a cognito::Client,
    pool: String,
    case_sensitive: bool,
    model: BTreeMap<String, Model>,
}

impl Run<'_> {
    fn fold(&self, v: &str) -> String {
        if self.case_sensitive {
            v.to_string()
        } else {
            v.to_lowercase()
        }
    }

    fn pick(&self, i: usize) -> Option<(String, Model)> {
        if self.model.is_empty() {
            return None;
        }
        self.model
            .iter()
            .nth(i % self.model.len())
            .map(|(s, m)| (s.clone(), m.clone()))
    }

    /// The alias a verified email or a preferred_username value clashes with, if another user
    /// (not `me`) holds it: (attribute, for the error message).
    fn clash(
        &self,
        me: Option<&str>,
        email: Option<&str>,
        preferred: Option<&str>,
    ) -> Option<&'static str> {
        let others = || {
            self.model
                .iter()
                .filter(move |(s, _)| Some(s.as_str()) != me)
                .map(|(_, m)| m)
        };
        if let Some(e) = email {
            if others().any(|m| m.verified && self.fold(&m.email) == self.fold(e)) {
                return Some("email");
            }
        }
        if let Some(p) = preferred {
            if others().any(|m| m.preferred.as_deref().map(|x| self.fold(x)) == Some(self.fold(p)))
            {
                return Some("preferred_username");
            }
        }
        None
    }

    async fn create(&mut self, u: &NewUser) -> Result<(), TestCaseError> {
        let preferred = u.preferred.map(|p| PREFERRED[p]);
        let taken = self
            .model
            .values()
            .any(|m| self.fold(&m.username) == self.fold(&u.username));
        let clash = self.clash(None, u.verified.then_some(u.email.as_str()), preferred);
        let mut b = self
            .c
            .admin_create_user()
            .user_pool_id(&self.pool)
            .username(&u.username)
            .message_action(MessageActionType::Suppress)
            .temporary_password("Temp-Passw0rd!")
            .user_attributes(attr("email", &u.email))
            .user_attributes(attr(
                "email_verified",
                if u.verified { "true" } else { "false" },
            ));
        if let Some(p) = preferred {
            b = b.user_attributes(attr("preferred_username", p));
        }
        let got = b.send().await;
        match (got, taken, clash) {
            (Ok(r), false, None) => {
                let user = r
                    .user()
                    .ok_or_else(|| fail("AdminCreateUser without a user"))?;
                let sub = attr_of(user, "sub")
                    .ok_or_else(|| fail("created user without sub"))?
                    .to_string();
                self.model.insert(
                    sub,
                    Model {
                        username: u.username.clone(),
                        email: u.email.clone(),
                        verified: u.verified,
                        preferred: preferred.map(str::to_string),
                        enabled: true,
                        status: "FORCE_CHANGE_PASSWORD".into(),
                    },
                );
                Ok(())
            }
            (Err(err), true, _) => {
                prop_assert_eq!(error_code(&err), "UsernameExistsException");
                prop_assert_eq!(error_message(&err), "User account already exists");
                Ok(())
            }
            (Err(err), false, Some(kind)) => {
                prop_assert_eq!(error_code(&err), "AliasExistsException");
                prop_assert_eq!(
                    error_message(&err),
                    format!("An account with the given {kind} already exists.")
                );
                Ok(())
            }
            (got, taken, clash) => Err(fail(format!(
                "create {u:?} (username taken: {taken}, alias clash: {clash:?}) answered {:?}",
                got.map(|_| ()).map_err(|e| error_code(&e))
            ))),
        }
    }

    /// Applies one operation through the SDK and to the model; answers the sub it touched.
    async fn apply(&mut self, op: &Op) -> Result<Option<String>, TestCaseError> {
        match op {
            Op::Create(u) => {
                self.create(u).await?;
                Ok(None)
            }
            Op::Delete(i) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                self.c
                    .admin_delete_user()
                    .user_pool_id(&self.pool)
                    .username(&m.username)
                    .send()
                    .await
                    .map_err(|e| fail(format!("delete {}: {}", m.username, error_code(&e))))?;
                self.model.remove(&sub);
                Ok(Some(sub))
            }
            Op::UpdateEmail(i, email, verified) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                let now_verified = match verified {
                    Some(v) => *v,
                    None if m.email != *email => false,
                    None => m.verified,
                };
                let clash = self.clash(Some(&sub), now_verified.then_some(email.as_str()), None);
                let mut b = self
                    .c
                    .admin_update_user_attributes()
                    .user_pool_id(&self.pool)
                    .username(&m.username)
                    .user_attributes(attr("email", email));
                if let Some(v) = verified {
                    b = b
                        .user_attributes(attr("email_verified", if *v { "true" } else { "false" }));
                }
                match (b.send().await, clash) {
                    (Ok(_), None) => {
                        let slot = self.model.get_mut(&sub).ok_or_else(|| fail("lost user"))?;
                        slot.email = email.clone();
                        slot.verified = now_verified;
                    }
                    (Err(err), Some(kind)) => {
                        prop_assert_eq!(error_code(&err), "AliasExistsException");
                        prop_assert_eq!(
                            error_message(&err),
                            format!("An account with the given {kind} already exists.")
                        );
                    }
                    (got, clash) => {
                        return Err(fail(format!(
                            "update of {} to {email} ({verified:?}, clash {clash:?}) answered {:?}",
                            m.username,
                            got.map(|_| ()).map_err(|e| error_code(&e))
                        )))
                    }
                }
                Ok(Some(sub))
            }
            Op::Disable(i) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                self.c
                    .admin_disable_user()
                    .user_pool_id(&self.pool)
                    .username(&m.username)
                    .send()
                    .await
                    .map_err(|e| fail(format!("disable {}: {}", m.username, error_code(&e))))?;
                if let Some(slot) = self.model.get_mut(&sub) {
                    slot.enabled = false;
                }
                Ok(Some(sub))
            }
        }
    }
}

fn listed(u: &UserType) -> Model {
    Model {
        username: u.username().unwrap_or_default().to_string(),
        email: attr_of(u, "email").unwrap_or_default().to_string(),
        verified: attr_of(u, "email_verified") == Some("true"),
        preferred: attr_of(u, "preferred_username").map(str::to_string),
        enabled: u.enabled(),
        status: u
            .user_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

async fn check(c: &cognito::Client, case: Case) -> Result<(), TestCaseError> {
    let pool = c
        .create_user_pool()
        .pool_name("properties")
        .alias_attributes(AliasAttributeType::Email)
        .alias_attributes(AliasAttributeType::PreferredUsername)
        .username_configuration(
            UsernameConfigurationType::builder()
                .case_sensitive(case.case_sensitive)
                .build()
                .expect("username configuration"),
        )
        .send()
        .await
        .map_err(|e| fail(format!("CreateUserPool: {e:?}")))?
        .user_pool
        .and_then(|p| p.id)
        .ok_or_else(|| fail("pool without id"))?;
    let mut r = Run {
        c,
        pool: pool.clone(),
        case_sensitive: case.case_sensitive,
        model: BTreeMap::new(),
    };
    for u in &case.initial {
        r.create(u).await?;
    }
    let filter = &case.filter;
    let start: BTreeSet<String> = r
        .model
        .iter()
        .filter(|(_, m)| filter.matches(m))
        .map(|(s, _)| s.clone())
        .collect();
    let mut spoiled = BTreeSet::new();
    let mut moved = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut token: Option<String> = None;
    let mut page = 0usize;
    loop {
        if page > 0 {
            for op in case.gaps.get(page - 1).into_iter().flatten() {
                let before = match op {
                    Op::Delete(i) | Op::UpdateEmail(i, _, _) | Op::Disable(i) => {
                        r.pick(*i).map(|(_, m)| m.email)
                    }
                    Op::Create(_) => None,
                };
                if let Some(sub) = r.apply(op).await? {
                    match r.model.get(&sub) {
                        None => {
                            spoiled.insert(sub);
                        }
                        Some(m) => {
                            if !filter.matches(m) {
                                spoiled.insert(sub.clone());
                            }
                            if matches!(filter, Filter::EmailPrefix(_))
                                && before.as_deref() != Some(m.email.as_str())
                            {
                                spoiled.insert(sub.clone());
                                moved.insert(sub);
                            }
                        }
                    }
                }
            }
        }
        let resp = c
            .list_users()
            .user_pool_id(&pool)
            .set_filter(filter.text())
            .limit(case.limit)
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| fail(format!("ListUsers page {page}: {}", error_code(&e))))?;
        prop_assert!(
            resp.users().len() <= case.limit as usize,
            "page {page} has {} users, limit {}",
            resp.users().len(),
            case.limit
        );
        for u in resp.users() {
            let sub = attr_of(u, "sub").unwrap_or_default().to_string();
            let l = listed(u);
            let Some(m) = r.model.get(&sub) else {
                return Err(fail(format!("page {page} lists a missing user {l:?}")));
            };
            prop_assert_eq!(&l, m, "page {} shows a stale user", page);
            prop_assert!(filter.matches(&l), "{l:?} does not match {filter:?}");
            *seen.entry(sub).or_default() += 1;
        }
        token = resp.pagination_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        page += 1;
        prop_assert!(page < 1000, "ListUsers never ended");
    }
    for sub in start.difference(&spoiled) {
        let n = seen.get(sub).copied().unwrap_or(0);
        prop_assert_eq!(
            n,
            1,
            "{:?} matched throughout, listed {} times",
            r.model.get(sub),
            n
        );
    }
    for (sub, n) in &seen {
        prop_assert!(
            *n == 1 || moved.contains(sub),
            "{:?} listed {n} times",
            r.model.get(sub)
        );
    }
    // The directory holds exactly the model, and no alias value is held twice.
    let mut all = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let resp = c
            .list_users()
            .user_pool_id(&pool)
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| fail(format!("ListUsers: {}", error_code(&e))))?;
        for u in resp.users() {
            all.insert(attr_of(u, "sub").unwrap_or_default().to_string(), listed(u));
        }
        token = resp.pagination_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    prop_assert_eq!(&all, &r.model);
    let mut emails = BTreeSet::new();
    let mut preferred = BTreeSet::new();
    for m in all.values() {
        if m.verified {
            prop_assert!(
                emails.insert(r.fold(&m.email)),
                "verified {} twice",
                m.email
            );
        }
        if let Some(p) = &m.preferred {
            prop_assert!(preferred.insert(r.fold(p)), "preferred_username {p} twice");
        }
    }
    Ok(())
}

async fn sdk_paging_and_aliases_hold_under_random_writes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let rt = tokio::runtime::Handle::current();
    let result =
        tokio::task::block_in_place(|| runner.run(&case(), |case| rt.block_on(check(&c, case))));
    if let Err(err) = result {
        panic!("{err}");
    }
}
