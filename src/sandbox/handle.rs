//! The sandbox handle: starting the HTTP server inside the current actix system, the endpoint
//! addresses a client needs, and the Rust control API tests drive the sandbox with.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::{ServerHandle, Service};
use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::config::SandboxConfig;
use super::counters::Counters;
use super::directory::{CalendarRecord, ListEntry, Role};
use super::fault::{Dropped, Fault};
use super::model::{AccountId, CalendarId};
use super::state::{Account, Consent, Shared, State};
use super::{
    admin, calendar, calendar_list, channel, consent, delivery, error, oauth, token,
    token_endpoint, watch, SandboxError,
};

/// A running sandbox. Cheap to clone; every clone drives the same state.
#[derive(Clone)]
pub struct Sandbox {
    pub(super) shared: web::Data<Shared>,
    addr: SocketAddr,
    /// Set once the server runs; `stop` uses it.
    server: Arc<OnceLock<ServerHandle>>,
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/o/oauth2/auth", web::get().to(consent::authorize))
        .route("/o/oauth2/v2/auth", web::get().to(consent::authorize))
        .route("/token", web::post().to(token_endpoint::token))
        .route("/revoke", web::post().to(oauth::revoke))
        .route("/oauth2/v3/userinfo", web::get().to(oauth::userinfo))
        .route("/v1/userinfo", web::get().to(oauth::userinfo))
        .route(
            "/calendar/v3/calendars/{calendarId}/events",
            web::get().to(calendar::list),
        )
        .route(
            "/calendar/v3/calendars/{calendarId}/events/watch",
            web::post().to(watch::watch),
        )
        .route("/calendar/v3/channels/stop", web::post().to(watch::stop))
        .route(
            "/calendar/v3/users/me/calendarList",
            web::get().to(calendar_list::list),
        )
        .service(web::scope("/_sandbox").configure(admin::configure))
        .default_service(web::to(|| async {
            error::calendar(404, "notFound", "Not Found")
        }));
}

