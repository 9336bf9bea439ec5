//! Serving one page of a listing: decide its length (short pages when configured), hand out the
//! next page token or, on the last page only, the sync token, then render outside the lock.

use actix_web::HttpResponse;
use rand::Rng;

use super::directory::Role;
use super::error;
use super::model::etag;
use super::params::ListRequest;
use super::render::{stamp, Items, ListJson, RenderContext};
use super::state::{Cursor, Shared, State, SyncRecord};
use super::token;

/// How many items the next page holds: the asked size, or in short-pages mode sometimes none
/// and sometimes fewer, while more remain (GOOGLE_APIS.md: only `nextPageToken` means "more").
fn page_len(state: &mut State, asked: usize) -> usize {
    let Some(rng) = state.page_rng.as_mut() else {
        return asked;
    };
    if rng.gen_ratio(1, 4) {
        0
    } else {
        rng.gen_range(1..=asked.max(1))
    }
}

/// The token that follows a page ending at `end`: a page token while items remain, else (last
/// page only) the sync token, reused unchanged when an incremental sync found nothing new.
fn follow_up(state: &mut State, cursor: &Cursor, end: usize) -> (Option<String>, Option<String>) {
    if end < cursor.items.len() {
        let next = token::opaque();
        let rest = Cursor {
            offset: end,
            ..cursor.clone()
        };
        state.page_tokens.insert(next.clone(), rest);
        return (Some(next), None);
    }
    let sync = cursor.same_token.clone().unwrap_or_else(|| {
        let fresh = token::opaque();
        let record = SyncRecord {
            account: cursor.account.clone(),
            calendar: cursor.calendar.clone(),
            seq: cursor.sync_seq,
            epoch: cursor.epoch,
            calendar_epoch: cursor.calendar_epoch,
            params: cursor.params.clone(),
        };
        state.sync_tokens.insert(fresh.clone(), record);
        fresh
    });
    (None, Some(sync))
}

/// What the envelope says about the calendar: its id and summary, its owner's e-mail, zone,
/// last change and its seq.
struct CalendarHead {
    id: String,
    summary: String,
    owner_email: String,
    zone: &'static str,
    updated: chrono::DateTime<chrono::Utc>,
    seq: u64,
}

/// Answers one page of `cursor`'s flow, as `role` may see it.
pub(crate) fn serve(
    shared: &Shared,
    cursor: Cursor,
    request: &ListRequest,
    role: Role,
) -> HttpResponse {
    let mut state = shared.lock();
    let len = page_len(&mut state, request.page_size);
    let start = cursor.offset.min(cursor.items.len());
    let end = (start + len).min(cursor.items.len());
    let (next_page, next_sync) = follow_up(&mut state, &cursor, end);
    state.counters.pages_served += 1;
    state.counters.items_served += (end - start) as u64;
    let now = state.now();
    let Ok(calendar) = state.calendar(&cursor.calendar) else {
        return error::calendar(404, "notFound", "Not Found");
    };
    let Ok(owner) = state.account(&calendar.owner) else {
        return error::calendar(404, "notFound", "Not Found");
    };
    let head = CalendarHead {
        id: calendar.id.as_str().to_string(),
        summary: calendar.summary.clone(),
        owner_email: owner.email.clone(),
        zone: calendar.zone.name(),
        updated: calendar.events.updated.unwrap_or(now),
        seq: calendar.events.seq,
    };
    let is_owner = calendar.owner == cursor.account;
    drop(state);

    let slice = &cursor.items[start..end];
    let ctx = RenderContext {
        calendar: &head.id,
        creator: &head.owner_email,
        is_owner,
        hide_details: role.hides_details(),
        base_url: &shared.base_url,
        display: request.display,
    };
    let body = ListJson {
        kind: "calendar#events",
        etag: etag(head.updated, head.seq),
        summary: &head.summary,
        updated: stamp(head.updated),
        time_zone: head.zone,
        access_role: role.as_str(),
        default_reminders: serde_json::json!([{"method": "popup", "minutes": 30}]),
        next_page_token: next_page.as_deref(),
        items: Items {
            items: slice,
            ctx: &ctx,
        },
        next_sync_token: next_sync.as_deref(),
    };
    // Room for the whole page up front (an item is 700–900 bytes), so the buffer is not
    // copied again and again as it grows.
    let mut bytes = Vec::with_capacity(1024 + slice.len() * 1024);
    match serde_json::to_writer(&mut bytes, &body) {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/json; charset=UTF-8")
            .body(bytes),
        Err(err) => {
            log::error!("sandbox: cannot serialize a page: {err}");
            error::calendar(500, "backendError", "Backend Error")
        }
    }
}
