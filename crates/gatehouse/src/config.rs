//! Configuration: defaults, then a TOML file (`--config`), then environment (`GATEHOUSE_*`,
//! `DATABASE_URL`), then flags. See config/gatehouse.example.toml for every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use api::access::Policy;
use clap::{Args, Parser, Subcommand};
use domain::services::directory::codes::CodeLimits;
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "A self-hostable identity server that speaks the Amazon Cognito User Pools API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve(Overrides),
    /// Apply database migrations and exit.
    Migrate(Overrides),
    /// Retire a user pool's token signing keys and make new ones. Tokens signed by the old keys
    /// stay valid (their keys stay in the JWKS) until they expire.
    RotateSigningKeys(RotateKeys),
    /// Fill a pool with generated users through the bulk import (benchmarks, load tests).
    SeedUsers(SeedArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RotateKeys {
    /// The user pool whose keys are rotated.
    #[arg(long)]
    pub pool_id: String,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// `seed-users`: users `user<start>` .. `user<start+count-1>` (seven digits) into one pool.
#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub overrides: Overrides,
    /// The pool to fill (it must exist).
    #[arg(long)]
    pub pool_id: String,
    /// How many users to add.
    #[arg(long)]
    pub count: u64,
    /// The number of the first user, so a pool can be grown in steps.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Users per transaction.
    #[arg(long, default_value_t = 2000)]
    pub batch: u64,
    /// The password every seeded user gets (hashed once, shared by all).
    #[arg(long, default_value = "Seeded-Passw0rd!")]
    pub password: String,
}

/// Flags, each with its environment twin. A flag wins over the environment, which wins over the file.
#[derive(Args, Debug, Default, Clone)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded database and generated credentials.
    #[arg(long, env = "GATEHOUSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` or `sqlite://...`; default: SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base URL of token issuers and hosted pages; default `http://<listen address>`.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Token issuer (`iss`) template: `{public_url}`, `{region}` and `{pool_id}` are replaced;
    /// default `{public_url}/{pool_id}`.
    #[arg(long, env = "GATEHOUSE_ISSUER_TEMPLATE")]
    pub issuer_template: Option<String>,
    /// Region for requests that carry none (default us-east-1).
    #[arg(long, env = "GATEHOUSE_REGION")]
    pub region: Option<String>,
    /// The AWS-style account id that owns this server's resources.
    #[arg(long, env = "GATEHOUSE_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Comma-separated regions accepted in signed requests; empty accepts any.
    #[arg(long, env = "GATEHOUSE_REGIONS", value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// `text` or `json`.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `gatehouse=debug,info`.
    #[arg(long, env = "GATEHOUSE_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// `ID:SECRET[,ID:SECRET...]`: keys allowed every action.
    #[arg(long, env = "GATEHOUSE_ACCESS_KEYS", hide_env_values = true)]
    pub access_keys: Option<String>,
    /// Database connections per node.
    #[arg(long, env = "GATEHOUSE_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "GATEHOUSE_WORKERS")]
    pub workers: Option<usize>,
    /// Users cached per node for AdminGetUser and other lookups (0 turns the cache off).
    #[arg(long, env = "GATEHOUSE_USER_CACHE_CAPACITY")]
    pub user_cache_capacity: Option<usize>,
    /// Base64 of 32 random bytes sealing secrets at rest; the same on every node.
    #[arg(long, env = "GATEHOUSE_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    pub key_encryption_key: Option<String>,
    /// Comma-separated retired key-encryption keys that still open older secrets.
    #[arg(
        long,
        env = "GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub previous_key_encryption_keys: Option<Vec<String>>,
    /// Mail relay for email: `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]`
    /// (`smtps://` for TLS from the first byte). Unset: email goes to the developer outbox.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The default sender of email, e.g. `Gatehouse <no-reply@example.com>`.
    #[arg(long, env = "GATEHOUSE_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// SNS endpoint for SMS (any SNS-compatible service); unset with a region: AWS's endpoint.
    #[arg(long, env = "GATEHOUSE_SNS_ENDPOINT")]
    pub sns_endpoint: Option<String>,
    /// SNS region. With neither region nor endpoint, SMS goes to the developer outbox.
    #[arg(long, env = "GATEHOUSE_SNS_REGION")]
    pub sns_region: Option<String>,
    #[arg(long, env = "GATEHOUSE_SNS_ACCESS_KEY_ID")]
    pub sns_access_key_id: Option<String>,
    #[arg(long, env = "GATEHOUSE_SNS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub sns_secret_access_key: Option<String>,
    /// Wrong one-time codes a user may give per purpose within the failure window, across new
    /// codes (default 5, at least 1); then that purpose is locked until the window ends.
    #[arg(long, env = "GATEHOUSE_CODE_FAILURE_LIMIT")]
    pub code_failure_limit: Option<u32>,
    /// The failure window in seconds, from the first wrong code (default 3600, at most 86400).
    #[arg(long, env = "GATEHOUSE_CODE_FAILURE_WINDOW_SECS")]
    pub code_failure_window_secs: Option<u64>,
    /// Codes sent per user and purpose per hour (default 5; 0: no limit).
    #[arg(long, env = "GATEHOUSE_CODE_LIMIT_PER_USER")]
    pub code_limit_per_user: Option<u32>,
    /// Codes sent to one email address or phone number per hour, across users (default 10; 0: no limit).
    #[arg(long, env = "GATEHOUSE_CODE_LIMIT_PER_DESTINATION")]
    pub code_limit_per_destination: Option<u32>,
    /// Codes sent per user pool per hour (default 1000; 0: no limit).
    #[arg(long, env = "GATEHOUSE_CODE_LIMIT_PER_POOL")]
    pub code_limit_per_pool: Option<u32>,
    /// Comma-separated domains (`example.com`) and addresses (`team@example.com`) pools may name
    /// as their email sender (EmailConfiguration From / SourceArn). Empty: only the SMTP sender.
    #[arg(long, env = "GATEHOUSE_ALLOWED_EMAIL_SENDERS", value_delimiter = ',')]
    pub allowed_email_senders: Option<Vec<String>>,
    /// Password hashes and SRP steps allowed to wait for a CPU thread; more are refused with
    /// TooManyRequestsException (default: 32 per core).
    #[arg(long, env = "GATEHOUSE_CPU_QUEUE_LIMIT")]
    pub cpu_queue_limit: Option<usize>,
    /// `on` or `off`: request-rate limits of the unsigned operations.
    #[arg(long, env = "GATEHOUSE_RATE_LIMITS")]
    pub rate_limits: Option<Switch>,
    /// Per source address: `Category=requests_per_second[,...]`, e.g. `UserAuthentication=20`.
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_PER_SOURCE")]
    pub rate_limit_per_source: Option<String>,
    /// Per app client: `Category=requests_per_second[,...]`.
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_PER_CLIENT")]
    pub rate_limit_per_client: Option<String>,
    /// Comma-separated addresses or networks of proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Seconds between deletions of expired sign-in sessions (default 300).
    #[arg(long, env = "GATEHOUSE_SESSION_PRUNE_INTERVAL")]
    pub session_prune_interval: Option<u64>,
    /// Milliseconds a client may take to send a request body once its headers are in
    /// (default 10000); slower senders are answered and disconnected.
    #[arg(long, env = "GATEHOUSE_BODY_READ_TIMEOUT_MS")]
    pub body_read_timeout_ms: Option<u64>,
    /// Accept access keys shorter than 16 characters (e.g. `test` / `test`, as LocalStack and moto
    /// test suites use). For test set-ups only: every start logs a warning.
    #[arg(long, env = "GATEHOUSE_ALLOW_WEAK_ACCESS_KEYS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_weak_access_keys: Option<bool>,
    /// Trigger endpoints as a JSON array of `{arn | arn_pattern, url, secret, timeout_ms}`
    /// (added to the file's `[[triggers]]`).
    #[arg(long, env = "GATEHOUSE_TRIGGERS", hide_env_values = true)]
    pub triggers: Option<String>,
    /// Let a LambdaConfig name ARNs no trigger endpoint serves (their invocations then fail).
    #[arg(long, env = "GATEHOUSE_ALLOW_UNRESOLVED_TRIGGER_ARNS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_unresolved_trigger_arns: Option<bool>,
}

