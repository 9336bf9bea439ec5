//! Settings: compiled-in defaults from `config/default.toml`, overridden by environment variables
//! with the exact names deployers of the Impulses server already use.
//!
//! Loading is two steps. First every setting becomes a raw string (the environment variable if
//! set, else the default). Then each raw value is validated into a typed field. A bad value
//! becomes a [`SettingsError`] naming the setting, which `main` prints as one line and exits 2.

mod google_creds;
mod origin;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use google_creds::GoogleClientConfig;
pub use origin::Origin;

use crate::secret::Secret;
use crate::store::postgres::Database;
use crate::store::{CredentialKey, CredentialKeys, StoreOptions};

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Every setting: its key in `default.toml` and the environment variable that overrides it.
pub const SETTINGS: &[(&str, &str)] = &[
    ("port", "PORT"),
    ("bind_address", "BIND_ADDRESS"),
    ("data_dir", "DATA_DIR"),
    ("google_oauth2_creds", "GOOGLE_OAUTH2_CREDS"),
    ("google_calendar_api_base", "GOOGLE_CALENDAR_API_BASE"),
    ("origin", "ORIGIN"),
    ("origin_api", "ORIGIN_API"),
    ("console", "CONSOLE"),
    ("gcal_poll_interval_secs", "GCAL_POLL_INTERVAL_SECS"),
    ("gcal_push_url", "GCAL_PUSH_URL"),
    ("gcal_push_backstop_secs", "GCAL_PUSH_BACKSTOP_SECS"),
    ("admin_token", "ADMIN_TOKEN"),
    ("max_body_bytes", "MAX_BODY_BYTES"),
    ("store_cache_bytes", "STORE_CACHE_BYTES"),
    ("database_url", "DATABASE_URL"),
    ("database_max_connections", "DATABASE_MAX_CONNECTIONS"),
    ("node_id", "NODE_ID"),
    ("lease_secs", "LEASE_SECS"),
    ("rust_log", "RUST_LOG"),
    (
        "gcal_recurrence_horizon_days",
        "GCAL_RECURRENCE_HORIZON_DAYS",
    ),
    ("google_max_in_flight", "GOOGLE_MAX_IN_FLIGHT"),
    ("google_connect_timeout_secs", "GOOGLE_CONNECT_TIMEOUT_SECS"),
    ("google_request_timeout_secs", "GOOGLE_REQUEST_TIMEOUT_SECS"),
    ("google_max_response_bytes", "GOOGLE_MAX_RESPONSE_BYTES"),
    ("gcal_max_retries", "GCAL_MAX_RETRIES"),
    ("credentials_key", "CREDENTIALS_KEY"),
    ("credentials_key_previous", "CREDENTIALS_KEY_PREVIOUS"),
    ("server_request_timeout_secs", "SERVER_REQUEST_TIMEOUT_SECS"),
];

/// A setting that is missing or malformed: which one, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("setting {setting}: {problem}")]
pub struct SettingsError {
    /// The environment variable name, which is what the deployer sets.
    pub setting: &'static str,
    /// A one-line description of the problem, never containing a secret.
    pub problem: String,
}

impl SettingsError {
    fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        Self {
            setting,
            problem: problem.into(),
        }
    }
}

/// Validated settings. Each test builds its own: there is no global.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Port of the HTTP server (0: any free port).
    pub port: u16,
    /// Address the HTTP server binds to.
    pub bind_address: IpAddr,
    /// Directory of the sled store.
    pub data_dir: PathBuf,
    /// The Google OAuth client; `None` turns the Google integration off.
    pub google: Option<GoogleClientConfig>,
    /// Base URL of the Calendar API, without a trailing slash.
    pub calendar_api_base: String,
    /// Origin of the Impulses UI (this server's own when unset, for the built-in console).
    pub origin: Origin,
    /// This server's public origin.
    pub origin_api: Origin,
    /// Whether the built-in console is served under `/`.
    pub console: bool,
    /// Time between two polls of one calendar.
    pub poll_interval: Duration,
    /// Push notifications; `None` polls only.
    pub push: Option<PushSettings>,
    /// Bearer token of the admin routes; `None` disables them.
    pub admin_token: Option<Secret<String>>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Default log filter when `RUST_LOG` is unset.
    pub log_filter: String,
    /// How far ahead of now occurrences become datapoints.
    pub recurrence_horizon: Duration,
    /// Limits on outbound Google requests.
    pub google_http: GoogleHttpSettings,
    /// Retries of a transient Google failure within one sync.
    pub max_retries: u32,
    /// How to open the store: the keys sealing the Google tokens and PKCE verifiers (none
    /// given: a key file in `DATA_DIR`) and sled's page cache size.
    pub store: StoreOptions,
    /// How long one request may take, body upload and answer included; a slow client is cut off
    /// after it, so trickling connections cannot pile up.
    pub server_request_timeout: Duration,
    /// This node among several on one PostgreSQL store.
    pub node: NodeSettings,
}

