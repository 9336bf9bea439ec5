//! The Google routes under `/oauth2/google`: the OAuth flow (in `http/oauth.rs`), and showing
//! and removing connections. The flow is the one the Impulses UI drives.

use std::time::Duration;

use actix_web::{delete, get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::DataCaller;
use super::openapi::{DataTokenHeader, DataTokenRefused, Detail, GoogleOff, Routes};
use super::SyncHandle;
use super::{ApiError, AppState};
use crate::actors::metric_writer::ForgetCalendar;
use crate::actors::status::{CalendarStatus, PushStatus};
use crate::actors::supervisor::{ActorOf, Disconnected};
use crate::actors::token_push::StopChannels;
use crate::google::oauth;
use crate::settings::GoogleClientConfig;
use crate::store::GoogleCredentials;
use crate::token::TokenId;

/// Registers the `/oauth2/google` routes.
pub fn routes(r: &mut Routes) {
    r.add(super::oauth::auth)
        .add(super::oauth::callback)
        .add(configs)
        .add(disconnect)
        .add(super::calendars::list)
        .add(super::calendars::select)
        .add(super::connection::sync_now)
        .add(super::connection::skipped)
        .add(super::notifications::receive);
}

/// The Google side of the state, or 503 when the integration is not configured.
pub(super) fn google(state: &AppState) -> Result<(&GoogleClientConfig, &SyncHandle), ApiError> {
    match (&state.settings.google, &state.sync) {
        (Some(g), Some(s)) => Ok((g, s)),
        _ => Err(ApiError::Unavailable(
            "the Google integration is not configured on this server: set GOOGLE_OAUTH2_CREDS"
                .into(),
        )),
    }
}

/// The Google routes check the configuration before the caller, so an unconfigured server answers
/// 503 to everyone.
pub(super) type Caller = Result<DataCaller, ApiError>;

/// 409 for a route about the caller's own connection when its token has none.
pub(super) fn not_connected() -> ApiError {
    ApiError::Conflict("this data token has no Google Calendar connection".into())
}

/// The caller of a route about its own connection: a data token that may read and has a Google
/// connection (409 otherwise), with the sync system.
pub(super) fn connected_caller(
    state: &AppState,
    caller: Caller,
) -> Result<(&SyncHandle, TokenId), ApiError> {
    let (_, sync) = google(state)?;
    let caller = caller?;
    caller.require_read()?;
    if state.store.credentials(&caller.0.id)?.is_none() {
        return Err(not_connected());
    }
    Ok((sync, caller.0.id))
}

/// One Google connection of the caller's user, as the Impulses UI lists it.
#[derive(Serialize, ToSchema)]
struct ConfigEntry {
    /// Always `google`.
    provider: &'static str,
    /// Always `calendar`.
    product: &'static str,
    /// The data token the connection belongs to.
    token_id: TokenId,
    /// That token's name.
    token_name: String,
    /// Always `true`: tokens without a connection are not listed.
    connected: bool,
    /// The Google account's e-mail.
    account_email: String,
    /// `ok`, `syncing`, `retrying`, `error`, `needs_reauth`, `expired` or `pending`.
    #[schema(example = "ok")]
    status: &'static str,
    /// Unix seconds of the last change to the stored credentials.
    updated_at: i64,
    /// Unix seconds when the current Google access token expires.
    token_expiry: i64,
    /// Unix seconds of the next planned sync, if one is planned.
    next_sync_at: Option<i64>,
    /// While Google is rate-limiting or failing (`retrying`): unix seconds of the next try.
    retry_at: Option<i64>,
    /// The primary calendar's sync (or, when it is not selected, the first selected one's), as
    /// before a connection could sync several calendars.
    sync: SyncSummary,
    /// Every selected calendar's sync.
    calendars: Vec<CalendarStatus>,
}

/// One calendar's sync, in the shape of the time before several calendars.
#[derive(Serialize, ToSchema)]
struct SyncSummary {
    /// `primary` or the Google calendar id.
    calendar_id: String,
    /// Unix seconds of the last successful sync.
    last_sync_at: Option<i64>,
    /// Whether an incremental sync can follow.
    has_sync_token: bool,
    /// Why the last sync failed, if it did.
    last_error: Option<String>,
    /// Events holding datapoints.
    events: u64,
    /// Datapoints held.
    datapoints: u64,
}

/// The status word for people: `ok`, `syncing`, `retrying`, `error`, `needs_reauth`, `expired`,
/// or `pending` (connected, first sync not done).
fn status_word(actor_state: Option<&str>, creds: &GoogleCredentials) -> &'static str {
    if creds.needs_reauth.is_some() {
        return "needs_reauth";
    }
    match actor_state {
        Some("idle") => "ok",
        Some("syncing") => "syncing",
        Some("backoff") => "retrying",
        Some("error") => "error",
        Some("needs_reauth") => "needs_reauth",
        Some("expired") => "expired",
        _ => "pending",
    }
}

