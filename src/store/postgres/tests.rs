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
        &Database::parse(url, 4).unwrap(),
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
    for table in ["meta"].into_iter().chain(schema::RECORD_TABLES) {
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

fn connected_tokens(store: &PgStore, n: usize) -> Vec<TokenId> {
    let mut tokens: Vec<TokenId> = (0..n).map(|_| TokenId::generate()).collect();
    for t in &tokens {
        store.put_credentials(t, &test_credentials("c1")).unwrap();
    }
    tokens.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    tokens
}

fn held(tick: &crate::store::fleet::Tick) -> Vec<TokenId> {
    let mut out: Vec<TokenId> = tick.held.iter().map(|h| h.token.clone()).collect();
    out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    out
}

/// Ends the leases of `owner` now, as if its time had run out: its node's row, or for '' the
/// leases given back.
fn expire(store: &PgStore, owner: &str) {
    store.sql_for_test(&if owner.is_empty() {
        "UPDATE leases SET expires_at = now() - interval '1 second' WHERE owner = ''".to_string()
    } else {
        format!("UPDATE nodes SET expires_at = now() - interval '1 second' WHERE id = '{owner}'")
    });
}

/// `node` stopped a while ago: no heartbeat within a lease, its leases run out.
fn kill(store: &PgStore, node: &str) {
    expire(store, node);
    store.sql_for_test(&format!(
        "UPDATE nodes SET heartbeat_at = now() - interval '1 hour' WHERE id = '{node}'"
    ));
}

const LEASE: std::time::Duration = std::time::Duration::from_secs(30);

#[test]
fn leases_share_the_tokens_and_move_only_once_expired() {
    use crate::store::fleet::Fleet;
    let Some(url) = test_cluster::database("leases_share_the_tokens_and_move_only_once_expired")
    else {
        return;
    };
    let store = open(&url, Some(&key()), None).unwrap();
    let tokens = connected_tokens(&store, 10);
    let a1 = store.tick("a", LEASE).unwrap();
    assert_eq!(
        (a1.live_nodes, a1.tokens, held(&a1)),
        (1, 10, tokens.clone())
    );
    assert_eq!((a1.taken_over, a1.released), (0, 0));
    // A second node finds everything leased: it takes nothing yet.
    let b1 = store.tick("b", LEASE).unwrap();
    assert_eq!((b1.live_nodes, b1.held.len()), (2, 0));
    // a now holds twice its share: it keeps the first half, with the same epochs, and
    // releases the rest.
    let a2 = store.tick("a", LEASE).unwrap();
    assert_eq!((held(&a2), a2.released), (tokens[..5].to_vec(), 5));
    for h in &a2.held {
        let before = a1.held.iter().find(|x| x.token == h.token).unwrap();
        assert_eq!(h.epoch, before.epoch);
    }
    // Released leases stay unavailable until their expiry passes.
    assert!(store.tick("b", LEASE).unwrap().held.is_empty());
    assert_eq!(store.owner(&tokens[9]).unwrap(), None);
    assert_eq!(store.owner(&tokens[0]).unwrap().as_deref(), Some("a"));
    assert!(
        store.tick("a", LEASE).unwrap().held.len() == 5,
        "nothing released is renewed"
    );
    expire(&store, "");
    let b2 = store.tick("b", LEASE).unwrap();
    assert_eq!(held(&b2), tokens[5..].to_vec());
    assert_eq!(b2.taken_over, 0, "released, not taken over");
    // a stops heartbeating and its leases run out: b takes everything over.
    kill(&store, "a");
    let b3 = store.tick("b", LEASE).unwrap();
    assert_eq!((b3.live_nodes, held(&b3)), (1, tokens.clone()));
    assert_eq!(b3.taken_over, 5);
    let epochs: Vec<i64> = a1
        .held
        .iter()
        .chain(&b2.held)
        .chain(&b3.held)
        .map(|h| h.epoch)
        .collect();
    let mut unique = epochs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        epochs.len() - 5,
        "an epoch is never drawn twice (b3 renews b2's 5)"
    );
    // A disconnected token's lease goes with it.
    store.forget_calendar(&tokens[0], true, true).unwrap();
    assert_eq!(store.tick("b", LEASE).unwrap().held.len(), 9);
    let nodes = store.nodes(LEASE).unwrap();
    assert_eq!(
        nodes
            .iter()
            .map(|n| (n.id.as_str(), n.live, n.leases))
            .collect::<Vec<_>>(),
        [("a", false, 0), ("b", true, 9)]
    );
    // An orderly leave hands everything over at once: given back, not taken over.
    store.leave("b").unwrap();
    assert!(
        matches!(store.tick("b", LEASE), Err(StoreError::Unavailable(_))),
        "a tick after the leave (one that was queued behind it) cannot register b again"
    );
    let a3 = store.tick("a", LEASE).unwrap();
    assert_eq!((a3.live_nodes, a3.held.len(), a3.taken_over), (1, 9, 0));
}