/// A node of a fleet on one PostgreSQL store (ignored on sled, which one process owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// `NODE_ID`: names the node in leases, status and logs (default: host name and process id).
    pub id: String,
    /// `LEASE_SECS`: how long the node owns a token's sync without renewing; a dead node's
    /// tokens move within it (plus a tick).
    pub lease: Duration,
}

/// Push notifications from Google (`events.watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSettings {
    /// Where Google posts notifications: `<GCAL_PUSH_URL>/oauth2/google/notifications`.
    pub address: String,
    /// The poll interval of a calendar whose channel is healthy.
    pub backstop: Duration,
}

/// The path notifications are posted to, under `GCAL_PUSH_URL`.
pub const NOTIFICATIONS_PATH: &str = "/oauth2/google/notifications";

/// Limits on the outbound Google client, so no request hangs forever and many tokens never open
/// many sockets at once.
#[derive(Debug, Clone)]
pub struct GoogleHttpSettings {
    /// Most requests in flight over all tokens.
    pub max_in_flight: usize,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout of one request, body included.
    pub request_timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
}

impl Settings {
    /// Loads settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::load(|name| std::env::var(name).ok())
    }

    /// Loads settings with `env` standing in for the environment, so tests need not mutate the
    /// process's real one.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults: toml::Table = DEFAULT_TOML
            .parse()
            .map_err(|e| SettingsError::new("config/default.toml", format!("{e}")))?;
        let raw = |key: &str, var: &'static str| -> String {
            match env(var) {
                Some(v) => v,
                None => match defaults.get(key) {
                    Some(toml::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
            }
        };
        let get = |var: &'static str| -> String {
            let key = SETTINGS
                .iter()
                .find(|(_, v)| *v == var)
                .map(|(k, _)| *k)
                .unwrap_or(var);
            raw(key, var)
        };
        let origin_api =
            Origin::parse(&get("ORIGIN_API")).map_err(|p| SettingsError::new("ORIGIN_API", p))?;
        let keys = CredentialKeys {
            current: credential_key("CREDENTIALS_KEY", &get("CREDENTIALS_KEY"))?,
            previous: credential_key("CREDENTIALS_KEY_PREVIOUS", &get("CREDENTIALS_KEY_PREVIOUS"))?,
        };
        let database = database(
            &get("DATABASE_URL"),
            &get("DATABASE_MAX_CONNECTIONS"),
            &keys,
        )?;
        Ok(Self {
            port: parse_num("PORT", &get("PORT"))?,
            bind_address: get("BIND_ADDRESS").trim().parse().map_err(|_| {
                SettingsError::new("BIND_ADDRESS", "must be an IP address such as 0.0.0.0")
            })?,
            data_dir: non_empty("DATA_DIR", &get("DATA_DIR"))?.into(),
            google: optional(&get("GOOGLE_OAUTH2_CREDS"))
                .map(|v| GoogleClientConfig::from_setting(&v))
                .transpose()
                .map_err(|problem| SettingsError::new("GOOGLE_OAUTH2_CREDS", problem))?,
            calendar_api_base: google_creds::endpoint(&get("GOOGLE_CALENDAR_API_BASE"))
                .map_err(|p| SettingsError::new("GOOGLE_CALENDAR_API_BASE", p))?,
            origin: match optional(&get("ORIGIN")) {
                Some(origin) => {
                    Origin::parse(&origin).map_err(|p| SettingsError::new("ORIGIN", p))?
                }
                None => origin_api.clone(),
            },
            origin_api,
            console: switch("CONSOLE", &get("CONSOLE"))?,
            poll_interval: Duration::from_secs(positive(
                "GCAL_POLL_INTERVAL_SECS",
                &get("GCAL_POLL_INTERVAL_SECS"),
            )?),
            push: optional(&get("GCAL_PUSH_URL"))
                .map(|url| -> Result<PushSettings, SettingsError> {
                    let base = google_creds::endpoint(&url)
                        .map_err(|p| SettingsError::new("GCAL_PUSH_URL", p))?;
                    Ok(PushSettings {
                        address: format!("{base}{NOTIFICATIONS_PATH}"),
                        backstop: Duration::from_secs(positive(
                            "GCAL_PUSH_BACKSTOP_SECS",
                            &get("GCAL_PUSH_BACKSTOP_SECS"),
                        )?),
                    })
                })
                .transpose()?,
            admin_token: admin_token(&get("ADMIN_TOKEN"))?,
            max_body_bytes: positive("MAX_BODY_BYTES", &get("MAX_BODY_BYTES"))? as usize,
            log_filter: get("RUST_LOG"),
            recurrence_horizon: Duration::from_secs(
                positive(
                    "GCAL_RECURRENCE_HORIZON_DAYS",
                    &get("GCAL_RECURRENCE_HORIZON_DAYS"),
                )? * 86_400,
            ),
            google_http: GoogleHttpSettings {
                max_in_flight: positive("GOOGLE_MAX_IN_FLIGHT", &get("GOOGLE_MAX_IN_FLIGHT"))?
                    as usize,
                connect_timeout: Duration::from_secs(positive(
                    "GOOGLE_CONNECT_TIMEOUT_SECS",
                    &get("GOOGLE_CONNECT_TIMEOUT_SECS"),
                )?),
                request_timeout: Duration::from_secs(positive(
                    "GOOGLE_REQUEST_TIMEOUT_SECS",
                    &get("GOOGLE_REQUEST_TIMEOUT_SECS"),
                )?),
                max_response_bytes: positive(
                    "GOOGLE_MAX_RESPONSE_BYTES",
                    &get("GOOGLE_MAX_RESPONSE_BYTES"),
                )? as usize,
            },
            max_retries: parse_num("GCAL_MAX_RETRIES", &get("GCAL_MAX_RETRIES"))?,
            store: StoreOptions {
                keys,
                cache_bytes: positive("STORE_CACHE_BYTES", &get("STORE_CACHE_BYTES"))?,
                database,
            },
            server_request_timeout: Duration::from_secs(positive(
                "SERVER_REQUEST_TIMEOUT_SECS",
                &get("SERVER_REQUEST_TIMEOUT_SECS"),
            )?),
            node: NodeSettings {
                id: node_id(&get("NODE_ID"))?,
                lease: Duration::from_secs(lease_secs(&get("LEASE_SECS"))?),
            },
        })
    }

    /// The OAuth redirect URI registered with Google: `<ORIGIN_API>/oauth2/google/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth2/google/callback", self.origin_api)
    }
}

