//! Several calendars of one token against a real store: shared events, full syncs of one
//! calendar, selection changes, and the schema-3 layout.

use crate::convert::MetricPoint;
use crate::metric::{Datapoint, DimensionKey, Dimensions, MetricName};
use crate::store::sync_commit::tests::EventChange;
use crate::store::{
    Changes, Selection, Store, StoreError, SyncCommit, SyncCommitStats, SyncState, TimeRange,
};
use crate::token::TokenId;

const D: &str = "imp.events.duration";

fn point(src: &str, ts: i64, value: f64) -> MetricPoint {
    let mut dimensions = Dimensions::new();
    dimensions.insert(DimensionKey::new("src").unwrap(), src.to_string());
    MetricPoint {
        metric: MetricName::new(D).unwrap(),
        point: Datapoint {
            timestamp: ts,
            dimensions,
            value,
        },
    }
}

fn ev(id: &str, ts: i64, value: f64) -> EventChange {
    (id.to_string(), vec![point(id, ts, value)])
}

fn gone(id: &str) -> EventChange {
    (id.to_string(), vec![])
}

struct Fixture {
    store: Store,
    token: TokenId,
}

fn fixture(store: &Store, calendars: &[&str]) -> Fixture {
    let store = store.clone();
    let token = TokenId::generate();
    store
        .put_credentials(&token, &crate::store::test_credentials("c1"))
        .unwrap();
    let ids: Vec<String> = calendars.iter().map(|s| s.to_string()).collect();
    store.select_calendars(&token, "c1", &ids).unwrap();
    Fixture { store, token }
}

impl Fixture {
    fn state(&self, calendar: &str) -> SyncState {
        self.store
            .selection(&self.token)
            .unwrap()
            .find(calendar)
            .cloned()
            .unwrap()
    }

    fn commit(
        &self,
        calendar: &str,
        full: bool,
        changes: Vec<EventChange>,
    ) -> Result<SyncCommitStats, StoreError> {
        let state = self.state(calendar);
        self.store.commit_sync(&SyncCommit {
            fence: None,
            notices: Vec::new(),
            connection_id: "c1".into(),
            full,
            changes: Changes::of("ann", &self.token, changes),
            state: SyncState {
                sync_token: Some(format!("{calendar}-{}", state.sync_token.is_some())),
                ..state
            },
        })
    }

    fn values(&self) -> Vec<(i64, f64)> {
        self.store
            .read_datapoints("ann", &MetricName::new(D).unwrap(), TimeRange::default())
            .unwrap()
            .iter()
            .map(|p| (p.timestamp, p.value))
            .collect()
    }
}

fn an_event_in_two_calendars_is_held_once_and_stays_while_either_has_it(store: &Store) {
    let f = fixture(store, &["primary", "training"]);
    f.commit(
        "primary",
        true,
        vec![ev("shared", 1, 10.0), ev("p", 2, 2.0)],
    )
    .unwrap();
    f.commit(
        "training",
        true,
        vec![ev("shared", 1, 10.0), ev("t", 3, 3.0)],
    )
    .unwrap();
    assert_eq!(f.values(), vec![(1, 10.0), (2, 2.0), (3, 3.0)]);
    assert_eq!(
        (f.state("training").events, f.state("training").datapoints),
        (2, 2)
    );
    // It leaves the primary: the training calendar still has it.
    let stats = f.commit("primary", false, vec![gone("shared")]).unwrap();
    assert_eq!((stats.events, stats.removed), (1, 0));
    assert_eq!(f.values(), vec![(1, 10.0), (2, 2.0), (3, 3.0)]);
    // A full sync of the primary without it leaves it alone too.
    f.commit("primary", true, vec![ev("p", 2, 2.0)]).unwrap();
    assert_eq!(f.values(), vec![(1, 10.0), (2, 2.0), (3, 3.0)]);
    // It leaves the training calendar as well: now it goes.
    let stats = f.commit("training", false, vec![gone("shared")]).unwrap();
    assert_eq!(stats.removed, 1);
    assert_eq!(f.values(), vec![(2, 2.0), (3, 3.0)]);
}

