//! Google's answers, classified: what went wrong and what the sync should do about it.
//!
//! The table in `GOOGLE_APIS.md` ("Errors from the Calendar API") is encoded once, in
//! [`GoogleError::disposition`], so callers never match status codes themselves.

use std::time::Duration;

use serde::Deserialize;

/// A failed call to Google (Calendar API or OAuth endpoints).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GoogleError {
    /// No answer: connection refused or reset, timeout, truncated body.
    #[error("network error talking to Google: {0}")]
    Transport(String),
    /// A Calendar API error answer.
    #[error("Google answered {status}{}: {message}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// `error.errors[0].reason`, e.g. `rateLimitExceeded`.
        reason: Option<String>,
        /// Google's human-readable message.
        message: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },
    /// An OAuth token-endpoint error (`{"error", "error_description"}`).
    #[error("Google's token endpoint answered {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// HTTP status (0 when unknown).
        status: u16,
        /// `invalid_grant`, `invalid_client`, …
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// An answer that breaks the protocol: unparseable JSON, a last page without a sync token.
    #[error("unexpected answer from Google: {0}")]
    Protocol(String),
}

/// What the sync does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// 410: the sync token is dead; drop it and do a full sync now.
    FullSync,
    /// 401: refresh the access token and retry once.
    Refresh,
    /// Transient: back off (at least `after`, when Google said so) and retry.
    Retry {
        /// Google's `Retry-After`, or a floor for quota errors.
        after: Option<Duration>,
    },
    /// The grant is gone or lacks a scope: stop polling until the person reconnects.
    Reauth,
    /// Permanent for this request: error state, no retry loop; the next poll tries again.
    Fail,
}

/// How long to wait at least after a `quotaExceeded` (usage limits, not a per-minute rate).
pub const QUOTA_BACKOFF: Duration = Duration::from_secs(15 * 60);

