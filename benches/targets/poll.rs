//! Figure 3: one poll cycle over many connected calendars. Every token is asked to sync at once
//! (as the periodic ticks of a deployment line up after a restart); a cycle ends when every
//! actor has finished a sync that started after the request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use impulses_gcal::actors::status::ActorStatus;
use impulses_gcal::actors::supervisor::SyncTokenNow;
use impulses_gcal::sandbox::{AccountId, Counters, EventId, Sandbox};
use impulses_gcal::token::TokenId;

use crate::calendar;
use crate::rig::{self, Server};
use crate::sync;
use crate::table::{number, Goal, Row};

/// Sizes of this part of the run.
pub struct Plan {
    /// Connected tokens, one calendar each.
    pub tokens: usize,
    /// Events per calendar.
    pub events_per_token: usize,
    /// One calendar in this many gets one change per cycle.
    pub change_every: usize,
    /// Cycles measured.
    pub cycles: usize,
}

/// What the memory figure reuses: the store directory with every token connected and synced.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub tokens: usize,
}

const DEADLINE: Duration = Duration::from_secs(600);

/// Sandbox accounts with seeded calendars, each connected to a data token of its own user, in
/// a fresh store.
struct Seeded {
    dir: tempfile::TempDir,
    settings: impulses_gcal::settings::Settings,
    store: impulses_gcal::store::Store,
    accounts: Vec<(AccountId, String)>,
    events: Vec<Vec<EventId>>,
    tokens: Vec<TokenId>,
}

async fn seed(sandbox: &Sandbox, tokens: usize, events_per_token: usize) -> Seeded {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = rig::env_vars(Some(sandbox), &dir.path().join("store"));
    let settings = rig::settings(&vars);
    let store = rig::open_store(&settings);
    let prepared = Instant::now();
    let mut accounts = Vec::with_capacity(tokens);
    let mut events = Vec::with_capacity(tokens);
    for i in 0..tokens {
        let (account, ids) =
            calendar::seeded_account(sandbox, &format!("p{i}@bench.test"), events_per_token);
        accounts.push((account, format!("user-{i}")));
        events.push(ids);
    }
    let token_ids = rig::connect(sandbox, &settings, &store, &accounts).await;
    eprintln!(
        "  {tokens} calendars created and connected in {:.1} s",
        prepared.elapsed().as_secs_f64()
    );
    Seeded {
        dir,
        settings,
        store,
        accounts,
        events,
        tokens: token_ids,
    }
}

/// Starts a server on the seeded store and waits for every calendar's first (full) sync,
/// checking it as a cycle: how long that took.
async fn first_syncs(sandbox: &Sandbox, seeded: &Seeded) -> (Server, Duration) {
    let before = sandbox.counters();
    let start = Instant::now();
    let server = Server::start(seeded.settings.clone(), seeded.store.clone());
    // A fresh server's telemetry has counted no sync yet.
    let took = wait_all(&server, seeded.tokens.len(), 0, 0, start).await;
    check_cycle(sandbox, &before, &seeded.accounts, &server.board().all());
    (server, took)
}

/// A store of `tokens` connected calendars of `events_per_token` events each, every one synced
/// once (in full), for the server binary of figure 4 to start on.
pub async fn fleet(sandbox: &Sandbox, tokens: usize, events_per_token: usize) -> Fleet {
    let seeded = seed(sandbox, tokens, events_per_token).await;
    let (server, took) = first_syncs(sandbox, &seeded).await;
    eprintln!(
        "  full syncs of {tokens} calendars: {:.2} s",
        took.as_secs_f64()
    );
    server.stop().await;
    drop(seeded.store);
    Fleet {
        dir: seeded.dir,
        tokens,
    }
}

pub async fn run(sandbox: &Sandbox, plan: &Plan) -> (Vec<Row>, Fleet) {
    let seeded = seed(sandbox, plan.tokens, plan.events_per_token).await;
    let (server, startup) = first_syncs(sandbox, &seeded).await;
    let Seeded {
        dir,
        store,
        accounts,
        events,
        tokens,
        ..
    } = seeded;
    eprintln!(
        "  start-up cycle (full syncs): {:.2} s",
        startup.as_secs_f64()
    );

    let mut times = Vec::new();
    let mut lists = Vec::new();
    let mut failures = Vec::new();
    for cycle in 0..plan.cycles {
        change_some(sandbox, &accounts, &events, plan, cycle);
        let (took, list_calls, failed) = measured_cycle(sandbox, &server, &tokens, &accounts).await;
        eprintln!(
            "  poll cycle {cycle}, 1 in {} changed: {took}",
            plan.change_every
        );
        times.push(took.seconds);
        lists.push(list_calls);
        failures.push(failed);
    }
    // The issue's own figure: a cycle in which no calendar changed.
    let mut unchanged = Vec::new();
    for cycle in 0..plan.cycles {
        let (took, list_calls, failed) = measured_cycle(sandbox, &server, &tokens, &accounts).await;
        eprintln!("  poll cycle {cycle}, nothing changed: {took}");
        unchanged.push(took.seconds);
        lists.push(list_calls);
        failures.push(failed);
    }
    server.stop().await;
    drop(store);
    let n = number(plan.tokens as f64);
    let rows = vec![
        Row::new(
            format!(
                "3. start-up: {n} tokens x {} events, full syncs",
                plan.events_per_token
            ),
            "s",
            Goal::Info,
            vec![startup.as_secs_f64()],
        ),
        Row::new(
            format!(
                "3. poll cycle: {n} tokens x {} events, 1 in {} changed",
                plan.events_per_token, plan.change_every
            ),
            "s",
            Goal::AtMost(0.6),
            times,
        ),
        Row::new(
            format!(
                "3. poll cycle: {n} tokens x {} events, nothing changed",
                plan.events_per_token
            ),
            "s",
            Goal::AtMost(0.6),
            unchanged,
        ),
        Row::new(
            "3. list requests per cycle (each calendar exactly 1)",
            "req",
            Goal::Exactly(plan.tokens as f64),
            lists,
        ),
        Row::new(
            "3. failed requests + failed syncs per cycle",
            "",
            Goal::Exactly(0.0),
            failures,
        ),
    ];
    (
        rows,
        Fleet {
            dir,
            tokens: plan.tokens,
        },
    )
}

