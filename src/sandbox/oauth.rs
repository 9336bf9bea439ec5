//! The consent screen, the revocation endpoint and userinfo (GOOGLE_APIS.md, "OAuth 2.0"); the
//! token endpoint lives in `token_endpoint.rs`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error;
use super::fault::Endpoint;
use super::grant::{Bearer, Code};
use super::state::{Consent, Shared};
use super::token;

/// Scopes that let a token read the calendar.
pub(crate) const CALENDAR_SCOPES: [&str; 4] = [
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.events",
];

const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";

/// Google answers the short names with their full URLs (`email` → `…/userinfo.email`), so a
/// client comparing granted with asked scopes has to know the aliases.
pub(crate) fn normalize_scope(scope: &str) -> String {
    match scope {
        "email" => EMAIL_SCOPE.to_string(),
        "profile" => "https://www.googleapis.com/auth/userinfo.profile".to_string(),
        other => other.to_string(),
    }
}

/// Whether the scopes allow reading the e-mail address.
pub(crate) fn has_email(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == EMAIL_SCOPE)
}

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body).
pub(crate) fn form(text: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(text).into_owned().collect()
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return error::page(400, "invalid_request", "unparsable redirect_uri"),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

/// `GET auth_uri`: checks the request like Google, then consents as the test said.
pub(crate) async fn authorize(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let q = form(req.query_string().as_bytes());
    let get = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let config = &shared.config;
    if get("client_id") != config.client_id {
        return error::page(401, "invalid_client", "The OAuth client was not found.");
    }
    let redirect_uri = get("redirect_uri");
    if !config.redirect_uris.iter().any(|r| r == redirect_uri) {
        shared.lock().violation(format!(
            "auth: redirect_uri {redirect_uri:?} is not registered"
        ));
        return error::page(400, "redirect_uri_mismatch", "The redirect URI in the request does not match the ones authorized for the OAuth client.");
    }
    if get("response_type") != "code" {
        return error::page(
            400,
            "invalid_request",
            "Invalid response_type: expected code",
        );
    }
    let requested: Vec<String> = get("scope")
        .split_whitespace()
        .map(normalize_scope)
        .collect();
    if requested.is_empty() {
        return error::page(400, "invalid_request", "Missing required parameter: scope");
    }
    let challenge = match (q.get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), "S256") => Some((challenge.clone(), "S256".to_string())),
        (Some(challenge), method @ ("plain" | "")) => {
            shared
                .lock()
                .violation(format!("auth: PKCE method {method:?} instead of S256"));
            Some((challenge.clone(), "plain".to_string()))
        }
        (Some(_), other) => {
            return error::page(
                400,
                "invalid_request",
                &format!("Invalid code_challenge_method: {other}"),
            )
        }
        (None, _) => {
            shared
                .lock()
                .violation("auth: no PKCE code_challenge".to_string());
            None
        }
    };
    let signed_in = shared.lock().signed_in.clone();
    if let Some(answer) = shared.fault_gate(Endpoint::Auth, signed_in.as_ref()).await {
        return answer;
    }
    let state_param = get("state").to_string();
    let mut state = shared.lock();
    let Some(account) = signed_in else {
        return error::page(
            400,
            "invalid_request",
            "No account is signed in to the sandbox.",
        );
    };
    state.counters.authorizations += 1;
    let mut granted: Vec<String> = match &state.consent {
        Consent::Deny => {
            return redirect(
                redirect_uri,
                &[("error", "access_denied"), ("state", &state_param)],
            );
        }
        Consent::GrantAll => requested,
        Consent::GrantOnly(allowed) => {
            let allowed: Vec<String> = allowed.iter().map(|s| normalize_scope(s)).collect();
            requested
                .into_iter()
                .filter(|s| allowed.contains(s))
                .collect()
        }
    };
    let pair = (account.clone(), config.client_id.clone());
    let earlier = state.grants.consented.get(&pair).cloned();
    let with_refresh = get("access_type") == "offline"
        && (earlier.is_none() || get("prompt").split(' ').any(|p| p == "consent"));
    if get("include_granted_scopes") == "true" {
        // Incremental authorization: the grant covers what was granted before, too.
        for scope in earlier.unwrap_or_default() {
            if !granted.contains(&scope) {
                granted.push(scope);
            }
        }
    }
    let remembered = state.grants.consented.entry(pair).or_default();
    for scope in &granted {
        if !remembered.contains(scope) {
            remembered.push(scope.clone());
        }
    }
    let code = token::auth_code();
    let now = state.now();
    state.grants.codes.insert(
        code.clone(),
        Code {
            account,
            client_id: config.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            challenge,
            scopes: granted.clone(),
            issued: now,
            redeemed: None,
            with_refresh,
        },
    );
    drop(state);
    let scope = granted.join(" ");
    redirect(
        redirect_uri,
        &[
            ("state", &state_param),
            ("code", &code),
            ("scope", &scope),
            ("authuser", "0"),
            ("prompt", "consent"),
        ],
    )
}

/// `POST revoke_uri` with `token=`: revokes the token's whole grant.
pub(crate) async fn revoke(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut params = form(req.query_string().as_bytes());
    params.extend(form(&body));
    let token = params.get("token").cloned().unwrap_or_default();
    let account = shared.lock().grants.account_of(&token);
    if let Some(answer) = shared.fault_gate(Endpoint::Revoke, account.as_ref()).await {
        return answer;
    }
    let mut state = shared.lock();
    if token.is_empty() {
        return error::oauth(400, "invalid_request", "Missing required parameter: token");
    }
    if !state.grants.revoke_token(&token) {
        return error::oauth(400, "invalid_token", "Token expired or revoked");
    }
    state.counters.revocations += 1;
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body("{}")
}

/// `GET userinfo_uri` with a bearer token: `sub`, and `email` when the grant allows it.
pub(crate) async fn userinfo(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let token = bearer_token(&req).unwrap_or_default();
    let (account, now) = {
        let mut state = shared.lock();
        state.counters.userinfo_calls += 1;
        (state.grants.account_of(&token), state.now())
    };
    if let Some(answer) = shared
        .fault_gate(Endpoint::Userinfo, account.as_ref())
        .await
    {
        return answer;
    }
    let state = shared.lock();
    let unauthorized = || {
        let mut answer = error::oauth(401, "invalid_request", "Invalid Credentials");
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
        answer
    };
    let Bearer::Valid { account, scopes } = state.grants.bearer(&token, now) else {
        return unauthorized();
    };
    let Ok(who) = state.account(&account) else {
        return unauthorized();
    };
    let mut body = serde_json::json!({"sub": who.id.as_str()});
    if has_email(&scopes) {
        body["email"] = who.email.clone().into();
        body["email_verified"] = true.into();
    }
    HttpResponse::Ok().json(body)
}
