//! User pools: create, describe, update, delete, list, tags and the pool's MFA configuration.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use cognito_model::shapes::{
    AttributeDataType, CreateUserPoolRequest, CreateUserPoolResponse, DeleteUserPoolRequest,
    DeletionProtectionType, DescribeUserPoolRequest, DescribeUserPoolResponse,
    GetUserPoolMfaConfigRequest, GetUserPoolMfaConfigResponse, ListTagsForResourceRequest,
    ListTagsForResourceResponse, ListUserPoolsRequest, ListUserPoolsResponse, SchemaAttributeType,
    SetUserPoolMfaConfigRequest, SetUserPoolMfaConfigResponse, TagResourceRequest,
    TagResourceResponse, UntagResourceRequest, UntagResourceResponse, UpdateUserPoolRequest,
    UpdateUserPoolResponse, UserPoolDescriptionType, UserPoolMfaType, UserPoolType,
};

use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
use crate::ids;
use crate::ports::{Clock, Store, TagOutcome, UserPoolView, WriteOutcome};
use crate::services::pagination;
use crate::user_pool::{self, wire_time, MfaSettings, PoolSettings, UserPoolRecord, MAX_TAGS};

/// Most custom attributes a pool may define.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;
/// How often a write retries after losing an optimistic-concurrency race.
const WRITE_RETRIES: usize = 8;

#[derive(Clone)]
pub struct UserPoolService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Which email senders pools may name.
    senders: Arc<crate::services::directory::SenderPolicy>,
    /// Which LambdaConfig ARNs can be invoked.
    triggers: crate::services::triggers::Triggers,
}

