//! The rig every system benchmark runs on: the sandbox Google on loopback, a store in a temporary
//! directory, and the real server (`SyncSystem::start` + `server::http_server`) on it, configured
//! the way a deployment configures real Google.
//!
//! Calendars are connected with real grants: our own OAuth client code builds the consent URL,
//! the sandbox's consent screen answers it with a code, and our client redeems the code at the
//! sandbox's token endpoint. Only the last step of the HTTP callback (storing the data token and
//! the credentials) is done through the library API, which is what lets ten thousand calendars be
//! connected in seconds.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use futures_util::StreamExt;
use impulses_gcal::actors::status::{ActorStatus, StatusBoard};
use impulses_gcal::actors::supervisor::SyncTokenNow;
use impulses_gcal::google::http::{GoogleHttp, InFlight};
use impulses_gcal::google::oauth;
use impulses_gcal::sandbox::{AccountId, Consent, Sandbox, SandboxConfig};
use impulses_gcal::secret::Secret;
use impulses_gcal::server::http_server;
use impulses_gcal::settings::Settings;
use impulses_gcal::store::{GoogleCredentials, NewToken, Store};
use impulses_gcal::system::{SyncHandle, SyncSystem};
use impulses_gcal::token::{now_secs, Capability, TokenId};

/// The admin bearer of every benchmark server.
pub const ADMIN: &str = "bench-admin-token-0123456789";
/// This server's public origin; only the OAuth redirect URI is built from it.
pub const ORIGIN_API: &str = "http://api.bench:8000";

/// Starts the sandbox Google in the current actix system, with our redirect URI registered.
pub fn start_sandbox() -> Sandbox {
    start_sandbox_with(SandboxConfig::default())
}

/// [`start_sandbox`] with other settings (e.g. a shorter channel lifetime).
pub fn start_sandbox_with(config: SandboxConfig) -> Sandbox {
    let config = SandboxConfig {
        redirect_uris: vec![format!("{ORIGIN_API}/oauth2/google/callback")],
        ..config
    };
    Sandbox::start(config).expect("sandbox starts")
}

/// The environment a deployment would set, for a store in `data_dir` and (optionally) Google.
/// The throwaway PostgreSQL cluster of `BENCH_STORE=postgres` (the tests' own, durable here).
#[path = "../../src/store/postgres/test_cluster.rs"]
#[allow(dead_code)]
mod test_cluster;

/// Whether this run measures the PostgreSQL engine (`BENCH_STORE=postgres`) instead of sled.
pub fn on_postgres() -> bool {
    std::env::var("BENCH_STORE").as_deref() == Ok("postgres")
}

/// The key of a benchmark's PostgreSQL store.
const BENCH_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

/// Opens the store the settings name: sled in `DATA_DIR`, or with `BENCH_STORE=postgres` a fresh
/// database of its own.
pub fn open_store(settings: &Settings) -> Store {
    Store::open_with(&settings.data_dir, &settings.store).expect("store")
}

