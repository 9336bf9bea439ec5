//! Figure 8: push notifications (`GCAL_PUSH_URL`), against the sandbox Google posting them to
//! the real server on loopback.
//!
//! - Latency: a `#!` event is inserted in the sandbox and the clock runs until
//!   `GET /data/imp.events.duration` (the real HTTP server, a data token of the same user) returns
//!   its point; each edit is waited for before the next. With push, on a server whose calendar
//!   has a live channel; next to it, a server without push polling every 5 s (each edit at a
//!   random moment of the interval, so the wait is that of an edit made at any time), and the
//!   median a 300 s poll interval (the default) would give, computed, not measured: half of it.
//! - Requests: one idle calendar with push (polls every 2 s without a channel, 5 s backstop,
//!   channels capped at 30 s by the sandbox so they are renewed at half-life, every 15 s) and
//!   one without push (polls every 2 s), side by side for a window; every request the sandbox
//!   saw for each account is counted (`events.list`, `events.watch`, `channels.stop`). The
//!   per-day figures scale those costs to the default intervals: with push, a backstop poll an
//!   hour (24 a day) plus a renewal every 6 days (7-day channels renewed a day ahead), each
//!   renewal one more sync plus its watch and stop:
//!   `(24 + 1/6) x lists per sync + 1/6 x (watch + stop) per renewal`; without push,
//!   `86400 / 300 = 288 x lists per sync`.

use std::time::{Duration, Instant};

use impulses_gcal::sandbox::{AccountId, ChannelState, Sandbox, SandboxConfig};
use impulses_gcal::token::TokenId;

use crate::calendar;
use crate::rig::{self, Server};
use crate::sync::{connect_one, full_sync};
use crate::table::{Goal, Row};

/// Sizes of this part of the run.
pub struct Plan {
    /// Edits timed with push.
    pub push_edits: usize,
    /// Edits timed with polling only.
    pub poll_edits: usize,
    /// How long the idle calendars are watched for their requests.
    pub window: Duration,
}

const METRIC: &str = "imp.events.duration";
/// Events each calendar starts with (one duration point each).
const SEEDED: usize = 20;
/// The poll interval of the polling-only latency server.
const POLL_SECS: u64 = 5;
/// The default poll interval (`GCAL_POLL_INTERVAL_SECS`).
const DEFAULT_POLL_SECS: f64 = 300.0;
/// The default backstop (`GCAL_PUSH_BACKSTOP_SECS`).
const DEFAULT_BACKSTOP_SECS: f64 = 3600.0;
/// Days between two renewals of a 7-day channel renewed a day ahead.
const RENEWAL_DAYS: f64 = 6.0;
/// Shortened intervals of the idle calendars.
const IDLE_POLL_SECS: u64 = 2;
const IDLE_BACKSTOP_SECS: u64 = 5;
const IDLE_CHANNEL: Duration = Duration::from_secs(30);
const DAY_SECS: f64 = 86_400.0;

/// A server with one connected calendar, synced, and a reader of its data.
struct Calendar {
    server: Server,
    account: AccountId,
    token: TokenId,
    reader: String,
    _dir: tempfile::TempDir,
}

/// What the sandbox saw of one calendar so far, and the syncs its actor ran.
#[derive(Clone, Copy, Default)]
struct Seen {
    lists: u64,
    watches: u64,
    stops: u64,
    syncs: u64,
    failed: u64,
}

impl Seen {
    fn since(self, before: Seen) -> Seen {
        Seen {
            lists: self.lists - before.lists,
            watches: self.watches - before.watches,
            stops: self.stops - before.stops,
            syncs: self.syncs - before.syncs,
            failed: self.failed - before.failed,
        }
    }

    fn requests(self) -> u64 {
        self.lists + self.watches + self.stops
    }
}

