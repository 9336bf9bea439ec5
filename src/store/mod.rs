//! The embedded sled store: one database under `DATA_DIR`, one named tree per kind of record.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `meta` | `schema_version` | u32 big-endian |
//! | `meta` | `credentials_key_check` | a constant sealed under the credentials key ([`keyring`]) |
//! | `tokens` | token id | JSON [`DataToken`](crate::token::DataToken) |
//! | `token_hashes` | SHA-256 of the plaintext | token id |
//! | `token_names` | user `\0` name | token id |
//! | `datapoint_blocks` | user, metric, block start ([`keys`], [`blocks`]) | a block of datapoints: timestamp and dimensions hash → dimensions and value ([`codec`]) |
//! | `google_credentials` | token id | the token's Google credentials, sealed ([`cipher`]) |
//! | `sync_state` | token id | the selected calendars, each with its sync token and bookkeeping ([`Selection`]) |
//! | `event_index_blocks` | token id, block start | a block of event ids → the calendars holding the event and the datapoint keys it produced ([`calendars`]) |
//! | `oauth_states` | SHA-256 of the OAuth `state` | pending authorization (token id, PKCE verifier, expiry), sealed |
//! | `push_channels` | token id, channel id | an open push channel of one of the token's calendars, sealed ([`push_channels`]) |
//!
//! Changes that span trees run in one sled transaction, so a crash leaves either all or none.
//! Datapoints and event indexes are kept in blocks of many entries ([`blocks`]), because sled's
//! cost is per record; block writes are serialized by a write lock, and readers see each block
//! change whole.
//!
//! Secrets (Google access and refresh tokens, PKCE verifiers) are sealed with an AEAD under the
//! credentials key, which lives outside the records ([`cipher`], [`keyring`]); data tokens are
//! kept only as SHA-256 hashes, so a copy of the store holds no usable credential.

pub mod blocks;
pub mod calendars;
pub mod cipher;
pub mod codec;
mod datapoints;
mod engine;
#[cfg(test)]
pub(crate) mod engine_tests;
pub mod postgres;
pub use engine::{ActorInputs, Engine};
mod sled_engine;
mod sled_export;
pub mod snapshot;
pub use datapoints::TimeRange;
mod error;
pub mod fleet;
mod google;
pub mod keyring;
pub mod keys;
mod migrate;
pub mod migrate_store;
mod oauth_states;
pub mod push_channels;
pub mod skip_notices;
mod sync_commit;
mod tokens;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use calendars::Selection;
pub use cipher::{CredentialKey, CredentialKeys};
pub use error::StoreError;
pub use google::{GoogleCredentials, SyncState};
pub use oauth_states::{PendingAuthorization, MAX_PENDING_PER_TOKEN};
pub use push_channels::PushChannel;
pub use skip_notices::SkipNotice;
pub use sync_commit::{Changes, SyncCommit, SyncCommitStats};
pub use tokens::NewToken;

/// The schema this build writes. Opening a store written by a newer build fails instead of
/// misreading it. Version 2 seals the secret records; a version 1 store is sealed at open.
/// Version 3 keeps datapoints and event indexes in blocks; an older store is migrated at open.
/// Version 4 keeps several calendars per connection: a selection per token, and the holders of
/// each event index entry; a version 3 token's state becomes its first selected calendar's.
pub const SCHEMA_VERSION: u32 = 4;

const META: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";
/// Tree of data token records.
pub const TOKENS: &str = "tokens";
/// Tree from plaintext hash to token id.
pub const TOKEN_HASHES: &str = "token_hashes";
/// Tree from (user, name) to token id, enforcing unique names per user.
pub const TOKEN_NAMES: &str = "token_names";
/// Tree of metric datapoints, in blocks.
pub const DATAPOINTS: &str = "datapoint_blocks";
/// Tree of Google credentials per data token.
pub const GOOGLE_CREDENTIALS: &str = "google_credentials";
/// Tree of the selected calendars and their sync state per data token.
pub const SYNC_STATE: &str = "sync_state";
/// Tree from (token, event) to the datapoint keys that event produced, in blocks.
pub const EVENT_INDEX: &str = "event_index_blocks";
/// Tree of pending OAuth authorizations.
pub const OAUTH_STATES: &str = "oauth_states";
/// Tree of open push channels, sealed.
pub const PUSH_CHANNELS: &str = "push_channels";

