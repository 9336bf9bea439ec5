//! Crash safety of the schema-3 → 4 migration (one calendar per token → a selection of
//! calendars): a store in the schema-3 layout, with thousands of connected tokens, is opened by
//! the real binary, which is killed with SIGKILL at random instants of its start (before, during
//! and right after the migration) and restarted on the same `DATA_DIR`. At the end the store is
//! at schema 4; every token's selection is exactly its old calendar, `primary` in slot 0, with
//! its sync token, counts and times; the event index entries are byte for byte those schema 3
//! wrote; the credentials are all there; and the data API answers every datapoint exactly once.
//!
//! The child server has no Google configuration, so it runs no sync that could change the store
//! before it is checked.
//!
//! Replay a run with `MIGRATION4_SEED=<seed printed by the test>`.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use impulses_gcal::metric::{Datapoint, DimensionKey, Dimensions};
use impulses_gcal::secret::Secret;
use impulses_gcal::store::{blocks, codec, keys, GoogleCredentials, Selection, Store, SyncState};
use impulses_gcal::token::TokenId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::child::ChildServer;
use crate::migration::{assert_same, copy_dir, env, open_raw, points, spawn, Point};
use crate::schema3;

/// Connected data tokens, each with a schema-3 sync state.
const TOKENS: usize = 10_000;
/// One token in this many synced events (and has index entries and datapoints).
const SYNCED_EVERY: usize = 32;
/// Events of each token that synced events.
const EVENTS: usize = 12;
const USERS: [&str; 2] = ["ann", "bob"];
const DURATION: &str = "imp.events.duration";
/// Rounds, each on a fresh copy of the schema-3 store: kills, then a start not killed, then the
/// checks. At least [`MIN_ROUNDS`], more (up to [`MAX_ROUNDS`]) until [`WANT_WITHIN`] kills landed
/// within the migration and one right after its log line.
const MIN_ROUNDS: usize = 2;
const MAX_ROUNDS: usize = 4;
const WANT_WITHIN: usize = 5;
/// Kills per round at random instants from the spawn to the start of the migration (opening
/// sled, the key check).
const KILLS_BEFORE: usize = 1;
/// Kills per round at random instants of the migration itself, in ascending strata of it.
const KILLS_IN: usize = 3;

const MIGRATED: &str = "connections now keep a selection of calendars";
const LISTENING: &str = "listening on ";

