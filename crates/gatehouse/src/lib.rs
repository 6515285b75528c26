//! The gatehouse binary's library: configuration, wiring and the `serve` / `migrate` commands.

pub mod config;
pub mod credentials;
mod http_server;
pub mod seed;

use std::sync::Arc;

use actix_web::{web, App};
use api::access::{AccessKey, AccessKeys, Policy};
use api::sigv4::Verifier;
use api::{AppState, Readiness};
use domain::ports::SystemClock;
use domain::services::directory::codes::CodeSettings;
use domain::services::Services;
use storage::{Kek, Sealer, SqlStore};

use crate::config::{Cli, Command, Config, LogFormat};

struct DbReadiness(SqlStore);

#[async_trait::async_trait]
impl Readiness for DbReadiness {
    async fn ready(&self) -> bool {
        self.0.ping().await.is_ok()
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn open_store(config: &Config) -> Result<SqlStore, String> {
    if config.database_url.starts_with("sqlite:") {
        ensure_data_dir(config)?;
        private_sqlite_files(&config.database_url)?;
    }
    let sealer = sealer(config)?;
    let store = SqlStore::connect(&config.database_url, config.database_max_connections)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?
        .with_sealer(sealer)
        .with_user_cache_capacity(config.user_cache_capacity);
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    store.check_sealing_key().await.map_err(|e| e.to_string())?;
    if config.database_url.starts_with("sqlite:") {
        // SQLite has made its -wal and -shm files by now.
        private_sqlite_files(&config.database_url)?;
    }
    // Once per database: password states from before sealing are sealed, and from then on only
    // sealed ones are accepted.
    store
        .seal_legacy_password_states()
        .await
        .map_err(|e| format!("sealing stored password states failed: {e}"))?;
    Ok(store)
}

/// The data directory holds the generated key-encryption key, the admin credentials, the
/// developer outbox and usually the database: it is created, or narrowed to, owner-only (0700).
fn ensure_data_dir(config: &Config) -> Result<(), String> {
    let dir = &config.data_dir;
    let err = |e: std::io::Error| format!("cannot create data directory {}: {e}", dir.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let mode = std::fs::metadata(dir).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(err)?;
            tracing::info!(data_dir = %dir.display(), "narrowed the data directory to its owner (0700)");
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(err)?;
    Ok(())
}

/// The SQLite file of `url` (None for in-memory databases).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The SQLite database and its -wal / -shm files are readable by their owner only (0600): they
/// hold users, password hashes and code hashes. A missing database file is created empty with
/// that mode before SQLite opens it, so it is never readable by others even for a moment; the
/// -wal / -shm files SQLite makes take the database file's mode.
fn private_sqlite_files(url: &str) -> Result<(), String> {
    let Some(db) = sqlite_path(url) else {
        return Ok(());
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let err = |p: &std::path::Path, e: std::io::Error| {
            format!("cannot restrict the database file {}: {e}", p.display())
        };
        if !db.exists() {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&db)
            {
                Ok(_) => {}
                // Another process created it first; its mode is narrowed below.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(err(&db, e)),
            }
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            let path = std::path::PathBuf::from(name);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o600))
                    .map_err(|e| err(&path, e))?;
            }
        }
    }
    Ok(())
}

/// The key-encryption keys: configured, or (embedded SQLite only) generated once into the data
/// directory. With Postgres every node must hold the same key, so it must be configured.
fn sealer(config: &Config) -> Result<Sealer, String> {
    let (current, retired) = key_encryption_keys(config)?;
    tracing::info!(key_id = %current.id(), retired = retired.len(), "secrets at rest are sealed with AES-256-GCM");
    Ok(Sealer::new(&current, &retired))
}

