//! Crash safety: the real binary is killed with SIGKILL at random moments of full and incremental
//! syncs of a large calendar, with edits, deletions and invalidated sync tokens in between, and
//! restarted on the same `DATA_DIR` each time. At the end the datapoints are exactly the
//! conversion of the calendar: none missing, none duplicated, none left from deleted events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use chrono_tz::UTC;
use impulses_gcal::sandbox::{AccountId, EventId, EventPatch, EventSpec, EventTime, Sandbox};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::child::{self, ChildServer};

const DURATION: &str = "imp.events.duration";
const STEP_MIN: i64 = 45;

/// What the calendar holds, as the converter must see it: event id → (activity, start ms,
/// length ms); events that are not measurements are absent.
type Model = BTreeMap<String, (String, i64, i64)>;

fn time(minutes_since_2025: i64) -> EventTime {
    let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(minutes_since_2025);
    EventTime::Timed(t.with_timezone(&UTC))
}

fn ms(minutes_since_2025: i64) -> i64 {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
        + minutes_since_2025 * 60_000
}

fn spec(title: &str, at: i64, len: i64) -> EventSpec {
    EventSpec::new(title, time(at), time(at + len))
}

/// Seeds `n` measurements and returns the model.
fn seed(sb: &Sandbox, ann: &AccountId, n: usize) -> (Model, Vec<EventId>) {
    let specs: Vec<(String, i64, i64)> = (0..n as i64)
        .map(|i| (format!("crash {}", i % 7), i * STEP_MIN, 10 + i % 30))
        .collect();
    let ids = sb
        .seed_events(
            ann,
            specs
                .iter()
                .map(|(a, at, len)| spec(&format!("#!{a}"), *at, *len))
                .collect(),
        )
        .unwrap();
    let model = ids
        .iter()
        .zip(specs)
        .map(|(id, (a, at, len))| (id.as_str().to_string(), (a, ms(at), len * 60_000)))
        .collect();
    (model, ids)
}

/// A random batch of edits: retitles, moves, deletions, un-measurements and new events.
fn edit(
    sb: &Sandbox,
    ann: &AccountId,
    rng: &mut StdRng,
    model: &mut Model,
    ids: &mut Vec<EventId>,
) {
    let n = rng.gen_range(0..150);
    for _ in 0..n {
        if ids.is_empty() {
            break;
        }
        let i = rng.gen_range(0..ids.len());
        let id = ids[i].clone();
        match rng.gen_range(0..5) {
            0 => {
                let a = format!("edited {}", rng.gen_range(0..5));
                sb.patch_event(
                    ann,
                    &id,
                    EventPatch {
                        summary: Some(format!("#!{a}")),
                        ..EventPatch::default()
                    },
                )
                .unwrap();
                if let Some(e) = model.get_mut(id.as_str()) {
                    e.0 = a;
                } else {
                    // It was no measurement: now it is one again, at its current place.
                    continue;
                }
            }
            1 => {
                let at = rng.gen_range(0..300_000);
                let len = rng.gen_range(0..120);
                sb.patch_event(
                    ann,
                    &id,
                    EventPatch {
                        summary: Some("#!moved".into()),
                        start: Some(time(at)),
                        end: Some(time(at + len)),
                        ..EventPatch::default()
                    },
                )
                .unwrap();
                model.insert(id.as_str().into(), ("moved".into(), ms(at), len * 60_000));
            }
            2 => {
                sb.delete_event(ann, &id).unwrap();
                model.remove(id.as_str());
                ids.swap_remove(i);
            }
            3 => {
                sb.patch_event(
                    ann,
                    &id,
                    EventPatch {
                        summary: Some("no longer measured".into()),
                        ..EventPatch::default()
                    },
                )
                .unwrap();
                model.remove(id.as_str());
                ids.swap_remove(i);
            }
            _ => {
                let at = rng.gen_range(0..300_000);
                let new = sb.insert_event(ann, spec("#!new", at, 15)).unwrap();
                model.insert(new.as_str().into(), ("new".into(), ms(at), 15 * 60_000));
                ids.push(new);
            }
        }
    }
}

/// Every duration point as (src, activity, timestamp, value), sorted; panics on a duplicate.
async fn points(server: &ChildServer, token: &str) -> Vec<(String, String, i64, i64)> {
    let (r, _) = server
        .call(
            Method::GET,
            &format!("/data/{DURATION}"),
            &[("X-Data-Token", token)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut v: Vec<_> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["dimensions"]["src"].as_str().unwrap().to_string(),
                p["dimensions"]["activity"].as_str().unwrap().to_string(),
                p["timestamp"].as_i64().unwrap(),
                p["value"].as_f64().unwrap() as i64,
            )
        })
        .collect();
    v.sort();
    v
}