fn the_copy_synced_last_gives_the_points_and_no_copy_is_doubled(store: &Store) {
    let f = fixture(store, &["primary", "training"]);
    f.commit("primary", true, vec![ev("e", 1, 10.0)]).unwrap();
    // The training copy differs (an edit seen there first): it replaces the points.
    f.commit("training", false, vec![ev("e", 5, 11.0)]).unwrap();
    assert_eq!(f.values(), vec![(5, 11.0)]);
    f.commit("primary", false, vec![ev("e", 5, 11.0)]).unwrap();
    assert_eq!(f.values(), vec![(5, 11.0)]);
}

fn a_full_sync_of_one_calendar_leaves_the_others_events(store: &Store) {
    let f = fixture(store, &["primary", "training", "reading"]);
    f.commit("primary", true, vec![ev("a", 1, 1.0)]).unwrap();
    f.commit("training", true, vec![ev("b", 2, 2.0)]).unwrap();
    f.commit("reading", true, vec![ev("c", 3, 3.0)]).unwrap();
    // After a 410 the training calendar's full result lacks "b" and brings "d".
    let stats = f.commit("training", true, vec![ev("d", 4, 4.0)]).unwrap();
    assert_eq!((stats.events, stats.datapoints, stats.removed), (1, 1, 1));
    assert_eq!(f.values(), vec![(1, 1.0), (3, 3.0), (4, 4.0)]);
    assert_eq!(f.state("primary").events, 1);
    assert_eq!(
        f.state("reading").sync_token.as_deref(),
        Some("reading-false")
    );
    assert_eq!(
        f.state("training").sync_token.as_deref(),
        Some("training-true")
    );
}

fn deselecting_removes_only_what_no_remaining_calendar_holds_in_one_step(store: &Store) {
    let f = fixture(store, &["primary", "training"]);
    f.commit("primary", true, vec![ev("shared", 1, 1.0), ev("p", 2, 2.0)])
        .unwrap();
    f.commit(
        "training",
        true,
        vec![ev("shared", 1, 1.0), ev("t", 3, 3.0)],
    )
    .unwrap();
    let old_training = f.state("training");
    let kept = f
        .store
        .select_calendars(&f.token, "c1", &["primary".to_string()])
        .unwrap();
    assert_eq!(kept.calendars.len(), 1);
    assert_eq!(
        kept.calendars[0].sync_token.as_deref(),
        Some("primary-false")
    );
    assert_eq!(f.values(), vec![(1, 1.0), (2, 2.0)]);
    // A commit of the deselected calendar that was already on its way is refused.
    let late = f.store.commit_sync(&SyncCommit {
        fence: None,
        notices: Vec::new(),
        connection_id: "c1".into(),
        full: false,
        changes: Changes::of("ann", &f.token, vec![ev("late", 9, 9.0)]),
        state: old_training,
    });
    assert!(matches!(late, Err(StoreError::Deselected)), "{late:?}");
    assert_eq!(f.values(), vec![(1, 1.0), (2, 2.0)]);
    // Selected again, it is a new calendar to the store: a new slot, a full sync next.
    let again = f
        .store
        .select_calendars(
            &f.token,
            "c1",
            &["primary".to_string(), "training".to_string()],
        )
        .unwrap();
    let training = again.find("training").unwrap();
    assert_eq!((training.slot, training.sync_token.clone()), (2, None));
    // Dropping the shared event from the primary now removes it: nobody else holds it.
    f.commit("primary", false, vec![gone("shared")]).unwrap();
    assert_eq!(f.values(), vec![(2, 2.0)]);
}

fn a_selection_change_for_a_replaced_connection_changes_nothing(store: &Store) {
    let f = fixture(store, &["primary", "training"]);
    f.commit("training", true, vec![ev("t", 3, 3.0)]).unwrap();
    let err = f
        .store
        .select_calendars(&f.token, "other-connection", &["primary".to_string()])
        .err();
    assert!(matches!(err, Some(StoreError::Stale)), "{err:?}");
    assert_eq!(f.values(), vec![(3, 3.0)]);
    assert_eq!(f.store.selection(&f.token).unwrap().calendars.len(), 2);
}

