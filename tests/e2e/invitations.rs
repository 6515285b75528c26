//! AdminCreateUser's invitation, read from what was actually delivered (the developer outbox).

use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, AttributeType, DeliveryMediumType, MessageActionType,
    MessageTemplateType,
};
use serde_json::Value;

use crate::harness::{Backend, Server};

crate::backend_tests!(
    invitations_follow_template_medium_and_message_action,
    a_refused_user_sends_no_invitation,
);

fn read_outbox(server: &Server) -> Vec<Value> {
    match std::fs::read_to_string(server.data_dir.join("outbox.jsonl")) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect(),
        Err(_) => vec![],
    }
}

/// The outbox once it holds `n` messages: messages are queued durably and the node's dispatcher
/// writes them out a moment later.
async fn outbox(server: &Server, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let msgs = read_outbox(server);
        if msgs.len() >= n || std::time::Instant::now() > deadline {
            return msgs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

async fn invitations_follow_template_medium_and_message_action(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("invites")
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .invite_message_template(
                    MessageTemplateType::builder()
                        .email_subject("Welcome aboard")
                        .email_message("Hello {username}, your password is {####}")
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
        .unwrap();

    // EMAIL with the pool's template and the given temporary password.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .temporary_password("Temp#Pass1234")
        .user_attributes(attr("email", "alice@example.com"))
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
    let msgs = outbox(&server, 1).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["channel"], "EMAIL");
    assert_eq!(msgs[0]["destination"], "alice@example.com");
    assert_eq!(msgs[0]["subject"], "Welcome aboard");
    assert_eq!(
        msgs[0]["body"],
        "Hello alice, your password is Temp#Pass1234"
    );
    assert_eq!(msgs[0]["purpose"], "invitation");

    // SUPPRESS sends nothing.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("quiet")
        .user_attributes(attr("email", "quiet@example.com"))
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();

    // No medium named: SMS, with Cognito's default SMS wording (the template has no SMS message),
    // carrying a generated temporary password.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("bob")
        .user_attributes(attr("phone_number", "+15555550100"))
        .send()
        .await
        .unwrap();
    // SUPPRESS sent nothing: the next message is bob's.
    let msgs = outbox(&server, 2).await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["channel"], "SMS");
    assert_eq!(msgs[1]["destination"], "+15555550100");
    let body = msgs[1]["body"].as_str().unwrap();
    let generated = body
        .strip_prefix("Your username is bob and temporary password is ")
        .expect("default SMS wording");
    assert!(generated.len() >= 8, "a generated password: {generated}");

    // RESEND sends a fresh password to the same user.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("bob")
        .message_action(MessageActionType::Resend)
        .send()
        .await
        .unwrap();
    let msgs = outbox(&server, 3).await;
    assert_eq!(msgs.len(), 3);
    let again = msgs[2]["body"]
        .as_str()
        .unwrap()
        .strip_prefix("Your username is bob and temporary password is ")
        .unwrap();
    assert_ne!(again, generated, "RESEND issues a new temporary password");
}

/// The invitation is queued with the user, in one transaction: it is delivered, and an
/// AdminCreateUser that fails (the username is taken) sends nothing.
async fn a_refused_user_sends_no_invitation(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("invites")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let create = |name: &str, password: &str| {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .temporary_password(password)
            .user_attributes(attr("email", &format!("{name}@example.com")))
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
    };
    create("dora", "First#Pass123").await.unwrap();
    let e = create("dora", "Second#Pass123").await.unwrap_err();
    assert_eq!(crate::harness::error_code(&e), "UsernameExistsException");
    create("finn", "Third#Pass123").await.unwrap();
    let msgs = outbox(&server, 2).await;
    // Let a stray message for the refused user show up if one had been queued.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let msgs = if read_outbox(&server).len() > msgs.len() {
        read_outbox(&server)
    } else {
        msgs
    };
    let bodies: Vec<&str> = msgs.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(msgs.len(), 2, "{bodies:?}");
    assert_eq!(msgs[0]["destination"], "dora@example.com");
    assert!(bodies[0].contains("First#Pass123"), "{bodies:?}");
    assert_eq!(msgs[1]["destination"], "finn@example.com");
    assert!(
        !bodies.iter().any(|b| b.contains("Second#Pass123")),
        "the refused user's invitation was queued: {bodies:?}"
    );

    // RESEND queues with the new temporary password's write; a refused RESEND queues nothing.
    let resend = |name: &str, password: &str| {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .temporary_password(password)
            .message_action(MessageActionType::Resend)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
    };
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("finn")
        .password("Settled#Pass123")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let e = resend("finn", "Fifth#Pass123").await.unwrap_err();
    assert_eq!(
        crate::harness::error_code(&e),
        "UnsupportedUserStateException"
    );
    resend("dora", "Fourth#Pass123").await.unwrap();
    let msgs = outbox(&server, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let msgs = if read_outbox(&server).len() > msgs.len() {
        read_outbox(&server)
    } else {
        msgs
    };
    let bodies: Vec<&str> = msgs.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(msgs.len(), 3, "{bodies:?}");
    assert_eq!(msgs[2]["destination"], "dora@example.com");
    assert!(bodies[2].contains("Fourth#Pass123"), "{bodies:?}");
}
