//! Description lines to dimensions and custom values.
//!
//! After HTML is turned into lines (see [`super::html`]), each trimmed line is one of:
//! - `key:value`, white space allowed around `:`: the dimension `key=value`, value trimmed;
//! - `name=number`, white space allowed around `=`: the metric `imp.events.custom.<name>`;
//! - anything else: ignored.
//!
//! Keys and names are ASCII letters, digits, `.` and `_`. Ignored as well, because they are not
//! what a person means as a dimension: URLs (`https://…`, any `scheme://…`, and the schemes
//! without `//`: `mailto:`, `tel:`, `sms:`, `callto:`, `urn:`), empty values (`where:`), and the
//! reserved keys `activity` and `src`, which the converter owns. `zoom: https://…` is a dimension
//! `zoom` whose value is a URL. Duplicate keys or names: the last line wins, keeping the position
//! of the first, so the result is deterministic.

use super::number::parse_number;

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
    if key_len == 0 {
        return Line::Ignored;
    }
    let (key, rest) = line.split_at(key_len);
    let rest = rest.trim_start();
    if let Some(value) = rest.strip_prefix(':') {
        let is_url =
            value.starts_with("//") || OPAQUE_SCHEMES.iter().any(|s| key.eq_ignore_ascii_case(s));
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

/// The dimensions and custom values of a description, borrowed from its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a> {
    /// `key:value` lines, deduplicated, in order of first appearance.
    pub dimensions: Vec<(&'a str, &'a str)>,
    /// `name=number` lines, deduplicated, in order of first appearance.
    pub customs: Vec<(&'a str, f64)>,
}

/// Too many distinct entries: the description is not a measurement anyone typed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    /// More distinct dimension keys than the given limit.
    Dimensions(usize),
    /// More distinct custom names than the given limit.
    Customs(usize),
}

/// Collects the fields of `text`, refusing more than `max_dimensions` distinct keys or
/// `max_customs` distinct names (which also bounds the quadratic deduplication).
pub fn parse_fields(
    text: &str,
    max_dimensions: usize,
    max_customs: usize,
) -> Result<Fields<'_>, TooMany> {
    let mut fields = Fields::default();
    for line in text.lines() {
        match classify_line(line) {
            Line::Dimension(key, value) => {
                upsert(&mut fields.dimensions, key, value, max_dimensions)
                    .map_err(TooMany::Dimensions)?;
            }
            Line::Custom(name, value) => {
                upsert(&mut fields.customs, name, value, max_customs).map_err(TooMany::Customs)?;
            }
            Line::Ignored => {}
        }
    }
    Ok(fields)
}

fn upsert<'a, V>(
    entries: &mut Vec<(&'a str, V)>,
    key: &'a str,
    value: V,
    max: usize,
) -> Result<(), usize> {
    if let Some(entry) = entries.iter_mut().find(|(k, _)| *k == key) {
        entry.1 = value;
    } else if entries.len() >= max {
        return Err(max);
    } else {
        entries.push((key, value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("=1", Ignored),
            ("just a note", Ignored),
            ("", Ignored),
        ];
        for (line, expected) in cases {
            assert_eq!(classify_line(line), *expected, "{line:?}");
        }
    }

    #[test]
    fn last_line_wins_in_first_position() {
        let fields = parse_fields("a:1\nx=1\nb:2\na:3\nx=2\ny=5", 10, 10);
        let expected = Fields {
            dimensions: vec![("a", "3"), ("b", "2")],
            customs: vec![("x", 2.0), ("y", 5.0)],
        };
        assert_eq!(fields, Ok(expected));
    }

    #[test]
    fn too_many_distinct_entries_are_refused() {
        assert_eq!(
            parse_fields("a:1\nb:2\nc:3", 2, 9),
            Err(TooMany::Dimensions(2))
        );
        assert_eq!(
            parse_fields("a=1\nb=2\nc=3", 9, 2),
            Err(TooMany::Customs(2))
        );
        assert!(parse_fields("a:1\nb:2\na:3\nb:4", 2, 2).is_ok());
    }
}