/// A handle on the open store, whatever its engine; cheap to clone, shared by the HTTP handlers
/// and the actors, which call the [`Engine`] operations through it.
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
}

impl std::ops::Deref for Store {
    type Target = dyn Engine;

    fn deref(&self) -> &dyn Engine {
        &*self.engine
    }
}

impl From<SledStore> for Store {
    fn from(sled: SledStore) -> Self {
        Self::from_engine(sled)
    }
}

impl Store {
    /// A handle on `engine`.
    pub fn from_engine(engine: impl Engine) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }

    /// Opens (or creates) the sled store in `dir` with the key file in `dir` as credentials
    /// key; see [`SledStore::open_with`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        SledStore::open(dir).map(Self::from)
    }

    /// Opens (or creates) the sled store in `dir` with `keys`.
    pub fn open_with_keys(dir: &Path, keys: &CredentialKeys) -> Result<Self, StoreError> {
        SledStore::open_with_keys(dir, keys).map(Self::from)
    }

    /// Opens the configured engine: PostgreSQL when `options.database` is set
    /// ([`PgStore::open`](postgres::PgStore::open)), else the sled store in `dir`
    /// ([`SledStore::open_with`]).
    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        match &options.database {
            Some(db) => postgres::PgStore::open(db, &options.keys).map(Self::from_engine),
            None => SledStore::open_with(dir, options).map(Self::from),
        }
    }

    /// [`Self::open_with`], waiting for a database that cannot be reached yet (a fleet and its
    /// database often start together): each failed attempt is logged and retried with a
    /// growing pause, up to [`OPEN_RETRY_MAX`] between attempts. Any other failure (a wrong
    /// key, a newer schema) returns at once.
    pub async fn open_patiently(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut pause = std::time::Duration::from_secs(1);
        loop {
            match Self::open_with(dir, options) {
                Err(StoreError::Unavailable(why)) => {
                    let at = options.database.as_ref().map(|d| d.describe());
                    log::warn!(
                        "store: cannot reach the database at {}: {why}; retrying in {} s",
                        at.as_deref().unwrap_or("?"),
                        pause.as_secs()
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(OPEN_RETRY_MAX);
                }
                other => return other,
            }
        }
    }

    /// Whether this is the last handle on the store (everything else let go of it).
    pub fn is_sole_handle(&self) -> bool {
        Arc::strong_count(&self.engine) == 1
    }
}

/// The embedded engine: a sled database under `DATA_DIR`. Cheap to clone.
#[derive(Clone)]
pub struct SledStore {
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
    push_channels: sled::Tree,
    oauth_lock: Mutex<()>,
    /// Held from reading the blocks a change rewrites until the change is applied.
    blocks_write: Mutex<()>,
    /// Readers of blocks share it; applying block changes takes it alone, so a read never sees a
    /// block split or a commit half applied.
    blocks_view: RwLock<()>,
    cipher: cipher::Cipher,
}

