//! User-pool operations through the unmodified AWS SDK, on SQLite and Postgres.

use std::collections::HashSet;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AliasAttributeType, AttributeDataType, DeletionProtectionType, PasswordPolicyType,
    SchemaAttributeType, SoftwareTokenMfaConfigType, StringAttributeConstraintsType,
    UserPoolMfaType, UserPoolPolicyType, UsernameAttributeType, VerifiedAttributeType,
};

use crate::harness::{error_code, error_message, Backend, Server};

crate::backend_tests!(
    create_and_describe_fill_cognito_defaults,
    create_with_schema_aliases_and_tags,
    update_resets_what_it_omits,
    delete_honours_deletion_protection,
    list_user_pools_pages_without_gaps,
    tags_round_trip_and_limit,
    mfa_config_round_trip,
    concurrent_writers_lose_nothing,
    regions_come_from_the_credential_scope,
);

async fn create_and_describe_fill_cognito_defaults(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let created = c
        .create_user_pool()
        .pool_name("defaults")
        .send()
        .await
        .unwrap();
    let pool = created.user_pool().unwrap();
    let id = pool.id().unwrap();
    let (region, suffix) = id.split_once('_').unwrap();
    assert_eq!(region, "us-east-1");
    assert_eq!(suffix.len(), 9);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(pool.arn(), Some(server.pool_arn("us-east-1", id).as_str()));
    assert_eq!(pool.name(), Some("defaults"));

    let described = c
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .unwrap();
    let p = described.user_pool().unwrap();
    assert_eq!(
        p, pool,
        "CreateUserPool and DescribeUserPool answer the same pool"
    );
    let pw = p.policies().unwrap().password_policy().unwrap();
    assert_eq!(pw.minimum_length(), Some(8));
    assert_eq!(
        (
            pw.require_uppercase(),
            pw.require_lowercase(),
            pw.require_numbers(),
            pw.require_symbols()
        ),
        (true, true, true, true)
    );
    assert_eq!(pw.temporary_password_validity_days(), 7);
    assert_eq!(
        p.deletion_protection(),
        Some(&DeletionProtectionType::Inactive)
    );
    assert_eq!(p.mfa_configuration(), Some(&UserPoolMfaType::Off));
    assert_eq!(p.estimated_number_of_users(), 0);
    assert!(p.lambda_config().is_some());
    let schema = p.schema_attributes();
    assert_eq!(schema.len(), 20);
    assert_eq!(schema[0].name(), Some("sub"));
    assert_eq!(schema[0].mutable(), Some(false));
    assert_eq!(schema[0].required(), Some(true));
    assert_eq!(schema[19].name(), Some("updated_at"));
    assert_eq!(
        schema[19].attribute_data_type(),
        Some(&AttributeDataType::Number)
    );
    let acu = p.admin_create_user_config().unwrap();
    assert!(!acu.allow_admin_create_user_only());
    assert_eq!(acu.unused_account_validity_days(), 7);
    assert_eq!(
        p.email_configuration()
            .unwrap()
            .email_sending_account()
            .map(|e| e.as_str()),
        Some("COGNITO_DEFAULT")
    );
    assert_eq!(
        p.verification_message_template()
            .unwrap()
            .default_email_option()
            .map(|e| e.as_str()),
        Some("CONFIRM_WITH_CODE")
    );
    assert!(p.creation_date().is_some() && p.last_modified_date().is_some());
    assert_eq!(p.user_pool_tier().map(|t| t.as_str()), Some("ESSENTIALS"));
    assert!(p
        .user_attribute_update_settings()
        .unwrap()
        .attributes_require_verification_before_update()
        .is_empty());
    assert!(p.user_pool_tags().unwrap().is_empty());

    let missing = c
        .describe_user_pool()
        .user_pool_id("us-east-1_nopenope1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&missing), "ResourceNotFoundException");
    assert_eq!(
        error_message(&missing),
        "User pool us-east-1_nopenope1 does not exist."
    );
}

async fn create_with_schema_aliases_and_tags(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("rich")
        .alias_attributes(AliasAttributeType::Email)
        .alias_attributes(AliasAttributeType::PreferredUsername)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .schema(
            SchemaAttributeType::builder()
                .name("tenant")
                .attribute_data_type(AttributeDataType::String)
                .mutable(true)
                .string_attribute_constraints(
                    StringAttributeConstraintsType::builder()
                        .min_length("1")
                        .max_length("64")
                        .build(),
                )
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("internal")
                .attribute_data_type(AttributeDataType::Number)
                .developer_only_attribute(true)
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("email")
                .attribute_data_type(AttributeDataType::String)
                .required(true)
                .build(),
        )
        .user_pool_tags("team", "identity")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(12)
                        .require_symbols(false)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let names: Vec<&str> = pool
        .schema_attributes()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(names.len(), 22);
    assert!(names.contains(&"custom:tenant"));
    assert!(names.contains(&"dev:custom:internal"));
    let email = pool
        .schema_attributes()
        .iter()
        .find(|a| a.name() == Some("email"))
        .unwrap();
    assert_eq!(email.required(), Some(true));
    assert_eq!(
        pool.alias_attributes(),
        &[
            AliasAttributeType::Email,
            AliasAttributeType::PreferredUsername
        ]
    );
    assert_eq!(
        pool.auto_verified_attributes(),
        &[VerifiedAttributeType::Email]
    );
    assert_eq!(
        pool.user_pool_tags()
            .unwrap()
            .get("team")
            .map(String::as_str),
        Some("identity")
    );
    let pw = pool.policies().unwrap().password_policy().unwrap();
    assert_eq!(pw.minimum_length(), Some(12));
    assert!(!pw.require_symbols());

    let both = c
        .create_user_pool()
        .pool_name("both")
        .alias_attributes(AliasAttributeType::Email)
        .username_attributes(UsernameAttributeType::Email)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&both), "InvalidParameterException");

    let required_custom = c
        .create_user_pool()
        .pool_name("reqcustom")
        .schema(
            SchemaAttributeType::builder()
                .name("must")
                .attribute_data_type(AttributeDataType::String)
                .required(true)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&required_custom), "InvalidParameterException");

    // Model constraints are enforced by the server, not only by clients.
    let bad_name = c
        .create_user_pool()
        .pool_name("no/slashes")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&bad_name), "InvalidParameterException");
    assert!(error_message(&bad_name).contains("at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern"));
}