impl UserPoolService {
    /// A service that allows any email sender; the server sets its configured policy with
    /// `with_sender_policy`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            senders: Arc::new(crate::services::directory::SenderPolicy::any()),
            triggers: Default::default(),
        }
    }

    /// Refuses LambdaConfig ARNs `triggers` cannot invoke (unless it allows unresolved ones).
    pub fn with_triggers(mut self, triggers: crate::services::triggers::Triggers) -> Self {
        self.triggers = triggers;
        self
    }

    pub fn with_sender_policy(mut self, policy: crate::services::directory::SenderPolicy) -> Self {
        self.senders = Arc::new(policy);
        self
    }

    /// Loads a pool the caller's account and region can see; any other pool does not exist for it.
    pub async fn load(&self, ctx: &RequestContext, pool_id: &str) -> ServiceResult<UserPoolView> {
        match self.store.get_user_pool(pool_id).await? {
            Some(v) if v.record.region == ctx.region && v.record.account_id == ctx.account_id => {
                Ok(v)
            }
            _ => Err(CognitoError::pool_not_found(pool_id)),
        }
    }

    pub async fn create(
        &self,
        ctx: &RequestContext,
        req: CreateUserPoolRequest,
    ) -> ServiceResult<CreateUserPoolResponse> {
        let name = req.pool_name.clone().unwrap_or_default();
        let mut s = user_pool::default_settings();
        if req.username_attributes.is_some() && req.alias_attributes.is_some() {
            return Err(CognitoError::invalid_parameter(
                "Only one of the following can be specified: UsernameAttributes, AliasAttributes.",
            ));
        }
        s.schema_attributes = Some(build_schema(req.schema.as_deref().unwrap_or_default())?);
        s.alias_attributes = req.alias_attributes.clone().filter(|v| !v.is_empty());
        s.username_attributes = req.username_attributes.clone().filter(|v| !v.is_empty());
        s.username_configuration = req.username_configuration.clone();
        apply_mutable_settings(&mut s, MutableSettings::from_create(&req));
        validate_settings(&s)?;
        self.senders.check(&s, ctx)?;
        self.triggers
            .check_lambda_config(s.lambda_config.as_ref())?;

        let now = self.clock.now_ms();
        let tags = req.user_pool_tags.clone().unwrap_or_default();
        check_tag_count(tags.len())?;
        let mfa = MfaSettings::default();
        // A fresh random id clashing with an existing one is vanishingly rare; retry rather than fail.
        for _ in 0..WRITE_RETRIES {
            let record = UserPoolRecord {
                id: ids::user_pool_id(&ctx.region),
                region: ctx.region.clone(),
                account_id: ctx.account_id.clone(),
                name: name.clone(),
                created_ms: now,
                modified_ms: now,
                version: 1,
                settings: PoolSettings {
                    pool: s.clone(),
                    mfa: mfa.clone(),
                },
            };
            match self.store.insert_user_pool(&record, &tags).await {
                Ok(()) => {
                    let view = UserPoolView {
                        record,
                        tags,
                        estimated_users: 0,
                    };
                    return Ok(CreateUserPoolResponse {
                        user_pool: Some(describe_view(&view)),
                    });
                }
                Err(crate::ports::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CognitoError::internal())
    }

    pub async fn describe(
        &self,
        ctx: &RequestContext,
        req: DescribeUserPoolRequest,
    ) -> ServiceResult<DescribeUserPoolResponse> {
        let view = self
            .load(ctx, req.user_pool_id.as_deref().unwrap_or_default())
            .await?;
        Ok(DescribeUserPoolResponse {
            user_pool: Some(describe_view(&view)),
        })
    }

    /// UpdateUserPool replaces every setting it can change: what the request omits goes back to
    /// Cognito's default. Schema, username/alias attributes and the domain are not updatable here.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        req: UpdateUserPoolRequest,
    ) -> ServiceResult<UpdateUserPoolResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        for _ in 0..WRITE_RETRIES {
            let view = self.load(ctx, &pool_id).await?;
            let old = &view.record.settings.pool;
            let mut s = user_pool::default_settings();
            s.schema_attributes = old.schema_attributes.clone();
            s.alias_attributes = old.alias_attributes.clone();
            s.username_attributes = old.username_attributes.clone();
            s.username_configuration = old.username_configuration.clone();
            s.domain = old.domain.clone();
            s.custom_domain = old.custom_domain.clone();
            apply_mutable_settings(&mut s, MutableSettings::from_update(&req));
            validate_settings(&s)?;
            self.senders.check(&s, ctx)?;
            self.triggers
                .check_lambda_config(s.lambda_config.as_ref())?;
            let mut record = view.record.clone();
            if let Some(name) = &req.pool_name {
                record.name = name.clone();
            }
            record.settings.pool = s;
            record.modified_ms = self.clock.now_ms().max(record.modified_ms);
            record.version += 1;
            let tags = req.user_pool_tags.as_ref();
            if let Some(t) = tags {
                check_tag_count(t.len())?;
            }
            match self.store.update_user_pool(&record, tags).await? {
                WriteOutcome::Written => return Ok(UpdateUserPoolResponse {}),
                WriteOutcome::VersionConflict => continue,
                WriteOutcome::NotFound => return Err(CognitoError::pool_not_found(&pool_id)),
            }
        }
        Err(concurrent_modification())
    }

    pub async fn delete(
        &self,
        ctx: &RequestContext,
        req: DeleteUserPoolRequest,
    ) -> ServiceResult<()> {
        let pool_id = req.user_pool_id.unwrap_or_default();
        let view = self.load(ctx, &pool_id).await?;
        if view.record.settings.pool.deletion_protection == Some(DeletionProtectionType::Active) {
            return Err(CognitoError::invalid_parameter(format!(
                "The user pool {pool_id} has deletion protection enabled."
            )));
        }
        if !self.store.delete_user_pool(&pool_id).await? {
            return Err(CognitoError::pool_not_found(&pool_id));
        }
        Ok(())
    }

    pub async fn list(
        &self,
        ctx: &RequestContext,
        req: ListUserPoolsRequest,
    ) -> ServiceResult<ListUserPoolsResponse> {
        let limit = req.max_results.unwrap_or(60).clamp(1, 60) as u32;
        let after = req
            .next_token
            .as_deref()
            .map(pagination::decode)
            .transpose()?;
        let page = self
            .store
            .list_user_pools(&ctx.account_id, &ctx.region, after.as_deref(), limit)
            .await?;
        let pools = page
            .pools
            .iter()
            .map(|r| UserPoolDescriptionType {
                id: Some(r.id.clone()),
                name: Some(r.name.clone()),
                lambda_config: r.settings.pool.lambda_config.clone(),
                last_modified_date: Some(wire_time(r.modified_ms)),
                creation_date: Some(wire_time(r.created_ms)),
                ..Default::default()
            })
            .collect();
        Ok(ListUserPoolsResponse {
            user_pools: Some(pools),
            next_token: page.last_key.as_deref().map(pagination::encode),
        })
    }

    fn pool_of_arn<'a>(&self, ctx: &RequestContext, arn: &'a str) -> ServiceResult<&'a str> {
        match ids::parse_user_pool_arn(arn) {
            Some((region, account, pool_id))
                if region == ctx.region && account == ctx.account_id =>
            {
                Ok(pool_id)
            }
            Some((_, _, pool_id)) => Err(CognitoError::pool_not_found(pool_id)),
            None => Err(CognitoError::invalid_parameter(format!(
                "Invalid ARN: {arn}"
            ))),
        }
    }

    pub async fn tag(
        &self,
        ctx: &RequestContext,
        req: TagResourceRequest,
    ) -> ServiceResult<TagResourceResponse> {
        let arn = req.resource_arn.unwrap_or_default();
        let pool_id = self.pool_of_arn(ctx, &arn)?;
        self.load(ctx, pool_id).await?;
        let tags = req.tags.unwrap_or_default();
        match self.store.tag_user_pool(pool_id, &tags, MAX_TAGS).await? {
            TagOutcome::Written => Ok(TagResourceResponse {}),
            TagOutcome::TooManyTags => Err(too_many_tags()),
            TagOutcome::NotFound => Err(CognitoError::pool_not_found(pool_id)),
        }
    }

    pub async fn untag(
        &self,
        ctx: &RequestContext,
        req: UntagResourceRequest,
    ) -> ServiceResult<UntagResourceResponse> {
        let arn = req.resource_arn.unwrap_or_default();
        let pool_id = self.pool_of_arn(ctx, &arn)?;
        self.load(ctx, pool_id).await?;
        let keys = req.tag_keys.unwrap_or_default();
        if !self.store.untag_user_pool(pool_id, &keys).await? {
            return Err(CognitoError::pool_not_found(pool_id));
        }
        Ok(UntagResourceResponse {})
    }

    pub async fn list_tags(
        &self,
        ctx: &RequestContext,
        req: ListTagsForResourceRequest,
    ) -> ServiceResult<ListTagsForResourceResponse> {
        let arn = req.resource_arn.unwrap_or_default();
        let pool_id = self.pool_of_arn(ctx, &arn)?;
        let view = self.load(ctx, pool_id).await?;
        Ok(ListTagsForResourceResponse {
            tags: Some(view.tags),
        })
    }

    pub async fn get_mfa_config(
        &self,
        ctx: &RequestContext,
        req: GetUserPoolMfaConfigRequest,
    ) -> ServiceResult<GetUserPoolMfaConfigResponse> {
        let view = self
            .load(ctx, req.user_pool_id.as_deref().unwrap_or_default())
            .await?;
        let s = &view.record.settings;
        Ok(GetUserPoolMfaConfigResponse {
            sms_mfa_configuration: s.mfa.sms.clone(),
            software_token_mfa_configuration: s.mfa.software_token.clone(),
            email_mfa_configuration: s.mfa.email.clone(),
            mfa_configuration: s.pool.mfa_configuration,
            web_authn_configuration: s.mfa.web_authn.clone(),
        })
    }

    /// SetUserPoolMfaConfig: the request describes the pool's MFA factors as a whole (a factor
    /// block left out is turned off) and, when given, the MFA mode. Cognito's checks, in its
    /// order: ON / OPTIONAL need a factor block and an enabled factor; OFF takes no enabled
    /// factor; SMS needs an SMS configuration and email MFA the pool's own SES sending.
    pub async fn set_mfa_config(
        &self,
        ctx: &RequestContext,
        req: SetUserPoolMfaConfigRequest,
    ) -> ServiceResult<SetUserPoolMfaConfigResponse> {
        let pool_id = req.user_pool_id.clone().unwrap_or_default();
        for _ in 0..WRITE_RETRIES {
            let view = self.load(ctx, &pool_id).await?;
            let mut record = view.record.clone();
            check_mfa_request(&req, &record.settings)?;
            let mfa = &mut record.settings.mfa;
            mfa.sms = req.sms_mfa_configuration.clone();
            if let Some(v) = &req.sms_mfa_configuration {
                // The SMS configuration given for MFA is the pool's SMS configuration too.
                if let Some(sms) = &v.sms_configuration {
                    record.settings.pool.sms_configuration = Some(sms.clone());
                }
                if let Some(msg) = &v.sms_authentication_message {
                    record.settings.pool.sms_authentication_message = Some(msg.clone());
                }
            }
            mfa.software_token = req.software_token_mfa_configuration.clone();
            mfa.email = req.email_mfa_configuration.clone();
            if let Some(v) = &req.web_authn_configuration {
                mfa.web_authn = Some(v.clone());
            }
            if let Some(mode) = req.mfa_configuration {
                record.settings.pool.mfa_configuration = Some(mode);
            }
            record.modified_ms = self.clock.now_ms().max(record.modified_ms);
            record.version += 1;
            match self.store.update_user_pool(&record, None).await? {
                WriteOutcome::Written => {
                    let s = &record.settings;
                    return Ok(SetUserPoolMfaConfigResponse {
                        sms_mfa_configuration: s.mfa.sms.clone(),
                        software_token_mfa_configuration: s.mfa.software_token.clone(),
                        email_mfa_configuration: s.mfa.email.clone(),
                        mfa_configuration: s.pool.mfa_configuration,
                        web_authn_configuration: s.mfa.web_authn.clone(),
                    });
                }
                WriteOutcome::VersionConflict => continue,
                WriteOutcome::NotFound => return Err(CognitoError::pool_not_found(&pool_id)),
            }
        }
        Err(concurrent_modification())
    }
}

