//! The OAuth client settings, read from the client-secret JSON that Google's console downloads.

use std::net::IpAddr;

use serde::Deserialize;

use crate::secret::Secret;

/// Google's revocation endpoint; the console's JSON does not name it.
pub const DEFAULT_REVOKE_URI: &str = "https://oauth2.googleapis.com/revoke";
/// Google's OpenID Connect userinfo endpoint; the console's JSON does not name it.
pub const DEFAULT_USERINFO_URI: &str = "https://openidconnect.googleapis.com/v1/userinfo";

/// The OAuth client this server is registered as. Endpoints come from the JSON, never from
/// constants, so the same code talks to Google and to the sandbox.
#[derive(Debug, Clone)]
pub struct GoogleClientConfig {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret<String>,
    /// The authorization endpoint the user's browser is sent to.
    pub auth_uri: String,
    /// The token endpoint for code exchange and refresh.
    pub token_uri: String,
    /// The revocation endpoint (`revoke_uri` in the JSON, ours; Google's by default).
    pub revoke_uri: String,
    /// The userinfo endpoint (`userinfo_uri` in the JSON, ours; Google's by default).
    pub userinfo_uri: String,
}

#[derive(Deserialize)]
struct Downloaded {
    web: Option<Client>,
    installed: Option<Client>,
}

#[derive(Deserialize)]
struct Client {
    client_id: String,
    client_secret: String,
    auth_uri: String,
    token_uri: String,
    revoke_uri: Option<String>,
    userinfo_uri: Option<String>,
}

impl GoogleClientConfig {
    /// Reads the setting's value: the JSON itself when it starts with `{`, else a path to it.
    /// Errors never quote the JSON, which holds the client secret.
    pub fn from_setting(value: &str) -> Result<Self, String> {
        let json = if value.trim_start().starts_with('{') {
            value.to_string()
        } else {
            std::fs::read_to_string(value)
                .map_err(|e| format!("cannot read file {value:?}: {e}"))?
        };
        Self::from_json(&json)
    }

    /// Parses the console's JSON (`{"web": {...}}` or `{"installed": {...}}`).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let d: Downloaded = serde_json::from_str(json).map_err(|e| {
            format!(
                "not the client-secret JSON from Google's console (line {}, column {}): {}",
                e.line(),
                e.column(),
                e.classify_name()
            )
        })?;
        let c = d
            .web
            .or(d.installed)
            .ok_or("the JSON has neither a \"web\" nor an \"installed\" key")?;
        if c.client_id.trim().is_empty() || c.client_secret.trim().is_empty() {
            return Err("client_id and client_secret must not be empty".into());
        }
        Ok(Self {
            client_id: c.client_id,
            client_secret: Secret::new(c.client_secret),
            auth_uri: endpoint(&c.auth_uri).map_err(|e| format!("auth_uri: {e}"))?,
            token_uri: endpoint(&c.token_uri).map_err(|e| format!("token_uri: {e}"))?,
            revoke_uri: endpoint(c.revoke_uri.as_deref().unwrap_or(DEFAULT_REVOKE_URI))
                .map_err(|e| format!("revoke_uri: {e}"))?,
            userinfo_uri: endpoint(c.userinfo_uri.as_deref().unwrap_or(DEFAULT_USERINFO_URI))
                .map_err(|e| format!("userinfo_uri: {e}"))?,
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// Validates a Google endpoint URL: HTTPS, or plain HTTP only on a loopback address (the sandbox,
/// tests), so credentials never cross a network in clear text. Returns it without a trailing slash.
pub fn endpoint(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed).map_err(|e| format!("{trimmed:?} is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(trimmed.to_string()),
        "http" if is_loopback(&url) => Ok(trimmed.to_string()),
        "http" => Err(format!(
            "{trimmed:?}: plain http is only allowed on loopback addresses"
        )),
        other => Err(format!("{trimmed:?}: scheme {other} is not https")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = r#"{"web":{"client_id":"id.apps.googleusercontent.com","project_id":"p",
        "auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-secret",
        "redirect_uris":["http://localhost:8000/oauth2/google/callback"]}}"#;

    #[test]
    fn reads_the_console_json() {
        let c = GoogleClientConfig::from_json(WEB).unwrap();
        assert_eq!(c.client_id, "id.apps.googleusercontent.com");
        assert_eq!(c.client_secret.expose(), "GOCSPX-secret");
        assert_eq!(c.auth_uri, "https://accounts.google.com/o/oauth2/auth");
        assert_eq!(c.token_uri, "https://oauth2.googleapis.com/token");
        assert_eq!(c.revoke_uri, DEFAULT_REVOKE_URI);
        let installed = WEB.replacen("\"web\"", "\"installed\"", 1);
        assert!(GoogleClientConfig::from_json(&installed).is_ok());
    }

    #[test]
    fn refuses_bad_json_without_quoting_the_secret() {
        for bad in [
            "{",
            "{}",
            r#"{"web":{"client_id":"x"}}"#,
            &WEB.replace(
                "https://oauth2.googleapis.com/token",
                "http://oauth2.example.com/token",
            ),
            &WEB.replace("GOCSPX-secret", ""),
        ] {
            let err = GoogleClientConfig::from_json(bad)
                .err()
                .unwrap_or_else(|| panic!("accepted {bad}"));
            assert!(!err.contains("GOCSPX"), "{err}");
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(endpoint("http://127.0.0.1:9999/token").is_ok());
        assert!(endpoint("http://localhost/token").is_ok());
        assert!(endpoint("http://[::1]:80/x").is_ok());
        assert!(endpoint("http://10.0.0.1/token").is_err());
        assert!(endpoint("ftp://127.0.0.1/").is_err());
        assert_eq!(
            endpoint("https://x.org/a/").as_deref(),
            Ok("https://x.org/a")
        );
    }
}
