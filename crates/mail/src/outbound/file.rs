//! The file outbox: with no SMTP server configured, each message becomes
//! one `.eml` file named by its Message-ID, so the whole flow works offline.
//!
//! A file appears whole or not at all (written aside, then linked into
//! place), and never replaces another: a second delivery of the same
//! Message-ID fails with [`DeliveryError::AlreadyDelivered`], so the folder
//! itself shows that nothing went out twice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{Delivered, DeliveryError, Envelope, MessageId, Receipt, Transport};

/// Longest file name stem before the name is shortened with a hash.
const MAX_STEM: usize = 200;

#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
    fsync: bool,
}

impl FileOutbox {
    /// Uses (and creates, if needed) `dir`. Each file is flushed to disk
    /// before it counts as delivered; concurrent deliveries are much faster
    /// than one at a time, as the file system flushes them together.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, DeliveryError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| DeliveryError::Outbox {
            reason: format!("cannot create the outbox folder: {e}"),
            path: dir.clone(),
        })?;
        Ok(Self { dir, fsync: true })
    }

    /// Skips fsync: faster, but a power cut may lose recent files. For
    /// tests and throwaway demos.
    pub fn without_fsync(mut self) -> Self {
        self.fsync = false;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message with this id is (or would be) written.
    pub fn path_for(&self, message_id: &MessageId) -> PathBuf {
        self.dir.join(format!("{}.eml", file_stem(message_id)))
    }

    fn write(&self, message_id: &MessageId, raw: &[u8]) -> Result<PathBuf, DeliveryError> {
        let target = self.path_for(message_id);
        let already = || DeliveryError::AlreadyDelivered {
            message_id: message_id.clone(),
            path: target.clone(),
        };
        if target.exists() {
            return Err(already());
        }
        let temp = self.dir.join(format!(
            ".tmp-{}-{}.eml",
            uuid::Uuid::new_v4().simple(),
            std::process::id()
        ));
        let outbox_error = |path: &Path, what: &str, e: io::Error| DeliveryError::Outbox {
            path: path.to_owned(),
            reason: format!("{what}: {e}"),
        };
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(raw)?;
            if self.fsync {
                file.sync_data()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(outbox_error(&temp, "cannot write the message", e));
        }
        // A hard link, unlike rename, never replaces an existing file.
        let linked = fs::hard_link(&temp, &target);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(already()),
            Err(e) => {
                return Err(outbox_error(
                    &target,
                    "cannot move the message into place (the outbox folder must be on a file system with hard links)",
                    e,
                ));
            }
        }
        if self.fsync {
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| outbox_error(&self.dir, "cannot flush the outbox folder", e))?;
        }
        Ok(target)
    }
}

#[async_trait::async_trait]
impl Transport for FileOutbox {
    async fn deliver(&self, envelope: Envelope<'_>) -> Result<Delivered, DeliveryError> {
        let outbox = self.clone();
        let message_id = envelope.message_id.clone();
        let raw = envelope.raw.to_vec();
        let id = message_id.clone();
        let path = tokio::task::spawn_blocking(move || outbox.write(&id, &raw))
            .await
            .map_err(|e| DeliveryError::Outbox {
                path: self.dir.clone(),
                reason: format!("the writing task failed: {e}"),
            })??;
        Ok(Delivered {
            message_id,
            receipt: Receipt::File { path },
        })
    }
}

/// A file name stem that is distinct for distinct Message-IDs: bytes
/// outside a safe set are percent-encoded, and long ids end in a hash.
pub fn file_stem(message_id: &MessageId) -> String {
    let mut stem = String::with_capacity(message_id.as_str().len());
    for (index, byte) in message_id.as_str().bytes().enumerate() {
        let safe =
            byte.is_ascii_alphanumeric() || b"@+=-_".contains(&byte) || (byte == b'.' && index > 0);
        if safe {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    if stem.len() > MAX_STEM {
        // `~` is always encoded above, so it marks a shortened name.
        let digest = Sha256::digest(message_id.as_str().as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        stem.truncate(MAX_STEM - 33);
        stem.push('~');
        stem.push_str(&hex);
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(text: &str) -> MessageId {
        MessageId::parse(text).unwrap()
    }

    #[test]
    fn stems_are_safe_file_names() {
        assert_eq!(
            file_stem(&id("abc.1@mail.example.com")),
            "abc.1@mail.example.com"
        );
        assert_eq!(file_stem(&id("a/b%c~d@x")), "a%2Fb%25c%7Ed@x");
        let long = id(&format!("{}@example.com", "a".repeat(230)));
        let stem = file_stem(&long);
        assert_eq!(stem.len(), MAX_STEM);
        assert!(stem.contains('~'));
    }

    proptest! {
        #[test]
        fn distinct_ids_get_distinct_names(
            a in "[a-zA-Z0-9/%~.+=_-]{1,240}@[a-z]{1,5}",
            b in "[a-zA-Z0-9/%~.+=_-]{1,240}@[a-z]{1,5}",
        ) {
            if let (Ok(a), Ok(b)) = (MessageId::parse(&a), MessageId::parse(&b)) {
                let (sa, sb) = (file_stem(&a), file_stem(&b));
                prop_assert_eq!(a == b, sa == sb);
                prop_assert!(sa.len() <= MAX_STEM);
                prop_assert!(!sa.starts_with('.'));
                prop_assert!(sa.bytes().all(|c| c.is_ascii_graphic() && c != b'/'));
            }
        }
    }
}
