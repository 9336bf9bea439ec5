//! The embedded sled store: one database under `DATA_DIR`, one named tree per kind of record.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `meta` | `schema_version` | u32 big-endian |
//! | `meta` | `credentials_key_check` | a constant sealed under the credentials key ([`keyring`]) |
//! | `tokens` | token id | JSON [`DataToken`](crate::token::DataToken) |
//! | `token_hashes` | SHA-256 of the plaintext | token id |
//! | `token_names` | user `\0` name | token id |
//! | `datapoints` | user, metric, timestamp, dimensions hash ([`keys`]) | value and dimensions ([`codec`]) |
//! | `google_credentials` | token id | the token's Google credentials, sealed ([`cipher`]) |
//! | `sync_state` | token id | sync token and sync bookkeeping |
//! | `event_index` | token id, event id | the datapoint keys the event produced |
//! | `oauth_states` | SHA-256 of the OAuth `state` | pending authorization (token id, PKCE verifier, expiry), sealed |
//!
//! Changes that span trees run in one sled transaction, so a crash leaves either all or none.
//!
//! Secrets (Google access and refresh tokens, PKCE verifiers) are sealed with an AEAD under the
//! credentials key, which lives outside the records ([`cipher`], [`keyring`]); data tokens are
//! kept only as SHA-256 hashes, so a copy of the store holds no usable credential.

pub mod cipher;
pub mod codec;
mod datapoints;
pub use datapoints::TimeRange;
mod error;
mod google;
pub mod keyring;
pub mod keys;
mod oauth_states;
mod sync_commit;
mod tokens;

use std::path::Path;
use std::sync::Arc;

pub use cipher::{CredentialKey, CredentialKeys};
pub use error::StoreError;
pub use google::{GoogleCredentials, SyncState};
pub use oauth_states::{PendingAuthorization, MAX_PENDING_PER_TOKEN};
pub use sync_commit::{EventChange, SyncCommit, SyncCommitStats};
pub use tokens::NewToken;

/// The schema this build writes. Opening a store written by a newer build fails instead of
/// misreading it. Version 2 seals the secret records; a version 1 store is sealed at open.
pub const SCHEMA_VERSION: u32 = 2;

const META: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";
/// Tree of data token records.
pub const TOKENS: &str = "tokens";
/// Tree from plaintext hash to token id.
pub const TOKEN_HASHES: &str = "token_hashes";
/// Tree from (user, name) to token id, enforcing unique names per user.
pub const TOKEN_NAMES: &str = "token_names";
/// Tree of metric datapoints.
pub const DATAPOINTS: &str = "datapoints";
/// Tree of Google credentials per data token.
pub const GOOGLE_CREDENTIALS: &str = "google_credentials";
/// Tree of calendar sync state per data token.
pub const SYNC_STATE: &str = "sync_state";
/// Tree from (token, event) to the datapoint keys that event produced.
pub const EVENT_INDEX: &str = "event_index";
/// Tree of pending OAuth authorizations.
pub const OAUTH_STATES: &str = "oauth_states";

/// A handle on the open store; cheap to clone, shared by the HTTP handlers and the actors.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    tokens: sled::Tree,
    token_hashes: sled::Tree,
    token_names: sled::Tree,
    datapoints: sled::Tree,
    google_credentials: sled::Tree,
    sync_state: sled::Tree,
    event_index: sled::Tree,
    oauth_states: sled::Tree,
    oauth_lock: std::sync::Mutex<()>,
    cipher: cipher::Cipher,
}

impl Store {
    /// Opens (or creates) the store in `dir` with the key file in `dir` as credentials key; see
    /// [`Store::open_with_keys`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_keys(dir, &CredentialKeys::default())
    }

    /// Opens (or creates) the store in `dir`. Fails when another process holds it, when it was
    /// written by a newer schema, or when `keys` do not open its secrets; in those cases nothing
    /// stored is changed. Seals plaintext secrets of an older schema and re-seals secrets under
    /// `keys.previous` with `keys.current`.
    pub fn open_with_keys(dir: &Path, keys: &CredentialKeys) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|e| StoreError::opening(dir, e))?;
        check_schema(&db)?;
        let (cipher, unlocked) = keyring::unlock(&db, dir, keys)?;
        match unlocked {
            keyring::Unlocked::Ready | keyring::Unlocked::Sealed(0) => {}
            keyring::Unlocked::Sealed(n) => {
                log::info!("store: sealed {n} plaintext secret records under the credentials key")
            }
            keyring::Unlocked::Rotated(n) => log::info!(
                "store: re-sealed {n} secret records under the new credentials key; \
                 CREDENTIALS_KEY_PREVIOUS can be removed"
            ),
        }
        Ok(Self {
            inner: Arc::new(Inner {
                tokens: db.open_tree(TOKENS)?,
                token_hashes: db.open_tree(TOKEN_HASHES)?,
                token_names: db.open_tree(TOKEN_NAMES)?,
                datapoints: db.open_tree(DATAPOINTS)?,
                google_credentials: db.open_tree(GOOGLE_CREDENTIALS)?,
                sync_state: db.open_tree(SYNC_STATE)?,
                event_index: db.open_tree(EVENT_INDEX)?,
                oauth_states: db.open_tree(OAUTH_STATES)?,
                oauth_lock: std::sync::Mutex::new(()),
                cipher,
                db,
            }),
        })
    }

    /// Whether this is the last handle on the store (everything else let go of it).
    pub fn is_sole_handle(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
    }

    /// Writes every pending change to disk; called on shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Writes every pending change to disk without blocking the caller's thread; for the few
    /// writes whose acknowledgement promises durability (a new Google connection).
    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.inner.db.flush_async().await?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| StoreError::Io {
        path: dir.display().to_string(),
        source: e,
    })
}

fn check_schema(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    match meta.get(SCHEMA_KEY)? {
        None => {
            meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(v) => {
            let found = v
                .as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::corrupt("schema version"))?;
            if found > SCHEMA_VERSION {
                Err(StoreError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                })
            } else {
                Ok(())
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn set_schema_version_for_test(store: &Store, version: u32) {
    if let Ok(meta) = store.inner.db.open_tree(META) {
        let _ = meta.insert(SCHEMA_KEY, &version.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        set_schema_version_for_test(&store, SCHEMA_VERSION + 1);
        store.flush().unwrap();
        drop(store);
        let err = Store::open(dir.path())
            .err()
            .expect("newer schema must fail");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1))
                && msg.contains(&format!("supports {SCHEMA_VERSION}")),
            "{msg}"
        );
    }

    #[test]
    fn a_second_open_of_the_same_dir_fails_while_the_first_lives() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_data_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let _s = Store::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