impl UserPoolService {
    /// AddCustomAttributes: appends custom attributes to the pool's schema. Names already in the
    /// schema (as `custom:` or `dev:custom:`) are rejected, and a pool keeps at most 50.
    pub async fn add_custom_attributes(
        &self,
        ctx: &RequestContext,
        pool_id: &str,
        attrs: &[SchemaAttributeType],
    ) -> ServiceResult<()> {
        for _ in 0..WRITE_RETRIES {
            let view = self.load(ctx, pool_id).await?;
            let mut record = view.record.clone();
            let schema = record
                .settings
                .pool
                .schema_attributes
                .get_or_insert_with(user_pool::standard_schema);
            let bare = |n: &str| {
                n.trim_start_matches("dev:")
                    .trim_start_matches("custom:")
                    .to_string()
            };
            let mut added = Vec::new();
            for attr in attrs {
                let raw = attr.name.clone().unwrap_or_default();
                let def = custom_attribute(attr, &raw)?;
                let name = def.name.clone().unwrap_or_default();
                let clash = schema
                    .iter()
                    .chain(added.iter())
                    .filter_map(|a: &SchemaAttributeType| a.name.as_deref())
                    .filter(|n| n.contains("custom:"))
                    .any(|n| bare(n) == bare(&name));
                if clash {
                    return Err(CognitoError::invalid_parameter(format!(
                        "{name}: Existing attribute already has name {name}."
                    )));
                }
                added.push(def);
            }
            let customs = schema
                .iter()
                .filter(|a| a.name.as_deref().is_some_and(|n| n.contains("custom:")))
                .count();
            if customs + added.len() > MAX_CUSTOM_ATTRIBUTES {
                return Err(CognitoError::invalid_parameter(format!(
                    "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
                )));
            }
            schema.extend(added);
            record.modified_ms = self.clock.now_ms().max(record.modified_ms);
            record.version += 1;
            match self.store.update_user_pool(&record, None).await? {
                WriteOutcome::Written => return Ok(()),
                WriteOutcome::VersionConflict => continue,
                WriteOutcome::NotFound => return Err(CognitoError::pool_not_found(pool_id)),
            }
        }
        Err(concurrent_modification())
    }
}