fn optional(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn switch(setting: &'static str, raw: &str) -> Result<bool, SettingsError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(SettingsError::new(
            setting,
            format!("{other:?} must be on or off"),
        )),
    }
}

fn non_empty(setting: &'static str, raw: &str) -> Result<String, SettingsError> {
    optional(raw).ok_or_else(|| SettingsError::new(setting, "must not be empty"))
}

fn parse_num<T: std::str::FromStr>(setting: &'static str, raw: &str) -> Result<T, SettingsError> {
    raw.trim()
        .parse()
        .map_err(|_| SettingsError::new(setting, format!("{:?} is not a valid number", raw.trim())))
}

fn positive(setting: &'static str, raw: &str) -> Result<u64, SettingsError> {
    match parse_num::<u64>(setting, raw)? {
        0 => Err(SettingsError::new(setting, "must be greater than 0")),
        n => Ok(n),
    }
}

/// `DATABASE_URL` (empty: sled) with its pool size; PostgreSQL needs `CREDENTIALS_KEY`, since
/// there is no data directory to keep a key file in and every node must use the same key.
fn database(
    url: &str,
    max_connections: &str,
    keys: &CredentialKeys,
) -> Result<Option<Database>, SettingsError> {
    let Some(url) = optional(url) else {
        return Ok(None);
    };
    let max = positive("DATABASE_MAX_CONNECTIONS", max_connections)? as usize;
    let db = Database::parse(&url, max).map_err(|p| SettingsError::new("DATABASE_URL", p))?;
    if keys.current.is_none() {
        return Err(SettingsError::new(
            "CREDENTIALS_KEY",
            "is required with DATABASE_URL: every node seals Google credentials under the same \
             key (make one with `openssl rand -base64 32`)",
        ));
    }
    Ok(Some(db))
}

/// `NODE_ID`, or the host name and process id: unique among nodes that run one per host or
/// per container.
fn node_id(raw: &str) -> Result<String, SettingsError> {
    let id = match optional(raw) {
        Some(id) => id,
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "node".into());
            format!("{host}-{}", std::process::id())
        }
    };
    let fits = id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if fits {
        Ok(id)
    } else {
        Err(SettingsError::new(
            "NODE_ID",
            "must be at most 100 letters, digits, '-', '_', '.' or ':'",
        ))
    }
}

