//! Observability: JSON logs carry a span per request (request id, operation, pool id, outcome), and
//! the start-up lines say where the server listens and where its data is. Secrets never appear.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{free_port, ADMIN_KEY_ID, ADMIN_SECRET};

#[tokio::test]
async fn json_logs_have_a_span_per_request() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            "--log-level",
            "info",
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("GATEHOUSE_ACCESS_KEYS")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server did not start");
    // A signed call with an unknown key is rejected and logged with its span fields.
    let t = crate::raw::target("DescribeUserPool");
    let r = crate::raw::post(
        &base,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
        ],
        br#"{"UserPoolId":"us-east-1_abcdefghi"}"#,
        Some(crate::raw::Signing {
            key_id: ADMIN_KEY_ID,
            secret: ADMIN_SECRET,
            region: "us-east-1",
            service: "cognito-idp",
            time: std::time::SystemTime::now(),
        }),
    )
    .await;
    assert_eq!(r.error_type(), "UnrecognizedClientException");
    let request_id = r.header("x-amzn-requestid").unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let _ = child.wait();
    let text = lines
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "gatehouse listening"),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["fields"]["data_dir"].is_string()),
        "{text}"
    );
    let rejected = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request rejected")
        .unwrap_or_else(|| panic!("no request line in {text}"));
    let span = &rejected["span"];
    assert_eq!(span["request_id"], request_id.as_str());
    assert_eq!(span["operation"], "DescribeUserPool");
    assert_eq!(span["outcome"], "UnrecognizedClientException");
    // The generated admin secret is in the credentials file, never in the log.
    let creds = std::fs::read_to_string(tmp.path().join("data/credentials")).unwrap();
    let secret = creds
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .unwrap();
    assert!(!text.contains(secret));
}
