//! The demo calendar: a month of a real person's life in Europe/Warsaw, with what the converter
//! must handle (dimension and custom lines, HTML descriptions, an all-day event, a weekly series
//! with a cancelled and a moved occurrence) and ordinary meetings that must not become metrics;
//! and a second calendar, "Training", that is not synced until the person selects it.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;

use crate::sandbox::{AccountId, EventPatch, EventSpec, EventTime, Sandbox, SandboxError};

/// The demo account's zone: not UTC, so all-day events and DST are visible.
pub const ZONE: Tz = chrono_tz::Europe::Warsaw;

fn at(day: NaiveDate, hour: u32, minute: u32) -> Result<EventTime, SandboxError> {
    let local = day
        .and_hms_opt(hour, minute, 0)
        .ok_or_else(|| SandboxError::Invalid("bad time".into()))?;
    EventTime::local(ZONE, local)
}

fn timed(
    title: &str,
    description: &str,
    day: NaiveDate,
    (h, m): (u32, u32),
    minutes: i64,
) -> Result<EventSpec, SandboxError> {
    let start = at(day, h, m)?;
    let EventTime::Timed(s) = start else {
        return Err(SandboxError::Invalid("timed".into()));
    };
    let spec = EventSpec::new(
        title,
        start,
        EventTime::Timed(s + Duration::minutes(minutes)),
    );
    Ok(if description.is_empty() {
        spec
    } else {
        spec.description(description)
    })
}

/// What was seeded, for the printed instructions and the tests.
pub struct Seeded {
    /// `#!` events that become datapoints (occurrences counted one by one).
    pub measurements: usize,
}

/// Seeds the demo month around `today` (local date in [`ZONE`]).
pub fn seed(
    sandbox: &Sandbox,
    account: &AccountId,
    today: NaiveDate,
) -> Result<Seeded, SandboxError> {
    let mut specs = Vec::new();
    let first = today - Duration::days(28);
    let mut runs = 0;
    for offset in 0..28 {
        let day = first + Duration::days(offset);
        match day.weekday() {
            Weekday::Mon | Weekday::Wed | Weekday::Fri => {
                let km = 5000 + 500 * (offset % 7);
                let description = if offset % 2 == 0 {
                    format!("where:park\ndistance={km}")
                } else {
                    // Google Calendar's web UI stores descriptions as HTML.
                    format!("where:river<br>distance={km}<br><a href=\"https://maps.example.com/run\">map</a>")
                };
                specs.push(timed("#!Running", &description, day, (7, 0), 45)?);
                runs += 1;
            }
            Weekday::Sat | Weekday::Sun => {}
            _ => specs.push(timed(
                "Standup",
                "https://meet.google.com/abc-defg-hij",
                day,
                (9, 30),
                15,
            )?),
        }
        if offset >= 18 {
            specs.push(timed(
                "#!Reading",
                "book: The Left Hand of Darkness\npages=35",
                day,
                (21, 0),
                40,
            )?);
        }
    }
    specs.push(timed(
        "1:1 with Sam",
        "agenda: goals",
        today - Duration::days(3),
        (14, 0),
        30,
    )?);
    specs.push(timed(
        "#!Swimming",
        "<p>where:pool</p><p>laps=40</p>",
        today - Duration::days(6),
        (19, 0),
        50,
    )?);
    // An all-day hike on the Saturday two weeks ago: local midnight to local midnight.
    let hike = first
        + Duration::days((12 - first.weekday().num_days_from_monday() as i64).rem_euclid(7) + 7);
    specs.push(
        EventSpec::new(
            "#!Hiking",
            EventTime::AllDay(hike),
            EventTime::AllDay(hike + Duration::days(1)),
        )
        .description("where:Tatra\ndistance=18500"),
    );
    let singles = runs + 10 + 2;
    sandbox.seed_events(account, specs)?;

    // A weekly gym series of six Tuesdays from four weeks ago; the 2nd is cancelled, the 3rd moved.
    let tuesday =
        first + Duration::days((8 - first.weekday().num_days_from_monday() as i64).rem_euclid(7));
    let gym = timed("#!Gym", "where:club", tuesday, (18, 0), 60)?
        .recurrence(["RRULE:FREQ=WEEKLY;COUNT=6"]);
    let series = sandbox.insert_event(account, gym)?;
    sandbox.cancel_occurrence(account, &series, at(tuesday + Duration::weeks(1), 18, 0)?)?;
    let moved_day = tuesday + Duration::weeks(2) + Duration::days(2);
    let moved = EventPatch {
        summary: Some("#!Gym".into()),
        description: Some(Some("where:club\nnote: moved to Thursday".into())),
        start: Some(at(moved_day, 17, 0)?),
        end: Some(at(moved_day, 18, 0)?),
        ..EventPatch::default()
    };
    sandbox.patch_occurrence(
        account,
        &series,
        at(tuesday + Duration::weeks(2), 18, 0)?,
        moved,
    )?;
    seed_training(sandbox, account, first)?;
    Ok(Seeded {
        measurements: singles + 5,
    })
}

/// The name of the demo account's second calendar.
pub const TRAINING: &str = "Training";

/// A "Training" calendar with climbing sessions on Tuesdays and Thursdays: the connection syncs
/// only the primary calendar until the person selects this one too.
fn seed_training(
    sandbox: &Sandbox,
    account: &AccountId,
    first: NaiveDate,
) -> Result<(), SandboxError> {
    let calendar = sandbox.create_calendar(account, TRAINING, ZONE.name())?;
    let mut specs = Vec::new();
    for offset in 0..28 {
        let day = first + Duration::days(offset);
        if matches!(day.weekday(), Weekday::Tue | Weekday::Thu) {
            let routes = 8 + offset % 5;
            let description = format!("where:boulder hall\nroutes={routes}");
            specs.push(timed("#!Climbing", &description, day, (19, 30), 90)?);
        }
    }
    sandbox.seed_events_in(&calendar, specs)?;
    Ok(())
}

/// Today's date in the demo zone.
pub fn today() -> NaiveDate {
    ZONE.from_utc_datetime(&chrono::Utc::now().naive_utc())
        .date_naive()
}
