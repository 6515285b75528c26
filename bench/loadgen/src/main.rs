//! Load generator for the sign-in benchmarks of issue 4 (see docs/benchmarks.md, "Sign-in").
//!
//! `argon2`: the bound that argon2id alone sets on this machine (verifies/s on N threads).
//! `srp`: full USER_SRP_AUTH sign-ins (InitiateAuth + RespondToAuthChallenge) from N concurrent
//! clients, with the server's CPU per sign-in read from /proc. `tokens`: signs users in with
//! USER_PASSWORD_AUTH and writes their access tokens, one a line, for the GetUser runs.
//! `mfa`: the MFA and device benchmarks of issue 14 (bench/mfa.sh).
//! USER_PASSWORD_AUTH and GetUser throughput themselves are measured with wrk (bench/sign_in.sh):
//! they need no client-side math, and wrk costs less CPU per request than this tool would.

mod api;
mod argon2_bound;
mod cpu;
mod mfa_load;
mod srp_load;
mod stats;
mod tokens;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Gatehouse sign-in load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which users to sign in: `<prefix><index>` for index 0..count, zero-padded to 5 digits, all with
/// one password (each has its own salt and verifier on the server, so sharing it costs nothing).
#[derive(clap::Args, Clone)]
pub struct Users {
    #[arg(long, default_value = "bench-user-")]
    pub user_prefix: String,
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, env = "BENCH_PASSWORD")]
    pub password: String,
}

impl Users {
    pub fn name(&self, i: usize) -> String {
        format!("{}{:05}", self.user_prefix, i % self.users.max(1))
    }
}

#[derive(Subcommand)]
enum Command {
    /// argon2id verifies/s on `threads` threads, with the server's parameters.
    Argon2(argon2_bound::Args),
    /// Full SRP sign-ins against a running server.
    Srp(srp_load::Args),
    /// Signs users in with USER_PASSWORD_AUTH and writes their access tokens to a file.
    Tokens(tokens::Args),
    /// MFA and device benchmarks (bench/mfa.sh): enrol-totp, totp-sign-ins, answers, device.
    Mfa(mfa_load::Args),
}

fn main() -> Result<(), String> {
    match Cli::parse().command {
        Command::Argon2(a) => argon2_bound::run(&a),
        Command::Srp(a) => runtime(a.threads)?.block_on(srp_load::run(a)),
        Command::Tokens(a) => runtime(2)?.block_on(tokens::run(a)),
        Command::Mfa(a) => runtime(2)?.block_on(mfa_load::run(a)),
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}