/// `[codes]` in the file: the limits on one-time codes (see the flags of the same names).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesFileConfig {
    pub failure_limit: Option<u32>,
    pub failure_window_secs: Option<u64>,
    pub limit_per_user: Option<u32>,
    pub limit_per_destination: Option<u32>,
    pub limit_per_pool: Option<u32>,
}

/// The code limits from flags / environment over `[codes]` over the defaults.
fn code_limits(o: &Overrides, f: &CodesFileConfig) -> Result<CodeLimits, String> {
    let d = CodeLimits::default();
    let failures = o
        .code_failure_limit
        .or(f.failure_limit)
        .unwrap_or(d.failures);
    if failures == 0 {
        return Err("code_failure_limit must be at least 1".into());
    }
    let window_secs = o
        .code_failure_window_secs
        .or(f.failure_window_secs)
        .unwrap_or((d.failure_window_ms / 1000) as u64);
    let max_secs = (domain::services::directory::codes::MAX_FAILURE_WINDOW_MS / 1000) as u64;
    if window_secs == 0 || window_secs > max_secs {
        return Err(format!(
            "code_failure_window_secs must be between 1 and {max_secs}"
        ));
    }
    Ok(CodeLimits {
        failures,
        failure_window_ms: (window_secs * 1000) as i64,
        per_user: o
            .code_limit_per_user
            .or(f.limit_per_user)
            .unwrap_or(d.per_user),
        per_destination: o
            .code_limit_per_destination
            .or(f.limit_per_destination)
            .unwrap_or(d.per_destination),
        per_pool: o
            .code_limit_per_pool
            .or(f.limit_per_pool)
            .unwrap_or(d.per_pool),
    })
}

