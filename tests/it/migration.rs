//! Crash safety of the schema-2 → 3 migration: a store in the per-record layout of schema 2 is
//! opened by the real binary, which is killed with SIGKILL at random instants of the migration
//! and restarted on the same `DATA_DIR`. At the end the data API answers every datapoint exactly
//! once, the event index came along whole, and the legacy trees are gone.
//!
//! Replay a run with `MIGRATION_SEED=<seed printed by the test>`.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use impulses_gcal::metric::{DimensionKey, Dimensions};
use impulses_gcal::store::{blocks, keys, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::binary::BIN;
use crate::child::ChildServer;
use crate::support::ADMIN;

const USER: &str = "ann";
const WEIGHT: &str = "weight";
const DURATION: &str = "imp.events.duration";
/// Points of `weight`, written through the data API in schema 2.
const WEIGHT_POINTS: i64 = 200_000;
/// Events a calendar sync of `LEGACY_TOKEN` derived (one `imp.events.duration` point each).
const EVENTS: i64 = 3_000;
/// The data token the legacy sync ran for (a token id: 32 hex digits, no `/`).
const LEGACY_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const KILLS: usize = 5;

/// The schema-2 tree names and the meta key, as the store spells them.
const LEGACY_DATAPOINTS: &str = "datapoints";
const LEGACY_EVENT_INDEX: &str = "event_index";
const META: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";

/// A datapoint as the data API answers it: timestamp, dimensions, value bits (for `Ord`).
pub(crate) type Point = (i64, BTreeMap<String, String>, u64);

fn dims(pairs: &[(&str, String)]) -> Dimensions {
    pairs
        .iter()
        .map(|(k, v)| (DimensionKey::new(*k).unwrap(), v.clone()))
        .collect()
}

fn weight_point(i: i64) -> (i64, Dimensions, f64) {
    let mut d = vec![("src", "scale".to_string())];
    if i % 5 == 0 {
        d.push(("unit", "kg".to_string()));
    }
    (i * 1000, dims(&d), i as f64)
}

fn event_id(e: i64) -> String {
    format!("event{e:05}")
}

fn duration_point(e: i64) -> (i64, Dimensions, f64) {
    let d = [("src", event_id(e)), ("activity", format!("run {}", e % 3))];
    (e * 60_000, dims(&d), 1_000.0 + e as f64)
}

fn as_point((ts, d, v): &(i64, Dimensions, f64)) -> Point {
    let d = d
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
        .collect();
    (*ts, d, v.to_bits())
}

/// Opens the store's directory with raw sled, waiting for a lock a dropped handle (in this
/// process) or an exited process is about to release.
pub(crate) fn open_raw(dir: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if Instant::now() > deadline => panic!("raw open of {}: {e}", dir.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// A store as schema 2 left it; returns the event index it holds (event id → value).
fn legacy_store(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    // A real store first: key file, key check, schema 3; then turned back into schema 2.
    drop(Store::open(dir).unwrap());
    let db = open_raw(dir);
    let points = db.open_tree(LEGACY_DATAPOINTS).unwrap();
    let index = db.open_tree(LEGACY_EVENT_INDEX).unwrap();

    // Written by a few threads at once: sled in a debug build takes seconds for this.
    let weight = keys::metric_prefix(USER, WEIGHT);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4)) as i64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (points, weight) = (&points, &weight);
            s.spawn(move || {
                let mut batch = sled::Batch::default();
                for (n, i) in (t..WEIGHT_POINTS).step_by(threads as usize).enumerate() {
                    let (ts, d, v) = weight_point(i);
                    let key = keys::datapoint_key(weight, &keys::entry_key(ts, &d));
                    batch.insert(key, crate::schema2::encode_point(v, &d));
                    if n % 10_000 == 9_999 {
                        points.apply_batch(std::mem::take(&mut batch)).unwrap();
                    }
                }
                points.apply_batch(batch).unwrap();
            });
        }
    });

    let derived = keys::metric_prefix(USER, DURATION);
    let mut want_index = BTreeMap::new();
    for e in 0..EVENTS {
        let (ts, d, v) = duration_point(e);
        let key = keys::datapoint_key(&derived, &keys::derived_entry_key(ts, &d, LEGACY_TOKEN));
        points
            .insert(&key, crate::schema2::encode_point(v, &d))
            .unwrap();
        let refs = crate::schema2::encode_refs(&[key]);
        index
            .insert(format!("{LEGACY_TOKEN}/{}", event_id(e)), refs.clone())
            .unwrap();
        want_index.insert(event_id(e), refs);
    }
    db.open_tree(META)
        .unwrap()
        .insert(SCHEMA_KEY, &2u32.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
    want_index
}

