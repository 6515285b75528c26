//! Access tokens for the GetUser runs: one USER_PASSWORD_AUTH sign-in per user, written one a line.

use std::sync::Arc;

use crate::api::Api;
use crate::Users;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    client_id: String,
    #[command(flatten)]
    users: Users,
    /// Sign-ins in flight (argon2 is the cost; a few per core keep the server busy).
    #[arg(long, default_value_t = 6)]
    concurrency: usize,
    #[arg(long)]
    out: std::path::PathBuf,
}

pub async fn run(a: Args) -> Result<(), String> {
    let api = Arc::new(Api::new(&a.endpoint, a.concurrency)?);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..a.concurrency)
        .map(|_| {
            let (api, next, users, client) = (
                api.clone(),
                next.clone(),
                a.users.clone(),
                a.client_id.clone(),
            );
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= users.users {
                        return Ok::<_, String>(got);
                    }
                    let name = users.name(i);
                    let r = api
                        .password_sign_in(&client, &name, &users.password)
                        .await?;
                    let token = r["AuthenticationResult"]["AccessToken"]
                        .as_str()
                        .ok_or_else(|| format!("{name}: no access token in {r}"))?;
                    got.push((i, token.to_string()));
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(a.users.users);
    for w in workers {
        all.extend(w.await.map_err(|e| e.to_string())??);
    }
    all.sort();
    let text: String = all.into_iter().map(|(_, t)| t + "\n").collect();
    std::fs::write(&a.out, text).map_err(|e| format!("{}: {e}", a.out.display()))?;
    println!(
        "{} access tokens written to {}",
        a.users.users,
        a.out.display()
    );
    Ok(())
}