/// How long one cycle took, and the metric writer's share of it.
struct Took {
    seconds: f64,
    committing: f64,
}

impl std::fmt::Display for Took {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} s, {:.2} s of them in the metric writer's commits",
            self.seconds, self.committing
        )
    }
}

/// Runs one cycle and checks it (see [`check_cycle`]): its time, list requests and failures.
async fn measured_cycle(
    sandbox: &Sandbox,
    server: &Server,
    tokens: &[TokenId],
    accounts: &[(AccountId, String)],
) -> (Took, f64, f64) {
    let before = sandbox.counters();
    let committing = sync::commit_seconds(server, "incremental");
    let took = cycle_once(server, tokens).await;
    let (list_calls, failed) = check_cycle(sandbox, &before, accounts, &server.board().all());
    let took = Took {
        seconds: took.as_secs_f64(),
        committing: sync::commit_seconds(server, "incremental") - committing,
    };
    (took, list_calls as f64, failed as f64)
}

/// Patches one event in every `change_every`-th calendar (a different slice each cycle).
fn change_some(
    sandbox: &Sandbox,
    accounts: &[(AccountId, String)],
    events: &[Vec<EventId>],
    plan: &Plan,
    cycle: usize,
) {
    for (i, ((account, _), ids)) in accounts.iter().zip(events).enumerate() {
        if i % plan.change_every == cycle % plan.change_every {
            let id = &ids[cycle % ids.len()];
            sandbox
                .patch_event(account, id, calendar::edit(cycle))
                .expect("patch");
        }
    }
}

/// Asks every token to sync (all at once) and waits for the cycle to end.
async fn cycle_once(server: &Server, tokens: &[TokenId]) -> Duration {
    let sync = server.sync();
    let finished_before = sync.telemetry.syncs_finished();
    let asked = rig::now_ms();
    let start = Instant::now();
    let sends = tokens
        .iter()
        .map(|t| sync.supervisor.send(SyncTokenNow(t.clone())));
    for result in futures_util::future::join_all(sends).await {
        result.expect("supervisor").expect("sync started");
    }
    wait_all(server, tokens.len(), asked, finished_before, start).await
}

/// Waits until `count` actors have ended a sync started at or after `asked` (unix ms). The
/// statuses are counted when the telemetry's counter of finished syncs, `finished_before` when
/// the syncs were asked for, says enough of them ended (and once a second regardless): a count
/// reads all 10,000 statuses, which every 10 ms cost the server's thread 5 %.
async fn wait_all(
    server: &Server,
    count: usize,
    asked: i64,
    finished_before: u64,
    start: Instant,
) -> Duration {
    let sync = server.sync();
    let mut round = 0u64;
    loop {
        round += 1;
        let finished = sync.telemetry.syncs_finished() - finished_before;
        if finished >= count as u64 || round % 100 == 0 {
            let done = sync.board.count_where(|s| rig::ended_since(s, asked));
            if done == count {
                return start.elapsed();
            }
            if start.elapsed() > DEADLINE {
                panic!("poll cycle: only {done} of {count} syncs ended");
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks a cycle against the sandbox's counters: every calendar listed exactly once, no answer
/// other than 200, no failed sync. Returns (list requests, failures).
fn check_cycle(
    sandbox: &Sandbox,
    before: &Counters,
    accounts: &[(AccountId, String)],
    statuses: &[ActorStatus],
) -> (u64, u64) {
    let after = sandbox.counters();
    let lists = after.list_calls() - before.list_calls();
    let per_account: BTreeMap<&String, u64> = after
        .list_calls_by_account
        .iter()
        .map(|(k, v)| {
            (
                k,
                v - before.list_calls_by_account.get(k).copied().unwrap_or(0),
            )
        })
        .collect();
    for (account, _) in accounts {
        let calls = per_account
            .get(&account.as_str().to_string())
            .copied()
            .unwrap_or(0);
        assert_eq!(
            calls,
            1,
            "account {}: {calls} list requests",
            account.as_str()
        );
    }
    let errors: u64 = after
        .by_status
        .iter()
        .filter(|(status, _)| **status != 200)
        .map(|(status, n)| n - before.by_status.get(status).copied().unwrap_or(0))
        .sum();
    let failed: u64 = statuses.iter().map(|s| s.syncs_failed).sum();
    (lists, errors + failed)
}