async fn update_resets_what_it_omits(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("before")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .email_verification_subject("Your code")
        .email_verification_message("Code: {####}")
        .schema(
            SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(AttributeDataType::String)
                .build(),
        )
        .user_pool_tags("keep", "me")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let id = pool.id().unwrap();
    assert_eq!(pool.email_verification_subject(), Some("Your code"));
    assert_eq!(
        pool.verification_message_template()
            .unwrap()
            .email_message(),
        Some("Code: {####}")
    );

    c.update_user_pool()
        .user_pool_id(id)
        .pool_name("after")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(PasswordPolicyType::builder().minimum_length(10).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let p = c
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    assert_eq!(p.name(), Some("after"));
    assert!(
        p.auto_verified_attributes().is_empty(),
        "omitted AutoVerifiedAttributes reset"
    );
    assert_eq!(
        p.email_verification_subject(),
        None,
        "omitted message settings reset"
    );
    assert_eq!(
        p.policies()
            .unwrap()
            .password_policy()
            .unwrap()
            .minimum_length(),
        Some(10)
    );
    assert!(
        p.schema_attributes()
            .iter()
            .any(|a| a.name() == Some("custom:tier")),
        "schema is not updatable and stays"
    );
    assert_eq!(
        p.user_pool_tags().unwrap().get("keep").map(String::as_str),
        Some("me")
    );
    assert!(
        p.last_modified_date().unwrap().as_secs_f64() >= p.creation_date().unwrap().as_secs_f64()
    );

    let missing = c
        .update_user_pool()
        .user_pool_id("us-east-1_missing00")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&missing), "ResourceNotFoundException");
}

async fn delete_honours_deletion_protection(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let id = c
        .create_user_pool()
        .pool_name("protected")
        .deletion_protection(DeletionProtectionType::Active)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let err = c
        .delete_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    c.describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .expect("still there");

    c.update_user_pool()
        .user_pool_id(&id)
        .deletion_protection(DeletionProtectionType::Inactive)
        .send()
        .await
        .unwrap();
    c.delete_user_pool().user_pool_id(&id).send().await.unwrap();
    let gone = c
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&gone), "ResourceNotFoundException");
    let again = c
        .delete_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&again), "ResourceNotFoundException");
}

async fn list_user_pools_pages_without_gaps(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let mut created = HashSet::new();
    for i in 0..7 {
        let p = c
            .create_user_pool()
            .pool_name(format!("pool-{i}"))
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap();
        created.insert(p.id.unwrap());
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_user_pools()
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.user_pools().len() <= 3);
        for p in out.user_pools() {
            assert!(p.name().unwrap().starts_with("pool-"));
            assert!(p.creation_date().is_some());
            seen.push(p.id().unwrap().to_string());
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "no duplicates");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);

    // The SDK's own paginator agrees.
    let all: Vec<_> = c
        .list_user_pools()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 7);

    let zero = c.list_user_pools().max_results(0).send().await.unwrap_err();
    assert_eq!(error_code(&zero), "InvalidParameterException");
    let bad = c
        .list_user_pools()
        .max_results(5)
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&bad), "InvalidParameterException");
}

