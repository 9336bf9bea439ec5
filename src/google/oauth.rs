//! The OAuth 2.0 client (authorization-code flow with PKCE, refresh, revocation, identity), on
//! the `oauth2` crate with our [`GoogleHttp`] as its transport.

use base64::Engine;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::GoogleError;
use super::http::{GoogleHttp, TransportError};
use super::scopes::{Scopes, ASKED};
use crate::secret::Secret;
use crate::settings::GoogleClientConfig;

/// The `id_token` Google adds to token answers when `openid` is granted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenFields {}

type GoogleTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    GoogleTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
>;

fn client(cfg: &GoogleClientConfig, redirect_uri: &str) -> Result<OAuthClient, GoogleError> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        GoogleError::Protocol(format!("{what} is not a URL: {e}"))
    };
    Ok(oauth2::Client::new(ClientId::new(cfg.client_id.clone()))
        .set_client_secret(ClientSecret::new(cfg.client_secret.expose().clone()))
        .set_auth_uri(AuthUrl::new(cfg.auth_uri.clone()).map_err(|e| bad("auth_uri", e))?)
        .set_token_uri(TokenUrl::new(cfg.token_uri.clone()).map_err(|e| bad("token_uri", e))?)
        .set_revocation_url(
            RevocationUrl::new(cfg.revoke_uri.clone()).map_err(|e| bad("revoke_uri", e))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string()).map_err(|e| bad("redirect URI", e))?,
        )
        // Google documents the client credentials in the body; both work.
        .set_auth_type(AuthType::RequestBody))
}

/// A started authorization: the URL to send the person to, and what the callback needs.
pub struct AuthorizationStart {
    /// Google's consent page with every parameter of the flow.
    pub url: String,
    /// The `state`: 256 random bits, base64url.
    pub state: Secret<String>,
    /// The PKCE verifier matching the URL's S256 challenge.
    pub verifier: Secret<String>,
}

fn random_state() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds the authorization URL: offline access with forced consent (so Google always returns a
/// refresh token), incremental scopes, a fresh `state` and a PKCE S256 challenge.
pub fn start_authorization(
    cfg: &GoogleClientConfig,
    redirect_uri: &str,
) -> Result<AuthorizationStart, GoogleError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(64);
    let state = random_state();
    let state_for_url = state.clone();
    let (url, _) = client(cfg, redirect_uri)?
        .authorize_url(move || CsrfToken::new(state_for_url))
        .add_scopes(ASKED.map(|s| Scope::new(s.to_string())))
        .add_extra_param("access_type", "offline")
        .add_extra_param("prompt", "consent")
        .add_extra_param("include_granted_scopes", "true")
        .set_pkce_challenge(challenge)
        .url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: Secret::new(state),
        verifier: Secret::new(verifier.secret().clone()),
    })
}

/// What a token endpoint granted.
#[derive(Debug)]
pub struct Grant {
    /// The access token.
    pub access_token: Secret<String>,
    /// Unix seconds when it expires (one hour when Google does not say).
    pub expires_at: i64,
    /// A refresh token; on refreshes Google normally sends none, and the old one stays valid.
    pub refresh_token: Option<Secret<String>>,
    /// Granted scopes, when the answer lists them.
    pub scopes: Scopes,
    /// The OpenID Connect ID token, when `openid` was granted.
    pub id_token: Option<Secret<String>>,
}

fn grant(resp: GoogleTokenResponse, now: i64) -> Grant {
    Grant {
        access_token: Secret::new(resp.access_token().secret().clone()),
        expires_at: now
            + resp
                .expires_in()
                .map(|d| d.as_secs() as i64)
                .unwrap_or(3600),
        refresh_token: resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        scopes: resp
            .scopes()
            .map(|s| Scopes::from_names(s.iter().map(|s| s.as_str())))
            .unwrap_or_default(),
        id_token: resp.extra_fields().id_token.clone().map(Secret::new),
    }
}

fn token_error(e: RequestTokenError<TransportError, BasicErrorResponse>) -> GoogleError {
    match e {
        RequestTokenError::ServerResponse(r) => GoogleError::OAuth {
            status: 400,
            error: r.error().as_ref().to_string(),
            description: r.error_description().cloned(),
        },
        RequestTokenError::Request(t) => GoogleError::Transport(t.0),
        RequestTokenError::Parse(e, _) => {
            GoogleError::Protocol(format!("token endpoint answer: {e}"))
        }
        RequestTokenError::Other(s) => GoogleError::Protocol(s),
    }
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &GoogleHttp,
    cfg: &GoogleClientConfig,
    redirect_uri: &str,
    code: &str,
    verifier: &Secret<String>,
    now: i64,
) -> Result<Grant, GoogleError> {
    let call = |req| http.oauth2_call(req);
    let resp = client(cfg, redirect_uri)?
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().clone()))
        .request_async(&call)
        .await
        .map_err(token_error)?;
    Ok(grant(resp, now))
}

/// Gets a fresh access token with a refresh token. `invalid_grant` means the person must
/// reconnect; see [`GoogleError::disposition`].
pub async fn refresh(
    http: &GoogleHttp,
    cfg: &GoogleClientConfig,
    redirect_uri: &str,
    refresh_token: &Secret<String>,
    now: i64,
) -> Result<Grant, GoogleError> {
    let call = |req| http.oauth2_call(req);
    let token = RefreshToken::new(refresh_token.expose().clone());
    let resp = client(cfg, redirect_uri)?
        .exchange_refresh_token(&token)
        .request_async(&call)
        .await
        .map_err(token_error)?;
    Ok(grant(resp, now))
}

