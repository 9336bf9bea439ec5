//! One calendar's share of a token's sync, as plain async code: page through events.list (full
//! or incremental), convert, and hand the result to the metric writer as one commit.
//!
//! Paging overlaps: as soon as a page names the next one, the next request goes out, and the
//! page is converted while its answer is on the way (a 50,000-event sync against the sandbox:
//! about 25 % faster). A failure of that request is handled as if it had been made afterwards.

use std::sync::Arc;
use std::time::Duration;

use super::schedule::{backoff_delay, jitter_unit, MAX_IN_SYNC_DELAY};
use super::sync_job::{refresh, Stop};
use super::SyncDeps;
use crate::convert::{convert_event, ignored_values, short_title, Conversion, ConvertContext};
use crate::google::calendar::{fetch_page, PageRequest};
use crate::google::error::{Disposition, GoogleError};
use crate::google::model::{Event, EventsPage};
use crate::store::skip_notices::MAX_SKIP_NOTICES;
use crate::store::{
    Changes, GoogleCredentials, SkipNotice, StoreError, SyncCommit, SyncCommitStats, SyncState,
};
use crate::token::{now_secs, TokenId};

/// A full sync is forced when the last one is older than this, so occurrences that were beyond
/// the recurrence horizon come into it (incremental answers never return unchanged events).
pub const FULL_RESYNC_AFTER_SECS: i64 = 7 * 24 * 3600;

/// What one calendar's committed sync did.
#[derive(Debug, Clone)]
pub struct CalendarSynced {
    /// Whether it was a full sync.
    pub full: bool,
    /// What the commit did.
    pub stats: SyncCommitStats,
    /// The calendar's state now stored.
    pub state: SyncState,
    /// Items Google returned.
    pub items: usize,
    /// Pages fetched.
    pub pages: u32,
}

/// Whom a calendar sync is for.
pub(super) struct Target<'a> {
    pub token: &'a TokenId,
    pub user: &'a str,
    /// The lease epoch its commits carry ([`SyncCommit::fence`]).
    pub fence: Option<crate::store::fleet::Epoch>,
}

/// Syncs one calendar and commits it. `refreshed_after_401` is shared by the token's calendars,
/// so one sync refreshes on a 401 at most once.
pub(super) async fn sync_calendar(
    deps: &SyncDeps,
    target: &Target<'_>,
    creds: &mut Arc<GoogleCredentials>,
    state: &SyncState,
    refreshed_after_401: &mut bool,
) -> Result<CalendarSynced, Stop> {
    let token = target.token;
    let calendar = state.calendar_id.as_str();
    let stale_full = state
        .last_full_sync_at
        .is_none_or(|t| now_secs() - t > FULL_RESYNC_AFTER_SECS);
    let mut full = state.sync_token.is_none() || stale_full;
    'sync: loop {
        let mut acc = Accumulator::new(
            full,
            state.time_zone.clone(),
            deps.settings.recurrence_horizon,
            Changes::new(target.user, token),
        );
        let mut page_token: Option<String> = None;
        // The answer for `page_token`, when it was fetched while the page before was converted.
        let mut fetched: Option<Result<EventsPage, GoogleError>> = None;
        let next_sync_token = loop {
            lease_held(deps)?;
            let request = match (&page_token, full, &state.sync_token) {
                (Some(p), _, _) => PageRequest::Next(p),
                (None, false, Some(t)) => PageRequest::Incremental(t),
                _ => PageRequest::Full,
            };
            let answer = match fetched.take() {
                Some(answer) => answer,
                None => fetch_with_retry(deps, creds, calendar, request).await,
            };
            match answer {
                Ok(page) => match (page.next_page_token.clone(), page.next_sync_token.clone()) {
                    (Some(p), _) => {
                        lease_held(deps)?;
                        // Ask for the next page first, then convert this one while the answer
                        // is on its way (`join` polls the request first, so it is sent).
                        let (next, added) = futures_util::future::join(
                            fetch_with_retry(deps, creds, calendar, PageRequest::Next(&p)),
                            add_page(acc, page),
                        )
                        .await;
                        acc = added?;
                        fetched = Some(next);
                        page_token = Some(p);
                    }
                    (None, Some(s)) => {
                        acc.add(page);
                        break s;
                    }
                    (None, None) => {
                        return Err(GoogleError::Protocol(
                            "the last page carries no nextSyncToken".into(),
                        )
                        .into());
                    }
                },
                Err(e) => match e.disposition() {
                    Disposition::FullSync if !full => {
                        log::info!(
                            "token {token}: calendar {calendar}: sync token expired (410), doing a full sync"
                        );
                        full = true;
                        continue 'sync;
                    }
                    Disposition::Refresh if !*refreshed_after_401 => {
                        *refreshed_after_401 = true;
                        refresh(deps, token, Arc::make_mut(creds)).await?;
                    }
                    _ => return Err(e.into()),
                },
            }
        };
        return commit(deps, target, creds, state, acc, next_sync_token).await;
    }
}

