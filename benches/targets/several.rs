//! Figure 2's rows for a connection that syncs several calendars of its account (the primary and
//! secondary ones, selected through `SelectCalendars`). A sync lists and commits each selected
//! calendar in turn, so even a sync that finds nothing new costs one `events.list` call and one
//! commit per calendar: these rows keep that cost in sight, next to the same sync of a
//! one-calendar connection of the same size, and check the sandbox's counters for exactly one
//! list call per calendar and no calendar-list call (the selection is read from the store).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use impulses_gcal::actors::calendar_selection::SelectCalendars;
use impulses_gcal::actors::status::ActorStatus;
use impulses_gcal::actors::supervisor::ActorOf;
use impulses_gcal::google::calendar::PRIMARY;
use impulses_gcal::sandbox::{CalendarId, Counters, Sandbox};
use impulses_gcal::settings::Settings;
use impulses_gcal::store::Store;
use impulses_gcal::token::TokenId;

use crate::calendar::{self, POINTS_PER_EVENT};
use crate::rig::{self, Server};
use crate::sync::{connect_one, full_sync, Plan};
use crate::table::{number, Goal, Row};

const DEADLINE: Duration = Duration::from_secs(600);

/// A connected token, the sandbox calendars it syncs (primary first) and their events each.
struct Connection {
    token: TokenId,
    calendars: Vec<CalendarId>,
    events: usize,
}

pub async fn run(
    sandbox: &Sandbox,
    server: &Server,
    settings: &Settings,
    store: &Store,
    plan: &Plan,
) -> Vec<Row> {
    let one = connection(sandbox, server, settings, store, 1, plan).await;
    let many = connection(sandbox, server, settings, store, plan.calendars, plan).await;
    let (mut single, mut times, mut lists) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that whatever else the machine does weighs on both alike.
    for _ in 0..plan.calendar_runs {
        let (alone, _) = no_change(sandbox, server, &one).await;
        let (took, calls) = no_change(sandbox, server, &many).await;
        eprintln!(
            "  no-change sync, {} calendars: {took:.1} ms, {calls} list requests (one calendar: {alone:.1} ms)",
            plan.calendars
        );
        single.push(alone);
        times.push(took);
        lists.push(calls as f64);
    }
    let (k, size) = (plan.calendars, number(plan.calendar_events as f64));
    vec![
        Row::new(
            format!("2. no-change incremental sync, {k} calendars x {size} events"),
            "ms",
            Goal::AtMost(50.0),
            times,
        ),
        Row::new(
            format!("2. (the same sync of a one-calendar connection, {size} events)"),
            "ms",
            Goal::Info,
            single,
        ),
        Row::new(
            format!("2. list requests per sync of {k} calendars (each exactly 1)"),
            "req",
            Goal::Exactly(k as f64),
            lists,
        ),
    ]
}

/// A new account with `calendars` calendars of `plan.calendar_events` measurements each,
/// connected, every calendar selected and synced in full.
async fn connection(
    sandbox: &Sandbox,
    server: &Server,
    settings: &Settings,
    store: &Store,
    calendars: usize,
    plan: &Plan,
) -> Connection {
    let n = plan.calendar_events;
    let (account, _) = calendar::seeded_account(sandbox, &format!("cal{calendars}@bench.test"), n);
    let mut ids = vec![sandbox.primary_calendar(&account).expect("primary")];
    for c in 1..calendars {
        let summary = format!("Training {c}");
        ids.push(calendar::seeded_calendar(
            sandbox,
            &account,
            &summary,
            c * n,
            n,
        ));
    }
    let token = connect_one(
        sandbox,
        settings,
        store,
        &account,
        &format!("cal-{calendars}"),
    )
    .await;
    full_sync(server, &token, n).await;
    if calendars > 1 {
        select_all(server, &token, &ids, n).await;
    }
    Connection {
        token,
        calendars: ids,
        events: n,
    }
}

