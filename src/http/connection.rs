//! What a data token may do with its own Google connection besides the OAuth flow: sync it now
//! (`POST /oauth2/google/sync`, at most once per [`MIN_SYNC_INTERVAL`]) and read which `#!`
//! events gave no datapoint and why (`GET /oauth2/google/skipped`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::google::{connected_caller, google, not_connected, Caller};
use super::openapi::{DataTokenHeader, DataTokenRefused, Detail, GoogleOff};
use super::{ApiError, AppState};
use crate::store::SkipNotice;
use crate::token::TokenId;

/// The least time between two syncs a data token asks for.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(10);

/// How many skipped events the route answers at most.
const MAX_SKIPPED: usize = 200;

/// When each data token last started a sync of its own, across all workers.
#[derive(Clone, Default)]
pub struct SyncLimiter(Arc<Mutex<HashMap<TokenId, Instant>>>);

/// How long to wait before another sync, if `last` was too recent at `now`.
fn wait_left(last: Option<Instant>, now: Instant, min: Duration) -> Option<Duration> {
    let since = now.saturating_duration_since(last?);
    (since < min).then(|| min - since)
}

impl SyncLimiter {
    /// Takes the token's turn at `now`, or tells how long until its next one.
    pub fn claim(&self, token: &TokenId, now: Instant) -> Result<(), Duration> {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = wait_left(last.get(token).copied(), now, MIN_SYNC_INTERVAL) {
            return Err(wait);
        }
        if last.len() >= 1024 {
            last.retain(|_, t| now.saturating_duration_since(*t) < MIN_SYNC_INTERVAL);
        }
        last.insert(token.clone(), now);
        Ok(())
    }

    /// Gives the turn back, when the sync could not start.
    pub fn release(&self, token: &TokenId) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }
}

/// Starts a sync of the caller's own connection now (or right after the one running). A second
/// call within 10 seconds is refused with 429 and `Retry-After`.
#[utoipa::path(
    tag = "google",
    operation_id = "sync_connection",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 202, description = "The sync started.", body = Detail,
            example = json!({"detail": "sync started"})),
        DataTokenRefused,
        (status = 409, description = "The token has no Google connection, or it needs the person to reconnect.", body = Detail),
        (status = 429, description = "A sync was started less than 10 seconds ago.", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        GoogleOff,
    )
)]
#[post("/oauth2/google/sync")]
pub(super) async fn sync_now(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (sync, id) = connected_caller(&state, caller)?;
    sync.own_syncs.claim(&id, Instant::now()).map_err(|wait| {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooManyRequests {
            detail: format!("a sync was started moments ago; try again in {secs} s"),
            retry_after: secs,
        }
    })?;
    match sync.sync_now(id.clone()).await {
        Ok(true) => Ok(HttpResponse::Accepted().json(Detail {
            detail: "sync started".into(),
        })),
        Ok(false) => {
            sync.own_syncs.release(&id);
            Err(not_connected())
        }
        Err(e) => {
            sync.own_syncs.release(&id);
            Err(e)
        }
    }
}

/// One skipped event, with the calendar it is in.
#[derive(Serialize, ToSchema)]
struct SkippedEvent {
    /// `primary` or the Google calendar id.
    calendar_id: String,
    #[serde(flatten)]
    notice: SkipNotice,
}

/// The skipped events of a connection.
#[derive(Serialize, ToSchema)]
struct SkippedEvents {
    /// Newest first, at most 200.
    events: Vec<SkippedEvent>,
}

/// The `#!` events of the caller's connection that gave no datapoint, and why: a person can fix
/// them in Google Calendar instead of guessing. Kept per calendar with each sync, replaced by a
/// full sync, and an event leaves the list once a sync sees it fixed or deleted.
#[utoipa::path(
    tag = "google",
    operation_id = "skipped_events",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "The skipped events (none when not connected).", body = SkippedEvents),
        DataTokenRefused,
        GoogleOff,
    )
)]
#[get("/oauth2/google/skipped")]
pub(super) async fn skipped(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    google(&state)?;
    let caller = caller?;
    caller.require_read()?;
    let selection = state.store.selection(&caller.0.id)?;
    let mut events: Vec<SkippedEvent> = selection
        .calendars
        .into_iter()
        .flat_map(|c| {
            let calendar_id = c.calendar_id;
            c.skip_notices.into_iter().map(move |notice| SkippedEvent {
                calendar_id: calendar_id.clone(),
                notice,
            })
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.notice.seen_at));
    events.truncate(MAX_SKIPPED);
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(SkippedEvents { events }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sync_within_the_interval_waits_for_the_rest_of_it() {
        let t0 = Instant::now();
        let min = Duration::from_secs(10);
        assert_eq!(wait_left(None, t0, min), None);
        assert_eq!(wait_left(Some(t0), t0, min), Some(min));
        assert_eq!(
            wait_left(Some(t0), t0 + Duration::from_secs(4), min),
            Some(Duration::from_secs(6))
        );
        assert_eq!(wait_left(Some(t0), t0 + min, min), None);
        let limiter = SyncLimiter::default();
        let (a, b) = (TokenId::generate(), TokenId::generate());
        assert!(limiter.claim(&a, t0).is_ok());
        assert!(limiter.claim(&b, t0).is_ok());
        assert!(limiter.claim(&a, t0 + Duration::from_secs(1)).is_err());
        limiter.release(&a);
        assert!(limiter.claim(&a, t0 + Duration::from_secs(1)).is_ok());
        assert!(limiter.claim(&a, t0 + Duration::from_secs(11)).is_ok());
    }
}
