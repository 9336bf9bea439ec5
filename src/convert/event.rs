//! The conversion of one event, gluing title, time and description rules together.
//!
//! Checks run in a fixed order so the reason for a skip is deterministic: cancelled or unmarked
//! (not a measurement), title, series master, id, times, horizon, description (keys, custom names
//! and values, line by line), then the limits of the shared model on the finished datapoint.

use std::sync::OnceLock;

use super::description::parse_fields;
use super::skip::SkipReason;
use super::time::{all_day_zone, resolve, TimeError};
use super::title::{parse_title, Title};
use super::{Conversion, ConvertContext, MetricPoint};
use crate::google::model::Event;
use crate::metric::{Datapoint, DimensionKey, MetricName, ModelError, MAX_DIMENSIONS};

/// The metric every measurement event yields: its duration in milliseconds.
pub const DURATION_METRIC: &str = "imp.events.duration";

/// Longest description, in bytes, we read (64 KiB); longer ones are skipped as malformed.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// Most distinct custom metrics one event may define; each one is a datapoint to store.
pub const MAX_CUSTOM_METRICS: usize = 256;

/// Converts one event into datapoints, or says why not (see the module documentation of
/// [`crate::convert`] for the rules). Pure, deterministic and panic-free.
pub fn convert_event(event: &Event, ctx: &ConvertContext) -> Conversion {
    if event.is_cancelled() {
        return Conversion::NotAMeasurement;
    }
    let activity = match parse_title(event.summary.as_deref().unwrap_or_default()) {
        Title::NotAMeasurement => return Conversion::NotAMeasurement,
        Title::Activity(activity) => activity,
        Title::EmptyActivity => return Conversion::Skipped(SkipReason::EmptyActivity),
        Title::TooLong(bytes) => return Conversion::Skipped(SkipReason::TitleTooLong(bytes)),
    };
    match measure(event, activity, ctx) {
        Ok(points) => Conversion::Points(points),
        Err(reason) => Conversion::Skipped(reason),
    }
}

fn time_error(which: &'static str, error: TimeError) -> SkipReason {
    match error {
        TimeError::Missing => SkipReason::MissingTime(which),
        TimeError::Unparseable => SkipReason::UnparseableTime(which),
    }
}

/// Start and duration in milliseconds. `endTimeUnspecified` events are measured with the end
/// Google gives them: it is the end the calendar shows.
fn span(event: &Event, ctx: &ConvertContext) -> Result<(i64, i64), SkipReason> {
    // The zone is looked up only for all-day events, and the same one serves both ends.
    let zone = || all_day_zone(ctx.calendar_time_zone, event.start.as_ref());
    let start = resolve(event.start.as_ref(), zone).map_err(|e| time_error("start", e))?;
    let end = resolve(event.end.as_ref(), zone).map_err(|e| time_error("end", e))?;
    if start.all_day != end.all_day {
        return Err(SkipReason::MixedAllDay);
    }
    match end.ms.checked_sub(start.ms) {
        Some(duration) if duration >= 0 => Ok((start.ms, duration)),
        _ => Err(SkipReason::EndBeforeStart),
    }
}

fn measure(
    event: &Event,
    activity: &str,
    ctx: &ConvertContext,
) -> Result<Vec<MetricPoint>, SkipReason> {
    if event.is_recurring_master() {
        return Err(SkipReason::RecurringMaster);
    }
    if event.id.is_empty() {
        return Err(SkipReason::MissingId);
    }
    let (timestamp, duration) = span(event, ctx)?;
    if ctx
        .horizon_end_ms
        .is_some_and(|horizon| timestamp >= horizon)
    {
        return Err(SkipReason::BeyondHorizon);
    }
    let raw = event.description.as_deref().unwrap_or_default();
    if raw.len() > MAX_DESCRIPTION_BYTES {
        return Err(SkipReason::DescriptionTooLong(raw.len()));
    }
    let text = super::html::description_text(raw);
    // Two of the dimensions are ours (activity, src).
    let fields = parse_fields(&text, MAX_DIMENSIONS - 2, MAX_CUSTOM_METRICS)?;
    let mut dimensions = fields.dimensions;
    let names = names()?;
    dimensions.insert(names.activity.clone(), activity.to_owned());
    dimensions.insert(names.src.clone(), event.id.clone());

    let duration_point = Datapoint {
        timestamp,
        dimensions,
        value: duration as f64,
    };
    duration_point.validate()?;
    let mut points = fields.customs;
    for custom in &mut points {
        custom.point.timestamp = timestamp;
        custom.point.dimensions = duration_point.dimensions.clone();
    }
    let duration = MetricPoint {
        metric: names.duration.clone(),
        point: duration_point,
    };
    points.insert(0, duration);
    Ok(points)
}

/// The names every measurement uses, validated once rather than per event.
struct Names {
    activity: DimensionKey,
    src: DimensionKey,
    duration: MetricName,
}

