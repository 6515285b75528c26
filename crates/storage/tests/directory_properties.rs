//! Property tests of the user directory at the store + `DirectoryService` level, on SQLite and
//! (with `GATEHOUSE_TEST_DATABASE_URL`) Postgres:
//!
//! 1. ListUsers pagination stays complete and duplicate-free while users are created, deleted,
//!    updated and disabled between pages.
//! 2. Alias values (verified emails and preferred_username in an AliasAttributes pool, emails in
//!    a UsernameAttributes pool) stay unique under random and concurrent writes, and every write
//!    answers success or the Cognito error a client expects (exactly the predicted one when it
//!    runs alone; a failed write changes nothing). Concurrent pairs either race two users for the
//!    same values (at most one wins) or write one user twice (no update is lost: the user ends
//!    as one of the two serial orders leaves it).
//!
//! Each case gets a fresh pool in a database shared by the backend's run. `PROPTEST_CASES`
//! overrides the case counts for deeper local runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    AdminCreateUserRequest, AdminDeleteUserRequest, AdminDisableUserRequest,
    AdminResetUserPasswordRequest, AdminUpdateUserAttributesRequest, AliasAttributeType,
    AttributeType, CreateUserPoolRequest, ListUsersRequest, MessageActionType, UserStatusType,
    UserType, UsernameAttributeType, UsernameConfigurationType,
};
use domain::ports::{DirectoryStore, SystemClock};
use domain::services::Services;
use domain::{CognitoError, RequestContext};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use storage::SqlStore;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The case count: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        // Each shrink step replays a whole case against the database: keep shrinking bounded.
        max_shrink_iters: 256,
        failure_persistence: None,
        ..Config::default()
    })
}

struct Env {
    rt: tokio::runtime::Runtime,
    store: SqlStore,
    svc: Services,
    ctx: RequestContext,
}

fn env(url: &str) -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = rt.block_on(async {
        let s = SqlStore::connect(url, 8).await.expect("connect");
        s.migrate().await.expect("migrate");
        s
    });
    let svc = Services::new(Arc::new(store.clone()), Arc::new(SystemClock));
    Env {
        rt,
        store,
        svc,
        ctx: RequestContext {
            region: "us-east-1".into(),
            account_id: "111122223333".into(),
            request_id: "properties".into(),
        },
    }
}

/// Runs `check` against a fresh SQLite database.
fn on_sqlite(check: fn(&Env)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = env(&format!("sqlite://{}/p.db", dir.path().display()));
    check(&e);
}

/// Runs `check` against the Postgres database named by `GATEHOUSE_TEST_DATABASE_URL`, if any.
fn on_postgres(check: fn(&Env)) {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_DATABASE_URL") else {
        return;
    };
    if url.trim().is_empty() {
        return;
    }
    check(&env(&url));
}

macro_rules! both_backends {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $( #[test] fn $check() { super::on_sqlite(super::$check) } )+
        }
        mod postgres {
            $( #[test] fn $check() { super::on_postgres(super::$check) } )+
        }
    };
}

both_backends!(
    pagination_is_complete_and_duplicate_free,
    aliases_stay_unique_in_alias_attribute_pools,
    emails_stay_unique_in_username_attribute_pools,
);

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType {
        name: Some(name.to_string()),
        value: Some(value.to_string()),
    }
}

fn attr_of<'a>(u: &'a UserType, name: &str) -> Option<&'a str> {
    u.attributes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .and_then(|a| a.value.as_deref())
}

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

async fn new_pool(e: &Env, req: CreateUserPoolRequest) -> String {
    let created = e
        .svc
        .user_pools
        .create(&e.ctx, req)
        .await
        .expect("create pool");
    created
        .user_pool
        .and_then(|p| p.id)
        .expect("pool id in the response")
}

/// Every user of the pool, through ListUsers pages of 60.
async fn all_users(e: &Env, pool: &str) -> Result<Vec<UserType>, TestCaseError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..1000 {
        let page = e
            .svc
            .directory
            .list_users(
                &e.ctx,
                ListUsersRequest {
                    user_pool_id: Some(pool.to_string()),
                    pagination_token: token,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| fail(format!("ListUsers failed: {err}")))?;
        out.extend(page.users.unwrap_or_default());
        token = page.pagination_token;
        if token.is_none() {
            return Ok(out);
        }
    }
    Err(fail("ListUsers never ended"))
}

fn case_config(case_sensitive: bool) -> Option<UsernameConfigurationType> {
    Some(UsernameConfigurationType {
        case_sensitive: Some(case_sensitive),
    })
}

