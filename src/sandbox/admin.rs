//! The HTTP admin API under `/_sandbox`: the Rust control API over JSON, for
//! `impulses-gcal sandbox` and curl (routes and examples in the module docs of `sandbox`).

use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::fault::{Endpoint, Fault, Times};
use super::handle::refusal;
use super::model::{AccountId, EventId, EventPatch, EventSpec, EventStatus, EventTime};
use super::state::Consent;
use super::{Sandbox, SandboxError, SeedPlan};

type Control = web::Data<Sandbox>;

pub(super) fn answer<T: serde::Serialize>(result: Result<T, SandboxError>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(err) => refusal(&err),
    }
}

pub(super) fn time(value: &serde_json::Value) -> Result<EventTime, SandboxError> {
    EventTime::from_json(value)
}

#[derive(Deserialize)]
struct AccountIn {
    email: String,
    time_zone: String,
}

async fn create_account(control: Control, body: web::Json<AccountIn>) -> HttpResponse {
    answer(
        control
            .create_account(&body.email, &body.time_zone)
            .map(|sub| serde_json::json!({"sub": sub})),
    )
}

#[derive(Deserialize)]
struct SignInIn {
    sub: AccountId,
    #[serde(default)]
    consent: Consent,
}

async fn sign_in(control: Control, body: web::Json<SignInIn>) -> HttpResponse {
    let body = body.into_inner();
    answer(
        control
            .sign_in(&body.sub, body.consent)
            .map(|()| serde_json::json!({})),
    )
}

/// An event as the admin API takes it (Google's JSON shapes for the times).
#[derive(Deserialize)]
pub(super) struct EventIn {
    summary: String,
    description: Option<String>,
    start: serde_json::Value,
    end: serde_json::Value,
    #[serde(default)]
    recurrence: Vec<String>,
    #[serde(default)]
    status: EventStatus,
}

impl EventIn {
    pub(super) fn spec(self) -> Result<EventSpec, SandboxError> {
        let mut spec = EventSpec::new(self.summary, time(&self.start)?, time(&self.end)?)
            .recurrence(self.recurrence)
            .status(self.status);
        spec.description = self.description;
        Ok(spec)
    }
}

/// A partial update as the admin API takes it.
#[derive(Deserialize, Default)]
pub(super) struct PatchIn {
    summary: Option<String>,
    description: Option<String>,
    start: Option<serde_json::Value>,
    end: Option<serde_json::Value>,
    recurrence: Option<Vec<String>>,
    status: Option<EventStatus>,
}

impl PatchIn {
    pub(super) fn patch(self) -> Result<EventPatch, SandboxError> {
        Ok(EventPatch {
            summary: self.summary,
            description: self.description.map(Some),
            start: self.start.as_ref().map(time).transpose()?,
            end: self.end.as_ref().map(time).transpose()?,
            recurrence: self.recurrence,
            status: self.status,
        })
    }
}

async fn insert_event(
    control: Control,
    sub: web::Path<AccountId>,
    body: web::Json<EventIn>,
) -> HttpResponse {
    let result = body
        .into_inner()
        .spec()
        .and_then(|spec| control.insert_event(&sub, spec));
    answer(result.map(|id| serde_json::json!({"id": id})))
}

async fn patch_event(
    control: Control,
    path: web::Path<(AccountId, EventId)>,
    body: web::Json<PatchIn>,
) -> HttpResponse {
    let (sub, id) = path.into_inner();
    let result = body
        .into_inner()
        .patch()
        .and_then(|patch| control.patch_event(&sub, &id, patch));
    answer(result.map(|()| serde_json::json!({"id": id})))
}

async fn delete_event(control: Control, path: web::Path<(AccountId, EventId)>) -> HttpResponse {
    let (sub, id) = path.into_inner();
    answer(
        control
            .delete_event(&sub, &id)
            .map(|()| serde_json::json!({})),
    )
}

/// One occurrence to edit or cancel.
#[derive(Deserialize)]
pub(super) struct OccurrenceIn {
    pub original_start: serde_json::Value,
    #[serde(default)]
    pub patch: Option<PatchIn>,
    #[serde(default)]
    pub cancel: bool,
}

async fn occurrence(
    control: Control,
    path: web::Path<(AccountId, EventId)>,
    body: web::Json<OccurrenceIn>,
) -> HttpResponse {
    let (sub, id) = path.into_inner();
    let body = body.into_inner();
    let result = time(&body.original_start).and_then(|original| {
        if body.cancel {
            return control.cancel_occurrence(&sub, &id, original);
        }
        let patch = body.patch.unwrap_or_default().patch()?;
        control.patch_occurrence(&sub, &id, original, patch)
    });
    answer(result.map(|id| serde_json::json!({"id": id})))
}

#[derive(Deserialize)]
struct SeedIn {
    count: usize,
    start: Option<String>,
    every_minutes: Option<u64>,
    length_minutes: Option<u64>,
    #[serde(default)]
    all_day_every: usize,
    #[serde(default)]
    weekly_every: usize,
}