fn names() -> Result<&'static Names, SkipReason> {
    static NAMES: OnceLock<Result<Names, ModelError>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        Ok(Names {
            activity: DimensionKey::new("activity")?,
            src: DimensionKey::new("src")?,
            duration: MetricName::new(DURATION_METRIC)?,
        })
    });
    names.as_ref().map_err(|e| SkipReason::Model(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::model::EventTime;

    fn timed(start: &str, end: &str) -> Event {
        let at = |s: &str| {
            Some(EventTime {
                date_time: Some(s.into()),
                ..EventTime::default()
            })
        };
        Event {
            id: "ev1".into(),
            summary: Some("#!Running".into()),
            start: at(start),
            end: at(end),
            ..Event::default()
        }
    }

    fn skip_reason(event: &Event, ctx: &ConvertContext) -> Option<SkipReason> {
        match convert_event(event, ctx) {
            Conversion::Skipped(reason) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn malformed_events_are_skipped_with_a_reason() {
        let ok = timed("2026-03-02T07:00:00Z", "2026-03-02T07:45:00Z");
        let no_times = Event {
            start: None,
            end: None,
            ..ok.clone()
        };
        let no_end = Event {
            end: None,
            ..ok.clone()
        };
        let empty_end = Event {
            end: Some(EventTime::default()),
            ..ok.clone()
        };
        let bad_start = timed("07:00", "2026-03-02T07:45:00Z");
        let bad_end = timed("2026-03-02T07:00:00Z", "2026-03-02T07:45:00");
        let backwards = timed("2026-03-02T07:45:00Z", "2026-03-02T07:00:00Z");
        let all_day_end = Event {
            end: Some(EventTime {
                date: Some("2026-03-03".into()),
                ..EventTime::default()
            }),
            ..ok.clone()
        };
        let no_id = Event {
            id: String::new(),
            ..ok.clone()
        };
        let master = Event {
            recurrence: vec!["RRULE:FREQ=WEEKLY".into()],
            ..ok.clone()
        };
        let empty = Event {
            summary: Some("  #!  ".into()),
            ..ok.clone()
        };
        let long_title = Event {
            summary: Some(format!("#!{}", "x".repeat(1100))),
            ..ok.clone()
        };
        let long_desc = Event {
            description: Some("a".repeat(65 * 1024)),
            ..ok.clone()
        };
        let long_name = Event {
            description: Some(format!("{}=1", "n".repeat(82))),
            ..ok.clone()
        };
        let long_key = Event {
            description: Some(format!("{}:v", "k".repeat(100))),
            ..ok.clone()
        };
        let long_value = Event {
            description: Some(format!("k:{}", "v".repeat(5000))),
            ..ok.clone()
        };
        let huge = Event {
            description: Some("big=1e400".into()),
            ..ok.clone()
        };
        let many_dims: String = (0..63).map(|i| format!("k{i}:v\n")).collect();
        let too_many_dims = Event {
            description: Some(many_dims),
            ..ok.clone()
        };
        let many_customs: String = (0..257).map(|i| format!("c{i}=1\n")).collect();
        let too_many_customs = Event {
            description: Some(many_customs),
            ..ok.clone()
        };
        let long_id = Event {
            id: "i".repeat(5000),
            ..ok.clone()
        };
        let cases: Vec<(&Event, SkipReason)> = vec![
            (&no_times, SkipReason::MissingTime("start")),
            (&no_end, SkipReason::MissingTime("end")),
            (&empty_end, SkipReason::MissingTime("end")),
            (&bad_start, SkipReason::UnparseableTime("start")),
            (&bad_end, SkipReason::UnparseableTime("end")),
            (&backwards, SkipReason::EndBeforeStart),
            (&all_day_end, SkipReason::MixedAllDay),
            (&no_id, SkipReason::MissingId),
            (&master, SkipReason::RecurringMaster),
            (&empty, SkipReason::EmptyActivity),
            (&long_title, SkipReason::TitleTooLong(1102)),
            (&long_desc, SkipReason::DescriptionTooLong(65 * 1024)),
            (
                &long_name,
                SkipReason::InvalidMetricName("n".repeat(60) + "…"),
            ),
            (
                &long_key,
                SkipReason::InvalidDimensionKey("k".repeat(60) + "…"),
            ),
            (
                &long_value,
                SkipReason::Model(ModelError::ValueTooLong { key: "k".into() }),
            ),
            (&huge, SkipReason::NonFiniteValue("big".into())),
            (
                &too_many_dims,
                SkipReason::Model(ModelError::TooManyDimensions),
            ),
            (&too_many_customs, SkipReason::TooManyCustomMetrics(256)),
            (
                &long_id,
                SkipReason::Model(ModelError::ValueTooLong { key: "src".into() }),
            ),
        ];
        let ctx = ConvertContext::default();
        for (event, expected) in cases {
            assert_eq!(
                skip_reason(event, &ctx),
                Some(expected.clone()),
                "{expected}"
            );
        }
        assert_eq!(skip_reason(&ok, &ctx), None);
    }

    #[test]
    fn limits_hold_right_at_the_edge() {
        let ok = timed("2026-03-02T07:00:00Z", "2026-03-02T07:45:00Z");
        let dims: String = (0..62).map(|i| format!("k{i}:v\n")).collect();
        let cases = [
            Event {
                description: Some(format!("{}=1", "n".repeat(81))),
                ..ok.clone()
            },
            Event {
                description: Some(format!("{}:v", "k".repeat(99))),
                ..ok.clone()
            },
            Event {
                description: Some(format!("k:{}", "v".repeat(4096))),
                ..ok.clone()
            },
            Event {
                description: Some(dims),
                ..ok.clone()
            },
            Event {
                description: Some("a".repeat(64 * 1024)),
                ..ok.clone()
            },
        ];
        for event in &cases {
            let result = convert_event(event, &ConvertContext::default());
            assert!(matches!(result, Conversion::Points(_)), "{result:?}");
        }
    }
}
