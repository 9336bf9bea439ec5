//! `TestApp`: the real server, started the way `main` starts it, on 127.0.0.1:0 with its own
//! temporary data directory, or with `IT_STORE=postgres` its own PostgreSQL database on a
//! throwaway cluster ([`test_cluster`]), so the same suite runs on both store engines.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use impulses_gcal::sandbox::{Sandbox, SandboxConfig};
use impulses_gcal::server::http_server;
use impulses_gcal::settings::Settings;
use impulses_gcal::store::Store;
use impulses_gcal::system::{Hooks, SyncSystem};
use serde_json::Value;
use tempfile::TempDir;

#[path = "../../src/store/postgres/test_cluster.rs"]
#[allow(dead_code)]
pub mod test_cluster;

/// The store engine this run's test apps use: `IT_STORE=postgres`, or sled.
pub fn on_postgres() -> bool {
    std::env::var("IT_STORE").as_deref() == Ok("postgres")
}

/// The credentials key of test apps on PostgreSQL (which requires one).
pub const TEST_CREDENTIALS_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

/// The admin token every test app uses unless told otherwise.
pub const ADMIN: &str = "test-admin-token-0123456789";
/// The UI origin every test app uses.
pub const ORIGIN: &str = "http://ui.test:3000";
/// The public origin of the server in tests; only the redirect URI is built from it.
pub const ORIGIN_API: &str = "http://api.test:8000";
/// `GCAL_PUSH_URL=self`: push notifications to the test server itself.
pub const PUSH_SELF: &str = "self";
/// Where a test app with push remembers its port across restarts.
const PUSH_PORT: &str = "TEST_PUSH_PORT";

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: TempDir,
    /// The sandbox Google this app is wired to, when started with [`TestApp::spawn_google`].
    pub google: Option<Sandbox>,
    hooks: Hooks,
    vars: HashMap<String, String>,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    system: SyncSystem,
    client: awc::Client,
}