pub fn env_vars(google: Option<&Sandbox>, data_dir: &Path) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("PORT", "0"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("ADMIN_TOKEN", ADMIN),
        ("ORIGIN_API", ORIGIN_API),
        ("RUST_LOG", "warn"),
        // Long enough that no periodic poll starts while a benchmark measures.
        ("GCAL_POLL_INTERVAL_SECS", "86400"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert("DATA_DIR".into(), data_dir.display().to_string());
    if on_postgres() {
        let url =
            postgres_database().expect("BENCH_STORE=postgres needs Debian's postgresql package");
        use_database(&mut vars, &url);
    }
    if let Some(sandbox) = google {
        let mut creds = sandbox.client_secret_json();
        creds["web"]["revoke_uri"] = sandbox.revoke_uri().into();
        creds["web"]["userinfo_uri"] = sandbox.userinfo_uri().into();
        vars.insert("GOOGLE_OAUTH2_CREDS".into(), creds.to_string());
        vars.insert(
            "GOOGLE_CALENDAR_API_BASE".into(),
            sandbox.calendar_api_base(),
        );
    }
    vars
}

/// A new database on the benchmark's PostgreSQL cluster, measured as deployed (fsync and
/// synchronous commits on); `None`, said loudly, when PostgreSQL is not installed.
pub fn postgres_database() -> Option<String> {
    std::env::set_var("TEST_CLUSTER_DURABLE", "1");
    test_cluster::database("the benchmark")
}

/// The PostgreSQL cluster's server processes (the postmaster and its children): their CPU is
/// the database's.
pub fn postgres_pids() -> Vec<u32> {
    test_cluster::server_pids()
}

/// Points the settings at the database `url`, with the benchmark's credentials key.
pub fn use_database(vars: &mut HashMap<String, String>, url: &str) {
    vars.insert("DATABASE_URL".into(), url.into());
    vars.insert("CREDENTIALS_KEY".into(), BENCH_KEY.into());
}

/// Validated settings from [`env_vars`].
pub fn settings(vars: &HashMap<String, String>) -> Settings {
    Settings::load(|name| vars.get(name).cloned()).expect("valid settings")
}

/// A listener on a free port of 127.0.0.1, for [`Server::start_on`].
pub fn listener() -> TcpListener {
    TcpListener::bind(("127.0.0.1", 0)).expect("bind")
}

/// The real server on 127.0.0.1, started the way `main` starts it.
pub struct Server {
    pub addr: SocketAddr,
    system: SyncSystem,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn start(settings: Settings, store: Store) -> Self {
        Self::start_on(listener(), settings, store)
    }

    /// The server on a listener bound beforehand (push: `GCAL_PUSH_URL` names its address).
    pub fn start_on(listener: TcpListener, settings: Settings, store: Store) -> Self {
        let addr = listener.local_addr().expect("address");
        let system = SyncSystem::start(settings, store);
        let server = http_server(system.app_state(), listener).expect("server");
        let handle = server.handle();
        let task = actix_web::rt::spawn(server);
        Self {
            addr,
            system,
            handle,
            task,
        }
    }

    /// The sync actors' handles (Google is configured).
    pub fn sync(&self) -> SyncHandle {
        self.system.app_state().sync.expect("Google is configured")
    }

    pub fn board(&self) -> StatusBoard {
        self.sync().board
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the HTTP server and the sync system, and flushes the store.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
        self.system.shutdown().await.expect("clean shutdown");
    }
}

/// Connects each account to a new data token of its user (`users[i]`, token name `google`):
/// consent (one at a time: the sandbox has one signed-in person), code exchange (concurrent),
/// then the data token and credentials go into the store. Returns the token ids in order.
pub async fn connect(
    sandbox: &Sandbox,
    settings: &Settings,
    store: &Store,
    accounts: &[(AccountId, String)],
) -> Vec<TokenId> {
    let google = settings.google.clone().expect("Google is configured");
    let redirect = settings.redirect_uri();
    let browser = awc::Client::builder().disable_redirects().finish();
    let mut codes = Vec::with_capacity(accounts.len());
    for (account, _) in accounts {
        sandbox
            .sign_in(account, Consent::GrantAll)
            .expect("account exists");
        let start = oauth::start_authorization(&google, &redirect).expect("authorization URL");
        let resp = browser
            .get(&start.url)
            .send()
            .await
            .expect("consent screen");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("consent redirects")
            .to_string();
        let code = url::Url::parse(&location)
            .expect("redirect URL")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        codes.push((code, start.verifier));
    }
    let http = GoogleHttp::new(
        &settings.google_http,
        InFlight::new(32),
        impulses_gcal::telemetry::Telemetry::new().unwrap(),
    );
    let grants: Vec<_> = futures_util::stream::iter(codes)
        .map(|(code, verifier)| {
            let (http, google, redirect) = (&http, &google, &redirect);
            async move {
                oauth::exchange_code(http, google, redirect, &code, &verifier, now_secs())
                    .await
                    .expect("code exchange")
            }
        })
        .buffered(32)
        .collect()
        .await;
    let now = now_secs();
    let work: Vec<_> = accounts.iter().map(|(_, user)| user).zip(grants).collect();
    // On PostgreSQL each store call is a durable transaction: eight threads at once, as a pool
    // of eight connections allows.
    let chunk = work.len().div_ceil(8).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                scope.spawn(|| {
                    part.iter()
                        .map(|(user, grant)| {
                            store_grant(store, &google.client_id, user, grant, now)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a connecting thread"))
            .collect()
    })
}

/// Stores a new data token of `user` and the credentials of its grant; returns the token's id.
fn store_grant(
    store: &Store,
    client_id: &str,
    user: &str,
    grant: &oauth::Grant,
    now: i64,
) -> TokenId {
    let id_token = grant.id_token.as_ref().expect("an ID token");
    let identity = oauth::identity_from_id_token(id_token.expose(), client_id).expect("identity");
    let (token, _) = store
        .create_token(
            NewToken {
                user: user.to_string(),
                name: "google".into(),
                capability: Capability::Super,
                expires_at: now + 365 * 24 * 3600,
            },
            now,
        )
        .expect("token");
    let creds = GoogleCredentials {
        connection_id: TokenId::generate().to_string(),
        access_token: grant.access_token.clone(),
        access_expires_at: grant.expires_at,
        refresh_token: grant
            .refresh_token
            .clone()
            .unwrap_or_else(|| Secret::new(String::new())),
        scopes: grant.scopes.clone(),
        account_email: identity.email,
        account_sub: identity.sub,
        connected_at: now,
        updated_at: now,
        needs_reauth: None,
    };
    store
        .put_credentials(&token.id, &creds)
        .expect("credentials");
    token.id
}

/// Waits, checking every millisecond, until `done` holds for the token's published status;
/// returns the time it took since `since`. Panics with the last status after `deadline`.
pub async fn wait_status(
    board: &StatusBoard,
    token: &TokenId,
    since: Instant,
    deadline: Duration,
    done: impl Fn(&ActorStatus) -> bool,
) -> (Duration, ActorStatus) {
    loop {
        if let Some(status) = board.get(token) {
            if done(&status) {
                return (since.elapsed(), status);
            }
            if since.elapsed() > deadline {
                panic!("token {token}: timed out; last status {status:?}");
            }
        } else if since.elapsed() > deadline {
            panic!("token {token}: timed out; no status");
        }
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Asks the token's actor to sync now (what `POST /admin/actors/{id}/sync` sends) and waits
/// until a sync started after the request has ended; answers its time from the request and the
/// actor's status before and after.
pub async fn sync_now(
    sync: &SyncHandle,
    token: &TokenId,
    deadline: Duration,
) -> (Duration, ActorStatus, ActorStatus) {
    let before = sync.board.get(token).expect("published");
    let asked = now_ms();
    let start = Instant::now();
    sync.supervisor
        .send(SyncTokenNow(token.clone()))
        .await
        .expect("supervisor")
        .expect("sync started");
    let (took, after) = wait_status(&sync.board, token, start, deadline, |s| {
        ended_since(s, asked)
    })
    .await;
    (took, before, after)
}

/// Whether the actor has ended a sync that started at or after `asked` (unix ms): how figures 2
/// and 3 tell that the sync they asked for is done, not one that was already running.
pub fn ended_since(s: &ActorStatus, asked: i64) -> bool {
    s.state != "syncing"
        && s.last_sync_start.is_some_and(|t| t >= asked)
        && s.last_sync_end >= s.last_sync_start
}

/// The current time in unix milliseconds, as the actors stamp their statuses.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A data token that may read `user`'s metrics for an hour; its plaintext.
pub fn reader(store: &Store, user: &str) -> String {
    let now = now_secs();
    let (_, plaintext) = store
        .create_token(
            NewToken {
                user: user.into(),
                name: "reader".into(),
                capability: Capability::Api,
                expires_at: now + 3600,
            },
            now,
        )
        .expect("token");
    plaintext.expose().clone()
}

/// How many points `GET /data/{metric}` at `url` answers now (outside any timing).
pub async fn count_points(client: &awc::Client, url: &str, token: &str) -> usize {
    let mut resp = client
        .get(url)
        .insert_header(("X-Data-Token", token))
        .send()
        .await
        .expect("an answer");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    let body = resp.body().limit(256 << 20).await.expect("a body");
    let points: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
    points.len()
}