/// SetUserPoolMfaConfig's checks (see `set_mfa_config`), with Cognito's messages.
fn check_mfa_request(
    req: &SetUserPoolMfaConfigRequest,
    current: &PoolSettings,
) -> ServiceResult<()> {
    let sms = req.sms_mfa_configuration.is_some();
    let totp = req
        .software_token_mfa_configuration
        .as_ref()
        .and_then(|t| t.enabled)
        .unwrap_or(false);
    let email = req.email_mfa_configuration.is_some();
    let any_block = sms || email || req.software_token_mfa_configuration.is_some();
    let mode = req
        .mfa_configuration
        .or(current.pool.mfa_configuration)
        .unwrap_or(UserPoolMfaType::Off);
    if mode != UserPoolMfaType::Off {
        if !any_block {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA Configuration given. SMS MFA, Email MFA, or Software Token MFA must be enabled.",
            ));
        }
        if !(sms || totp || email) {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ));
        }
    } else if sms || totp || email {
        return Err(CognitoError::invalid_parameter(
            "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
        ));
    }
    if let Some(v) = &req.sms_mfa_configuration {
        if v.sms_configuration.is_none() && current.pool.sms_configuration.is_none() {
            return Err(CognitoError::invalid_parameter(
                "SMS configuration is required when SMS MFA is enabled.",
            ));
        }
    }
    if email {
        let ses = current
            .pool
            .email_configuration
            .as_ref()
            .and_then(|e| e.email_sending_account)
            == Some(cognito_model::shapes::EmailSendingAccountType::Developer);
        if !ses {
            return Err(CognitoError::invalid_parameter(
                "Email MFA requires an email configuration with EmailSendingAccount DEVELOPER.",
            ));
        }
    }
    Ok(())
}

