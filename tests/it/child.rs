//! The real binary as a child process wired to an in-process sandbox Google: for tests that kill
//! it (SIGKILL), restart it on the same `DATA_DIR`, or read every line it logs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use impulses_gcal::sandbox::{AccountId, Consent, Sandbox, SandboxConfig};
use serde_json::Value;

use crate::binary::{collect_output, BIN};
use crate::flow::{param, query_of};
use crate::support::{send, Reply, ADMIN, ORIGIN, ORIGIN_API};

/// Starts a sandbox whose registered redirect URI is the one the child servers use.
pub fn sandbox(mut config: SandboxConfig) -> Sandbox {
    config.redirect_uris = vec![format!("{ORIGIN_API}/oauth2/google/callback")];
    Sandbox::start(config).unwrap()
}

/// The environment of a child server talking to `sandbox`, storing in `data_dir`.
pub fn google_env(sandbox: &Sandbox, data_dir: &Path) -> HashMap<String, String> {
    let creds = sandbox.client_secret_json();
    [
        ("PORT", "0".to_string()),
        ("BIND_ADDRESS", "127.0.0.1".to_string()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("ADMIN_TOKEN", ADMIN.to_string()),
        ("ORIGIN", ORIGIN.to_string()),
        ("ORIGIN_API", ORIGIN_API.to_string()),
        ("GOOGLE_OAUTH2_CREDS", creds.to_string()),
        ("GOOGLE_CALENDAR_API_BASE", sandbox.calendar_api_base()),
        ("GCAL_POLL_INTERVAL_SECS", "1".to_string()),
        ("GCAL_MAX_RETRIES", "2".to_string()),
        ("RUST_LOG", "info".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A running child server; its stdout and stderr lines are collected as they come.
pub struct ChildServer {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub base: String,
    client: awc::Client,
}

impl ChildServer {
    /// Spawns the binary with exactly `env` and waits until it listens.
    pub fn start(env: &HashMap<String, String>) -> Self {
        let mut child = Command::new(BIN)
            .env_clear()
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = collect_output(&mut child);
        let mut me = Self {
            child,
            lines,
            base: String::new(),
            // Pooled connections are dropped before the server's 5 s keep-alive closes them.
            client: awc::Client::builder()
                .connector(awc::Connector::new().conn_keep_alive(Duration::from_secs(2)))
                .timeout(Duration::from_secs(60))
                .disable_redirects()
                .finish(),
        };
        me.base = me.wait_listening();
        me
    }

    fn wait_listening(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.split("listening on ").nth(1).map(str::to_string));
            if let Some(url) = found {
                return url;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; it cannot touch memory.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "kill({signal})");
    }

    /// SIGKILL: no flush, no goodbye; waits for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> String {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit {status}; log:\n{}", self.log());
                break;
            }
            assert!(Instant::now() < deadline, "no exit; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the reader threads drain the pipes.
        std::thread::sleep(Duration::from_millis(200));
        self.log()
    }

    /// Sends a request; the body is parsed as JSON (Null when not JSON), and kept raw too.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (Reply, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        send(&self.client, method, &url, headers, body, 256 * 1024 * 1024)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{path}: {e} at {}; server log:\n{}",
                    chrono::Utc::now(),
                    self.log()
                )
            })
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let bearer = format!("Bearer {ADMIN}");
        self.call(method, path, &[("Authorization", &bearer)], body)
            .await
            .0
    }

    /// Creates a SUPER data token; returns (id, plaintext).
    pub async fn token(&self, user: &str, name: &str) -> (String, String) {
        let body = format!(r#"{{"user":"{user}","name":"{name}","capability":"SUPER"}}"#);
        let r = self.admin(Method::POST, "/admin/tokens", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["token_plaintext"].as_str().unwrap().to_string(),
        )
    }

    /// The OAuth flow through the real routes and the sandbox's consent screen; returns the
    /// replies of each step (auth URL, callback) for tests that inspect them.
    pub async fn connect(&self, sandbox: &Sandbox, token: &str, account: &AccountId) -> Vec<Reply> {
        sandbox.sign_in(account, Consent::GrantAll).unwrap();
        let (auth, _) = self
            .call(
                Method::GET,
                "/oauth2/google/auth",
                &[("X-Data-Token", token)],
                None,
            )
            .await;
        assert_eq!(auth.status, StatusCode::OK, "{}", auth.body);
        let url = auth.body["url"].as_str().unwrap().to_string();
        let location = crate::flow::consent(&url).await;
        let (cb, _) = self
            .call(
                Method::GET,
                &format!("/oauth2/google/callback?{}", query_of(&location)),
                &[],
                None,
            )
            .await;
        assert_eq!(cb.status, StatusCode::FOUND, "{}", cb.body);
        let to = cb.header("location").unwrap().to_string();
        assert!(param(&to, "token_id").is_some(), "{to}");
        vec![auth, cb]
    }

    /// The actor's status (Null when absent).
    pub async fn actor(&self, token_id: &str) -> Value {
        let r = self
            .admin(Method::GET, &format!("/admin/actors/{token_id}"), None)
            .await;
        if r.status == StatusCode::OK {
            r.body
        } else {
            Value::Null
        }
    }

    /// Waits until a sync that started at or after `since_ms` has succeeded.
    pub async fn wait_synced_since(&self, token_id: &str, since_ms: i64, deadline: Duration) {
        let start = Instant::now();
        loop {
            let a = self.actor(token_id).await;
            // Both must exist: before any sync they are null, which must not count as done.
            let started = a["last_sync_start"].as_i64();
            let success = a["last_success"].as_i64();
            if let (Some(started), Some(success)) = (started, success) {
                if started >= since_ms && success >= started {
                    return;
                }
            }
            assert!(
                start.elapsed() < deadline,
                "no sync since {since_ms}: {a}\nlog:\n{}",
                self.log()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A fresh data directory path inside `dir`.
pub fn data_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store")
}
