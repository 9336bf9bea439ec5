//! Figures 4 and 10: the real server binary (`impulses-gcal`, as deployed) holding many connected
//! tokens, on the store the poll benchmark left behind, talking to the same sandbox (which runs
//! in this process, so its CPU is not counted).
//!
//! 4. Memory: the server syncs every token once at start-up (incremental, nothing changed) and
//!    then idles; VmRSS is sampled from `/proc/<pid>/status` once every token is idle, VmHWM (the
//!    peak, start-up included) at the end. The same binary on an empty store gives the base, so
//!    the bytes held per connection are (idle − base) / tokens.
//! 10. CPU per no-change sync, on the server's own schedule: the binary polls every calendar
//!     every few seconds (nothing changes); after the start-up syncs, the whole process's CPU time
//!     (`utime + stime` of `/proc/<pid>/stat`, every thread: sled's included) over several poll
//!     intervals is divided by the list requests the sandbox answered meanwhile.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use impulses_gcal::sandbox::Sandbox;

use crate::poll::Fleet;
use crate::rig;
use crate::table::{number, Goal, Row};

const MIB: f64 = 1024.0 * 1024.0;
const SAMPLES: usize = 5;
const DEADLINE: Duration = Duration::from_secs(600);
/// The poll interval of figure 10, and how many of them it measures.
const POLL_SECS: u64 = 4;
const POLL_INTERVALS: u64 = 3;

/// The memory limits: 64 MiB with 10,000 idle connections, 256 MiB with 50,000 (one
/// Google project's quota at one poll per five minutes).
pub fn limit_mib(tokens: usize) -> f64 {
    if tokens > 10_000 {
        256.0
    } else {
        64.0
    }
}

/// Figure 4 on `fleet`, and figure 10 too when `cpu` is set.
pub async fn run(sandbox: &Sandbox, fleet: &Fleet, cpu: bool) -> Vec<Row> {
    let base = base_rss(sandbox).await;
    let mut vars = rig::env_vars(Some(sandbox), &fleet.dir.path().join("store"));
    let (mut child, port) = spawn(&mut vars);
    synced_once(sandbox, &mut child, fleet.tokens).await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    // Idle is read from the Prometheus gauge, not `/admin/actors`, whose answer (every actor's
    // status, about 7 MB of JSON for 10,000) would itself grow the heap being measured.
    let url = format!("http://127.0.0.1:{port}/metrics");
    let idle_line = format!("impulses_gcal_actors{{state=\"idle\"}} {}", fleet.tokens);
    let start = Instant::now();
    loop {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        let mut resp = client
            .get(&url)
            .insert_header(("Authorization", format!("Bearer {}", rig::ADMIN)))
            .send()
            .await
            .expect("metrics answer");
        let body = resp.body().limit(1 << 20).await.expect("metrics body");
        if String::from_utf8_lossy(&body)
            .lines()
            .any(|l| l == idle_line)
        {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "not all idle");
    }
    let mut rss = Vec::new();
    for _ in 0..SAMPLES {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        rss.push(status_kib(child.id(), "VmRSS"));
    }
    let hwm = status_kib(child.id(), "VmHWM");
    print_split(child.id(), "idle");
    stop(&mut child);
    let per_connection: Vec<f64> = rss
        .iter()
        .map(|k| (k - base) * 1024.0 / fleet.tokens as f64)
        .collect();
    let n = number(fleet.tokens as f64);
    let limit = limit_mib(fleet.tokens);
    let mut rows = vec![
        Row::new(
            format!("4. server VmRSS, {n} connected idle tokens"),
            "MiB",
            Goal::AtMost(limit),
            rss.iter().map(|k| k * 1024.0 / MIB).collect(),
        ),
        Row::new(
            format!("4. server VmHWM (peak, start-up syncs of {n} included)"),
            "MiB",
            Goal::AtMost(limit),
            vec![hwm * 1024.0 / MIB],
        ),
        Row::new(
            "4. (the same binary on an empty store, VmRSS)",
            "MiB",
            Goal::Info,
            vec![base * 1024.0 / MIB],
        ),
        Row::new(
            "4. (resident bytes per connection: idle minus empty, / tokens)",
            "B",
            Goal::Info,
            per_connection,
        ),
    ];
    if cpu {
        rows.push(Row::new(
            format!("10. server CPU per no-change sync, {n} calendars polled every {POLL_SECS} s"),
            "us",
            Goal::AtMost(50.0),
            no_change_cpu(sandbox, fleet).await,
        ));
    }
    rows
}