async fn seed(
    control: Control,
    sub: web::Path<AccountId>,
    body: web::Json<SeedIn>,
) -> HttpResponse {
    let first = match body.start.as_deref().map(DateTime::parse_from_rfc3339) {
        None => control.now(),
        Some(Ok(at)) => at.with_timezone(&Utc),
        Some(Err(_)) => return refusal(&SandboxError::Invalid("start must be RFC 3339".into())),
    };
    let mut plan = SeedPlan::new(body.count, first);
    plan.every = Duration::from_secs(60 * body.every_minutes.unwrap_or(60));
    plan.length = Duration::from_secs(60 * body.length_minutes.unwrap_or(30));
    plan.all_day_every = body.all_day_every;
    plan.weekly_every = body.weekly_every;
    answer(
        control
            .seed(&sub, &plan)
            .map(|ids| serde_json::json!({"count": ids.len()})),
    )
}

async fn invalidate(control: Control, sub: web::Path<AccountId>) -> HttpResponse {
    answer(
        control
            .invalidate_sync_tokens(&sub)
            .map(|()| serde_json::json!({})),
    )
}

async fn expire(control: Control, sub: web::Path<AccountId>) -> HttpResponse {
    answer(
        control
            .expire_access_tokens(&sub)
            .map(|()| serde_json::json!({})),
    )
}

async fn revoke(control: Control, sub: web::Path<AccountId>) -> HttpResponse {
    answer(control.revoke_account(&sub).map(|()| serde_json::json!({})))
}

#[derive(Deserialize)]
struct FaultIn {
    endpoint: Endpoint,
    account: Option<AccountId>,
    status: Option<u16>,
    reason: Option<String>,
    retry_after: Option<u64>,
    latency_ms: Option<u64>,
    #[serde(default)]
    drop_connection: bool,
    #[serde(default)]
    duplicate: bool,
    times: Option<Times>,
}

async fn inject(control: Control, body: web::Json<FaultIn>) -> HttpResponse {
    let body = body.into_inner();
    control.inject_fault(Fault {
        endpoint: body.endpoint,
        account: body.account,
        status: body.status,
        reason: body.reason.unwrap_or_default(),
        retry_after: body.retry_after,
        latency: body.latency_ms.map(Duration::from_millis),
        drop_connection: body.drop_connection,
        duplicate: body.duplicate,
        times: body.times.unwrap_or(Times::Once),
    });
    HttpResponse::Ok().json(serde_json::json!({}))
}

async fn clear(control: Control) -> HttpResponse {
    control.clear_faults();
    HttpResponse::Ok().json(serde_json::json!({}))
}

#[derive(Deserialize)]
struct ClockIn {
    seconds: u64,
}

async fn advance(control: Control, body: web::Json<ClockIn>) -> HttpResponse {
    control.advance_clock(Duration::from_secs(body.seconds));
    HttpResponse::Ok().json(serde_json::json!({"now": control.now().to_rfc3339()}))
}

/// Registers the admin routes; malformed JSON answers 400 `{"detail": …}`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .content_type_required(false)
        .error_handler(|err, _| {
            let detail = serde_json::json!({"detail": err.to_string()});
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::BadRequest().json(detail),
            )
            .into()
        });
    cfg.app_data(json)
        .route("/accounts", web::post().to(create_account))
        .route("/sign-in", web::post().to(sign_in))
        .route("/accounts/{sub}/events", web::post().to(insert_event))
        .route("/accounts/{sub}/events/{id}", web::patch().to(patch_event))
        .route(
            "/accounts/{sub}/events/{id}",
            web::delete().to(delete_event),
        )
        .route(
            "/accounts/{sub}/events/{id}/occurrence",
            web::post().to(occurrence),
        )
        .route("/accounts/{sub}/seed", web::post().to(seed))
        .route(
            "/accounts/{sub}/invalidate-sync-tokens",
            web::post().to(invalidate),
        )
        .route(
            "/accounts/{sub}/expire-access-tokens",
            web::post().to(expire),
        )
        .route("/accounts/{sub}/revoke", web::post().to(revoke))
        .route("/faults", web::post().to(inject))
        .route("/faults", web::delete().to(clear))
        .route(
            "/counters",
            web::get().to(|c: Control| async move { HttpResponse::Ok().json(c.counters()) }),
        )
        .route(
            "/violations",
            web::get().to(|c: Control| async move { HttpResponse::Ok().json(c.violations()) }),
        )
        .route("/clock/advance", web::post().to(advance))
        .route(
            "/channels",
            web::get().to(|c: Control| async move { HttpResponse::Ok().json(c.channels()) }),
        )
        .configure(super::admin_calendars::routes)
        .route(
            "/client_secret.json",
            web::get()
                .to(|c: Control| async move { HttpResponse::Ok().json(c.client_secret_json()) }),
        );
}
