//! `POST token_uri`: the `authorization_code` and `refresh_token` grants, with Google's checks and
//! error answers (GOOGLE_APIS.md, "OAuth 2.0").

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::config::{span, SandboxConfig};
use super::fault::Endpoint;
use super::oauth::{form, has_email};
use super::state::{Shared, State};
use super::{error, id_token};

/// A refused grant: HTTP status, OAuth `error`, `error_description`.
struct Refusal(u16, &'static str, &'static str);

fn invalid_grant(description: &'static str) -> Refusal {
    Refusal(400, "invalid_grant", description)
}

/// Client id and secret from HTTP Basic (each form-encoded, RFC 6749 §2.3.1) or from the body.
fn client_credentials(
    req: &HttpRequest,
    params: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return (decode(id), decode(secret));
    }
    (
        params.get("client_id").cloned(),
        params.get("client_secret").cloned(),
    )
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The successful answer: a new access token of `family`, plus the given refresh token.
fn issue(
    state: &mut State,
    config: &SandboxConfig,
    family: usize,
    refresh: Option<String>,
) -> serde_json::Value {
    let now = state.now();
    let lifetime = span(config.access_token_lifetime);
    let access = state.grants.mint_access(family, now + lifetime);
    let grant = &state.grants.families[family];
    let mut answer = serde_json::json!({
        "access_token": access,
        "expires_in": config.access_token_lifetime.as_secs(),
        "scope": grant.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = refresh.into();
    }
    let wants_id = grant.scopes.iter().any(|s| s == "openid") || has_email(&grant.scopes);
    if let (true, Ok(account)) = (wants_id, state.account(&grant.account)) {
        let claims = serde_json::json!({
            "iss": "https://accounts.google.com",
            "azp": config.client_id,
            "aud": config.client_id,
            "sub": account.id.as_str(),
            "email": account.email,
            "email_verified": true,
            "iat": now.timestamp(),
            "exp": (now + lifetime).timestamp(),
        });
        answer["id_token"] = id_token::sign(&config.client_secret, &claims).into();
    }
    answer
}

/// PKCE: the verifier must hash to the code's challenge. A failure says what went wrong (for
/// the violation log; our client always sends a matching verifier) and Google's description.
fn check_verifier(
    challenge: Option<&(String, String)>,
    verifier: Option<&String>,
) -> Result<(), (&'static str, &'static str)> {
    let Some((challenge, method)) = challenge else {
        return Ok(());
    };
    let verifier = verifier.ok_or(("code_verifier missing", "Missing code verifier."))?;
    let computed = if method == "S256" {
        s256(verifier)
    } else {
        verifier.clone()
    };
    if &computed != challenge {
        return Err((
            "code_verifier does not match the code_challenge",
            "Invalid code verifier.",
        ));
    }
    Ok(())
}

fn redeem_code(
    state: &mut State,
    config: &SandboxConfig,
    params: &HashMap<String, String>,
) -> Result<serde_json::Value, Refusal> {
    let code_text = params.get("code").ok_or(Refusal(
        400,
        "invalid_request",
        "Missing required parameter: code",
    ))?;
    let now = state.now();
    let Some(code) = state.grants.codes.get(code_text) else {
        return Err(invalid_grant("Malformed auth code."));
    };
    if let Some(family) = code.redeemed {
        // Google treats a replayed code as an attack and revokes what it issued.
        state.grants.families[family].revoked = true;
        state.violation("token: authorization code used twice".to_string());
        return Err(invalid_grant("Bad Request"));
    }
    let lifetime = span(config.code_lifetime);
    if now >= code.issued + lifetime {
        return Err(invalid_grant("Bad Request"));
    }
    if code.client_id != config.client_id {
        return Err(invalid_grant("Unauthorized"));
    }
    let redirect_uri = params
        .get("redirect_uri")
        .map(String::as_str)
        .unwrap_or_default();
    if redirect_uri != code.redirect_uri {
        let text = format!(
            "token: redirect_uri {redirect_uri:?} differs from the authorization request's"
        );
        state.violation(text);
        return Err(Refusal(400, "redirect_uri_mismatch", "Bad Request"));
    }
    if let Err((wrong, description)) =
        check_verifier(code.challenge.as_ref(), params.get("code_verifier"))
    {
        state.violation(format!("token: {wrong}"));
        return Err(invalid_grant(description));
    }
    let (account, client_id, scopes, with_refresh) = (
        code.account.clone(),
        code.client_id.clone(),
        code.scopes.clone(),
        code.with_refresh,
    );
    let family = state.grants.open_family(account, client_id, scopes);
    if let Some(code) = state.grants.codes.get_mut(code_text) {
        code.redeemed = Some(family);
    }
    let refresh = with_refresh.then(|| state.grants.mint_refresh(family));
    state.counters.auth_code_grants += 1;
    Ok(issue(state, config, family, refresh))
}

fn refresh(
    state: &mut State,
    config: &SandboxConfig,
    params: &HashMap<String, String>,
) -> Result<serde_json::Value, Refusal> {
    let token = params.get("refresh_token").ok_or(Refusal(
        400,
        "invalid_request",
        "Missing required parameter: refresh_token",
    ))?;
    let family = state
        .grants
        .refresh_family(token)
        .ok_or(invalid_grant("Token has been expired or revoked."))?;
    if state.grants.families[family].client_id != config.client_id {
        return Err(Refusal(401, "unauthorized_client", "Unauthorized"));
    }
    state.counters.refresh_grants += 1;
    Ok(issue(state, config, family, None))
}

fn grant(
    state: &mut State,
    config: &SandboxConfig,
    req: &HttpRequest,
    params: &HashMap<String, String>,
) -> Result<serde_json::Value, Refusal> {
    let (client_id, secret) = client_credentials(req, params);
    let client_id = client_id.ok_or(Refusal(
        400,
        "invalid_request",
        "Could not determine client ID from request.",
    ))?;
    if client_id != config.client_id {
        return Err(Refusal(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    }
    if secret.as_deref() != Some(config.client_secret.as_str()) {
        return Err(Refusal(401, "invalid_client", "Unauthorized"));
    }
    match params.get("grant_type").map(String::as_str) {
        None => Err(Refusal(
            400,
            "invalid_request",
            "Missing required parameter: grant_type",
        )),
        Some("authorization_code") => redeem_code(state, config, params),
        Some("refresh_token") => refresh(state, config, params),
        Some(_) => Err(Refusal(400, "unsupported_grant_type", "Invalid grant_type")),
    }
}

/// `POST token_uri`.
pub(crate) async fn token(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = form(&body);
    let credential = params.get("code").or_else(|| params.get("refresh_token"));
    let account = credential.and_then(|c| shared.lock().grants.account_of(c));
    if let Some(answer) = shared.fault_gate(Endpoint::Token, account.as_ref()).await {
        shared.lock().counters.token_errors += 1;
        return answer;
    }
    let mut state = shared.lock();
    match grant(&mut state, &shared.config, &req, &params) {
        Ok(body) => HttpResponse::Ok()
            .insert_header((
                header::CACHE_CONTROL,
                "no-cache, no-store, max-age=0, must-revalidate",
            ))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(body),
        Err(Refusal(status, code, description)) => {
            state.counters.token_errors += 1;
            error::oauth(status, code, description)
        }
    }
}
