//! Description lines to dimensions and custom values.
//!
//! After HTML is turned into lines (see [`super::html`]), each trimmed line is one of:
//! - `key:value`, white space allowed around `:`: the dimension `key=value`, value trimmed;
//! - `name=number`, white space allowed around `=`: the metric `imp.events.custom.<name>`;
//! - anything else: ignored.
//!
//! Keys and names are ASCII letters, digits, `.` and `_`, with at least one letter or `_`: a
//! line such as `18:00 stretch` or `3=2` is a note, not a dimension `18` or a metric `3`.
//! Ignored as well, because they are not what a person means as a dimension: URLs (`https://…`, any `scheme://…`, and the schemes
//! without `//`: `mailto:`, `tel:`, `sms:`, `callto:`, `urn:`), empty values (`where:`), and the
//! reserved keys `activity` and `src`, which the converter owns. `zoom: https://…` is a dimension
//! `zoom` whose value is a URL. Duplicate keys or names: the last line wins, keeping the position
//! of the first, so the result is deterministic.

use super::number::parse_number;
use super::skip::{shorten, SkipReason};
use super::MetricPoint;
use crate::metric::{Datapoint, DimensionKey, Dimensions, MetricName, ModelError};

/// The dimension keys the converter sets itself; a description can never overwrite them.
pub const RESERVED_KEYS: [&str; 2] = ["activity", "src"];

/// URI schemes written without `//` that must not read as a dimension.
const OPAQUE_SCHEMES: [&str; 5] = ["mailto", "tel", "sms", "callto", "urn"];

/// What one description line means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<'a> {
    /// `key:value`.
    Dimension(&'a str, &'a str),
    /// `name=number`; the number is parsed but may be infinite (`1e400`).
    Custom(&'a str, f64),
    /// Anything else.
    Ignored,
}

/// Reads one line by the rules in the module documentation.
pub fn classify_line(line: &str) -> Line<'_> {
    let line = line.trim();
    let key_len = line.bytes().take_while(|&c| is_key_char(c)).count();
    let (key, rest) = line.split_at(key_len);
    if !key.bytes().any(|c| c.is_ascii_alphabetic() || c == b'_') {
        return Line::Ignored;
    }
    let rest = rest.trim_start();
    if let Some(value) = rest.strip_prefix(':') {
        let is_url = value.starts_with("//")
            || (key.len() <= 6 && OPAQUE_SCHEMES.iter().any(|s| key.eq_ignore_ascii_case(s)));
        let value = value.trim();
        if is_url || value.is_empty() || RESERVED_KEYS.contains(&key) {
            return Line::Ignored;
        }
        return Line::Dimension(key, value);
    }
    if let Some(number) = rest.strip_prefix('=') {
        if let Some(value) = parse_number(number.trim()) {
            return Line::Custom(key, value);
        }
    }
    Line::Ignored
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'_'
}

/// The lines of a description's text that read as `name=value` but whose value is not a number
/// (`distance=10 km`), each with that value: ignored by the conversion, and almost always a
/// typo the person wants to hear about. Runs apart from [`parse_fields`], only for events whose
/// custom values look fewer than their `=` signs, so the common path pays nothing.
pub fn not_numbers(text: &str) -> Vec<(&str, &str)> {
    lines(text)
        .filter(|line| classify_line(line) == Line::Ignored)
        .filter_map(|line| {
            let line = line.trim();
            let (key, value) = line.split_once('=')?;
            let (key, value) = (key.trim_end(), value.trim());
            let named = !key.is_empty()
                && key.bytes().all(is_key_char)
                && key.bytes().any(|c| c.is_ascii_alphabetic() || c == b'_');
            (named && !value.is_empty()).then_some((line, value))
        })
        .collect()
}

/// Prefix of the metrics named by `name=number` description lines.
pub const CUSTOM_PREFIX: &str = "imp.events.custom.";

