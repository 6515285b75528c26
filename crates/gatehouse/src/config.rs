//! Configuration: defaults, then a TOML file (`--config`), then environment (`GATEHOUSE_*`,
//! `DATABASE_URL`), then flags. See config/gatehouse.example.toml for every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use api::access::Policy;
use clap::{Args, Parser, Subcommand};
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
    /// Milliseconds a client may take to send a request body once its headers are in
    /// (default 10000); slower senders are answered and disconnected.
    #[arg(long, env = "GATEHOUSE_BODY_READ_TIMEOUT_MS")]
    pub body_read_timeout_ms: Option<u64>,
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
    pub body_read_timeout_ms: Option<u64>,
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
    /// Deadline for receiving a request body.
    pub body_read_timeout: std::time::Duration,
}

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
            body_read_timeout: o
                .body_read_timeout_ms
                .or(file.body_read_timeout_ms)
                .map(std::time::Duration::from_millis)
                .unwrap_or(api::server::DEFAULT_BODY_READ_TIMEOUT),
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
            if k.id.len() < 16 || !k.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "access key id '{}' must be at least 16 letters and digits",
                    k.id
                ));
            }
            if k.secret.len() < 16 {
                return Err(format!(
                    "the secret of access key '{}' is too short (16 characters at least)",
                    k.id
                ));
            }
        }
        Ok(())
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
