//! The test client against the server with random secrets, and the server's refusals.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cognito_srp::client::{generate_device_secret, ClientSession};
use cognito_srp::{
    format_timestamp, parse_timestamp, password_authentication_key, verify_claim_signature,
    ServerChallenge, SrpError, Verifier,
};

const POOL: &str = "ABCdef123";
const USER: &str = "5f6e1d2c-0000-4000-8000-123456789abc";
const PASSWORD: &str = "correct horse battery staple";
const SECRET_BLOCK: &[u8] = b"sealed server state";
const TIMESTAMP: &str = "Tue Mar 5 01:02:03 UTC 2024";

/// RFC 3526 3072-bit prime.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// What the server concludes for a client that signs with `password`.
fn server_accepts(verifier: &Verifier, pool: &str, user: &str, password: &str) -> bool {
    let client = ClientSession::new();
    let challenge = ServerChallenge::new(verifier);
    let block_b64 = STANDARD.encode(SECRET_BLOCK);
    let signature = client
        .sign(
            pool,
            user,
            password,
            &verifier.salt_hex(),
            &challenge.srp_b_hex,
            &block_b64,
            TIMESTAMP,
        )
        .expect("server's challenge is well formed");
    let key = password_authentication_key(
        verifier,
        &client.srp_a_hex(),
        &challenge.b,
        &challenge.srp_b_hex,
    )
    .expect("client's A is valid");
    verify_claim_signature(&key, POOL, USER, SECRET_BLOCK, TIMESTAMP, &signature)
}

#[test]
fn right_password_signs_in() {
    for _ in 0..4 {
        let verifier = Verifier::generate(POOL, USER, PASSWORD);
        assert!(server_accepts(&verifier, POOL, USER, PASSWORD));
    }
}

#[test]
fn wrong_password_user_or_pool_fails() {
    let verifier = Verifier::generate(POOL, USER, PASSWORD);
    assert!(!server_accepts(
        &verifier,
        POOL,
        USER,
        "correct horse battery stapler"
    ));
    assert!(!server_accepts(&verifier, POOL, USER, ""));
    assert!(!server_accepts(&verifier, POOL, "someone-else", PASSWORD));
    assert!(!server_accepts(&verifier, "ABCdef124", USER, PASSWORD));
}

#[test]
fn salt_with_leading_zero_byte_round_trips() {
    // SALT is sent as minimal hex; the client must hash the same integer the server did.
    let verifier = Verifier::with_salt(POOL, USER, PASSWORD, &[0x00, 0x0a, 0xbc, 0xde]);
    assert_eq!(verifier.salt_hex(), "abcde");
    assert!(server_accepts(&verifier, POOL, USER, PASSWORD));
}

#[test]
fn server_b_is_fresh_each_round() {
    let verifier = Verifier::generate(POOL, USER, PASSWORD);
    let one = ServerChallenge::new(&verifier);
    let two = ServerChallenge::new(&verifier);
    assert_eq!(one.b.len(), 32);
    assert_ne!(one.b, two.b);
    assert_ne!(one.srp_b_hex, two.srp_b_hex);
    assert!(!one.srp_b_hex.starts_with('0'));
    assert_eq!(one.srp_b_hex, one.srp_b_hex.to_lowercase());
    assert!(!format!("{one:?}").contains(&hex::encode(&one.b)));
}

#[test]
fn srp_a_spelling_does_not_change_the_key() {
    let verifier = Verifier::generate(POOL, USER, PASSWORD);
    let client = ClientSession::new();
    let challenge = ServerChallenge::new(&verifier);
    let a = client.srp_a_hex();
    let key =
        |a: &str| password_authentication_key(&verifier, a, &challenge.b, &challenge.srp_b_hex);
    let expected = key(&a).unwrap();
    assert_eq!(key(&a.to_uppercase()).unwrap(), expected);
    assert_eq!(key(&format!("000{a}")).unwrap(), expected);
    let client_key = client
        .password_authentication_key(
            POOL,
            USER,
            PASSWORD,
            &verifier.salt_hex(),
            &challenge.srp_b_hex,
        )
        .unwrap();
    assert_eq!(client_key, expected);
}