pub(crate) fn env(data_dir: &Path) -> HashMap<String, String> {
    [
        ("PORT", "0".to_string()),
        ("BIND_ADDRESS", "127.0.0.1".to_string()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("ADMIN_TOKEN", ADMIN.to_string()),
        ("RUST_LOG", "info".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Spawns the binary on `data_dir`; its log (stderr) goes to the file `log`, which a test can
/// read whole once the process is gone.
pub(crate) fn spawn(data_dir: &Path, log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(BIN)
        .env_clear()
        .envs(env(data_dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const MOVED: &str = "store: moved";
const LISTENING: &str = "listening on ";

/// Times of an un-killed start on a copy of the legacy store: spawn → migration logged done,
/// spawn → listening.
fn reference_run(legacy: &Path, scratch: &Path) -> (Duration, Duration) {
    let copy = scratch.join("reference-store");
    copy_dir(legacy, &copy);
    let log = scratch.join("reference.log");
    let start = Instant::now();
    let mut child = spawn(&copy, &log);
    let deadline = start + Duration::from_secs(120);
    let mut moved = None;
    let listening = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if moved.is_none() && text.contains(MOVED) {
            moved = Some(start.elapsed());
        }
        if text.contains(LISTENING) {
            break start.elapsed();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("reference run exited with {status}; log:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "reference run: no start; log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(MOVED),
        "reference run migrated nothing? log:\n{text}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
    (moved.unwrap_or(listening), listening)
}

/// Waits until the log of `child` holds one of `lines`; panics if it exits first.
fn wait_for_log(child: &mut Child, log: &Path, lines: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if lines.iter().any(|l| text.contains(l)) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited with {status}; log:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "none of {lines:?} logged:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Where a kill landed, judged from the whole log of the killed process.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Landed {
    /// Before the migration had raised the schema (or before it began).
    BeforeMigrated,
    /// After the schema was raised, before the server listened (dropping the legacy trees,
    /// starting up).
    AfterMigrated,
    /// After the server listened: a wasted kill.
    AfterListening,
}

/// GETs `path` with the data token and returns the JSON answer.
async fn get(server: &ChildServer, token: &str, path: &str) -> Value {
    let (r, _) = server
        .call(Method::GET, path, &[("X-Data-Token", token)], None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

/// Every point of `metric`, sorted.
pub(crate) async fn points(server: &ChildServer, token: &str, metric: &str) -> Vec<Point> {
    let body = get(server, token, &format!("/data/{metric}")).await;
    let mut got: Vec<Point> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let d = p["dimensions"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (
                p["timestamp"].as_i64().unwrap(),
                d,
                p["value"].as_f64().unwrap().to_bits(),
            )
        })
        .collect();
    got.sort();
    got
}

/// Asserts `got` is exactly `want` (both sorted): none missing, none duplicated, none changed.
pub(crate) fn assert_same(metric: &str, got: &[Point], want: &[Point]) {
    if got == want {
        return;
    }
    let dups: Vec<_> = got.windows(2).filter(|w| w[0] == w[1]).take(5).collect();
    let missing: Vec<_> = want
        .iter()
        .filter(|p| got.binary_search(p).is_err())
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|p| want.binary_search(p).is_err())
        .take(5)
        .collect();
    panic!(
        "{metric}: got {} points, want {}; duplicated {dups:?}; missing {missing:?}; \
         unexpected {extra:?}",
        got.len(),
        want.len()
    );
}

#[actix_web::test]
async fn sigkill_at_any_instant_of_the_schema_2_migration_loses_nothing() {
    let seed: u64 = std::env::var("MIGRATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("migration test: seed {seed} (replay with MIGRATION_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let scratch = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = scratch.path().join("store");

    let built = Instant::now();
    let want_index = legacy_store(&data_dir);
    println!(
        "migration test: legacy store of {WEIGHT_POINTS} + {EVENTS} points built in {:?}",
        built.elapsed()
    );

    let (migrated, listening) = reference_run(&data_dir, scratch.path());
    println!(
        "migration test: un-killed reference start on a copy: migrated after {migrated:?}, \
         listening after {listening:?}"
    );

    // The first kills land at random instants of the migration. Killed runs were seen to finish
    // it a tenth to a quarter sooner than the reference run (which may run while other tests load
    // the machine), so they aim within half of its time, lest one land after the migration and
    // leave the others nothing to hit. The last kill waits
    // until the migration logs that it is done (the schema is raised) and lands at a random
    // instant of what follows: the drop of the legacy trees and the start of the server.
    let mut landed = Vec::new();
    for k in 0..KILLS {
        let log = scratch.path().join(format!("kill-{k}.log"));
        let start = Instant::now();
        let mut child = spawn(&data_dir, &log);
        if k + 1 == KILLS {
            wait_for_log(&mut child, &log, &[MOVED, LISTENING]);
            let after = listening.saturating_sub(migrated);
            std::thread::sleep(after.mul_f64(rng.gen_range(0.0..1.0)));
        } else {
            let aim = migrated.mul_f64(rng.gen_range(0.0..0.5));
            std::thread::sleep(aim.saturating_sub(start.elapsed()));
        }
        child.kill().unwrap();
        let at = start.elapsed();
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "kill {}: the process ended by itself ({status}); log:\n{text}",
            k + 1
        );
        let where_ = if text.contains(LISTENING) {
            Landed::AfterListening
        } else if text.contains(MOVED) {
            Landed::AfterMigrated
        } else {
            Landed::BeforeMigrated
        };
        println!(
            "migration test: kill {} at {at:?} ({:.0} % of the migration): {where_:?}",
            k + 1,
            100.0 * at.as_secs_f64() / migrated.as_secs_f64()
        );
        landed.push(where_);
    }
    let during = landed
        .iter()
        .filter(|l| **l == Landed::BeforeMigrated)
        .count();
    let before_listening = landed
        .iter()
        .filter(|l| **l != Landed::AfterListening)
        .count();
    println!(
        "migration test: {before_listening} of {KILLS} kills landed before the server listened, \
         {during} of them before the migration was done"
    );
    assert!(
        before_listening >= 1,
        "no kill landed before the server listened: {landed:?}"
    );

    let started = Instant::now();
    let server = ChildServer::start(&env(&data_dir));
    println!(
        "migration test: final start listening after {:?} ({})",
        started.elapsed(),
        if server.log().contains(MOVED) {
            "migrated now"
        } else {
            "already migrated"
        }
    );
    let (_, token) = server.token(USER, "phone").await;
    let metrics = get(&server, &token, "/data").await;
    assert_eq!(metrics, serde_json::json!([DURATION, WEIGHT]));
    let want: Vec<Point> = (0..WEIGHT_POINTS)
        .map(|i| as_point(&weight_point(i)))
        .collect();
    assert_same(WEIGHT, &points(&server, &token, WEIGHT).await, &want);
    let mut want: Vec<Point> = (0..EVENTS).map(|e| as_point(&duration_point(e))).collect();
    want.sort();
    assert_same(DURATION, &points(&server, &token, DURATION).await, &want);
    server.stop();

    let db = open_raw(&data_dir);
    let names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n == LEGACY_DATAPOINTS || n == LEGACY_EVENT_INDEX),
        "legacy trees left: {names:?}"
    );
    let schema = db
        .open_tree(META)
        .unwrap()
        .get(SCHEMA_KEY)
        .unwrap()
        .unwrap();
    assert_eq!(
        schema.as_ref(),
        &impulses_gcal::store::SCHEMA_VERSION.to_be_bytes()
    );
    let mut index = BTreeMap::new();
    blocks::scan_all(
        &db.open_tree(impulses_gcal::store::EVENT_INDEX).unwrap(),
        &keys::token_prefix(LEGACY_TOKEN),
        |event, refs| {
            let event = String::from_utf8(event.to_vec()).unwrap();
            assert!(
                index.insert(event.clone(), refs.to_vec()).is_none(),
                "event {event} twice in the index"
            );
            Ok(())
        },
    )
    .unwrap();
    assert!(
        index == want_index,
        "event index: {} entries, want {}",
        index.len(),
        want_index.len()
    );
    println!(
        "migration test: {WEIGHT_POINTS} + {EVENTS} points and {} event index entries intact \
         after {KILLS} kills",
        index.len()
    );
}
