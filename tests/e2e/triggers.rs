//! Lambda triggers delivered as signed webhooks to a real HTTP receiver
//! (tests/e2e/support/trigger_receiver.py), through the unmodified SDK, on both backends:
//! PreSignUp (its answer confirming and verifying), PostConfirmation, PreAuthentication and
//! PostAuthentication, the events they carry, and every failure mode with no half-done state.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{AuthFlowType, LambdaConfigType, VerifiedAttributeType};
use serde_json::{json, Value};

use crate::harness::{error_code, error_message, Backend, Options, Server};
use crate::self_service::delivered_code;
use crate::sign_in::{app_client, attr};

crate::backend_tests!(
    unresolved_arns_are_refused_unless_allowed,
    pre_sign_up_confirms_and_verifies_then_post_confirmation_fires,
    failing_pre_sign_up_creates_no_user,
    confirmation_and_sign_in_fire_their_triggers,
    admin_create_user_fires_pre_sign_up,
    pre_token_generation_changes_both_tokens,
    user_migration_moves_users_in_on_sign_in_and_forgot_password,
    custom_auth_runs_two_rounds,
);

const SECRET: &str = "trigger-secret-0123456789";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// The receiver: a Python HTTP server that logs each event and answers as the plan says.
struct Receiver {
    child: Child,
    port: u16,
    plan: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        let log = dir.path().join("events.jsonl");
        std::fs::write(&plan, "{}").unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/e2e/support/trigger_receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&plan)
            .arg(&log)
            .arg(SECRET)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 trigger_receiver.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the receiver's port");
        Receiver {
            child,
            port,
            plan,
            log,
            _dir: dir,
        }
    }

    fn plan(&self, plan: Value) {
        std::fs::write(&self.plan, plan.to_string()).unwrap();
    }

    /// Every request received so far.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The events sent to `function`.
    fn events(&self, function: &str) -> Vec<Value> {
        let path = format!("/{function}");
        self.received()
            .into_iter()
            .filter(|r| r["path"] == path.as_str())
            .inspect(|r| assert_eq!(r["signature_ok"], true, "{r}"))
            .map(|r| r["event"].clone())
            .collect()
    }

    fn options(&self, backend: Backend) -> Options {
        let mut o = Options::new(backend);
        o.env.push((
            "GATEHOUSE_TRIGGERS".into(),
            json!([{
                "arn_pattern": format!("{ARN}*"),
                "url": format!("http://127.0.0.1:{}/{{function}}", self.port),
                "secret": SECRET,
                "timeout_ms": 700,
            }])
            .to_string(),
        ));
        o
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lambda_config() -> LambdaConfigType {
    LambdaConfigType::builder()
        .pre_sign_up(format!("{ARN}presignup"))
        .post_confirmation(format!("{ARN}postconfirm"))
        .pre_authentication(format!("{ARN}preauth"))
        .post_authentication(format!("{ARN}postauth"))
        .build()
}

async fn trigger_pool(c: &cognito::Client) -> String {
    c.create_user_pool()
        .pool_name("triggers")
        .lambda_config(lambda_config())
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

/// A pool whose LambdaConfig is `config`, with the `custom:tier` attribute `sign_in::user` sets.
async fn pool_with(c: &cognito::Client, config: LambdaConfigType) -> String {
    c.create_user_pool()
        .pool_name("triggers")
        .lambda_config(config)
        .schema(
            cognito::types::SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(cognito::types::AttributeDataType::Number)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

async fn sign_up(c: &cognito::Client, client: &str, name: &str) -> Result<bool, String> {
    c.sign_up()
        .client_id(client)
        .username(name)
        .password("Passw0rd!x")
        .user_attributes(attr("email", &format!("{name}@example.com")))
        .validation_data(attr("invite", "abc"))
        .client_metadata("source", "test")
        .send()
        .await
        .map(|r| r.user_confirmed)
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

async fn user_count(c: &cognito::Client, pool: &str) -> usize {
    c.list_users()
        .user_pool_id(pool)
        .send()
        .await
        .unwrap()
        .users()
        .len()
}

async fn unresolved_arns_are_refused_unless_allowed(backend: Backend) {
    let server = Server::start(backend.clone()).await;
    let err = server
        .client()
        .create_user_pool()
        .pool_name("p")
        .lambda_config(lambda_config())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert!(
        error_message(&err).contains("PreSignUp"),
        "{}",
        error_message(&err)
    );
    // Allowed: the pool is made, and the invocation fails as one Cognito may not make.
    let mut o = Options::new(backend);
    o.extra_args.push("--allow-unresolved-trigger-arns".into());
    let server = Server::start_with(o).await;
    let c = server.client();
    let pool = trigger_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    assert_eq!(
        sign_up(&c, &client, "ann").await,
        Err("UnexpectedLambdaException: PreSignUp invocation failed due to error AccessDeniedException.".into())
    );
    assert_eq!(user_count(&c, &pool).await, 0);
}

async fn pre_sign_up_confirms_and_verifies_then_post_confirmation_fires(backend: Backend) {
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = trigger_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    rx.plan(json!({"/presignup": {"merge": {"autoConfirmUser": true, "autoVerifyEmail": true}}}));
    assert_eq!(sign_up(&c, &client, "bob").await, Ok(true));

    let ev = &rx.events("presignup")[0];
    assert_eq!(ev["version"], "1");
    assert_eq!(ev["triggerSource"], "PreSignUp_SignUp");
    assert_eq!(ev["region"], "us-east-1");
    assert_eq!(ev["userPoolId"], pool.as_str());
    assert_eq!(ev["userName"], "bob");
    assert_eq!(ev["callerContext"]["clientId"], client.as_str());
    assert_eq!(ev["request"]["userAttributes"]["email"], "bob@example.com");
    assert_eq!(
        ev["request"]["userAttributes"]["cognito:user_status"],
        "UNCONFIRMED"
    );
    assert_eq!(ev["request"]["validationData"], json!({"invite": "abc"}));
    assert_eq!(ev["request"]["clientMetadata"], json!({"source": "test"}));
    assert_eq!(
        ev["response"],
        json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false})
    );

    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status().unwrap().as_str(), "CONFIRMED");
    let verified = u
        .user_attributes()
        .iter()
        .find(|a| a.name() == "email_verified")
        .and_then(|a| a.value());
    assert_eq!(verified, Some("true"));
    let post = rx.events("postconfirm");
    assert_eq!(post.len(), 1);
    assert_eq!(post[0]["triggerSource"], "PostConfirmation_ConfirmSignUp");
    assert_eq!(
        post[0]["request"]["userAttributes"]["cognito:user_status"],
        "CONFIRMED"
    );
    assert_eq!(
        post[0]["request"]["clientMetadata"],
        json!({"source": "test"})
    );
}

async fn failing_pre_sign_up_creates_no_user(backend: Backend) {
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = trigger_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    // The function fails: its errorMessage, in Cognito's words.
    rx.plan(json!({"/presignup": {"status": 500, "body": {"errorMessage": "Registration from this domain is not allowed.", "errorType": "Error"}}}));
    assert_eq!(
        sign_up(&c, &client, "carl").await,
        Err("UserLambdaValidationException: PreSignUp failed with error Registration from this domain is not allowed..".into())
    );
    // An answer that is not an event.
    rx.plan(json!({"/presignup": {"raw": "not json"}}));
    assert_eq!(
        sign_up(&c, &client, "carl").await,
        Err("InvalidLambdaResponseException: Unrecognizable lambda output".into())
    );
    // A flag that is not a boolean.
    rx.plan(json!({"/presignup": {"merge": {"autoConfirmUser": "yes"}}}));
    assert_eq!(
        sign_up(&c, &client, "carl").await,
        Err("InvalidLambdaResponseException: Unrecognizable lambda output".into())
    );
    // No answer in time: three attempts, then Cognito's timeout message.
    let before = rx.events("presignup").len();
    rx.plan(json!({"/presignup": {"sleep_ms": 1500}}));
    assert_eq!(
        sign_up(&c, &client, "carl").await,
        Err("UnexpectedLambdaException: PreSignUp invocation failed due to error Socket timeout while invoking Lambda function.".into())
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(rx.events("presignup").len() - before, 3);
    // None of them made a user, sent a code or fired PostConfirmation.
    assert_eq!(user_count(&c, &pool).await, 0);
    assert!(rx.events("postconfirm").is_empty());
    // And the name is still free.
    rx.plan(json!({}));
    assert_eq!(sign_up(&c, &client, "carl").await, Ok(false));
}

async fn confirmation_and_sign_in_fire_their_triggers(backend: Backend) {
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = trigger_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    assert_eq!(sign_up(&c, &client, "dora").await, Ok(false));
    let (_, code) = delivered_code(&server, "sign_up", "dora@example.com").await;
    c.confirm_sign_up()
        .client_id(&client)
        .username("dora")
        .confirmation_code(code)
        .send()
        .await
        .unwrap();
    let post = rx.events("postconfirm");
    assert_eq!(post.len(), 1);
    assert_eq!(post[0]["triggerSource"], "PostConfirmation_ConfirmSignUp");
    assert_eq!(
        post[0]["request"]["userAttributes"]["email_verified"],
        "true"
    );

    let sign_in = || {
        c.initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "dora")
            .auth_parameters("PASSWORD", "Passw0rd!x")
            .client_metadata("app", "web")
            .send()
    };
    let out = sign_in().await.unwrap();
    assert!(out.authentication_result().is_some());
    let pre = rx.events("preauth");
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0]["triggerSource"], "PreAuthentication_Authentication");
    assert_eq!(pre[0]["request"]["validationData"], json!({"app": "web"}));
    assert_eq!(
        pre[0]["request"]["userAttributes"]["email"],
        "dora@example.com"
    );
    let after = rx.events("postauth");
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0]["triggerSource"],
        "PostAuthentication_Authentication"
    );
    assert_eq!(after[0]["callerContext"]["clientId"], client.as_str());

    // PreAuthentication refuses: no tokens, and PostAuthentication does not fire.
    rx.plan(json!({"/preauth": {"status": 400, "body": {"errorMessage": "Sign-in is closed"}}}));
    let err = sign_in().await.unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        "UserLambdaValidationException: PreAuthentication failed with error Sign-in is closed."
    );
    assert_eq!(rx.events("postauth").len(), 1);
    // PostAuthentication fails: the sign-in fails with it.
    rx.plan(json!({"/postauth": {"status": 500, "body": {"errorMessage": "audit down"}}}));
    let err = sign_in().await.unwrap_err();
    assert_eq!(
        error_message(&err),
        "PostAuthentication failed with error audit down."
    );
}

