//! `GET`/`PUT /oauth2/google/calendars`: the calendars of the caller's Google account, and which
//! of them its connection syncs. The token's actor makes the Google calls (it owns the
//! credentials) and the selection change; this module checks the caller and shapes the answer.

use actix_web::{get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::google::{connected_caller, not_connected, Caller};
use super::openapi::{BodyRefused, DataTokenHeader, DataTokenRefused, Detail, GoogleOff};
use super::{ApiError, AppState};
use crate::actors::calendar_selection::CalendarListing;
use crate::actors::status::CalendarStatus;
use crate::actors::supervisor::Calendars;
use crate::google::calendar::PRIMARY;

/// One calendar of the answer.
#[derive(Debug, Serialize, ToSchema)]
struct CalendarEntry {
    /// Google's id (the primary's is the account's e-mail).
    id: String,
    /// The name the person knows it by (their own name for a shared calendar, if they gave
    /// one); `null` for a selected calendar Google no longer lists.
    summary: Option<String>,
    /// Whether it is the account's primary calendar.
    primary: bool,
    /// Its IANA time zone, as Google lists it.
    time_zone: Option<String>,
    /// `owner`, `writer`, `reader` or `freeBusyReader` (which cannot be selected).
    access_role: Option<String>,
    /// Whether the connection syncs it.
    selected: bool,
    /// For a selected calendar: unix seconds of its last successful sync (`null`: not yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    last_sync_at: Option<Option<i64>>,
    /// For a selected calendar: its events that hold datapoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<u64>,
    /// For a selected calendar: the datapoints they hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    datapoints: Option<u64>,
    /// For a selected calendar: why its last sync failed (`null`: it did not).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    last_error: Option<Option<String>>,
    /// For a selected calendar: whether Google no longer has it (deleted, or unshared).
    #[serde(skip_serializing_if = "Option::is_none")]
    gone: Option<bool>,
}

impl CalendarEntry {
    /// An entry not selected (yet): what Google lists of it.
    fn listed(
        id: String,
        summary: Option<String>,
        primary: bool,
        time_zone: Option<String>,
        access_role: Option<String>,
    ) -> Self {
        Self {
            id,
            summary,
            primary,
            time_zone,
            access_role,
            selected: false,
            last_sync_at: None,
            events: None,
            datapoints: None,
            last_error: None,
            gone: None,
        }
    }

    fn with_status(mut self, status: Option<&CalendarStatus>, listed: bool) -> Self {
        if let Some(s) = status {
            self.selected = true;
            self.last_sync_at = Some(s.last_success.map(|ms| ms / 1000));
            self.events = Some(s.events);
            self.datapoints = Some(s.datapoints);
            self.last_error = Some(s.last_error.clone());
            self.gone = Some(s.gone || !listed);
        }
        self
    }
}

/// The account's calendars and the selection.
#[derive(Debug, Serialize, ToSchema)]
struct CalendarsAnswer {
    /// Google's calendars in Google's order, then any selected calendar Google no longer lists.
    calendars: Vec<CalendarEntry>,
}

/// Google's calendars in Google's order, then any selected calendar Google no longer lists.
fn answer(listing: CalendarListing) -> CalendarsAnswer {
    let status_of = |id: &str| listing.selected.iter().find(|s| s.calendar_id == id);
    let mut calendars: Vec<CalendarEntry> = listing
        .google
        .iter()
        .map(|g| {
            let stored_as = if g.primary { PRIMARY } else { g.id.as_str() };
            CalendarEntry::listed(
                g.id.clone(),
                Some(g.title().to_string()),
                g.primary,
                g.time_zone.clone(),
                g.access_role.clone(),
            )
            .with_status(status_of(stored_as), true)
        })
        .collect();
    let has_primary = listing.google.iter().any(|g| g.primary);
    for s in &listing.selected {
        let listed = if s.calendar_id == PRIMARY {
            has_primary
        } else {
            listing.google.iter().any(|g| g.id == s.calendar_id)
        };
        if !listed {
            let gone = CalendarEntry::listed(
                s.calendar_id.clone(),
                None,
                s.calendar_id == PRIMARY,
                None,
                None,
            );
            calendars.push(gone.with_status(Some(s), false));
        }
    }
    CalendarsAnswer { calendars }
}

/// Lists (or selects) the caller's calendars wherever its token is synced: 409 when it has no
/// Google connection.
async fn calendars(
    state: &AppState,
    caller: Caller,
    selected: Option<Vec<String>>,
) -> Result<CalendarListing, ApiError> {
    let (sync, token) = connected_caller(state, caller)?;
    let answer = sync
        .supervisor
        .send(Calendars {
            token,
            select: selected,
        })
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_connected)?;
    Ok(answer?)
}

/// The calendars of the connected Google account, and which of them the connection syncs.
#[utoipa::path(
    tag = "google",
    operation_id = "list_calendars",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "The calendars.", body = CalendarsAnswer),
        DataTokenRefused,
        (status = 409, description = "The token has no Google connection, or it needs the person to reconnect.", body = Detail),
        (status = 502, description = "Google failed or refused the calendar list: the message says why.", body = Detail),
        GoogleOff,
    )
)]
#[get("/oauth2/google/calendars")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let listing = calendars(&state, caller, None).await?;
    Ok(HttpResponse::Ok().json(answer(listing)))
}

/// The body of `PUT /oauth2/google/calendars`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"selected": ["primary", "training@group.calendar.google.com"]}))]
pub(super) struct SelectBody {
    /// The calendars to sync: 1-50 ids as `GET` lists them (`primary` for the primary).
    selected: Vec<String>,
}

/// Chooses which calendars the connection syncs. A newly selected calendar syncs in full at once;
/// a deselected one's datapoints are gone, on disk, by the time of the answer.
#[utoipa::path(
    tag = "google",
    operation_id = "select_calendars",
    params(DataTokenHeader),
    security(("data_token" = [])),
    request_body = SelectBody,
    responses(
        (status = 200, description = "The new selection, on disk.", body = CalendarsAnswer),
        BodyRefused,
        DataTokenRefused,
        (status = 409, description = "The token has no Google connection, or it needs the person to reconnect.", body = Detail),
        (status = 415, description = "The body is not `application/json`.", body = Detail),
        (status = 422, description = "Not a valid selection: an unknown or duplicate id, none, more than 50, or a free/busy-only calendar.", body = Detail),
        (status = 502, description = "Google failed or refused the calendar list: the message says why.", body = Detail),
        GoogleOff,
    )
)]
#[put("/oauth2/google/calendars")]
pub(super) async fn select(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SelectBody>,
) -> Result<HttpResponse, ApiError> {
    let listing = calendars(&state, caller, Some(body.into_inner().selected)).await?;
    super::persist(&state.store).await?;
    Ok(HttpResponse::Ok().json(answer(listing)))
}
