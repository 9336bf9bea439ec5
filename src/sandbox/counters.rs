//! What the sandbox saw: call counters and protocol violations, for tests to assert on.

use std::collections::BTreeMap;

use serde::Serialize;

/// A cheap snapshot of everything the sandbox counted since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// `events.list` calls without a sync token (a full sync's first page and its page calls).
    pub list_full: u64,
    /// Full syncs begun: list calls with neither `syncToken` nor `pageToken`.
    pub full_syncs_started: u64,
    /// `events.list` calls within an incremental sync (with `syncToken` or its page token).
    pub list_incremental: u64,
    /// Pages answered with 200.
    pub pages_served: u64,
    /// Items on those pages.
    pub items_served: u64,
    /// Consent screens that redirected back (granted or denied).
    pub authorizations: u64,
    /// Successful `authorization_code` grants.
    pub auth_code_grants: u64,
    /// Successful `refresh_token` grants.
    pub refresh_grants: u64,
    /// Token endpoint answers other than 200.
    pub token_errors: u64,
    /// Userinfo calls, whatever their answer.
    pub userinfo_calls: u64,
    /// Successful revocations.
    pub revocations: u64,
    /// Connections closed on purpose by a fault.
    pub dropped_connections: u64,
    /// Answers of the Google endpoints (not `/_sandbox`) by HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// `events.list` calls per account `sub`, whatever their answer.
    pub list_calls_by_account: BTreeMap<String, u64>,
    /// `events.list` calls per calendar id, whatever their answer (only calls whose token names
    /// an account); `primary` and the e-mail count under the primary calendar's id.
    pub list_calls_by_calendar: BTreeMap<String, u64>,
    /// The most `events.list` calls of one account ever answered at the same time. A client that
    /// syncs an account's calendars one page after another keeps it at 1; two clients (or two
    /// nodes) syncing one account at once raise it, the more surely the slower the answers
    /// (`Fault::latency`).
    pub most_concurrent_lists_of_one_account: u64,
    /// `calendarList.list` calls, whatever their answer.
    pub calendar_list_calls: u64,
    /// `events.watch` calls, whatever their answer.
    pub watch_calls: u64,
    /// Channels stopped through `channels.stop` (answered 204).
    pub channels_stopped: u64,
    /// Notification attempts the address answered with 200, 201, 202 or 204.
    pub notifications_sent: u64,
    /// Notification attempts answered otherwise or not at all (each attempt counts once).
    pub notifications_failed: u64,
    /// Notifications never delivered: dropped by a fault, or given up after the last retry.
    pub notifications_dropped: u64,
    /// Notifications delivered (answered 2xx), by `X-Goog-Resource-State`.
    pub notifications_by_state: BTreeMap<String, u64>,
}

impl Counters {
    /// How many answers had this status.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// All `events.list` calls.
    pub fn list_calls(&self) -> u64 {
        self.list_full + self.list_incremental
    }
}
