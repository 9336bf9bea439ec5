//! Calendars of measurement events as people write them: `#!Running` with a dimension line and
//! a custom metric line, so each event becomes two datapoints (duration and distance).

use chrono::{TimeZone, Utc};
use impulses_gcal::sandbox::{
    AccountId, CalendarId, EventId, EventPatch, EventSpec, EventTime, Sandbox,
};

const ACTIVITIES: [&str; 3] = ["Running", "Cycling", "Swimming"];
const PLACES: [&str; 4] = ["park", "lake", "track", "Central Park"];

/// Datapoints each measurement event produces.
pub const POINTS_PER_EVENT: u64 = 2;

/// The `i`-th measurement: one an hour from 2020-01-01 (all in the past, so none is beyond the
/// horizon), 45 minutes long.
pub fn measurement(i: usize) -> EventSpec {
    let start = Utc
        .with_ymd_and_hms(2020, 1, 1, 6, 0, 0)
        .single()
        .expect("valid date")
        + chrono::Duration::hours(i as i64);
    let end = start + chrono::Duration::minutes(45);
    EventSpec::new(
        format!("#!{}", ACTIVITIES[i % ACTIVITIES.len()]),
        EventTime::Timed(start.with_timezone(&chrono_tz::UTC)),
        EventTime::Timed(end.with_timezone(&chrono_tz::UTC)),
    )
    .description(format!(
        "where:{}\ndistance={}",
        PLACES[i % PLACES.len()],
        3000 + i % 7000
    ))
}

/// A new Google account in the sandbox whose primary calendar holds `count` measurements;
/// returns the account and the event ids in order.
pub fn seeded_account(sandbox: &Sandbox, email: &str, count: usize) -> (AccountId, Vec<EventId>) {
    let account = sandbox.create_account(email, "UTC").expect("new account");
    let ids = sandbox
        .seed_events(&account, (0..count).map(measurement).collect())
        .expect("seeded");
    (account, ids)
}

/// A new secondary calendar of `account` holding the measurements `first..first + count`;
/// calendars of one connection get different ranges, so no two of their events produce the same
/// datapoint (same metric, time and dimensions) and each calendar's counts stay its own.
pub fn seeded_calendar(
    sandbox: &Sandbox,
    account: &AccountId,
    summary: &str,
    first: usize,
    count: usize,
) -> CalendarId {
    let calendar = sandbox
        .create_calendar(account, summary, "UTC")
        .expect("new calendar");
    sandbox
        .seed_events_in(&calendar, (first..first + count).map(measurement).collect())
        .expect("seeded");
    calendar
}

/// An edit that changes both datapoints of a measurement.
pub fn edit(round: usize) -> EventPatch {
    EventPatch {
        description: Some(Some(format!("where:track\ndistance={}", 10_000 + round))),
        ..EventPatch::default()
    }
}
