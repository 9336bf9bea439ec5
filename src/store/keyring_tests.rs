use super::*;
use crate::secret::Secret;
use crate::store::{GoogleCredentials, PendingAuthorization, SledStore, SCHEMA_VERSION};
use crate::token::TokenId;

const REFRESH: &str = "1//refresh-token-in-the-clear";
const ACCESS: &str = "ya29.access-token-in-the-clear";
const VERIFIER: &str = "pkce-verifier-in-the-clear-0123456789";

fn key(b: u8) -> CredentialKey {
    CredentialKey::from_base64(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [b; 32],
    ))
    .unwrap()
}

fn keys(current: Option<u8>, previous: Option<u8>) -> CredentialKeys {
    CredentialKeys {
        current: current.map(key),
        previous: previous.map(key),
    }
}

fn creds() -> GoogleCredentials {
    GoogleCredentials {
        connection_id: "c1".into(),
        access_token: Secret::new(ACCESS.into()),
        access_expires_at: 10,
        refresh_token: Secret::new(REFRESH.into()),
        scopes: crate::google::scopes::Scopes::from_names(["s"]),
        account_email: "ann@example.com".into(),
        account_sub: "1".into(),
        connected_at: 1,
        updated_at: 1,
        needs_reauth: None,
    }
}

fn pending(token: &TokenId) -> PendingAuthorization {
    PendingAuthorization {
        token_id: token.clone(),
        verifier: Secret::new(VERIFIER.into()),
        created_at: 100,
    }
}

/// Opens, retrying while a store dropped just before still holds its lock (sled releases it
/// from a background thread).
/// (tree, key, value) of every record.
type Dump = Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>;

/// Every byte of every tree, to prove a failed open changed nothing.
fn dump(store: &SledStore) -> Dump {
    let db = &store.inner.db;
    let mut out = Vec::new();
    for name in db.tree_names() {
        for item in db.open_tree(&name).unwrap().iter() {
            let (k, v) = item.unwrap();
            out.push((name.to_vec(), k.to_vec(), v.to_vec()));
        }
    }
    out.sort();
    out
}

fn filled(dir: &Path, keys: &CredentialKeys) -> (TokenId, Dump) {
    let store = SledStore::open_with_keys(dir, keys).unwrap();
    let new = crate::store::NewToken {
        user: "ann".into(),
        name: "phone".into(),
        capability: crate::token::Capability::Super,
        expires_at: i64::MAX,
    };
    let (_, plaintext) = store.create_token(new, 0).unwrap();
    assert!(
        !contains(&dump(&store), plaintext.expose()),
        "data tokens are kept only as hashes"
    );
    let token = TokenId::generate();
    store.put_credentials(&token, &creds()).unwrap();
    store
        .put_pending_authorization("state-1", &pending(&token), 100)
        .unwrap();
    let d = dump(&store);
    store.flush().unwrap();
    (token, d)
}

fn contains(hay: &[(Vec<u8>, Vec<u8>, Vec<u8>)], needle: &str) -> bool {
    hay.iter().any(|(_, k, v)| {
        [k, v]
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

#[test]
fn secrets_are_sealed_on_disk_under_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let (token, d) = filled(dir.path(), &CredentialKeys::default());
    for secret in [REFRESH, ACCESS, VERIFIER] {
        assert!(!contains(&d, secret), "{secret} stored in the clear");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let store = SledStore::open_with_keys(dir.path(), &CredentialKeys::default()).unwrap();
    let c = store.credentials(&token).unwrap().unwrap();
    assert_eq!(
        (
            c.refresh_token.expose().as_str(),
            c.access_token.expose().as_str()
        ),
        (REFRESH, ACCESS)
    );
    let p = store
        .take_pending_authorization("state-1", 101)
        .unwrap()
        .unwrap();
    assert_eq!(p.verifier.expose(), VERIFIER);
}

#[test]
fn a_wrong_key_fails_at_open_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (token, before) = filled(dir.path(), &keys(Some(1), None));
    for wrong in [
        keys(Some(2), None),
        keys(Some(2), Some(3)),
        CredentialKeys::default(),
    ] {
        let err = SledStore::open_with_keys(dir.path(), &wrong).err().unwrap();
        assert!(
            matches!(err, StoreError::WrongKey | StoreError::MissingKey { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("CREDENTIALS_KEY"), "{err}");
        assert!(!err.to_string().contains('\n'));
    }
    assert!(!dir.path().join(KEY_FILE).exists(), "no key file made");
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(1), None)).unwrap();
    assert_eq!(dump(&store), before);
    assert!(store.credentials(&token).unwrap().is_some());
}

#[test]
fn a_missing_key_file_fails_without_making_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path(), &CredentialKeys::default());
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let err = SledStore::open_with_keys(dir.path(), &CredentialKeys::default())
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::MissingKey { .. }), "{err}");
    assert!(!dir.path().join(KEY_FILE).exists());
}

