//! The admin API's calendar routes: several calendars per account, sharing, and the events of a
//! calendar addressed by its id. Calendar ids hold `@`; a path may carry it as `%40`, which the
//! router decodes before the id is looked up.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::admin::{answer, time, EventIn, OccurrenceIn, PatchIn};
use super::model::{AccountId, CalendarId, EventId};
use super::Sandbox;

type Control = web::Data<Sandbox>;

#[derive(Deserialize)]
struct CalendarIn {
    summary: String,
    time_zone: String,
}

async fn create(
    control: Control,
    sub: web::Path<AccountId>,
    body: web::Json<CalendarIn>,
) -> HttpResponse {
    answer(
        control
            .create_calendar(&sub, &body.summary, &body.time_zone)
            .map(|id| serde_json::json!({"id": id})),
    )
}

async fn list(control: Control, sub: web::Path<AccountId>) -> HttpResponse {
    answer(control.calendar_list(&sub))
}

async fn delete(control: Control, calendar: web::Path<CalendarId>) -> HttpResponse {
    answer(
        control
            .delete_calendar(&calendar)
            .map(|()| serde_json::json!({})),
    )
}

#[derive(Deserialize)]
struct ShareIn {
    with: AccountId,
    role: String,
    summary_override: Option<String>,
}

async fn share(
    control: Control,
    calendar: web::Path<CalendarId>,
    body: web::Json<ShareIn>,
) -> HttpResponse {
    let result = control.share_calendar(
        &calendar,
        &body.with,
        &body.role,
        body.summary_override.as_deref(),
    );
    answer(result.map(|()| serde_json::json!({})))
}

async fn unshare(control: Control, path: web::Path<(CalendarId, AccountId)>) -> HttpResponse {
    let (calendar, sub) = path.into_inner();
    answer(
        control
            .unshare_calendar(&calendar, &sub)
            .map(|()| serde_json::json!({})),
    )
}

async fn insert_event(
    control: Control,
    calendar: web::Path<CalendarId>,
    body: web::Json<EventIn>,
) -> HttpResponse {
    let result = body
        .into_inner()
        .spec()
        .and_then(|spec| control.insert_event_in(&calendar, spec));
    answer(result.map(|id| serde_json::json!({"id": id})))
}

async fn patch_event(
    control: Control,
    path: web::Path<(CalendarId, EventId)>,
    body: web::Json<PatchIn>,
) -> HttpResponse {
    let (calendar, id) = path.into_inner();
    let result = body
        .into_inner()
        .patch()
        .and_then(|patch| control.patch_event_in(&calendar, &id, patch));
    answer(result.map(|()| serde_json::json!({"id": id})))
}

async fn delete_event(control: Control, path: web::Path<(CalendarId, EventId)>) -> HttpResponse {
    let (calendar, id) = path.into_inner();
    answer(
        control
            .delete_event_in(&calendar, &id)
            .map(|()| serde_json::json!({})),
    )
}

async fn occurrence(
    control: Control,
    path: web::Path<(CalendarId, EventId)>,
    body: web::Json<OccurrenceIn>,
) -> HttpResponse {
    let (calendar, id) = path.into_inner();
    let body = body.into_inner();
    let result = time(&body.original_start).and_then(|original| {
        if body.cancel {
            return control.cancel_occurrence_in(&calendar, &id, original);
        }
        let patch = body.patch.unwrap_or_default().patch()?;
        control.patch_occurrence_in(&calendar, &id, original, patch)
    });
    answer(result.map(|id| serde_json::json!({"id": id})))
}

#[derive(Deserialize)]
struct CopyIn {
    to: CalendarId,
}

async fn copy(
    control: Control,
    path: web::Path<(CalendarId, EventId)>,
    body: web::Json<CopyIn>,
) -> HttpResponse {
    let (calendar, id) = path.into_inner();
    answer(
        control
            .copy_event(&calendar, &id, &body.to)
            .map(|()| serde_json::json!({"id": id})),
    )
}

async fn invalidate(control: Control, calendar: web::Path<CalendarId>) -> HttpResponse {
    answer(
        control
            .invalidate_calendar_sync_tokens(&calendar)
            .map(|()| serde_json::json!({})),
    )
}

/// Registers the calendar routes inside the admin scope (which supplies the JSON error handler).
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts/{sub}/calendars", web::post().to(create))
        .route("/accounts/{sub}/calendars", web::get().to(list))
        .route("/calendars/{calendar}", web::delete().to(delete))
        .route("/calendars/{calendar}/share", web::post().to(share))
        .route(
            "/calendars/{calendar}/share/{sub}",
            web::delete().to(unshare),
        )
        .route("/calendars/{calendar}/events", web::post().to(insert_event))
        .route(
            "/calendars/{calendar}/events/{id}",
            web::patch().to(patch_event),
        )
        .route(
            "/calendars/{calendar}/events/{id}",
            web::delete().to(delete_event),
        )
        .route(
            "/calendars/{calendar}/events/{id}/occurrence",
            web::post().to(occurrence),
        )
        .route(
            "/calendars/{calendar}/events/{id}/copy",
            web::post().to(copy),
        )
        .route(
            "/calendars/{calendar}/invalidate-sync-tokens",
            web::post().to(invalidate),
        );
}