/// Token ids: distinct, 32 lowercase hex digits, spread over the key space (an odd multiplier
/// is a bijection of u128).
fn token_id(t: usize) -> String {
    format!(
        "{:032x}",
        (t as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}

fn synced(t: usize) -> bool {
    t % SYNCED_EVERY == 5
}

fn user_of(t: usize) -> &'static str {
    USERS[(t / SYNCED_EVERY) % USERS.len()]
}

/// Tokens that never synced: no sync token, no times.
fn never_synced(t: usize) -> bool {
    t % 11 == 3 && !synced(t)
}

/// Records last written by a build older than `last_full_sync_at`.
fn older_writer(t: usize) -> bool {
    t % 7 == 0
}

fn event_id(t: usize, e: usize) -> String {
    format!("ev{t:05}x{e:02}")
}

/// The datapoints event `e` of token `t` produced: one or two, at distinct instants.
fn event_points(t: usize, e: usize) -> Vec<Datapoint> {
    (0..1 + usize::from(e % 3 == 0))
        .map(|k| {
            let mut dimensions = Dimensions::new();
            for (key, value) in [
                ("src", event_id(t, e)),
                ("activity", format!("run {}", e % 3)),
                ("part", k.to_string()),
            ] {
                dimensions.insert(DimensionKey::new(key).unwrap(), value);
            }
            Datapoint {
                timestamp: (((t * EVENTS + e) * 2 + k) as i64) * 60_000,
                dimensions,
                value: (t * 1000 + e * 10 + k) as f64 + 0.25,
            }
        })
        .collect()
}

fn legacy_state(t: usize) -> schema3::State {
    let done = !never_synced(t);
    let points = if synced(t) {
        (0..EVENTS).map(|e| event_points(t, e).len() as u64).sum()
    } else {
        0
    };
    schema3::State {
        calendar_id: "primary".to_string(),
        sync_token: done.then(|| format!("CPj{t:05}-{}/sync==", t * 7919 % 100_003)),
        time_zone: match t % 3 {
            0 => None,
            1 => Some("Europe/Berlin".to_string()),
            _ => Some("America/Sao_Paulo".to_string()),
        },
        events: if synced(t) { EVENTS as u64 } else { 0 },
        datapoints: points,
        last_success_at: done.then_some(1_700_000_000 + t as i64),
        skipped: (t % 4) as u64,
        last_full_sync_at: (done && !older_writer(t)).then_some(1_690_000_000 + t as i64),
    }
}

/// What the migration must make of `state`.
fn want_selection(state: &schema3::State) -> Selection {
    Selection {
        calendars: vec![SyncState {
            slot: 0,
            calendar_id: "primary".to_string(),
            sync_token: state.sync_token.clone(),
            time_zone: state.time_zone.clone(),
            events: state.events,
            datapoints: state.datapoints,
            last_success_at: state.last_success_at,
            skipped: state.skipped,
            last_full_sync_at: state.last_full_sync_at,
            skip_notices: Vec::new(),
        }],
        next_slot: 1,
    }
}

fn credentials(t: usize) -> GoogleCredentials {
    GoogleCredentials {
        connection_id: format!("conn-{t}"),
        access_token: Secret::new(format!("ya29.access-{t}")),
        access_expires_at: 1_700_003_600,
        refresh_token: Secret::new(format!("1//refresh-{t}")),
        scopes: impulses_gcal::google::scopes::Scopes::from_names([
            impulses_gcal::google::scopes::SCOPE_CALENDAR,
        ]),
        account_email: format!("user{t}@example.com"),
        account_sub: format!("{}", 100_000_000 + t),
        connected_at: 1_690_000_000,
        updated_at: 1_690_000_000,
        needs_reauth: None,
    }
}

fn as_point(p: &Datapoint) -> Point {
    let d = p
        .dimensions
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
        .collect();
    (p.timestamp, d, p.value.to_bits())
}

/// What the schema-3 store holds, to check the migrated one against.
struct Legacy {
    states: Vec<schema3::State>,
    /// Token id → event id → index entry.
    index: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// User → every datapoint of [`DURATION`], sorted.
    points: BTreeMap<&'static str, Vec<Point>>,
}

/// A store as schema 3 left it.
fn legacy_store(dir: &Path) -> Legacy {
    // A real store first, for its key file, key check and sealed credentials; then turned back
    // into schema 3.
    let store = Store::open(dir).unwrap();
    for t in 0..TOKENS {
        let token = TokenId::parse(&token_id(t)).unwrap();
        store.put_credentials(&token, &credentials(t)).unwrap();
    }
    store.flush().unwrap();
    drop(store);

    let db = open_raw(dir);
    let states = (0..TOKENS).map(legacy_state).collect::<Vec<_>>();
    let mut batch = sled::Batch::default();
    for (t, state) in states.iter().enumerate() {
        batch.insert(token_id(t).as_bytes(), state.encode(older_writer(t)));
    }
    db.open_tree(schema3::SYNC_STATE)
        .unwrap()
        .apply_batch(batch)
        .unwrap();

    let index_tree = db.open_tree(schema3::EVENT_INDEX).unwrap();
    let mut index = BTreeMap::new();
    let mut series: BTreeMap<&'static str, blocks::Ops> = BTreeMap::new();
    let mut points: BTreeMap<&'static str, Vec<Point>> = BTreeMap::new();
    for t in (0..TOKENS).filter(|&t| synced(t)) {
        let (token, user) = (token_id(t), user_of(t));
        let prefix = keys::metric_prefix(user, DURATION);
        let mut entries = BTreeMap::new();
        let mut ops = blocks::Ops::new();
        for e in 0..EVENTS {
            let mut refs = Vec::new();
            for p in event_points(t, e) {
                let entry = keys::derived_entry_key(p.timestamp, &p.dimensions, &token);
                refs.push(keys::datapoint_key(&prefix, &entry));
                series
                    .entry(user)
                    .or_default()
                    .put(entry.to_vec(), codec::encode(&p));
                points.entry(user).or_default().push(as_point(&p));
            }
            let value = schema3::encode_refs(&refs);
            ops.put(event_id(t, e).into_bytes(), value.clone());
            entries.insert(event_id(t, e).into_bytes(), value);
        }
        let mut batch = sled::Batch::default();
        blocks::apply(&index_tree, &keys::token_prefix(&token), &ops, &mut batch).unwrap();
        index_tree.apply_batch(batch).unwrap();
        index.insert(token, entries);
    }
    let points_tree = db.open_tree(schema3::DATAPOINTS).unwrap();
    for (user, ops) in &series {
        let mut batch = sled::Batch::default();
        blocks::apply(
            &points_tree,
            &keys::metric_prefix(user, DURATION),
            ops,
            &mut batch,
        )
        .unwrap();
        points_tree.apply_batch(batch).unwrap();
    }
    for p in points.values_mut() {
        p.sort();
    }
    db.open_tree(schema3::META)
        .unwrap()
        .insert(schema3::SCHEMA_KEY, &schema3::SCHEMA.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
    Legacy {
        states,
        index,
        points,
    }
}

/// Waits until the log of `child` holds one of `lines`; panics if it exits first. Returns the
/// time since `start`.
fn wait_for_log(child: &mut Child, log: &Path, lines: &[&str], start: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if lines.iter().any(|l| text.contains(l)) {
            return start.elapsed();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited with {status}; log:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "none of {lines:?} logged:\n{text}"
        );
        std::thread::sleep(Duration::from_micros(250));
    }
}

/// Times of un-killed starts on a copy of the legacy store: (spawn → migration logged done,
/// spawn → listening) of the start that migrates, and spawn → listening of a second start on
/// the migrated copy, which shows what the start costs without the migration.
fn reference_runs(legacy: &Path, scratch: &Path) -> (Duration, Duration, Duration) {
    let copy = scratch.join("reference-store");
    copy_dir(legacy, &copy);
    let mut times = Vec::new();
    for run in 0..2 {
        let log = scratch.join(format!("reference-{run}.log"));
        let start = Instant::now();
        let mut child = spawn(&copy, &log);
        let migrated = wait_for_log(&mut child, &log, &[MIGRATED, LISTENING], start);
        let listening = wait_for_log(&mut child, &log, &[LISTENING], start);
        child.kill().unwrap();
        child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text.contains(MIGRATED),
            run == 0,
            "reference run {run}: the migration ran {} times; log:\n{text}",
            text.matches(MIGRATED).count()
        );
        times.push((migrated, listening));
    }
    std::fs::remove_dir_all(&copy).unwrap();
    (times[0].0, times[0].1, times[1].1)
}

