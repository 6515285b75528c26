//! Weak access keys (issue 15 item 5): the `test` / `test` credentials of LocalStack and moto test
//! suites work only when the operator allows weak keys, and then every start warns; by default a
//! start with such a key is refused, naming the setting.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Backend, Options, Server, TEST_KEK};

crate::backend_tests!(test_test_credentials_work_when_weak_keys_are_allowed);

async fn test_test_credentials_work_when_weak_keys_are_allowed(backend: Backend) {
    let mut o = Options::new(backend);
    o.default_keys = false;
    o.extra_args = vec![
        "--access-keys".into(),
        "test:test".into(),
        "--allow-weak-access-keys".into(),
    ];
    let server = Server::start_with(o).await;
    let c = server.client_for("us-east-1", "test", "test");
    let pool = c
        .create_user_pool()
        .pool_name("localstack-style")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let listed = c.list_user_pools().max_results(10).send().await.unwrap();
    assert!(listed
        .user_pools()
        .iter()
        .any(|p| p.id() == Some(pool.as_str())));
    // A weak key is still a key: a wrong secret is refused.
    let e = server
        .client_for("us-east-1", "test", "tset")
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        crate::harness::error_code(&e),
        "InvalidSignatureException",
        "{e:?}"
    );
}

/// The binary's stderr for a start with these arguments, until it exits or `wait` passes.
fn start_and_read_stderr(args: &[&str], wait: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", crate::harness::free_port()))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(args)
        .env_remove("GATEHOUSE_ACCESS_KEYS")
        .env_remove("DATABASE_URL")
        .env("GATEHOUSE_KEY_ENCRYPTION_KEY", TEST_KEK)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + wait;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (code, err)
}

#[test]
fn weak_keys_are_refused_by_default_and_warned_about_when_allowed() {
    let (code, err) =
        start_and_read_stderr(&["--access-keys", "test:test"], Duration::from_secs(20));
    assert!(matches!(code, Some(c) if c != 0), "{code:?} {err}");
    assert!(err.contains("allow_weak_access_keys"), "{err}");
    let (code, err) = start_and_read_stderr(
        &["--access-keys", "test:test", "--allow-weak-access-keys"],
        Duration::from_secs(3),
    );
    assert_eq!(code, None, "the server kept running: {err}");
    assert!(
        err.contains("allow_weak_access_keys is on") && err.contains("\"test\""),
        "{err}"
    );
}
