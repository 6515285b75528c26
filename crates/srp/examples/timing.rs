//! Server-side SRP cost per operation, for the sign-in CPU budget (goal: well under 4 ms per
//! PASSWORD_VERIFIER round). Run with
//! `cargo run --release -p cognito-srp --example timing`.
//!
//! Prints wall-clock time and, on Linux, this thread's on-CPU time (from
//! `/proc/thread-self/schedstat`), which stays meaningful when other builds share the cores.

use std::time::{Duration, Instant};

use cognito_srp::client::ClientSession;
use cognito_srp::{password_authentication_key, ServerChallenge, Verifier};

const ROUNDS: u32 = 200;

/// Nanoseconds this thread has spent on a CPU, if the kernel tells.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Runs `op` ROUNDS times; returns (wall, cpu) per op in milliseconds.
fn measure(mut op: impl FnMut()) -> (f64, Option<f64>) {
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        op();
    }
    let wall: Duration = start.elapsed();
    let cpu = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| (b - a) as f64 / 1e6 / f64::from(ROUNDS));
    (wall.as_secs_f64() * 1e3 / f64::from(ROUNDS), cpu)
}

fn report(name: &str, (wall, cpu): (f64, Option<f64>)) {
    match cpu {
        Some(cpu) => println!("{name}: {wall:.3} ms/op wall, {cpu:.3} ms/op CPU ({ROUNDS} ops)"),
        None => println!("{name}: {wall:.3} ms/op wall ({ROUNDS} ops)"),
    }
}

fn main() {
    let pool = "ABCdef123";
    let user = "testuser";
    let password = "P@ssw0rd!";
    let verifier = Verifier::generate(pool, user, password);
    // One client A is enough: the server's work does not depend on which A it gets.
    let srp_a_hex = ClientSession::new().srp_a_hex();

    let mut keys = Vec::with_capacity(ROUNDS as usize);
    let round = measure(|| {
        let challenge = ServerChallenge::new(&verifier);
        let key =
            password_authentication_key(&verifier, &srp_a_hex, &challenge.b, &challenge.srp_b_hex)
                .expect("random A and B are valid");
        keys.push(key);
    });

    let mut verifiers = Vec::with_capacity(ROUNDS as usize);
    let generate = measure(|| verifiers.push(Verifier::generate(pool, user, password)));

    // Use the results so the work cannot be optimised away.
    assert_eq!(keys.len() + verifiers.len(), 2 * ROUNDS as usize);

    report(
        "server round (ServerChallenge::new + password_authentication_key)",
        round,
    );
    report("Verifier::generate", generate);
}
