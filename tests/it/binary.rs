//! The binary as a deployer runs it: exit codes, signals, log hygiene, one owner per store.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;

pub const BIN: &str = env!("CARGO_BIN_EXE_impulses-gcal");
const ADMIN: &str = "binary-admin-token-0123456789";

fn command(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PORT", "0")
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("DATA_DIR", data_dir)
        .env("ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Collects a child's stdout and stderr lines as they come, on two reader threads.
pub fn collect_output(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    lines
}

/// A running server process whose log lines are collected as they come.
pub struct Proc {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn start(cmd: &mut Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        let lines = collect_output(&mut child);
        Self { child, lines }
    }

    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for the "listening on" line and returns the base URL.
    pub fn base_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(url) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.split("listening on ").nth(1).map(str::to_string))
            {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "process did not exit within {within:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn one_line_error(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_bad_setting_exits_2_with_one_line_naming_it() {
    for (var, value) in [
        ("PORT", "eighty"),
        (
            "GOOGLE_OAUTH2_CREDS",
            "{\"web\": {\"client_secret\": \"s3cr3t\"",
        ),
        ("ORIGIN", "nowhere"),
        ("GCAL_PUSH_URL", "http://gcal.example.com"),
    ] {
        let (code, stderr) = one_line_error(&[(var, value)]);
        assert_eq!(code, Some(2), "{var}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{var}: {stderr}");
        assert!(stderr.contains(var), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("s3cr3t"),
            "{stderr}"
        );
    }
}

#[test]
fn a_second_process_on_the_same_data_dir_exits_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::start(&mut command(dir.path()));
    first.base_url();
    let out = command(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in use by another impulses-gcal process"),
        "{stderr}"
    );
    unsafe { libc::kill(first.child.id() as i32, libc::SIGTERM) };
    assert!(first.wait_exit(Duration::from_secs(10)).success());
}

#[actix_web::test]
async fn sigterm_stops_gracefully_and_no_log_line_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut proc = Proc::start(&mut command(dir.path()));
    let base = proc.base_url();
    let client = awc::Client::default();
    let mut r = client
        .post(format!("{base}/admin/tokens"))
        .insert_header(("Authorization", format!("Bearer {ADMIN}")))
        .send_json(&serde_json::json!({"user": "ann", "name": "phone", "capability": "SUPER"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: serde_json::Value = r.json().await.unwrap();
    let plaintext = created["token_plaintext"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/data/weight?token={plaintext}"))
        .insert_header(("X-Data-Token", plaintext.as_str()))
        .send_body(r#"[{"timestamp":1,"value":70}]"#)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{base}/data"))
        .insert_header(("X-Data-Token", format!("{plaintext}x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let started = Instant::now();
    unsafe { libc::kill(proc.child.id() as i32, libc::SIGTERM) };
    let status = proc.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Wait until the reader threads have drained the pipes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !proc.log().contains("stopped") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = proc.log();
    assert!(
        log.contains("POST /data/weight 200"),
        "access log present:\n{log}"
    );
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains(&plaintext), "plaintext token leaked:\n{log}");
    assert!(!log.contains(ADMIN), "admin token leaked:\n{log}");

    // Every file the server created is private to its user.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).unwrap();
        if path != dir.path() {
            assert_eq!(
                meta.permissions().mode() & 0o077,
                0,
                "{} is readable by others",
                path.display()
            );
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }

    // The data written before the signal was flushed and is there after a restart.
    let mut again = Proc::start(&mut command(dir.path()));
    let base = again.base_url();
    let mut r = client
        .get(format!("{base}/data/weight"))
        .insert_header(("X-Data-Token", plaintext.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!([{"timestamp":1,"dimensions":{},"value":70.0}])
    );
    unsafe { libc::kill(again.child.id() as i32, libc::SIGTERM) };
    assert!(again.wait_exit(Duration::from_secs(10)).success());
}

#[actix_web::test]
async fn a_wrong_credentials_key_exits_1_with_one_line_and_changes_nothing() {
    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut first = Proc::start(command(&store).env("CREDENTIALS_KEY", KEY_A));
    let base = first.base_url();
    let client = awc::Client::default();
    let mut r = client
        .post(format!("{base}/admin/tokens"))
        .insert_header(("Authorization", format!("Bearer {ADMIN}")))
        .send_json(&serde_json::json!({"user": "ann", "name": "phone", "capability": "SUPER"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: serde_json::Value = r.json().await.unwrap();
    let plaintext = created["token_plaintext"].as_str().unwrap().to_string();
    unsafe { libc::kill(first.child.id() as i32, libc::SIGTERM) };
    assert!(first.wait_exit(Duration::from_secs(10)).success());

    for (key, expected) in [(Some(KEY_B), "does not open"), (None, "key file")] {
        // At the default log level, as a deployer runs it.
        let mut cmd = command(&store);
        cmd.env_remove("RUST_LOG");
        if let Some(k) = key {
            cmd.env("CREDENTIALS_KEY", k);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains(KEY_B) && !stderr.contains(KEY_A),
            "{stderr}"
        );
        assert!(!store.join("credentials.key").exists(), "no key file made");
    }
    // (The unit tests in store::keyring compare every record byte for byte.)
    // The right key still opens it, with the data token intact.
    let mut again = Proc::start(command(&store).env("CREDENTIALS_KEY", KEY_A));
    let base = again.base_url();
    let r = client
        .get(format!("{base}/data"))
        .insert_header(("X-Data-Token", plaintext.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    unsafe { libc::kill(again.child.id() as i32, libc::SIGTERM) };
    assert!(again.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn credentials_key_rotation_through_the_binary() {
    const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    let dir = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = command(dir.path());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut proc = Proc::start(&mut cmd);
        proc.base_url();
        unsafe { libc::kill(proc.child.id() as i32, libc::SIGTERM) };
        assert!(proc.wait_exit(Duration::from_secs(10)).success());
        proc.log()
    };
    run(&[("CREDENTIALS_KEY", OLD)]);
    let log = run(&[("CREDENTIALS_KEY", NEW), ("CREDENTIALS_KEY_PREVIOUS", OLD)]);
    assert!(log.contains("re-sealed"), "{log}");
    // The old key alone no longer opens the store; the new one does.
    let out = command(dir.path())
        .env("CREDENTIALS_KEY", OLD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    run(&[("CREDENTIALS_KEY", NEW)]);
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_has_help_a_version_and_refuses_what_it_does_not_know() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for sub in ["serve", "sandbox", "migrate-store"] {
        assert!(out.contains(sub), "{out}");
        let (code, help, _) = run(&[sub, "--help"], &[]);
        assert_eq!(code, 0, "{sub} --help");
        assert!(help.contains("Usage: impulses-gcal"), "{help}");
    }
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("impulses-gcal ", env!("CARGO_PKG_VERSION")))
    );
    for bad in [&["bogus"][..], &["serve", "--nope"], &["migrate-store"]] {
        let (code, _, err) = run(bad, &[]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn migrate_store_copies_a_sled_store_into_postgres_and_says_what_it_copied() {
    let Some(url) = crate::support::test_cluster::database("migrate_store_copies") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let store = impulses_gcal::store::Store::open(&path).unwrap();
        store
            .create_token(
                impulses_gcal::store::NewToken {
                    user: "ann".into(),
                    name: "phone".into(),
                    capability: impulses_gcal::token::Capability::Super,
                    expires_at: 4_000_000_000,
                },
                1,
            )
            .unwrap();
        store.flush().unwrap();
    }
    let from = path.display().to_string();
    let key = crate::support::TEST_CREDENTIALS_KEY;
    // A URL that does not parse: exit 2, one line, the password never repeated.
    let (code, _, err) = run(
        &[
            "migrate-store",
            "--from",
            &from,
            "--to",
            "mysql://ann:hunter2-pw@db/x",
        ],
        &[("CREDENTIALS_KEY", key)],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // Without a key: exit 2 naming it.
    let (code, _, err) = run(&["migrate-store", "--from", &from, "--to", &url], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CREDENTIALS_KEY"), "{err}");
    let (code, out, err) = run(
        &["migrate-store", "--from", &from, "--to", &url],
        &[("CREDENTIALS_KEY", key), ("RUST_LOG", "warn")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("identical") && out.contains("tokens: 1"),
        "{out}"
    );
    // Once more into the now full database: refused, exit 1.
    let (code, _, err) = run(
        &["migrate-store", "--from", &from, "--to", &url],
        &[("CREDENTIALS_KEY", key), ("RUST_LOG", "warn")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
}