// ---------------------------------------------------------------------------------------------
// Property 1: pagination under concurrent change
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct NewUser {
    username: String,
    email: String,
    verified: bool,
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

    fn matches(&self, m: &ModelUser) -> bool {
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
    ResetPassword(usize),
}

#[derive(Clone, Debug)]
struct PagingCase {
    case_sensitive: bool,
    initial: Vec<NewUser>,
    limit: i32,
    filter: Filter,
    /// The operations run before the 2nd, 3rd, ... page.
    gaps: Vec<Vec<Op>>,
}

#[derive(Clone, Debug, PartialEq)]
struct ModelUser {
    username: String,
    email: String,
    verified: bool,
    enabled: bool,
    status: String,
}

fn new_user() -> impl Strategy<Value = NewUser> {
    ("[aAbB]{1,3}", "[xyX][ab]{0,2}@[ab]\\.co", any::<bool>()).prop_map(
        |(username, email, verified)| NewUser {
            username,
            email,
            verified,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => new_user().prop_map(Op::Create),
        2 => any::<usize>().prop_map(Op::Delete),
        2 => (
            any::<usize>(),
            "[xyX][ab]{0,2}@[ab]\\.co",
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(i, e, v)| Op::UpdateEmail(i, e, v)),
        1 => any::<usize>().prop_map(Op::Disable),
        1 => any::<usize>().prop_map(Op::ResetPassword),
    ]
}

fn paging_case() -> impl Strategy<Value = PagingCase> {
    let filter = prop_oneof![
        Just(Filter::All),
        "[xyX][ab]?".prop_map(Filter::EmailPrefix),
        "[aAbB]{0,2}".prop_map(Filter::UsernamePrefix),
        Just(Filter::ForceChangePassword),
        Just(Filter::Enabled),
    ];
    (
        any::<bool>(),
        vec(new_user(), 0..40),
        1..=7i32,
        filter,
        vec(vec(op(), 0..4), 0..10),
    )
        .prop_map(
            |(case_sensitive, initial, limit, filter, gaps)| PagingCase {
                case_sensitive,
                initial,
                limit,
                filter,
                gaps,
            },
        )
}

struct Paging<'a> {
    e: &'a Env,
    pool: String,
    case_sensitive: bool,
    /// Every user of the pool by sub, as the operations left it.
    model: BTreeMap<String, ModelUser>,
}

impl Paging<'_> {
    fn key(&self, username: &str) -> String {
        if self.case_sensitive {
            username.to_string()
        } else {
            username.to_lowercase()
        }
    }

    /// The sub of the `i`-th user (wrapping), if there is any user.
    fn pick(&self, i: usize) -> Option<(String, ModelUser)> {
        if self.model.is_empty() {
            return None;
        }
        self.model
            .iter()
            .nth(i % self.model.len())
            .map(|(s, m)| (s.clone(), m.clone()))
    }

    async fn create(&mut self, u: &NewUser) -> Result<(), TestCaseError> {
        let taken = self
            .model
            .values()
            .any(|m| self.key(&m.username) == self.key(&u.username));
        let got = self
            .e
            .svc
            .directory
            .admin_create_user(
                &self.e.ctx,
                AdminCreateUserRequest {
                    user_pool_id: Some(self.pool.clone()),
                    username: Some(u.username.clone()),
                    user_attributes: Some(vec![
                        attr("email", &u.email),
                        attr("email_verified", if u.verified { "true" } else { "false" }),
                    ]),
                    message_action: Some(MessageActionType::Suppress),
                    ..Default::default()
                },
            )
            .await;
        match (got, taken) {
            (Ok(r), false) => {
                let user = r
                    .user
                    .ok_or_else(|| fail("AdminCreateUser without a user"))?;
                let sub = attr_of(&user, "sub")
                    .ok_or_else(|| fail("created user without sub"))?
                    .to_string();
                self.model.insert(
                    sub,
                    ModelUser {
                        username: u.username.clone(),
                        email: u.email.clone(),
                        verified: u.verified,
                        enabled: true,
                        status: "FORCE_CHANGE_PASSWORD".into(),
                    },
                );
                Ok(())
            }
            (Err(err), true) if err.code == ErrorCode::UsernameExistsException => Ok(()),
            (got, taken) => Err(fail(format!(
                "create {u:?} (username taken: {taken}) answered {:?}",
                got.map(|_| ())
            ))),
        }
    }

    /// Applies one operation through the service and to the model; answers the sub it changed
    /// (and whether the user still exists).
    async fn apply(&mut self, op: &Op) -> Result<Option<String>, TestCaseError> {
        let pool = Some(self.pool.clone());
        let d = &self.e.svc.directory;
        let ctx = &self.e.ctx;
        let expect_ok = |r: Result<(), CognitoError>, what: String| {
            r.map_err(|err| fail(format!("{what} failed: {err}")))
        };
        match op {
            Op::Create(u) => {
                self.create(u).await?;
                Ok(None)
            }
            Op::Delete(i) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                let r = d
                    .admin_delete_user(
                        ctx,
                        AdminDeleteUserRequest {
                            user_pool_id: pool,
                            username: Some(m.username.clone()),
                        },
                    )
                    .await;
                expect_ok(r, format!("delete {}", m.username))?;
                self.model.remove(&sub);
                Ok(Some(sub))
            }
            Op::UpdateEmail(i, email, verified) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                let mut attrs = vec![attr("email", email)];
                if let Some(v) = verified {
                    attrs.push(attr("email_verified", if *v { "true" } else { "false" }));
                }
                let r = d
                    .admin_update_user_attributes(
                        ctx,
                        AdminUpdateUserAttributesRequest {
                            user_pool_id: pool,
                            username: Some(m.username.clone()),
                            user_attributes: Some(attrs),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(|_| ());
                expect_ok(r, format!("update email of {}", m.username))?;
                let slot = self.model.get_mut(&sub).ok_or_else(|| fail("lost user"))?;
                match verified {
                    Some(v) => slot.verified = *v,
                    None if slot.email != *email => slot.verified = false,
                    None => {}
                }
                slot.email = email.clone();
                Ok(Some(sub))
            }
            Op::Disable(i) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                let r = d
                    .admin_disable_user(
                        ctx,
                        AdminDisableUserRequest {
                            user_pool_id: pool,
                            username: Some(m.username.clone()),
                        },
                    )
                    .await
                    .map(|_| ());
                expect_ok(r, format!("disable {}", m.username))?;
                if let Some(slot) = self.model.get_mut(&sub) {
                    slot.enabled = false;
                }
                Ok(Some(sub))
            }
            Op::ResetPassword(i) => {
                let Some((sub, m)) = self.pick(*i) else {
                    return Ok(None);
                };
                let r = d
                    .admin_reset_user_password(
                        ctx,
                        AdminResetUserPasswordRequest {
                            user_pool_id: pool,
                            username: Some(m.username.clone()),
                            ..Default::default()
                        },
                    )
                    .await;
                // A user still on the invitation's temporary password cannot be reset
                // (corrections.md #10), verified or not.
                let invited = m.status == UserStatusType::ForceChangePassword.as_str();
                match (r, m.verified) {
                    (Err(err), _) if invited && err.code == ErrorCode::NotAuthorizedException => {}
                    (Ok(_), true) if !invited => {
                        if let Some(slot) = self.model.get_mut(&sub) {
                            slot.status = UserStatusType::ResetRequired.as_str().to_string();
                        }
                    }
                    (Err(err), false)
                        if !invited && err.code == ErrorCode::InvalidParameterException => {}
                    (r, verified) => {
                        return Err(fail(format!(
                            "reset of {} (verified: {verified}) answered {:?}",
                            m.username,
                            r.map(|_| ())
                        )))
                    }
                }
                Ok(Some(sub))
            }
        }
    }
}

