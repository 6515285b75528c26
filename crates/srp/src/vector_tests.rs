//! The test vector's intermediate values that the public API does not expose (k, x, u, S), on
//! both the server and the client side. The public values are checked in `tests/vector.rs`.

use serde_json::Value;

use crate::client::ClientSession;
use crate::group::{group, int_hex, private_key_x, scrambler_u};
use crate::server::premaster_secret;
use crate::Verifier;

fn vector() -> Value {
    serde_json::from_str(include_str!("../tests/data/srp-test-vector.json"))
        .expect("test vector is JSON")
}

fn field<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for key in path {
        cur = &cur[*key];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("vector has no string at {path:?}"))
}

fn bytes(v: &Value, path: &[&str]) -> Vec<u8> {
    hex::decode(field(v, path)).expect("vector hex")
}

#[test]
fn k_matches_vector() {
    let v = vector();
    assert_eq!(group().to_hex(&group().k), field(&v, &["k"]));
}

#[test]
fn x_matches_vector() {
    let v = vector();
    let x = private_key_x(
        &bytes(&v, &["salt_hex_as_sent_in_SALT"]),
        field(&v, &["pool_name"]),
        field(&v, &["user_id_for_srp"]),
        field(&v, &["password"]),
    );
    assert_eq!(int_hex(x.as_ref()), field(&v, &["x"]));
}

#[test]
fn u_matches_vector() {
    let v = vector();
    let u = scrambler_u(&bytes(&v, &["SRP_A"]), &bytes(&v, &["SRP_B"]));
    assert_eq!(int_hex(&u), field(&v, &["u"]));
}

#[test]
fn server_and_client_s_match_vector() {
    let v = vector();
    let verifier = Verifier::with_salt(
        field(&v, &["pool_name"]),
        field(&v, &["user_id_for_srp"]),
        field(&v, &["password"]),
        &bytes(&v, &["salt_hex_as_sent_in_SALT"]),
    );
    let (u, s) = premaster_secret(
        &verifier,
        field(&v, &["SRP_A"]),
        &bytes(&v, &["b_server_secret"]),
        field(&v, &["SRP_B"]),
    )
    .expect("vector A and u are valid");
    assert_eq!(int_hex(&u), field(&v, &["u"]));
    assert_eq!(int_hex(&s), field(&v, &["S"]));

    let client = ClientSession::with_secret(&bytes(&v, &["a_client_secret"]));
    let (u, s) = client
        .premaster_secret(
            field(&v, &["pool_name"]),
            field(&v, &["user_id_for_srp"]),
            field(&v, &["password"]),
            field(&v, &["salt_hex_as_sent_in_SALT"]),
            field(&v, &["SRP_B"]),
        )
        .expect("vector B and u are valid");
    assert_eq!(int_hex(&u), field(&v, &["u"]));
    assert_eq!(int_hex(&s), field(&v, &["S"]));
}

#[test]
fn device_server_and_client_s_agree() {
    // The vector gives no S for the device section; both sides must at least agree, and the
    // key built from it is pinned in tests/vector.rs.
    let v = vector();
    let d = &v["device"];
    let verifier = Verifier::from_device_config(
        field(d, &["DeviceSecretVerifierConfig", "PasswordVerifier"]),
        field(d, &["DeviceSecretVerifierConfig", "Salt"]),
    )
    .expect("vector device config is valid");
    let (u_server, s_server) = premaster_secret(
        &verifier,
        field(d, &["SRP_A"]),
        &bytes(d, &["b_server_secret"]),
        field(d, &["SRP_B"]),
    )
    .unwrap();
    let client = ClientSession::with_secret(&bytes(&v, &["a_client_secret"]));
    let (u_client, s_client) = client
        .premaster_secret(
            field(d, &["DeviceGroupKey"]),
            field(d, &["DeviceKey"]),
            field(d, &["device_random_password"]),
            field(d, &["salt_hex"]),
            field(d, &["SRP_B"]),
        )
        .unwrap();
    assert_eq!(u_server, u_client);
    assert_eq!(*s_server, *s_client);
}