/// `on` / `off` for a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `[smtp]` in the file.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFileConfig {
    /// Either `url`, or `host` with the other keys.
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    pub reply_to: Option<String>,
}

impl std::fmt::Debug for SmtpFileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpFileConfig")
            .field("host", &self.host)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// `[sns]` in the file.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsFileConfig {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub sender_id: Option<String>,
    pub sms_type: Option<String>,
}

impl std::fmt::Debug for SnsFileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsFileConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One access key from the file.
#[derive(Clone, Debug, Deserialize)]
pub struct AccessKeyConfig {
    pub id: String,
    pub secret: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Allow statements; none given means every action on every resource.
    #[serde(default)]
    pub allow: Vec<Policy>,
}

/// The file's shape. Every key is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub issuer_template: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub regions: Option<Vec<String>>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub database_max_connections: Option<u32>,
    pub workers: Option<usize>,
    pub user_cache_capacity: Option<usize>,
    pub key_encryption_key: Option<String>,
    pub previous_key_encryption_keys: Option<Vec<String>>,
    #[serde(default)]
    pub access_keys: Vec<AccessKeyConfig>,
    pub smtp: Option<SmtpFileConfig>,
    pub sns: Option<SnsFileConfig>,
    pub codes: Option<CodesFileConfig>,
    pub allowed_email_senders: Option<Vec<String>>,
    pub cpu_queue_limit: Option<usize>,
    pub session_prune_interval: Option<u64>,
    pub rate_limits: Option<RateLimitsFileConfig>,
    pub body_read_timeout_ms: Option<u64>,
    pub allow_weak_access_keys: Option<bool>,
    #[serde(default)]
    pub triggers: Vec<webhooks::Endpoint>,
    pub allow_unresolved_trigger_arns: Option<bool>,
}