/// The current key-encryption key and the retired ones.
fn key_encryption_keys(config: &Config) -> Result<(Kek, Vec<Kek>), String> {
    let retired = config
        .previous_key_encryption_keys
        .iter()
        .map(|k| Kek::from_base64(k))
        .collect::<Result<Vec<_>, _>>()?;
    let current = match &config.key_encryption_key {
        Some(k) => Kek::from_base64(k)?,
        None if config.database_url.starts_with("sqlite:") => {
            ensure_data_dir(config)?;
            let (kek, created) = credentials::ensure_key_encryption_key(&config.data_dir)?;
            if created {
                tracing::info!(key_id = %kek.id(), "generated a key-encryption key in the data directory; back it up with the database");
            }
            kek
        }
        None => {
            return Err("a key-encryption key is required with Postgres: set GATEHOUSE_KEY_ENCRYPTION_KEY to 32 random \
                        bytes in base64 (for example `openssl rand -base64 32`), the same on every node"
                .into())
        }
    };
    Ok((current, retired))
}

/// The secret decoy identities of unknown users derive from (PreventUserExistenceErrors): from the
/// current key-encryption key, so every node agrees and rotating a pool's signing keys does not
/// change them (a change would tell decoys from real users, whose salts stay).
///
/// Code challenges' Sessions are sealed under another key derived from it: every node opens what
/// any node sealed. A new KEK ends the sign-ins in flight at that moment (their users sign in
/// again).
fn sign_in_secrets(current: &Kek) -> auth_flows::SignInSecrets {
    auth_flows::SignInSecrets {
        decoy: *current.derive("gatehouse/decoy-identities/v1"),
        sessions: *current.derive("gatehouse/challenge-sessions/v1"),
    }
}

/// The key one-time codes are hashed under, derived from the current key-encryption key (every
/// node holds the same one), and the configured limits. A new KEK makes outstanding codes
/// unusable; their users ask for new ones.
fn code_settings(config: &Config, current: &Kek) -> Arc<CodeSettings> {
    Arc::new(CodeSettings::new(
        current.derive("gatehouse/one-time-codes/v1"),
        config.codes,
    ))
}

/// The keys this node accepts: configured ones, or the generated admin key.
fn access_keys(config: &Config) -> Result<AccessKeys, String> {
    let mut configured = config.access_keys.clone();
    if configured.is_empty() {
        ensure_data_dir(config)?;
        let (key, created) = credentials::ensure_admin_key(&config.data_dir)?;
        let path = credentials::credentials_path(&config.data_dir);
        if created {
            tracing::info!(access_key_id = %key.id, file = %path.display(), "created an admin access key (no access key was configured)");
        } else {
            tracing::info!(access_key_id = %key.id, file = %path.display(), "using the generated admin access key");
        }
        tracing::info!(
            "use it with: AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={} AWS_DEFAULT_REGION={} aws cognito-idp list-user-pools --max-results 10 --endpoint-url {}",
            path.display(),
            credentials::PROFILE,
            config.region,
            config.public_url
        );
        configured.push(key);
    }
    Ok(AccessKeys::new(
        configured
            .into_iter()
            .map(|k| {
                let name = k.name.clone().unwrap_or_else(|| k.id.clone());
                let policies = if k.allow.is_empty() {
                    vec![Policy::allow_all()]
                } else {
                    k.allow.clone()
                };
                AccessKey::new(k.id, k.secret, name, policies)
            })
            .collect(),
    ))
}

/// The email senders pools may name: the configured allow-list and the SMTP sender.
fn sender_policy(config: &Config) -> domain::services::directory::SenderPolicy {
    domain::services::directory::SenderPolicy::new(
        &config.allowed_email_senders,
        config.smtp.as_ref().map(|s| s.from.as_str()),
    )
}

