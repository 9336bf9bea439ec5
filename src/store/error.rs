//! Errors of the store boundary.

use std::path::Path;

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption it detected).
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process (or another handle in this one) owns the store.
    #[error("data directory {path} is in use by another impulses-gcal process")]
    Locked {
        /// The directory.
        path: String,
    },
    /// The store was written by a newer version of impulses-gcal.
    #[error("the store has schema version {found}, but this build supports {supported} or older: upgrade impulses-gcal")]
    NewerSchema {
        /// Version found on disk.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// The credentials key does not open this store's secrets.
    #[error("the credentials key does not open this store's Google credentials: set CREDENTIALS_KEY to the key they were sealed with (to change keys, put the old one in CREDENTIALS_KEY_PREVIOUS)")]
    WrongKey,
    /// The store's secrets are sealed, but no key was given and the key file is gone.
    #[error("this store's Google credentials are sealed, but CREDENTIALS_KEY is unset and the key file {path} is missing: restore it or set CREDENTIALS_KEY")]
    MissingKey {
        /// The expected key file.
        path: String,
    },
    /// PostgreSQL was chosen without a credentials key (no data directory holds a key file).
    #[error("CREDENTIALS_KEY is required with DATABASE_URL: every node must seal Google credentials under the same key")]
    KeyRequired,
    /// The key file could not be read, parsed or created.
    #[error("credentials key file {path}: {problem}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What is wrong, never the key itself.
        problem: String,
    },
    /// A record failed to decode.
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    /// A sync commit for a Google connection that was replaced or removed meanwhile.
    #[error("the Google connection changed while the sync ran; its results were discarded")]
    Stale,
    /// A sync commit from a node that no longer holds the token's lease (it was paused, cut
    /// off or slow, and another node took the token over).
    #[error("this node lost the token's lease while the sync ran; its results were discarded")]
    LeaseLost,
    /// A sync commit for a calendar that was deselected meanwhile.
    #[error("the calendar was deselected while the sync ran; its results were discarded")]
    Deselected,
    /// A uniqueness rule was violated (the message says which).
    #[error("{0}")]
    Conflict(String),
    /// PostgreSQL answered with an error (the message is the server's, never the URL).
    #[error("database error: {0}")]
    Database(String),
    /// PostgreSQL cannot be reached (or the connection broke); a later call may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt(what.into())
    }

    pub(crate) fn opening(dir: &Path, e: sled::Error) -> Self {
        let locked = match &e {
            sled::Error::Io(io) => {
                io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock")
            }
            _ => false,
        };
        if locked {
            Self::Locked {
                path: dir.display().to_string(),
            }
        } else {
            Self::Sled(e)
        }
    }
}

impl<E: Into<StoreError>> From<sled::transaction::TransactionError<E>> for StoreError {
    fn from(e: sled::transaction::TransactionError<E>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(inner) => inner.into(),
            sled::transaction::TransactionError::Storage(s) => Self::Sled(s),
        }
    }
}