/// The dimensions and custom values of a description.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// `key:value` lines, validated; a repeated key keeps the last value.
    pub dimensions: Dimensions,
    /// One point per distinct `name=number` line, in order of first appearance with the last
    /// value, still without timestamp and dimensions: the caller fills them in once all lines
    /// are read. Building the output directly saves a temporary list on the hot path.
    pub customs: Vec<MetricPoint>,
}

/// Collects the fields of `text` straight into the shared model. Refuses (the whole event):
/// keys and `imp.events.custom.<name>` names the Impulses naming rule refuses, values that
/// overflow to infinity, more than `max_dimensions` distinct keys or more than `max_customs`
/// distinct names (which also bounds the quadratic deduplication of names).
pub fn parse_fields(
    text: &str,
    max_dimensions: usize,
    max_customs: usize,
) -> Result<Fields, SkipReason> {
    let mut fields = Fields::default();
    for line in lines(text) {
        match classify_line(line) {
            Line::Dimension(key, value) => {
                let key = DimensionKey::new(key)
                    .map_err(|_| SkipReason::InvalidDimensionKey(shorten(key)))?;
                fields.dimensions.insert(key, value.to_owned());
                if fields.dimensions.len() > max_dimensions {
                    return Err(SkipReason::Model(ModelError::TooManyDimensions));
                }
            }
            Line::Custom(name, value) => {
                upsert_custom(&mut fields.customs, name, value, max_customs)?
            }
            Line::Ignored => {}
        }
    }
    Ok(fields)
}

