//! The Google routes under `/oauth2/google`: start the OAuth flow, finish it, show and remove
//! connections. The flow is the one the Impulses UI drives; the callback always ends in a
//! redirect to `ORIGIN`, never in a page of ours.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::DataCaller;
use super::{ApiError, AppState};
use crate::actors::metric_writer::ForgetCalendar;
use crate::actors::supervisor::{Connected, Disconnected};
use crate::google::http::GoogleHttp;
use crate::google::oauth::{self, Identity};
use crate::settings::GoogleClientConfig;
use crate::store::{GoogleCredentials, PendingAuthorization};
use crate::system::SyncHandle;
use crate::token::{now_secs, DataToken, TokenId};

/// Registers the `/oauth2/google` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/oauth2/google")
            .route("/auth", web::get().to(auth))
            .route("/callback", web::get().to(callback))
            .route("/configs", web::get().to(configs))
            .route("/configs/{token_id}", web::delete().to(disconnect))
            .default_service(web::to(unknown)),
    );
}

/// The Google side of the state, or 503 when the integration is not configured.
fn google(state: &AppState) -> Result<(&GoogleClientConfig, &SyncHandle), ApiError> {
    match (&state.settings.google, &state.sync) {
        (Some(g), Some(s)) => Ok((g, s)),
        _ => Err(ApiError::Unavailable(
            "the Google integration is not configured on this server: set GOOGLE_OAUTH2_CREDS"
                .into(),
        )),
    }
}

async fn unknown(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    google(&state)?;
    Err(ApiError::NotFound("no such Google route".into()))
}

/// The Google routes check the configuration before the caller, so an unconfigured server answers
/// 503 to everyone.
type Caller = Result<DataCaller, ApiError>;

async fn auth(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let (cfg, _) = google(&state)?;
    let caller = caller?;
    caller.require_read()?;
    let start = oauth::start_authorization(cfg, &state.settings.redirect_uri())
        .map_err(ApiError::internal)?;
    let now = now_secs();
    let pending = PendingAuthorization {
        token_id: caller.0.id.clone(),
        verifier: start.verifier,
        created_at: now,
    };
    state
        .store
        .put_pending_authorization(start.state.expose(), &pending, now)?;
    log::info!("token {}: Google authorization started", caller.0.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "url": start.url })))
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    scope: Option<String>,
    error: Option<String>,
}

/// Where the callback sends the browser: `<ORIGIN>/tokens?…`.
fn redirect(state: &AppState, params: &[(&str, &str)]) -> HttpResponse {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("{}/tokens?{query}", state.settings.origin),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let (cfg, sync) = google(&state)?;
    let q = query.into_inner();
    let invalid = || ApiError::BadRequest("unknown, expired or already used OAuth state".into());
    let raw_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or_else(invalid)?;
    let pending = state
        .store
        .take_pending_authorization(raw_state, now_secs())?
        .ok_or_else(invalid)?;
    let token_id = pending.token_id.clone();
    match finish_connection(&state, cfg, sync, pending, q).await {
        Ok(token) => {
            log::info!("token {}: Google calendar connected", token.id);
            Ok(redirect(
                &state,
                &[
                    ("google_oauth2", "authorized"),
                    ("token_id", token.id.as_str()),
                    ("token_name", &token.name),
                ],
            ))
        }
        Err(reason) => {
            log::warn!("token {token_id}: Google connection failed: {reason}");
            Ok(redirect(
                &state,
                &[("google_oauth2", "error"), ("detail", &reason)],
            ))
        }
    }
}

