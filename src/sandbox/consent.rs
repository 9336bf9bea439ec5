//! The consent screen (`auth_uri`): Google's checks of the authorization request, then the
//! signed-in account's answer as the test chose it (GOOGLE_APIS.md, "OAuth 2.0").

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error;
use super::fault::Endpoint;
use super::grant::Code;
use super::model::AccountId;
use super::oauth::{form, normalize_scope, redirect};
use super::state::{Consent, Shared, State};
use super::token;

/// An authorization request that passed the checks.
struct AuthRequest {
    redirect_uri: String,
    requested: Vec<String>,
    challenge: Option<(String, String)>,
    state: String,
    offline: bool,
    prompt_consent: bool,
    include_granted: bool,
}

/// Why the consent screen shows an error page instead of redirecting.
struct PageError(u16, &'static str, String);

fn check(shared: &Shared, q: &HashMap<String, String>) -> Result<AuthRequest, PageError> {
    let get = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let config = &shared.config;
    if get("client_id") != config.client_id {
        return Err(PageError(
            401,
            "invalid_client",
            "The OAuth client was not found.".into(),
        ));
    }
    let redirect_uri = get("redirect_uri");
    if !config.redirect_uris.iter().any(|r| r == redirect_uri) {
        let text = format!("auth: redirect_uri {redirect_uri:?} is not registered");
        shared.lock().violation(text);
        let description = "The redirect URI in the request does not match the ones authorized for the OAuth client.";
        return Err(PageError(400, "redirect_uri_mismatch", description.into()));
    }
    if get("response_type") != "code" {
        return Err(PageError(
            400,
            "invalid_request",
            "Invalid response_type: expected code".into(),
        ));
    }
    let requested: Vec<String> = get("scope")
        .split_whitespace()
        .map(normalize_scope)
        .collect();
    if requested.is_empty() {
        return Err(PageError(
            400,
            "invalid_request",
            "Missing required parameter: scope".into(),
        ));
    }
    Ok(AuthRequest {
        redirect_uri: redirect_uri.to_string(),
        requested,
        challenge: challenge(shared, q)?,
        state: get("state").to_string(),
        offline: get("access_type") == "offline",
        prompt_consent: get("prompt").split(' ').any(|p| p == "consent"),
        include_granted: get("include_granted_scopes") == "true",
    })
}

/// The PKCE challenge; anything but S256 is recorded, since our client always sends S256.
fn challenge(
    shared: &Shared,
    q: &HashMap<String, String>,
) -> Result<Option<(String, String)>, PageError> {
    let method = q
        .get("code_challenge_method")
        .map(String::as_str)
        .unwrap_or_default();
    match (q.get("code_challenge"), method) {
        (Some(challenge), "S256") => Ok(Some((challenge.clone(), "S256".into()))),
        (Some(challenge), "plain" | "") => {
            shared
                .lock()
                .violation(format!("auth: PKCE method {method:?} instead of S256"));
            Ok(Some((challenge.clone(), "plain".into())))
        }
        (Some(_), other) => Err(PageError(
            400,
            "invalid_request",
            format!("Invalid code_challenge_method: {other}"),
        )),
        (None, _) => {
            shared
                .lock()
                .violation("auth: no PKCE code_challenge".to_string());
            Ok(None)
        }
    }
}

/// The scopes the person grants; `None` when they refuse.
fn granted_scopes(consent: &Consent, requested: Vec<String>) -> Option<Vec<String>> {
    match consent {
        Consent::Deny => None,
        Consent::GrantAll => Some(requested),
        Consent::GrantOnly(allowed) => {
            let allowed: Vec<String> = allowed.iter().map(|s| normalize_scope(s)).collect();
            Some(
                requested
                    .into_iter()
                    .filter(|s| allowed.contains(s))
                    .collect(),
            )
        }
    }
}

/// Records the grant and issues its code; returns the code and the scopes it carries.
fn issue_code(
    state: &mut State,
    client_id: &str,
    account: AccountId,
    request: AuthRequest,
    mut granted: Vec<String>,
) -> (String, Vec<String>) {
    let pair = (account.clone(), client_id.to_string());
    let earlier = state.grants.consented.get(&pair).cloned();
    let with_refresh = request.offline && (earlier.is_none() || request.prompt_consent);
    if request.include_granted {
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
    let issued = state.now();
    let record = Code {
        account,
        client_id: client_id.to_string(),
        redirect_uri: request.redirect_uri,
        challenge: request.challenge,
        scopes: granted.clone(),
        issued,
        redeemed: None,
        with_refresh,
    };
    state.grants.codes.insert(code.clone(), record);
    (code, granted)
}

/// `GET auth_uri`: checks the request like Google, then consents as the test said.
pub(crate) async fn authorize(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let q = form(req.query_string().as_bytes());
    let request = match check(&shared, &q) {
        Ok(request) => request,
        Err(PageError(status, code, description)) => {
            return error::page(status, code, &description)
        }
    };
    let signed_in = shared.lock().signed_in.clone();
    if let Some(answer) = shared.fault_gate(Endpoint::Auth, signed_in.as_ref()).await {
        return answer;
    }
    let Some(account) = signed_in else {
        return error::page(
            400,
            "invalid_request",
            "No account is signed in to the sandbox.",
        );
    };
    let (redirect_uri, state_param) = (request.redirect_uri.clone(), request.state.clone());
    let mut state = shared.lock();
    state.counters.authorizations += 1;
    let Some(granted) = granted_scopes(&state.consent, request.requested.clone()) else {
        drop(state);
        return redirect(
            &redirect_uri,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    };
    let (code, granted) = issue_code(
        &mut state,
        &shared.config.client_id,
        account,
        request,
        granted,
    );
    drop(state);
    let scope = granted.join(" ");
    let pairs = [
        ("state", state_param.as_str()),
        ("code", &code),
        ("scope", &scope),
        ("authuser", "0"),
        ("prompt", "consent"),
    ];
    redirect(&redirect_uri, &pairs)
}