fn concurrent_modification() -> CognitoError {
    CognitoError::new(
        cognito_model::errors::ErrorCode::ConcurrentModificationException,
        "The user pool was modified concurrently; try again.",
    )
}

fn too_many_tags() -> CognitoError {
    CognitoError::invalid_parameter(format!("A user pool can have at most {MAX_TAGS} tags."))
}

fn check_tag_count(n: usize) -> ServiceResult<()> {
    if n > MAX_TAGS {
        return Err(too_many_tags());
    }
    Ok(())
}

/// The settings both CreateUserPool and UpdateUserPool take, so both apply them the same way.
struct MutableSettings<'a> {
    policies: &'a Option<cognito_model::shapes::UserPoolPolicyType>,
    deletion_protection: Option<DeletionProtectionType>,
    lambda_config: &'a Option<cognito_model::shapes::LambdaConfigType>,
    auto_verified_attributes: &'a Option<Vec<cognito_model::shapes::VerifiedAttributeType>>,
    sms_verification_message: &'a Option<String>,
    email_verification_message: &'a Option<String>,
    email_verification_subject: &'a Option<String>,
    verification_message_template:
        &'a Option<cognito_model::shapes::VerificationMessageTemplateType>,
    sms_authentication_message: &'a Option<String>,
    user_attribute_update_settings:
        &'a Option<cognito_model::shapes::UserAttributeUpdateSettingsType>,
    mfa_configuration: Option<UserPoolMfaType>,
    device_configuration: &'a Option<cognito_model::shapes::DeviceConfigurationType>,
    email_configuration: &'a Option<cognito_model::shapes::EmailConfigurationType>,
    sms_configuration: &'a Option<cognito_model::shapes::SmsConfigurationType>,
    admin_create_user_config: &'a Option<cognito_model::shapes::AdminCreateUserConfigType>,
    user_pool_add_ons: &'a Option<cognito_model::shapes::UserPoolAddOnsType>,
    account_recovery_setting: &'a Option<cognito_model::shapes::AccountRecoverySettingType>,
    user_pool_tier: Option<cognito_model::shapes::UserPoolTierType>,
}

macro_rules! mutable_settings_from {
    ($req:expr) => {
        MutableSettings {
            policies: &$req.policies,
            deletion_protection: $req.deletion_protection,
            lambda_config: &$req.lambda_config,
            auto_verified_attributes: &$req.auto_verified_attributes,
            sms_verification_message: &$req.sms_verification_message,
            email_verification_message: &$req.email_verification_message,
            email_verification_subject: &$req.email_verification_subject,
            verification_message_template: &$req.verification_message_template,
            sms_authentication_message: &$req.sms_authentication_message,
            user_attribute_update_settings: &$req.user_attribute_update_settings,
            mfa_configuration: $req.mfa_configuration,
            device_configuration: &$req.device_configuration,
            email_configuration: &$req.email_configuration,
            sms_configuration: &$req.sms_configuration,
            admin_create_user_config: &$req.admin_create_user_config,
            user_pool_add_ons: &$req.user_pool_add_ons,
            account_recovery_setting: &$req.account_recovery_setting,
            user_pool_tier: $req.user_pool_tier,
        }
    };
}

