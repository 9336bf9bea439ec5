//! The sandbox Google: a faithful, stateful Google OAuth 2.0 + Calendar v3 (`events.list`) on
//! loopback over plain HTTP, for integration tests, benchmarks and `impulses-gcal sandbox`, with
//! `calendarList.list`, several calendars per account (own, shared, deleted), and push
//! notifications (`events.watch`, `channels.stop`, and the webhook calls they lead to).
//!
//! It follows `GOOGLE_APIS.md` (the page our client is built against): single-use PKCE-bound
//! codes, refresh-token families that revoke together, paged full syncs whose `nextSyncToken`
//! comes only on the last page, incremental syncs with tombstones, 410 `fullSyncRequired`, page
//! and sync tokens that always contain `+`, `/` and `=`, Google's error bodies, and recurring
//! series expanded with `singleEvents=true`. It counts what clients do ([`Counters`]) and records
//! what they do wrong ([`Sandbox::violations`]) so tests can fail on protocol mistakes.
//!
//! # Rust API
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use impulses_gcal::sandbox::{Sandbox, SandboxConfig, EventSpec, EventTime, Fault, Endpoint};
//! let sandbox = Sandbox::start(SandboxConfig::default())?;
//! let ann = sandbox.create_account("ann@example.com", "Europe/Warsaw")?;
//! let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 28).ok_or("date")?;
//! let next = chrono::NaiveDate::from_ymd_opt(2026, 3, 29).ok_or("date")?;
//! sandbox.insert_event(&ann, EventSpec::new("Trip", EventTime::AllDay(day), EventTime::AllDay(next)))?;
//! sandbox.inject_fault(Fault::error(Endpoint::List, 503, "backendError"));
//! // … point the client at sandbox.client_secret_json() and sandbox.calendar_api_base() …
//! sandbox.assert_no_violations();
//! sandbox.stop().await;
//! # Ok(()) }
//! ```
//!
//! # Push notifications
//! `POST {calendar_api_base}/calendars/{calendarId}/events/watch` (bearer auth and calendar
//! resolution as `events.list`) opens a channel and answers Google's `api#channel`
//! (`expiration` as a string of Unix ms); right after, the sandbox POSTs a `sync` message to its
//! address, then an `exists` message after every change of the calendar's events (any control
//! call: insert, patch, delete, occurrences, seed, copy into it) and `not_exists` when the
//! calendar is deleted, with the `X-Goog-Channel-ID`, `X-Goog-Channel-Token` (only with a
//! token), `X-Goog-Channel-Expiration` (HTTP date), `X-Goog-Resource-ID`, `X-Goog-Resource-URI`,
//! `X-Goog-Resource-State` and `X-Goog-Message-Number` headers and no body.
//! `POST {calendar_api_base}/channels/stop` `{"id","resourceId"}` ends a channel (204).
//! [`Sandbox::channels`] and [`Sandbox::live_channels`] show them ([`ChannelInfo`]); the
//! counters `watch_calls`, `channels_stopped`, `notifications_sent`, `notifications_failed`,
//! `notifications_dropped` and `notifications_by_state` count them; [`Endpoint::Watch`],
//! [`Endpoint::ChannelStop`] and [`Endpoint::Notification`] faults (drop, delay, duplicate)
//! disturb them. [`SandboxConfig::push_ttl_cap`] and [`SandboxConfig::push_retry_delays`] tune
//! lifetimes and retries.
//!
//! # HTTP admin API (same operations, for `impulses-gcal sandbox` and for curl)
//! All under `{base}/_sandbox`, JSON in and out; errors are `{"detail": "..."}` with 400/404.
//! ```text
//! curl -XPOST $B/_sandbox/accounts -d '{"email":"ann@example.com","time_zone":"Europe/Warsaw"}' -H 'content-type: application/json'
//!      → {"sub":"10…"}
//! curl -XPOST $B/_sandbox/sign-in -d '{"sub":"10…","consent":"grant_all"}'      # or "deny", {"grant_only":["…"]}
//! curl -XPOST $B/_sandbox/accounts/$SUB/events -d '{"summary":"Standup",
//!      "start":{"dateTime":"2026-03-02T07:00:00","timeZone":"Europe/Warsaw"},
//!      "end":{"dateTime":"2026-03-02T07:15:00","timeZone":"Europe/Warsaw"},
//!      "recurrence":["RRULE:FREQ=WEEKLY"]}'                                        → {"id":"…"}
//! curl -XPATCH  $B/_sandbox/accounts/$SUB/events/$ID -d '{"summary":"New title"}'
//! curl -XDELETE $B/_sandbox/accounts/$SUB/events/$ID
//! curl -XPOST $B/_sandbox/accounts/$SUB/events/$ID/occurrence -d '{"original_start":{"dateTime":"2026-03-09T07:00:00+01:00"},"patch":{"summary":"Moved"}}'
//! curl -XPOST $B/_sandbox/accounts/$SUB/events/$ID/occurrence -d '{"original_start":{"date":"2026-03-09"},"cancel":true}'
//! curl -XPOST $B/_sandbox/accounts/$SUB/seed -d '{"count":50000,"start":"2026-01-01T08:00:00Z","every_minutes":60,"length_minutes":30}'
//! curl -XPOST $B/_sandbox/accounts/$SUB/invalidate-sync-tokens
//! curl -XPOST $B/_sandbox/accounts/$SUB/calendars -d '{"summary":"Training","time_zone":"Europe/Warsaw"}'
//!      → {"id":"c_…@group.calendar.google.com"}
//! curl $B/_sandbox/accounts/$SUB/calendars
//!      → [{"id","summary","summary_override","time_zone","access_role","primary"}], primary first
//! # below, $CAL is a calendar id; its '@' may be sent as %40
//! curl -XDELETE $B/_sandbox/calendars/$CAL                  # not a primary calendar
//! curl -XPOST $B/_sandbox/calendars/$CAL/share -d '{"with":"<sub>","role":"reader","summary_override":"Reading"}'
//!      # roles: "owner", "writer", "reader", "freeBusyReader"
//! curl -XDELETE $B/_sandbox/calendars/$CAL/share/$SUB2
//! curl -XPOST $B/_sandbox/calendars/$CAL/events -d '{…same body as the account route…}'   → {"id":"…"}
//! curl -XPATCH  $B/_sandbox/calendars/$CAL/events/$ID -d '{"summary":"New title"}'
//! curl -XDELETE $B/_sandbox/calendars/$CAL/events/$ID
//! curl -XPOST $B/_sandbox/calendars/$CAL/events/$ID/occurrence -d '{"original_start":{"date":"2026-03-09"},"cancel":true}'
//! curl -XPOST $B/_sandbox/calendars/$CAL/events/$ID/copy -d '{"to":"<calendar id>"}'
//! curl -XPOST $B/_sandbox/calendars/$CAL/invalidate-sync-tokens
//! curl -XPOST $B/_sandbox/accounts/$SUB/expire-access-tokens
//! curl -XPOST $B/_sandbox/accounts/$SUB/revoke
//! curl -XPOST $B/_sandbox/faults -d '{"endpoint":"list","status":429,"reason":"rateLimitExceeded","retry_after":7,"times":{"n":3}}'
//!      # also "account", "latency_ms", "drop_connection":true, "times":"once"|"until_cleared";
//!      # endpoints: "auth", "token", "list", "listpage" (only requests with a pageToken),
//!      # "calendarlist", "userinfo", "revoke", "watch", "channelstop", and "notification"
//!      # (the sandbox's own webhook calls: "drop_connection":true drops one, "latency_ms"
//!      # delays it, "duplicate":true delivers it twice; "account" is the channel's account)
//! curl -XPOST $B/_sandbox/faults -d '{"endpoint":"watch","status":401,"reason":"push.webhookUrlUnauthorized"}'
//! curl $B/_sandbox/channels
//!      → [{"id","resource_id","calendar","account","address","token","expiration","state"}],
//!        oldest first; state "live" | "expired" | "stopped"
//! curl -XDELETE $B/_sandbox/faults
//! curl $B/_sandbox/counters
//! curl $B/_sandbox/violations
//! curl -XPOST $B/_sandbox/clock/advance -d '{"seconds":3600}'
//! curl $B/_sandbox/client_secret.json
//! ```
//!
//! # Choices where Google is silent (**Ours**)
//! - An unknown or outdated sync token answers 410; one whose `+` arrived as a space answers 410
//!   too and is recorded as a violation, as is a sync token of another account.
//! - An unknown page token answers 400 `invalid`.
//! - `singleEvents`/`showDeleted`/`maxResults`/`timeZone`/`eventTypes` differing from the token's
//!   full sync are recorded as a violation and the request is served as asked.
//! - A list call with a token that expired by the clock is a violation (clients refresh 60 s
//!   early); one expired through [`Sandbox::expire_access_tokens`] or revoked is not.
//! - The consent screen records a missing PKCE challenge as a violation (Google allows it, our
//!   client always sends one) but goes on.
//! - `showDeleted`, as Google documents it: with `singleEvents=true` a full sync omits cancelled
//!   occurrences unless `showDeleted=true`; with `singleEvents=false` cancelled exceptions are
//!   listed anyway. Incremental syncs list every change whatever `showDeleted` says.
//! - A series change that removes occurrences (shorter rule, new EXDATE, moved start) lists the
//!   removed instances as cancelled in incremental `singleEvents=true` syncs.
//! - Open-ended series expand up to [`SandboxConfig::recurrence_horizon`] (default two years)
//!   past the sandbox's now.
//! - `q` (every word in summary or description) and `iCalUID` filter full syncs; extended
//!   property filters and `eventTypes` (every sandbox event is `default`) are accepted and
//!   ignored.
//! - The newest 100,000 page tokens and 100,000 sync tokens are remembered; older ones answer as
//!   unknown, like tokens Google expired.
//! - Calendars: an account's list holds its primary (id and summary = its e-mail, zone = the
//!   account's), the calendars it created (`c_<hex>@group.calendar.google.com`, role `owner`)
//!   and those shared with it, in that order of creation or sharing. [`Sandbox::copy_event`]
//!   puts an event into another calendar under the same id and iCalUID, as an invitation; the
//!   copy is independent afterwards (a later patch or delete names one calendar).
//! - Account-addressed control calls act on the primary calendar; the account-wide
//!   [`Sandbox::invalidate_sync_tokens`] invalidates every token issued to the account, whatever
//!   the calendar, [`Sandbox::invalidate_calendar_sync_tokens`] every token of one calendar.
//! - A sync token of another calendar answers 410 and is a violation, like one of another
//!   account; a page token of another calendar or account answers 400 `invalid`.
//! - Sharing, unsharing or re-sharing does not invalidate sync tokens by itself (Google may).
//! - A `freeBusyReader` gets events without `summary` and `description`; everything else of the
//!   event stays. Events' `creator` is the calendar's owner, `organizer` the calendar.
//! - `calendarList.list` with a `syncToken` answers the whole current list again (deleted
//!   entries included), not only changes; an unknown one answers 410. `showHidden` is accepted
//!   and changes nothing (no entry is hidden). A deleted calendar stays in its owner's list with
//!   `deleted: true` under `showDeleted`, and leaves every other list.
//! - Push: a webhook address must be `https://`, except (**Ours**) `http://` to a loopback host
//!   (`127.0.0.1`, `[::1]`, `localhost`), accepted so local servers can be tested; any other
//!   `http://` answers 400 `push.webhookUrlNotHttps`. No certificate or domain check is made
//!   (arm a `watch` fault for 401 `push.webhookUrlUnauthorized`). `type` may be `web_hook` or
//!   `webhook`, as Google's reference says.
//! - Push: the granted expiration is the sooner of `params.ttl`, `expiration` and
//!   [`SandboxConfig::push_ttl_cap`] (7 days) from the sandbox's clock, in whole ms; an
//!   `expiration` already past answers 400 `invalid`. Channel ids must be unique among live
//!   channels only (anyone's): reusing a stopped or expired channel's id is fine. The
//!   `resourceId` is one random id per calendar; `resourceUri` names the calendar as the watch
//!   request did (`primary` stays `primary`).
//! - Push: the `sync` message is queued as the watch answers and may reach the address before
//!   the watch's answer reaches the caller. One control call that changes a calendar sends one
//!   `exists` (a seed of 50,000 events too); message numbers are consecutive per channel,
//!   from 1 (Google's only increase). Each channel's messages leave in order, one at a time;
//!   a failed attempt (not 200/201/202/204, or no answer) is retried after each of
//!   [`SandboxConfig::push_retry_delays`] and then dropped, holding back the channel's later
//!   messages meanwhile. A channel that stopped or expired before an attempt sends nothing
//!   more (not counted as dropped). Deleting a calendar sends `not_exists` to its live
//!   channels, which stay live until they expire or stop; unsharing a calendar leaves the
//!   channels other accounts opened on it as they were.
//! - Push: `channels.stop` needs a valid access token of the channel's account; one of another
//!   account answers 404 `notFound` and is a violation. Stopping an expired channel answers
//!   204; a stopped or unknown one, or a wrong `resourceId`, 404 `notFound`.
//! - Scopes come back in Google's long form (`email` → `…/auth/userinfo.email`), and
//!   `include_granted_scopes=true` adds what the account granted the client before.

