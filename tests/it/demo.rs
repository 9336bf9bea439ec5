//! `impulses-gcal sandbox` as a newcomer runs it: the printed curl commands work and show the
//! seeded metrics, and a new `#!` event becomes a datapoint.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::{Proc, BIN};

fn run(curl: &str) -> Value {
    let out = Command::new("bash").arg("-c").arg(curl).output().unwrap();
    assert!(
        out.status.success(),
        "{curl}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{curl}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn the_sandbox_command_prints_working_curl_commands() {
    let mut cmd = Command::new(BIN);
    cmd.arg("sandbox")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = Proc::start(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proc.log().contains("Stop with Ctrl-C") {
        assert!(
            Instant::now() < deadline,
            "no instructions printed:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = proc.log();
    let curls: Vec<&str> = log.lines().filter(|l| l.starts_with("curl ")).collect();
    assert_eq!(curls.len(), 10, "{log}");
    let data_dir = log
        .lines()
        .find_map(|l| l.split("data dir: ").nth(1))
        .map(|d| d.trim().to_string());

    // The console link opens the console, the token only in the fragment.
    let console = log
        .lines()
        .find_map(|l| l.split("as \"demo\":").nth(1))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no console link:\n{log}"));
    let (page, fragment) = console.split_once('#').unwrap();
    assert!(fragment.starts_with("token="), "{console}");
    let html = Command::new("curl")
        .args(["-s", page])
        .output()
        .unwrap()
        .stdout;
    assert!(
        String::from_utf8_lossy(&html).contains("<script type=\"module\""),
        "{console}"
    );

    let metrics = run(curls[0]);
    assert_eq!(
        metrics,
        serde_json::json!([
            "imp.events.custom.distance",
            "imp.events.custom.laps",
            "imp.events.custom.pages",
            "imp.events.duration"
        ])
    );
    let durations = run(curls[1]);
    assert_eq!(
        durations.as_array().unwrap().len(),
        29,
        "12 runs, 10 reading hours, a swim, a hike and 5 gym sessions"
    );
    assert!(
        durations
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["dimensions"]["activity"] != "Standup"),
        "meetings are not metrics"
    );
    let configs = run(curls[2]);
    assert_eq!(configs[0]["account_email"], "demo@example.com");
    assert_eq!(configs[0]["status"], "ok");
    let actors = run(curls[3]);
    assert_eq!(actors["supervisor"]["actor_count"], 1);
    let created = run(curls[4]);
    assert!(created["id"].as_str().is_some(), "{created}");
    assert_eq!(run(curls[5])["detail"], "sync started");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mats = run(curls[6]);
        if mats.as_array().is_some_and(|a| a.len() == 1) {
            assert_eq!(mats[0]["dimensions"]["activity"], "Yoga");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new event never became a datapoint: {mats}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The second calendar: listed, not selected, then selected and synced at once.
    let calendars = run(curls[7]);
    let training = calendars["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["summary"] == "Training")
        .unwrap_or_else(|| panic!("no Training calendar: {calendars}"))
        .clone();
    assert_eq!(training["selected"], false, "{calendars}");
    let selected = run(curls[8]);
    assert!(
        selected["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["selected"] == true),
        "{selected}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let routes = run(curls[9]);
        if routes.as_array().is_some_and(|a| a.len() == 8) {
            assert!(
                routes[0]["dimensions"]["activity"] == "Climbing",
                "{routes}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Training calendar never gave its 8 climbing sessions: {routes}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(proc.child.id() as i32, libc::SIGTERM) };
    assert!(
        proc.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        proc.log()
    );
    let dir = data_dir.expect("the data dir is printed");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "the run's data dir is removed"
    );
}