impl<'a> MutableSettings<'a> {
    fn from_create(req: &'a CreateUserPoolRequest) -> Self {
        mutable_settings_from!(req)
    }
    fn from_update(req: &'a UpdateUserPoolRequest) -> Self {
        mutable_settings_from!(req)
    }
}

/// Lays the request's values over the defaults. Nested structures given partially keep the
/// defaults for what they omit, as Cognito's own answers show (e.g. a PasswordPolicy without
/// TemporaryPasswordValidityDays still reports 7).
fn apply_mutable_settings(s: &mut UserPoolType, m: MutableSettings<'_>) {
    if let Some(p) = m.policies {
        let mut policies = user_pool::default_policies();
        if let Some(pp) = &p.password_policy {
            let d = user_pool::default_password_policy();
            policies.password_policy = Some(cognito_model::shapes::PasswordPolicyType {
                minimum_length: pp.minimum_length.or(d.minimum_length),
                require_uppercase: pp.require_uppercase.or(Some(false)),
                require_lowercase: pp.require_lowercase.or(Some(false)),
                require_numbers: pp.require_numbers.or(Some(false)),
                require_symbols: pp.require_symbols.or(Some(false)),
                password_history_size: pp.password_history_size,
                temporary_password_validity_days: pp
                    .temporary_password_validity_days
                    .or(d.temporary_password_validity_days),
            });
        }
        if let Some(sp) = &p.sign_in_policy {
            policies.sign_in_policy = Some(sp.clone());
        }
        s.policies = Some(policies);
    }
    if let Some(v) = m.deletion_protection {
        s.deletion_protection = Some(v);
    }
    if let Some(v) = m.lambda_config {
        s.lambda_config = Some(v.clone());
    }
    s.auto_verified_attributes = m.auto_verified_attributes.clone().filter(|v| !v.is_empty());
    s.sms_verification_message = m.sms_verification_message.clone();
    s.email_verification_message = m.email_verification_message.clone();
    s.email_verification_subject = m.email_verification_subject.clone();
    let mut vmt = m.verification_message_template.clone().unwrap_or_default();
    if vmt.default_email_option.is_none() {
        vmt.default_email_option =
            Some(cognito_model::shapes::DefaultEmailOptionType::ConfirmWithCode);
    }
    // The older top-level message settings and the template describe the same messages; Cognito
    // reports each through both.
    if vmt.sms_message.is_none() {
        vmt.sms_message = s.sms_verification_message.clone();
    } else if s.sms_verification_message.is_none() {
        s.sms_verification_message = vmt.sms_message.clone();
    }
    if vmt.email_message.is_none() {
        vmt.email_message = s.email_verification_message.clone();
    } else if s.email_verification_message.is_none() {
        s.email_verification_message = vmt.email_message.clone();
    }
    if vmt.email_subject.is_none() {
        vmt.email_subject = s.email_verification_subject.clone();
    } else if s.email_verification_subject.is_none() {
        s.email_verification_subject = vmt.email_subject.clone();
    }
    s.verification_message_template = Some(vmt);
    s.sms_authentication_message = m.sms_authentication_message.clone();
    // Cognito reports an empty list rather than leaving the setting out.
    s.user_attribute_update_settings =
        Some(m.user_attribute_update_settings.clone().unwrap_or_else(|| {
            cognito_model::shapes::UserAttributeUpdateSettingsType {
                attributes_require_verification_before_update: Some(vec![]),
            }
        }));
    if let Some(v) = m.mfa_configuration {
        s.mfa_configuration = Some(v);
    }
    s.device_configuration = m.device_configuration.clone();
    if let Some(v) = m.email_configuration {
        let mut e = v.clone();
        if e.email_sending_account.is_none() {
            e.email_sending_account =
                Some(cognito_model::shapes::EmailSendingAccountType::CognitoDefault);
        }
        s.email_configuration = Some(e);
    }
    s.sms_configuration = m.sms_configuration.clone();
    if let Some(v) = m.admin_create_user_config {
        let d = user_pool::default_admin_create_user_config();
        s.admin_create_user_config = Some(cognito_model::shapes::AdminCreateUserConfigType {
            allow_admin_create_user_only: v
                .allow_admin_create_user_only
                .or(d.allow_admin_create_user_only),
            unused_account_validity_days: v
                .unused_account_validity_days
                .or(d.unused_account_validity_days),
            invite_message_template: v.invite_message_template.clone(),
        });
    }
    s.user_pool_add_ons = m.user_pool_add_ons.clone();
    s.account_recovery_setting = m.account_recovery_setting.clone();
    if let Some(v) = m.user_pool_tier {
        s.user_pool_tier = Some(v);
    }
}