/// `[rate_limits]` in the file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsFileConfig {
    pub enabled: Option<bool>,
    pub trusted_proxies: Option<Vec<String>>,
    pub burst_seconds: Option<f64>,
    pub max_tracked: Option<usize>,
    /// Category name → requests per second (0: unlimited).
    pub per_source: Option<std::collections::BTreeMap<String, f64>>,
    pub per_client: Option<std::collections::BTreeMap<String, f64>>,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: String,
    pub issuer_template: Option<String>,
    pub region: String,
    pub account_id: String,
    pub regions: Vec<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub database_max_connections: u32,
    pub workers: usize,
    /// Users cached per node (0: no user cache).
    pub user_cache_capacity: usize,
    /// None: generated into the data directory (embedded SQLite only).
    pub key_encryption_key: Option<String>,
    pub previous_key_encryption_keys: Vec<String>,
    pub access_keys: Vec<AccessKeyConfig>,
    /// None: email goes to the developer outbox.
    pub smtp: Option<notify::SmtpConfig>,
    /// None: SMS goes to the developer outbox.
    pub sns: Option<notify::SnsConfig>,
    /// Limits on one-time codes.
    pub codes: CodeLimits,
    /// Domains and addresses pools may send email as, besides the SMTP sender.
    pub allowed_email_senders: Vec<String>,
    /// CPU jobs allowed to wait (password hashing, SRP).
    pub cpu_queue_limit: usize,
    pub rate_limits: api::throttle::ThrottleConfig,
    /// Between deletions of expired challenge and token sessions.
    pub session_prune_interval: std::time::Duration,
    /// Deadline for receiving a request body.
    pub body_read_timeout: std::time::Duration,
    /// Access keys under 16 characters are accepted (test set-ups only).
    pub allow_weak_access_keys: bool,
    /// Where each LambdaConfig ARN's events go.
    pub triggers: Vec<webhooks::Endpoint>,
    pub allow_unresolved_trigger_arns: bool,
}

pub const DEFAULT_SESSION_PRUNE_INTERVAL_S: u64 = 300;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9229";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