/// Delivery: messages are queued in the database and this node's dispatcher sends them through
/// the configured SMTP relay and SNS endpoint, or, for a channel with nothing configured, to the
/// developer outbox file in the data directory.
fn dispatcher(config: &Config, store: &SqlStore) -> Result<notify::Dispatcher, String> {
    let mut developer: Option<Arc<notify::DeveloperOutbox>> = None;
    let mut developer_outbox = || -> Result<Arc<dyn notify::Deliverer>, String> {
        if let Some(d) = &developer {
            return Ok(d.clone());
        }
        ensure_data_dir(config)?;
        let d = Arc::new(notify::DeveloperOutbox::new(
            config.data_dir.join("outbox.jsonl"),
        ));
        developer = Some(d.clone());
        Ok(d)
    };
    let email: Arc<dyn notify::Deliverer> = match &config.smtp {
        Some(smtp) => {
            tracing::info!(host = %smtp.host, port = ?smtp.port, tls = ?smtp.tls, from = %smtp.from, "email goes out through SMTP");
            Arc::new(notify::SmtpDeliverer::new(smtp)?.with_sender_policy(sender_policy(config)))
        }
        None => {
            tracing::info!(file = %config.data_dir.join("outbox.jsonl").display(), "no SMTP relay configured: email goes to the developer outbox");
            developer_outbox()?
        }
    };
    let sms: Arc<dyn notify::Deliverer> = match &config.sns {
        Some(sns) => {
            tracing::info!(endpoint = ?sns.endpoint, region = %sns.region, "SMS goes out through SNS");
            Arc::new(notify::SnsDeliverer::new(sns))
        }
        None => {
            tracing::info!(file = %config.data_dir.join("outbox.jsonl").display(), "no SNS configured: SMS goes to the developer outbox");
            developer_outbox()?
        }
    };
    Ok(notify::Dispatcher::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        config.account_id.clone(),
        email,
        sms,
    ))
}

/// `GET /metrics`: delivery counters of this node and the outbox depth, in Prometheus text format.
async fn metrics(
    stats: web::Data<notify::DeliveryStats>,
    store: web::Data<SqlStore>,
    account: web::Data<AccountId>,
    state: web::Data<AppState>,
) -> actix_web::HttpResponse {
    use domain::ports::OutboxStore;
    match store.outbox_depth(&account.0).await {
        Ok(depth) => actix_web::HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(format!(
                "{}{}",
                stats.render(depth),
                signing_key_metrics(&state.auth)
            )),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the outbox depth");
            actix_web::HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// How often this node read signing keys from the database: a token with an unknown kid may
/// cause a read, at most one per pool every few seconds.
fn signing_key_metrics(auth: &auth_flows::AuthService) -> String {
    format!(
        "# HELP gatehouse_signing_key_reads_total Reads of token signing keys from the database by this node.\n\
         # TYPE gatehouse_signing_key_reads_total counter\n\
         gatehouse_signing_key_reads_total {}\n",
        auth.keys().key_reads()
    )
}

struct AccountId(String);

/// Deletes expired challenge and token sessions, unknown-name lockout rows that have gone quiet
/// and stale code-limit counters every `every`, on every node (the deletes are idempotent, so nodes only share the work). Without it, each sign-in started and never
/// finished would leave its row behind for good.
fn spawn_session_pruner(store: SqlStore, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now_ms = domain::ports::Clock::now_ms(&SystemClock);
            match store.prune_expired_sessions(now_ms).await {
                Ok((0, 0)) => {}
                Ok((challenges, tokens)) => {
                    tracing::info!(challenges, tokens, "pruned expired sign-in sessions")
                }
                Err(e) => tracing::warn!(error = %e, "session prune failed"),
            }
            let counters = [
                (
                    "unknown-name sign-in failures",
                    store.prune_quiet_unknown_failures(now_ms).await,
                ),
                (
                    "code limit counters",
                    store.prune_stale_code_limits(now_ms).await,
                ),
                (
                    "unconfirmed devices",
                    store.prune_unconfirmed_devices(now_ms).await,
                ),
            ];
            for (what, pruned) in counters {
                match pruned {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "pruned stale {what}"),
                    Err(e) => tracing::warn!(error = %e, "pruning {what} failed"),
                }
            }
        }
    });
}

