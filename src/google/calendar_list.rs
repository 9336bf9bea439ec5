//! Calendar API v3 `calendarList.list`: the calendars an account sees, all pages
//! (`GOOGLE_APIS.md`, "calendarList.list"), read as leniently as events pages.

use actix_web::http::Method;
use serde::Deserialize;

use super::error::GoogleError;
use super::http::GoogleHttp;
use super::model::null_as_default;
use crate::secret::Secret;

/// The largest page Google serves.
pub const MAX_RESULTS: u32 = 250;
/// Pages read at most: 250 calendars a page is far beyond any real account, and a server that
/// keeps naming next pages must not keep us in a loop.
pub const MAX_PAGES: usize = 40;

/// One calendar of the account's list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CalendarListEntry {
    /// The calendar id; the primary's is the account's e-mail.
    pub id: String,
    /// The calendar's own title.
    pub summary: Option<String>,
    /// The person's own title for it (set on calendars shared with them).
    pub summary_override: Option<String>,
    /// The calendar's IANA time zone.
    pub time_zone: Option<String>,
    /// `owner`, `writer`, `reader` or `freeBusyReader` (any later value is kept as sent).
    pub access_role: Option<String>,
    /// True on the primary calendar only.
    #[serde(deserialize_with = "null_as_default")]
    pub primary: bool,
    /// Listed with `showDeleted`; such calendars are skipped.
    #[serde(deserialize_with = "null_as_default")]
    pub deleted: bool,
}

impl CalendarListEntry {
    /// The name the person knows the calendar by.
    pub fn title(&self) -> &str {
        self.summary_override
            .as_deref()
            .or(self.summary.as_deref())
            .unwrap_or(&self.id)
    }

    /// Whether the account sees only free/busy times there: no titles, so nothing can become a
    /// metric.
    pub fn is_free_busy_only(&self) -> bool {
        self.access_role.as_deref() == Some("freeBusyReader")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ListPage {
    #[serde(deserialize_with = "null_as_default")]
    items: Vec<CalendarListEntry>,
    next_page_token: Option<String>,
}

/// The calendarList URL of one page.
pub fn list_url(base: &str, page_token: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("maxResults", &MAX_RESULTS.to_string());
    if let Some(token) = page_token {
        query.append_pair("pageToken", token);
    }
    format!("{base}/users/me/calendarList?{}", query.finish())
}

/// Every calendar the account sees (deleted ones left out), in Google's order.
pub async fn fetch_calendar_list(
    http: &GoogleHttp,
    base: &str,
    access_token: &Secret<String>,
) -> Result<Vec<CalendarListEntry>, GoogleError> {
    let mut out = Vec::new();
    let mut page_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = list_url(base, page_token.as_deref());
        let answer = http
            .api("calendarList.list", Method::GET, &url, access_token, None)
            .await?;
        let page: ListPage = serde_json::from_slice(&answer.body)
            .map_err(|e| GoogleError::Protocol(format!("calendar list does not parse: {e}")))?;
        out.extend(
            page.items
                .into_iter()
                .filter(|c| !c.deleted && !c.id.is_empty()),
        );
        match page.next_page_token {
            Some(next) => page_token = Some(next),
            None => return Ok(out),
        }
    }
    Err(GoogleError::Protocol(format!(
        "the calendar list did not end within {MAX_PAGES} pages"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_leniently_and_name_themselves() {
        let page: ListPage = serde_json::from_str(
            r#"{"kind":"calendar#calendarList","items":[
                {"id":"ann@example.com","summary":"ann@example.com","timeZone":"Europe/Warsaw",
                 "accessRole":"owner","primary":true,"colorId":"14","newField":{"x":1}},
                {"id":"c_1@group.calendar.google.com","summary":"Reading","summaryOverride":"Our reading",
                 "accessRole":"reader","primary":null},
                {"id":"c_2@group.calendar.google.com","accessRole":"freeBusyReader","deleted":true}
            ],"nextPageToken":"a+b/c="}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 3);
        assert!(page.items[0].primary);
        assert_eq!(page.items[0].time_zone.as_deref(), Some("Europe/Warsaw"));
        assert_eq!(page.items[1].title(), "Our reading");
        assert!(!page.items[1].primary);
        assert_eq!(page.items[2].title(), "c_2@group.calendar.google.com");
        assert!(page.items[2].is_free_busy_only() && page.items[2].deleted);
        assert_eq!(page.next_page_token.as_deref(), Some("a+b/c="));
        let empty: ListPage = serde_json::from_str(r#"{"items":null}"#).unwrap();
        assert!(empty.items.is_empty());
    }

    #[test]
    fn page_tokens_are_form_encoded() {
        let url = list_url("https://g/calendar/v3", Some("a+b/c="));
        assert_eq!(
            url,
            "https://g/calendar/v3/users/me/calendarList?maxResults=250&pageToken=a%2Bb%2Fc%3D"
        );
    }
}