impl Config {
    pub fn load(o: &Overrides) -> Result<Config, String> {
        let file = match &o.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("invalid configuration {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = o
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
        let data_dir = o
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = o
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url(&data_dir.join("gatehouse.db")));
        let public_url = o
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        let mut access_keys = file.access_keys;
        if let Some(spec) = &o.access_keys {
            access_keys.extend(parse_access_keys(spec)?);
        }
        let smtp = smtp_config(o, file.smtp.clone().unwrap_or_default())?;
        let sns = sns_config(o, file.sns.clone().unwrap_or_default(), &file.region)?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let rate_limits = rate_limits_config(o, file.rate_limits.clone().unwrap_or_default())?;
        let config = Config {
            listen,
            data_dir,
            database_url,
            public_url,
            issuer_template: o.issuer_template.clone().or(file.issuer_template),
            region: o
                .region
                .clone()
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".into()),
            account_id: o
                .account_id
                .clone()
                .or(file.account_id)
                .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.into()),
            regions: o
                .regions
                .clone()
                .or(file.regions)
                .unwrap_or_default()
                .into_iter()
                .filter(|r| !r.is_empty())
                .collect(),
            log_format: o.log_format.or(file.log_format).unwrap_or_default(),
            log_level: o
                .log_level
                .clone()
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            database_max_connections: o
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(16),
            workers: o.workers.or(file.workers).unwrap_or(cores).max(1),
            user_cache_capacity: o
                .user_cache_capacity
                .or(file.user_cache_capacity)
                .unwrap_or(storage::DEFAULT_USER_CACHE_CAPACITY),
            key_encryption_key: o
                .key_encryption_key
                .clone()
                .or(file.key_encryption_key)
                .filter(|k| !k.trim().is_empty()),
            previous_key_encryption_keys: o
                .previous_key_encryption_keys
                .clone()
                .or(file.previous_key_encryption_keys)
                .unwrap_or_default()
                .into_iter()
                .filter(|k| !k.trim().is_empty())
                .collect(),
            access_keys,
            smtp,
            sns,
            codes: code_limits(o, &file.codes.clone().unwrap_or_default())?,
            allowed_email_senders: o
                .allowed_email_senders
                .clone()
                .or(file.allowed_email_senders)
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            cpu_queue_limit: o
                .cpu_queue_limit
                .or(file.cpu_queue_limit)
                .unwrap_or(cores * domain::services::directory::password::DEFAULT_QUEUE_PER_CORE)
                .max(1),
            rate_limits,
            session_prune_interval: std::time::Duration::from_secs(
                o.session_prune_interval
                    .or(file.session_prune_interval)
                    .unwrap_or(DEFAULT_SESSION_PRUNE_INTERVAL_S)
                    .max(1),
            ),
            body_read_timeout: o
                .body_read_timeout_ms
                .or(file.body_read_timeout_ms)
                .map(std::time::Duration::from_millis)
                .unwrap_or(api::server::DEFAULT_BODY_READ_TIMEOUT),
            allow_weak_access_keys: o
                .allow_weak_access_keys
                .or(file.allow_weak_access_keys)
                .unwrap_or(false),
            triggers: {
                let mut all = file.triggers.clone();
                if let Some(json) = &o.triggers {
                    let more: Vec<webhooks::Endpoint> = serde_json::from_str(json)
                        .map_err(|e| format!("invalid GATEHOUSE_TRIGGERS: {e}"))?;
                    all.extend(more);
                }
                for e in &all {
                    e.validate()?;
                }
                all
            },
            allow_unresolved_trigger_arns: o
                .allow_unresolved_trigger_arns
                .or(file.allow_unresolved_trigger_arns)
                .unwrap_or(false),
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "account_id must be 12 digits, got '{}'",
                self.account_id
            ));
        }
        // The same rule SigV4 applies to credential scopes.
        let region_ok = api::sigv4::is_valid_region;
        if !region_ok(&self.region) {
            return Err(format!("invalid region '{}'", self.region));
        }
        if let Some(r) = self.regions.iter().find(|r| !region_ok(r)) {
            return Err(format!("invalid region '{r}' in regions"));
        }
        if self.body_read_timeout.is_zero() {
            return Err("body_read_timeout_ms must be at least 1".into());
        }
        for k in &self.access_keys {
            if k.id.is_empty() || !k.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "access key id '{}' must be letters and digits",
                    k.id
                ));
            }
            if k.secret.is_empty() {
                return Err(format!("the secret of access key '{}' is empty", k.id));
            }
            if self.allow_weak_access_keys {
                continue;
            }
            if k.id.len() < 16 {
                return Err(format!(
                    "access key id '{}' must be at least 16 letters and digits \
                     (allow_weak_access_keys accepts shorter ones, for tests only)",
                    k.id
                ));
            }
            if k.secret.len() < 16 {
                return Err(format!(
                    "the secret of access key '{}' is too short (16 characters at least; \
                     allow_weak_access_keys accepts shorter ones, for tests only)",
                    k.id
                ));
            }
        }
        Ok(())
    }

    /// The configured access keys a strict start would refuse (shorter than 16 characters), for
    /// the warning every start with `allow_weak_access_keys` logs.
    pub fn weak_access_keys(&self) -> Vec<&str> {
        self.access_keys
            .iter()
            .filter(|k| k.id.len() < 16 || k.secret.len() < 16)
            .map(|k| k.id.as_str())
            .collect()
    }
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// The relay from `--smtp-url` / `GATEHOUSE_SMTP_URL`, else `[smtp]`. A relay needs a sender.
fn smtp_config(o: &Overrides, f: SmtpFileConfig) -> Result<Option<notify::SmtpConfig>, String> {
    let mut c = match (
        nonempty(o.smtp_url.clone()),
        nonempty(f.url),
        nonempty(f.host),
    ) {
        (Some(url), _, _) | (None, Some(url), _) => notify::SmtpConfig::from_url(&url)?,
        (None, None, Some(host)) => notify::SmtpConfig {
            host,
            port: f.port,
            tls: match f.tls.as_deref() {
                Some(t) => t.parse()?,
                None => notify::TlsMode::default(),
            },
            username: nonempty(f.username.clone()),
            password: f.password.clone(),
            ..Default::default()
        },
        (None, None, None) => return Ok(None),
    };
    c.from = nonempty(o.smtp_from.clone()).or(nonempty(f.from)).ok_or(
        "an SMTP relay is configured but no sender: set GATEHOUSE_SMTP_FROM or [smtp] from",
    )?;
    c.reply_to = nonempty(f.reply_to);
    Ok(Some(c))
}

/// SNS from flags / environment over `[sns]`; configured once a region or an endpoint is given.
fn sns_config(
    o: &Overrides,
    f: SnsFileConfig,
    file_region: &Option<String>,
) -> Result<Option<notify::SnsConfig>, String> {
    let endpoint = nonempty(o.sns_endpoint.clone()).or(nonempty(f.endpoint));
    let region = nonempty(o.sns_region.clone()).or(nonempty(f.region));
    if endpoint.is_none() && region.is_none() {
        return Ok(None);
    }
    let access_key_id = nonempty(o.sns_access_key_id.clone())
        .or(nonempty(f.access_key_id))
        .ok_or("SNS is configured but has no access key id (GATEHOUSE_SNS_ACCESS_KEY_ID or [sns] access_key_id)")?;
    let secret_access_key = nonempty(o.sns_secret_access_key.clone())
        .or(nonempty(f.secret_access_key))
        .ok_or("SNS is configured but has no secret access key (GATEHOUSE_SNS_SECRET_ACCESS_KEY or [sns] secret_access_key)")?;
    Ok(Some(notify::SnsConfig {
        endpoint,
        region: region
            .or(nonempty(o.region.clone()))
            .or(nonempty(file_region.clone()))
            .unwrap_or_else(|| "us-east-1".into()),
        access_key_id,
        secret_access_key,
        sender_id: nonempty(f.sender_id),
        sms_type: nonempty(f.sms_type),
    }))
}

