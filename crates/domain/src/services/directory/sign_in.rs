//! What sign-in needs from the directory: finding the user a USERNAME names, the user's password
//! state, and completing the NEW_PASSWORD_REQUIRED challenge. The flows themselves live in the
//! auth-flows crate.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{AttributeType, UserStatusType};

use super::attributes::{self, Mode};
use super::users::{get_attr, password_policy, set_attr};
use super::{password, wire_attributes, DirectoryService};
use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{GroupRecord, UserPoolView, UserQuery, UserRecord};

const DAY_MS: i64 = 86_400_000;

impl DirectoryService {
    /// The user a sign-in's USERNAME names (username, alias, or email/phone username), if any.
    pub async fn sign_in_user(
        &self,
        pool: &UserPoolView,
        username: &str,
    ) -> ServiceResult<Option<UserRecord>> {
        match self.find_user(pool, Some(username)).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.code == ErrorCode::UserNotFoundException => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The user with this `sub`, if it still exists.
    pub async fn user_by_sub(&self, pool_id: &str, sub: &str) -> ServiceResult<Option<UserRecord>> {
        let q = UserQuery::Sub {
            value: sub.to_string(),
            prefix: false,
        };
        let page = self.store.list_users(pool_id, &q, None, 1).await?;
        Ok(page.users.into_iter().find(|u| u.id == sub))
    }

    /// The user's groups, all pages.
    pub async fn groups_of(&self, pool_id: &str, user_id: &str) -> ServiceResult<Vec<GroupRecord>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_groups_for_user(pool_id, user_id, after.as_deref(), 60)
                .await?;
            out.extend(page.groups);
            match page.last_key {
                Some(k) => after = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// The user's attributes as GetUser answers them.
    pub fn wire_attributes_of(u: &UserRecord) -> Vec<AttributeType> {
        wire_attributes(u, None)
    }

    /// Required attributes the user has no value for, as NEW_PASSWORD_REQUIRED names them
    /// (`userAttributes.<name>`).
    pub fn missing_required_attributes(pool: &UserPoolView, u: &UserRecord) -> Vec<String> {
        attributes::schema(&pool.record.settings.pool)
            .iter()
            .filter(|a| a.required == Some(true))
            .filter_map(|a| a.name.clone())
            .filter(|n| n != "sub" && get_attr(&u.attributes, n).is_none_or(str::is_empty))
            .map(|n| format!("userAttributes.{n}"))
            .collect()
    }

    /// Whether a FORCE_CHANGE_PASSWORD user's temporary password is older than the pool allows.
    pub fn temporary_password_expired(pool: &UserPoolView, u: &UserRecord, now_ms: i64) -> bool {
        let days = password_policy(&pool.record.settings.pool)
            .temporary_password_validity_days
            .unwrap_or(7)
            .max(0) as i64;
        match &u.password {
            Some(p) => now_ms - p.set_ms > days * DAY_MS,
            None => false,
        }
    }

    /// Answers NEW_PASSWORD_REQUIRED: checks the new password against the policy and history,
    /// applies the attributes the challenge asked for, confirms the user.
    pub async fn complete_new_password(
        &self,
        ctx: &RequestContext,
        pool: &UserPoolView,
        user: &UserRecord,
        new_password: String,
        attrs: Vec<AttributeType>,
    ) -> ServiceResult<UserRecord> {
        let p = &pool.record.settings.pool;
        let policy = password_policy(p);
        password::check_policy(&policy, &new_password)?;
        let changes = attributes::validate(p, &attrs, Mode::Update)?;
        let mut merged = user.attributes.clone();
        for (n, v) in &changes {
            set_attr(&mut merged, n, v);
        }
        let missing: Vec<String> = attributes::schema(p)
            .iter()
            .filter(|a| a.required == Some(true))
            .filter_map(|a| a.name.clone())
            .filter(|n| n != "sub" && get_attr(&merged, n).is_none_or(str::is_empty))
            .collect();
        if let Some(first) = missing.first() {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid attributes given, {first} is missing"
            )));
        }
        let (pid, uname, pw) = (pool.record.id.clone(), user.username.clone(), new_password);
        let (hash, srp) =
            password::blocking(move || password::credential(&pid, &uname, &pw)).await??;
        let now = self.clock.now_ms();
        let history_size = policy.password_history_size.unwrap_or(0).max(0) as usize;
        let mut changed: Vec<String> = Vec::new();
        let user = self
            .modify_user(
                ctx,
                Some(&pool.record.id),
                Some(&user.username),
                false,
                |_, mut u| {
                    changed.clear();
                    for (n, v) in &changes {
                        // A new email or phone number is unverified until a code sent to it is
                        // confirmed; a value waiting for verification is superseded.
                        let verifiable = n == "email" || n == "phone_number";
                        if verifiable && get_attr(&u.attributes, n) != Some(v.as_str()) {
                            let flag = format!("{n}_verified");
                            if get_attr(&u.attributes, &flag).is_some() {
                                set_attr(&mut u.attributes, &flag, "false");
                            }
                            u.pending_attributes.retain(|(p, _)| p != n);
                            changed.push(n.clone());
                        }
                        set_attr(&mut u.attributes, n, v);
                    }
                    super::self_service::replace_password(
                        &mut u,
                        hash.clone(),
                        srp.clone(),
                        now,
                        history_size,
                    );
                    u.status = UserStatusType::Confirmed.as_str().to_string();
                    Ok(u)
                },
            )
            .await?;
        // A code sent to the old value proves nothing about the new one.
        for name in &changed {
            self.drop_verification_code(&user, name).await?;
        }
        Ok(user)
    }
}
