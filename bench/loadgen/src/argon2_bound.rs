//! The bound argon2id sets: how many verifies/s `threads` threads manage with nothing else to do.
//!
//! Two modes. `verify` does exactly what the server's `password::verify` does per sign-in (parse
//! the PHC string, allocate 19 MiB, hash, compare), so it also pays the allocator and the page
//! faults of fresh memory. `prealloc` hashes into memory allocated once per thread: argon2's
//! compute alone, the stricter bound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::cpu;

/// crates/domain/src/services/directory/password.rs: OWASP's argon2id, 19 MiB, 2 passes, 1 lane.
const M_KIB: u32 = 19_456;
const T: u32 = 2;
const P: u32 = 1;

#[derive(clap::Args)]
pub struct Args {
    /// Threads; the machine's core count measures "all cores".
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `verify` (the server's code path) or `prealloc` (argon2's compute alone).
    #[arg(long, default_value = "verify")]
    mode: String,
}

fn hasher() -> Result<Argon2<'static>, String> {
    let params = Params::new(M_KIB, T, P, None).map_err(|e| e.to_string())?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn run(a: &Args) -> Result<(), String> {
    let prealloc = match a.mode.as_str() {
        "verify" => false,
        "prealloc" => true,
        other => return Err(format!("unknown mode {other}")),
    };
    let pw = "Bench-Passw0rd!";
    let salt = SaltString::encode_b64(b"0123456789abcdef").map_err(|e| e.to_string())?;
    let phc = hasher()?
        .hash_password(pw.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let machine0 = cpu::machine();
    let self0 = cpu::process_user_system("self")?;
    let started = Instant::now();
    let handles: Vec<_> = (0..a.threads)
        .map(|_| {
            let (stop, done, phc) = (stop.clone(), done.clone(), phc.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let h = hasher()?;
                let mut memory = vec![Block::default(); M_KIB as usize];
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    let ok = if prealloc {
                        h.hash_password_into_with_memory(
                            pw.as_bytes(),
                            b"0123456789abcdef",
                            &mut out,
                            &mut memory,
                        )
                        .is_ok()
                    } else {
                        // Parse inside the loop too, as the server does per request.
                        PasswordHash::new(&phc)
                            .map(|p| h.verify_password(pw.as_bytes(), &p).is_ok())
                            .unwrap_or(false)
                    };
                    if !ok {
                        return Err("argon2 verify failed".into());
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for h in handles {
        h.join().map_err(|_| "thread panicked")??;
    }
    let self1 = cpu::process_user_system("self")?;
    let system_ms = cpu::ticks_ms(self1.1 - self0.1);
    let own_ms = cpu::ticks_ms(self1.0 + self1.1 - self0.0 - self0.1);
    let machine = cpu::machine().since(&machine0);
    println!(
        "argon2id m={M_KIB} t={T} p={P} mode={} threads={}: {n} verifies in {elapsed:.2}s = {:.1} verifies/s; {:.2} ms CPU per verify ({:.2} ms of it in the kernel); machine busy {:.0}% (other processes {:.0}% of one core)",
        a.mode,
        a.threads,
        n as f64 / elapsed,
        own_ms / n.max(1) as f64,
        system_ms / n.max(1) as f64,
        machine.busy_fraction() * 100.0,
        (machine.busy_ms() - own_ms).max(0.0) / elapsed / 10.0,
    );
    println!(
        "RESULT verifies_per_s={:.2} cpu_ms_per_verify={:.2} machine_busy_pct={:.0} other_core_pct={:.0}",
        n as f64 / elapsed,
        own_ms / n.max(1) as f64,
        machine.busy_fraction() * 100.0,
        (machine.busy_ms() - own_ms).max(0.0) / elapsed / 10.0,
    );
    Ok(())
}