/// `[rate_limits]`, then the flags / environment over it. Categories not named keep Cognito's
/// default quota.
fn rate_limits_config(
    o: &Overrides,
    f: RateLimitsFileConfig,
) -> Result<api::throttle::ThrottleConfig, String> {
    use api::throttle::{Category, ThrottleConfig};
    let enabled = match o.rate_limits {
        Some(s) => s == Switch::On,
        None => f.enabled.unwrap_or(true),
    };
    let mut c = ThrottleConfig {
        enabled,
        ..Default::default()
    };
    let category = |name: &str| {
        Category::from_name(name.trim()).ok_or_else(|| {
            let known: Vec<_> = Category::ALL.iter().map(|c| c.name()).collect();
            format!(
                "unknown rate-limit category '{name}' (known: {})",
                known.join(", ")
            )
        })
    };
    let rate = |name: &str, r: f64| {
        if r.is_finite() && r >= 0.0 {
            Ok(r)
        } else {
            Err(format!(
                "the rate limit of {name} must be a number of requests per second, 0 or more"
            ))
        }
    };
    for (list, file) in [
        (&mut c.per_source, f.per_source.unwrap_or_default()),
        (&mut c.per_client, f.per_client.unwrap_or_default()),
    ] {
        for (name, r) in file {
            ThrottleConfig::set(list, category(&name)?, rate(&name, r)?);
        }
    }
    for (list, spec) in [
        (&mut c.per_source, &o.rate_limit_per_source),
        (&mut c.per_client, &o.rate_limit_per_client),
    ] {
        for pair in spec
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|p| !p.trim().is_empty())
        {
            let (name, r) = pair.split_once('=').ok_or_else(|| {
                format!("rate limits look like Category=requests_per_second, got '{pair}'")
            })?;
            let r: f64 = r
                .trim()
                .parse()
                .map_err(|_| format!("invalid rate '{}' for {name}", r.trim()))?;
            ThrottleConfig::set(list, category(name)?, rate(name, r)?);
        }
    }
    if let Some(b) = f.burst_seconds {
        if !(b.is_finite() && b > 0.0) {
            return Err("rate_limits.burst_seconds must be above 0".into());
        }
        c.burst_seconds = b;
    }
    if let Some(m) = f.max_tracked {
        c.max_tracked = m.max(1);
    }
    c.trusted_proxies = o
        .trusted_proxies
        .clone()
        .or(f.trusted_proxies)
        .unwrap_or_default()
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.parse())
        .collect::<Result<_, String>>()?;
    Ok(c)
}