impl GoogleError {
    /// Classifies the error as in `GOOGLE_APIS.md`.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Transport(_) => Disposition::Retry { after: None },
            Self::Protocol(_) => Disposition::Fail,
            Self::OAuth { status, error, .. } => match error.as_str() {
                "invalid_grant" => Disposition::Reauth,
                _ if *status >= 500 || *status == 429 => Disposition::Retry { after: None },
                _ => Disposition::Fail,
            },
            Self::Api {
                status,
                reason,
                retry_after,
                ..
            } => match (*status, reason.as_deref()) {
                (401, _) => Disposition::Refresh,
                (410, _) => Disposition::FullSync,
                (403, Some("rateLimitExceeded" | "userRateLimitExceeded")) | (429, _) => {
                    Disposition::Retry {
                        after: *retry_after,
                    }
                }
                (403, Some("quotaExceeded")) => Disposition::Retry {
                    after: Some(retry_after.unwrap_or(QUOTA_BACKOFF).max(QUOTA_BACKOFF)),
                },
                (403, Some("insufficientPermissions")) => Disposition::Reauth,
                (s, _) if s >= 500 => Disposition::Retry {
                    after: *retry_after,
                },
                _ => Disposition::Fail,
            },
        }
    }

    /// A short text for status pages and the UI: Google's own message where there is one, with a
    /// hint for the cases a deployer must fix.
    pub fn summary(&self) -> String {
        match self {
            Self::Api {
                status: 403,
                reason: Some(r),
                message,
                ..
            } if r == "accessNotConfigured" => {
                format!("the Google Calendar API is not enabled for this OAuth client's project: {message}")
            }
            Self::OAuth { error, .. } if error == "invalid_grant" => {
                "Google access was revoked or expired: reconnect the calendar".to_string()
            }
            Self::OAuth { error, .. } if error == "invalid_client" => {
                "Google rejected this server's OAuth client: check GOOGLE_OAUTH2_CREDS".to_string()
            }
            other => other.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct ApiDetail {
    error: ApiErrorInner,
}

#[derive(Deserialize)]
struct ApiErrorInner {
    #[serde(default)]
    errors: Vec<ApiErrorItem>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct ApiErrorItem {
    reason: Option<String>,
}

/// Builds the error for a non-2xx Calendar API answer from its status, `Retry-After` header and
/// body (`{"error": {"errors": [{"reason"}], "code", "message"}}`); a body of another shape keeps
/// the status and a cut of the text.
pub fn api_error(status: u16, retry_after: Option<&str>, body: &[u8]) -> GoogleError {
    let (reason, message) = match serde_json::from_slice::<ApiDetail>(body) {
        Ok(b) => (
            b.error.errors.into_iter().find_map(|e| e.reason),
            b.error.message,
        ),
        Err(_) => (
            None,
            String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string(),
        ),
    };
    GoogleError::Api {
        status,
        reason,
        message,
        retry_after: retry_after.and_then(parse_retry_after),
    }
}

/// Parses `Retry-After`: delta seconds, or an HTTP date (then the time until it, zero if past).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, reason: Option<&str>) -> GoogleError {
        GoogleError::Api {
            status,
            reason: reason.map(str::to_string),
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn dispositions_follow_the_google_table() {
        let cases = [
            (api(400, Some("badRequest")), Disposition::Fail),
            (
                api(400, Some("syncTokenWithRequestRestrictions")),
                Disposition::Fail,
            ),
            (api(401, Some("authError")), Disposition::Refresh),
            (
                api(403, Some("rateLimitExceeded")),
                Disposition::Retry { after: None },
            ),
            (
                api(403, Some("userRateLimitExceeded")),
                Disposition::Retry { after: None },
            ),
            (
                api(403, Some("quotaExceeded")),
                Disposition::Retry {
                    after: Some(QUOTA_BACKOFF),
                },
            ),
            (
                api(403, Some("insufficientPermissions")),
                Disposition::Reauth,
            ),
            (api(403, Some("accessNotConfigured")), Disposition::Fail),
            (api(403, None), Disposition::Fail),
            (api(404, Some("notFound")), Disposition::Fail),
            (api(410, Some("fullSyncRequired")), Disposition::FullSync),
            (
                api(429, Some("rateLimitExceeded")),
                Disposition::Retry { after: None },
            ),
            (
                api(500, Some("backendError")),
                Disposition::Retry { after: None },
            ),
            (api(502, None), Disposition::Retry { after: None }),
            (api(503, None), Disposition::Retry { after: None }),
            (
                GoogleError::Transport("reset".into()),
                Disposition::Retry { after: None },
            ),
            (GoogleError::Protocol("bad json".into()), Disposition::Fail),
            (
                GoogleError::OAuth {
                    status: 400,
                    error: "invalid_grant".into(),
                    description: None,
                },
                Disposition::Reauth,
            ),
            (
                GoogleError::OAuth {
                    status: 401,
                    error: "invalid_client".into(),
                    description: None,
                },
                Disposition::Fail,
            ),
            (
                GoogleError::OAuth {
                    status: 503,
                    error: "temporarily_unavailable".into(),
                    description: None,
                },
                Disposition::Retry { after: None },
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.disposition(), want, "{err:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        let e = api_error(429, Some("7"), br#"{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":429,"message":"Rate Limit Exceeded"}}"#);
        assert_eq!(
            e.disposition(),
            Disposition::Retry {
                after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            e.to_string(),
            "Google answered 429 rateLimitExceeded: Rate Limit Exceeded"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let e = api_error(410, None, br#"{"error":{"errors":[{"domain":"global","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required."}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}}"#);
        assert_eq!(e.disposition(), Disposition::FullSync);
        let e = api_error(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(
            e,
            GoogleError::Api {
                status: 502,
                reason: None,
                message: "<html>Bad Gateway</html>".into(),
                retry_after: None
            }
        );
        let e = api_error(403, None, br#"{"error":{"code":403,"message":"Calendar API has not been used","errors":[{"reason":"accessNotConfigured"}]}}"#);
        assert!(e.summary().contains("not enabled"), "{}", e.summary());
    }
}
