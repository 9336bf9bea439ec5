//! Figures 1 and 2: a full sync of a big calendar, and incremental syncs of 100 edited and 100
//! deleted events on calendars of two sizes, through the real actors against the sandbox; the
//! rows of a connection with several calendars are in [`several`].

use std::time::{Duration, Instant};

use impulses_gcal::actors::supervisor::Connected;
use impulses_gcal::google::calendar::{fetch_page, PageRequest, PRIMARY};
use impulses_gcal::google::http::{GoogleHttp, InFlight};
use impulses_gcal::sandbox::{AccountId, EventId, Sandbox};
use impulses_gcal::settings::Settings;
use impulses_gcal::store::Store;
use impulses_gcal::token::TokenId;

use crate::calendar::{self, POINTS_PER_EVENT};
use crate::rig::{self, Server};
use crate::several;
use crate::table::{number, Goal, Row};

/// Sizes of this part of the run.
pub struct Plan {
    /// Events of the full-sync calendar.
    pub full_events: usize,
    /// Full syncs measured.
    pub full_runs: usize,
    /// Calendar sizes of the incremental syncs (the largest is the full-sync calendar).
    pub incremental_sizes: Vec<usize>,
    /// Incremental syncs measured per size.
    pub incremental_runs: usize,
    /// Edited and deleted events per incremental sync (each).
    pub changes: usize,
    /// Calendars of the several-calendar connection, its primary included.
    pub calendars: usize,
    /// Events in each of those calendars.
    pub calendar_events: usize,
    /// No-change syncs measured on it.
    pub calendar_runs: usize,
}

const DEADLINE: Duration = Duration::from_secs(600);

pub async fn run(sandbox: &Sandbox, plan: &Plan) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = rig::env_vars(Some(sandbox), &dir.path().join("store"));
    let settings = rig::settings(&vars);
    let store = rig::open_store(&settings);
    let server = Server::start(settings.clone(), store.clone());
    let mut rows = Vec::new();

    let n = plan.full_events;
    let (big, big_events) = calendar::seeded_account(sandbox, "full@bench.test", n);
    let mut rates = Vec::new();
    let mut commits = Vec::new();
    let mut last = None;
    for run in 0..plan.full_runs {
        let user = format!("full-{run}");
        let token = connect_one(sandbox, &settings, &store, &big, &user).await;
        let before = full_commit_seconds(&server);
        let took = full_sync(&server, &token, n).await;
        let commit = full_commit_seconds(&server) - before;
        eprintln!(
            "  full sync {run}: {n} events in {} ms (commit {:.0} ms)",
            took.as_millis(),
            commit * 1e3
        );
        rates.push(n as f64 / took.as_secs_f64());
        commits.push(commit * 1e3);
        last = Some(token);
    }
    rows.push(Row::new(
        format!(
            "1. full sync, {} `#!` events, trigger to commit",
            number(n as f64)
        ),
        "events/s",
        Goal::AtLeast(330_000.0),
        rates,
    ));
    rows.push(Row::new(
        "1. the store's share: the metric writer's commit",
        "ms",
        Goal::AtMost(80.0),
        commits,
    ));
    let token = last.as_ref().expect("a full run");
    rows.push(Row::new(
        "1. (listing alone: every page fetched from the sandbox and parsed)",
        "ms",
        Goal::Info,
        listing_time(&settings, &store, token, false, plan.full_runs).await,
    ));

    for &size in &plan.incremental_sizes {
        let (token, events) = if size == n {
            (last.clone().expect("a full run"), big_events.clone())
        } else {
            let (account, events) =
                calendar::seeded_account(sandbox, &format!("inc{size}@bench.test"), size);
            let token =
                connect_one(sandbox, &settings, &store, &account, &format!("inc-{size}")).await;
            full_sync(&server, &token, size).await;
            (token, events)
        };
        let account = if size == n {
            big.clone()
        } else {
            AccountId::from_sub(
                store
                    .credentials(&token)
                    .expect("read")
                    .expect("connected")
                    .account_sub,
            )
        };
        let mut times = Vec::new();
        for round in 0..plan.incremental_runs {
            let took = incremental(sandbox, &server, &account, &token, &events, round, plan).await;
            eprintln!(
                "  incremental sync on {size}: {:.1} ms",
                took.as_secs_f64() * 1e3
            );
            times.push(took.as_secs_f64() * 1e3);
        }
        rows.push(Row::new(
            format!(
                "2. incremental sync, {} edited + {} deleted of {} events",
                plan.changes,
                plan.changes,
                number(size as f64)
            ),
            "ms",
            Goal::AtMost(50.0),
            times,
        ));
        rows.push(Row::new(
            format!(
                "2. (sandbox's own no-change incremental list, {} events)",
                number(size as f64)
            ),
            "ms",
            Goal::Info,
            listing_time(&settings, &store, &token, true, plan.incremental_runs).await,
        ));
    }
    rows.extend(several::run(sandbox, &server, &settings, &store, plan).await);
    server.stop().await;
    rows
}