/// Waits until a session of the test's database waits for a lock, or `other` has finished
/// (which, in a test of a lock, is what the test then finds wrong).
fn wait_blocked_or_done<T>(store: &PgStore, other: &std::thread::JoinHandle<T>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting = store.sql_for_test(
            "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()",
        );
        if other.is_finished() || waiting[0][0].as_deref() != Some("0") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "nothing ran");
        std::thread::yield_now();
    }
}

/// A node renewing while another takes its expired leases: the renewal waits for the taking
/// transaction (which locks the owner's row) and then no longer counts the taken leases as its
/// own, so the two never both believe they hold one.
#[test]
fn a_renewal_racing_a_takeover_never_keeps_what_was_taken() {
    use crate::store::fleet::Fleet;
    use std::sync::Arc;
    let Some(url) = test_cluster::database("a_renewal_racing_a_takeover") else {
        return;
    };
    let store = Arc::new(open(&url, Some(&key()), None).unwrap());
    let tokens = connected_tokens(&store, 4);
    assert_eq!(store.tick("a", LEASE).unwrap().held.len(), 4);
    store.tick("b", LEASE).unwrap();
    expire(&store, "a");
    // b's taking transaction, held open on a thread of its own until told to commit.
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let taker = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .pool
                .with(async |c| {
                    let tx = c.transaction().await.map_err(query_error)?;
                    let taken = super::fleet::take(&tx, "b", 2).await?;
                    let ids: Vec<String> = taken.iter().map(|r| r.get(0)).collect();
                    taken_tx.send(ids).unwrap();
                    commit_rx.recv().unwrap();
                    tx.commit().await.map_err(query_error)
                })
                .unwrap()
        })
    };
    let taken = taken_rx.recv().unwrap();
    // a renews now, while b's transaction is open: it must wait for it.
    let renewing = {
        let store = store.clone();
        std::thread::spawn(move || store.tick("a", LEASE).unwrap())
    };
    wait_blocked_or_done(&store, &renewing);
    commit_tx.send(()).unwrap();
    taker.join().unwrap();
    let renewed = renewing.join().unwrap();
    assert_eq!(taken.len(), 2, "b takes two of a's expired leases");
    let kept: Vec<TokenId> = tokens
        .iter()
        .filter(|t| !taken.iter().any(|x| x == t.as_str()))
        .cloned()
        .collect();
    assert_eq!(held(&renewed), kept, "a keeps only what b did not take");
}

/// A node that registered and took a token after a taker's statement began: the taker waits
/// on the lease row and then, finding its epoch changed, leaves it (though its snapshot cannot
/// see the new node's row and would call it dead).
#[test]
fn a_take_never_overwrites_a_lease_taken_after_its_snapshot() {
    use crate::store::fleet::Fleet;
    use std::sync::Arc;
    let Some(url) = test_cluster::database("a_take_never_overwrites") else {
        return;
    };
    let store = Arc::new(open(&url, Some(&key()), None).unwrap());
    let token = connected_tokens(&store, 1).remove(0);
    // Node n registers and takes the token in a transaction held open.
    let (took_tx, took_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let (store, token) = (store.clone(), token.clone());
        std::thread::spawn(move || {
            store
                .pool
                .with(async |c| {
                    let tx = c.transaction().await.map_err(query_error)?;
                    tx.batch_execute(&format!(
                        "INSERT INTO nodes (id, started_at, heartbeat_at, expires_at)
                             VALUES ('n', now(), now(), now() + interval '1 minute');
                         INSERT INTO leases (token_id, owner, epoch, expires_at)
                             VALUES ('{}', 'n', nextval('lease_epochs'), now())",
                        token.as_str()
                    ))
                    .await
                    .map_err(query_error)?;
                    took_tx.send(()).unwrap();
                    commit_rx.recv().unwrap();
                    tx.commit().await.map_err(query_error)
                })
                .unwrap()
        })
    };
    took_rx.recv().unwrap();
    // Node t's take begins now: its snapshot sees neither n's row nor its lease.
    let taking = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .pool
                .with(async |c| {
                    let tx = c.transaction().await.map_err(query_error)?;
                    let taken = super::fleet::take(&tx, "t", 10).await?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(taken.len())
                })
                .unwrap()
        })
    };
    wait_blocked_or_done(&store, &taking);
    commit_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(taking.join().unwrap(), 0, "t took a lease n had just taken");
    assert_eq!(store.owner(&token).unwrap().as_deref(), Some("n"));
}

