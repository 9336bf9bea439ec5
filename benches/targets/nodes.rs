//! Figure 11 (issue #16): three real server binaries sharing one PostgreSQL database and many
//! idle calendars, all talking to the sandbox in this process (whose CPU is not counted).
//!
//! 1. Start-up: the three nodes start at once on a store of connected, never synced tokens;
//!    they divide the tokens by leases, sync each once and idle. The phase ends when each holds
//!    its share, every calendar was listed and every actor is idle.
//! 2. Memory per node: VmRSS of each idle node (its share of the tokens), VmHWM at the end.
//! 3. Poll cycle: the nodes restarted with a one-second poll interval, so they poll as fast as
//!    they can; a cycle ends when every calendar has been listed at least once since it began.
//!    The nodes' CPU (every thread) and the database's (the postmaster and its children) over
//!    the cycles are divided by the list requests answered meanwhile.

use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

use impulses_gcal::sandbox::{AccountId, Sandbox};

use crate::calendar;
use crate::memory::{cpu_secs, spawn, status_kib, stop, try_cpu_secs};
use crate::rig;
use crate::table::{number, Goal, Row};

/// Sizes of this part of the run.
pub struct Plan {
    /// Connected tokens, one calendar each.
    pub tokens: usize,
    /// Events per calendar.
    pub events_per_token: usize,
    /// Poll cycles measured.
    pub cycles: usize,
}

const NODES: usize = 3;
const LEASE_SECS: u64 = 10;
const MIB: f64 = 1024.0 * 1024.0;
const DEADLINE: Duration = Duration::from_secs(900);

/// One node: its process and port.
struct Node {
    child: Child,
    port: u16,
}

