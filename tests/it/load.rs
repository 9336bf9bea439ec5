//! Load: 64 concurrent clients read and write the data API while many connected tokens poll the
//! sandbox Google. Zero 5xx, every acknowledged write is readable afterwards, and every token
//! keeps its poll interval.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use chrono_tz::UTC;
use futures_util::future::join_all;
use impulses_gcal::system::Hooks;
use serde_json::Value;

use crate::flow::{at, measurement};
use crate::support::TestApp;

const CLIENTS: usize = 64;

/// What one client did: statuses seen, transport errors, and the points it was told were
/// written (timestamp → value).
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    errors: Vec<String>,
    acknowledged: BTreeMap<i64, f64>,
}

async fn client_loop(
    base: String,
    token: String,
    metric: String,
    until: Instant,
    n: usize,
) -> Tally {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut t = Tally::default();
    let mut seq = 0i64;
    while Instant::now() < until {
        seq += 1;
        let (method, path, body) = match seq % 4 {
            0 | 1 => {
                let ts = (n as i64) * 1_000_000_000 + seq;
                let body =
                    format!(r#"[{{"timestamp":{ts},"value":{seq},"dimensions":{{"c":"{n}"}}}}]"#);
                (Method::POST, format!("/data/{metric}"), Some((ts, body)))
            }
            2 => (
                Method::GET,
                format!("/data/{metric}?from={}", seq * 10),
                None,
            ),
            _ => (Method::GET, "/data".to_string(), None),
        };
        let req = client
            .request(method, format!("{base}{path}"))
            .insert_header(("X-Data-Token", token.as_str()));
        let sent = match &body {
            Some((_, b)) => {
                req.insert_header(("content-type", "application/json"))
                    .send_body(b.clone())
                    .await
            }
            None => req.send().await,
        };
        match sent {
            Ok(mut resp) => {
                let _ = resp.body().limit(64 << 20).await;
                *t.statuses.entry(resp.status().as_u16()).or_default() += 1;
                if let (Some((ts, _)), StatusCode::OK) = (&body, resp.status()) {
                    t.acknowledged.insert(*ts, seq as f64);
                }
            }
            Err(e) => t.errors.push(e.to_string()),
        }
    }
    t
}

async fn admin_actors(app: &TestApp) -> Vec<Value> {
    let r = app.admin(Method::GET, "/admin/actors", None).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
        .as_array()
        .cloned()
        .or_else(|| r.body["actors"].as_array().cloned())
        .unwrap_or_default()
}

async fn syncs_by_token(app: &TestApp) -> BTreeMap<String, u64> {
    admin_actors(app)
        .await
        .iter()
        .map(|a| {
            (
                a["token_id"].as_str().unwrap_or_default().to_string(),
                a["syncs_ok"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

async fn load(tokens: usize, window: Duration, interval_secs: u64) {
    let interval = interval_secs.to_string();
    let app = TestApp::spawn_google(
        &[
            ("GCAL_POLL_INTERVAL_SECS", &interval),
            ("GOOGLE_MAX_IN_FLIGHT", "32"),
        ],
        Hooks::default(),
    )
    .await;
    let sb = app.sandbox().clone();
    let connecting = Instant::now();
    let mut ids = Vec::new();
    for i in 0..tokens {
        let account = sb
            .create_account(&format!("user{i}@example.com"), "UTC")
            .unwrap();
        let specs = (0..10u32)
            .map(|d| {
                measurement(
                    "#!Load",
                    "n=1",
                    at(UTC, 2026, 3, 1 + d, 7, i as u32 % 60),
                    30,
                )
            })
            .collect();
        sb.seed_events(&account, specs).unwrap();
        let (id, token) = app.token(&format!("user{i}"), "calendar", "SUPER").await;
        app.connect(&token, &account).await;
        ids.push(id);
    }
    for id in &ids {
        app.wait_first_sync(id).await;
    }
    println!(
        "load: {tokens} tokens connected and synced in {:?}",
        connecting.elapsed()
    );

    let mut writers = Vec::new();
    for n in 0..CLIENTS {
        let (_, token) = app.token("writer", &format!("c{n}"), "SUPER").await;
        writers.push((token, format!("load.c{n}")));
    }
    let before = syncs_by_token(&app).await;
    let list_before = sb.counters().list_incremental + sb.counters().list_full;
    let started = Instant::now();
    let until = started + window;
    let base = format!("http://{}", app.addr);
    let tallies = join_all(writers.iter().enumerate().map(|(n, (token, metric))| {
        client_loop(base.clone(), token.clone(), metric.clone(), until, n)
    }))
    .await;
    let elapsed = started.elapsed();
    let after = syncs_by_token(&app).await;
    let lists = sb.counters().list_incremental + sb.counters().list_full - list_before;

    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut errors = Vec::new();
    for t in &tallies {
        for (s, c) in &t.statuses {
            *statuses.entry(*s).or_default() += c;
        }
        errors.extend(t.errors.iter().cloned());
    }
    let total: u64 = statuses.values().sum();
    println!(
        "load: {total} requests by {CLIENTS} clients in {elapsed:?} ({:.0}/s), statuses {statuses:?}, \
         {} transport errors; {lists} events.list calls by the sync",
        total as f64 / elapsed.as_secs_f64(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "transport errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(statuses.keys().all(|s| *s < 500), "5xx seen: {statuses:?}");

    // Every acknowledged write is there.
    let mut acknowledged = 0;
    for ((token, metric), t) in writers.iter().zip(&tallies) {
        let points = app.points(token, metric).await;
        let stored: BTreeMap<i64, f64> = points
            .iter()
            .map(|p| {
                (
                    p["timestamp"].as_i64().unwrap(),
                    p["value"].as_f64().unwrap(),
                )
            })
            .collect();
        for (ts, v) in &t.acknowledged {
            assert_eq!(
                stored.get(ts),
                Some(v),
                "{metric}: acknowledged point {ts} missing"
            );
        }
        acknowledged += t.acknowledged.len();
    }

    // Every token kept polling at its interval: at least one poll per two intervals, never more
    // often than the interval allows (its ±10 % spread).
    let secs = elapsed.as_secs_f64();
    let (lo, hi) = (
        (secs / (2.0 * interval_secs as f64)).floor() as u64,
        (secs / (0.9 * interval_secs as f64)).ceil() as u64 + 1,
    );
    let mut deltas: BTreeMap<u64, usize> = BTreeMap::new();
    for id in &ids {
        let d = after.get(id).copied().unwrap_or(0) - before.get(id).copied().unwrap_or(0);
        *deltas.entry(d).or_default() += 1;
    }
    println!(
        "load: {acknowledged} acknowledged writes all readable; syncs per token in the window \
         (want {lo}..={hi}): {deltas:?}"
    );
    assert!(
        deltas.keys().all(|d| (lo..=hi).contains(d)),
        "a token missed its interval or polled too often: {deltas:?}"
    );
    sb.assert_no_violations();
}

#[actix_web::test]
async fn sixty_four_clients_and_a_hundred_syncing_tokens_see_no_5xx_and_lose_no_write() {
    load(100, Duration::from_secs(5), 1).await;
}

/// `cargo test --release --test it -- --ignored load` (README, "Long tests").
#[actix_web::test]
#[ignore = "long: 60 s, 1,000 tokens"]
async fn sixty_four_clients_and_a_thousand_syncing_tokens_for_a_minute() {
    load(1000, Duration::from_secs(60), 10).await;
}
