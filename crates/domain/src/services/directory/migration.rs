//! Lazy migration: the UserMigration trigger moves a user in from an old system the first time
//! an unknown username signs in with a password (`UserMigration_Authentication`) or asks for a
//! password reset (`UserMigration_ForgotPassword`) (triggers.md §4.7).

use cognito_model::shapes::{AttributeType, UserStatusType};
use serde_json::{json, Map, Value};

use super::attributes::{self, Mode};
use super::{alias_exists, password, DirectoryService};
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{PasswordState, UserPoolView, UserRecord, UserWriteOutcome};
use crate::services::triggers::{self, unrecognizable, Caller, Trigger, Triggers};

/// What started the migration.
#[derive(Clone, Copy, Debug)]
pub enum MigrationCall<'a> {
    /// A password sign-in; the typed password becomes the user's.
    SignIn {
        password: &'a str,
    },
    ForgotPassword,
}

/// The answer's `userAttributes`: a map of strings, as `AttributeType`s.
fn answered_attributes(r: &Map<String, Value>) -> ServiceResult<Option<Vec<AttributeType>>> {
    match r.get("userAttributes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok(AttributeType {
                    name: Some(k.clone()),
                    value: Some(s.clone()),
                }),
                _ => Err(unrecognizable()),
            })
            .collect::<ServiceResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(unrecognizable()),
    }
}

impl DirectoryService {
    /// Asks the pool's UserMigration trigger about `typed`, a username the pool does not know,
    /// and creates the user it answers. None when the pool has no such trigger or the trigger
    /// does not know the user either (no `userAttributes` in its answer).
    pub async fn migrate_user(
        &self,
        pool: &UserPoolView,
        typed: &str,
        call: MigrationCall<'_>,
        client_id: &str,
        client_metadata: Option<&std::collections::BTreeMap<String, String>>,
    ) -> ServiceResult<Option<UserRecord>> {
        if !Triggers::configured(pool, Trigger::UserMigration) {
            return Ok(None);
        }
        let (source, pw) = match call {
            MigrationCall::SignIn { password } => ("UserMigration_Authentication", Some(password)),
            MigrationCall::ForgotPassword => ("UserMigration_ForgotPassword", None),
        };
        let metadata = client_metadata.map(|m| triggers::string_map(m.iter()));
        // A sign-in's ClientMetadata arrives as validationData, as in PreAuthentication; a
        // password reset's as clientMetadata. The password goes to a trigger only here, as
        // Cognito sends it.
        let (validation, metadata) = match call {
            MigrationCall::SignIn { .. } => (metadata, None),
            MigrationCall::ForgotPassword => (None, metadata),
        };
        let request = json!({
            "password": pw,
            "validationData": validation,
            "clientMetadata": metadata,
        });
        let response = json!({
            "userAttributes": null,
            "finalUserStatus": null,
            "messageAction": null,
            "desiredDeliveryMediums": null,
            "forceAliasCreation": null,
            "enableSMSMFA": null,
        });
        let caller = Caller {
            client_id: Some(client_id),
        };
        let Some(r) = self
            .triggers
            .invoke(
                pool,
                Trigger::UserMigration,
                source,
                typed,
                caller,
                request,
                response,
            )
            .await?
        else {
            return Ok(None);
        };
        let Some(attrs) = answered_attributes(&r)? else {
            return Ok(None);
        };
        let status = match r.get("finalUserStatus") {
            None | Some(Value::Null) => UserStatusType::ResetRequired,
            Some(Value::String(s)) if s == "CONFIRMED" && pw.is_some() => UserStatusType::Confirmed,
            Some(Value::String(s)) if s == "CONFIRMED" || s == "RESET_REQUIRED" => {
                // Without a password (ForgotPassword) the user must set one.
                UserStatusType::ResetRequired
            }
            Some(_) => return Err(unrecognizable()),
        };
        let force_alias = triggers::answered_flag(&r, "forceAliasCreation")?;
        let p = &pool.record.settings.pool;
        let fills = attributes::check_new_username(p, typed)?;
        let requested = attributes::validate(p, &attrs, Mode::Create)?;
        let sub = uuid::Uuid::new_v4().to_string();
        let mut all = vec![("sub".to_string(), sub.clone())];
        all.extend(requested.into_iter().filter(|(n, _)| n != "sub"));
        let username = match fills {
            Some(kind) => {
                super::users::set_attr(&mut all, kind, typed);
                sub.clone()
            }
            None => typed.to_string(),
        };
        attributes::check_required(p, &all)?;
        let now = self.clock.now_ms();
        // The old system's password is taken as it is: the pool's policy is not applied to it.
        let credential = match pw {
            Some(pw) => {
                let (pid, uname, to_hash) =
                    (pool.record.id.clone(), username.clone(), pw.to_string());
                let (hash, srp) =
                    password::blocking(move || password::credential(&pid, &uname, &to_hash))
                        .await??;
                Some(PasswordState {
                    hash,
                    set_ms: now,
                    srp: Some(srp),
                    history: vec![],
                })
            }
            None => None,
        };
        let user = UserRecord {
            pending_attributes: vec![],
            pool_id: pool.record.id.clone(),
            id: sub,
            username_key: attributes::username_key(p, &username),
            username,
            status: status.as_str().to_string(),
            enabled: true,
            created_ms: now,
            modified_ms: now,
            version: 1,
            password: credential,
            attributes: all,
        };
        let w = self.write_of(p, user.clone(), force_alias);
        match self.store.insert_user(&w).await? {
            UserWriteOutcome::Written => Ok(Some(user)),
            // Another request migrated the same user first: use that one.
            UserWriteOutcome::UsernameExists => self
                .store
                .get_user_by_key(&pool.record.id, &user.username_key)
                .await
                .map_err(Into::into),
            UserWriteOutcome::AliasExists(kind) => Err(alias_exists(p, &kind, true)),
            UserWriteOutcome::NotFound => Err(CognitoError::pool_not_found(&pool.record.id)),
            UserWriteOutcome::VersionConflict => Err(CognitoError::internal()),
        }
    }
}