/// Where a kill landed, judged from the whole log of the killed process.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Landed {
    /// Before the migration had logged that it is done (raised the schema and flushed).
    BeforeMigrated,
    /// After the migration, before the server listened.
    AfterMigrated,
    /// After the server listened: a wasted kill.
    AfterListening,
}

/// One kill.
#[derive(Debug)]
struct Kill {
    /// From the spawn.
    at: Duration,
    landed: Landed,
    /// Whether this start ran the migration to its log line.
    migrated: bool,
    /// Whether the kill left the store migrated, as the next start found it (`None`: unknown,
    /// the next start was killed before it could tell).
    left_migrated: Option<bool>,
}

/// What a start found, from its log: `Some(false)` when it migrated the store, `Some(true)` when
/// it listened without migrating, `None` when it was killed before either.
fn found_migrated(log: &str) -> Option<bool> {
    if log.contains(MIGRATED) {
        Some(false)
    } else if log.contains(LISTENING) {
        Some(true)
    } else {
        None
    }
}

/// Spawns the binary, kills it `aim` after the spawn (or after `after_line` is logged, when
/// given), and tells where the kill landed; returns the log too.
fn kill_at(data_dir: &Path, log: &Path, after_line: Option<&str>, aim: Duration) -> (Kill, String) {
    let start = Instant::now();
    let mut child = spawn(data_dir, log);
    let from = match after_line {
        Some(line) => wait_for_log(&mut child, log, &[line, LISTENING], start),
        None => Duration::ZERO,
    };
    std::thread::sleep((from + aim).saturating_sub(start.elapsed()));
    child.kill().unwrap();
    let at = start.elapsed();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the process ended by itself ({status}); log:\n{text}"
    );
    let landed = if text.contains(LISTENING) {
        Landed::AfterListening
    } else if text.contains(MIGRATED) {
        Landed::AfterMigrated
    } else {
        Landed::BeforeMigrated
    };
    let kill = Kill {
        at,
        landed,
        migrated: text.contains(MIGRATED),
        left_migrated: None,
    };
    (kill, text)
}