async fn admin_create_user_fires_pre_sign_up(backend: Backend) {
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = trigger_pool(&c).await;
    let create = |name: &'static str| {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .message_action(cognito::types::MessageActionType::Suppress)
            .user_attributes(attr("email", &format!("{name}@example.com")))
            .client_metadata("by", "admin")
            .send()
    };
    rx.plan(json!({"/presignup": {"status": 500, "body": {"errorMessage": "closed"}}}));
    let err = create("erin").await.unwrap_err();
    assert_eq!(error_message(&err), "PreSignUp failed with error closed.");
    assert_eq!(user_count(&c, &pool).await, 0);
    // Confirmation is not the answer's to give here; verification is.
    rx.plan(json!({"/presignup": {"merge": {"autoConfirmUser": true, "autoVerifyEmail": true}}}));
    let made = create("erin").await.unwrap().user.unwrap();
    assert_eq!(
        made.user_status().unwrap().as_str(),
        "FORCE_CHANGE_PASSWORD"
    );
    let verified = made
        .attributes()
        .iter()
        .find(|a| a.name() == "email_verified")
        .and_then(|a| a.value());
    assert_eq!(verified, Some("true"));
    let ev = rx.events("presignup").pop().unwrap();
    assert_eq!(ev["triggerSource"], "PreSignUp_AdminCreateUser");
    assert_eq!(ev["callerContext"]["clientId"], Value::Null);
    assert_eq!(ev["request"]["clientMetadata"], json!({"by": "admin"}));
    assert_eq!(
        ev["request"]["userAttributes"]["cognito:user_status"],
        "FORCE_CHANGE_PASSWORD"
    );
}