/// Splits at `\n` with a plain byte scan (description lines are short, where this beats the
/// memchr behind `str::lines`); a trailing `\r` goes with the trim in [`classify_line`].
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|b| b == b'\n') {
            Some(i) => {
                rest = current.get(i + 1..);
                current.get(..i)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn upsert_custom(
    customs: &mut Vec<MetricPoint>,
    name: &str,
    value: f64,
    max: usize,
) -> Result<(), SkipReason> {
    if !value.is_finite() {
        return Err(SkipReason::NonFiniteValue(shorten(name)));
    }
    let same_name =
        |p: &&mut MetricPoint| p.metric.as_str().get(CUSTOM_PREFIX.len()..) == Some(name);
    if let Some(existing) = customs.iter_mut().find(same_name) {
        existing.point.value = value;
        return Ok(());
    }
    if customs.len() >= max {
        return Err(SkipReason::TooManyCustomMetrics(max));
    }
    let mut metric = String::with_capacity(CUSTOM_PREFIX.len() + name.len());
    metric.push_str(CUSTOM_PREFIX);
    metric.push_str(name);
    let metric =
        MetricName::new(metric).map_err(|_| SkipReason::InvalidMetricName(shorten(name)))?;
    let point = Datapoint {
        timestamp: 0,
        dimensions: Dimensions::new(),
        value,
    };
    customs.push(MetricPoint { metric, point });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_are_not_numbers_are_found_and_nothing_else() {
        let text =
            "distance=10 km\nlaps=12\nwhere:park\n3=2\nnote = see you\nempty=\n18:00 run\nx=1e400";
        assert_eq!(
            not_numbers(text),
            [("distance=10 km", "10 km"), ("note = see you", "see you")]
        );
        assert!(not_numbers("km=5\npace=4.5").is_empty());
    }

    #[test]
    fn lines_are_classified() {
        use Line::{Custom, Dimension, Ignored};
        let cases: &[(&str, Line)] = &[
            ("where:park", Dimension("where", "park")),
            ("where: Central Park", Dimension("where", "Central Park")),
            (
                "  where  :  Central Park  ",
                Dimension("where", "Central Park"),
            ),
            ("where:a:b", Dimension("where", "a:b")),
            ("a.b_C9:x=1", Dimension("a.b_C9", "x=1")),
            (
                "zoom: https://zoom.us/j/123",
                Dimension("zoom", "https://zoom.us/j/123"),
            ),
            ("note: //todo", Dimension("note", "//todo")),
            ("Where:park", Dimension("Where", "park")),
            ("distance=10000", Custom("distance", 10000.0)),
            ("distance = -2.5e1", Custom("distance", -25.0)),
            ("big=1e400", Custom("big", f64::INFINITY)),
            ("https://meet.google.com/abc-defg-hij", Ignored),
            ("http://example.com", Ignored),
            ("ftp://example.com/x", Ignored),
            ("note://todo", Ignored),
            ("mailto:me@example.com", Ignored),
            ("MailTo: me@example.com", Ignored),
            ("tel:+48123456789", Ignored),
            ("Join with Google Meet: https://meet.google.com/x", Ignored),
            ("activity: Cycling", Ignored),
            ("src: other", Ignored),
            ("where:", Ignored),
            ("where:   ", Ignored),
            ("distance=10km", Ignored),
            ("distance=NaN", Ignored),
            ("distance=inf", Ignored),
            ("distance=0x10", Ignored),
            ("distance=1,5", Ignored),
            ("distance=", Ignored),
            ("straße: x", Ignored),
            ("ümlaut: x", Ignored),
            (": x", Ignored),
            ("18:00 stretch", Ignored),
            ("1.5: x", Ignored),
            ("3=2", Ignored),
            ("_:x", Dimension("_", "x")),
            ("x2=3", Custom("x2", 3.0)),
            ("2x: y", Dimension("2x", "y")),
            ("=1", Ignored),
            ("just a note", Ignored),
            ("", Ignored),
        ];
        for (line, expected) in cases {
            assert_eq!(classify_line(line), *expected, "{line:?}");
        }
    }

    #[test]
    fn lines_split_at_line_feeds_only() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[""]),
            ("a", &["a"]),
            ("a\nb", &["a", "b"]),
            ("a\r\nb\n", &["a\r", "b", ""]),
            ("\n\n", &["", "", ""]),
            ("é\nü", &["é", "ü"]),
        ];
        for (text, expected) in cases {
            assert_eq!(lines(text).collect::<Vec<_>>(), *expected, "{text:?}");
        }
    }

    #[test]
    fn last_line_wins_in_first_position() {
        let fields = parse_fields("a:1\nx=1\nb:2\na:3\nx=2\ny=5", 10, 10);
        let dimensions = [("a", "3"), ("b", "2")]
            .map(|(k, v)| (DimensionKey::new(k).unwrap(), v.to_owned()))
            .into();
        let custom = |name: &str, value| MetricPoint {
            metric: MetricName::new(format!("imp.events.custom.{name}")).unwrap(),
            point: Datapoint {
                timestamp: 0,
                dimensions: Dimensions::new(),
                value,
            },
        };
        let expected = Fields {
            dimensions,
            customs: vec![custom("x", 2.0), custom("y", 5.0)],
        };
        assert_eq!(fields, Ok(expected));
    }

    #[test]
    fn too_many_distinct_entries_are_refused() {
        assert_eq!(
            parse_fields("a:1\nb:2\nc:3", 2, 9),
            Err(SkipReason::Model(ModelError::TooManyDimensions))
        );
        assert_eq!(
            parse_fields("a=1\nb=2\nc=3", 9, 2),
            Err(SkipReason::TooManyCustomMetrics(2))
        );
        assert_eq!(
            parse_fields("a=1\nb=1e999", 9, 9),
            Err(SkipReason::NonFiniteValue("b".into()))
        );
        assert_eq!(
            parse_fields(&format!("{}=1", "n".repeat(82)), 9, 9),
            Err(SkipReason::InvalidMetricName(format!(
                "{}…",
                "n".repeat(60)
            )))
        );
        let long_key = format!("{}:v", "k".repeat(100));
        assert_eq!(
            parse_fields(&long_key, 9, 9),
            Err(SkipReason::InvalidDimensionKey(format!(
                "{}…",
                "k".repeat(60)
            )))
        );
        assert!(parse_fields("a:1\nb:2\na:3\nb:4", 2, 2).is_ok());
    }
}