/// VmRSS of the binary on an empty store, once it answers.
async fn base_rss(sandbox: &Sandbox) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = rig::env_vars(Some(sandbox), &dir.path().join("store"));
    let (mut child, port) = spawn(&mut vars);
    let client = awc::Client::default();
    let start = Instant::now();
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < DEADLINE,
            "the empty server never answered"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let rss = status_kib(child.id(), "VmRSS");
    print_split(child.id(), "empty");
    stop(&mut child);
    rss
}

/// Prints what the resident memory is made of: the heap and other anonymous memory, and the
/// pages of files (the binary's code, mostly), which a heap profile does not see.
fn print_split(pid: u32, what: &str) {
    eprintln!(
        "  {what} server: RssAnon {:.1} MiB, RssFile {:.1} MiB",
        status_kib(pid, "RssAnon") / 1024.0,
        status_kib(pid, "RssFile") / 1024.0
    );
}

/// Figure 10: µs of server CPU per list request, one sample per poll interval.
async fn no_change_cpu(sandbox: &Sandbox, fleet: &Fleet) -> Vec<f64> {
    let mut vars = rig::env_vars(Some(sandbox), &fleet.dir.path().join("store"));
    vars.insert("GCAL_POLL_INTERVAL_SECS".into(), POLL_SECS.to_string());
    let (mut child, _) = spawn(&mut vars);
    synced_once(sandbox, &mut child, fleet.tokens).await;
    // Let the start-up burst end: from here on every sync is a tick of the actor's own timer.
    actix_web::rt::time::sleep(Duration::from_secs(POLL_SECS)).await;
    let mut samples = Vec::new();
    let mut cpu = cpu_secs(child.id());
    let mut lists = sandbox.counters().list_calls();
    for _ in 0..POLL_INTERVALS {
        actix_web::rt::time::sleep(Duration::from_secs(POLL_SECS)).await;
        let (cpu_now, lists_now) = (cpu_secs(child.id()), sandbox.counters().list_calls());
        let calls = lists_now - lists;
        assert!(calls > 0, "no list request in a poll interval");
        eprintln!(
            "  {calls} list requests in {POLL_SECS} s, {:.2} s of server CPU",
            cpu_now - cpu
        );
        samples.push((cpu_now - cpu) * 1e6 / calls as f64);
        (cpu, lists) = (cpu_now, lists_now);
    }
    stop(&mut child);
    samples
}

/// Waits until the sandbox has answered one list request per token since the server started.
async fn synced_once(sandbox: &Sandbox, child: &mut Child, tokens: usize) {
    let before = sandbox.counters().list_calls();
    let start = Instant::now();
    while sandbox.counters().list_calls() - before < tokens as u64 {
        assert!(
            start.elapsed() < DEADLINE,
            "the server did not sync every token"
        );
        assert!(
            child.try_wait().expect("child").is_none(),
            "the server exited"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// User plus system CPU seconds of a process, all its threads (`/proc/<pid>/stat`).
pub fn cpu_secs(pid: u32) -> f64 {
    try_cpu_secs(pid).expect("the process's /proc/<pid>/stat")
}

/// [`cpu_secs`], `None` once the process has exited.
pub fn try_cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    listener.local_addr().expect("address").port()
}

/// The server binary on a free port of its own. For profiling what these figures measure,
/// `BENCH_SERVER_WRAP` is a command to start it under (`valgrind --tool=massif`, say) and
/// `BENCH_SERVER_ENV` adds settings (`STORE_CACHE_BYTES=8388608,RUST_LOG=info`).
pub fn spawn(vars: &mut HashMap<String, String>) -> (Child, u16) {
    let port = free_port();
    vars.insert("PORT".into(), port.to_string());
    let extra = std::env::var("BENCH_SERVER_ENV").unwrap_or_default();
    for pair in extra.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .expect("BENCH_SERVER_ENV: NAME=value,...");
        vars.insert(k.into(), v.into());
    }
    let binary = env!("CARGO_BIN_EXE_impulses-gcal");
    let wrap = std::env::var("BENCH_SERVER_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let child = command
        .env_clear()
        .envs(&*vars)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary starts");
    (child, port)
}

/// A `kB` line of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a kB figure")
}

/// SIGTERM (the graceful stop), then wait for the exit.
pub fn stop(child: &mut Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to the child this process started and has not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = child.wait().expect("child exits");
    assert!(status.success(), "server exit: {status}");
}
