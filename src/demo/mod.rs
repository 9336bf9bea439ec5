//! `impulses-gcal sandbox`: the server and the sandbox Google in one process, wired together
//! through the same settings a real deployment uses, with a demo calendar connected through the
//! real OAuth routes, so a newcomer sees the whole product without a Google account.

mod report;
mod seed;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::{AccountId, Sandbox, SandboxConfig};
use crate::settings::{Settings, SettingsError};

pub use report::connect_and_report;

/// Why the sandbox mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A setting is malformed (exit code 2, like the server).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A port or directory could not be had.
    #[error("{0}")]
    Io(String),
    /// The demo calendar or connection failed.
    #[error("sandbox demo: {0}")]
    Demo(String),
}

/// Everything the binary needs to run the sandbox mode.
pub struct SandboxMode {
    /// The server's settings, pointing at the sandbox Google.
    pub settings: Settings,
    /// The server's listener, bound before the sandbox so the redirect URI is known.
    pub listener: TcpListener,
    /// The running sandbox Google.
    pub sandbox: Sandbox,
    /// The demo account.
    pub account: AccountId,
    /// The admin token (generated unless `ADMIN_TOKEN` is set).
    pub admin_token: String,
    /// A data directory created for this run, removed at exit.
    pub temp_dir: Option<PathBuf>,
    /// How many `#!` events (occurrences counted one by one) the demo calendar holds.
    pub measurements: usize,
}

/// The poll interval in sandbox mode unless `GCAL_POLL_INTERVAL_SECS` says otherwise: short, so a
/// person sees a new event become a datapoint quickly.
pub const SANDBOX_POLL_SECS: &str = "15";

/// Starts the sandbox Google and builds the server's settings around it. Must run inside an
/// actix system.
pub fn prepare(env: impl Fn(&str) -> Option<String>) -> Result<SandboxMode, DemoError> {
    let temp_dir = match env("DATA_DIR") {
        Some(_) => None,
        None => Some(std::env::temp_dir().join(format!(
            "impulses-gcal-sandbox-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ))),
    };
    let admin_token =
        env("ADMIN_TOKEN").unwrap_or_else(|| crate::token::generate_plaintext().expose().clone());
    let defaults = |name: &str| -> Option<String> {
        match name {
            "DATA_DIR" => temp_dir.as_ref().map(|d| d.display().to_string()),
            "ADMIN_TOKEN" => Some(admin_token.clone()),
            "GCAL_POLL_INTERVAL_SECS" | "GCAL_PUSH_BACKSTOP_SECS" => Some(SANDBOX_POLL_SECS.into()),
            "BIND_ADDRESS" => Some("127.0.0.1".into()),
            _ => None,
        }
    };
    let layered = |name: &str| env(name).or_else(|| defaults(name));
    let base = Settings::load(layered)?;
    let listener = TcpListener::bind((base.bind_address, base.port)).map_err(|e| {
        DemoError::Io(format!(
            "cannot listen on {}:{}: {e}",
            base.bind_address, base.port
        ))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| DemoError::Io(e.to_string()))?
        .port();
    let origin_api = format!("http://127.0.0.1:{port}");
    let google_port = match env("SANDBOX_GOOGLE_PORT") {
        Some(p) => p.trim().parse().map_err(|_| SettingsError {
            setting: "SANDBOX_GOOGLE_PORT",
            problem: format!("{p:?} is not a port"),
        })?,
        None => 0,
    };
    let config = SandboxConfig {
        port: google_port,
        redirect_uris: vec![format!("{origin_api}/oauth2/google/callback")],
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config)
        .map_err(|e| DemoError::Io(format!("cannot start the sandbox Google: {e}")))?;
    let account = sandbox
        .create_account("demo@example.com", seed::ZONE.name())
        .map_err(|e| DemoError::Demo(e.to_string()))?;
    let seeded = seed::seed(&sandbox, &account, seed::today())
        .map_err(|e| DemoError::Demo(e.to_string()))?;
    let creds = sandbox.client_secret_json().to_string();
    let api_base = sandbox.calendar_api_base();
    let wired = |name: &str| match name {
        "GOOGLE_OAUTH2_CREDS" => Some(creds.clone()),
        "GOOGLE_CALENDAR_API_BASE" => Some(api_base.clone()),
        "ORIGIN_API" => Some(origin_api.clone()),
        // Push on: the sandbox notifies this server the moment a calendar changes.
        "GCAL_PUSH_URL" => layered(name).or_else(|| Some(origin_api.clone())),
        other => layered(other),
    };
    let settings = Settings::load(wired)?;
    Ok(SandboxMode {
        settings,
        listener,
        sandbox,
        account,
        admin_token,
        temp_dir,
        measurements: seeded.measurements,
    })
}

/// How long the demo waits for the first sync before giving up on printing the datapoints.
pub const FIRST_SYNC_DEADLINE: Duration = Duration::from_secs(60);

/// The server's address as a URL.
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