pub async fn run(sandbox: &Sandbox, plan: &Plan) -> Vec<Row> {
    let idle_sandbox = rig::start_sandbox_with(SandboxConfig {
        push_ttl_cap: IDLE_CHANNEL,
        ..SandboxConfig::default()
    });
    // The idle window runs while the edits are timed: both are mostly waiting.
    let ((push, poll), (with_push, without, others)) = futures_util::future::join(
        latencies(sandbox, plan),
        idle_requests(&idle_sandbox, plan.window),
    )
    .await;
    idle_sandbox.assert_no_violations();
    idle_sandbox.stop().await;

    let window = plan.window.as_secs();
    let per_sync = |s: Seen| s.lists as f64 / s.syncs as f64;
    assert!(
        with_push.watches > 0,
        "no renewal within the {window} s window"
    );
    let per_renewal = (with_push.watches + with_push.stops) as f64 / with_push.watches as f64;
    let push_day = (DAY_SECS / DEFAULT_BACKSTOP_SECS + 1.0 / RENEWAL_DAYS) * per_sync(with_push)
        + per_renewal / RENEWAL_DAYS;
    let poll_day = DAY_SECS / DEFAULT_POLL_SECS * per_sync(without);
    let extra = if others > 0 {
        format!(", +{others} other requests (both servers)")
    } else {
        String::new()
    };
    vec![
        Row::new(
            "8. time from an edit to its datapoint, push",
            "s",
            Goal::AtMost(1.0),
            push,
        ),
        Row::new(
            format!("8. (the same, polling only every {POLL_SECS} s, no GCAL_PUSH_URL)"),
            "s",
            Goal::Info,
            poll,
        ),
        Row::new(
            "8. (the same, polling every 300 s, the default: expected, not measured, half of it)",
            "s",
            Goal::Info,
            vec![DEFAULT_POLL_SECS / 2.0],
        ),
        Row::new(
            "8. Google requests per calendar per day, push (backstop only), scaled to defaults",
            "req",
            Goal::AtMost(30.0),
            vec![push_day],
        ),
        Row::new(
            format!(
                "8. (measured: idle {window} s, {IDLE_BACKSTOP_SECS} s backstop, {} s channels: \
                 {} list + {} watch + {} stop, {} syncs{extra})",
                IDLE_CHANNEL.as_secs(),
                with_push.lists,
                with_push.watches,
                with_push.stops,
                with_push.syncs
            ),
            "req",
            Goal::Info,
            vec![(with_push.requests() + others) as f64],
        ),
        Row::new(
            "8. Google requests per calendar per day, without push, scaled to 300 s polls",
            "req",
            Goal::Info,
            vec![poll_day],
        ),
        Row::new(
            format!(
                "8. (measured: idle {window} s, {IDLE_POLL_SECS} s polls: {} list, {} syncs)",
                without.lists, without.syncs
            ),
            "req",
            Goal::Info,
            vec![without.requests() as f64],
        ),
    ]
}

/// Edit-to-datapoint times in seconds: (with push, polling only).
async fn latencies(sandbox: &Sandbox, plan: &Plan) -> (Vec<f64>, Vec<f64>) {
    let pushed = calendar(sandbox, "lat-push", &[], true).await;
    let push = edit_times(sandbox, &pushed, plan.push_edits, Duration::ZERO).await;
    pushed.server.stop().await;
    let interval = POLL_SECS.to_string();
    let polled = calendar(
        sandbox,
        "lat-poll",
        &[("GCAL_POLL_INTERVAL_SECS", &interval)],
        false,
    )
    .await;
    let poll = edit_times(
        sandbox,
        &polled,
        plan.poll_edits,
        Duration::from_secs(POLL_SECS),
    )
    .await;
    polled.server.stop().await;
    (push, poll)
}

/// A new server (push to itself if `push`) with a new seeded calendar connected, fully synced
/// and, with push, its channel live.
async fn calendar(sandbox: &Sandbox, name: &str, extra: &[(&str, &str)], push: bool) -> Calendar {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = rig::env_vars(Some(sandbox), &dir.path().join("store"));
    for (k, v) in extra {
        vars.insert((*k).to_string(), (*v).to_string());
    }
    let listener = rig::listener();
    if push {
        let addr = listener.local_addr().expect("address");
        vars.insert("GCAL_PUSH_URL".into(), format!("http://{addr}"));
    }
    let settings = rig::settings(&vars);
    let store = rig::open_store(&settings);
    let server = Server::start_on(listener, settings.clone(), store.clone());
    let (account, _) = calendar::seeded_account(sandbox, &format!("{name}@bench.test"), SEEDED);
    let token = connect_one(sandbox, &settings, &store, &account, name).await;
    full_sync(&server, &token, SEEDED).await;
    if push {
        let start = Instant::now();
        while live_channels(sandbox, &account) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name}: no channel"
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        // Let the channel's `sync` message land before anything is measured.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    }
    let reader = rig::reader(&store, name);
    Calendar {
        server,
        account,
        token,
        reader,
        _dir: dir,
    }
}