#[test]
fn a_broken_key_file_is_named_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join(KEY_FILE), "c2hvcnQ=").unwrap();
    let err = SledStore::open_with_keys(dir.path(), &CredentialKeys::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(KEY_FILE) && err.contains("32 bytes"), "{err}");
    assert!(!err.contains("c2hvcnQ"), "{err}");
}

#[test]
fn rotation_reseals_every_record_under_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let (token, before) = filled(dir.path(), &keys(Some(1), None));
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(2), Some(1))).unwrap();
    let after = dump(&store);
    assert_ne!(after, before);
    assert!(!contains(&after, REFRESH) && !contains(&after, VERIFIER));
    drop(store);
    // The old key no longer opens it; the new one does without the previous.
    assert!(matches!(
        SledStore::open_with_keys(dir.path(), &keys(Some(1), None)).err(),
        Some(StoreError::WrongKey)
    ));
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(2), None)).unwrap();
    let c = store.credentials(&token).unwrap().unwrap();
    assert_eq!(c.refresh_token.expose(), REFRESH);
    let p = store
        .take_pending_authorization("state-1", 101)
        .unwrap()
        .unwrap();
    assert_eq!(p.verifier.expose(), VERIFIER);
    drop(store);
    // A stale CREDENTIALS_KEY_PREVIOUS left in place is harmless.
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(2), Some(1))).unwrap();
    assert!(store.credentials(&token).unwrap().is_some());
}

#[test]
fn a_record_moved_to_another_token_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(1), None)).unwrap();
    let (a, b) = (TokenId::generate(), TokenId::generate());
    store.put_credentials(&a, &creds()).unwrap();
    let raw = store
        .inner
        .google_credentials
        .get(a.as_str())
        .unwrap()
        .unwrap();
    store
        .inner
        .google_credentials
        .insert(b.as_str(), raw)
        .unwrap();
    assert!(matches!(store.credentials(&b), Err(StoreError::Corrupt(_))));
}

#[test]
fn a_schema_1_store_with_plaintext_secrets_is_sealed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let token = TokenId::generate();
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree(META).unwrap();
        meta.insert(SCHEMA_KEY, &1u32.to_be_bytes()).unwrap();
        let plain = serde_json::json!({
            "connection_id": "c1", "access_token": ACCESS, "access_expires_at": 10,
            "refresh_token": REFRESH, "scopes": ["s"], "account_email": "a@b.c",
            "account_sub": "1", "connected_at": 1, "updated_at": 1, "needs_reauth": null
        });
        db.open_tree(GOOGLE_CREDENTIALS)
            .unwrap()
            .insert(token.as_str(), serde_json::to_vec(&plain).unwrap())
            .unwrap();
        let state = serde_json::json!({"token_id": token, "verifier": VERIFIER, "created_at": 100});
        let k: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"state-1").into();
        db.open_tree(OAUTH_STATES)
            .unwrap()
            .insert(k, serde_json::to_vec(&state).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open_with_keys(dir.path(), &keys(Some(7), None)).unwrap();
    let d = dump(&store);
    assert!(!contains(&d, REFRESH) && !contains(&d, ACCESS) && !contains(&d, VERIFIER));
    // Sealed (schema 2), and then moved into blocks (schema 3).
    assert_eq!(
        crate::store::schema_version_for_test(&store),
        SCHEMA_VERSION
    );
    assert_eq!(
        store
            .credentials(&token)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose(),
        REFRESH
    );
    let p = store
        .take_pending_authorization("state-1", 101)
        .unwrap()
        .unwrap();
    assert_eq!(p.verifier.expose(), VERIFIER);
}

#[test]
fn a_key_file_left_half_made_by_a_crash_is_replaced_on_a_store_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("credentials.key.tmp"), "").unwrap();
    let store = SledStore::open_with_keys(dir.path(), &CredentialKeys::default()).unwrap();
    assert!(dir.path().join(KEY_FILE).exists());
    assert!(!dir.path().join("credentials.key.tmp").exists());
    drop(store);
    assert!(SledStore::open_with_keys(dir.path(), &CredentialKeys::default()).is_ok());
}
