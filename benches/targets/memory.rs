//! Figure 4: resident memory of the real server binary (`impulses-gcal`, as deployed) holding
//! many connected, idle tokens. It opens the store the poll benchmark left behind, talks to the
//! same sandbox, syncs every token once at start-up (incremental, nothing changed) and then
//! idles; VmRSS is sampled from `/proc/<pid>/status` once every token is idle, VmHWM (the peak,
//! start-up included) at the end.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use impulses_gcal::sandbox::Sandbox;

use crate::poll::Fleet;
use crate::rig;
use crate::table::{number, Goal, Row};

const MIB: f64 = 1024.0 * 1024.0;
const SAMPLES: usize = 5;

pub async fn run(sandbox: &Sandbox, fleet: &Fleet) -> Vec<Row> {
    let port = free_port();
    let mut vars = rig::env_vars(Some(sandbox), &fleet.dir.path().join("store"));
    vars.insert("PORT".into(), port.to_string());
    let before = sandbox.counters().list_calls();
    let mut child = spawn(&vars);
    let start = Instant::now();
    let deadline = Duration::from_secs(600);
    while sandbox.counters().list_calls() - before < fleet.tokens as u64 {
        assert!(
            start.elapsed() < deadline,
            "the server did not sync every token"
        );
        assert!(
            child.try_wait().expect("child").is_none(),
            "the server exited"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let url = format!("http://127.0.0.1:{port}/admin/actors");
    let mut rss = Vec::new();
    loop {
        // Sample first: the answer below lists every actor and would itself grow the heap.
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        let sample = status_kib(child.id(), "VmRSS");
        let mut resp = client
            .get(&url)
            .insert_header(("Authorization", format!("Bearer {}", rig::ADMIN)))
            .send()
            .await
            .expect("admin answers");
        let body: serde_json::Value = resp.json().limit(64 << 20).await.expect("JSON");
        let idle = body["supervisor"]["by_state"]["idle"].as_u64().unwrap_or(0);
        if idle == fleet.tokens as u64 {
            rss.push(sample);
            break;
        }
        assert!(
            start.elapsed() < deadline,
            "not all idle: {}",
            body["supervisor"]
        );
    }
    for _ in 1..SAMPLES {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        rss.push(status_kib(child.id(), "VmRSS"));
    }
    let hwm = status_kib(child.id(), "VmHWM");
    stop(&mut child);
    let n = number(fleet.tokens as f64);
    vec![
        Row::new(
            format!("4. server VmRSS, {n} connected idle tokens"),
            "MiB",
            Goal::AtMost(150.0),
            rss.iter().map(|k| k * 1024.0 / MIB).collect(),
        ),
        Row::new(
            format!("4. server VmHWM (peak, start-up syncs of {n} included)"),
            "MiB",
            Goal::AtMost(150.0),
            vec![hwm * 1024.0 / MIB],
        ),
    ]
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    listener.local_addr().expect("address").port()
}

fn spawn(vars: &HashMap<String, String>) -> Child {
    Command::new(env!("CARGO_BIN_EXE_impulses-gcal"))
        .env_clear()
        .envs(vars)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary starts")
}

/// A `kB` line of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a kB figure")
}

/// SIGTERM (the graceful stop), then wait for the exit.
fn stop(child: &mut Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to the child this process started and has not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = child.wait().expect("child exits");
    assert!(status.success(), "server exit: {status}");
}