async fn pre_token_generation_changes_both_tokens(backend: Backend) {
    use crate::sign_in::claims;
    use cognito::types::{
        PreTokenGenerationLambdaVersionType, PreTokenGenerationVersionConfigType,
    };
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let v2 = LambdaConfigType::builder()
        .pre_token_generation_config(
            PreTokenGenerationVersionConfigType::builder()
                .lambda_version(PreTokenGenerationLambdaVersionType::V20)
                .lambda_arn(format!("{ARN}pretoken"))
                .build()
                .unwrap(),
        )
        .build();
    let pool = pool_with(&c, v2).await;
    let (client, _) = app_client(&c, &pool, false).await;
    crate::sign_in::user(&c, &pool, "gail", "Passw0rd!x", "gail@example.com").await;
    c.create_group()
        .user_pool_id(&pool)
        .group_name("staff")
        .send()
        .await
        .unwrap();
    c.admin_add_user_to_group()
        .user_pool_id(&pool)
        .username("gail")
        .group_name("staff")
        .send()
        .await
        .unwrap();
    rx.plan(
        json!({"/pretoken": {"merge": {"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {
                "claimsToAddOrOverride": {"plan": "gold", "level": 3, "sub": "forged"},
                "claimsToSuppress": ["email"]
            },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"tenant": {"id": "t1"}},
                "scopesToAdd": ["orders/read"],
                "scopesToSuppress": ["aws.cognito.signin.user.admin"]
            },
            "groupOverrideDetails": {"groupsToOverride": ["vip"]}
        }}}}),
    );
    let t = crate::sign_in::password_sign_in(&c, &client, "gail", "Passw0rd!x")
        .await
        .unwrap();
    let id = claims(t.id_token().unwrap());
    assert_eq!(id["plan"], "gold");
    assert_eq!(id["level"], 3);
    assert!(id.get("email").is_none(), "{id}");
    assert_ne!(id["sub"], "forged", "reserved claims stay");
    assert_eq!(id["cognito:groups"], json!(["vip"]));
    let access = claims(t.access_token().unwrap());
    assert_eq!(access["tenant"], json!({"id": "t1"}));
    assert_eq!(access["scope"], "orders/read");
    assert_eq!(access["cognito:groups"], json!(["vip"]));
    let ev = rx.events("pretoken").pop().unwrap();
    assert_eq!(ev["version"], "2");
    assert_eq!(ev["triggerSource"], "TokenGeneration_Authentication");
    assert_eq!(
        ev["request"]["groupConfiguration"]["groupsToOverride"],
        json!(["staff"])
    );
    assert_eq!(
        ev["request"]["scopes"],
        json!(["aws.cognito.signin.user.admin"])
    );
    assert_eq!(
        ev["response"],
        json!({"claimsAndScopeOverrideDetails": null})
    );

    // On refresh too, with its own trigger source.
    let refreshed = c
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", t.refresh_token().unwrap())
        .send()
        .await
        .unwrap();
    let id = claims(
        refreshed
            .authentication_result()
            .unwrap()
            .id_token()
            .unwrap(),
    );
    assert_eq!(id["plan"], "gold");
    let ev = rx.events("pretoken").pop().unwrap();
    assert_eq!(ev["triggerSource"], "TokenGeneration_RefreshTokens");

    // A failing trigger: no tokens.
    rx.plan(json!({"/pretoken": {"status": 500, "body": {"errorMessage": "claims store down"}}}));
    let err = crate::sign_in::password_sign_in(&c, &client, "gail", "Passw0rd!x")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "UserLambdaValidationException: PreTokenGeneration failed with error claims store down."
    );
}

