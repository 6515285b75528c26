//! Starts the real `gatehouse` binary on a free port and hands tests an unmodified
//! `aws-sdk-cognitoidentityprovider` client pointed at it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::config::{BehaviorVersion, Credentials, Region};

pub const ADMIN_KEY_ID: &str = "AKIDGATEHOUSETEST01";
pub const ADMIN_SECRET: &str = "gatehouse-test-secret-0123456789";
/// The key-encryption key every test node shares (nodes of one database must hold the same key).
pub const TEST_KEK: &str = "R2F0ZWhvdXNlIHRlc3Qga2V5LCBub3QgYSBzZWNyZXQ=";
pub const LIMITED_KEY_ID: &str = "AKIDGATEHOUSELIMITED";
pub const LIMITED_SECRET: &str = "gatehouse-limited-secret-012345";

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The Postgres backend when `GATEHOUSE_TEST_DATABASE_URL` names a database; `.ci/run` always sets it.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("GATEHOUSE_TEST_DATABASE_URL is not set: Postgres variant not run");
                None
            }
        }
    }
}

pub struct Server {
    child: Child,
    pub base_url: String,
    pub account_id: String,
    pub data_dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A random 12-digit account id, so tests sharing one Postgres database never see each other's pools.
pub fn random_account() -> String {
    let n: u64 = rand_u64() % 900_000_000_000 + 100_000_000_000;
    n.to_string()
}

fn rand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
    h.finish()
}

pub struct Options {
    pub backend: Backend,
    pub config_toml: Option<String>,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub default_keys: bool,
    pub account_id: Option<String>,
}

impl Options {
    pub fn new(backend: Backend) -> Self {
        Options {
            backend,
            config_toml: None,
            extra_args: vec![],
            env: vec![],
            default_keys: true,
            account_id: None,
        }
    }
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(Options::new(backend)).await
    }

    pub async fn start_with(opts: Options) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let account_id = opts.account_id.clone().unwrap_or_else(random_account);
        let database_url = match &opts.backend {
            Backend::Sqlite => format!("sqlite://{}", tmp.path().join("gatehouse.db").display()),
            Backend::Postgres(url) => url.clone(),
        };
        for attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
            cmd.arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--database-url")
                .arg(&database_url)
                .arg("--account-id")
                .arg(&account_id)
                .arg("--workers")
                .arg("2")
                .env_remove("GATEHOUSE_ACCESS_KEYS")
                .env_remove("DATABASE_URL")
                .env("GATEHOUSE_LOG_LEVEL", "warn")
                .env("GATEHOUSE_KEY_ENCRYPTION_KEY", TEST_KEK)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            if let Some(toml) = &opts.config_toml {
                let path = tmp.path().join("gatehouse.toml");
                std::fs::write(&path, toml).expect("write config");
                cmd.arg("--config").arg(path);
            } else if opts.default_keys {
                cmd.arg("--access-keys")
                    .arg(format!("{ADMIN_KEY_ID}:{ADMIN_SECRET}"));
            }
            cmd.args(&opts.extra_args);
            for (k, v) in &opts.env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("spawn gatehouse");
            let mut server = Server {
                child,
                base_url: format!("http://127.0.0.1:{port}"),
                account_id: account_id.clone(),
                data_dir: data_dir.clone(),
                _tmp: tempfile::tempdir().expect("tempdir"),
            };
            if server.wait_healthy().await {
                server._tmp = tmp;
                return server;
            }
            eprintln!("gatehouse did not come up on port {port} (attempt {attempt}); retrying");
        }
        panic!("gatehouse did not start");
    }

    async fn wait_healthy(&mut self) -> bool {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(r) = http.get(format!("{}/health", self.base_url)).send().await {
                if r.status().is_success() {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn client(&self) -> cognito::Client {
        self.client_for("us-east-1", ADMIN_KEY_ID, ADMIN_SECRET)
    }

    pub fn client_for(&self, region: &str, key_id: &str, secret: &str) -> cognito::Client {
        let conf = cognito::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.base_url)
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                key_id,
                secret,
                None,
                None,
                "gatehouse-tests",
            ))
            .build();
        cognito::Client::from_conf(conf)
    }

    pub fn pool_arn(&self, region: &str, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{region}:{}:userpool/{pool_id}",
            self.account_id
        )
    }
}

/// Generates one test per backend for each named async fn taking a [`Backend`].
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::harness::Backend::postgres() {
                        super::$name(b).await;
                    }
                }
            )*
        }
    };
}

/// The service error's code, for asserting on SDK errors.
pub fn error_code<E, R>(err: &cognito::error::SdkError<E, R>) -> String
where
    E: cognito::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => e.code().unwrap_or("<no code>").to_string(),
        None => format!("<not a service error: {err:?}>"),
    }
}

pub fn error_message<E, R>(err: &cognito::error::SdkError<E, R>) -> String
where
    E: cognito::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .unwrap_or("")
        .to_string()
}
