//! Every public value of the reference test vector (tests/data/srp-test-vector.json, which
//! matches amazon-cognito-identity-js and pycognito bit for bit). k, x, u and S are internal and
//! checked by the crate's unit tests against the same file.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cognito_srp::client::ClientSession;
use cognito_srp::{
    claim_signature, password_authentication_key, pool_name, secret_hash, verify_claim_signature,
    verify_secret_hash, ServerChallenge, Verifier,
};
use serde_json::Value;

fn vector() -> Value {
    serde_json::from_str(include_str!("data/srp-test-vector.json")).expect("test vector is JSON")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector has no string {key:?}"))
}

fn unhex(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(s(v, key)).expect("vector hex")
}

fn password_verifier(v: &Value) -> Verifier {
    Verifier::with_salt(
        s(v, "pool_name"),
        s(v, "user_id_for_srp"),
        s(v, "password"),
        &unhex(v, "salt_hex_as_sent_in_SALT"),
    )
}

#[test]
fn pool_name_from_pool_id() {
    let v = vector();
    assert_eq!(pool_name(s(&v, "pool_id")), s(&v, "pool_name"));
}

#[test]
fn verifier_and_salt_hex() {
    let v = vector();
    let verifier = password_verifier(&v);
    assert_eq!(hex::encode(&verifier.verifier), s(&v, "verifier_v"));
    assert_eq!(verifier.salt_hex(), s(&v, "salt_hex_as_sent_in_SALT"));
}

#[test]
fn client_a() {
    let v = vector();
    let client = ClientSession::with_secret(&unhex(&v, "a_client_secret"));
    assert_eq!(client.srp_a_hex(), s(&v, "SRP_A"));
}

#[test]
fn server_b() {
    let v = vector();
    let challenge =
        ServerChallenge::with_secret(&password_verifier(&v), &unhex(&v, "b_server_secret"));
    assert_eq!(challenge.srp_b_hex, s(&v, "SRP_B"));
    assert_eq!(challenge.b, unhex(&v, "b_server_secret"));
}

#[test]
fn server_key_and_signature() {
    let v = vector();
    let key = password_authentication_key(
        &password_verifier(&v),
        s(&v, "SRP_A"),
        &unhex(&v, "b_server_secret"),
        s(&v, "SRP_B"),
    )
    .expect("vector values are valid");
    assert_eq!(hex::encode(key), s(&v, "hkdf_key_16_bytes_hex"));

    let secret_block = STANDARD.decode(s(&v, "SECRET_BLOCK")).unwrap();
    let signature = claim_signature(
        &key,
        s(&v, "pool_name"),
        s(&v, "user_id_for_srp"),
        &secret_block,
        s(&v, "TIMESTAMP"),
    );
    assert_eq!(signature, s(&v, "PASSWORD_CLAIM_SIGNATURE"));
    assert!(verify_claim_signature(
        &key,
        s(&v, "pool_name"),
        s(&v, "user_id_for_srp"),
        &secret_block,
        s(&v, "TIMESTAMP"),
        s(&v, "PASSWORD_CLAIM_SIGNATURE"),
    ));
}

#[test]
fn client_key_and_signature() {
    let v = vector();
    let client = ClientSession::with_secret(&unhex(&v, "a_client_secret"));
    let key = client
        .password_authentication_key(
            s(&v, "pool_name"),
            s(&v, "user_id_for_srp"),
            s(&v, "password"),
            s(&v, "salt_hex_as_sent_in_SALT"),
            s(&v, "SRP_B"),
        )
        .unwrap();
    assert_eq!(hex::encode(key), s(&v, "hkdf_key_16_bytes_hex"));
    let signature = client
        .sign(
            s(&v, "pool_name"),
            s(&v, "user_id_for_srp"),
            s(&v, "password"),
            s(&v, "salt_hex_as_sent_in_SALT"),
            s(&v, "SRP_B"),
            s(&v, "SECRET_BLOCK"),
            s(&v, "TIMESTAMP"),
        )
        .unwrap();
    assert_eq!(signature, s(&v, "PASSWORD_CLAIM_SIGNATURE"));
}