/// Revokes a refresh token (and with it its access tokens). Best effort: the caller logs a
/// failure and goes on deleting its own copy. A plain form POST as Google documents it (the
/// `oauth2` crate insists on HTTPS revocation URLs, which the loopback sandbox is not).
pub async fn revoke(
    http: &GoogleHttp,
    cfg: &GoogleClientConfig,
    refresh_token: &Secret<String>,
) -> Result<(), GoogleError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", refresh_token.expose())
        .finish();
    let answer = http
        .send(
            "revoke",
            actix_web::http::Method::POST,
            &cfg.revoke_uri,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
        .await?;
    if answer.status.is_success() {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct OAuthDetail {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthDetail>(&answer.body) {
        Ok(b) => Err(GoogleError::OAuth {
            status: answer.status.as_u16(),
            error: b.error,
            description: b.error_description,
        }),
        Err(_) => Err(super::error::api_error(
            answer.status.as_u16(),
            answer.header("retry-after"),
            &answer.body,
        )),
    }
}

/// The Google account behind a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The stable account id (`sub`).
    pub sub: String,
    /// The account's e-mail.
    pub email: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    aud: Option<serde_json::Value>,
}

/// Reads `sub` and `email` from an ID token received directly from the token endpoint over a
/// verified connection. OpenID Connect Core §3.1.3.7 allows relying on that TLS connection
/// instead of checking the signature; the audience is still checked.
pub fn identity_from_id_token(id_token: &str, client_id: &str) -> Result<Identity, GoogleError> {
    let bad = |why: &str| GoogleError::Protocol(format!("ID token {why}"));
    let payload = id_token
        .split('.')
        .nth(1)
        .ok_or_else(|| bad("is not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("payload is not base64url"))?;
    let claims: Claims =
        serde_json::from_slice(&bytes).map_err(|_| bad("payload is not the expected JSON"))?;
    let audience_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => a == client_id,
        Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(bad("was issued to another client"));
    }
    let email = claims.email.ok_or_else(|| bad("has no email claim"))?;
    Ok(Identity {
        sub: claims.sub,
        email,
    })
}

/// Asks the userinfo endpoint who the access token belongs to (when no ID token came back).
pub async fn userinfo(
    http: &GoogleHttp,
    cfg: &GoogleClientConfig,
    access_token: &Secret<String>,
) -> Result<Identity, GoogleError> {
    let bearer = format!("Bearer {}", access_token.expose());
    let answer = http
        .send(
            "userinfo",
            actix_web::http::Method::GET,
            &cfg.userinfo_uri,
            &[("Authorization", &bearer)],
            None,
        )
        .await?;
    if !answer.status.is_success() {
        return Err(super::error::api_error(
            answer.status.as_u16(),
            answer.header("retry-after"),
            &answer.body,
        ));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|e| GoogleError::Protocol(format!("userinfo answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::scopes::{SCOPE_CALENDAR, SCOPE_EMAIL, SCOPE_OPENID};

    fn cfg() -> GoogleClientConfig {
        GoogleClientConfig::from_json(
            r#"{"web":{"client_id":"cid","client_secret":"sec","auth_uri":"https://accounts.example.com/o/oauth2/auth","token_uri":"https://oauth2.example.com/token"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_authorization_url_carries_every_parameter() {
        let start =
            start_authorization(&cfg(), "http://localhost:8000/oauth2/google/callback").unwrap();
        let url = url::Url::parse(&start.url).unwrap();
        assert_eq!(
            url.as_str().split('?').next(),
            Some("https://accounts.example.com/o/oauth2/auth")
        );
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(
            q["redirect_uri"],
            "http://localhost:8000/oauth2/google/callback"
        );
        let scopes: Vec<&str> = q["scope"].split(' ').collect();
        assert!(
            scopes.contains(&SCOPE_CALENDAR)
                && scopes.contains(&SCOPE_EMAIL)
                && scopes.contains(&SCOPE_OPENID)
        );
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["include_granted_scopes"], "true");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], *start.state.expose());
        assert!(start.state.expose().len() >= 43, "256 bits");
        use sha2::Digest;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(start.verifier.expose().as_bytes()));
        assert_eq!(q["code_challenge"], challenge);
        assert!(!start.url.contains(start.verifier.expose()));
    }

    fn jwt(claims: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", e(r#"{"alg":"RS256"}"#), e(claims))
    }

    #[test]
    fn id_tokens_give_the_account_and_check_the_audience() {
        let ok = jwt(
            r#"{"sub":"123","email":"ann@example.com","aud":"cid","iss":"https://accounts.google.com"}"#,
        );
        assert_eq!(
            identity_from_id_token(&ok, "cid"),
            Ok(Identity {
                sub: "123".into(),
                email: "ann@example.com".into()
            })
        );
        let arr = jwt(r#"{"sub":"1","email":"a@b","aud":["x","cid"]}"#);
        assert!(identity_from_id_token(&arr, "cid").is_ok());
        for bad in [
            jwt(r#"{"sub":"1","email":"a@b","aud":"other"}"#),
            jwt(r#"{"sub":"1","aud":"cid"}"#),
            "garbage".into(),
            "a.!!!.c".into(),
        ] {
            assert!(identity_from_id_token(&bad, "cid").is_err(), "{bad}");
        }
    }
}