#[test]
fn degenerate_a_is_refused() {
    let verifier = Verifier::generate(POOL, USER, PASSWORD);
    let challenge = ServerChallenge::new(&verifier);
    let key =
        |a: &str| password_authentication_key(&verifier, a, &challenge.b, &challenge.srp_b_hex);
    let n = N_HEX.to_lowercase();
    let two_n = {
        let bytes = hex::decode(&n).unwrap();
        // N · 2 as a byte string one longer than N.
        let mut out = vec![0u8; bytes.len() + 1];
        let mut carry = 0u16;
        for (i, byte) in bytes.iter().enumerate().rev() {
            let v = u16::from(*byte) * 2 + carry;
            out[i + 1] = v as u8;
            carry = v >> 8;
        }
        out[0] = carry as u8;
        hex::encode(out)
    };
    for bad in [
        "0",
        "00",
        "",
        "xyz",
        "0x1234",
        " 12",
        n.as_str(),
        N_HEX,
        two_n.as_str(),
    ] {
        assert_eq!(key(bad), Err(SrpError::BadA), "A = {bad:?}");
    }
    assert_eq!(key(&"f".repeat(4096)), Err(SrpError::BadA));
    // A = 1 is not refused by Cognito's clients or by RFC 5054; it only proves nothing
    // without the password, which the signature check then catches.
    assert!(key("1").is_ok());
}

#[test]
fn client_refuses_degenerate_challenges() {
    let client = ClientSession::new();
    let verifier = Verifier::generate(POOL, USER, PASSWORD);
    let challenge = ServerChallenge::new(&verifier);
    let sign = |salt: &str, b: &str, block: &str| {
        client.sign(POOL, USER, PASSWORD, salt, b, block, TIMESTAMP)
    };
    let salt = verifier.salt_hex();
    let block = STANDARD.encode(SECRET_BLOCK);
    assert_eq!(sign(&salt, "0", &block), Err(SrpError::BadB));
    assert_eq!(sign(&salt, N_HEX, &block), Err(SrpError::BadB));
    assert_eq!(sign(&salt, "zz", &block), Err(SrpError::BadB));
    assert_eq!(
        sign("", &challenge.srp_b_hex, &block),
        Err(SrpError::BadSalt)
    );
    assert_eq!(
        sign("salt", &challenge.srp_b_hex, &block),
        Err(SrpError::BadSalt)
    );
    assert_eq!(
        sign(&salt, &challenge.srp_b_hex, "***"),
        Err(SrpError::BadSecretBlock)
    );
    assert!(sign(&salt, &challenge.srp_b_hex, &block).is_ok());
}

#[test]
fn device_round_trip() {
    let group_key = "-abcdEFGH";
    let device_key = "us-east-1_0a1b2c3d-4e5f-6789-abcd-ef0123456789";
    let secret = generate_device_secret(group_key, device_key);
    assert_eq!(STANDARD.decode(&secret.device_password).unwrap().len(), 40);

    // What ConfirmDevice carries, and what the server stores from it.
    let (password_verifier, salt) = secret.verifier.to_device_config();
    let stored = Verifier::from_device_config(&password_verifier, &salt).unwrap();
    assert_eq!(stored, secret.verifier);

    let client = ClientSession::new();
    let challenge = ServerChallenge::new(&stored);
    let block_b64 = STANDARD.encode(SECRET_BLOCK);
    let device_sign = |password: &str| {
        client
            .sign_device(
                group_key,
                device_key,
                password,
                &stored.salt_hex(),
                &challenge.srp_b_hex,
                &block_b64,
                POOL,
                TIMESTAMP,
            )
            .unwrap()
    };
    let key = password_authentication_key(
        &stored,
        &client.srp_a_hex(),
        &challenge.b,
        &challenge.srp_b_hex,
    )
    .unwrap();
    let verify = |signature: &str| {
        verify_claim_signature(
            &key,
            group_key,
            device_key,
            SECRET_BLOCK,
            TIMESTAMP,
            signature,
        )
    };
    assert!(verify(&device_sign(&secret.device_password)));
    assert!(!verify(&device_sign("not the device password")));
}

#[test]
fn timestamp_helpers_round_trip_through_the_public_api() {
    let now = 1_709_600_523; // 2024-03-05T01:02:03Z
    assert_eq!(format_timestamp(now), TIMESTAMP);
    assert_eq!(parse_timestamp(TIMESTAMP), Some(now));
    assert_eq!(parse_timestamp("Tue Mar 05 01:02:03 UTC 2024"), Some(now));
}
