//! The OAuth flow: `GET /oauth2/google/auth` starts it, `GET /oauth2/google/callback` finishes it.
//! The callback always ends in a redirect to `ORIGIN`, never in a page of ours.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::google::{google, Caller};
use super::openapi::{DataTokenHeader, DataTokenRefused, Detail, GoogleOff};
use super::SyncHandle;
use super::{ApiError, AppState};
use crate::actors::metric_writer::ForgetCalendar;
use crate::actors::supervisor::{ActorOf, Connected};
use crate::actors::token_push::StopChannels;
use crate::google::oauth::{self, Identity};
use crate::google::scopes::Scopes;
use crate::settings::GoogleClientConfig;
use crate::store::{GoogleCredentials, PendingAuthorization};
use crate::token::{now_secs, DataToken, TokenId};

/// Where to send the person: Google's consent page.
#[derive(Serialize, ToSchema)]
struct AuthorizationStart {
    /// Google's consent page, with this flow's state and PKCE challenge.
    #[schema(
        example = "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=..."
    )]
    url: String,
}

/// Starts connecting the caller's data token to a Google Calendar (OAuth2 with PKCE). The pending
/// flow is on disk before the answer, and lives ten minutes.
#[utoipa::path(
    tag = "google",
    operation_id = "start_authorization",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "Send the person's browser to `url`.", body = AuthorizationStart),
        DataTokenRefused,
        GoogleOff,
    )
)]
#[get("/oauth2/google/auth")]
pub(super) async fn auth(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
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
    // On disk before the person leaves for Google: a crash meanwhile must not turn their return
    // into "unknown OAuth state".
    super::persist(&state.store).await?;
    log::info!("token {}: Google authorization started", caller.0.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuthorizationStart { url: start.url }))
}

/// What Google's redirect carries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CallbackQuery {
    /// The flow's state, as `/oauth2/google/auth` made it: usable once, for ten minutes.
    #[param(required = true, min_length = 1, max_length = 512)]
    state: Option<String>,
    /// The authorization code.
    code: Option<String>,
    /// The scopes granted, space-separated.
    scope: Option<String>,
    /// Why Google did not grant access (`access_denied`, ...).
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

/// Where Google sends the person back. Finishes the flow and redirects the browser to
/// `<ORIGIN>/tokens?google_oauth2=authorized&token_id=…&token_name=…`, or to
/// `<ORIGIN>/tokens?google_oauth2=error&detail=…` with the reason in words.
#[utoipa::path(
    tag = "google",
    operation_id = "oauth_callback",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Back to the UI, with the outcome in the query string.",
            headers(("Location" = String, description = "`<ORIGIN>/tokens?google_oauth2=…`"))),
        (status = 400, description = "An unknown, expired or already used state.", body = Detail),
        GoogleOff,
    )
)]
#[get("/oauth2/google/callback")]
pub(super) async fn callback(
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
    let http = sync.google_http(&state.settings);
    let redirect_uri = state.settings.redirect_uri();
    let now = now_secs();
    let grant = oauth::exchange_code(&http, cfg, &redirect_uri, &code, &pending.verifier, now)
        .await
        .map_err(|e| format!("Google refused the authorization: {}", e.summary()))?;
    let refresh_token = grant.refresh_token.ok_or(
        "Google returned no refresh token: remove this app's access in your Google account settings and connect again",
    )?;
    let granted = if grant.scopes.is_empty() {
        Scopes::from_names(q.scope.unwrap_or_default().split_whitespace())
    } else {
        grant.scopes
    };
    let missing = granted.missing();
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
    // On disk before the person sees "authorized": a crash right after must not lose the grant.
    super::persist(&state.store)
        .await
        .map_err(|e| internal(&e))?;
    if previous.is_some_and(|p| p.account_sub != identity.sub) {
        log::info!(
            "token {}: another Google account connected; the old account's datapoints are removed",
            token.id
        );
        // The old account's channels stop with the old account's credentials, which the
        // running actor still holds.
        if let Ok(Some(actor)) = sync.supervisor.send(ActorOf(token.id.clone())).await {
            let _ = actix_web::rt::time::timeout(
                std::time::Duration::from_secs(10),
                actor.send(StopChannels),
            )
            .await;
        }
        state
            .store
            .remove_channels(&token.id)
            .map_err(|e| internal(&e))?;
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
