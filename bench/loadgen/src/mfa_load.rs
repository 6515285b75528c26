//! MFA and device benchmarks of issue 14 (bench/mfa.sh), against users made by
//! `gatehouse seed-users` (`user0000000`…; every tenth needs a new password and every twentieth is
//! disabled, so those are skipped).
//!
//! - `enrol-totp`: signs each user in once and sets up TOTP (Associate, Verify, prefer), writing
//!   the secrets to a file.
//! - `totp-sign-ins`: password + TOTP sign-ins (both calls) for `seconds`, from `concurrency`
//!   clients; each code is for a step the user has not used (the server accepts a step once).
//! - `answers`: opens one SOFTWARE_TOKEN_MFA challenge per user (not measured), then measures
//!   answering them all; then measures REFRESH_TOKEN_AUTH with the refresh tokens that came back,
//!   as many requests at the same concurrency, so the two rates come from one run.
//! - `device`: confirms a remembered device per user (not measured), opens a DEVICE_SRP_AUTH
//!   challenge per user (not measured), then measures the two device SRP round trips with the
//!   server's CPU per sign-in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::api::Api;
use crate::cpu;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// enrol-totp | totp-sign-ins | answers | device
    phase: String,
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    pool_id: String,
    #[arg(long)]
    client_id: String,
    /// Seeded users to use (user0000000 .. this many, minus the unusable ones).
    #[arg(long, default_value_t = 2000)]
    users: u64,
    #[arg(long, env = "BENCH_PASSWORD")]
    password: String,
    /// TOTP secrets: written by enrol-totp, read by the other TOTP phases.
    #[arg(long)]
    secrets: std::path::PathBuf,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long)]
    server_pid: Option<u32>,
    /// Postgres database the server uses, to report its backends' CPU too.
    #[arg(long)]
    db_name: Option<String>,
}

fn usable(i: u64) -> bool {
    i % 10 != 3 && i % 20 != 7
}

fn name(i: u64) -> String {
    format!("user{i:07}")
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn code(secret: &str, step: i64) -> Result<String, String> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|e| format!("secret: {e:?}"))?;
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes)
        .map_err(|e| format!("totp: {e:?}"))?;
    Ok(t.generate((step * 30) as u64))
}

/// A user with a TOTP secret and the last step the server accepted from it.
struct Enrolled {
    name: String,
    secret: String,
    last_step: Mutex<i64>,
}

impl Enrolled {
    /// The code of the earliest step the server will still take (now, or the next one within
    /// the drift), claiming it; None when both are used.
    fn next_code(&self) -> Result<Option<String>, String> {
        let now = now_s().div_euclid(30);
        let mut last = self.last_step.lock().map_err(|_| "poisoned")?;
        let step = (*last + 1).max(now);
        if step > now + 1 {
            return Ok(None);
        }
        *last = step;
        code(&self.secret, step).map(Some)
    }
}

fn read_secrets(path: &std::path::Path) -> Result<Vec<Arc<Enrolled>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut p = l.split(' ');
            Some(Arc::new(Enrolled {
                name: p.next()?.to_string(),
                secret: p.next()?.to_string(),
                last_step: Mutex::new(p.next()?.parse().ok()?),
            }))
        })
        .collect())
}