/// The final start of a round and the checks: the data API answers every point exactly once;
/// every token's selection is its old calendar and its credentials are still there; the schema is
/// raised, no token got a second record, and the index is as schema 3 wrote it.
async fn check(data_dir: &Path, legacy: &Legacy) -> String {
    let started = Instant::now();
    let server = ChildServer::start(&env(data_dir));
    println!(
        "selection migration test: final start listening after {:?} ({})",
        started.elapsed(),
        if server.log().contains(MIGRATED) {
            "migrated now"
        } else {
            "already migrated"
        }
    );
    for (user, want) in &legacy.points {
        let (_, token) = server.token(user, "phone").await;
        let got = points(&server, &token, DURATION).await;
        assert_same(&format!("{user}'s {DURATION}"), &got, want);
    }
    let log = server.stop();

    let store = Store::open(data_dir).unwrap();
    for (t, state) in legacy.states.iter().enumerate() {
        let token = TokenId::parse(&token_id(t)).unwrap();
        assert_eq!(
            store.selection(&token).unwrap(),
            want_selection(state),
            "token {t} ({token})"
        );
    }
    let mut connected: Vec<String> = store
        .connected_tokens()
        .unwrap()
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    connected.sort();
    let mut want: Vec<String> = (0..TOKENS).map(token_id).collect();
    want.sort();
    assert!(connected == want, "the connected tokens changed");
    for t in [0, TOKENS / 2, TOKENS - 1] {
        let token = TokenId::parse(&token_id(t)).unwrap();
        let creds = store.credentials(&token).unwrap().unwrap();
        assert_eq!(creds.connection_id, credentials(t).connection_id);
        assert_eq!(
            creds.refresh_token.expose(),
            credentials(t).refresh_token.expose()
        );
    }
    drop(store);

    let db = open_raw(data_dir);
    let schema = db
        .open_tree(schema3::META)
        .unwrap()
        .get(schema3::SCHEMA_KEY)
        .unwrap()
        .unwrap();
    assert_eq!(schema.as_ref(), &4u32.to_be_bytes());
    assert_eq!(impulses_gcal::store::SCHEMA_VERSION, 4);
    assert_eq!(
        db.open_tree(impulses_gcal::store::SYNC_STATE)
            .unwrap()
            .len(),
        TOKENS
    );
    let index_tree = db.open_tree(impulses_gcal::store::EVENT_INDEX).unwrap();
    for (token, want) in &legacy.index {
        let mut got = BTreeMap::new();
        blocks::scan_all(&index_tree, &keys::token_prefix(token), |event, entry| {
            assert!(
                got.insert(event.to_vec(), entry.to_vec()).is_none(),
                "event {} of token {token} twice in the index",
                String::from_utf8_lossy(event)
            );
            Ok(())
        })
        .unwrap();
        assert!(
            &got == want,
            "token {token}: event index of {} entries, want {} (or changed bytes)",
            got.len(),
            want.len()
        );
    }
    let mut entries = 0usize;
    for block in index_tree.iter() {
        let (_, block) = block.unwrap();
        entries += blocks::block_len(&block).unwrap() as usize;
    }
    let want_entries: usize = legacy.index.values().map(BTreeMap::len).sum();
    assert_eq!(entries, want_entries, "index entries in all");
    log
}

