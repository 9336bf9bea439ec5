use super::*;
use crate::metric::{Datapoint, DimensionKey, Dimensions, MetricName};
use crate::store::{Store, TimeRange};

/// A converted point of `metric` from the event `src` (its only dimension).
pub(crate) fn point(metric: &str, src: &str, ts: i64, value: f64) -> MetricPoint {
    let mut dimensions = Dimensions::new();
    dimensions.insert(DimensionKey::new("src").unwrap(), src.to_string());
    MetricPoint {
        metric: MetricName::new(metric).unwrap(),
        point: Datapoint {
            timestamp: ts,
            dimensions,
            value,
        },
    }
}

/// An event's id and its datapoints now, as a sync hands them to [`Changes::push`].
pub(crate) type EventChange = (String, Vec<MetricPoint>);

fn change(id: &str, points: Vec<MetricPoint>) -> EventChange {
    (id.to_string(), points)
}

fn connect(store: &Store, token: &TokenId, connection: &str) {
    store
        .put_credentials(token, &crate::store::test_credentials(connection))
        .unwrap();
}

fn commit(
    token: &TokenId,
    user: &str,
    full: bool,
    changes: Vec<EventChange>,
    sync_token: &str,
) -> SyncCommit {
    SyncCommit {
        fence: None,
        notices: Vec::new(),
        connection_id: "c1".into(),
        full,
        changes: Changes::of(user, token, changes),
        state: SyncState {
            calendar_id: "primary".into(),
            sync_token: Some(sync_token.into()),
            ..SyncState::default()
        },
    }
}

/// The state of the token's first selected calendar.
fn primary(store: &Store, t: &TokenId) -> SyncState {
    store.selection(t).unwrap().calendars[0].clone()
}

fn values(store: &Store, user: &str, metric: &str) -> Vec<(i64, f64)> {
    let m = MetricName::new(metric).unwrap();
    store
        .read_datapoints(user, &m, TimeRange::default())
        .unwrap()
        .iter()
        .map(|p| (p.timestamp, p.value))
        .collect()
}

fn incremental_commits_replace_edited_and_remove_deleted_events(store: &Store) {
    let t = TokenId::generate();
    connect(store, &t, "c1");
    let d = "imp.events.duration";
    let full = commit(
        &t,
        "ann",
        true,
        vec![
            change(
                "e1",
                vec![
                    point(d, "e1", 1, 10.0),
                    point("imp.events.custom.km", "e1", 1, 5.0),
                ],
            ),
            change("e2", vec![point(d, "e2", 2, 20.0)]),
        ],
        "s1",
    );
    let stats = store.commit_sync(&full).unwrap();
    assert_eq!((stats.events, stats.datapoints, stats.written), (2, 3, 3));
    // e1 moved to another time and lost its custom metric; e2 deleted; e3 new.
    let inc = commit(
        &t,
        "ann",
        false,
        vec![
            change("e1", vec![point(d, "e1", 5, 11.0)]),
            change("e2", vec![]),
            change("e3", vec![point(d, "e3", 3, 30.0)]),
        ],
        "s2",
    );
    let stats = store.commit_sync(&inc).unwrap();
    assert_eq!((stats.events, stats.datapoints, stats.removed), (2, 2, 3));
    assert_eq!(values(store, "ann", d), vec![(3, 30.0), (5, 11.0)]);
    assert!(values(store, "ann", "imp.events.custom.km").is_empty());
    let state = primary(store, &t);
    assert_eq!(
        (state.sync_token.as_deref(), state.events, state.datapoints),
        (Some("s2"), 2, 2)
    );
}

fn a_full_sync_replaces_everything_the_token_held_and_nothing_else(store: &Store) {
    let (t, other) = (TokenId::generate(), TokenId::generate());
    connect(store, &t, "c1");
    connect(store, &other, "c1");
    let d = "imp.events.duration";
    store
        .commit_sync(&commit(
            &t,
            "ann",
            true,
            vec![
                change("a", vec![point(d, "a", 1, 1.0)]),
                change("b", vec![point(d, "b", 2, 2.0)]),
            ],
            "s1",
        ))
        .unwrap();
    store
        .commit_sync(&commit(
            &other,
            "ann",
            true,
            vec![change("x", vec![point(d, "x", 9, 9.0)])],
            "o1",
        ))
        .unwrap();
    // After a 410 the full result lacks "a" (deleted in the gap, no tombstone) and repeats "b".
    let stats = store
        .commit_sync(&commit(
            &t,
            "ann",
            true,
            vec![
                change("b", vec![point(d, "b", 2, 2.5)]),
                change("c", vec![point(d, "c", 3, 3.0)]),
            ],
            "s2",
        ))
        .unwrap();
    assert_eq!((stats.events, stats.datapoints), (2, 2));
    assert_eq!(values(store, "ann", d), vec![(2, 2.5), (3, 3.0), (9, 9.0)]);
    // Forgetting one token's calendar with purge leaves the other's datapoints.
    store.forget_calendar(&t, true, true).unwrap();
    assert_eq!(values(store, "ann", d), vec![(9, 9.0)]);
    assert!(store.credentials(&t).unwrap().is_none());
    assert_eq!(
        store.selection(&t).unwrap(),
        crate::store::Selection::default()
    );
    assert_eq!(primary(store, &other).events, 1);
}

