//! The first-start admin key. With no key configured, Gatehouse creates one random key pair and
//! writes it to `<data dir>/credentials` as an AWS shared-credentials file (profile `gatehouse`,
//! mode 0600). There is no fixed default credential.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::config::AccessKeyConfig;

pub const PROFILE: &str = "gatehouse";

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials")
}

/// Loads the generated key, or creates it. Returns the key and whether it was created now.
pub fn ensure_admin_key(data_dir: &Path) -> Result<(AccessKeyConfig, bool), String> {
    let path = credentials_path(data_dir);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return parse_profile(&text).map(|k| (k, false)).ok_or_else(|| {
            format!(
                "{} has no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key",
                path.display()
            )
        });
    }
    let mut rng = rand::thread_rng();
    let id: String = std::iter::repeat_with(|| {
        let c = rng.sample(Alphanumeric) as char;
        c.to_ascii_uppercase()
    })
    .take(18)
    .collect();
    let secret: String = (&mut rng)
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let key = AccessKeyConfig {
        id: format!("GH{id}"),
        secret,
        name: Some("admin".into()),
        allow: vec![],
    };
    write_private(
        &path,
        &format!(
            "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.id, key.secret
        ),
    )?;
    Ok((key, true))
}

/// The generated key-encryption key of an embedded deployment (`<data dir>/key-encryption-key`).
pub fn ensure_key_encryption_key(data_dir: &Path) -> Result<(storage::Kek, bool), String> {
    let path = data_dir.join("key-encryption-key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return storage::Kek::from_base64(&text)
            .map(|k| (k, false))
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let kek = storage::Kek::generate();
    write_private(&path, &format!("{}\n", kek.to_base64()))?;
    Ok((kek, true))
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn parse_profile(text: &str) -> Option<AccessKeyConfig> {
    let mut in_profile = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_profile = line == format!("[{PROFILE}]");
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Some(AccessKeyConfig {
        id: id?,
        secret: secret?,
        name: Some("admin".into()),
        allow: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_private_mode_and_reloads() {
        let dir = std::env::temp_dir().join(format!(
            "gh-cred-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (k1, created) = ensure_admin_key(&dir).unwrap();
        assert!(created);
        assert!(k1.id.starts_with("GH") && k1.id.len() == 20);
        assert_eq!(k1.secret.len(), 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(credentials_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, created) = ensure_admin_key(&dir).unwrap();
        assert!(!created);
        assert_eq!((k1.id, k1.secret), (k2.id, k2.secret));
        let missing = std::env::temp_dir()
            .join(format!("gh-cred-other-{}", rand::random::<u32>()))
            .join("missing");
        assert!(
            ensure_admin_key(&missing).is_err(),
            "a missing directory must fail, not invent a key"
        );
    }
}
