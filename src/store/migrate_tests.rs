use super::*;
use crate::convert::MetricPoint;
use crate::metric::MetricName;
use crate::store::{Changes, SledStore, SyncCommit, SyncState, TimeRange};
use crate::token::TokenId;

#[path = "../../tests/it/schema2.rs"]
mod schema2;

fn encode_v2(point: &Datapoint) -> Vec<u8> {
    schema2::encode_point(point.value, &point.dimensions)
}

fn point(ts: i64, value: f64, src: &str) -> Datapoint {
    let mut dimensions = Dimensions::new();
    dimensions.insert(DimensionKey::new("src").unwrap(), src.to_string());
    Datapoint {
        timestamp: ts,
        dimensions,
        value,
    }
}

const DURATION: &str = "imp.events.duration";

/// A store as schema 2 left it: a token connected, 3,000 synced events (one datapoint each) in
/// the per-record layout, and 50,000 points of a metric written through the data API.
fn legacy_store(dir: &std::path::Path, token: &TokenId) {
    {
        let store = SledStore::open(dir).unwrap();
        store
            .put_credentials(token, &crate::store::test_credentials("c1"))
            .unwrap();
        store.flush().unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let db = loop {
        // The store's background thread lets go of the directory lock a moment after the drop.
        match sled::open(dir) {
            Ok(db) => break db,
            Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let points = db.open_tree(LEGACY_DATAPOINTS).unwrap();
    let index = db.open_tree(LEGACY_EVENT_INDEX).unwrap();
    let derived = keys::metric_prefix("ann", DURATION);
    for e in 0..3_000i64 {
        let id = format!("event{e:05}");
        let p = point(e * 60_000, 1_000.0 + e as f64, &id);
        let entry = keys::derived_entry_key(p.timestamp, &p.dimensions, token.as_str());
        let key = keys::datapoint_key(&derived, &entry);
        points.insert(&key, encode_v2(&p)).unwrap();
        index
            .insert(format!("{token}/{id}"), schema2::encode_refs(&[key]))
            .unwrap();
    }
    let weight = keys::metric_prefix("ann", "weight");
    for i in 0..50_000i64 {
        let p = point(i, i as f64, "scale");
        let key = keys::datapoint_key(&weight, &keys::entry_key(p.timestamp, &p.dimensions));
        points.insert(key, encode_v2(&p)).unwrap();
    }
    // What a migration that crashed half way leaves in the new trees.
    db.open_tree(DATAPOINTS)
        .unwrap()
        .insert(keys::metric_prefix("ann", "junk"), b"not a block".to_vec())
        .unwrap();
    db.open_tree(META)
        .unwrap()
        .insert(SCHEMA_KEY, &2u32.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn a_schema_2_store_is_moved_into_blocks_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let token = TokenId::generate();
    legacy_store(dir.path(), &token);

    let store = SledStore::open(dir.path()).unwrap();
    let db = &store.inner.db;
    assert_eq!(
        db.open_tree(META)
            .unwrap()
            .get(SCHEMA_KEY)
            .unwrap()
            .unwrap()
            .as_ref(),
        &SCHEMA_VERSION.to_be_bytes()
    );
    assert!(!has_tree(db, LEGACY_DATAPOINTS).unwrap());
    assert!(!has_tree(db, LEGACY_EVENT_INDEX).unwrap());
    assert_eq!(store.list_metrics("ann").unwrap(), vec![DURATION, "weight"]);
    let weight = MetricName::new("weight").unwrap();
    let all = store
        .read_datapoints("ann", &weight, TimeRange::default())
        .unwrap();
    assert_eq!(all.len(), 50_000);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, p)| *p == point(i as i64, i as f64, "scale")));
    // 53,000 records before; blocks of a few KiB now.
    assert!(
        store.inner.datapoints.len() < 2_000,
        "{} blocks",
        store.inner.datapoints.len()
    );

    // The index came along: an incremental sync deleting an event removes its datapoint.
    let duration = MetricName::new(DURATION).unwrap();
    let before = store
        .read_datapoints("ann", &duration, TimeRange::default())
        .unwrap();
    assert_eq!(before.len(), 3_000);
    assert_eq!(before[7], point(7 * 60_000, 1_007.0, "event00007"));
    let stats = store
        .commit_sync(&SyncCommit {
            fence: None,
            notices: Vec::new(),
            connection_id: "c1".into(),
            full: false,
            changes: Changes::of(
                "ann",
                &token,
                vec![
                    ("event00007".to_string(), vec![]),
                    (
                        "event00008".to_string(),
                        vec![MetricPoint {
                            metric: duration.clone(),
                            point: point(8 * 60_000, 5.0, "event00008"),
                        }],
                    ),
                ],
            ),
            state: SyncState {
                calendar_id: "primary".into(),
                ..SyncState::default()
            },
        })
        .unwrap();
    assert_eq!(stats.removed, 1);
    let after = store
        .read_datapoints("ann", &duration, TimeRange::default())
        .unwrap();
    assert_eq!(after.len(), 2_999);
    assert!(!after.iter().any(|p| p.timestamp == 7 * 60_000));
    assert!(after.contains(&point(8 * 60_000, 5.0, "event00008")));
    drop(store);

    // Reopening a migrated store changes nothing.
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .read_datapoints("ann", &weight, TimeRange::default())
            .unwrap()
            .len(),
        50_000
    );
}

#[test]
fn schema_2_datapoints_decode_and_damage_is_refused() {
    let p = point(5, 2.5, "x");
    assert_eq!(decode_v2(5, &encode_v2(&p)).unwrap(), p);
    let bytes = encode_v2(&p);
    assert!(decode_v2(5, &bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(1);
    assert!(decode_v2(5, &longer).is_err());
}
