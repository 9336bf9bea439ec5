//! Why an event marked `#!` gave no datapoints.
//!
//! One bad event must never stop a sync: the converter returns a reason instead of an error, the
//! sync counts and logs it, and carries on. Reasons are short sentences for the status page and
//! the log; user text inside them is cut to a readable length.

use crate::metric::ModelError;

/// Cuts user text for a reason message.
pub(crate) fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(MAX_CHARS).collect();
        out.push('…');
        out
    }
}

/// Why a measurement event was skipped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkipReason {
    /// A series master with `recurrence`; with `singleEvents=true` Google sends instances instead,
    /// so a master here is unexpected and converting it would count one occurrence only.
    #[error("recurring series master (only its instances are converted)")]
    RecurringMaster,
    /// Starts at or after the horizon of open-ended series; counted apart from malformed events.
    #[error("beyond horizon")]
    BeyondHorizon,
    /// No event id, so no `src` dimension to tie the datapoints to the event.
    #[error("event has no id")]
    MissingId,
    /// `start` or `end` absent, or with neither `dateTime` nor `date`.
    #[error("event has no {0} time")]
    MissingTime(&'static str),
    /// `start` or `end` that is not RFC 3339 with an offset, or not `yyyy-mm-dd`.
    #[error("unparseable {0} time")]
    UnparseableTime(&'static str),
    /// One side all-day (`date`), the other timed (`dateTime`).
    #[error("start and end mix an all-day date and a date-time")]
    MixedAllDay,
    /// End strictly before start.
    #[error("event ends before it starts")]
    EndBeforeStart,
    /// The title is `#!` with nothing after it, so there is no activity to name.
    #[error("title has no activity after #!")]
    EmptyActivity,
    /// The title is longer than the limit; carries its length in bytes.
    #[error("title too long ({0} bytes)")]
    TitleTooLong(usize),
    /// The description is longer than the limit; carries its length in bytes.
    #[error("description too long ({0} bytes)")]
    DescriptionTooLong(usize),
    /// More distinct custom metrics than the limit.
    #[error("more than {0} custom metrics in the description")]
    TooManyCustomMetrics(usize),
    /// `imp.events.custom.<name>` would break the Impulses naming rule (too long).
    #[error("custom metric name {0:?} is not a valid metric name")]
    InvalidMetricName(String),
    /// A description key that breaks the Impulses naming rule (too long).
    #[error("dimension key {0:?} is not a valid dimension key")]
    InvalidDimensionKey(String),
    /// A custom value that overflows to infinity, e.g. `x=1e400`.
    #[error("custom metric {0:?} has a value that is not a finite number")]
    NonFiniteValue(String),
    /// The datapoint breaks a limit of the shared model (too many dimensions, value too long).
    #[error("{0}")]
    Model(#[from] ModelError),
}

impl SkipReason {
    /// Whether the event was skipped only because it lies beyond the horizon, which the sync
    /// counts apart from malformed events: it is expected, not a problem to show.
    pub fn is_beyond_horizon(&self) -> bool {
        matches!(self, Self::BeyondHorizon)
    }

    /// Whether the event itself is broken (as opposed to beyond the horizon or a series master),
    /// so the sync can report it to the person who owns the calendar.
    pub fn is_malformed(&self) -> bool {
        !matches!(self, Self::BeyondHorizon | Self::RecurringMaster)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_short_sentences() {
        let cases: &[(SkipReason, &str)] = &[
            (SkipReason::BeyondHorizon, "beyond horizon"),
            (SkipReason::MissingTime("start"), "event has no start time"),
            (SkipReason::UnparseableTime("end"), "unparseable end time"),
            (
                SkipReason::TitleTooLong(2000),
                "title too long (2000 bytes)",
            ),
            (
                SkipReason::Model(ModelError::NonFinite),
                "value must be a finite number",
            ),
            (
                SkipReason::InvalidMetricName(shorten(&"n".repeat(100))),
                &format!(
                    "custom metric name \"{}…\" is not a valid metric name",
                    "n".repeat(60)
                ),
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), *text);
        }
    }

    #[test]
    fn horizon_and_masters_are_not_malformed() {
        assert!(SkipReason::BeyondHorizon.is_beyond_horizon());
        assert!(!SkipReason::BeyondHorizon.is_malformed());
        assert!(!SkipReason::RecurringMaster.is_malformed());
        assert!(!SkipReason::RecurringMaster.is_beyond_horizon());
        assert!(SkipReason::EndBeforeStart.is_malformed());
        assert!(!SkipReason::EndBeforeStart.is_beyond_horizon());
    }
}