fn expected(model: &Model) -> Vec<(String, String, i64, i64)> {
    let mut v: Vec<_> = model
        .iter()
        .map(|(id, (a, at, len))| (id.clone(), a.clone(), *at, *len))
        .collect();
    v.sort();
    v
}

/// Waits for a random moment to kill: two times in three inside a sync (waiting for one to
/// begin, then a random part of a full sync's length), else anywhere up to 1.5 full syncs after
/// the start. Answers the wait after the reference point and whether a sync was awaited.
async fn kill_moment(
    server: &ChildServer,
    id: &str,
    rng: &mut StdRng,
    full_sync: Duration,
) -> (Duration, bool) {
    if rng.gen_range(0..3) == 0 {
        let wait = full_sync.mul_f64(rng.gen_range(0.0..1.5));
        actix_web::rt::time::sleep(wait).await;
        return (wait, false);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.actor(id).await["state"] != "syncing" && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    let wait = full_sync.mul_f64(rng.gen_range(0.0..1.0));
    actix_web::rt::time::sleep(wait).await;
    (wait, true)
}

async fn crash_and_restart(events: usize, kills: usize) {
    let seed_value: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash test: seed {seed_value}, {events} events, {kills} kills");
    let mut rng = StdRng::seed_from_u64(seed_value);
    let sb = child::sandbox(Default::default());
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let (mut model, mut ids) = seed(&sb, &ann, events);
    let dir = tempfile::tempdir().unwrap();
    let env = child::google_env(&sb, &child::data_dir(&dir));

    let server = ChildServer::start(&env);
    let (id, token) = server.token("ann", "phone").await;
    server.connect(&sb, &token, &ann).await;
    let first = Instant::now();
    server
        .wait_synced_since(&id, 0, Duration::from_secs(600))
        .await;
    let full_sync = first.elapsed();
    println!("crash test: first full sync took {full_sync:?}");
    let mut server = Some(server);
    let mut hits = 0;
    for round in 0..kills {
        let running = server.take().unwrap_or_else(|| ChildServer::start(&env));
        edit(&sb, &ann, &mut rng, &mut model, &mut ids);
        if rng.gen_bool(0.25) {
            sb.invalidate_sync_tokens(&ann).unwrap();
        }
        let (wait, during) = kill_moment(&running, &id, &mut rng, full_sync).await;
        let a = running.actor(&id).await;
        let syncing = a["state"] == "syncing";
        if syncing {
            hits += 1;
        }
        println!(
            "crash test: kill {} {wait:?} after {during_what} (state {}, syncs ok {}, full syncs {})",
            round + 1,
            a["state"],
            a["syncs_ok"],
            a["full_syncs"],
            during_what = if during { "a sync began" } else { "start" },
        );
        running.kill();
    }
    println!("crash test: {hits} of {kills} kills hit a running sync");

    let server = ChildServer::start(&env);
    let since = Utc::now().timestamp_millis();
    server
        .wait_synced_since(&id, since, Duration::from_secs(600))
        .await;
    let got = points(&server, &token).await;
    let want = expected(&model);
    let (got_set, want_set): (BTreeSet<_>, BTreeSet<_>) =
        (got.iter().collect(), want.iter().collect());
    assert_eq!(got_set.len(), got.len(), "duplicated datapoints");
    let missing: Vec<_> = want_set.difference(&got_set).take(5).collect();
    let extra: Vec<_> = got_set.difference(&want_set).take(5).collect();
    assert!(
        got == want,
        "got {} points, want {}; missing {missing:?}; extra {extra:?}",
        got.len(),
        want.len()
    );
    let a = server.actor(&id).await;
    assert_eq!(a["datapoints"].as_u64(), Some(want.len() as u64), "{a}");
    println!(
        "crash test: {} datapoints exactly match the calendar after {kills} kills",
        got.len()
    );
    sb.assert_no_violations();
    server.stop();
}

#[actix_web::test]
async fn sigkill_during_syncs_never_loses_or_duplicates_datapoints() {
    crash_and_restart(20_000, 6).await;
}

/// `cargo test --release --test it -- --ignored crash` (README, "Long tests").
#[actix_web::test]
#[ignore = "long: 20,000 events, 25 kills"]
async fn sigkill_during_syncs_of_a_large_calendar_many_times() {
    crash_and_restart(20_000, 25).await;
}