pub async fn run(sandbox: &Sandbox, plan: &Plan) -> Vec<Row> {
    let Some(url) = rig::postgres_database() else {
        eprintln!("  SKIPPED figure 11: it needs PostgreSQL (apt-get install postgresql)");
        return Vec::new();
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = rig::env_vars(Some(sandbox), &dir.path().join("unused"));
    rig::use_database(&mut vars, &url);
    vars.insert("LEASE_SECS".into(), LEASE_SECS.to_string());
    let prepared = Instant::now();
    let accounts: Vec<(AccountId, String)> = (0..plan.tokens)
        .map(|i| {
            let email = format!("n{i}@nodes.bench");
            let (account, _) = calendar::seeded_account(sandbox, &email, plan.events_per_token);
            (account, format!("node-user-{i}"))
        })
        .collect();
    {
        let settings = rig::settings(&vars);
        let store = rig::open_store(&settings);
        rig::connect(sandbox, &settings, &store, &accounts).await;
    }
    eprintln!(
        "  {} calendars created and connected in {:.1} s",
        plan.tokens,
        prepared.elapsed().as_secs_f64()
    );

    // 1 and 2: start-up, then memory per idle node.
    let before = sandbox.counters().list_calls();
    let start = Instant::now();
    let mut nodes = start_nodes(&vars);
    settle(&nodes, plan.tokens, true).await;
    let startup = start.elapsed().as_secs_f64();
    let listed = sandbox.counters().list_calls() - before;
    assert!(
        listed >= plan.tokens as u64,
        "{listed} list requests for {} calendars",
        plan.tokens
    );
    eprintln!("  start-up: {startup:.1} s, {listed} list requests");
    let mut rss = Vec::new();
    for _ in 0..3 {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        for n in &nodes {
            rss.push(status_kib(n.child.id(), "VmRSS") * 1024.0 / MIB);
        }
    }
    let hwm: Vec<f64> = nodes
        .iter()
        .map(|n| status_kib(n.child.id(), "VmHWM") * 1024.0 / MIB)
        .collect();
    for n in &mut nodes {
        stop(&mut n.child);
    }

    // 3: poll cycles at full speed.
    vars.insert("GCAL_POLL_INTERVAL_SECS".into(), "1".into());
    let restarted = sandbox.counters().list_calls();
    let mut nodes = start_nodes(&vars);
    settle(&nodes, plan.tokens, false).await;
    // Past the restart's burst (every actor's first sync, one list each): from here on the
    // polls are the actors' own. (Never all idle at once: they poll every second.)
    let start = Instant::now();
    while sandbox.counters().list_calls() - restarted < 2 * plan.tokens as u64 {
        assert!(
            start.elapsed() < DEADLINE,
            "the restarted nodes did not sync"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let servers_cpu =
        |nodes: &[Node]| -> f64 { nodes.iter().map(|n| cpu_secs(n.child.id())).sum() };
    let database_cpu = || -> HashMap<u32, f64> {
        rig::postgres_pids()
            .into_iter()
            .filter_map(|pid| Some((pid, try_cpu_secs(pid)?)))
            .collect()
    };
    let (servers_before, database_before) = (servers_cpu(&nodes), database_cpu());
    let lists_before = sandbox.counters().list_calls();
    let failed_before = failed_answers(sandbox);
    let mut cycles = Vec::new();
    for cycle in 0..plan.cycles {
        let took = one_cycle(sandbox, &accounts).await;
        eprintln!("  poll cycle {cycle}: {took:.2} s");
        cycles.push(took);
    }
    let servers = servers_cpu(&nodes);
    // Per process: a backend that started meanwhile counts from zero, one that ended is lost.
    let database: f64 = database_cpu()
        .iter()
        .map(|(pid, cpu)| cpu - database_before.get(pid).copied().unwrap_or(0.0))
        .sum();
    let lists = sandbox.counters().list_calls() - lists_before;
    let failed = failed_answers(sandbox) - failed_before;
    for n in &mut nodes {
        stop(&mut n.child);
    }
    let per_sync = |secs: f64| vec![secs * 1e6 / lists as f64];
    eprintln!(
        "  {lists} list requests, {:.1} s of the nodes' CPU, {:.1} s of the database's",
        servers - servers_before,
        database
    );

    let n = number(plan.tokens as f64);
    let share = number((plan.tokens / NODES) as f64);
    vec![
        Row::new(
            format!(
                "11. start-up: 3 nodes, {n} tokens x {} events, leases and full syncs",
                plan.events_per_token
            ),
            "s",
            Goal::Info,
            vec![startup],
        ),
        Row::new(
            format!("11. VmRSS per node, {share} idle tokens each"),
            "MiB",
            Goal::Info,
            rss,
        ),
        Row::new(
            "11. VmHWM per node (peak, start-up included)",
            "MiB",
            Goal::Info,
            hwm,
        ),
        Row::new(
            format!("11. poll cycle over 3 nodes: {n} idle calendars, each listed once"),
            "s",
            Goal::Info,
            cycles,
        ),
        Row::new(
            "11. (the nodes' CPU per no-change sync, over the cycles)",
            "us",
            Goal::Info,
            per_sync(servers - servers_before),
        ),
        Row::new(
            "11. (the database's CPU per no-change sync, over the cycles)",
            "us",
            Goal::Info,
            per_sync(database),
        ),
        Row::new(
            "11. failed Google requests over the cycles",
            "",
            Goal::Exactly(0.0),
            vec![failed as f64],
        ),
    ]
}

/// Starts the three nodes at once, `node-0` to `node-2`.
fn start_nodes(vars: &HashMap<String, String>) -> Vec<Node> {
    (0..NODES)
        .map(|i| {
            let mut vars = vars.clone();
            vars.insert("NODE_ID".into(), format!("node-{i}"));
            let (child, port) = spawn(&mut vars);
            Node { child, port }
        })
        .collect()
}

/// Waits until each node is ready and holds its equal share (and, when `idle`, until each of
/// its actors is idle).
async fn settle(nodes: &[Node], tokens: usize, idle: bool) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let share = tokens / NODES;
    let start = Instant::now();
    'wait: loop {
        assert!(
            start.elapsed() < DEADLINE,
            "the nodes did not settle on {share} tokens each"
        );
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        for n in nodes {
            let held = get(&client, n.port, "/readyz")
                .await
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                .and_then(|v| v["held"].as_u64());
            if held.is_none_or(|h| h.abs_diff(share as u64) > 1) {
                continue 'wait;
            }
            if idle {
                let metrics = get(&client, n.port, "/metrics").await.unwrap_or_default();
                let busy = metrics
                    .lines()
                    .filter(|l| l.starts_with("impulses_gcal_actors{"))
                    .filter(|l| !l.contains("state=\"idle\""))
                    .any(|l| !l.ends_with(" 0"));
                if busy || !metrics.contains("impulses_gcal_actors{state=\"idle\"}") {
                    continue 'wait;
                }
            }
        }
        return;
    }
}

/// A 200 answer's body from one node (with the admin bearer), `None` otherwise.
async fn get(client: &awc::Client, port: u16, path: &str) -> Option<String> {
    let mut resp = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .insert_header(("Authorization", format!("Bearer {}", rig::ADMIN)))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = resp.body().limit(1 << 20).await.ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// Seconds until every account has been listed at least once from now.
async fn one_cycle(sandbox: &Sandbox, accounts: &[(AccountId, String)]) -> f64 {
    let before = sandbox.counters().list_calls_by_account;
    let start = Instant::now();
    let mut waiting: Vec<&str> = accounts.iter().map(|(a, _)| a.as_str()).collect();
    loop {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        let now = sandbox.counters().list_calls_by_account;
        let seen = |a: &str| now.get(a).copied().unwrap_or(0) > before.get(a).copied().unwrap_or(0);
        waiting.retain(|a| !seen(a));
        if waiting.is_empty() {
            return start.elapsed().as_secs_f64();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} calendars never listed",
            waiting.len()
        );
    }
}

/// Google answers other than 200 so far.
fn failed_answers(sandbox: &Sandbox) -> u64 {
    sandbox
        .counters()
        .by_status
        .iter()
        .filter(|(status, _)| **status != 200)
        .map(|(_, n)| n)
        .sum()
}