/// Everything after the state was accepted. Errors are short reasons for the UI, never secrets.
async fn finish_connection(
    state: &AppState,
    cfg: &GoogleClientConfig,
    sync: &SyncHandle,
    pending: PendingAuthorization,
    q: CallbackQuery,
) -> Result<DataToken, String> {
    if let Some(error) = q.error {
        return Err(match error.as_str() {
            "access_denied" => "access was denied on Google's consent screen".to_string(),
            _ => "Google did not grant access".to_string(),
        });
    }
    let code = q
        .code
        .filter(|c| !c.is_empty())
        .ok_or("Google sent no authorization code")?;
    let token = live_token(state, &pending.token_id)?;
    let http = GoogleHttp::new(
        &state.settings.google_http,
        sync.in_flight.clone(),
        sync.telemetry.clone(),
    );
    let redirect_uri = state.settings.redirect_uri();
    let now = now_secs();
    let grant = oauth::exchange_code(&http, cfg, &redirect_uri, &code, &pending.verifier, now)
        .await
        .map_err(|e| format!("Google refused the authorization: {}", e.summary()))?;
    let refresh_token = grant.refresh_token.ok_or(
        "Google returned no refresh token: remove this app's access in your Google account settings and connect again",
    )?;
    let granted = if grant.scopes.is_empty() {
        q.scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    } else {
        grant.scopes
    };
    let missing = oauth::missing_scopes(&granted);
    if !missing.is_empty() {
        return Err(format!(
            "the permission(s) {} were not granted",
            missing.join(", ")
        ));
    }
    let identity = match &grant.id_token {
        Some(id) => oauth::identity_from_id_token(id.expose(), &cfg.client_id),
        None => oauth::userinfo(&http, cfg, &grant.access_token).await,
    }
    .map_err(|e| {
        format!(
            "could not tell which Google account was connected: {}",
            e.summary()
        )
    })?;
    // The token may have been deleted while the person was on Google's consent screen.
    let token = live_token(state, &token.id)?;
    let creds = GoogleCredentials {
        connection_id: TokenId::generate().to_string(),
        access_token: grant.access_token,
        access_expires_at: grant.expires_at,
        refresh_token,
        scopes: granted,
        account_email: identity.email.clone(),
        account_sub: identity.sub.clone(),
        connected_at: now,
        updated_at: now,
        needs_reauth: None,
    };
    store_connection(state, sync, &token, creds, &identity).await?;
    Ok(token)
}

fn live_token(state: &AppState, id: &TokenId) -> Result<DataToken, String> {
    match state.store.get_token(id) {
        Ok(Some(t)) if !t.is_expired(now_secs()) => Ok(t),
        Ok(_) => Err("the data token was deleted or has expired".into()),
        Err(e) => {
            log::error!("token {id}: store error: {e}");
            Err("internal error".into())
        }
    }
}

/// Saves the new credentials, forgets the old account's calendar if the account changed, and
/// tells the supervisor. The new `connection_id` makes any sync still running for the old
/// connection unable to commit.
async fn store_connection(
    state: &AppState,
    sync: &SyncHandle,
    token: &DataToken,
    creds: GoogleCredentials,
    identity: &Identity,
) -> Result<(), String> {
    let internal = |e: &dyn std::fmt::Display| {
        log::error!("token {}: storing the connection failed: {e}", token.id);
        "internal error".to_string()
    };
    let previous = state
        .store
        .credentials(&token.id)
        .map_err(|e| internal(&e))?;
    state
        .store
        .put_credentials(&token.id, &creds)
        .map_err(|e| internal(&e))?;
    if previous.is_some_and(|p| p.account_sub != identity.sub) {
        log::info!(
            "token {}: another Google account connected; the old account's datapoints are removed",
            token.id
        );
        let forget = ForgetCalendar {
            token_id: token.id.clone(),
            purge: true,
            credentials: false,
        };
        sync.writer
            .send(forget)
            .await
            .map_err(|e| internal(&e))?
            .map_err(|e| internal(&e))?;
    }
    sync.supervisor
        .send(Connected(token.id.clone()))
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))
}

/// One entry of `/configs`.
#[derive(Serialize)]
struct ConfigEntry {
    provider: &'static str,
    product: &'static str,
    token_id: TokenId,
    token_name: String,
    connected: bool,
    account_email: String,
    status: &'static str,
    updated_at: i64,
    token_expiry: i64,
    sync: SyncSummary,
}

#[derive(Serialize)]
struct SyncSummary {
    calendar_id: String,
    last_sync_at: Option<i64>,
    has_sync_token: bool,
    last_error: Option<String>,
    events: u64,
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

async fn configs(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let (_, sync) = google(&state)?;
    let caller = caller?;
    caller.require_read()?;
    let mut out = Vec::new();
    for token in state.store.list_tokens(Some(&caller.0.user))? {
        let Some(creds) = state.store.credentials(&token.id)? else {
            continue;
        };
        let sync_state = state.store.sync_state(&token.id)?;
        let actor = sync.board.get(&token.id);
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
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize)]
struct DisconnectQuery {
    #[serde(default)]
    purge: bool,
}

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
    if let Some(creds) = creds {
        let http = GoogleHttp::new(
            &state.settings.google_http,
            sync.in_flight.clone(),
            sync.telemetry.clone(),
        );
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
            scopes: vec![],
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
