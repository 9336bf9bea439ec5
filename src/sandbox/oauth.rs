//! The revocation endpoint, userinfo and the OAuth helpers the other endpoints share
//! (GOOGLE_APIS.md, "OAuth 2.0"); the consent screen is in `consent.rs`, the token endpoint in
//! `token_endpoint.rs`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error;
use super::fault::Endpoint;
use super::grant::Bearer;
use super::state::Shared;

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

pub(crate) fn redirect(uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return error::page(400, "invalid_request", "unparsable redirect_uri"),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
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
