//! Real delivery: AdminCreateUser invitations and SignUp codes through a real SMTP server process
//! (aiosmtpd) and a real SNS-compatible server process (moto), and mail-server outages during
//! bursts of invitations and of sign-ups that lose and duplicate nothing. The Python servers come from PyPI (`.ci/run` installs them); a missing
//! package fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, AttributeType, DeliveryMediumType, MessageTemplateType,
    VerifiedAttributeType,
};
use serde_json::Value;

use crate::harness::{free_port, Backend, Options, Server};

crate::backend_tests!(
    invitation_email_goes_through_smtp,
    invitation_sms_goes_through_sns,
    smtp_outage_during_a_burst_loses_and_duplicates_nothing,
    sign_up_codes_survive_an_smtp_outage,
    a_permanently_rejected_message_is_not_retried,
    an_sms_sns_refuses_as_invalid_is_not_retried,
    sign_in_codes_go_through_sns_and_a_refused_one_is_reported_as_cognito_does,
);

/// A Python server from tests/e2e/support, writing what it receives to a JSON-lines file.
struct PyServer {
    child: Child,
    script: &'static str,
    port: u16,
    file: PathBuf,
}

impl PyServer {
    fn start(script: &'static str, port: u16, file: &Path) -> PyServer {
        use std::io::BufRead;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/e2e/support")
            .join(script);
        // The server's own log goes to a file beside its output (a pipe nobody reads would fill).
        let log = file.with_extension("log");
        let mut child = Command::new("python3")
            .arg(&path)
            .arg(port.to_string())
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("server log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 {script}: {e}"));
        // The script prints "ready" once it listens; an exit before that (an ImportError) fails.
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let ready = out
            .lines()
            .map_while(Result::ok)
            .any(|l| l.trim() == "ready");
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{script} did not start (are aiosmtpd and moto[server] installed? .ci/run installs them):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        PyServer {
            child,
            script,
            port,
            file: file.to_path_buf(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        *self = PyServer::start(self.script, self.port, &self.file);
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

fn smtp_env(port: u16) -> Vec<(String, String)> {
    vec![
        (
            "GATEHOUSE_SMTP_URL".into(),
            format!("smtp://127.0.0.1:{port}?tls=none"),
        ),
        (
            "GATEHOUSE_SMTP_FROM".into(),
            "Gatehouse <no-reply@gatehouse.test>".into(),
        ),
    ]
}

fn sns_env(port: u16) -> Vec<(String, String)> {
    vec![
        (
            "GATEHOUSE_SNS_ENDPOINT".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("GATEHOUSE_SNS_REGION".into(), "us-east-1".into()),
        ("GATEHOUSE_SNS_ACCESS_KEY_ID".into(), "AKIDSNSTEST".into()),
        (
            "GATEHOUSE_SNS_SECRET_ACCESS_KEY".into(),
            "sns-test-secret".into(),
        ),
    ]
}

async fn pool_with_template(server: &Server) -> String {
    server
        .client()
        .create_user_pool()
        .pool_name("delivery")
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .invite_message_template(
                    MessageTemplateType::builder()
                        .email_subject("Welcome to Gatehouse")
                        .email_message("Hello {username}, your temporary password is {####}")
                        .sms_message("Hi {username}, password {####}")
                        .build(),
                )
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

async fn metric(server: &Server, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn invitation_email_goes_through_smtp(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = PyServer::start("smtp_sink.py", port, &tmp.path().join("mail.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = smtp_env(port);
    let server = Server::start_with(opts).await;
    let pool = pool_with_template(&server).await;
    server
        .client()
        .admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .temporary_password("Temp#Pass1234")
        .user_attributes(attr("email", "alice@example.com"))
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["alice@example.com"]));
    assert_eq!(got[0]["mail_from"], "no-reply@gatehouse.test");
    let data = got[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: Welcome to Gatehouse\r\n"), "{data}");
    assert!(data.contains("To: alice@example.com\r\n"), "{data}");
    assert!(
        data.contains("Hello alice, your temporary password is Temp#Pass1234"),
        "{data}"
    );
    // Nothing went to the developer outbox, and the node counted the delivery.
    assert!(!server.data_dir.join("outbox.jsonl").exists());
    assert_eq!(
        metric(
            &server,
            "gatehouse_messages_delivered_total{channel=\"email\"}"
        )
        .await,
        1.0
    );
    assert_eq!(metric(&server, "gatehouse_outbox_pending").await, 0.0);
}

async fn invitation_sms_goes_through_sns(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let sns = PyServer::start("sns_server.py", port, &tmp.path().join("sms.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = sns_env(port);
    let server = Server::start_with(opts).await;
    let pool = pool_with_template(&server).await;
    server
        .client()
        .admin_create_user()
        .user_pool_id(&pool)
        .username("bob")
        .temporary_password("Temp#Pass5678")
        .user_attributes(attr("phone_number", "+15555550123"))
        .desired_delivery_mediums(DeliveryMediumType::Sms)
        .send()
        .await
        .unwrap();
    let got = sns.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["phone_number"], "+15555550123");
    assert_eq!(got[0]["message"], "Hi bob, password Temp#Pass5678");
    assert!(!server.data_dir.join("outbox.jsonl").exists());
    assert_eq!(
        metric(
            &server,
            "gatehouse_messages_delivered_total{channel=\"sms\"}"
        )
        .await,
        1.0
    );
}

async fn smtp_outage_during_a_burst_loses_and_duplicates_nothing(backend: Backend) {
    const USERS: usize = 20;
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut smtp = PyServer::start("smtp_sink.py", port, &tmp.path().join("mail.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = smtp_env(port);
    let server = Server::start_with(opts).await;
    let pool = pool_with_template(&server).await;
    let c = server.client();
    let mut killed_at = None;
    for i in 0..USERS {
        if i == 5 {
            // The mail server dies mid-burst; the API keeps answering.
            smtp.kill();
            killed_at = Some(Instant::now());
        }
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(format!("user{i}"))
            .user_attributes(attr("email", &format!("user{i}@example.com")))
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AdminCreateUser {i} during the outage: {e:?}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let down = killed_at.unwrap().elapsed();
    if down < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_secs(3) - down).await;
    }
    assert!(
        metric(
            &server,
            "gatehouse_message_delivery_failures_total{channel=\"email\"}"
        )
        .await
            >= 1.0,
        "the outage was seen as failed attempts"
    );
    assert!(metric(&server, "gatehouse_outbox_pending").await >= 1.0);
    smtp.restart();
    smtp.wait_for(USERS, Duration::from_secs(60)).await;
    // A little longer, so a duplicate would have time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut recipients: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string())
        .collect();
    recipients.sort();
    let mut expected: Vec<String> = (0..USERS).map(|i| format!("user{i}@example.com")).collect();
    expected.sort();
    assert_eq!(recipients, expected, "every message exactly once");
    assert_eq!(metric(&server, "gatehouse_outbox_pending").await, 0.0);
}

/// A burst of SignUps while the mail server is down: every verification code arrives once, with
/// the pool's subject and body, at the address signed up, and each one confirms its user.
async fn sign_up_codes_survive_an_smtp_outage(backend: Backend) {
    const USERS: usize = 10;
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut smtp = PyServer::start("smtp_sink.py", port, &tmp.path().join("mail.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = smtp_env(port);
    let server = Server::start_with(opts).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("sign-up-delivery")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .email_verification_subject("Confirm your account")
        .email_verification_message("Hello {username}, your code is {####}")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client_id = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    for i in 0..USERS {
        if i == 3 {
            smtp.kill();
        }
        c.sign_up()
            .client_id(&client_id)
            .username(format!("signer{i}"))
            .password("Passw0rd!x")
            .user_attributes(attr("email", &format!("signer{i}@example.com")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("SignUp {i} during the outage: {e:?}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    smtp.restart();
    smtp.wait_for(USERS, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = smtp.received();
    assert_eq!(got.len(), USERS, "every code exactly once: {got:?}");
    for i in 0..USERS {
        let to = format!("signer{i}@example.com");
        let mail: Vec<&Value> = got
            .iter()
            .filter(|m| m["rcpt_tos"] == serde_json::json!([to.clone()]))
            .collect();
        assert_eq!(mail.len(), 1, "{to}: {got:?}");
        let data = mail[0]["data"].as_str().unwrap();
        assert!(data.contains("Subject: Confirm your account\r\n"), "{data}");
        assert!(data.contains(&format!("To: {to}\r\n")), "{data}");
        let prefix = format!("Hello signer{i}, your code is ");
        let at = data.find(&prefix).unwrap_or_else(|| panic!("{data}")) + prefix.len();
        let code = &data[at..at + 6];
        assert!(code.chars().all(|ch| ch.is_ascii_digit()), "{data}");
        c.confirm_sign_up()
            .client_id(&client_id)
            .username(format!("signer{i}"))
            .confirmation_code(code)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ConfirmSignUp {i} with the delivered code: {e:?}"));
    }
}

/// A relay that refuses a recipient for good (550) ends that message at once: it is marked dead,
/// counted in /metrics and never retried, while the other messages are delivered.
async fn a_permanently_rejected_message_is_not_retried(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = PyServer::start("smtp_sink.py", port, &tmp.path().join("mail.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = smtp_env(port);
    let server = Server::start_with(opts).await;
    let pool = pool_with_template(&server).await;
    let c = server.client();
    for (name, email) in [
        ("rex", "reject-rex@example.com"),
        ("olga", "olga@example.com"),
    ] {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .user_attributes(attr("email", email))
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .unwrap();
    }
    // One refusal and one delivery.
    let got = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&server, "gatehouse_messages_dead_total{channel=\"email\"}").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the rejected message was not given up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Retries would come after 1 s, 2 s, 4 s: none comes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = smtp.received();
    let refusals = got.iter().filter(|m| m.get("rejected").is_some()).count();
    let delivered: Vec<&Value> = got.iter().filter(|m| m.get("rcpt_tos").is_some()).collect();
    assert_eq!(refusals, 1, "refused once, never retried: {got:?}");
    assert_eq!(delivered.len(), 1, "{got:?}");
    assert_eq!(
        delivered[0]["rcpt_tos"],
        serde_json::json!(["olga@example.com"])
    );
    assert_eq!(
        metric(
            &server,
            "gatehouse_message_delivery_failures_total{channel=\"email\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, "gatehouse_messages_dead_total{channel=\"email\"}").await,
        1.0
    );
    assert_eq!(
        metric(
            &server,
            "gatehouse_messages_delivered_total{channel=\"email\"}"
        )
        .await,
        1.0
    );
    assert_eq!(metric(&server, "gatehouse_outbox_dead").await, 1.0);
    assert_eq!(metric(&server, "gatehouse_outbox_pending").await, 0.0);
}

/// An SMS that SNS refuses as invalid (moto, like SNS, answers InvalidParameter for a number that
/// is not E.164 with at least two digits) is given up at once; a valid one is delivered.
async fn an_sms_sns_refuses_as_invalid_is_not_retried(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let sns = PyServer::start("sns_server.py", port, &tmp.path().join("sms.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = sns_env(port);
    let server = Server::start_with(opts).await;
    let pool = pool_with_template(&server).await;
    let c = server.client();
    for (name, phone) in [("short", "+1"), ("fine", "+15555550199")] {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .user_attributes(attr("phone_number", phone))
            .desired_delivery_mediums(DeliveryMediumType::Sms)
            .send()
            .await
            .unwrap();
    }
    let got = sns.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["phone_number"], "+15555550199");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&server, "gatehouse_messages_dead_total{channel=\"sms\"}").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the refused SMS was not given up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        metric(
            &server,
            "gatehouse_message_delivery_failures_total{channel=\"sms\"}"
        )
        .await,
        1.0,
        "one attempt, no retries"
    );
    assert_eq!(metric(&server, "gatehouse_outbox_dead").await, 1.0);
    assert_eq!(metric(&server, "gatehouse_outbox_pending").await, 0.0);
}

/// SMS_MFA codes through the real SNS-compatible server: a deliverable one arrives and signs in;
/// one SNS refuses leaves the sign-in's answer as Cognito gives it (the SMS_MFA challenge: the
/// sign-in operations model no delivery error, and Cognito reports SNS's refusals only in its
/// delivery logs), while the message is given up at once and counted dead for the operator.
async fn sign_in_codes_go_through_sns_and_a_refused_one_is_reported_as_cognito_does(
    backend: Backend,
) {
    use aws_sdk_cognitoidentityprovider::types::{ChallengeNameType, UserPoolMfaType};
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let sns = PyServer::start("sns_server.py", port, &tmp.path().join("sms.jsonl"));
    let mut opts = Options::new(backend);
    opts.env = sns_env(port);
    opts.extra_args = vec!["--allowed-email-senders".into(), "example.com".into()];
    let server = Server::start_with(opts).await;
    let c = server.client();
    let pool = crate::mfa::mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = crate::sign_in::app_client(&c, &pool, false).await;
    for (name, phone) in [("good", "+15555550123"), ("bad", "+1")] {
        crate::mfa::mfa_user(&c, &pool, name, "Passw0rd!x").await;
        c.admin_update_user_attributes()
            .user_pool_id(&pool)
            .username(name)
            .user_attributes(attr("phone_number", phone))
            .send()
            .await
            .unwrap();
        crate::mfa::prefer_sms(&c, &pool, name).await;
    }
    let r = crate::mfa::initiate(&c, &client, "good", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SmsMfa));
    let got = sns.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["phone_number"], "+15555550123");
    let text = got[0]["message"].as_str().unwrap_or_default();
    let code: String = text
        .strip_prefix("Your sign-in code is ")
        .unwrap_or_else(|| panic!("the pool's SmsAuthenticationMessage: {text}"))
        .chars()
        .take(6)
        .collect();
    let ok = crate::mfa::respond(
        &c,
        &client,
        ChallengeNameType::SmsMfa,
        r.session.as_deref().unwrap(),
        &[("USERNAME", "good"), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());

    let r = crate::mfa::initiate(&c, &client, "bad", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SmsMfa));
    let p = r.challenge_parameters.unwrap();
    assert_eq!(p["CODE_DELIVERY_DELIVERY_MEDIUM"], "SMS");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&server, "gatehouse_messages_dead_total{channel=\"sms\"}").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the refused sign-in code was not given up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sns.received().len(),
        1,
        "nothing reached the refused number"
    );
}
