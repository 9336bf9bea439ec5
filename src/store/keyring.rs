//! Unlocking the store's secrets at open: find the key, prove it is the right one, and bring every
//! secret record under it (sealing schema-1 plaintext, re-sealing after a key rotation).
//!
//! The `meta` tree holds a key check value: a constant sealed under the key the records are
//! sealed with. Opening with another key fails before anything is written, so a typo in
//! `CREDENTIALS_KEY` can never leave a store half under one key and half under another. Sealing
//! and re-sealing run in one transaction with the new check value, so a crash leaves the old key
//! or the new one in force, never a mix.

use std::io::Write;
use std::path::Path;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::cipher::{context, is_sealed, Cipher, CredentialKey, CredentialKeys};
use super::{StoreError, GOOGLE_CREDENTIALS, META, OAUTH_STATES, PUSH_CHANNELS, SCHEMA_KEY};

/// The schema version from which secret records are sealed.
const SEALED_SINCE: u32 = 2;

/// Name of the key file made in the data directory when `CREDENTIALS_KEY` is unset.
pub const KEY_FILE: &str = "credentials.key";
pub(super) const CHECK_KEY: &[u8] = b"credentials_key_check";
pub(super) const CHECK_PLAINTEXT: &[u8] = b"impulses-gcal credentials key check v1";
/// The trees whose records are sealed.
const SEALED_TREES: [&str; 3] = [GOOGLE_CREDENTIALS, OAUTH_STATES, PUSH_CHANNELS];

/// What `unlock` did, for the start-up log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unlocked {
    /// The records were already under the current key.
    Ready,
    /// Plaintext records of an older schema (or none, on a new store) were sealed.
    Sealed(usize),
    /// Records under the previous key were re-sealed under the current one.
    Rotated(usize),
}

/// Finds the current key, checks it against the store, and brings every record under it.
pub(crate) fn unlock(
    db: &sled::Db,
    dir: &Path,
    keys: &CredentialKeys,
) -> Result<(Cipher, Unlocked), StoreError> {
    let meta = db.open_tree(META)?;
    let check = meta.get(CHECK_KEY)?;
    let current = match &keys.current {
        Some(k) => k.clone(),
        None => key_from_file(dir, check.is_some())?,
    };
    let cipher = Cipher::new(&current).map_err(|_| StoreError::WrongKey)?;
    let check_context = context(META, CHECK_KEY);
    let Some(check) = check else {
        let n = reseal(db, &cipher, |_, record| {
            if is_sealed(record) {
                // Sealed records without a check value: not a store this build wrote.
                Err(StoreError::corrupt(
                    "sealed record without a key check value",
                ))
            } else {
                Ok(record.to_vec())
            }
        })?;
        return Ok((cipher, Unlocked::Sealed(n)));
    };
    if cipher.open(&check_context, &check).is_ok() {
        return Ok((cipher, Unlocked::Ready));
    }
    let previous = keys
        .previous
        .as_ref()
        .map(Cipher::new)
        .transpose()
        .map_err(|_| StoreError::WrongKey)?;
    match previous {
        Some(old) if old.open(&check_context, &check).is_ok() => {
            let n = reseal(db, &cipher, |ctx, record| {
                old.open(ctx, record).map_err(|_| {
                    StoreError::corrupt("a record does not open with the previous key")
                })
            })?;
            Ok((cipher, Unlocked::Rotated(n)))
        }
        _ => Err(StoreError::WrongKey),
    }
}

/// Re-seals every record of the sealed trees under `cipher` (`plain` turns a stored record into
/// its plaintext), writes the new check value and marks the schema sealed, all in one
/// transaction.
fn reseal(
    db: &sled::Db,
    cipher: &Cipher,
    plain: impl Fn(&[u8], &[u8]) -> Result<Vec<u8>, StoreError>,
) -> Result<usize, StoreError> {
    let seal = |ctx: &[u8], bytes: &[u8]| {
        cipher
            .seal(ctx, bytes)
            .map_err(|_| StoreError::corrupt("sealing failed"))
    };
    let mut records: Vec<Vec<(sled::IVec, Vec<u8>)>> = Vec::new();
    for name in SEALED_TREES {
        let tree = db.open_tree(name)?;
        let mut out = Vec::new();
        for item in tree.iter() {
            let (k, v) = item?;
            let ctx = context(name, &k);
            out.push((k, seal(&ctx, &plain(&ctx, &v)?)?));
        }
        records.push(out);
    }
    let check = seal(&context(META, CHECK_KEY), CHECK_PLAINTEXT)?;
    let (meta, creds, states, channels) = (
        db.open_tree(META)?,
        db.open_tree(GOOGLE_CREDENTIALS)?,
        db.open_tree(OAUTH_STATES)?,
        db.open_tree(PUSH_CHANNELS)?,
    );
    (&meta, &creds, &states, &channels).transaction(|(m, c, s, p)| {
        let write = |t: &TransactionalTree, rs: &[(sled::IVec, Vec<u8>)]| {
            for (k, v) in rs {
                t.insert(k, v.as_slice())?;
            }
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        };
        write(c, &records[0])?;
        write(s, &records[1])?;
        write(p, &records[2])?;
        m.insert(CHECK_KEY, check.as_slice())?;
        // Sealed means at least schema 2; a newer version stays (a key rotation on schema 3, or
        // a new store), and a layout migration after this raises it further.
        let stored = m
            .get(SCHEMA_KEY)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_be_bytes);
        if stored < SEALED_SINCE {
            m.insert(SCHEMA_KEY, &SEALED_SINCE.to_be_bytes())?;
        }
        Ok(())
    })?;
    db.flush()?;
    Ok(records.iter().map(Vec::len).sum())
}

/// Reads the key file, or creates it (mode 0600, never overwriting) on a store that has no key
/// yet. A store whose records are sealed but whose key file is gone fails instead of getting a
/// new key that could never open them.
fn key_from_file(dir: &Path, store_has_key: bool) -> Result<CredentialKey, StoreError> {
    let path = dir.join(KEY_FILE);
    let problem = |p: String| StoreError::KeyFile {
        path: path.display().to_string(),
        problem: p,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_shared(&path);
            CredentialKey::from_base64(&text).map_err(problem)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if store_has_key {
                return Err(StoreError::MissingKey {
                    path: path.display().to_string(),
                });
            }
            let key = create_key_file(&path).map_err(problem)?;
            log::warn!(
                "store: created the credentials key file {}; keep a copy apart from DATA_DIR \
                 (or set CREDENTIALS_KEY): without it the Google connections are lost",
                path.display()
            );
            Ok(key)
        }
        Err(e) => Err(problem(e.to_string())),
    }
}

/// Warns when a file or directory holding secrets can be read by group or others (a restored
/// backup, a hand-made key file); the deployer decides, so this does not change modes.
pub(crate) fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                log::warn!(
                    "{} is accessible to other users (mode {mode:o}): chmod {} it",
                    path.display(),
                    if meta.is_dir() { "700" } else { "600" }
                );
            }
        }
    }
}

/// Writes a new key to a private temporary file, syncs it, and renames it into place, so a
/// crash during the first start leaves either no key file or a complete one, never an empty one
/// that would stop every later start.
fn create_key_file(path: &Path) -> Result<CredentialKey, String> {
    let key = CredentialKey::generate().map_err(|_| "no randomness for a new key".to_string())?;
    let tmp = path.with_extension("key.tmp");
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| e.to_string())?;
    file.write_all(format!("{}\n", key.to_base64()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        // The rename itself is durable once the directory is synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(key)
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