fn a_new_connection_selects_the_primary(store: &Store) {
    let t = TokenId::generate();
    let s = store.selection(&t).unwrap();
    assert_eq!(s, Selection::default());
    assert_eq!(s.calendars[0].calendar_id, "primary");
}

/// Opens the sled database under a store that was just dropped (its background thread lets go
/// of the directory lock a moment later).
fn reopen_sled(dir: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

#[test]
fn a_schema_3_store_keeps_its_calendar_as_the_first_selected() {
    use crate::store::blocks::{self, Ops};
    use crate::store::calendars::IndexEntry;
    use crate::store::{keys, EVENT_INDEX, META, SCHEMA_KEY, SYNC_STATE};
    let dir = tempfile::tempdir().unwrap();
    let token = TokenId::generate();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .put_credentials(&token, &crate::store::test_credentials("c1"))
            .unwrap();
        let f = Fixture {
            store,
            token: token.clone(),
        };
        f.commit("primary", true, vec![ev("a", 1, 1.0), ev("b", 2, 2.0)])
            .unwrap();
        f.store.flush().unwrap();
    }
    // Write it back the way schema 3 kept it: one state per token, entries without holders.
    {
        let db = reopen_sled(dir.path());
        let mut legacy = serde_json::to_value(SyncState {
            calendar_id: "primary".into(),
            sync_token: Some("s1".into()),
            events: 2,
            datapoints: 2,
            last_success_at: Some(77),
            ..SyncState::default()
        })
        .unwrap();
        legacy.as_object_mut().unwrap().remove("slot");
        let states = db.open_tree(SYNC_STATE).unwrap();
        states
            .insert(token.as_str(), serde_json::to_vec(&legacy).unwrap())
            .unwrap();
        let index = db.open_tree(EVENT_INDEX).unwrap();
        let prefix = keys::token_prefix(token.as_str());
        let mut ops = Ops::new();
        blocks::scan_all(&index, &prefix, |event, entry| {
            ops.put(event.to_vec(), IndexEntry::decode(entry)?.refs);
            Ok(())
        })
        .unwrap();
        let mut batch = sled::Batch::default();
        blocks::apply(&index, &prefix, &ops, &mut batch).unwrap();
        index.apply_batch(batch).unwrap();
        db.open_tree(META)
            .unwrap()
            .insert(SCHEMA_KEY, &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = crate::store::SledStore::open(dir.path()).unwrap();
    assert_eq!(crate::store::schema_version_for_test(&store), 4);
    let selection = store.selection(&token).unwrap();
    assert_eq!(selection.calendars.len(), 1);
    let primary = &selection.calendars[0];
    assert_eq!(
        (
            primary.slot,
            primary.calendar_id.as_str(),
            primary.sync_token.as_deref()
        ),
        (0, "primary", Some("s1"))
    );
    assert_eq!((primary.events, primary.last_success_at), (2, Some(77)));
    // The legacy entries belong to the primary: deleting "a" there removes its point, and a
    // second calendar that never held it changes nothing.
    let f = Fixture {
        store: store.into(),
        token,
    };
    f.store
        .select_calendars(&f.token, "c1", &["primary".into(), "training".into()])
        .unwrap();
    f.commit("training", true, vec![]).unwrap();
    assert_eq!(f.values(), vec![(1, 1.0), (2, 2.0)]);
    let stats = f.commit("primary", false, vec![gone("a")]).unwrap();
    assert_eq!((stats.removed, stats.events), (1, 1));
    assert_eq!(f.values(), vec![(2, 2.0)]);
}

crate::store::engine_tests::for_each_engine!(
    an_event_in_two_calendars_is_held_once_and_stays_while_either_has_it,
    the_copy_synced_last_gives_the_points_and_no_copy_is_doubled,
    a_full_sync_of_one_calendar_leaves_the_others_events,
    deselecting_removes_only_what_no_remaining_calendar_holds_in_one_step,
    a_selection_change_for_a_replaced_connection_changes_nothing,
    a_new_connection_selects_the_primary,
);