/// `LEASE_SECS`: at least 3 s, so a node renews (every third of it) well before it ends.
fn lease_secs(raw: &str) -> Result<u64, SettingsError> {
    match positive("LEASE_SECS", raw)? {
        n if n < 3 => Err(SettingsError::new("LEASE_SECS", "must be at least 3")),
        n => Ok(n),
    }
}

fn credential_key(
    setting: &'static str,
    raw: &str,
) -> Result<Option<CredentialKey>, SettingsError> {
    optional(raw)
        .map(|v| CredentialKey::from_base64(&v))
        .transpose()
        .map_err(|p| SettingsError::new(setting, p))
}

fn admin_token(raw: &str) -> Result<Option<Secret<String>>, SettingsError> {
    match optional(raw) {
        None => Ok(None),
        Some(t) if t.len() < 16 => Err(SettingsError::new(
            "ADMIN_TOKEN",
            "must be at least 16 characters long",
        )),
        Some(t) => Ok(Some(Secret::new(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = load(&[]).unwrap();
        assert_eq!(s.port, 8000);
        assert_eq!(s.data_dir, PathBuf::from("./data-store"));
        assert!(s.google.is_none());
        assert_eq!(
            s.calendar_api_base,
            "https://www.googleapis.com/calendar/v3"
        );
        assert_eq!(s.poll_interval, Duration::from_secs(300));
        assert!(s.admin_token.is_none());
        assert_eq!(s.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(s.store.cache_bytes, crate::store::DEFAULT_CACHE_BYTES);
        assert_eq!(
            s.redirect_uri(),
            "http://localhost:8000/oauth2/google/callback"
        );
        // Without an external UI, the OAuth round trip ends on the built-in console.
        assert_eq!(s.origin.to_string(), "http://localhost:8000");
        assert!(s.console);
        let s = load(&[
            ("ORIGIN_API", "https://gcal.example.com"),
            ("CONSOLE", "off"),
        ])
        .unwrap();
        assert_eq!(s.origin.to_string(), "https://gcal.example.com");
        assert!(!s.console);
    }

    #[test]
    fn default_toml_lists_exactly_the_known_settings() {
        let table: toml::Table = DEFAULT_TOML.parse().unwrap();
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
        for (key, var) in SETTINGS {
            assert!(
                DEFAULT_TOML.contains(&format!("# environment variable: {var}\n{key} =")),
                "{key} undocumented"
            );
        }
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = load(&[
            ("PORT", "0"),
            ("DATA_DIR", "/tmp/x"),
            ("GCAL_POLL_INTERVAL_SECS", "5"),
            ("ADMIN_TOKEN", "0123456789abcdef"),
            ("ORIGIN", "https://ui.example.com/"),
        ])
        .unwrap();
        assert_eq!(s.port, 0);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(
            s.admin_token.as_ref().map(|t| t.expose().as_str()),
            Some("0123456789abcdef")
        );
        assert_eq!(s.origin.to_string(), "https://ui.example.com");
    }

    #[test]
    fn malformed_settings_name_the_setting() {
        let cases: &[(&str, &str)] = &[
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("GCAL_POLL_INTERVAL_SECS", "0"),
            ("GCAL_POLL_INTERVAL_SECS", "-5"),
            ("DATA_DIR", " "),
            ("ORIGIN", "localhost:3000"),
            ("ORIGIN_API", "ftp://x"),
            ("ADMIN_TOKEN", "short"),
            ("MAX_BODY_BYTES", "lots"),
            ("STORE_CACHE_BYTES", "0"),
            ("GOOGLE_OAUTH2_CREDS", "{not json"),
            ("GOOGLE_CALENDAR_API_BASE", "http://example.com/calendar/v3"),
            ("BIND_ADDRESS", "everywhere"),
            ("CREDENTIALS_KEY", "c2hvcnQ="),
            ("CREDENTIALS_KEY", "not base64 at all!"),
            ("CREDENTIALS_KEY_PREVIOUS", "AAAA"),
            ("SERVER_REQUEST_TIMEOUT_SECS", "0"),
            ("GCAL_PUSH_URL", "http://gcal.example.com"),
            ("GCAL_PUSH_URL", "gcal.example.com"),
            ("GCAL_PUSH_URL", "ftp://gcal.example.com"),
            ("CONSOLE", "maybe"),
        ];
        for (var, value) in cases {
            let err = load(&[(var, value)])
                .err()
                .unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert_eq!(err.setting, *var, "{var}={value}: {err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn push_needs_https_except_on_loopback() {
        assert_eq!(load(&[]).unwrap().push, None);
        let s = load(&[("GCAL_PUSH_URL", "https://gcal.example.com/")]).unwrap();
        assert_eq!(
            s.push,
            Some(PushSettings {
                address: "https://gcal.example.com/oauth2/google/notifications".into(),
                backstop: Duration::from_secs(3600),
            })
        );
        let s = load(&[
            ("GCAL_PUSH_URL", "http://127.0.0.1:8000"),
            ("GCAL_PUSH_BACKSTOP_SECS", "60"),
        ])
        .unwrap();
        let push = s.push.unwrap();
        assert_eq!(
            push.address,
            "http://127.0.0.1:8000/oauth2/google/notifications"
        );
        assert_eq!(push.backstop, Duration::from_secs(60));
        let err = load(&[
            ("GCAL_PUSH_URL", "https://gcal.example.com"),
            ("GCAL_PUSH_BACKSTOP_SECS", "0"),
        ])
        .unwrap_err();
        assert_eq!(err.setting, "GCAL_PUSH_BACKSTOP_SECS");
    }

    #[test]
    fn a_database_url_needs_a_key_and_never_prints_its_password() {
        const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
        assert!(load(&[]).unwrap().store.database.is_none());
        let url = "postgres://ann:pw-hunter2@db.example:6543/impulses";
        let s = load(&[("DATABASE_URL", url), ("CREDENTIALS_KEY", KEY)]).unwrap();
        let db = s.store.database.clone().unwrap();
        assert_eq!(db.max_connections, 8);
        assert_eq!(db.describe(), "db.example:6543/impulses");
        assert!(!format!("{s:?}").contains("pw-hunter2"));
        let socket = load(&[
            (
                "DATABASE_URL",
                "postgresql://ann@%2Frun%2Fpostgresql/impulses",
            ),
            ("DATABASE_MAX_CONNECTIONS", "3"),
            ("CREDENTIALS_KEY", KEY),
        ])
        .unwrap();
        let db = socket.store.database.unwrap();
        assert_eq!(
            (db.describe().as_str(), db.max_connections),
            ("/run/postgresql:5432/impulses", 3)
        );
        let kv = load(&[
            ("DATABASE_URL", "host=/run/postgresql dbname=x"),
            ("CREDENTIALS_KEY", KEY),
        ]);
        assert!(kv.unwrap().store.database.is_some());
        let missing_key = load(&[("DATABASE_URL", url)]).unwrap_err();
        assert_eq!(missing_key.setting, "CREDENTIALS_KEY");
        for bad in [
            "mysql://ann:pw-hunter2@db/x",
            "postgres://ann:pw-hunter2@db:notaport/x",
        ] {
            let err = load(&[("DATABASE_URL", bad), ("CREDENTIALS_KEY", KEY)]).unwrap_err();
            assert_eq!(err.setting, "DATABASE_URL", "{bad}");
            let said = err.to_string();
            assert!(!said.contains("hunter2") && !said.contains('\n'), "{said}");
        }
        let err = load(&[
            ("DATABASE_URL", url),
            ("CREDENTIALS_KEY", KEY),
            ("DATABASE_MAX_CONNECTIONS", "0"),
        ])
        .unwrap_err();
        assert_eq!(err.setting, "DATABASE_MAX_CONNECTIONS");
    }

    #[test]
    fn admin_token_never_prints() {
        let s = load(&[("ADMIN_TOKEN", "supersecretadmintoken")]).unwrap();
        assert!(!format!("{s:?}").contains("supersecretadmintoken"));
    }

    #[test]
    fn credentials_keys_parse_and_never_print() {
        let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
        let s = load(&[("CREDENTIALS_KEY", key), ("CREDENTIALS_KEY_PREVIOUS", key)]).unwrap();
        assert!(s.store.keys.current.is_some() && s.store.keys.previous.is_some());
        let printed = format!("{s:?}");
        assert!(
            !printed.contains(key) && !printed.contains("q83v"),
            "{printed}"
        );
        let err = load(&[("CREDENTIALS_KEY", "c2VjcmV0LXZhbHVl")]).unwrap_err();
        assert!(!err.to_string().contains("c2VjcmV0LXZhbHVl"), "{err}");
        assert!(load(&[]).unwrap().store.keys.current.is_none());
    }
}
