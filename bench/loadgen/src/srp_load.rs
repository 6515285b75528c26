//! Full USER_SRP_AUTH sign-ins: InitiateAuth (SRP_A) → PASSWORD_VERIFIER → RespondToAuthChallenge
//! (PASSWORD_CLAIM_SIGNATURE) → tokens, from `concurrency` clients at once.
//!
//! The client's SRP math (A = g^a, then S) costs more CPU than the server's and runs on the same
//! cores, so throughput here is bounded by the load generator; the figure the goal is about is the
//! server's CPU per sign-in, read from /proc/<server pid>/stat over the measured window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cognito_srp::client::ClientSession;
use rand::RngCore;
use serde_json::json;

use crate::api::Api;
use crate::cpu;
use crate::stats::Samples;
use crate::Users;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    pool_id: String,
    #[arg(long)]
    client_id: String,
    #[command(flatten)]
    users: Users,
    /// Sign-ins in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measured seconds, after `warmup` seconds whose sign-ins are not counted.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The server's pid, for its CPU time per sign-in.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Bytes of the client secret a: 128 as amazon-cognito-identity-js (a 1024-bit exponent for
    /// A and S), or 32 (256 bits, RFC 5054's minimum) to spend less of the shared cores on the
    /// client. The server's work is the same either way.
    #[arg(long, default_value_t = 128)]
    client_secret_bytes: usize,
    /// Postgres database the server uses, to report its backends' CPU per sign-in too.
    #[arg(long)]
    db_name: Option<String>,
    /// Tokio worker threads of the load generator (client math runs on the blocking pool).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

#[derive(Default)]
struct Record {
    /// InitiateAuth + RespondToAuthChallenge round trips: the server's share of a sign-in.
    server: Samples,
    initiate: Samples,
    respond: Samples,
    /// Including the client's SRP math, as a user would wait.
    end_to_end: Samples,
}

struct Shared {
    api: Api,
    args: Args,
    stop: AtomicBool,
    /// Set once the warm-up is over; only sign-ins started after it are sampled.
    measuring: AtomicBool,
    completed: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    record: Mutex<Record>,
}

pub async fn run(args: Args) -> Result<(), String> {
    cognito_srp::precompute();
    let api = Api::new(&args.endpoint, args.concurrency)?;
    let shared = Arc::new(Shared {
        api,
        args,
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
        record: Mutex::new(Record::default()),
    });
    let a = &shared.args;
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|k| tokio::spawn(client(shared.clone(), k)))
        .collect();
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;

    let pid = a.server_pid.map(|p| p.to_string());
    let server0 = pid.as_deref().map(cpu::process_ticks).transpose()?;
    let self0 = cpu::process_ticks("self")?;
    let db_needle = a.db_name.as_ref().map(|d| format!(" {d} "));
    let db0 = db_needle.as_deref().map(cpu::matching_ticks);
    let machine0 = cpu::machine();
    let done0 = shared.completed.load(Ordering::SeqCst);
    let failed0 = shared.failed.load(Ordering::SeqCst);
    let started = Instant::now();
    shared.measuring.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    shared.measuring.store(false, Ordering::SeqCst);
    let elapsed = started.elapsed().as_secs_f64();
    let done = shared.completed.load(Ordering::SeqCst) - done0;
    let failed = shared.failed.load(Ordering::SeqCst) - failed0;
    let server_ms = match (&pid, server0) {
        (Some(p), Some(t0)) => Some(cpu::ticks_ms(cpu::process_ticks(p)? - t0)),
        _ => None,
    };
    let own_ms = cpu::ticks_ms(cpu::process_ticks("self")? - self0);
    let db_ms = db_needle
        .as_deref()
        .zip(db0)
        .map(|(n, t0)| cpu::ticks_ms(cpu::matching_ticks(n).saturating_sub(t0)));
    let machine = cpu::machine().since(&machine0);
    shared.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }

    let per = |ms: f64| ms / done.max(1) as f64;
    println!(
        "SRP sign-ins: concurrency={} client_secret_bytes={} users={}: {done} sign-ins in {elapsed:.2}s = {:.1} sign-ins/s, {failed} failed",
        a.concurrency,
        a.client_secret_bytes,
        a.users.users,
        done as f64 / elapsed
    );
    if let Some(e) = shared.first_error.lock().map_err(|_| "poisoned")?.as_ref() {
        println!("first error: {e}");
    }
    let mut r = shared.record.lock().map_err(|_| "poisoned")?;
    println!("server round trips (both): {}", r.server.summary());
    println!("  InitiateAuth:            {}", r.initiate.summary());
    println!("  RespondToAuthChallenge:  {}", r.respond.summary());
    println!("end to end (with client math): {}", r.end_to_end.summary());
    let other = machine.busy_ms() - own_ms - server_ms.unwrap_or(0.0) - db_ms.unwrap_or(0.0);
    if let Some(s) = server_ms {
        println!(
            "server CPU: {s:.0} ms = {:.2} ms per sign-in ({:.0}% of one core)",
            per(s),
            s / elapsed / 10.0
        );
    }
    if let Some(d) = db_ms {
        println!(
            "database CPU (Postgres backends): {d:.0} ms = {:.2} ms per sign-in",
            per(d)
        );
    }
    println!(
        "loadgen CPU: {own_ms:.0} ms = {:.2} ms per sign-in; machine busy {:.0}%; everything else (OS, other users{}) {:.2} ms per sign-in, {:.0}% of one core",
        per(own_ms),
        machine.busy_fraction() * 100.0,
        if db_ms.is_some() { "" } else { ", database" },
        per(other.max(0.0)),
        other.max(0.0) / elapsed / 10.0
    );
    // One machine-readable line for bench/sign_in.sh.
    println!(
        "RESULT signins_per_s={:.2} server_p50_ms={:.2} server_p99_ms={:.2} e2e_p50_ms={:.2} e2e_p99_ms={:.2} server_cpu_ms_per_signin={:.3} db_cpu_ms_per_signin={:.3} loadgen_cpu_ms_per_signin={:.3} other_cpu_ms_per_signin={:.3} other_core_pct={:.0} machine_busy_pct={:.0} failed={failed}",
        done as f64 / elapsed,
        r.server.quantile_ms(0.5),
        r.server.quantile_ms(0.99),
        r.end_to_end.quantile_ms(0.5),
        r.end_to_end.quantile_ms(0.99),
        server_ms.map_or(f64::NAN, per),
        db_ms.map_or(0.0, per),
        per(own_ms),
        per(other.max(0.0)),
        other.max(0.0) / elapsed / 10.0,
        machine.busy_fraction() * 100.0,
    );
    if failed > 0 {
        return Err(format!("{failed} sign-ins failed"));
    }
    Ok(())
}