/// The Google connections of the caller's user (one per data token that has one).
#[utoipa::path(
    tag = "google",
    operation_id = "list_connections",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "The connections.", body = Vec<ConfigEntry>),
        DataTokenRefused,
        GoogleOff,
    )
)]
#[get("/oauth2/google/configs")]
async fn configs(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let (_, sync) = google(&state)?;
    let caller = caller?;
    caller.require_read()?;
    let mut out = Vec::new();
    for token in state.store.list_tokens(Some(&caller.0.user))? {
        let Some(creds) = state.store.credentials(&token.id)? else {
            continue;
        };
        let selection = state.store.selection(&token.id)?;
        let sync_state = selection.main().cloned().unwrap_or_default();
        let actor = sync.board.get(&token.id);
        let calendars = match &actor {
            Some(a) => a.calendars.clone(),
            None => selection
                .calendars
                .iter()
                .map(|c| {
                    let push = match state.settings.push {
                        Some(_) => PushStatus::new(None, None, None),
                        None => PushStatus::off(),
                    };
                    CalendarStatus::new(c, None, push)
                })
                .collect(),
        };
        out.push(ConfigEntry {
            provider: "google",
            product: "calendar",
            status: status_word(actor.as_ref().map(|a| a.state), &creds),
            token_id: token.id,
            token_name: token.name,
            connected: true,
            account_email: creds.account_email.clone(),
            updated_at: creds.updated_at,
            token_expiry: creds.access_expires_at,
            next_sync_at: actor.as_ref().and_then(|a| a.next_sync).map(|ms| ms / 1000),
            retry_at: actor
                .as_ref()
                .and_then(|a| a.backoff_until)
                .map(|ms| ms / 1000),
            sync: SyncSummary {
                calendar_id: if sync_state.calendar_id.is_empty() {
                    "primary".into()
                } else {
                    sync_state.calendar_id
                },
                last_sync_at: actor
                    .as_ref()
                    .and_then(|a| a.last_success.map(|ms| ms / 1000))
                    .or(sync_state.last_success_at),
                has_sync_token: sync_state.sync_token.is_some(),
                last_error: actor
                    .and_then(|a| a.last_error)
                    .or(creds.needs_reauth.clone()),
                events: sync_state.events,
                datapoints: sync_state.datapoints,
            },
            calendars,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DisconnectQuery {
    /// Also delete the calendar's datapoints (kept by default).
    #[serde(default)]
    purge: bool,
}

/// Disconnects a data token of the caller's user from Google: its sync stops, its push channels
/// are stopped, its credentials are forgotten and the grant is revoked at Google. The calendar's
/// datapoints stay unless `purge=true`.
#[utoipa::path(
    tag = "google",
    operation_id = "disconnect",
    params(
        ("token_id" = String, Path, description = "The connected data token's id."),
        DisconnectQuery,
        DataTokenHeader,
    ),
    security(("data_token" = [])),
    responses(
        (status = 204, description = "Disconnected, on disk."),
        (status = 400, description = "`purge` is not `true` or `false`.", body = Detail),
        DataTokenRefused,
        (status = 404, description = "No Google connection of the caller's user for this token.", body = Detail),
        GoogleOff,
    )
)]
#[delete("/oauth2/google/configs/{token_id}")]
async fn disconnect(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<DisconnectQuery>,
) -> Result<HttpResponse, ApiError> {
    let (cfg, sync) = google(&state)?;
    let caller = caller?;
    caller.require_read()?;
    let not_found = || ApiError::NotFound("no Google connection for this token".into());
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    let token = state
        .store
        .get_token(&id)?
        .filter(|t| t.user == caller.0.user)
        .ok_or_else(not_found)?;
    let creds = state.store.credentials(&token.id)?.ok_or_else(not_found)?;
    disconnect_token(&state, cfg, sync, &token.id, Some(creds), query.purge).await?;
    super::persist(&state.store).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops the token's actor, forgets its calendar and credentials (and datapoints with `purge`),
/// and revokes the grant at Google, best effort. Shared by disconnect and token deletion.
pub async fn disconnect_token(
    state: &AppState,
    cfg: &GoogleClientConfig,
    sync: &SyncHandle,
    id: &TokenId,
    creds: Option<GoogleCredentials>,
    purge: bool,
) -> Result<(), ApiError> {
    // Channels stop while the credentials still work, before the grant is revoked.
    if let Ok(Some(actor)) = sync.supervisor.send(ActorOf(id.clone())).await {
        let stopped =
            actix_web::rt::time::timeout(Duration::from_secs(10), actor.send(StopChannels)).await;
        if stopped.is_err() {
            log::warn!(
                "token {id}: stopping its push channels took too long; they expire by themselves"
            );
        }
    }
    let _ = sync.supervisor.send(Disconnected(id.clone())).await;
    let forget = ForgetCalendar {
        token_id: id.clone(),
        purge,
        credentials: true,
    };
    sync.writer
        .send(forget)
        .await
        .map_err(ApiError::internal)??;
    state.store.remove_channels(id)?;
    if let Some(creds) = creds {
        let http = sync.google_http(&state.settings);
        match oauth::revoke(&http, cfg, &creds.refresh_token).await {
            Ok(()) => log::info!("token {id}: Google grant revoked"),
            Err(e) => log::warn!(
                "token {id}: revoking the Google grant failed (ignored): {}",
                e.summary()
            ),
        }
    }
    log::info!(
        "token {id}: Google calendar disconnected{}",
        if purge { ", datapoints purged" } else { "" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn status_words_tell_people_what_to_do() {
        let mut creds = GoogleCredentials {
            connection_id: "c".into(),
            access_token: Secret::new("a".into()),
            access_expires_at: 0,
            refresh_token: Secret::new("r".into()),
            scopes: Default::default(),
            account_email: "e".into(),
            account_sub: "s".into(),
            connected_at: 0,
            updated_at: 0,
            needs_reauth: None,
        };
        assert_eq!(status_word(Some("idle"), &creds), "ok");
        assert_eq!(status_word(Some("backoff"), &creds), "retrying");
        assert_eq!(status_word(None, &creds), "pending");
        creds.needs_reauth = Some("revoked".into());
        assert_eq!(status_word(Some("idle"), &creds), "needs_reauth");
    }
}