fn a_commit_for_a_replaced_connection_is_refused_and_changes_nothing(store: &Store) {
    let t = TokenId::generate();
    connect(store, &t, "c2");
    let d = "imp.events.duration";
    let err = store
        .commit_sync(&commit(
            &t,
            "ann",
            true,
            vec![change("a", vec![point(d, "a", 1, 1.0)])],
            "s1",
        ))
        .err();
    assert!(matches!(err, Some(StoreError::Stale)), "{err:?}");
    assert!(values(store, "ann", d).is_empty());
    assert_eq!(primary(store, &t).sync_token, None);
}

#[test]
fn a_commit_that_changes_nothing_stores_its_sync_token_unless_stale() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open(dir.path()).unwrap();
    let store = Store::from(sled.clone());
    let t = TokenId::generate();
    connect(&store, &t, "c1");
    let d = "imp.events.duration";
    let full = vec![change("a", vec![point(d, "a", 1, 1.0)])];
    store
        .commit_sync(&commit(&t, "ann", true, full, "s1"))
        .unwrap();
    // Nothing changed (the path without a transaction): the token and the counts.
    let stats = store
        .commit_sync(&commit(&t, "ann", false, Vec::new(), "s2"))
        .unwrap();
    assert_eq!((stats.written, stats.removed), (0, 0));
    let state = primary(&store, &t);
    assert_eq!(state.sync_token.as_deref(), Some("s2"));
    assert_eq!((state.events, state.datapoints), (1, 1));
    assert_eq!(values(&store, "ann", d), vec![(1, 1.0)]);
    // A replaced connection: refused, the stored token stays.
    connect(&store, &t, "c2");
    let err = store
        .commit_sync(&commit(&t, "ann", false, Vec::new(), "s3"))
        .err();
    assert!(matches!(err, Some(StoreError::Stale)), "{err:?}");
    assert_eq!(primary(&store, &t).sync_token.as_deref(), Some("s2"));
    // A disconnected token: refused, and no selection comes back.
    store.forget_calendar(&t, true, true).unwrap();
    let err = store
        .commit_sync(&commit(&t, "ann", false, Vec::new(), "s4"))
        .err();
    assert!(matches!(err, Some(StoreError::Stale)), "{err:?}");
    assert_eq!(primary(&store, &t).sync_token, None);
    assert!(sled.inner.sync_state.get(t.as_str()).unwrap().is_none());
}

/// `commit` for another token and connection.
fn commit_for(
    token: &TokenId,
    connection: &str,
    user: &str,
    full: bool,
    changes: Vec<EventChange>,
    sync_token: &str,
) -> SyncCommit {
    SyncCommit {
        connection_id: connection.into(),
        ..commit(token, user, full, changes, sync_token)
    }
}