#[actix_web::test]
async fn sigkill_at_any_instant_of_the_schema_3_to_4_migration_loses_nothing() {
    let seed: u64 = std::env::var("MIGRATION4_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("selection migration test: seed {seed} (replay with MIGRATION4_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let scratch = tempfile::tempdir().unwrap();
    let pristine: PathBuf = scratch.path().join("schema-3");

    let built = Instant::now();
    let legacy = legacy_store(&pristine);
    let total_points: usize = legacy.points.values().map(Vec::len).sum();
    let total_entries: usize = legacy.index.values().map(BTreeMap::len).sum();
    println!(
        "selection migration test: schema-3 store of {TOKENS} tokens, {} of them with \
         {total_entries} index entries and {total_points} datapoints in all, built in {:?}",
        legacy.index.len(),
        built.elapsed()
    );

    let (migrated, listening, plain) = reference_runs(&pristine, scratch.path());
    // A start of the migrated store is the same but for the migration: it took about the
    // difference, and ended when it logged.
    let migration = listening.saturating_sub(plain).min(migrated);
    let window_start = migrated.saturating_sub(migration);
    println!(
        "selection migration test: un-killed reference start on a copy: migrated after \
         {migrated:?}, listening after {listening:?}; a start of the migrated copy listens after \
         {plain:?}, so the migration runs from about {window_start:?} to {migrated:?}"
    );

    // Each round: kills at random instants before the migration and in ascending strata of its
    // span (a killed start redoes it from the beginning), then one right after its log line, at
    // a random instant of what follows (the drop of legacy trees, the start of the server). The
    // time a start takes varies with the machine's load; a start that finishes the migration
    // before its kill leaves nothing to migrate to the round's later kills, so the round ends
    // there, and later rounds aim below 90 % of the time that start took. Killed starts were
    // seen to finish the migration sooner than the reference, so the first round aims within
    // 85 % of its time (the last half of the migration is its transaction).
    let gap = listening.saturating_sub(migrated);
    let mut end = migrated.mul_f64(0.85).max(window_start);
    let mut kills: Vec<Kill> = Vec::new();
    let within = |kills: &[Kill]| {
        kills
            .iter()
            .filter(|k| k.landed == Landed::BeforeMigrated && k.at >= window_start)
            .count()
    };
    let right_after = |kills: &[Kill]| kills.iter().filter(|k| k.migrated).count();
    let mut round = 0;
    while round < MIN_ROUNDS
        || (round < MAX_ROUNDS && (within(&kills) < WANT_WITHIN || right_after(&kills) == 0))
    {
        round += 1;
        let data_dir = scratch.path().join(format!("store-{round}"));
        copy_dir(&pristine, &data_dir);
        let first = kills.len();
        for k in 0..KILLS_BEFORE + KILLS_IN + 1 {
            let (after_line, aim) = if k < KILLS_BEFORE {
                let stratum = (k as f64 + rng.gen_range(0.0..1.0)) / KILLS_BEFORE as f64;
                (None, window_start.mul_f64(stratum))
            } else if k < KILLS_BEFORE + KILLS_IN {
                let n = (k - KILLS_BEFORE) as f64;
                let stratum = (n + rng.gen_range(0.0..1.0)) / KILLS_IN as f64;
                let span = end.saturating_sub(window_start);
                (None, window_start + span.mul_f64(stratum))
            } else {
                (Some(MIGRATED), gap.mul_f64(rng.gen_range(0.0..0.25)))
            };
            let log = scratch.path().join(format!("kill-{round}-{k}.log"));
            let (kill, text) = kill_at(&data_dir, &log, after_line, aim);
            if let Some(previous) = kills[first..].last_mut() {
                previous.left_migrated = found_migrated(&text);
            }
            let aimed = match after_line {
                Some(_) if !kill.migrated => "after the start listened: nothing left to migrate",
                Some(_) => "after the migration's log line",
                None => "from the spawn",
            };
            println!(
                "selection migration test: round {round}, kill {} at {:?} (aimed {aim:?} \
                 {aimed}): {:?}",
                k + 1,
                kill.at,
                kill.landed
            );
            let overshot = after_line.is_none() && kill.landed != Landed::BeforeMigrated;
            if overshot && kill.migrated {
                end = end.min(kill.at.mul_f64(0.9));
                println!(
                    "selection migration test: round {round}: the migration was done before \
                     the kill; later rounds aim below {end:?}"
                );
            }
            kills.push(kill);
            if overshot {
                break;
            }
        }
        let log = check(&data_dir, &legacy).await;
        if let Some(previous) = kills[first..].last_mut() {
            previous.left_migrated = found_migrated(&log);
        }
        for (n, kill) in kills[first..].iter().enumerate() {
            if kill.landed == Landed::BeforeMigrated && kill.left_migrated == Some(true) {
                println!(
                    "selection migration test: round {round}, kill {} landed after the \
                     migration's transaction reached the disk, before its log line: the next \
                     start found schema 4",
                    n + 1
                );
            }
        }
        println!(
            "selection migration test: round {round}: {TOKENS} selections, {total_entries} \
             index entries and {total_points} datapoints intact"
        );
    }
    let count = |f: &dyn Fn(&Kill) -> bool| kills.iter().filter(|k| f(k)).count();
    let during = within(&kills);
    let before = count(&|k| k.landed == Landed::BeforeMigrated);
    let committed = count(&|k| k.landed == Landed::BeforeMigrated && k.left_migrated == Some(true));
    let after = count(&|k| k.landed == Landed::AfterMigrated);
    println!(
        "selection migration test: of {} kills, {before} landed before the migration logged \
         it was done ({during} of them within its estimated span, {committed} after its \
         transaction reached the disk), {after} after it and before listening",
        kills.len()
    );
    assert!(
        during >= 1,
        "no kill landed within the migration: {kills:?}"
    );
}
