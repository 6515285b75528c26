//! The developer outbox: with no SMTP relay or SNS endpoint configured, messages are appended as
//! JSON lines to a file a person can read (and logged), so the quick start can finish a sign-up.
//! It is meant for development; it holds temporary passwords and codes in clear, in the data
//! directory beside the database.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use domain::ports::{MessageSender, OutboundMessage};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

pub struct DeveloperOutbox {
    path: PathBuf,
    /// One writer at a time, so lines never interleave.
    file: Mutex<()>,
}

impl DeveloperOutbox {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DeveloperOutbox {
            path: path.into(),
            file: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl MessageSender for DeveloperOutbox {
    async fn send(&self, message: &OutboundMessage) -> Result<(), String> {
        let mut line = serde_json::to_string(message).map_err(|e| e.to_string())?;
        line.push('\n');
        let _guard = self.file.lock().await;
        let mut opts = tokio::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let mut f = opts
            .open(&self.path)
            .await
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        f.write_all(line.as_bytes())
            .await
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        f.flush().await.map_err(|e| e.to_string())?;
        // The outbox is how a developer reads the message; the log line says where to look.
        tracing::info!(
            target: "gatehouse::outbox",
            purpose = %message.purpose,
            channel = ?message.channel,
            destination = %message.destination,
            file = %self.path.display(),
            "message written to the developer outbox"
        );
        Ok(())
    }
}

/// Without SMTP or SNS configured, the dispatcher delivers to the file.
#[async_trait]
impl crate::Deliverer for DeveloperOutbox {
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), crate::DeliveryError> {
        // A file that cannot be written now (a full disk) may be writable later.
        self.send(message)
            .await
            .map_err(crate::DeliveryError::transient)
    }

    fn name(&self) -> &'static str {
        "developer-outbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::DeliveryChannel;

    #[tokio::test]
    async fn appends_one_json_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = DeveloperOutbox::new(dir.path().join("outbox.jsonl"));
        for i in 0..3 {
            let m = OutboundMessage {
                pool_id: "p".into(),
                purpose: "invitation".into(),
                channel: DeliveryChannel::Email,
                username: format!("u{i}"),
                destination: "a@example.com".into(),
                subject: Some("s".into()),
                body: format!("body {i}"),
                from: None,
                reply_to: None,
            };
            outbox.send(&m).await.unwrap();
        }
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["body"], "body 2");
        assert_eq!(lines[0]["channel"], "EMAIL");
    }
}