#[test]
fn a_group_commit_stores_what_each_commit_alone_would_and_refuses_only_the_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open(dir.path()).unwrap();
    let store = Store::from(sled.clone());
    let d = "imp.events.duration";
    // Two tokens of one user (their points share a series) and a third whose connection was
    // replaced after its sync started.
    let (a, b, c) = (
        TokenId::generate(),
        TokenId::generate(),
        TokenId::generate(),
    );
    connect(&store, &a, "ca");
    connect(&store, &b, "cb");
    connect(&store, &c, "cc-new");
    let first = [
        commit_for(
            &a,
            "ca",
            "ann",
            true,
            vec![
                change("x", vec![point(d, "x", 1, 1.0)]),
                change("y", vec![point(d, "y", 2, 2.0)]),
            ],
            "a1",
        ),
        commit_for(
            &b,
            "cb",
            "ann",
            true,
            vec![change("x", vec![point(d, "x", 3, 3.0)])],
            "b1",
        ),
    ];
    let stats = store.commit_syncs(&first);
    assert_eq!(stats[0].as_ref().unwrap().datapoints, 2, "{stats:?}");
    assert_eq!(stats[1].as_ref().unwrap().datapoints, 1, "{stats:?}");
    assert_eq!(values(&store, "ann", d), vec![(1, 1.0), (2, 2.0), (3, 3.0)]);
    // In one transaction: a's y deleted and x edited, b's new event.
    let next = [
        commit_for(
            &a,
            "ca",
            "ann",
            false,
            vec![
                change("y", vec![]),
                change("x", vec![point(d, "x", 1, 5.0)]),
            ],
            "a2",
        ),
        commit_for(
            &b,
            "cb",
            "ann",
            false,
            vec![change("w", vec![point(d, "w", 4, 4.0)])],
            "b2",
        ),
    ];
    let stats = store.commit_syncs(&next);
    let a2 = stats[0].as_ref().unwrap();
    assert_eq!(
        (a2.written, a2.removed, a2.events, a2.datapoints),
        (1, 1, 1, 1),
        "{stats:?}"
    );
    let b2 = stats[1].as_ref().unwrap();
    assert_eq!(
        (b2.written, b2.removed, b2.events, b2.datapoints),
        (1, 0, 2, 2),
        "{stats:?}"
    );
    assert_eq!(values(&store, "ann", d), vec![(1, 5.0), (3, 3.0), (4, 4.0)]);
    // A group with a stale commit: the others are applied alone, the stale one is refused.
    let last = [
        commit_for(&b, "cb", "ann", false, vec![change("x", vec![])], "b3"),
        commit_for(
            &c,
            "cc-old",
            "ann",
            true,
            vec![change("z", vec![point(d, "z", 9, 9.0)])],
            "c1",
        ),
        commit_for(&a, "ca", "ann", false, Vec::new(), "a3"),
    ];
    let stats = store.commit_syncs(&last);
    assert_eq!(stats[0].as_ref().unwrap().removed, 1, "{stats:?}");
    assert!(matches!(stats[1], Err(StoreError::Stale)), "{stats:?}");
    assert!(stats[2].is_ok(), "{stats:?}");
    assert_eq!(values(&store, "ann", d), vec![(1, 5.0), (4, 4.0)]);
    assert_eq!(primary(&store, &a).sync_token.as_deref(), Some("a3"));
    assert_eq!(primary(&store, &b).sync_token.as_deref(), Some("b3"));
    assert_eq!(primary(&store, &c).sync_token, None);
    // The same commits applied one by one leave the same store.
    let dir2 = tempfile::tempdir().unwrap();
    let alone = Store::open(dir2.path()).unwrap();
    connect(&alone, &a, "ca");
    connect(&alone, &b, "cb");
    connect(&alone, &c, "cc-new");
    for c in first.iter().chain(&next).chain(&last) {
        let _ = alone.commit_sync(c);
    }
    assert_eq!(values(&alone, "ann", d), values(&store, "ann", d));
    for t in [&a, &b, &c] {
        assert_eq!(primary(&alone, t), primary(&store, t));
    }
}

#[test]
fn index_refs_round_trip() {
    use crate::store::calendars::decode_refs;
    let keys: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![255; 300]];
    let mut refs = (keys.len() as u32).to_be_bytes().to_vec();
    for k in &keys {
        push_ref(&mut refs, k, &[]);
    }
    assert_eq!(decode_refs(&refs).unwrap(), keys);
    assert!(decode_refs(&[0, 0, 0, 2, 0, 1, 7]).is_err());
    assert!(decode_refs(&[0, 0]).is_err());
}

fn skipped(id: &str, seen_at: i64) -> SkipNotice {
    SkipNotice {
        event_id: id.into(),
        title: "#!<img src=x onerror=alert(1)>".into(),
        start: Some(1_000),
        reason: "event ends before it starts".into(),
        seen_at,
    }
}

