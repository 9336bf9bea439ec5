//! Calendar API v3 `events.list`, one page at a time.

use actix_web::http::Method;

use super::error::GoogleError;
use super::http::GoogleHttp;
use super::model::EventsPage;
use crate::secret::Secret;

/// The calendar we sync (GOOGLE_APIS.md, "Ours").
pub const PRIMARY: &str = "primary";
/// The largest page Google serves.
pub const MAX_RESULTS: u32 = 2500;

/// Which page to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRequest<'a> {
    /// The first page of a full sync.
    Full,
    /// The first page of an incremental sync from a stored sync token.
    Incremental(&'a str),
    /// A following page of either.
    Next(&'a str),
}

/// The events.list URL. The parameters are the same for full and incremental syncs
/// (`singleEvents`, `maxResults`), as Google requires for a sync token to stay valid, and none
/// of those forbidden with a sync token is ever sent. Tokens are opaque base64 with `+`, `/` and
/// `=`, so they are form-encoded.
pub fn list_url(base: &str, calendar_id: &str, page: PageRequest<'_>) -> String {
    let calendar: String = url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("maxResults", &MAX_RESULTS.to_string())
        .append_pair("singleEvents", "true");
    match page {
        PageRequest::Full => {}
        PageRequest::Incremental(token) => {
            query.append_pair("syncToken", token);
        }
        PageRequest::Next(token) => {
            query.append_pair("pageToken", token);
        }
    }
    format!("{base}/calendars/{calendar}/events?{}", query.finish())
}

/// Fetches and parses one page. A body that does not parse is a protocol error (the token's
/// sync token stays as it was).
pub async fn fetch_page(
    http: &GoogleHttp,
    base: &str,
    calendar_id: &str,
    access_token: &Secret<String>,
    page: PageRequest<'_>,
) -> Result<EventsPage, GoogleError> {
    let url = list_url(base, calendar_id, page);
    let answer = http
        .api("events.list", Method::GET, &url, access_token, None)
        .await?;
    serde_json::from_slice(&answer.body)
        .map_err(|e| GoogleError::Protocol(format!("events page does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_tokens_and_keep_parameters_stable() {
        let base = "https://www.googleapis.com/calendar/v3";
        assert_eq!(
            list_url(base, PRIMARY, PageRequest::Full),
            "https://www.googleapis.com/calendar/v3/calendars/primary/events?maxResults=2500&singleEvents=true"
        );
        let inc = list_url(base, PRIMARY, PageRequest::Incremental("CPi+a/b=="));
        assert!(
            inc.ends_with("?maxResults=2500&singleEvents=true&syncToken=CPi%2Ba%2Fb%3D%3D"),
            "{inc}"
        );
        let next = list_url(base, "ann@example.com", PageRequest::Next("x y"));
        assert!(
            next.contains("/calendars/ann%40example.com/events?"),
            "{next}"
        );
        assert!(next.ends_with("&pageToken=x+y"), "{next}");
        for forbidden in [
            "timeMin",
            "timeMax",
            "updatedMin",
            "orderBy",
            "q=",
            "iCalUID",
        ] {
            assert!(!inc.contains(forbidden));
        }
    }
}