impl Sandbox {
    /// Binds `127.0.0.1:<config.port>` and serves in the current actix system (an
    /// `#[actix_web::test]`, or the server's own runtime); returns once the port is bound.
    pub fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        let addr = listener.local_addr()?;
        let workers = config.workers.max(1);
        let (notices, queue) = tokio::sync::mpsc::unbounded_channel();
        let shared = web::Data::new(Shared::new(config, format!("http://{addr}"), notices));
        delivery::spawn(shared.clone().into_inner(), queue);
        let sandbox = Sandbox {
            shared,
            addr,
            server: Arc::new(OnceLock::new()),
        };
        let control = web::Data::new(sandbox.clone());
        let server = HttpServer::new(move || {
            let counting = control.shared.clone();
            App::new()
                .app_data(control.shared.clone())
                .app_data(control.clone())
                .wrap_fn(move |req, srv| {
                    let google = !req.path().starts_with("/_sandbox");
                    let shared = counting.clone();
                    let answer = srv.call(req);
                    async move {
                        let res = answer.await?;
                        if google && res.response().extensions().get::<Dropped>().is_none() {
                            *shared
                                .lock()
                                .counters
                                .by_status
                                .entry(res.status().as_u16())
                                .or_default() += 1;
                        }
                        Ok(res)
                    }
                })
                .configure(routes)
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let _ = sandbox.server.set(server.handle());
        actix_web::rt::spawn(server);
        log::info!("sandbox: Google on http://{addr}");
        Ok(sandbox)
    }

    /// Stops the server without waiting for open connections.
    pub async fn stop(&self) {
        if let Some(server) = self.server.get() {
            server.stop(false).await;
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The consent screen (Google's `auth_uri`).
    pub fn auth_uri(&self) -> String {
        format!("{}/o/oauth2/auth", self.shared.base_url)
    }

    /// The token endpoint (Google's `token_uri`).
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.shared.base_url)
    }

    /// The revocation endpoint.
    pub fn revoke_uri(&self) -> String {
        format!("{}/revoke", self.shared.base_url)
    }

    /// The userinfo endpoint.
    pub fn userinfo_uri(&self) -> String {
        format!("{}/oauth2/v3/userinfo", self.shared.base_url)
    }

    /// The Calendar API base (`…/calendar/v3`), like `https://www.googleapis.com/calendar/v3`.
    pub fn calendar_api_base(&self) -> String {
        format!("{}/calendar/v3", self.shared.base_url)
    }

    /// The client JSON Google's console downloads, pointing at this sandbox. It also names the
    /// revocation and userinfo endpoints (`revoke_uri`, `userinfo_uri`: keys of ours, which
    /// `GOOGLE_OAUTH2_CREDS` accepts), since Google's JSON leaves them out and the client would
    /// otherwise call Google's.
    pub fn client_secret_json(&self) -> serde_json::Value {
        let config = &self.shared.config;
        serde_json::json!({"web": {
            "client_id": config.client_id,
            "project_id": "impulses-gcal-sandbox",
            "auth_uri": self.auth_uri(),
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": format!("{}/oauth2/v1/certs", self.shared.base_url),
            "client_secret": config.client_secret,
            "redirect_uris": config.redirect_uris,
            "revoke_uri": self.revoke_uri(),
            "userinfo_uri": self.userinfo_uri(),
        }})
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Runs `f` on the state under the lock (the control API's one way in), then queues the
    /// push notifications its changes owe the channels watching the calendars it touched.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, SandboxError>,
    ) -> Result<T, SandboxError> {
        let mut state = self.shared.lock();
        let marks = channel::marks(&state);
        let result = f(&mut state);
        if !marks.is_empty() {
            let notices = channel::changes(&mut state, &marks);
            self.shared.notify(notices);
        }
        result
    }

    /// How far open-ended series expand at `now` (changes remember what they take away up to it).
    pub(crate) fn horizon(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.shared.horizon(now)
    }

    /// Adds a Google account with an empty primary calendar in `time_zone` (IANA); the first
    /// account is signed in.
    pub fn create_account(&self, email: &str, time_zone: &str) -> Result<AccountId, SandboxError> {
        let zone: Tz = time_zone
            .parse()
            .map_err(|_| SandboxError::Invalid(format!("unknown time zone {time_zone:?}")))?;
        self.with(|state| {
            if state
                .accounts
                .values()
                .any(|a| a.email.eq_ignore_ascii_case(email))
            {
                return Err(SandboxError::Invalid(format!("account {email} exists")));
            }
            let id = AccountId(token::subject());
            let now = state.now();
            // The primary calendar's id is the e-mail, and its summary too (GOOGLE_APIS.md).
            let primary = CalendarId(email.to_string());
            let record =
                CalendarRecord::new(primary.clone(), id.clone(), email.to_string(), zone, now);
            state.calendars.insert(primary.clone(), record);
            let account = Account {
                id: id.clone(),
                email: email.to_string(),
                zone,
                list: vec![ListEntry {
                    calendar: primary.clone(),
                    role: Role::Owner,
                    summary_override: None,
                    since: now,
                }],
                primary,
                sync_epoch: 0,
            };
            state.accounts.insert(id.clone(), account);
            state.signed_in.get_or_insert_with(|| id.clone());
            Ok(id)
        })
    }

    /// Makes `account` the one on the consent screen, answering as `consent` says.
    pub fn sign_in(&self, account: &AccountId, consent: Consent) -> Result<(), SandboxError> {
        self.with(|state| {
            state.account(account)?;
            state.signed_in = Some(account.clone());
            state.consent = consent;
            Ok(())
        })
    }

    /// Makes every sync token issued to the account answer 410 `fullSyncRequired`, whatever
    /// calendar it is for.
    pub fn invalidate_sync_tokens(&self, account: &AccountId) -> Result<(), SandboxError> {
        self.with(|state| {
            state.account_mut(account)?.sync_epoch += 1;
            Ok(())
        })
    }

    /// Expires every access token of the account now (the next call gets 401).
    pub fn expire_access_tokens(&self, account: &AccountId) -> Result<(), SandboxError> {
        self.with(|state| {
            state.account(account)?;
            let now = state.now();
            state.grants.expire_account(account, now);
            Ok(())
        })
    }

    /// Revokes all grants of the account, as when the person removes the app's access: refresh
    /// then answers `invalid_grant`.
    pub fn revoke_account(&self, account: &AccountId) -> Result<(), SandboxError> {
        self.with(|state| {
            state.account(account)?;
            state.grants.revoke_account(account);
            Ok(())
        })
    }

    /// Arms a fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Starts counting [`Counters::most_concurrent_lists_of_one_account`] afresh from the calls
    /// being answered now, so a test measures one phase of its run.
    pub fn reset_concurrent_lists(&self) {
        let mut state = self.shared.lock();
        let now = state.lists_in_flight.values().copied().max().unwrap_or(0);
        state.counters.most_concurrent_lists_of_one_account = now;
    }

    /// The protocol violations seen so far.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Returns and forgets the violations (for tests that provoke some on purpose).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Panics listing the violations, if any: the end of every integration test.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "sandbox saw protocol violations:\n{}",
            violations.join("\n")
        );
    }

    /// Moves the sandbox's clock forward (codes and tokens expire without sleeping).
    pub fn advance_clock(&self, by: Duration) {
        let by = super::config::span(by);
        let mut state = self.shared.lock();
        state.clock_offset += by;
    }

    /// The sandbox's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// The account's e-mail and zone, if it exists.
    pub fn account_info(&self, account: &AccountId) -> Option<(String, String)> {
        let state = self.shared.lock();
        state
            .accounts
            .get(account)
            .map(|a| (a.email.clone(), a.zone.name().to_string()))
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The admin API's answer for a refused control call.
pub(crate) fn refusal(err: &SandboxError) -> HttpResponse {
    let body = serde_json::json!({"detail": err.to_string()});
    match err {
        SandboxError::UnknownAccount(_)
        | SandboxError::UnknownEvent(_)
        | SandboxError::UnknownCalendar(_) => HttpResponse::NotFound().json(body),
        SandboxError::Invalid(_) => HttpResponse::BadRequest().json(body),
    }
}

#[cfg(test)]
mod tests {
    /// The server keeps the handle in its own state and hands it across threads.
    #[test]
    fn the_handle_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<super::Sandbox>();
    }
}