fn skipped_events_are_kept_with_the_sync_that_found_them_until_fixed(store: &Store) {
    let t = TokenId::generate();
    connect(store, &t, "c1");
    let d = "imp.events.duration";
    let mut full = commit(
        &t,
        "ann",
        true,
        vec![change("ok", vec![point(d, "ok", 1, 1.0)])],
        "s1",
    );
    full.notices = vec![skipped("bad1", 1), skipped("bad2", 1)];
    store.commit_sync(&full).unwrap();
    let ids = |store: &Store| -> Vec<String> {
        primary(store, &t)
            .skip_notices
            .iter()
            .map(|n| n.event_id.clone())
            .collect()
    };
    assert_eq!(ids(store), ["bad1", "bad2"]);
    assert_eq!(
        primary(store, &t).skip_notices[0].title,
        "#!<img src=x onerror=alert(1)>"
    );
    // bad1 was fixed (it now gives points), bad3 is newly broken; bad2 was not touched.
    let mut inc = commit(
        &t,
        "ann",
        false,
        vec![
            change("bad1", vec![point(d, "bad1", 2, 2.0)]),
            change("bad3", vec![]),
        ],
        "s2",
    );
    inc.notices = vec![skipped("bad3", 2)];
    store.commit_sync(&inc).unwrap();
    assert_eq!(ids(store), ["bad2", "bad3"]);
    // A refused commit leaves them as they were; a full sync replaces them.
    connect(store, &t, "c2");
    let mut stale = commit(&t, "ann", true, vec![], "s3");
    stale.notices = vec![skipped("other", 3)];
    assert!(store.commit_sync(&stale).is_err());
    assert_eq!(ids(store), ["bad2", "bad3"]);
    let mut full = commit(&t, "ann", true, vec![], "s4");
    full.connection_id = "c2".into();
    store.commit_sync(&full).unwrap();
    assert!(ids(store).is_empty());
}

crate::store::engine_tests::for_each_engine!(
    incremental_commits_replace_edited_and_remove_deleted_events,
    a_full_sync_replaces_everything_the_token_held_and_nothing_else,
    a_commit_for_a_replaced_connection_is_refused_and_changes_nothing,
    skipped_events_are_kept_with_the_sync_that_found_them_until_fixed,
);

/// Each event's position, as the table finds it, is where it is in the list, after pushes,
/// replacements and removals (a removal moves the last event into the hole).
fn assert_positions_consistent(changes: &Changes) {
    for (i, event) in changes.events.iter().enumerate() {
        assert_eq!(
            changes.position(&event.event_id),
            Some(i),
            "{}",
            event.event_id
        );
    }
    assert_eq!(changes.at.len(), changes.events.len());
}

#[test]
fn changes_keep_each_event_once_through_replacements_and_removals() {
    let owner = TokenId::generate();
    let mut changes = Changes::new("ann", &owner);
    let ids: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        changes.push(
            id.clone(),
            &[point("imp.events.duration", id, i as i64, 1.0)],
        );
    }
    assert_positions_consistent(&changes);
    // Listed again (a later page): replaced where it was, with its new points.
    changes.push(
        "e3".into(),
        &[
            point("imp.events.duration", "e3", 3, 2.0),
            point("imp.events.custom.distance", "e3", 3, 5.0),
        ],
    );
    assert_eq!(changes.len(), 40);
    assert_eq!(changes.points(), 41);
    assert_eq!(changes.ids().nth(3), Some("e3"));
    // Removals from the middle, the end and the start, and of an event never pushed.
    for id in ["e10", "e39", "e0", "e38", "nope", "e10"] {
        changes.remove(id);
        assert!(!changes.contains(id), "{id}");
        assert_positions_consistent(&changes);
    }
    assert_eq!(changes.len(), 36);
    let kept: std::collections::BTreeSet<&str> = changes.ids().collect();
    let expected: std::collections::BTreeSet<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| !["e10", "e39", "e0", "e38"].contains(id))
        .collect();
    assert_eq!(kept, expected);
    // Removed, then listed again: back once.
    changes.push(
        "e10".into(),
        &[point("imp.events.duration", "e10", 10, 1.0)],
    );
    assert!(changes.contains("e10"));
    assert_eq!(changes.len(), 37);
    assert_positions_consistent(&changes);
}

#[test]
fn points_sharing_dimensions_are_encoded_as_each_alone_would_be() {
    let owner = TokenId::generate();
    let mut changes = Changes::new("ann", &owner);
    let mut other = point("imp.events.custom.distance", "e1", 5, 7.5);
    other
        .point
        .dimensions
        .insert(DimensionKey::new("where").unwrap(), "park \"north\"".into());
    let points = vec![
        point("imp.events.duration", "e1", 5, 2_700_000.0),
        point("imp.events.custom.distance", "e1", 5, 10_000.0),
        // Another timestamp, then other dimensions: neither may reuse the first key.
        point("imp.events.custom.laps", "e1", 6, 3.0),
        other,
    ];
    changes.push("e1".into(), &points);
    let event = &changes.events[0];
    assert_eq!(event.puts.len(), points.len());
    let mut entries = std::collections::HashSet::new();
    for (put, p) in event.puts.iter().zip(&points) {
        assert_eq!(put.value, codec::encode(&p.point));
        assert_eq!(
            put.entry,
            keys::derived_entry_key(p.point.timestamp, &p.point.dimensions, owner.as_str())
        );
        entries.insert(put.entry);
    }
    // The first two share their entry key (in two series); the others have their own.
    assert_eq!(entries.len(), 3);
}