/// One client: sign users in one after another, starting from its own offset so clients do not
/// collide on a user (the lockout bookkeeping serialises attempts on one user).
async fn client(s: Arc<Shared>, k: usize) {
    let stride = (s.args.users.users / s.args.concurrency.max(1)).max(1);
    let mut i = k * stride;
    while !s.stop.load(Ordering::Relaxed) {
        let user = s.args.users.name(i);
        i += 1;
        let sampled = s.measuring.load(Ordering::Relaxed);
        match sign_in(&s, &user).await {
            Ok(t) => {
                s.completed.fetch_add(1, Ordering::SeqCst);
                if sampled && s.measuring.load(Ordering::Relaxed) {
                    if let Ok(mut r) = s.record.lock() {
                        r.initiate.push(t.initiate);
                        r.respond.push(t.respond);
                        r.server.push(t.initiate + t.respond);
                        r.end_to_end.push(t.end_to_end);
                    }
                }
            }
            Err(e) => {
                s.failed.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut first) = s.first_error.lock() {
                    first.get_or_insert(format!("{user}: {e}"));
                }
                // Do not spin on a server that refuses everything.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct Timing {
    initiate: Duration,
    respond: Duration,
    end_to_end: Duration,
}

async fn sign_in(s: &Shared, user: &str) -> Result<Timing, String> {
    let a = &s.args;
    let begun = Instant::now();
    let secret_len = a.client_secret_bytes;
    let session = tokio::task::spawn_blocking(move || {
        let mut secret = vec![0u8; secret_len];
        rand::thread_rng().fill_bytes(&mut secret);
        ClientSession::with_secret(&secret)
    })
    .await
    .map_err(|e| e.to_string())?;

    let t0 = Instant::now();
    let challenge = s
        .api
        .call(
            "InitiateAuth",
            &json!({
                "AuthFlow": "USER_SRP_AUTH",
                "ClientId": a.client_id,
                "AuthParameters": {"USERNAME": user, "SRP_A": session.srp_a_hex()},
            }),
        )
        .await?;
    let initiate = t0.elapsed();
    if challenge["ChallengeName"] != "PASSWORD_VERIFIER" {
        return Err(format!("expected PASSWORD_VERIFIER, got {challenge}"));
    }
    let p = &challenge["ChallengeParameters"];
    let field = |name: &str| {
        p[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("challenge without {name}"))
    };
    let (user_id, salt, srp_b, block) = (
        field("USER_ID_FOR_SRP")?,
        field("SALT")?,
        field("SRP_B")?,
        field("SECRET_BLOCK")?,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let timestamp = cognito_srp::format_timestamp(now);
    let pool = cognito_srp::pool_name(&a.pool_id).to_string();
    let (pw, uid, ts, blk) = (
        a.users.password.clone(),
        user_id.clone(),
        timestamp.clone(),
        block.clone(),
    );
    let signature = tokio::task::spawn_blocking(move || {
        session.sign(&pool, &uid, &pw, &salt, &srp_b, &blk, &ts)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("client SRP: {e:?}"))?;

    let t1 = Instant::now();
    let tokens = s
        .api
        .call(
            "RespondToAuthChallenge",
            &json!({
                "ChallengeName": "PASSWORD_VERIFIER",
                "ClientId": a.client_id,
                "Session": challenge["Session"],
                "ChallengeResponses": {
                    "USERNAME": user_id,
                    "PASSWORD_CLAIM_SECRET_BLOCK": block,
                    "PASSWORD_CLAIM_SIGNATURE": signature,
                    "TIMESTAMP": timestamp,
                },
            }),
        )
        .await?;
    let respond = t1.elapsed();
    if tokens["AuthenticationResult"]["AccessToken"]
        .as_str()
        .is_none()
    {
        return Err(format!("no tokens: {tokens}"));
    }
    Ok(Timing {
        initiate,
        respond,
        end_to_end: begun.elapsed(),
    })
}