async fn tags_round_trip_and_limit(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let id = c
        .create_user_pool()
        .pool_name("tags")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let arn = server.pool_arn("us-east-1", &id);
    c.tag_resource()
        .resource_arn(&arn)
        .tags("a", "1")
        .tags("b", "2")
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(&arn)
        .tags("a", "one")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let t = tags.tags().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t["a"], "one");
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("b")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().keys().collect::<Vec<_>>(), vec!["a"]);
    let described = c
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.user_pool().unwrap().user_pool_tags().unwrap()["a"],
        "one"
    );

    let mut req = c.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        req = req.tags(format!("k{i}"), "v");
    }
    let err = req.send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        c.list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap()
            .tags()
            .unwrap()
            .len(),
        1,
        "a rejected batch adds nothing"
    );

    let missing = server.pool_arn("us-east-1", "us-east-1_nothere00");
    let err = c
        .tag_resource()
        .resource_arn(&missing)
        .tags("x", "y")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
}

async fn mfa_config_round_trip(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let id = c
        .create_user_pool()
        .pool_name("mfa")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let got = c
        .get_user_pool_mfa_config()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::Off));
    assert!(got.software_token_mfa_configuration().is_none());

    let err = c
        .set_user_pool_mfa_config()
        .user_pool_id(&id)
        .mfa_configuration(UserPoolMfaType::On)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    let set = c
        .set_user_pool_mfa_config()
        .user_pool_id(&id)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .mfa_configuration(UserPoolMfaType::Optional)
        .send()
        .await
        .unwrap();
    assert_eq!(set.mfa_configuration(), Some(&UserPoolMfaType::Optional));
    let got = c
        .get_user_pool_mfa_config()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::Optional));
    assert!(got.software_token_mfa_configuration().unwrap().enabled());
    let described = c
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.user_pool().unwrap().mfa_configuration(),
        Some(&UserPoolMfaType::Optional)
    );
}

async fn concurrent_writers_lose_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let id = c
        .create_user_pool()
        .pool_name("race")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let arn = server.pool_arn("us-east-1", &id);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let c = c.clone();
        let arn = arn.clone();
        tasks.push(tokio::spawn(async move {
            c.tag_resource()
                .resource_arn(arn)
                .tags(format!("t{i}"), "v")
                .send()
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().len(),
        24,
        "every concurrent tag write is kept"
    );

    // Concurrent tag writers never push a pool past 50 tags.
    let id2 = c
        .create_user_pool()
        .pool_name("race2")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let arn2 = server.pool_arn("us-east-1", &id2);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = c.clone();
        let arn = arn2.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = c.tag_resource().resource_arn(arn);
            for j in 0..10 {
                r = r.tags(format!("w{i}-{j}"), "v");
            }
            r.send().await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 5, "exactly five batches of ten fit under the limit");
    assert_eq!(
        c.list_tags_for_resource()
            .resource_arn(&arn2)
            .send()
            .await
            .unwrap()
            .tags()
            .unwrap()
            .len(),
        50
    );

    // Concurrent creates all land with distinct ids.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.create_user_pool()
                .pool_name(format!("p{i}"))
                .send()
                .await
                .unwrap()
                .user_pool
                .unwrap()
                .id
                .unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 16);
    let listed: Vec<_> = c
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(listed.len(), 18);
}

async fn regions_come_from_the_credential_scope(backend: Backend) {
    let server = Server::start(backend).await;
    let eu = server.client_for(
        "eu-west-1",
        crate::harness::ADMIN_KEY_ID,
        crate::harness::ADMIN_SECRET,
    );
    let us = server.client();
    let pool = eu
        .create_user_pool()
        .pool_name("eu")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let id = pool.id().unwrap();
    assert!(id.starts_with("eu-west-1_"));
    assert_eq!(pool.arn(), Some(server.pool_arn("eu-west-1", id).as_str()));
    let err = us
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let us_list = us.list_user_pools().max_results(60).send().await.unwrap();
    assert!(us_list.user_pools().is_empty());
    let eu_list = eu.list_user_pools().max_results(60).send().await.unwrap();
    assert_eq!(eu_list.user_pools().len(), 1);
}