async fn commit(
    deps: &SyncDeps,
    target: &Target<'_>,
    creds: &GoogleCredentials,
    previous: &SyncState,
    acc: Accumulator,
    sync_token: String,
) -> Result<CalendarSynced, Stop> {
    let now = now_secs();
    if acc.nothing_new(previous, &sync_token) {
        // Google answered "no change" with the very token stored (it often does): the stored
        // state already is this sync's, but for the time of this success, which the actor
        // shows and the next commit that writes stores. Nothing to write, so no round trip
        // to the writer: most polls end here.
        return Ok(CalendarSynced {
            full: false,
            stats: SyncCommitStats {
                events: previous.events,
                datapoints: previous.datapoints,
                ..SyncCommitStats::default()
            },
            state: SyncState {
                last_success_at: Some(now),
                ..previous.clone()
            },
            items: 0,
            pages: acc.pages,
        });
    }
    let state = SyncState {
        slot: previous.slot,
        calendar_id: previous.calendar_id.clone(),
        sync_token: Some(sync_token),
        time_zone: acc.time_zone.clone(),
        last_success_at: Some(now),
        last_full_sync_at: if acc.full {
            Some(now)
        } else {
            previous.last_full_sync_at
        },
        skipped: acc.skipped,
        ..SyncState::default()
    };
    let (full, items, pages) = (acc.full, acc.items, acc.pages);
    let commit = SyncCommit {
        connection_id: creds.connection_id.clone(),
        full,
        changes: acc.changes,
        state: state.clone(),
        notices: acc.notices,
        fence: target.fence,
    };
    match deps.commits.commit(&deps.writer, commit).await {
        Some(Ok(stats)) => Ok(CalendarSynced {
            full,
            stats,
            state: SyncState {
                events: stats.events,
                datapoints: stats.datapoints,
                ..state
            },
            items,
            pages,
        }),
        Some(Err(StoreError::Stale | StoreError::LeaseLost)) => Err(Stop::Stale),
        Some(Err(StoreError::Deselected)) => Err(Stop::Deselected),
        Some(Err(e)) => Err(Stop::Store(format!("could not store the sync: {e}"))),
        None => Err(Stop::Store("metric writer unavailable".into())),
    }
}

/// Pages with at least this many items are converted off the sync's thread.
const OFFLOAD_ITEMS: usize = 250;

/// Converts `page` into `acc` while the next page is on its way. A big page is converted on a
/// blocking thread, so its conversion and encoding run on another core while this thread
/// receives and parses the next page (a 50,000-event full sync spent as long converting and
/// encoding as parsing, all on one thread); a small one inline, where a hand-off between threads
/// would cost more than the work.
async fn add_page(mut acc: Accumulator, page: EventsPage) -> Result<Accumulator, Stop> {
    if page.items.len() < OFFLOAD_ITEMS {
        acc.add(page);
        return Ok(acc);
    }
    match actix_web::rt::task::spawn_blocking(move || {
        acc.add(page);
        acc
    })
    .await
    {
        Ok(acc) => Ok(acc),
        // A panic in the conversion is the sync's own, caught where its other panics are.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Stop::Store(
            "the page's conversion was cancelled (shutting down)".into(),
        )),
    }
}

/// Gathers the changes of all pages of one sync.
struct Accumulator {
    full: bool,
    time_zone: Option<String>,
    horizon: Duration,
    /// The changes so far, encoded for the store as each page is converted.
    changes: Changes,
    items: usize,
    pages: u32,
    skipped: u64,
    /// The skipped events, to show the person (at most [`MAX_SKIP_NOTICES`]).
    notices: Vec<SkipNotice>,
}

impl Accumulator {
    fn new(full: bool, time_zone: Option<String>, horizon: Duration, changes: Changes) -> Self {
        Self {
            full,
            time_zone,
            horizon,
            changes,
            items: 0,
            pages: 0,
            skipped: 0,
            notices: Vec::new(),
        }
    }

    /// Whether this incremental sync found nothing and ends on the stored token, so that
    /// committing it would store exactly what is stored.
    fn nothing_new(&self, previous: &SyncState, sync_token: &str) -> bool {
        !self.full
            && self.items == 0
            && previous.sync_token.as_deref() == Some(sync_token)
            && self.time_zone == previous.time_zone
            && previous.skipped == 0
    }