#[test]
fn acquire_takes_a_free_lease_keeps_its_own_and_respects_another_nodes() {
    use crate::store::fleet::Fleet;
    let Some(url) = test_cluster::database("acquire_takes_a_free_lease") else {
        return;
    };
    let store = open(&url, Some(&key()), None).unwrap();
    let t = connected_tokens(&store, 1).remove(0);
    let first = store.acquire("a", &t, LEASE).unwrap().unwrap();
    assert_eq!(
        store.acquire("a", &t, LEASE).unwrap(),
        Some(first),
        "renewed"
    );
    assert_eq!(store.acquire("b", &t, LEASE).unwrap(), None, "held by a");
    expire(&store, "a");
    let taken = store.acquire("b", &t, LEASE).unwrap().unwrap();
    assert!(taken > first);
    assert_eq!(store.owner(&t).unwrap().as_deref(), Some("b"));
}

#[test]
fn a_commit_under_a_lost_lease_is_refused_and_changes_nothing() {
    use crate::convert::MetricPoint;
    use crate::metric::{Datapoint, Dimensions, MetricName};
    use crate::store::fleet::Fleet;
    use crate::store::{Changes, SyncCommit, SyncState, TimeRange};
    let Some(url) = test_cluster::database("a_commit_under_a_lost_lease_is_refused") else {
        return;
    };
    let store = open(&url, Some(&key()), None).unwrap();
    let t = connected_tokens(&store, 1).remove(0);
    let old = store.acquire("a", &t, LEASE).unwrap().unwrap();
    let commit = |fence: i64, value: f64, sync_token: &str| SyncCommit {
        connection_id: "c1".into(),
        full: true,
        changes: Changes::of(
            "ann",
            &t,
            vec![(
                "e1".to_string(),
                vec![MetricPoint {
                    metric: MetricName::new("imp.events.duration").unwrap(),
                    point: Datapoint {
                        timestamp: 1,
                        dimensions: Dimensions::new(),
                        value,
                    },
                }],
            )],
        ),
        state: SyncState {
            calendar_id: "primary".into(),
            sync_token: Some(sync_token.into()),
            ..SyncState::default()
        },
        notices: vec![],
        fence: Some(fence),
    };
    store.commit_sync(&commit(old, 1.0, "s1")).unwrap();
    // a is paused past its lease; b takes the token over and syncs.
    expire(&store, "a");
    let new = store.acquire("b", &t, LEASE).unwrap().unwrap();
    store.commit_sync(&commit(new, 2.0, "s2")).unwrap();
    // a wakes up and commits what it had listed: refused.
    let late = store.commit_sync(&commit(old, 9.0, "stale")).err();
    assert!(matches!(late, Some(StoreError::LeaseLost)), "{late:?}");
    let m = MetricName::new("imp.events.duration").unwrap();
    let values: Vec<f64> = store
        .read_datapoints("ann", &m, TimeRange::default())
        .unwrap()
        .iter()
        .map(|p| p.value)
        .collect();
    assert_eq!(values, [2.0]);
    let selection = store.selection(&t).unwrap();
    assert_eq!(selection.calendars[0].sync_token.as_deref(), Some("s2"));
}

#[test]
fn a_silent_link_is_given_up_in_seconds_unless_the_url_says_otherwise() {
    use std::time::Duration;
    let db = Database::parse("postgres://ann@db.example/impulses", 2).unwrap();
    assert_eq!(
        db.config.get_tcp_user_timeout(),
        Some(&Duration::from_secs(10))
    );
    assert_eq!(db.config.get_keepalives_idle(), Duration::from_secs(10));
    assert_eq!(
        db.config.get_keepalives_interval(),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        db.config.get_connect_timeout(),
        Some(&Duration::from_secs(10))
    );
    let own = Database::parse(
        "postgres://ann@db.example/impulses?tcp_user_timeout=3&keepalives_idle=60&connect_timeout=2",
        2,
    )
    .unwrap();
    assert_eq!(
        own.config.get_tcp_user_timeout(),
        Some(&Duration::from_secs(3))
    );
    assert_eq!(own.config.get_keepalives_idle(), Duration::from_secs(60));
    assert_eq!(
        own.config.get_connect_timeout(),
        Some(&Duration::from_secs(2))
    );
}