async fn user_migration_moves_users_in_on_sign_in_and_forgot_password(backend: Backend) {
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = pool_with(
        &c,
        LambdaConfigType::builder()
            .user_migration(format!("{ARN}migrate"))
            .build(),
    )
    .await;
    let (client, _) = app_client(&c, &pool, false).await;
    let sign_in = |name: &'static str, pw: &'static str| {
        c.initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", name)
            .auth_parameters("PASSWORD", pw)
            .client_metadata("origin", "legacy-app")
            .send()
    };
    // The old system knows olga: she signs in with her old password, which need not meet the
    // pool's policy.
    rx.plan(json!({"/migrate": {"merge": {
        "userAttributes": {"email": "olga@example.com", "email_verified": "true"},
        "finalUserStatus": "CONFIRMED",
        "messageAction": "SUPPRESS"
    }}}));
    let out = sign_in("olga", "old-pass").await.unwrap();
    assert!(out.authentication_result().is_some());
    let ev = rx.events("migrate").pop().unwrap();
    assert_eq!(ev["triggerSource"], "UserMigration_Authentication");
    assert_eq!(ev["userName"], "olga");
    assert_eq!(ev["request"]["password"], "old-pass");
    assert_eq!(
        ev["request"]["validationData"],
        json!({"origin": "legacy-app"})
    );
    assert_eq!(ev["response"]["userAttributes"], Value::Null);
    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("olga")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status().unwrap().as_str(), "CONFIRMED");
    // Moved in once: the next sign-in is the pool's own, and a wrong password is wrong.
    sign_in("olga", "old-pass").await.unwrap();
    assert_eq!(rx.events("migrate").len(), 1);
    let err = sign_in("olga", "not-her-pass").await.unwrap_err();
    assert_eq!(error_code(&err), "NotAuthorizedException");

    // Without a final status the user must reset the password first.
    rx.plan(json!({"/migrate": {"merge": {"userAttributes": {"email": "ria@example.com"}}}}));
    let err = sign_in("ria", "old-pass").await.unwrap_err();
    assert_eq!(error_code(&err), "PasswordResetRequiredException");

    // The old system does not know nobody: the pool's own answer.
    rx.plan(json!({}));
    let err = sign_in("nobody", "x-pass").await.unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        "UserNotFoundException: User does not exist."
    );
    assert_eq!(user_count(&c, &pool).await, 2);

    // ForgotPassword of an unknown name: moved in without a password, and the code is sent.
    rx.plan(json!({"/migrate": {"merge": {
        "userAttributes": {"email": "pete@example.com", "email_verified": "true"}
    }}}));
    let sent = c
        .forgot_password()
        .client_id(&client)
        .username("pete")
        .client_metadata("origin", "reset-page")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.code_delivery_details().unwrap().destination(),
        Some("p***@e***")
    );
    let ev = rx.events("migrate").pop().unwrap();
    assert_eq!(ev["triggerSource"], "UserMigration_ForgotPassword");
    assert_eq!(ev["request"]["password"], Value::Null);
    assert_eq!(
        ev["request"]["clientMetadata"],
        json!({"origin": "reset-page"})
    );
    let (_, code) = delivered_code(&server, "forgot_password", "pete@example.com").await;
    c.confirm_forgot_password()
        .client_id(&client)
        .username("pete")
        .confirmation_code(code)
        .password("N3w-Passw0rd!")
        .send()
        .await
        .unwrap();
    sign_in("pete", "N3w-Passw0rd!").await.unwrap();
}