pub async fn serve(config: Config) -> Result<(), String> {
    // Before anything can hash: the bound of the CPU queue.
    domain::services::directory::password::set_queue_limit(config.cpu_queue_limit);
    let weak = config.weak_access_keys();
    if config.allow_weak_access_keys && !weak.is_empty() {
        // At every start, so a test set-up that reaches production cannot go unnoticed.
        tracing::warn!(
            keys = ?weak,
            "allow_weak_access_keys is on and these access keys are shorter than 16 characters: \
             anyone who guesses them administers every pool; use this for tests only"
        );
    }
    let store = open_store(&config).await?;
    store.spawn_invalidation_listener();
    spawn_session_pruner(store.clone(), config.session_prune_interval);
    let keys = Arc::new(access_keys(&config)?);
    let shared_store: Arc<dyn domain::ports::Store> = Arc::new(store.clone());
    let clock = Arc::new(SystemClock);
    let dispatcher = dispatcher(&config, &store)?;
    let sender = Arc::new(notify::OutboxSender::new(
        Arc::new(store.clone()),
        clock.clone(),
        dispatcher.waker(),
    ));
    let stats = web::Data::from(dispatcher.stats());
    dispatcher.spawn();
    // One read of the key-encryption key for the secrets derived from it.
    let (kek, _) = key_encryption_keys(&config)?;
    let services = Services::with_sender_and_policy(
        shared_store.clone(),
        clock.clone(),
        sender,
        sender_policy(&config),
    )
    .with_code_settings(code_settings(&config, &kek))
    .with_triggers(triggers(&config)?);
    let auth = auth_flows::AuthService::new(
        shared_store,
        clock,
        services.clone(),
        auth_flows::IssuerConfig::new(config.public_url.clone(), config.issuer_template.clone()),
        sign_in_secrets(&kek),
    );
    // The SRP tables are built once here rather than on the first sign-in.
    cognito_srp::precompute();
    let state = web::Data::new(AppState {
        services,
        auth,
        verifier: Verifier::new(keys, config.regions.clone()),
        account_id: config.account_id.clone(),
        default_region: config.region.clone(),
        readiness: Arc::new(DbReadiness(store.clone())),
        throttle: api::throttle::Throttle::new(config.rate_limits.clone()),
        body_read_timeout: config.body_read_timeout,
    });
    let metrics_store = web::Data::new(store.clone());
    let account = web::Data::new(AccountId(config.account_id.clone()));
    let server = http_server::serve(config.listen, config.workers, move || {
        App::new()
            .app_data(state.clone())
            .app_data(stats.clone())
            .app_data(metrics_store.clone())
            .app_data(account.clone())
            .configure(api::routes)
            .route("/metrics", web::get().to(metrics))
    })
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "gatehouse listening");
    if config.database_url.starts_with("sqlite:") {
        tracing::info!(data_dir = %config.data_dir.display(), database = %storage::redact(&config.database_url), "data kept in embedded SQLite");
    } else {
        tracing::info!(database = %storage::redact(&config.database_url), "data kept in Postgres");
    }
    let result = server.await.map_err(|e| format!("server failed: {e}"));
    store.leave().await;
    result
}

/// The pools' triggers: the configured endpoints as signed webhooks.
fn triggers(config: &Config) -> Result<domain::services::triggers::Triggers, String> {
    let invoker = webhooks::WebhookInvoker::new(config.triggers.clone())?;
    if !config.triggers.is_empty() {
        tracing::info!(
            endpoints = config.triggers.len(),
            "trigger endpoints configured"
        );
    }
    Ok(domain::services::triggers::Triggers::new(
        Arc::new(invoker),
        config.allow_unresolved_trigger_arns,
    ))
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(o) => {
            let config = Config::load(&o)?;
            init_logging(&config);
            serve(config).await
        }
        Command::Migrate(o) => {
            let config = Config::load(&o)?;
            init_logging(&config);
            open_store(&config).await?;
            tracing::info!(database = %storage::redact(&config.database_url), "migrations applied");
            Ok(())
        }
        Command::RotateSigningKeys(r) => {
            let config = Config::load(&r.overrides)?;
            init_logging(&config);
            let store: Arc<dyn domain::ports::Store> = Arc::new(open_store(&config).await?);
            if store
                .get_user_pool(&r.pool_id)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!("no user pool {}", r.pool_id));
            }
            let keys = auth_flows::KeyRing::new(store, Arc::new(SystemClock));
            let ring = keys
                .rotate(&r.pool_id)
                .await
                .map_err(|e| format!("rotation failed: {}", e.message))?;
            // Other nodes pick the new keys up within a minute, or at once for unknown kids.
            println!("{}", ring.jwks());
            Ok(())
        }
        Command::SeedUsers(args) => {
            let config = Config::load(&args.overrides)?;
            init_logging(&config);
            let store = open_store(&config).await?;
            seed::seed_users(store, &args).await
        }
    }
}