mod admin;
mod admin_calendars;
mod bounded;
mod calendar;
mod calendar_control;
mod calendar_list;
mod channel;
mod config;
mod consent;
mod counters;
mod delivery;
mod directory;
mod error;
mod events;
mod fault;
mod grant;
mod handle;
mod id_token;
mod listing;
mod model;
mod oauth;
mod page;
mod params;
mod primary;
mod recurrence;
mod render;
mod seed;
mod state;
mod token;
mod token_endpoint;
mod watch;
mod watch_body;

pub use calendar_control::CalendarEntry;
pub use channel::{ChannelInfo, ChannelState};
pub use config::SandboxConfig;
pub use counters::Counters;
pub use fault::{Endpoint, Fault, Times};
pub use handle::Sandbox;
pub use model::{AccountId, CalendarId, EventId, EventPatch, EventSpec, EventStatus, EventTime};
pub use seed::SeedPlan;
pub use state::Consent;

/// Why a control call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// No account with this `sub`.
    #[error("no account {0}")]
    UnknownAccount(AccountId),
    /// No live event with this id in the account's calendar.
    #[error("no event {0}")]
    UnknownEvent(EventId),
    /// No calendar with this id, or it was deleted.
    #[error("no calendar {0}")]
    UnknownCalendar(CalendarId),
    /// The request makes no sense (bad zone, bad rule, end before start, duplicate e-mail…).
    #[error("{0}")]
    Invalid(String),
}