/// Rules that span several settings.
fn validate_settings(s: &UserPoolType) -> ServiceResult<()> {
    // Checked against the request's AutoVerifiedAttributes: UpdateUserPool resets what it omits.
    let auto = s.auto_verified_attributes.as_deref().unwrap_or_default();
    let before_update = s
        .user_attribute_update_settings
        .as_ref()
        .and_then(|u| u.attributes_require_verification_before_update.as_deref())
        .unwrap_or_default();
    if before_update.iter().any(|a| !auto.contains(a)) {
        return Err(CognitoError::invalid_parameter(
            "All attributes in AttributesRequireVerificationBeforeUpdate must exist in AutoVerifiedAttributes",
        ));
    }
    if let Some(mode) = s.mfa_configuration {
        if mode != UserPoolMfaType::Off && s.sms_configuration.is_none() {
            return Err(CognitoError::invalid_parameter(
                "SMS configuration and Auth Message are required when MFA is required/optional",
            ));
        }
    }
    if let Some(template) = &s.verification_message_template {
        for (msg, what) in [
            (&template.sms_message, "SmsMessage"),
            (&template.email_message, "EmailMessage"),
        ] {
            if let Some(m) = msg {
                if !m.contains("{####}") {
                    return Err(CognitoError::invalid_parameter(format!(
                        "{what} must contain the {{####}} placeholder."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The pool's schema: the standard attributes, with the request's overrides of them, followed by
/// the request's custom attributes (named `custom:` or `dev:custom:`).
pub fn build_schema(requested: &[SchemaAttributeType]) -> ServiceResult<Vec<SchemaAttributeType>> {
    let mut schema = user_pool::standard_schema();
    let mut seen = HashSet::new();
    let mut customs = Vec::new();
    for attr in requested {
        let raw = attr.name.clone().unwrap_or_default();
        if !seen.insert(raw.clone()) {
            return Err(CognitoError::invalid_parameter(format!(
                "Duplicate attribute name: {raw}"
            )));
        }
        if let Some(std) = schema
            .iter_mut()
            .find(|a| a.name.as_deref() == Some(raw.as_str()))
        {
            if raw == "sub" {
                // sub is always required and immutable; Cognito ignores attempts to change it.
                continue;
            }
            // A standard attribute repeated with its own type or none is accepted (CDK sends
            // `{Name: email, Required: true, Mutable: true}`); another type or the developer-only
            // flag is refused with Cognito's one message for both (corrections.md #1).
            let retyped = attr
                .attribute_data_type
                .is_some_and(|t| Some(t) != std.attribute_data_type);
            if retyped || attr.developer_only_attribute == Some(true) {
                return Err(CognitoError::invalid_parameter(format!(
                    "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {raw}"
                )));
            }
            check_constraints(attr, std.attribute_data_type)?;
            if let Some(m) = attr.mutable {
                std.mutable = Some(m);
            }
            if let Some(r) = attr.required {
                std.required = Some(r);
            }
            if let Some(c) = &attr.string_attribute_constraints {
                std.string_attribute_constraints = Some(c.clone());
            }
            if let Some(c) = &attr.number_attribute_constraints {
                std.number_attribute_constraints = Some(c.clone());
            }
            continue;
        }
        customs.push(custom_attribute(attr, &raw)?);
    }
    if customs.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(CognitoError::invalid_parameter(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )));
    }
    schema.extend(customs);
    Ok(schema)
}

/// A custom attribute definition, validated and normalised the way Cognito reports it.
pub fn custom_attribute(
    attr: &SchemaAttributeType,
    raw: &str,
) -> ServiceResult<SchemaAttributeType> {
    let bare = raw.strip_prefix("custom:").unwrap_or(raw);
    if bare.is_empty() || bare.chars().count() > 20 {
        return Err(CognitoError::invalid_parameter(format!(
            "Invalid custom attribute name: {raw}"
        )));
    }
    if attr.required == Some(true) {
        return Err(CognitoError::invalid_parameter(
            "Required custom attributes are not supported currently.",
        ));
    }
    // Cognito has no default type for a custom attribute (corrections.md #2).
    let data_type = attr.attribute_data_type.ok_or_else(|| {
        CognitoError::invalid_parameter(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
        )
    })?;
    let developer_only = attr.developer_only_attribute.unwrap_or(false);
    let name = if developer_only {
        format!("dev:custom:{bare}")
    } else {
        format!("custom:{bare}")
    };
    let mut out = SchemaAttributeType {
        name: Some(name),
        attribute_data_type: Some(data_type),
        developer_only_attribute: Some(developer_only),
        mutable: Some(attr.mutable.unwrap_or(true)),
        required: Some(false),
        number_attribute_constraints: None,
        string_attribute_constraints: None,
    };
    check_constraints(attr, Some(data_type))?;
    match data_type {
        AttributeDataType::String => {
            out.string_attribute_constraints = Some(
                attr.string_attribute_constraints
                    .clone()
                    .unwrap_or_default(),
            );
        }
        AttributeDataType::Number => {
            out.number_attribute_constraints = Some(
                attr.number_attribute_constraints
                    .clone()
                    .unwrap_or_default(),
            );
        }
        _ => {}
    }
    Ok(out)
}

/// The String and Number constraints of an attribute, standard or custom, checked alike
/// (corrections.md #4): integer bounds, min not above max, string lengths at most 2048.
fn check_constraints(
    attr: &SchemaAttributeType,
    data_type: Option<AttributeDataType>,
) -> ServiceResult<()> {
    match data_type {
        Some(AttributeDataType::String) => {
            if let Some(c) = &attr.string_attribute_constraints {
                let min = parse_bound(c.min_length.as_deref(), "MinLength")?;
                let max = parse_bound(c.max_length.as_deref(), "MaxLength")?;
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(CognitoError::invalid_parameter(
                            "Invalid string constraints: MinLength must be less than or equal to MaxLength.",
                        ));
                    }
                }
                if max.is_some_and(|m| m > 2048) || min.is_some_and(|m| m > 2048) {
                    return Err(CognitoError::invalid_parameter(
                        "Invalid string constraints: MaxLength must be at most 2048.",
                    ));
                }
            }
        }
        Some(AttributeDataType::Number) => {
            if let Some(c) = &attr.number_attribute_constraints {
                let min = parse_bound(c.min_value.as_deref(), "MinValue")?;
                let max = parse_bound(c.max_value.as_deref(), "MaxValue")?;
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(CognitoError::invalid_parameter(
                            "Invalid number constraints: MinValue must be less than or equal to MaxValue.",
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_bound(v: Option<&str>, what: &str) -> ServiceResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
            CognitoError::invalid_parameter(format!("Invalid {what}: {s} is not a number."))
        }),
    }
}

/// The pool as DescribeUserPool and CreateUserPool answer it.
pub fn describe_view(v: &UserPoolView) -> UserPoolType {
    let r = &v.record;
    let mut p = r.settings.pool.clone();
    p.id = Some(r.id.clone());
    p.name = Some(r.name.clone());
    p.arn = Some(ids::user_pool_arn(&r.region, &r.account_id, &r.id));
    p.creation_date = Some(wire_time(r.created_ms));
    p.last_modified_date = Some(wire_time(r.modified_ms));
    p.estimated_number_of_users = Some(v.estimated_users.clamp(0, i32::MAX as i64) as i32);
    p.user_pool_tags = Some(v.tags.clone().into_iter().collect::<BTreeMap<_, _>>());
    p
}
