//! The gatehouse binary's library: configuration, wiring and the `serve` / `migrate` commands.

pub mod config;
pub mod credentials;
pub mod seed;

use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use api::access::{AccessKey, AccessKeys, Policy};
use api::sigv4::Verifier;
use api::{AppState, Readiness};
use domain::ports::SystemClock;
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
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
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
    Ok(store)
}

/// The key-encryption keys: configured, or (embedded SQLite only) generated once into the data
/// directory. With Postgres every node must hold the same key, so it must be configured.
fn sealer(config: &Config) -> Result<Sealer, String> {
    let retired = config
        .previous_key_encryption_keys
        .iter()
        .map(|k| Kek::from_base64(k))
        .collect::<Result<Vec<_>, _>>()?;
    let current = match &config.key_encryption_key {
        Some(k) => Kek::from_base64(k)?,
        None if config.database_url.starts_with("sqlite:") => {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
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
    tracing::info!(key_id = %current.id(), retired = retired.len(), "secrets at rest are sealed with AES-256-GCM");
    Ok(Sealer::new(&current, &retired))
}

/// The keys this node accepts: configured ones, or the generated admin key.
fn access_keys(config: &Config) -> Result<AccessKeys, String> {
    let mut configured = config.access_keys.clone();
    if configured.is_empty() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
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

/// Delivery: messages are queued in the database and this node's dispatcher sends them through
/// the configured SMTP relay and SNS endpoint, or, for a channel with nothing configured, to the
/// developer outbox file in the data directory.
fn dispatcher(config: &Config, store: &SqlStore) -> Result<notify::Dispatcher, String> {
    let mut developer: Option<Arc<notify::DeveloperOutbox>> = None;
    let mut developer_outbox = || -> Result<Arc<dyn notify::Deliverer>, String> {
        if let Some(d) = &developer {
            return Ok(d.clone());
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        let d = Arc::new(notify::DeveloperOutbox::new(
            config.data_dir.join("outbox.jsonl"),
        ));
        developer = Some(d.clone());
        Ok(d)
    };
    let email: Arc<dyn notify::Deliverer> = match &config.smtp {
        Some(smtp) => {
            tracing::info!(host = %smtp.host, port = ?smtp.port, tls = ?smtp.tls, from = %smtp.from, "email goes out through SMTP");
            Arc::new(notify::SmtpDeliverer::new(smtp)?)
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
) -> actix_web::HttpResponse {
    use domain::ports::OutboxStore;
    match store.outbox_depth(&account.0).await {
        Ok(depth) => actix_web::HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(stats.render(depth)),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the outbox depth");
            actix_web::HttpResponse::ServiceUnavailable().finish()
        }
    }
}

struct AccountId(String);

pub async fn serve(config: Config) -> Result<(), String> {
    let store = open_store(&config).await?;
    store.spawn_invalidation_listener();
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
    let services = Services::with_sender(shared_store.clone(), clock.clone(), sender);
    let auth = auth_flows::AuthService::new(
        shared_store,
        clock,
        services.clone(),
        auth_flows::IssuerConfig::new(config.public_url.clone(), config.issuer_template.clone()),
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
        body_read_timeout: config.body_read_timeout,
    });
    let metrics_store = web::Data::new(store.clone());
    let account = web::Data::new(AccountId(config.account_id.clone()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(stats.clone())
            .app_data(metrics_store.clone())
            .app_data(account.clone())
            .configure(api::routes)
            .route("/metrics", web::get().to(metrics))
    })
    .workers(config.workers)
    .backlog(4096)
    .bind(config.listen)
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    for addr in server.addrs() {
        tracing::info!(listen = %addr, public_url = %config.public_url, "gatehouse listening");
    }
    if config.database_url.starts_with("sqlite:") {
        tracing::info!(data_dir = %config.data_dir.display(), database = %storage::redact(&config.database_url), "data kept in embedded SQLite");
    } else {
        tracing::info!(database = %storage::redact(&config.database_url), "data kept in Postgres");
    }
    let result = server
        .run()
        .await
        .map_err(|e| format!("server failed: {e}"));
    store.leave().await;
    result
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