#[test]
fn signature_check_refuses_any_change() {
    let v = vector();
    let key: [u8; 16] = unhex(&v, "hkdf_key_16_bytes_hex").try_into().unwrap();
    let block = STANDARD.decode(s(&v, "SECRET_BLOCK")).unwrap();
    let (pool, user, ts, sig) = (
        s(&v, "pool_name"),
        s(&v, "user_id_for_srp"),
        s(&v, "TIMESTAMP"),
        s(&v, "PASSWORD_CLAIM_SIGNATURE"),
    );
    // Padding is optional on input, as for Node's base64 decoder.
    assert!(verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        ts,
        sig.trim_end_matches('=')
    ));

    let mut other_key = key;
    other_key[0] ^= 1;
    assert!(!verify_claim_signature(
        &other_key, pool, user, &block, ts, sig
    ));
    assert!(!verify_claim_signature(
        &key,
        "ABCdef124",
        user,
        &block,
        ts,
        sig
    ));
    assert!(!verify_claim_signature(
        &key,
        pool,
        "testuser2",
        &block,
        ts,
        sig
    ));
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block[1..],
        ts,
        sig
    ));
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        "Tue Sep 25 15:24:38 UTC 2018",
        sig
    ));
    // Another spelling of the same instant is a different message: the server must use the
    // TIMESTAMP string exactly as sent, not a re-formatted parse of it.
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        "tue Sep 25 15:24:37 UTC 2018",
        sig
    ));
    let mut raw = STANDARD.decode(sig).unwrap();
    raw[31] ^= 0x80;
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        ts,
        &STANDARD.encode(&raw)
    ));
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        ts,
        &STANDARD.encode(&raw[..31])
    ));
    assert!(!verify_claim_signature(
        &key,
        pool,
        user,
        &block,
        ts,
        "not base64!"
    ));
    assert!(!verify_claim_signature(&key, pool, user, &block, ts, ""));
}

#[test]
fn secret_hash_example() {
    let v = vector();
    let e = &v["secret_hash_example"];
    let expected = s(e, "SECRET_HASH");
    assert_eq!(
        secret_hash(s(e, "client_secret"), s(e, "username"), s(e, "client_id")),
        expected
    );
    assert!(verify_secret_hash(
        s(e, "client_secret"),
        s(e, "username"),
        s(e, "client_id"),
        expected
    ));
    assert!(!verify_secret_hash(
        s(e, "client_secret"),
        "testuser2",
        s(e, "client_id"),
        expected
    ));
    assert!(!verify_secret_hash(
        "other",
        s(e, "username"),
        s(e, "client_id"),
        expected
    ));
    assert!(!verify_secret_hash(
        s(e, "client_secret"),
        s(e, "username"),
        s(e, "client_id"),
        "x"
    ));
}

#[test]
fn device_verifier_config() {
    let v = vector();
    let d = &v["device"];
    let config = &d["DeviceSecretVerifierConfig"];
    let verifier = Verifier::with_salt(
        s(d, "DeviceGroupKey"),
        s(d, "DeviceKey"),
        s(d, "device_random_password"),
        &unhex(d, "salt_hex"),
    );
    assert_eq!(hex::encode(&verifier.verifier), s(d, "verifier_hex"));
    assert_eq!(verifier.salt_hex(), s(d, "salt_hex"));
    assert_eq!(
        verifier.to_device_config(),
        (
            s(config, "PasswordVerifier").to_owned(),
            s(config, "Salt").to_owned()
        )
    );
    assert_eq!(
        Verifier::from_device_config(s(config, "PasswordVerifier"), s(config, "Salt")),
        Some(verifier)
    );
}

#[test]
fn device_server_round() {
    let v = vector();
    let d = &v["device"];
    let config = &d["DeviceSecretVerifierConfig"];
    let verifier =
        Verifier::from_device_config(s(config, "PasswordVerifier"), s(config, "Salt")).unwrap();
    let b = unhex(d, "b_server_secret");
    let challenge = ServerChallenge::with_secret(&verifier, &b);
    assert_eq!(challenge.srp_b_hex, s(d, "SRP_B"));
    assert_eq!(verifier.salt_hex(), s(d, "salt_hex"));

    let key = password_authentication_key(&verifier, s(d, "SRP_A"), &b, s(d, "SRP_B")).unwrap();
    assert_eq!(hex::encode(key), s(d, "hkdf_key_16_bytes_hex"));

    // Device SRP signs DeviceGroupKey ‖ DeviceKey, not the pool name.
    let block = STANDARD.decode(s(d, "SECRET_BLOCK")).unwrap();
    let signature = claim_signature(
        &key,
        s(d, "DeviceGroupKey"),
        s(d, "DeviceKey"),
        &block,
        s(d, "TIMESTAMP"),
    );
    assert_eq!(signature, s(d, "PASSWORD_CLAIM_SIGNATURE"));
    let with_pool_name = claim_signature(
        &key,
        s(&v, "pool_name"),
        s(d, "DeviceKey"),
        &block,
        s(d, "TIMESTAMP"),
    );
    assert_ne!(with_pool_name, s(d, "PASSWORD_CLAIM_SIGNATURE"));
}

#[test]
fn device_client_signature() {
    let v = vector();
    let d = &v["device"];
    let client = ClientSession::with_secret(&unhex(&v, "a_client_secret"));
    assert_eq!(client.srp_a_hex(), s(d, "SRP_A"));
    let signature = client
        .sign_device(
            s(d, "DeviceGroupKey"),
            s(d, "DeviceKey"),
            s(d, "device_random_password"),
            s(d, "salt_hex"),
            s(d, "SRP_B"),
            s(d, "SECRET_BLOCK"),
            s(&v, "pool_name"),
            s(d, "TIMESTAMP"),
        )
        .unwrap();
    assert_eq!(signature, s(d, "PASSWORD_CLAIM_SIGNATURE"));
}