async fn custom_auth_runs_two_rounds(backend: Backend) {
    use cognito::types::{ChallengeNameType, ExplicitAuthFlowsType};
    let rx = Receiver::start();
    let server = Server::start_with(rx.options(backend)).await;
    let c = server.client();
    let pool = pool_with(
        &c,
        LambdaConfigType::builder()
            .define_auth_challenge(format!("{ARN}define"))
            .create_auth_challenge(format!("{ARN}create"))
            .verify_auth_challenge_response(format!("{ARN}verify"))
            .build(),
    )
    .await;
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("custom")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowCustomAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    crate::sign_in::user(&c, &pool, "hana", "Passw0rd!x", "hana@example.com").await;
    rx.plan(json!({
        "/define": {"define_rounds": 2},
        "/create": {"create_rounds": [
            {"publicChallengeParameters": {"kind": "otp"},
             "privateChallengeParameters": {"answer": "424242"},
             "challengeMetadata": "OTP"},
            {"publicChallengeParameters": {"kind": "question", "question": "First pet?"},
             "privateChallengeParameters": {"answer": "rex"},
             "challengeMetadata": "QUESTION"}
        ]},
        "/verify": {"verify": true}
    }));
    let start = || {
        c.initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "hana")
            .client_metadata("step", "login")
            .send()
    };
    let answer = |session: String, a: &'static str| {
        c.respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", "hana")
            .challenge_responses("ANSWER", a)
            .send()
    };
    let first = start().await.unwrap();
    assert_eq!(
        first.challenge_name(),
        Some(&ChallengeNameType::CustomChallenge)
    );
    let p = first.challenge_parameters().unwrap();
    assert_eq!(p.get("kind").map(String::as_str), Some("otp"));
    assert_eq!(p.get("USERNAME").map(String::as_str), Some("hana"));
    assert!(p.get("answer").is_none(), "private parameters stay private");
    let second = answer(first.session().unwrap().to_string(), "424242")
        .await
        .unwrap();
    assert_eq!(
        second
            .challenge_parameters()
            .unwrap()
            .get("question")
            .map(String::as_str),
        Some("First pet?")
    );
    let done = answer(second.session().unwrap().to_string(), "rex")
        .await
        .unwrap();
    assert!(done
        .authentication_result()
        .unwrap()
        .access_token()
        .is_some());

    // The events: Define saw the rounds with their metadata; Verify the private parameters.
    let defines = rx.events("define");
    assert_eq!(defines.len(), 3);
    assert_eq!(
        defines[0]["triggerSource"],
        "DefineAuthChallenge_Authentication"
    );
    assert_eq!(defines[0]["request"]["session"], json!([]));
    assert_eq!(
        defines[0]["request"]["clientMetadata"],
        json!({"step": "login"})
    );
    assert_eq!(
        defines[2]["request"]["session"],
        json!([
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "OTP"},
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "QUESTION"}
        ])
    );
    let verifies = rx.events("verify");
    assert_eq!(
        verifies[0]["request"]["privateChallengeParameters"],
        json!({"answer": "424242"})
    );
    assert_eq!(verifies[0]["request"]["challengeAnswer"], "424242");
    assert_eq!(
        rx.events("create")[1]["request"]["challengeName"],
        "CUSTOM_CHALLENGE"
    );

    // A wrong answer: DefineAuthChallenge fails the sign-in.
    let first = start().await.unwrap();
    let err = answer(first.session().unwrap().to_string(), "000000")
        .await
        .unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        "NotAuthorizedException: Incorrect username or password."
    );
    // A round's Session answers once.
    let first = start().await.unwrap();
    let s = first.session().unwrap().to_string();
    answer(s.clone(), "424242").await.unwrap();
    let err = answer(s, "424242").await.unwrap_err();
    assert_eq!(error_code(&err), "NotAuthorizedException");

    // SRP first (CHALLENGE_NAME SRP_A): the password is proven, then the two rounds.
    let before = rx.events("define").len();
    let srp = cognito_srp::client::ClientSession::new();
    let init = c
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "hana")
        .auth_parameters("SRP_A", srp.srp_a_hex())
        .auth_parameters("CHALLENGE_NAME", "SRP_A")
        .send()
        .await
        .unwrap();
    assert_eq!(
        init.challenge_name(),
        Some(&ChallengeNameType::PasswordVerifier)
    );
    let p = init.challenge_parameters().unwrap();
    let timestamp = cognito_srp::format_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let sign = |pw: &str| {
        srp.sign(
            cognito_srp::pool_name(&pool),
            &p["USER_ID_FOR_SRP"],
            pw,
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            &timestamp,
        )
        .unwrap()
    };
    let verified = c
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(init.session().unwrap())
        .challenge_responses("USERNAME", &p["USER_ID_FOR_SRP"])
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sign("Passw0rd!x"))
        .challenge_responses("TIMESTAMP", &timestamp)
        .send()
        .await
        .unwrap();
    assert_eq!(
        verified.challenge_name(),
        Some(&ChallengeNameType::CustomChallenge)
    );
    let second = answer(verified.session().unwrap().to_string(), "424242")
        .await
        .unwrap();
    let done = answer(second.session().unwrap().to_string(), "rex")
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());
    let defines = rx.events("define");
    assert_eq!(
        defines[before]["request"]["session"],
        json!([{"challengeName": "SRP_A", "challengeResult": true, "challengeMetadata": null}])
    );
    assert_eq!(
        defines[before + 1]["request"]["session"][1],
        json!({"challengeName": "PASSWORD_VERIFIER", "challengeResult": true, "challengeMetadata": null})
    );
    assert_eq!(defines.len(), before + 4);
}