fn live_channels(sandbox: &Sandbox, account: &AccountId) -> usize {
    sandbox
        .channels()
        .iter()
        .filter(|c| &c.account == account && c.state == ChannelState::Live)
        .count()
}

/// Inserts `edits` new measurements one at a time, each after a random pause within `spread`,
/// and times each from the insert until the data API returns its point.
async fn edit_times(sandbox: &Sandbox, cal: &Calendar, edits: usize, spread: Duration) -> Vec<f64> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let url = cal.server.url(&format!("/data/{METRIC}"));
    let mut have = rig::count_points(&client, &url, &cal.reader).await;
    assert_eq!(have, SEEDED, "seeded points");
    let deadline = Duration::from_secs(POLL_SECS * 4 + 10);
    let mut times = Vec::with_capacity(edits);
    for k in 0..edits {
        let pause = spread.mul_f64(rand::random::<f64>()) + Duration::from_millis(100);
        actix_web::rt::time::sleep(pause).await;
        let start = Instant::now();
        sandbox
            .insert_event(&cal.account, calendar::measurement(SEEDED + k))
            .expect("insert");
        loop {
            let got = rig::count_points(&client, &url, &cal.reader).await;
            if got == have + 1 {
                break;
            }
            assert!(
                start.elapsed() < deadline,
                "edit {k}: {got} points after {:?}",
                start.elapsed()
            );
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        have += 1;
        let took = start.elapsed().as_secs_f64();
        eprintln!(
            "  edit {k} ({}): {:.0} ms",
            if spread.is_zero() { "push" } else { "polling" },
            took * 1e3
        );
        times.push(took);
    }
    times
}

async fn idle_requests(sandbox: &Sandbox, window: Duration) -> (Seen, Seen, u64) {
    let idle_poll = IDLE_POLL_SECS.to_string();
    let backstop = IDLE_BACKSTOP_SECS.to_string();
    let pushed = calendar(
        sandbox,
        "idle-push",
        &[
            ("GCAL_POLL_INTERVAL_SECS", &idle_poll),
            ("GCAL_PUSH_BACKSTOP_SECS", &backstop),
        ],
        true,
    )
    .await;
    let polled = calendar(
        sandbox,
        "idle-poll",
        &[("GCAL_POLL_INTERVAL_SECS", &idle_poll)],
        false,
    )
    .await;
    let (push0, poll0, others0) = (
        seen(sandbox, &pushed),
        seen(sandbox, &polled),
        others(sandbox),
    );
    actix_web::rt::time::sleep(window).await;
    let with_push = seen(sandbox, &pushed).since(push0);
    let without = seen(sandbox, &polled).since(poll0);
    let other = others(sandbox) - others0;
    eprintln!(
        "  idle {} s with push: {} list + {} watch + {} stop, {} syncs; without: {} list, {} syncs",
        window.as_secs(),
        with_push.lists,
        with_push.watches,
        with_push.stops,
        with_push.syncs,
        without.lists,
        without.syncs
    );
    assert_eq!(with_push.failed + without.failed, 0, "failed syncs");
    pushed.server.stop().await;
    polled.server.stop().await;
    (with_push, without, other)
}

fn seen(sandbox: &Sandbox, cal: &Calendar) -> Seen {
    let counters = sandbox.counters();
    let channels = sandbox.channels();
    let mine = || channels.iter().filter(|c| c.account == cal.account);
    let status = cal.server.board().get(&cal.token).expect("published");
    Seen {
        lists: counters
            .list_calls_by_account
            .get(cal.account.as_str())
            .copied()
            .unwrap_or(0),
        watches: mine().count() as u64,
        stops: mine().filter(|c| c.state == ChannelState::Stopped).count() as u64,
        syncs: status.syncs_ok + status.syncs_failed,
        failed: status.syncs_failed,
    }
}

fn others(sandbox: &Sandbox) -> u64 {
    let c = sandbox.counters();
    c.calendar_list_calls + c.refresh_grants + c.token_errors + c.userinfo_calls + c.revocations
}
