//! The `#!` marker in event titles.
//!
//! Only events whose title starts with `#!` (after optional white space) are measurements; the
//! rest of the title, trimmed, names the activity. The marker is opt-in so that an ordinary
//! calendar never leaks into the metrics.

/// Longest title, in bytes, we accept as a measurement; longer ones are not typed by hand.
pub const MAX_TITLE_BYTES: usize = 1024;

/// What a title says about its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Title<'a> {
    /// No `#!` marker: an ordinary event.
    NotAMeasurement,
    /// A measurement of this (trimmed, non-empty) activity.
    Activity(&'a str),
    /// `#!` with nothing after it.
    EmptyActivity,
    /// A marked title longer than [`MAX_TITLE_BYTES`]; carries its length.
    TooLong(usize),
}

/// Reads the title by the rules in the module documentation.
pub fn parse_title(summary: &str) -> Title<'_> {
    let Some(rest) = summary.trim_start().strip_prefix("#!") else {
        return Title::NotAMeasurement;
    };
    if summary.len() > MAX_TITLE_BYTES {
        return Title::TooLong(summary.len());
    }
    match rest.trim() {
        "" => Title::EmptyActivity,
        activity => Title::Activity(activity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_read() {
        let long = format!("#!{}", "x".repeat(1022));
        let too_long = format!("#!{}", "x".repeat(1023));
        let cases: &[(&str, Title)] = &[
            ("#!Running", Title::Activity("Running")),
            ("  \t#!  Morning run  ", Title::Activity("Morning run")),
            ("#!#!x", Title::Activity("#!x")),
            ("#!Bieganie ☀", Title::Activity("Bieganie ☀")),
            ("#!", Title::EmptyActivity),
            ("  #!   ", Title::EmptyActivity),
            ("Running", Title::NotAMeasurement),
            ("Running #!", Title::NotAMeasurement),
            ("# !Running", Title::NotAMeasurement),
            ("!#Running", Title::NotAMeasurement),
            ("", Title::NotAMeasurement),
            (&long, Title::Activity(&long[2..])),
            (&too_long, Title::TooLong(1025)),
        ];
        for (summary, expected) in cases {
            assert_eq!(parse_title(summary), *expected, "{summary:?}");
        }
    }
}