fn pagination_is_complete_and_duplicate_free(e: &Env) {
    let mut runner = runner(32);
    let result = runner.run(&paging_case(), |case| e.rt.block_on(check_paging(e, case)));
    if let Err(err) = result {
        panic!("{err}");
    }
}

async fn check_paging(e: &Env, case: PagingCase) -> Result<(), TestCaseError> {
    let pool = new_pool(
        e,
        CreateUserPoolRequest {
            pool_name: Some("paging".into()),
            username_configuration: case_config(case.case_sensitive),
            ..Default::default()
        },
    )
    .await;
    let mut p = Paging {
        e,
        pool: pool.clone(),
        case_sensitive: case.case_sensitive,
        model: BTreeMap::new(),
    };
    for u in &case.initial {
        p.create(u).await?;
    }
    let filter = &case.filter;
    // Users that match the filter now; those that stop matching, move (their sort value
    // changes) or go away while paging are "spoiled" and may legitimately be missing.
    let start: BTreeSet<String> = p
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
                let before = op_target_email(&p, op);
                if let Some(sub) = p.apply(op).await? {
                    match p.model.get(&sub) {
                        None => {
                            spoiled.insert(sub);
                        }
                        Some(m) => {
                            if !filter.matches(m) {
                                spoiled.insert(sub.clone());
                            }
                            let email_changed = before.as_deref() != Some(m.email.as_str());
                            if matches!(filter, Filter::EmailPrefix(_)) && email_changed {
                                spoiled.insert(sub.clone());
                                moved.insert(sub);
                            }
                        }
                    }
                }
            }
        }
        let resp = e
            .svc
            .directory
            .list_users(
                &e.ctx,
                ListUsersRequest {
                    user_pool_id: Some(pool.clone()),
                    filter: filter.text(),
                    limit: Some(case.limit),
                    pagination_token: token.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| fail(format!("ListUsers page {page} failed: {err}")))?;
        let users = resp.users.unwrap_or_default();
        prop_assert!(
            users.len() <= case.limit as usize,
            "page {page} has {} users, limit {}",
            users.len(),
            case.limit
        );
        for u in &users {
            let sub = attr_of(u, "sub").unwrap_or_default().to_string();
            let Some(m) = p.model.get(&sub) else {
                return Err(fail(format!(
                    "page {page} lists a user that does not exist: {u:?}"
                )));
            };
            let listed = ModelUser {
                username: u.username.clone().unwrap_or_default(),
                email: attr_of(u, "email").unwrap_or_default().to_string(),
                verified: attr_of(u, "email_verified") == Some("true"),
                enabled: u.enabled == Some(true),
                status: u
                    .user_status
                    .as_ref()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            };
            prop_assert_eq!(&listed, m, "page {} shows a stale user", page);
            prop_assert!(
                filter.matches(&listed),
                "page {page} lists {listed:?}, which does not match {filter:?}"
            );
            *seen.entry(sub).or_default() += 1;
        }
        token = resp.pagination_token;
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
            "{:?} matched {:?} throughout but was listed {} times",
            p.model.get(sub),
            filter,
            n
        );
    }
    for (sub, n) in &seen {
        prop_assert!(
            *n == 1 || moved.contains(sub),
            "{:?} listed {n} times although its sort value never changed",
            p.model.get(sub)
        );
    }
    // Afterwards, the directory holds exactly the model's users.
    let listed: BTreeMap<String, String> = all_users(e, &pool)
        .await?
        .iter()
        .map(|u| {
            (
                attr_of(u, "sub").unwrap_or_default().to_string(),
                u.username.clone().unwrap_or_default(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = p
        .model
        .iter()
        .map(|(s, m)| (s.clone(), m.username.clone()))
        .collect();
    prop_assert_eq!(listed, want);
    Ok(())
}

/// The email of the user an operation is about to change, before it changes.
fn op_target_email(p: &Paging<'_>, op: &Op) -> Option<String> {
    match op {
        Op::Delete(i) | Op::UpdateEmail(i, _, _) | Op::Disable(i) | Op::ResetPassword(i) => {
            p.pick(*i).map(|(_, m)| m.email)
        }
        Op::Create(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Property 2: alias uniqueness
// ---------------------------------------------------------------------------------------------

const NAMES: &[&str] = &["ann", "Ann", "bob", "BOB", "cy"];
const EMAILS: &[&str] = &["a@x.co", "A@x.co", "b@x.co", "c@x.co"];
const PREFERRED: &[&str] = &["pat", "Pat", "quinn"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// AliasAttributes [email, preferred_username].
    Aliases,
    /// UsernameAttributes [email].
    UsernameEmail,
}

#[derive(Clone, Debug)]
enum Target {
    /// The i-th current user (wrapping), by username.
    Existing(usize),
    /// Whoever an email value resolves to.
    ByEmail(usize),
    Missing,
}

#[derive(Clone, Debug)]
enum AOp {
    Create {
        name: usize,
        email: Option<usize>,
        verified: Option<bool>,
        preferred: Option<usize>,
        force: bool,
    },
    Update {
        target: Target,
        email: Option<usize>,
        verified: Option<bool>,
        preferred: Option<usize>,
    },
    Delete {
        target: Target,
    },
}

#[derive(Clone, Debug)]
enum Step {
    One(AOp),
    /// Two operations at once, claiming the same values.
    Pair(AOp, AOp),
}

#[derive(Clone, Debug)]
struct AliasCase {
    case_sensitive: bool,
    steps: Vec<Step>,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => any::<usize>().prop_map(Target::Existing),
        2 => (0..EMAILS.len()).prop_map(Target::ByEmail),
        1 => Just(Target::Missing),
    ]
}

fn aop() -> impl Strategy<Value = AOp> {
    let email = proptest::option::weighted(0.8, 0..EMAILS.len());
    let verified = proptest::option::weighted(0.8, any::<bool>());
    let preferred = proptest::option::weighted(0.5, 0..PREFERRED.len());
    prop_oneof![
        4 => (0..NAMES.len(), email.clone(), verified.clone(), preferred.clone(), any::<bool>())
            .prop_map(|(name, email, verified, preferred, force)| AOp::Create {
                name, email, verified, preferred, force
            }),
        3 => (target(), email, verified, preferred).prop_map(|(target, email, verified, preferred)| {
            AOp::Update { target, email, verified, preferred }
        }),
        1 => target().prop_map(|target| AOp::Delete { target }),
    ]
}

/// Makes `b` (an update or delete) act on the user `a` (an update or delete) acts on.
fn same_target(a: &AOp, mut b: AOp) -> AOp {
    let t = match a {
        AOp::Update { target, .. } | AOp::Delete { target } => target.clone(),
        AOp::Create { .. } => return b,
    };
    match &mut b {
        AOp::Update { target, .. } | AOp::Delete { target } => *target = t,
        AOp::Create { .. } => {}
    }
    b
}

/// Makes `b` claim what `a` claims.
fn same_claims(a: &AOp, mut b: AOp) -> AOp {
    let (ae, av, ap) = match a {
        AOp::Create {
            email,
            verified,
            preferred,
            ..
        }
        | AOp::Update {
            email,
            verified,
            preferred,
            ..
        } => (*email, *verified, *preferred),
        AOp::Delete { .. } => return b,
    };
    match &mut b {
        AOp::Create {
            email,
            verified,
            preferred,
            ..
        }
        | AOp::Update {
            email,
            verified,
            preferred,
            ..
        } => {
            *email = ae;
            *verified = av;
            *preferred = ap;
        }
        AOp::Delete { .. } => {}
    }
    b
}

fn alias_case() -> impl Strategy<Value = AliasCase> {
    let step = prop_oneof![
        3 => aop().prop_map(Step::One),
        1 => (aop(), aop(), any::<bool>()).prop_map(|(a, b, same_user)| {
            // Either two users racing for the same values, or two writers of one user.
            let b = if same_user {
                same_target(&a, b)
            } else {
                same_claims(&a, b)
            };
            Step::Pair(a, b)
        }),
    ];
    (any::<bool>(), vec(step, 1..14)).prop_map(|(case_sensitive, steps)| AliasCase {
        case_sensitive,
        steps,
    })
}

/// A user as the store holds it.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    sub: String,
    username: String,
    attrs: BTreeMap<String, String>,
}

struct Aliases<'a> {
    e: &'a Env,
    pool: String,
    kind: Kind,
    case_sensitive: bool,
}

impl Aliases<'_> {
    fn fold(&self, v: &str) -> String {
        if self.case_sensitive {
            v.to_string()
        } else {
            v.to_lowercase()
        }
    }

    /// The alias values a user with these attributes holds exclusively: the implementation's
    /// documented rule (docs/resources/directory.md, flows.md §8) — in an AliasAttributes pool
    /// a verified email and any preferred_username; in a UsernameAttributes pool the email,
    /// verified or not.
    fn claims(&self, attrs: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let email = attrs.get("email").filter(|v| !v.is_empty());
        match self.kind {
            Kind::UsernameEmail => {
                if let Some(e) = email {
                    out.push(("email", self.fold(e)));
                }
            }
            Kind::Aliases => {
                if let Some(e) = email {
                    if attrs.get("email_verified").map(String::as_str) == Some("true") {
                        out.push(("email", self.fold(e)));
                    }
                }
                if let Some(p) = attrs.get("preferred_username").filter(|v| !v.is_empty()) {
                    out.push(("preferred_username", self.fold(p)));
                }
            }
        }
        out
    }

    async fn snapshot(&self) -> Result<Vec<Held>, TestCaseError> {
        let mut users: Vec<Held> = all_users(self.e, &self.pool)
            .await?
            .into_iter()
            .map(|u| Held {
                sub: attr_of(&u, "sub").unwrap_or_default().to_string(),
                username: u.username.clone().unwrap_or_default(),
                attrs: u
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| (a.name.unwrap_or_default(), a.value.unwrap_or_default()))
                    .collect(),
            })
            .collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    /// No alias value is held twice, and the alias index agrees with the users' attributes.
    async fn check_invariants(&self, users: &[Held]) -> Result<(), TestCaseError> {
        let mut holders: BTreeMap<(&str, String), &Held> = BTreeMap::new();
        for u in users {
            for (kind, key) in self.claims(&u.attrs) {
                if let Some(other) = holders.insert((kind, key.clone()), u) {
                    return Err(fail(format!(
                        "{kind} {key:?} is held by both {other:?} and {u:?}"
                    )));
                }
            }
        }
        for ((kind, key), u) in &holders {
            let found = self
                .e
                .store
                .get_user_by_alias(&self.pool, key)
                .await
                .map_err(|err| fail(format!("alias lookup: {err}")))?;
            prop_assert_eq!(
                found.as_ref().map(|f| f.id.as_str()),
                Some(u.sub.as_str()),
                "{} alias {:?} does not resolve to its holder {}",
                kind,
                key,
                u.username
            );
        }
        // A value nobody claims resolves to nobody (no stale alias rows).
        for u in users {
            for name in ["email", "preferred_username"] {
                let Some(v) = u.attrs.get(name) else { continue };
                let key = self.fold(v);
                if holders.keys().any(|(_, k)| *k == key) {
                    continue;
                }
                let found = self
                    .e
                    .store
                    .get_user_by_alias(&self.pool, &key)
                    .await
                    .map_err(|err| fail(format!("alias lookup: {err}")))?;
                prop_assert!(
                    found.is_none(),
                    "unclaimed {} {:?} of {} still resolves to {:?}",
                    name,
                    key,
                    u.username,
                    found.map(|f| f.username)
                );
            }
        }
        Ok(())
    }

    /// The username an operation's target names, given the users before it.
    fn target_name(&self, t: &Target, users: &[Held]) -> String {
        match t {
            Target::Existing(i) if !users.is_empty() => users[i % users.len()].username.clone(),
            Target::ByEmail(e) => EMAILS[*e].to_string(),
            _ => "nobody".to_string(),
        }
    }

    /// Whom a username resolves to: by username, else by alias.
    fn resolve<'u>(&self, name: &str, users: &'u [Held]) -> Option<&'u Held> {
        let key = |s: &str| {
            if self.case_sensitive {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        if let Some(u) = users.iter().find(|u| key(&u.username) == key(name)) {
            return Some(u);
        }
        let alias = self.fold(name);
        users
            .iter()
            .find(|u| self.claims(&u.attrs).iter().any(|(_, k)| *k == alias))
    }

    fn request_attrs(
        email: Option<usize>,
        verified: Option<bool>,
        preferred: Option<usize>,
        with_email: bool,
    ) -> Vec<AttributeType> {
        let mut attrs = Vec::new();
        if with_email {
            if let Some(e) = email {
                attrs.push(attr("email", EMAILS[e]));
            }
        }
        if let Some(v) = verified {
            attrs.push(attr("email_verified", if v { "true" } else { "false" }));
        }
        if let Some(p) = preferred {
            attrs.push(attr("preferred_username", PREFERRED[p]));
        }
        attrs
    }

    /// Runs one operation; answers `Ok(())` or the Cognito error code.
    async fn run(&self, op: &AOp, users: &[Held]) -> Result<Result<(), ErrorCode>, TestCaseError> {
        let d = &self.e.svc.directory;
        let ctx = &self.e.ctx;
        let pool = Some(self.pool.clone());
        let r: Result<(), CognitoError> = match op {
            AOp::Create {
                name,
                email,
                verified,
                preferred,
                force,
            } => {
                let (username, attrs) = match self.kind {
                    Kind::Aliases => (
                        NAMES[*name].to_string(),
                        Self::request_attrs(*email, *verified, *preferred, true),
                    ),
                    Kind::UsernameEmail => (
                        EMAILS[email.unwrap_or(*name % EMAILS.len())].to_string(),
                        Self::request_attrs(*email, *verified, *preferred, false),
                    ),
                };
                d.admin_create_user(
                    ctx,
                    AdminCreateUserRequest {
                        user_pool_id: pool,
                        username: Some(username),
                        user_attributes: Some(attrs),
                        force_alias_creation: Some(*force),
                        message_action: Some(MessageActionType::Suppress),
                        temporary_password: Some("Temp-Passw0rd!".into()),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }
            AOp::Update {
                target,
                email,
                verified,
                preferred,
            } => {
                let attrs = Self::request_attrs(*email, *verified, *preferred, true);
                if attrs.is_empty() {
                    return Ok(Ok(()));
                }
                d.admin_update_user_attributes(
                    ctx,
                    AdminUpdateUserAttributesRequest {
                        user_pool_id: pool,
                        username: Some(self.target_name(target, users)),
                        user_attributes: Some(attrs),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }
            AOp::Delete { target } => d
                .admin_delete_user(
                    ctx,
                    AdminDeleteUserRequest {
                        user_pool_id: pool,
                        username: Some(self.target_name(target, users)),
                    },
                )
                .await
                .map(|_| ()),
        };
        match r {
            Ok(()) => Ok(Ok(())),
            Err(err) => match err.code {
                ErrorCode::AliasExistsException
                | ErrorCode::UsernameExistsException
                | ErrorCode::InvalidParameterException
                | ErrorCode::UserNotFoundException => Ok(Err(err.code)),
                _ => Err(fail(format!("{op:?} answered an unexpected error: {err}"))),
            },
        }
    }

    /// What a lone operation must answer, given the users before it.
    fn predict(&self, op: &AOp, users: &[Held]) -> Result<(), ErrorCode> {
        let clash = |me: Option<&str>, attrs: &BTreeMap<String, String>, force: bool| {
            for (kind, key) in self.claims(attrs) {
                let held = users.iter().any(|u| {
                    Some(u.sub.as_str()) != me
                        && self
                            .claims(&u.attrs)
                            .iter()
                            .any(|(k, v)| *k == kind && *v == key)
                });
                let movable = force && kind == "email" && self.kind == Kind::Aliases;
                if held && !movable {
                    return Some(kind);
                }
            }
            None
        };
        match op {
            AOp::Create {
                name,
                email,
                verified,
                preferred,
                force,
            } => {
                let mut attrs = BTreeMap::new();
                match self.kind {
                    Kind::Aliases => {
                        let key = |s: &str| self.fold(s);
                        if users.iter().any(|u| key(&u.username) == key(NAMES[*name])) {
                            return Err(ErrorCode::UsernameExistsException);
                        }
                        if let Some(e) = email {
                            attrs.insert("email".to_string(), EMAILS[*e].to_string());
                        }
                    }
                    Kind::UsernameEmail => {
                        let e = email.unwrap_or(*name % EMAILS.len());
                        attrs.insert("email".to_string(), EMAILS[e].to_string());
                    }
                }
                if let Some(v) = verified {
                    attrs.insert("email_verified".to_string(), v.to_string());
                }
                if let Some(p) = preferred {
                    attrs.insert("preferred_username".to_string(), PREFERRED[*p].to_string());
                }
                match clash(None, &attrs, *force) {
                    None => Ok(()),
                    Some(_) if self.kind == Kind::UsernameEmail => {
                        Err(ErrorCode::UsernameExistsException)
                    }
                    Some(_) => Err(ErrorCode::AliasExistsException),
                }
            }
            AOp::Update {
                target,
                email,
                verified,
                preferred,
            } => {
                if email.is_none() && verified.is_none() && preferred.is_none() {
                    return Ok(());
                }
                let Some(u) = self.resolve(&self.target_name(target, users), users) else {
                    return Err(ErrorCode::UserNotFoundException);
                };
                let attrs = updated(&u.attrs, *email, *verified, *preferred);
                match clash(Some(&u.sub), &attrs, false) {
                    None => Ok(()),
                    Some(_) => Err(ErrorCode::AliasExistsException),
                }
            }
            AOp::Delete { target } => match self.resolve(&self.target_name(target, users), users) {
                Some(_) => Ok(()),
                None => Err(ErrorCode::UserNotFoundException),
            },
        }
    }
}

/// A user's attributes after an AdminUpdateUserAttributes of these values: a changed email is
/// unverified unless the request says otherwise.
fn updated(
    attrs: &BTreeMap<String, String>,
    email: Option<usize>,
    verified: Option<bool>,
    preferred: Option<usize>,
) -> BTreeMap<String, String> {
    let mut attrs = attrs.clone();
    if let Some(e) = email {
        let changed = attrs.get("email").map(String::as_str) != Some(EMAILS[e]);
        if changed && verified.is_none() && attrs.contains_key("email_verified") {
            attrs.insert("email_verified".into(), "false".into());
        }
        attrs.insert("email".into(), EMAILS[e].to_string());
    }
    if let Some(v) = verified {
        attrs.insert("email_verified".to_string(), v.to_string());
    }
    if let Some(p) = preferred {
        attrs.insert("preferred_username".to_string(), PREFERRED[p].to_string());
    }
    attrs
}

async fn check_aliases(e: &Env, kind: Kind, case: AliasCase) -> Result<(), TestCaseError> {
    let mut req = CreateUserPoolRequest {
        pool_name: Some("aliases".into()),
        username_configuration: case_config(case.case_sensitive),
        ..Default::default()
    };
    match kind {
        Kind::Aliases => {
            req.alias_attributes = Some(vec![
                AliasAttributeType::Email,
                AliasAttributeType::PreferredUsername,
            ])
        }
        Kind::UsernameEmail => req.username_attributes = Some(vec![UsernameAttributeType::Email]),
    }
    let a = Aliases {
        e,
        pool: new_pool(e, req).await,
        kind,
        case_sensitive: case.case_sensitive,
    };
    let mut users = a.snapshot().await?;
    for (n, step) in case.steps.iter().enumerate() {
        match step {
            Step::One(op) => {
                let want = a.predict(op, &users);
                let got = a.run(op, &users).await?;
                prop_assert_eq!(got, want, "step {}: {:?}", n, op);
                let after = a.snapshot().await?;
                if got.is_err() {
                    prop_assert_eq!(&after, &users, "step {}: failed {:?} changed users", n, op);
                }
                users = after;
            }
            Step::Pair(x, y) => {
                let (gx, gy) = tokio::join!(a.run(x, &users), a.run(y, &users));
                let (gx, gy) = (gx?, gy?);
                // Two creates of distinct usernames that claim the same free, unforced value:
                // exactly one may win it.
                if let (AOp::Create { force: false, .. }, AOp::Create { force: false, .. }) = (x, y)
                {
                    let px = a.predict(x, &users);
                    let py = a.predict(y, &users);
                    let claims_something = match kind {
                        Kind::UsernameEmail => matches!(x, AOp::Create { email: Some(_), .. }),
                        Kind::Aliases => matches!(
                            x,
                            AOp::Create {
                                verified: Some(true),
                                email: Some(_),
                                ..
                            } | AOp::Create {
                                preferred: Some(_),
                                ..
                            }
                        ),
                    };
                    // Distinct usernames, same claimed values.
                    let distinct = match (x, y) {
                        (
                            AOp::Create {
                                name: nx,
                                email: ex,
                                verified: vx,
                                preferred: px,
                                ..
                            },
                            AOp::Create {
                                name: ny,
                                email: ey,
                                verified: vy,
                                preferred: py,
                                ..
                            },
                        ) => {
                            a.fold(NAMES[*nx]) != a.fold(NAMES[*ny]) && (ex, vx, px) == (ey, vy, py)
                        }
                        _ => false,
                    };
                    if px.is_ok() && py.is_ok() && claims_something && distinct {
                        prop_assert!(
                            gx.is_ok() != gy.is_ok(),
                            "step {}: concurrent {:?} / {:?} answered {:?} / {:?}",
                            n,
                            x,
                            y,
                            gx,
                            gy
                        );
                    }
                }
                let after = a.snapshot().await?;
                // Two successful updates of one user: no update is lost; the user ends as one
                // of the two serial orders leaves it.
                if let (
                    AOp::Update {
                        target: tx,
                        email: ex,
                        verified: vx,
                        preferred: px,
                    },
                    AOp::Update {
                        target: ty,
                        email: ey,
                        verified: vy,
                        preferred: py,
                    },
                    Ok(()),
                    Ok(()),
                ) = (x, y, gx, gy)
                {
                    let ux = a.resolve(&a.target_name(tx, &users), &users);
                    let uy = a.resolve(&a.target_name(ty, &users), &users);
                    if let (Some(ux), Some(uy)) = (ux, uy) {
                        if ux.sub == uy.sub {
                            let xy = updated(&updated(&ux.attrs, *ex, *vx, *px), *ey, *vy, *py);
                            let yx = updated(&updated(&ux.attrs, *ey, *vy, *py), *ex, *vx, *px);
                            let now = after.iter().find(|u| u.sub == ux.sub).map(|u| &u.attrs);
                            prop_assert!(
                                now == Some(&xy) || now == Some(&yx),
                                "step {}: concurrent updates {:?} / {:?} of {} left {:?}",
                                n,
                                x,
                                y,
                                ux.username,
                                now
                            );
                        }
                    }
                }
                users = after;
            }
        }
        a.check_invariants(&users).await?;
    }
    Ok(())
}

fn aliases_stay_unique_in_alias_attribute_pools(e: &Env) {
    let result = runner(32).run(&alias_case(), |case| {
        e.rt.block_on(check_aliases(e, Kind::Aliases, case))
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

fn emails_stay_unique_in_username_attribute_pools(e: &Env) {
    let result = runner(24).run(&alias_case(), |case| {
        e.rt.block_on(check_aliases(e, Kind::UsernameEmail, case))
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