/// Selects every calendar the way `PUT /oauth2/google/calendars` does (a message to the token's
/// actor), and waits for the sync the selection starts: the new calendars' full syncs.
async fn select_all(server: &Server, token: &TokenId, ids: &[CalendarId], events: usize) {
    let sync = server.sync();
    let actor = sync
        .supervisor
        .send(ActorOf(token.clone()))
        .await
        .expect("supervisor")
        .expect("an actor");
    let mut selected = vec![PRIMARY.to_string()];
    selected.extend(ids[1..].iter().map(|c| c.as_str().to_string()));
    let asked = rig::now_ms();
    let start = Instant::now();
    actor
        .send(SelectCalendars(selected))
        .await
        .expect("actor")
        .expect("selected");
    let (took, status) = rig::wait_status(&sync.board, token, start, DEADLINE, |s| {
        rig::ended_since(s, asked)
    })
    .await;
    assert_eq!(status.calendars.len(), ids.len(), "{status:?}");
    assert_synced(&status, events);
    eprintln!(
        "  {} calendars selected and synced in {} ms",
        ids.len(),
        took.as_millis()
    );
}

/// Every selected calendar synced without failure and holding all its events.
fn assert_synced(status: &ActorStatus, events: usize) {
    assert_eq!(status.last_error, None, "{status:?}");
    for c in &status.calendars {
        assert!(c.state == "ok" && c.has_sync_token, "{c:?}");
        assert_eq!(c.events, events as u64, "{c:?}");
        assert_eq!(c.datapoints, events as u64 * POINTS_PER_EVENT, "{c:?}");
    }
}

/// Asks for a sync with nothing new anywhere and waits until it has ended (as figure 2 does);
/// returns its time in ms and the `events.list` calls it made, after checking them.
async fn no_change(sandbox: &Sandbox, server: &Server, conn: &Connection) -> (f64, u64) {
    let counters = sandbox.counters();
    let (took, before, status) = rig::sync_now(&server.sync(), &conn.token, DEADLINE).await;
    assert_eq!(status.syncs_ok, before.syncs_ok + 1, "{status:?}");
    assert_eq!(
        status.full_syncs, before.full_syncs,
        "not incremental: {status:?}"
    );
    assert_eq!(status.calendars.len(), conn.calendars.len(), "{status:?}");
    assert_synced(&status, conn.events);
    let calls = check_calls(&counters, &sandbox.counters(), &conn.calendars);
    (took.as_secs_f64() * 1e3, calls)
}

/// Checks one sync's calls against the sandbox's counters: every calendar listed exactly once
/// and incrementally, no `calendarList.list` (a plain sync needs none), no answer other than 200.
/// Returns the `events.list` calls.
fn check_calls(before: &Counters, after: &Counters, calendars: &[CalendarId]) -> u64 {
    let by_calendar = growth(
        &before.list_calls_by_calendar,
        &after.list_calls_by_calendar,
    );
    for calendar in calendars {
        let calls = by_calendar.get(calendar.as_str()).copied().unwrap_or(0);
        assert_eq!(calls, 1, "calendar {calendar}: {calls} list requests");
    }
    assert_eq!(
        after.calendar_list_calls, before.calendar_list_calls,
        "calendarList.list called during a plain sync"
    );
    assert_eq!(after.list_full, before.list_full, "a full list request");
    let errors: u64 = after
        .by_status
        .iter()
        .filter(|(status, _)| **status != 200)
        .map(|(status, n)| n - before.status(*status))
        .sum();
    assert_eq!(errors, 0, "answers other than 200: {:?}", after.by_status);
    after.list_calls() - before.list_calls()
}

/// What each key's counter grew by (keys that did not grow are left out).
fn growth<'a>(
    before: &BTreeMap<String, u64>,
    after: &'a BTreeMap<String, u64>,
) -> BTreeMap<&'a str, u64> {
    after
        .iter()
        .map(|(k, v)| (k.as_str(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}
