//! Bulk calendars for load tests: a plan that turns into many event specs, inserted under one
//! lock by [`Sandbox::seed`].

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::config::span;
use super::model::{EventId, EventSpec, EventTime};
use super::{AccountId, Sandbox, SandboxError};

/// `count` events, one every `every` from `first_start`, each `length` long, in `zone`; every
/// `all_day_every`-th is an all-day event and every `weekly_every`-th a weekly series (0: none).
#[derive(Clone, Debug)]
pub struct SeedPlan {
    /// How many events.
    pub count: usize,
    /// Start of the first.
    pub first_start: DateTime<Utc>,
    /// Distance between starts.
    pub every: Duration,
    /// Length of each.
    pub length: Duration,
    /// Zone of the `dateTime`s.
    pub zone: Tz,
    /// Every n-th event is all-day (0: none).
    pub all_day_every: usize,
    /// Every n-th event is a weekly series with 10 occurrences (0: none).
    pub weekly_every: usize,
}

impl SeedPlan {
    /// Hourly half-hour single events in UTC.
    pub fn new(count: usize, first_start: DateTime<Utc>) -> Self {
        Self {
            count,
            first_start,
            every: Duration::from_secs(3600),
            length: Duration::from_secs(1800),
            zone: Tz::UTC,
            all_day_every: 0,
            weekly_every: 0,
        }
    }

    fn spec(&self, index: usize) -> EventSpec {
        let step = span(self.every);
        let length = span(self.length);
        let start = (self.first_start + step * index as i32).with_timezone(&self.zone);
        let nth = |n: usize| n != 0 && index % n == n - 1;
        let summary = format!("Seeded event {index}");
        if nth(self.all_day_every) {
            let day: NaiveDate = start.date_naive();
            return EventSpec::new(
                summary,
                EventTime::AllDay(day),
                EventTime::AllDay(day + chrono::Duration::days(1)),
            );
        }
        let spec = EventSpec::new(
            summary,
            EventTime::Timed(start),
            EventTime::Timed(start + length),
        )
        .description(format!("<b>seed</b> #{index}"));
        if nth(self.weekly_every) {
            return spec.recurrence(["RRULE:FREQ=WEEKLY;COUNT=10"]);
        }
        spec
    }

    /// The specs, in order.
    pub fn specs(&self) -> Vec<EventSpec> {
        (0..self.count).map(|index| self.spec(index)).collect()
    }
}

impl Sandbox {
    /// Inserts the plan's events in one go; returns their ids in plan order.
    pub fn seed(&self, account: &AccountId, plan: &SeedPlan) -> Result<Vec<EventId>, SandboxError> {
        self.seed_events(account, plan.specs())
    }
}