    fn add(&mut self, mut page: EventsPage) {
        self.pages += 1;
        self.items += page.items.len();
        if page.time_zone.is_some() {
            self.time_zone = page.time_zone.clone();
        }
        let horizon_end_ms =
            chrono::Utc::now().timestamp_millis() + self.horizon.as_millis() as i64;
        let mut ctx = ConvertContext::for_page(&page, Some(horizon_end_ms));
        if ctx.calendar_time_zone.is_none() {
            ctx.calendar_time_zone = self
                .time_zone
                .as_deref()
                .and_then(crate::convert::parse_time_zone);
        }
        // By reference, taking only each id: moving every event out of the page copied it
        // whole, a few hundred bytes each.
        for event in page.items.iter_mut() {
            let points = match convert_event(event, &ctx) {
                Conversion::Points(p) => {
                    let customs = p.len().saturating_sub(1);
                    if self.notices.len() < MAX_SKIP_NOTICES {
                        if let Some(reason) = ignored_values(event, customs) {
                            self.notices.push(notice(event, &ctx, reason));
                        }
                    }
                    p
                }
                Conversion::NotAMeasurement => Vec::new(),
                Conversion::Skipped(reason) => {
                    if !reason.is_beyond_horizon() {
                        self.skipped += 1;
                        log::debug!("event {}: skipped: {reason}", event.id);
                    }
                    if reason.is_malformed() && self.notices.len() < MAX_SKIP_NOTICES {
                        self.notices.push(notice(event, &ctx, reason.to_string()));
                    }
                    Vec::new()
                }
            };
            // A full sync replaces everything, so events without datapoints need no entry; an
            // incremental one must remove what they produced before.
            if self.full && points.is_empty() {
                self.changes.remove(&event.id);
                continue;
            }
            self.changes.push(std::mem::take(&mut event.id), &points);
        }
    }
}

/// What the person sees of an event that gave no datapoint, or only some.
fn notice(event: &Event, ctx: &ConvertContext, reason: String) -> SkipNotice {
    SkipNotice {
        event_id: event.id.clone(),
        title: short_title(event),
        start: ctx.start_ms(event),
        reason,
        seen_at: chrono::Utc::now().timestamp_millis(),
    }
}

/// On a fleet, stops the sync before it asks Google for another page once this node's leases may
/// have run out (a node paused past them and woken up): another node may be syncing the account.
fn lease_held(deps: &SyncDeps) -> Result<(), Stop> {
    match &deps.lease_clock {
        Some(clock) if !clock.is_valid() => Err(Stop::Stale),
        _ => Ok(()),
    }
}

async fn fetch_with_retry(
    deps: &SyncDeps,
    creds: &GoogleCredentials,
    calendar: &str,
    request: PageRequest<'_>,
) -> Result<EventsPage, GoogleError> {
    let base = &deps.settings.calendar_api_base;
    let mut attempt = 0;
    loop {
        match fetch_page(&deps.http, base, calendar, &creds.access_token, request).await {
            Err(e) => match e.disposition() {
                Disposition::Retry { after } if attempt < deps.settings.max_retries => {
                    attempt += 1;
                    let delay = backoff_delay(attempt, after, MAX_IN_SYNC_DELAY, jitter_unit());
                    if delay > MAX_IN_SYNC_DELAY {
                        return Err(e);
                    }
                    log::debug!("events.list failed ({e}); retry {attempt} in {delay:?}");
                    actix_web::rt::time::sleep(delay).await;
                }
                _ => return Err(e),
            },
            ok => return ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::scenario_tests::event;
    use crate::token::TokenId;

    fn page(n: usize) -> EventsPage {
        let run = event(
            "#!Running",
            "2026-03-02T07:00:00+01:00",
            "2026-03-02T07:45:00+01:00",
            Some("distance=5"),
        );
        EventsPage {
            items: (0..n)
                .map(|i| Event {
                    id: format!("e{i}"),
                    ..run.clone()
                })
                .collect(),
            ..EventsPage::default()
        }
    }

    fn accumulator() -> Accumulator {
        let token = TokenId::generate();
        Accumulator::new(
            true,
            Some("Europe/Warsaw".into()),
            Duration::from_secs(365 * 24 * 3600),
            Changes::new("ann", &token),
        )
    }

    /// A big page goes to a blocking thread and a small one stays inline; both end in the same
    /// changes as converting inline would.
    #[test]
    fn a_page_converts_to_the_same_changes_on_either_thread() {
        for n in [OFFLOAD_ITEMS - 1, OFFLOAD_ITEMS, 3 * OFFLOAD_ITEMS] {
            let mut inline = accumulator();
            inline.add(page(n));
            let added = actix_web::rt::System::new()
                .block_on(add_page(accumulator(), page(n)))
                .unwrap_or_else(|_| panic!("the page of {n} was not converted"));
            assert_eq!(added.items, n);
            assert_eq!(added.changes.len(), n);
            // Each event: its duration and its distance.
            assert_eq!(added.changes.points(), 2 * n);
            assert!(added.changes.ids().eq(inline.changes.ids()), "{n} items");
            assert_eq!(added.changes.points(), inline.changes.points());
        }
    }
}
