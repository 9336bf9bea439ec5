//! What only the PostgreSQL engine has: a shared schema, a key every node must agree on, and a
//! database that may be away. The behaviour both engines share is tested on both
//! ([`for_each_engine!`](crate::store::engine_tests::for_each_engine)).

use super::*;
use crate::secret::Secret;
use crate::store::{
    test_credentials, CredentialKey, NewToken, PendingAuthorization, PushChannel, StoreError,
};
use crate::token::{Capability, TokenId};

fn key() -> CredentialKey {
    CredentialKey::generate().unwrap()
}

fn open(
    url: &str,
    current: Option<&CredentialKey>,
    previous: Option<&CredentialKey>,
) -> Result<PgStore, StoreError> {
    PgStore::open(
        &Database::parse(url, 2).unwrap(),
        &CredentialKeys {
            current: current.cloned(),
            previous: previous.cloned(),
        },
    )
}

#[test]
fn nodes_starting_together_apply_each_migration_once() {
    let Some(url) = test_cluster::database("nodes_starting_together_apply_each_migration_once")
    else {
        return;
    };
    let k = key();
    let opened: Vec<Result<PgStore, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| open(&url, Some(&k), None)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stores: Vec<PgStore> = opened.into_iter().map(|r| r.unwrap()).collect();
    let versions = stores[0].sql_for_test("SELECT version FROM schema_migrations ORDER BY version");
    let want: Vec<Vec<Option<String>>> = (1..=schema::latest())
        .map(|v| vec![Some(v.to_string())])
        .collect();
    assert_eq!(versions, want);
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(url) = test_cluster::database("a_newer_schema_is_refused") else {
        return;
    };
    let k = key();
    let store = open(&url, Some(&k), None).unwrap();
    let newer = schema::latest() + 1;
    store.sql_for_test(&format!(
        "INSERT INTO schema_migrations (version) VALUES ({newer})"
    ));
    match open(&url, Some(&k), None) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (newer, schema::latest()))
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

fn channel() -> PushChannel {
    PushChannel {
        id: "ch1".into(),
        resource_id: "r1".into(),
        secret: Secret::new("PUSH-SECRET-1".into()),
        expiration_ms: 1,
        slot: 0,
        calendar_id: "primary".into(),
        opened_ms: 1,
    }
}

fn pending(token: &TokenId) -> PendingAuthorization {
    PendingAuthorization {
        token_id: token.clone(),
        verifier: Secret::new("VERIFIER-SECRET-1".into()),
        created_at: 100,
    }
}

#[test]
fn the_key_is_required_checked_and_rotated() {
    let Some(url) = test_cluster::database("the_key_is_required_checked_and_rotated") else {
        return;
    };
    let (k1, k2) = (key(), key());
    assert!(matches!(
        open(&url, None, None).err(),
        Some(StoreError::KeyRequired)
    ));
    let store = open(&url, Some(&k1), None).unwrap();
    let t = TokenId::generate();
    store.put_credentials(&t, &test_credentials("c1")).unwrap();
    store
        .put_pending_authorization("st", &pending(&t), 100)
        .unwrap();
    store.put_channel(&t, &channel()).unwrap();
    drop(store);
    assert!(matches!(
        open(&url, Some(&k2), None).err(),
        Some(StoreError::WrongKey)
    ));
    let rotated = open(&url, Some(&k2), Some(&k1)).unwrap();
    assert_eq!(
        rotated.credentials(&t).unwrap().unwrap().connection_id,
        "c1"
    );
    assert_eq!(rotated.channels(&t).unwrap(), vec![channel()]);
    let taken = rotated
        .take_pending_authorization("st", 101)
        .unwrap()
        .unwrap();
    assert_eq!(taken.verifier.expose(), "VERIFIER-SECRET-1");
    drop(rotated);
    // Every node now needs the new key; the previous one no longer opens anything.
    assert!(matches!(
        open(&url, Some(&k1), None).err(),
        Some(StoreError::WrongKey)
    ));
    let again = open(&url, Some(&k2), Some(&k1)).unwrap();
    assert_eq!(again.channels(&t).unwrap(), vec![channel()]);
}

#[test]
fn no_secret_is_stored_in_the_clear() {
    let Some(url) = test_cluster::database("no_secret_is_stored_in_the_clear") else {
        return;
    };
    let store = open(&url, Some(&key()), None).unwrap();
    let (token, plaintext) = store
        .create_token(
            NewToken {
                user: "ann".into(),
                name: "phone".into(),
                capability: Capability::Super,
                expires_at: 10,
            },
            1,
        )
        .unwrap();
    let mut creds = test_credentials("c1");
    creds.access_token = Secret::new("ACCESS-SECRET-1".into());
    creds.refresh_token = Secret::new("REFRESH-SECRET-1".into());
    store.put_credentials(&token.id, &creds).unwrap();
    store
        .put_pending_authorization("st", &pending(&token.id), 100)
        .unwrap();
    store.put_channel(&token.id, &channel()).unwrap();
    let mut dump = String::new();
    for table in [
        "meta",
        "tokens",
        "google_credentials",
        "selections",
        "event_index",
        "datapoints",
        "oauth_states",
        "push_channels",
    ] {
        for row in store.sql_for_test(&format!("SELECT t::text FROM {table} t")) {
            dump.extend(row.into_iter().flatten());
        }
    }
    assert!(
        dump.contains(token.id.as_str()),
        "the dump holds the records"
    );
    for secret in [
        plaintext.expose().as_str(),
        "ACCESS-SECRET-1",
        "REFRESH-SECRET-1",
        "VERIFIER-SECRET-1",
        "PUSH-SECRET-1",
    ] {
        // bytea columns print as hex.
        assert!(!dump.contains(secret), "{secret} in the clear");
        assert!(
            !dump.contains(&hex::encode(secret)),
            "{secret} in the clear"
        );
    }
}

#[test]
fn an_unreachable_database_is_unavailable_and_its_password_unsaid() {
    // Port 1 on loopback refuses at once.
    let url = "postgresql://ann:hunter2-secret@127.0.0.1:1/impulses";
    match open(url, Some(&key()), None) {
        Err(e @ StoreError::Unavailable(_)) => {
            let said = format!("{e} {e:?}");
            assert!(!said.contains("hunter2"), "{said}");
            assert!(
                said.contains("refused") || said.contains("connect"),
                "{said}"
            );
        }
        other => panic!("expected Unavailable, got {:?}", other.err()),
    }
}