/// A response: status, headers and the body parsed as JSON (Null when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// The sandbox; panics for apps started without one.
    /// The server's store, for a test that changes it behind the server's back.
    pub fn store(&self) -> impulses_gcal::store::Store {
        self.system.app_state().store
    }

    pub fn sandbox(&self) -> &Sandbox {
        self.google.as_ref().expect("started with spawn_google")
    }

    /// Starts with extra settings (environment variable names and values).
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let (dir, vars) = base_vars(extra);
        Self::start(dir, vars, None, Hooks::default()).await
    }

    /// Starts with a sandbox Google configured the way a deployment configures real Google.
    pub async fn spawn_google(extra: &[(&str, &str)], hooks: Hooks) -> Self {
        Self::spawn_google_with(SandboxConfig::default(), extra, hooks).await
    }

    pub async fn spawn_google_with(
        config: SandboxConfig,
        extra: &[(&str, &str)],
        hooks: Hooks,
    ) -> Self {
        Self::spawn_at(config, ORIGIN_API, extra, hooks).await
    }

    /// A server a browser can use: its `ORIGIN_API` is its real address and `ORIGIN` is unset,
    /// so the OAuth round trip ends on its own console.
    pub async fn spawn_console(config: SandboxConfig) -> Self {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let origin = format!("http://127.0.0.1:{port}");
        let extra = [("ORIGIN", ""), (PUSH_PORT, port.as_str())];
        Self::spawn_at(config, &origin, &extra, Hooks::default()).await
    }

    async fn spawn_at(
        mut config: SandboxConfig,
        origin_api: &str,
        extra: &[(&str, &str)],
        hooks: Hooks,
    ) -> Self {
        config.redirect_uris = vec![format!("{origin_api}/oauth2/google/callback")];
        let sandbox = Sandbox::start(config).unwrap();
        let creds = sandbox.client_secret_json().to_string();
        let base = sandbox.calendar_api_base();
        let mut vars: Vec<(&str, &str)> = vec![
            ("GOOGLE_OAUTH2_CREDS", &creds),
            ("GOOGLE_CALENDAR_API_BASE", &base),
            ("ORIGIN_API", origin_api),
            ("GCAL_MAX_RETRIES", "3"),
        ];
        vars.extend_from_slice(extra);
        let (dir, vars) = base_vars(&vars);
        Self::start(dir, vars, Some(sandbox), hooks).await
    }

    async fn start(
        dir: TempDir,
        mut vars: HashMap<String, String>,
        google: Option<Sandbox>,
        hooks: Hooks,
    ) -> Self {
        // With push, Google must reach this very server: `GCAL_PUSH_URL=self` becomes its
        // address, and a restart binds the same port again so live channels still reach it.
        let port = match vars.get(PUSH_PORT) {
            Some(p) => p.parse().unwrap(),
            None => 0,
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let addr = listener.local_addr().unwrap();
        if vars.get("GCAL_PUSH_URL").map(String::as_str) == Some(PUSH_SELF) {
            vars.insert("GCAL_PUSH_URL".into(), format!("http://{addr}"));
            vars.insert(PUSH_PORT.into(), addr.port().to_string());
        }
        let settings = Settings::load(|name| vars.get(name).cloned()).unwrap();
        let store = Store::open_with(&settings.data_dir, &settings.store).unwrap();
        let system = SyncSystem::start_with_hooks(settings, store, hooks.clone());
        let server = http_server(system.app_state(), listener).unwrap();
        let handle = server.handle();
        let task = actix_web::rt::spawn(server);
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .disable_redirects()
            .finish();
        Self {
            addr,
            dir,
            google,
            hooks,
            vars,
            handle,
            task,
            system,
            client,
        }
    }

    /// Stops the server gracefully and starts a new one on the same data directory (and the same
    /// sandbox Google).
    pub async fn restart(self) -> Self {
        let Self {
            dir,
            vars,
            handle,
            task,
            system,
            google,
            hooks,
            ..
        } = self;
        handle.stop(true).await;
        task.await.unwrap().unwrap();
        system.shutdown().await.unwrap();
        Self::start(dir, vars, google, hooks).await
    }

    /// Another server on this one's settings (its store, its sandbox Google) with `extra` on
    /// top: a second node of a fleet on one PostgreSQL database.
    pub async fn sibling(&self, extra: &[(&str, &str)]) -> Self {
        let mut vars = self.vars.clone();
        vars.remove(PUSH_PORT);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let dir = tempfile::tempdir().unwrap();
        vars.insert(
            "DATA_DIR".into(),
            dir.path().join("store").display().to_string(),
        );
        Self::start(dir, vars, None, Hooks::default()).await
    }

    /// Stops the server gracefully (its sync system too).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task.await.unwrap().unwrap();
        self.system.shutdown().await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request and parses the JSON answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let method_name = method.to_string();
        let (reply, _) = send(
            &self.client,
            method,
            &self.url(path),
            headers,
            body,
            64 * 1024 * 1024,
        )
        .await
        .unwrap_or_else(|e| panic!("{method_name} {path}: {e}"));
        reply
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let bearer = format!("Bearer {ADMIN}");
        self.call(method, path, &[("Authorization", &bearer)], body)
            .await
    }

    /// Creates a data token; returns (id, plaintext).
    pub async fn token(&self, user: &str, name: &str, capability: &str) -> (String, String) {
        let body = format!(r#"{{"user":"{user}","name":"{name}","capability":"{capability}"}}"#);
        let r = self.admin(Method::POST, "/admin/tokens", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["token_plaintext"].as_str().unwrap().to_string(),
        )
    }

    pub async fn data(&self, method: Method, path: &str, token: &str, body: Option<&str>) -> Reply {
        self.call(method, path, &[("X-Data-Token", token)], body)
            .await
    }
}

fn base_vars(extra: &[(&str, &str)]) -> (TempDir, HashMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        ("PORT", "0"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("ADMIN_TOKEN", ADMIN),
        ("ORIGIN", ORIGIN),
        ("GCAL_POLL_INTERVAL_SECS", "300"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert(
        "DATA_DIR".into(),
        dir.path().join("store").display().to_string(),
    );
    if on_postgres() {
        let url = test_cluster::database("a test app")
            .expect("IT_STORE=postgres needs PostgreSQL (Debian's postgresql package)");
        vars.insert("DATABASE_URL".into(), url);
        vars.insert("CREDENTIALS_KEY".into(), TEST_CREDENTIALS_KEY.into());
    }
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    (dir, vars)
}

/// Polls `check` until it returns `Some`, or panics after `deadline` printing the last state.
pub async fn wait_for<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > deadline => {
                panic!("timed out waiting for {what}; last state: {last}")
            }
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Sends a request with `client` (a JSON body when given) and reads the answer, up to `limit`
/// bytes: the reply with its body parsed as JSON (Null when not JSON), and the raw body.
pub async fn send(
    client: &awc::Client,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    limit: usize,
) -> Result<(Reply, Vec<u8>), String> {
    let mut req = client.request(method, url);
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut resp = match body {
        Some(b) => {
            req.insert_header(("content-type", "application/json"))
                .send_body(b.to_string())
                .await
        }
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    let bytes = resp.body().limit(limit).await.map_err(|e| e.to_string())?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            body,
        },
        bytes.to_vec(),
    ))
}