/// `ID:SECRET[,ID:SECRET...]`.
pub fn parse_access_keys(spec: &str) -> Result<Vec<AccessKeyConfig>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (id, secret) = pair.trim().split_once(':').ok_or_else(|| {
                "GATEHOUSE_ACCESS_KEYS must look like ID:SECRET[,ID:SECRET...]".to_string()
            })?;
            Ok(AccessKeyConfig {
                id: id.to_string(),
                secret: secret.to_string(),
                name: None,
                allow: vec![],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_with_nothing_configured() {
        let c = Config::load(&Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.public_url, "http://127.0.0.1:9229");
        assert_eq!(c.region, "us-east-1");
        assert!(c.database_url.starts_with("sqlite://"));
        assert!(c.access_keys.is_empty());
        assert_eq!(c.user_cache_capacity, 100_000);
    }

    #[test]
    fn code_limits_from_file_then_flags() {
        let c = Config::load(&Overrides::default()).unwrap();
        assert_eq!(c.codes, CodeLimits::default());
        let dir = tempfile_dir("codes");
        let path = dir.join("g.toml");
        std::fs::write(
            &path,
            "[codes]\nfailure_limit = 3\nfailure_window_secs = 600\nlimit_per_pool = 0\n",
        )
        .unwrap();
        let o = Overrides {
            config: Some(path.clone()),
            code_limit_per_pool: Some(50),
            ..Default::default()
        };
        let c = Config::load(&o).unwrap();
        assert_eq!(c.codes.failures, 3);
        assert_eq!(c.codes.failure_window_ms, 600_000);
        assert_eq!(c.codes.per_pool, 50);
        assert_eq!(c.codes.per_user, 5);
        let zero = Overrides {
            code_failure_limit: Some(0),
            ..Default::default()
        };
        assert!(Config::load(&zero).is_err());
        let long = Overrides {
            code_failure_window_secs: Some(90_000),
            ..Default::default()
        };
        assert!(Config::load(&long).is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("gh-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.toml");
        std::fs::write(
            &path,
            r#"
region = "eu-west-1"
account_id = "111122223333"
user_cache_capacity = 5000
[[access_keys]]
id = "AKIDEXAMPLE000001"
secret = "0123456789abcdef0123"
[[access_keys.allow]]
actions = ["cognito-idp:Describe*"]
resources = ["arn:aws:cognito-idp:eu-west-1:111122223333:userpool/*"]
"#,
        )
        .unwrap();
        let o = Overrides {
            config: Some(path),
            region: Some("ap-south-1".into()),
            ..Default::default()
        };
        let c = Config::load(&o).unwrap();
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.account_id, "111122223333");
        assert_eq!(c.user_cache_capacity, 5000);
        assert_eq!(c.access_keys.len(), 1);
        assert_eq!(
            c.access_keys[0].allow[0].actions,
            vec!["cognito-idp:Describe*"]
        );
    }

    #[test]
    fn smtp_and_sns_from_file_and_flags() {
        let dir = tempfile_dir("mail");
        let path = dir.join("g.toml");
        std::fs::write(
            &path,
            r#"
[smtp]
host = "mail.example.com"
port = 587
username = "mailer"
password = "hunter2hunter2"
from = "Gatehouse <no-reply@example.com>"
reply_to = "help@example.com"
[sns]
region = "eu-west-1"
access_key_id = "AKIDSNS"
secret_access_key = "snssecret"
sender_id = "Gatehouse"
"#,
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        let smtp = c.smtp.clone().unwrap();
        assert_eq!(smtp.host, "mail.example.com");
        assert_eq!(smtp.tls, notify::TlsMode::StartTls);
        assert_eq!(smtp.reply_to.as_deref(), Some("help@example.com"));
        let sns = c.sns.clone().unwrap();
        assert_eq!((sns.region.as_str(), sns.endpoint), ("eu-west-1", None));
        assert!(!format!("{c:?}").contains("hunter2"), "no secret in Debug");
        assert!(
            !format!("{c:?}").contains("snssecret"),
            "no secret in Debug"
        );
        // The URL flag wins over the file.
        let c = Config::load(&Overrides {
            config: Some(path),
            smtp_url: Some("smtp://127.0.0.1:2525?tls=none".into()),
            sns_endpoint: Some("http://127.0.0.1:5000".into()),
            ..Default::default()
        })
        .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls), (Some(2525), notify::TlsMode::None));
        assert_eq!(smtp.from, "Gatehouse <no-reply@example.com>");
        assert_eq!(
            c.sns.unwrap().endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        // Nothing configured: both go to the developer outbox.
        let c = Config::load(&Overrides::default()).unwrap();
        assert!(c.smtp.is_none() && c.sns.is_none());
        // A relay without a sender is refused.
        assert!(Config::load(&Overrides {
            smtp_url: Some("smtp://relay".into()),
            ..Default::default()
        })
        .is_err());
    }

    fn tempfile_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gh-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn rate_limits_from_file_and_flags() {
        use api::throttle::Category;
        let c = Config::load(&Overrides::default()).unwrap();
        assert!(c.rate_limits.enabled);
        assert!(c.rate_limits.trusted_proxies.is_empty());
        assert!(c.cpu_queue_limit >= 32);
        assert_eq!(c.session_prune_interval.as_secs(), 300);
        let rate = |list: &[(Category, f64)], cat| list.iter().find(|(c, _)| *c == cat).unwrap().1;
        assert_eq!(
            rate(&c.rate_limits.per_source, Category::UserAuthentication),
            120.0
        );
        assert_eq!(
            rate(&c.rate_limits.per_client, Category::UserAccountRecovery),
            30.0
        );

        let dir = tempfile_dir("limits");
        let path = dir.join("g.toml");
        std::fs::write(
            &path,
            r#"
cpu_queue_limit = 7
session_prune_interval = 2
[rate_limits]
trusted_proxies = ["10.0.0.0/8"]
burst_seconds = 1.5
[rate_limits.per_source]
UserAuthentication = 10
[rate_limits.per_client]
UserCreation = 0
"#,
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            rate_limit_per_source: Some("UserAuthentication=3, UserUpdate=4".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.cpu_queue_limit, 7);
        assert_eq!(c.session_prune_interval.as_secs(), 2);
        assert_eq!(c.rate_limits.burst_seconds, 1.5);
        assert_eq!(c.rate_limits.trusted_proxies.len(), 1);
        assert_eq!(
            rate(&c.rate_limits.per_source, Category::UserAuthentication),
            3.0
        );
        assert_eq!(rate(&c.rate_limits.per_source, Category::UserUpdate), 4.0);
        assert_eq!(rate(&c.rate_limits.per_client, Category::UserCreation), 0.0);
        let off = Config::load(&Overrides {
            config: Some(path),
            rate_limits: Some(Switch::Off),
            ..Default::default()
        })
        .unwrap();
        assert!(!off.rate_limits.enabled);
        for bad in ["Nonsense=3", "UserAuthentication", "UserAuthentication=-1"] {
            assert!(Config::load(&Overrides {
                rate_limit_per_client: Some(bad.into()),
                ..Default::default()
            })
            .is_err());
        }
        assert!(Config::load(&Overrides {
            trusted_proxies: Some(vec!["10.0.0.0/99".into()]),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn access_keys_from_env_form() {
        let keys = parse_access_keys(
            "AKIDAAAAAAAAAAAAAAA1:secretsecretsecret1,AKIDAAAAAAAAAAAAAAA2:secretsecretsecret2",
        )
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert!(parse_access_keys("nocolon").is_err());
        let bad = Overrides {
            account_id: Some("12".into()),
            ..Default::default()
        };
        assert!(Config::load(&bad).is_err());
    }

    #[test]
    fn weak_access_keys_only_when_allowed() {
        let weak = || Overrides {
            access_keys: Some("test:test".into()),
            ..Default::default()
        };
        let e = Config::load(&weak()).unwrap_err();
        assert!(
            e.contains("at least 16") && e.contains("allow_weak_access_keys"),
            "{e}"
        );
        let c = Config::load(&Overrides {
            allow_weak_access_keys: Some(true),
            ..weak()
        })
        .unwrap();
        assert_eq!(c.weak_access_keys(), ["test"]);
        let dir = tempfile_dir("weak");
        let path = dir.join("g.toml");
        std::fs::write(&path, "allow_weak_access_keys = true\n").unwrap();
        let c = Config::load(&Overrides {
            config: Some(path),
            ..weak()
        })
        .unwrap();
        assert!(c.allow_weak_access_keys);
        // Still letters and digits, and a secret.
        assert!(Config::load(&Overrides {
            access_keys: Some("te-st:test".into()),
            allow_weak_access_keys: Some(true),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn body_read_timeout_from_file_and_flag() {
        let c = Config::load(&Overrides::default()).unwrap();
        assert_eq!(c.body_read_timeout, std::time::Duration::from_secs(10));
        let dir = tempfile_dir("body");
        let path = dir.join("g.toml");
        std::fs::write(&path, "body_read_timeout_ms = 2500\n").unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.body_read_timeout, std::time::Duration::from_millis(2500));
        let c = Config::load(&Overrides {
            config: Some(path),
            body_read_timeout_ms: Some(700),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.body_read_timeout, std::time::Duration::from_millis(700));
        assert!(Config::load(&Overrides {
            body_read_timeout_ms: Some(0),
            ..Default::default()
        })
        .is_err());
    }
}