/// How long listing alone takes: the (fake) Google's part of a sync plus our parsing of its
/// answers, with no conversion and no commit. With a sync token, the incremental list with
/// nothing new; without, every page of a full list.
async fn listing_time(
    settings: &Settings,
    store: &Store,
    token: &TokenId,
    incremental: bool,
    runs: usize,
) -> Vec<f64> {
    let http = GoogleHttp::new(
        &settings.google_http,
        InFlight::new(1),
        impulses_gcal::telemetry::Telemetry::new().unwrap(),
    );
    let creds = store.credentials(token).expect("read").expect("connected");
    let selection = store.selection(token).expect("read");
    let sync_token = selection
        .find(PRIMARY)
        .and_then(|c| c.sync_token.clone())
        .expect("synced");
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut request = if incremental {
            PageRequest::Incremental(&sync_token)
        } else {
            PageRequest::Full
        };
        let mut next;
        loop {
            let page = fetch_page(
                &http,
                &settings.calendar_api_base,
                PRIMARY,
                &creds.access_token,
                request,
            )
            .await
            .expect("list");
            if incremental {
                assert!(page.items.is_empty(), "nothing changed");
            }
            match page.next_page_token {
                Some(p) => next = p,
                None => {
                    assert!(page.next_sync_token.is_some());
                    break;
                }
            }
            request = PageRequest::Next(&next);
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times
}

pub async fn connect_one(
    sandbox: &Sandbox,
    settings: &Settings,
    store: &Store,
    account: &AccountId,
    user: &str,
) -> TokenId {
    let ids = rig::connect(
        sandbox,
        settings,
        store,
        &[(account.clone(), user.to_string())],
    )
    .await;
    ids.into_iter().next().expect("one token")
}

/// The metric writer's total time in full-sync commits so far, from the server's Prometheus
/// metrics (`store_commit_duration_seconds`).
fn full_commit_seconds(server: &Server) -> f64 {
    commit_seconds(server, "full")
}

/// The metric writer's time in commits of `kind` (`full`, `incremental`) so far.
pub fn commit_seconds(server: &Server, kind: &str) -> f64 {
    let sync = server.sync();
    let text = sync.telemetry.render(&sync.board).expect("metrics render");
    let prefix = format!("impulses_gcal_store_commit_duration_seconds_sum{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

/// Announces a new connection the way the OAuth callback does, and waits until its first sync
/// (a full one) has committed every datapoint.
pub async fn full_sync(server: &Server, token: &TokenId, events: usize) -> Duration {
    let sync = server.sync();
    let start = Instant::now();
    sync.supervisor
        .send(Connected(token.clone()))
        .await
        .expect("supervisor")
        .expect("connected");
    let (took, status) = rig::wait_status(&sync.board, token, start, DEADLINE, |s| {
        s.syncs_ok + s.syncs_failed >= 1 && s.state != "syncing"
    })
    .await;
    assert_eq!(status.syncs_ok, 1, "full sync failed: {status:?}");
    assert_eq!(status.full_syncs, 1, "{status:?}");
    assert_eq!(status.events, events as u64, "{status:?}");
    assert_eq!(
        status.datapoints,
        events as u64 * POINTS_PER_EVENT,
        "{status:?}"
    );
    took
}

/// Edits `plan.changes` events and deletes as many (different ones each round), then asks for a
/// sync and waits until it has committed.
async fn incremental(
    sandbox: &Sandbox,
    server: &Server,
    account: &AccountId,
    token: &TokenId,
    events: &[EventId],
    round: usize,
    plan: &Plan,
) -> Duration {
    let k = plan.changes;
    let chunk = &events[round * 2 * k..(round + 1) * 2 * k];
    for id in &chunk[..k] {
        sandbox
            .patch_event(account, id, calendar::edit(round))
            .expect("patch");
    }
    for id in &chunk[k..] {
        sandbox.delete_event(account, id).expect("delete");
    }
    let lists_before = sandbox.counters().list_incremental;
    let (took, before, status) = rig::sync_now(&server.sync(), token, DEADLINE).await;
    assert_eq!(status.syncs_ok, before.syncs_ok + 1, "{status:?}");
    assert_eq!(
        status.full_syncs, before.full_syncs,
        "not incremental: {status:?}"
    );
    assert_eq!(status.events, before.events - k as u64, "{status:?}");
    assert_eq!(sandbox.counters().list_incremental, lists_before + 1);
    took
}