/// Writes the secrets back with the steps used since, so the next phase claims only later ones.
fn write_secrets(path: &std::path::Path, users: &[Arc<Enrolled>]) -> Result<(), String> {
    let mut out = String::new();
    for u in users {
        let last = *u.last_step.lock().map_err(|_| "poisoned")?;
        out.push_str(&format!("{} {} {last}\n", u.name, u.secret));
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `work` over `items` from `concurrency` workers; the first error stops the run.
async fn drain<T, F, Fut, R>(items: Vec<T>, concurrency: usize, work: F) -> Result<Vec<R>, String>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<R, String>> + Send,
{
    let queue = Arc::new(Mutex::new(VecDeque::from(items)));
    let work = Arc::new(work);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (queue, work) = (queue.clone(), work.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let item = queue.lock().map_err(|_| "poisoned")?.pop_front();
                    let Some(item) = item else {
                        return Ok::<_, String>(out);
                    };
                    out.push(work(item).await?);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}

fn text(v: &Value, path: &[&str]) -> Result<String, String> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {} in {v}", path.join(".")))
}

struct CpuWindow {
    pid: Option<String>,
    server0: Option<u64>,
    db: Option<(String, u64)>,
    own0: u64,
    machine0: cpu::Machine,
    started: Instant,
}

/// Where a window's CPU went, in milliseconds.
struct CpuSpent {
    server: Option<f64>,
    db: Option<f64>,
    loadgen: f64,
    machine_busy: f64,
}

impl CpuWindow {
    fn start(a: &Args) -> Result<CpuWindow, String> {
        let pid = a.server_pid.map(|p| p.to_string());
        let server0 = pid.as_deref().map(cpu::process_ticks).transpose()?;
        let db = a.db_name.as_ref().map(|d| {
            let needle = format!(" {d} ");
            let t0 = cpu::matching_ticks(&needle);
            (needle, t0)
        });
        Ok(CpuWindow {
            pid,
            server0,
            db,
            own0: cpu::process_ticks("self")?,
            machine0: cpu::machine(),
            started: Instant::now(),
        })
    }

    /// Elapsed seconds and the server's CPU milliseconds since `start`.
    fn end(&self) -> Result<(f64, Option<f64>), String> {
        let (elapsed, spent) = self.end_all()?;
        Ok((elapsed, spent.server))
    }

    fn end_all(&self) -> Result<(f64, CpuSpent), String> {
        let elapsed = self.started.elapsed().as_secs_f64();
        let server = match (&self.pid, self.server0) {
            (Some(p), Some(t0)) => Some(cpu::ticks_ms(cpu::process_ticks(p)? - t0)),
            _ => None,
        };
        let db = self
            .db
            .as_ref()
            .map(|(n, t0)| cpu::ticks_ms(cpu::matching_ticks(n).saturating_sub(*t0)));
        let loadgen = cpu::ticks_ms(cpu::process_ticks("self")? - self.own0);
        let machine_busy = cpu::machine().since(&self.machine0).busy_ms();
        Ok((
            elapsed,
            CpuSpent {
                server,
                db,
                loadgen,
                machine_busy,
            },
        ))
    }
}

pub async fn run(a: Args) -> Result<(), String> {
    let api = Arc::new(Api::new(&a.endpoint, a.concurrency)?);
    match a.phase.as_str() {
        "enrol-totp" => enrol(api, a).await,
        "totp-sign-ins" => totp_sign_ins(api, a).await,
        "answers" => answers(api, a).await,
        "device" => device(api, a).await,
        other => Err(format!("unknown phase {other}")),
    }
}

async fn password(api: &Api, client: &str, user: &str, pw: &str) -> Result<Value, String> {
    api.password_sign_in(client, user, pw).await
}

async fn enrol(api: Arc<Api>, a: Args) -> Result<(), String> {
    let users: Vec<u64> = (0..a.users).filter(|i| usable(*i)).collect();
    let (client, pw) = (a.client_id.clone(), a.password.clone());
    let lines = drain(users, a.concurrency, move |i| {
        let (api, client, pw) = (api.clone(), client.clone(), pw.clone());
        async move {
            let user = name(i);
            let r = password(&api, &client, &user, &pw).await?;
            let access = text(&r, &["AuthenticationResult", "AccessToken"])?;
            let s = api
                .call("AssociateSoftwareToken", &json!({"AccessToken": access}))
                .await?;
            let secret = text(&s, &["SecretCode"])?;
            let step = now_s().div_euclid(30);
            api.call(
                "VerifySoftwareToken",
                &json!({"AccessToken": access, "UserCode": code(&secret, step)?}),
            )
            .await?;
            api.call(
                "SetUserMFAPreference",
                &json!({"AccessToken": access,
                        "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}),
            )
            .await?;
            Ok(format!("{user} {secret} {step}\n"))
        }
    })
    .await?;
    std::fs::write(&a.secrets, lines.concat()).map_err(|e| e.to_string())?;
    println!("enrolled {} users", lines.len());
    Ok(())
}

async fn answer_totp(
    api: &Api,
    client: &str,
    user: &Enrolled,
    session: &str,
) -> Result<Option<Value>, String> {
    let Some(code) = user.next_code()? else {
        return Ok(None);
    };
    answer_code(api, client, user, session, &code)
        .await
        .map(Some)
}

async fn answer_code(
    api: &Api,
    client: &str,
    user: &Enrolled,
    session: &str,
    code: &str,
) -> Result<Value, String> {
    api
        .call(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": client, "Session": session,
                    "ChallengeResponses": {"USERNAME": user.name, "SOFTWARE_TOKEN_MFA_CODE": code}}),
        )
        .await
}

async fn totp_sign_ins(api: Arc<Api>, a: Args) -> Result<(), String> {
    let users = Arc::new(read_secrets(&a.secrets)?);
    let next = Arc::new(AtomicU64::new(0));
    let (done, skipped) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let window = CpuWindow::start(&a)?;
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|_| {
            let (api, users, next, done, skipped) = (
                api.clone(),
                users.clone(),
                next.clone(),
                done.clone(),
                skipped.clone(),
            );
            let (client, pw) = (a.client_id.clone(), a.password.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize % users.len();
                    let u = &users[i];
                    // A user whose next steps are spent is passed over before any request.
                    let Some(code) = u.next_code()? else {
                        skipped.fetch_add(1, Ordering::SeqCst);
                        continue;
                    };
                    let r = password(&api, &client, &u.name, &pw).await?;
                    let session = text(&r, &["Session"])?;
                    let t = answer_code(&api, &client, u, &session, &code).await?;
                    text(&t, &["AuthenticationResult", "AccessToken"])?;
                    done.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let (elapsed, spent) = window.end_all()?;
    write_secrets(&a.secrets, &users)?;
    let n = done.load(Ordering::SeqCst);
    let per = |ms: f64| ms / n.max(1) as f64;
    println!(
        "RESULT totp_sign_ins_per_s={:.2} sign_ins={n} skipped={} seconds={elapsed:.1} server_cpu_ms_per_sign_in={:.2} db_cpu_ms_per_sign_in={:.2} loadgen_cpu_ms_per_sign_in={:.2} machine_busy_ms_per_sign_in={:.2}",
        n as f64 / elapsed,
        skipped.load(Ordering::SeqCst),
        spent.server.map_or(f64::NAN, per),
        spent.db.map_or(f64::NAN, per),
        per(spent.loadgen),
        per(spent.machine_busy),
    );
    Ok(())
}

async fn answers(api: Arc<Api>, a: Args) -> Result<(), String> {
    let all = read_secrets(&a.secrets)?;
    let users = all.clone();
    // Every user needs a step of its own when answering: wait until the latest step any user
    // has spent is the current one (at most a minute after the sign-in runs).
    let latest = all
        .iter()
        .map(|u| {
            u.last_step
                .lock()
                .map(|l| *l)
                .map_err(|_| "poisoned".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    while now_s().div_euclid(30) < latest {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (client, pw) = (a.client_id.clone(), a.password.clone());
    // Not measured: one open challenge per user (each costs the password's argon2id).
    let api2 = api.clone();
    let sessions = drain(users, a.concurrency, move |u| {
        let (api, client, pw) = (api2.clone(), client.clone(), pw.clone());
        async move {
            let r = password(&api, &client, &u.name, &pw).await?;
            Ok((u, text(&r, &["Session"])?))
        }
    })
    .await?;
    let total = sessions.len();
    let client = a.client_id.clone();
    let api2 = api.clone();
    let window = CpuWindow::start(&a)?;
    let refresh_tokens = drain(sessions, a.concurrency, move |(u, session)| {
        let (api, client) = (api2.clone(), client.clone());
        async move {
            match answer_totp(&api, &client, &u, &session).await? {
                Some(t) => Ok(Some(text(&t, &["AuthenticationResult", "RefreshToken"])?)),
                None => Ok(None),
            }
        }
    })
    .await?;
    let (answer_s, answer_spent) = window.end_all()?;
    let answer_cpu = answer_spent.server;
    write_secrets(&a.secrets, &all)?;
    let refresh_tokens: Vec<String> = refresh_tokens.into_iter().flatten().collect();
    let answered = refresh_tokens.len();

    let client = a.client_id.clone();
    let api2 = api.clone();
    let window = CpuWindow::start(&a)?;
    let refreshed = drain(refresh_tokens, a.concurrency, move |rt| {
        let (api, client) = (api2.clone(), client.clone());
        async move {
            let r = api
                .call(
                    "InitiateAuth",
                    &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client,
                            "AuthParameters": {"REFRESH_TOKEN": rt}}),
                )
                .await?;
            text(&r, &["AuthenticationResult", "AccessToken"]).map(|_| ())
        }
    })
    .await?
    .len();
    let (refresh_s, refresh_spent) = window.end_all()?;
    let refresh_cpu = refresh_spent.server;
    let answer_rate = answered as f64 / answer_s;
    let refresh_rate = refreshed as f64 / refresh_s;
    println!(
        "RESULT totp_answers_per_s={answer_rate:.1} answers={answered} sessions={total} refresh_per_s={refresh_rate:.1} refreshes={refreshed} ratio_pct={:.1} server_cpu_ms_per_answer={:.3} server_cpu_ms_per_refresh={:.3}",
        100.0 * answer_rate / refresh_rate,
        answer_cpu.map_or(f64::NAN, |c| c / answered.max(1) as f64),
        refresh_cpu.map_or(f64::NAN, |c| c / refreshed.max(1) as f64),
    );
    // Where the rest of the machine went (Postgres backends, the load generator).
    println!(
        "RESULT db_cpu_ms_per_answer={:.3} db_cpu_ms_per_refresh={:.3} loadgen_cpu_ms_per_answer={:.3} loadgen_cpu_ms_per_refresh={:.3}",
        answer_spent.db.map_or(f64::NAN, |c| c / answered.max(1) as f64),
        refresh_spent.db.map_or(f64::NAN, |c| c / refreshed.max(1) as f64),
        answer_spent.loadgen / answered.max(1) as f64,
        refresh_spent.loadgen / refreshed.max(1) as f64,
    );
    Ok(())
}

/// A device the load generator confirmed: its keys and its secret.
struct Device {
    user: String,
    key: String,
    group: String,
    secret: String,
}

async fn device(api: Arc<Api>, a: Args) -> Result<(), String> {
    let users: Vec<u64> = (0..a.users).filter(|i| usable(*i)).collect();
    let (client, pw) = (a.client_id.clone(), a.password.clone());
    // Not measured: a confirmed, remembered device per user.
    let api2 = api.clone();
    let devices = drain(users, a.concurrency, move |i| {
        let (api, client, pw) = (api2.clone(), client.clone(), pw.clone());
        async move {
            let user = name(i);
            let r = password(&api, &client, &user, &pw).await?;
            let access = text(&r, &["AuthenticationResult", "AccessToken"])?;
            let key = text(&r, &["AuthenticationResult", "NewDeviceMetadata", "DeviceKey"])?;
            let group = text(
                &r,
                &["AuthenticationResult", "NewDeviceMetadata", "DeviceGroupKey"],
            )?;
            let secret = format!("bench-device-{i}");
            let (k, g, s) = (key.clone(), group.clone(), secret.clone());
            let (verifier, salt) = tokio::task::spawn_blocking(move || {
                cognito_srp::Verifier::generate(&g, &k, &s).to_device_config()
            })
            .await
            .map_err(|e| e.to_string())?;
            api.call(
                "ConfirmDevice",
                &json!({"AccessToken": access, "DeviceKey": key, "DeviceName": "bench",
                        "DeviceSecretVerifierConfig": {"PasswordVerifier": verifier, "Salt": salt}}),
            )
            .await?;
            Ok(Device {
                user,
                key,
                group,
                secret,
            })
        }
    })
    .await?;
    // Not measured: the password step of each device sign-in.
    let (client, pw) = (a.client_id.clone(), a.password.clone());
    let api2 = api.clone();
    let challenges = drain(devices, a.concurrency, move |d| {
        let (api, client, pw) = (api2.clone(), client.clone(), pw.clone());
        async move {
            let r = api
                .call(
                    "InitiateAuth",
                    &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                            "AuthParameters": {"USERNAME": d.user, "PASSWORD": pw, "DEVICE_KEY": d.key}}),
                )
                .await?;
            if r["ChallengeName"] != "DEVICE_SRP_AUTH" {
                return Err(format!("expected DEVICE_SRP_AUTH, got {r}"));
            }
            Ok((d, text(&r, &["Session"])?))
        }
    })
    .await?;
    let total = challenges.len();
    let client = a.client_id.clone();
    let api2 = api.clone();
    let window = CpuWindow::start(&a)?;
    drain(challenges, a.concurrency, move |(d, session)| {
        let (api, client) = (api2.clone(), client.clone());
        async move {
            let srp = tokio::task::spawn_blocking(cognito_srp::client::ClientSession::new)
                .await
                .map_err(|e| e.to_string())?;
            let step = api
                .call(
                    "RespondToAuthChallenge",
                    &json!({"ChallengeName": "DEVICE_SRP_AUTH", "ClientId": client, "Session": session,
                            "ChallengeResponses": {"USERNAME": d.user, "DEVICE_KEY": d.key, "SRP_A": srp.srp_a_hex()}}),
                )
                .await?;
            let p = &step["ChallengeParameters"];
            let (salt, srp_b, block) = (
                text(p, &["SALT"])?,
                text(p, &["SRP_B"])?,
                text(p, &["SECRET_BLOCK"])?,
            );
            let ts = cognito_srp::format_timestamp(now_s());
            let (g, k, s, t, blk) = (
                d.group.clone(),
                d.key.clone(),
                d.secret.clone(),
                ts.clone(),
                block.clone(),
            );
            let signature = tokio::task::spawn_blocking(move || {
                srp.sign_device(&g, &k, &s, &salt, &srp_b, &blk, "", &t)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("client SRP: {e:?}"))?;
            let r = api
                .call(
                    "RespondToAuthChallenge",
                    &json!({"ChallengeName": "DEVICE_PASSWORD_VERIFIER", "ClientId": client,
                            "Session": step["Session"],
                            "ChallengeResponses": {"USERNAME": d.user, "DEVICE_KEY": d.key,
                                "PASSWORD_CLAIM_SECRET_BLOCK": block, "PASSWORD_CLAIM_SIGNATURE": signature,
                                "TIMESTAMP": ts}}),
                )
                .await?;
            text(&r, &["AuthenticationResult", "AccessToken"]).map(|_| ())
        }
    })
    .await?;
    let (elapsed, cpu) = window.end()?;
    println!(
        "RESULT device_sign_ins={total} device_sign_ins_per_s={:.1} server_cpu_ms_per_device_sign_in={:.2}",
        total as f64 / elapsed,
        cpu.map_or(f64::NAN, |c| c / total.max(1) as f64),
    );
    Ok(())
}
