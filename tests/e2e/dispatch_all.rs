//! Every operation of the service model dispatches: no 404, no 5xx, no panic, a Cognito-style answer.

use std::time::SystemTime;

use serde_json::Value;

use crate::harness::{Backend, Server, ADMIN_KEY_ID, ADMIN_SECRET};
use crate::raw::{post, target, Signing};

fn model_operations() -> Vec<(String, bool)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/cognito-idp-2016-04-18.json"
    );
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("model")).expect("json");
    let ops = model["operations"].as_object().expect("operations");
    ops.iter()
        .map(|(name, op)| {
            let unsigned = op.get("authtype").and_then(Value::as_str) == Some("none");
            (name.clone(), !unsigned)
        })
        .collect()
}

#[tokio::test]
async fn every_model_operation_dispatches() {
    let server = Server::start(Backend::Sqlite).await;
    let ops = model_operations();
    assert_eq!(ops.len(), 153);
    for (name, is_signed) in ops {
        let t = target(&name);
        let signing = is_signed.then(|| Signing {
            key_id: ADMIN_KEY_ID,
            secret: ADMIN_SECRET,
            region: "us-east-1",
            service: "cognito-idp",
            time: SystemTime::now(),
        });
        let r = post(
            &server.base_url,
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", &t),
            ],
            b"{}",
            signing,
        )
        .await;
        assert!(
            r.status == 200 || (400..500).contains(&r.status),
            "{name}: status {} {}",
            r.status,
            r.text
        );
        assert!(r.header("x-amzn-requestid").is_some(), "{name}: request id");
        assert!(r.body.is_object(), "{name}: JSON body, got {}", r.text);
        if r.status != 200 {
            let t = r.error_type();
            assert!(!t.is_empty(), "{name}: __type present");
            assert_ne!(
                t, "UnknownOperationException",
                "{name} is in the model and must dispatch"
            );
            assert!(
                !matches!(
                    t,
                    "MissingAuthenticationTokenException" | "InvalidSignatureException"
                ),
                "{name}: {t}"
            );
        }
    }
}