/// The longest pause between two attempts of [`Store::open_patiently`].
pub const OPEN_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// sled's page cache when `STORE_CACHE_BYTES` is not set. sled keeps every page it reads or
/// relocates until the cache is full. 16 MiB: a server with 10,000 idle tokens is 3 MiB smaller
/// than with 32 MiB, and the data API's figures did not move (the OS caches the files too).
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The keys the Google credentials are sealed with.
    pub keys: CredentialKeys,
    /// The most memory sled's page cache may use.
    pub cache_bytes: u64,
    /// PostgreSQL instead of sled (`DATABASE_URL`): the data directory is then unused.
    pub database: Option<postgres::Database>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            keys: CredentialKeys::default(),
            cache_bytes: DEFAULT_CACHE_BYTES,
            database: None,
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with the key file in `dir` as credentials key; see
    /// [`SledStore::open_with`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &StoreOptions::default())
    }

    /// Opens (or creates) the store in `dir` with `keys`; see [`SledStore::open_with`].
    pub fn open_with_keys(dir: &Path, keys: &CredentialKeys) -> Result<Self, StoreError> {
        Self::open_with(
            dir,
            &StoreOptions {
                keys: keys.clone(),
                ..StoreOptions::default()
            },
        )
    }

    /// Opens (or creates) the store in `dir`. Fails when another process holds it, when it was
    /// written by a newer schema, or when the keys do not open its secrets; in those cases nothing
    /// stored is changed. Seals plaintext secrets of an older schema, re-seals secrets under
    /// `keys.previous` with `keys.current`, and moves an older layout into blocks.
    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let keys = &options.keys;
        create_private_dir(dir)?;
        keyring::warn_if_shared(dir);
        let db = open_db(dir, options.cache_bytes)?;
        let found = check_schema(&db)?;
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
        if found < migrate::BLOCKS_SCHEMA {
            migrate::to_blocks(&db)?;
        }
        if found < SCHEMA_VERSION {
            migrate::to_selections(&db)?;
        }
        migrate::drop_legacy_trees(&db)?;
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
                push_channels: db.open_tree(PUSH_CHANNELS)?,
                oauth_lock: Mutex::new(()),
                blocks_write: Mutex::new(()),
                blocks_view: RwLock::new(()),
                cipher,
                db,
            }),
        })
    }

    /// Taken by every change of datapoint or event-index blocks, before it reads them.
    fn writing_blocks(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.inner
            .blocks_write
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Taken (with [`Self::writing_blocks`]) while block changes are applied.
    fn applying_blocks(&self) -> RwLockWriteGuard<'_, ()> {
        self.inner
            .blocks_view
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Taken by readers of datapoint blocks.
    fn reading_blocks(&self) -> RwLockReadGuard<'_, ()> {
        self.inner
            .blocks_view
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every pending change to disk; called on shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }
}

/// How long an open waits for a lock that a handle in this process just let go of.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the sled database. sled releases the directory lock when the background writes of the
/// last dropped handle finish, a moment after the drop, so an open right after a shutdown in the
/// same process (a host restarting the sync system, a test) waits for it briefly instead of
/// failing; a lock another process holds still fails, after that wait.
fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(e) => match StoreError::opening(dir, e) {
                StoreError::Locked { .. } if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return Err(other),
            },
        }
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

/// Checks the stored schema version and returns it; a new store gets this build's.
fn check_schema(db: &sled::Db) -> Result<u32, StoreError> {
    let meta = db.open_tree(META)?;
    match meta.get(SCHEMA_KEY)? {
        None => {
            meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(SCHEMA_VERSION)
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
                Ok(found)
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn schema_version_for_test(store: &SledStore) -> u32 {
    store
        .inner
        .db
        .open_tree(META)
        .ok()
        .and_then(|meta| meta.get(SCHEMA_KEY).ok().flatten())
        .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Credentials of a test connection (`connection_id`), with throwaway tokens.
#[cfg(test)]
pub(crate) fn test_credentials(connection_id: &str) -> GoogleCredentials {
    GoogleCredentials {
        connection_id: connection_id.into(),
        access_token: crate::secret::Secret::new("a".into()),
        access_expires_at: 0,
        refresh_token: crate::secret::Secret::new("r".into()),
        scopes: Default::default(),
        account_email: "ann@example.com".into(),
        account_sub: "1".into(),
        connected_at: 0,
        updated_at: 0,
        needs_reauth: None,
    }
}

#[cfg(test)]
pub(crate) fn set_schema_version_for_test(store: &SledStore, version: u32) {
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
        let store = SledStore::open(dir.path()).unwrap();
        set_schema_version_for_test(&store, SCHEMA_VERSION + 1);
        store.flush().unwrap();
        drop(store);
        let err = SledStore::open(dir.path())
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
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path())
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
        let _s = SledStore::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
