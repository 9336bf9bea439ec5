//! Event times to epoch milliseconds.
//!
//! Timed events carry RFC 3339 `dateTime` values with an offset, which we honour exactly (the
//! offset is the truth; `timeZone` beside it is informative). All-day events carry a `date` and
//! start at local midnight in a zone the caller resolves (see [`all_day_zone`]); a day across a DST
//! change therefore lasts 23 or 25 hours, as the calendar shows it.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::google::model::EventTime;

/// Longest zone name we try to look up; IANA names are far shorter.
const MAX_ZONE_NAME_LEN: usize = 64;

/// Parses an IANA zone name such as `Europe/Warsaw`, as in the `timeZone` of an events.list
/// answer (Google spells them exactly; surrounding white space is tolerated). `None` for anything
/// unknown, so the caller falls back instead of guessing.
pub fn parse_time_zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_ZONE_NAME_LEN {
        return None;
    }
    name.parse::<Tz>().ok()
}

/// The zone in which all-day events start: the calendar's zone (the `timeZone` of the
/// events.list answer, parsed by the caller) first, else the event's own `start.timeZone`, else
/// UTC. The calendar's zone wins because that is the zone in which Google draws the day.
pub fn all_day_zone(calendar: Option<Tz>, event_start: Option<&EventTime>) -> Tz {
    calendar
        .or_else(|| {
            event_start
                .and_then(|t| t.time_zone.as_deref())
                .and_then(parse_time_zone)
        })
        .unwrap_or(Tz::UTC)
}

/// What is wrong with one side of an event's time span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Neither `dateTime` nor `date` is present.
    Missing,
    /// The value is not RFC 3339 with an offset, or not `yyyy-mm-dd`.
    Unparseable,
}

/// An instant in epoch milliseconds, remembering whether it came from an all-day `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// Milliseconds since the Unix epoch.
    pub ms: i64,
    /// Whether it was a `date` (local midnight) rather than a `dateTime`.
    pub all_day: bool,
}

/// Resolves one `start` or `end` to an instant. `dateTime` wins when both are present; a
/// `dateTime` without an offset is refused rather than guessed. `zone` is asked only for
/// a `date`, which keeps the zone lookup off the path of timed events.
pub fn resolve(time: Option<&EventTime>, zone: impl FnOnce() -> Tz) -> Result<Instant, TimeError> {
    let time = time.ok_or(TimeError::Missing)?;
    if let Some(text) = time.date_time.as_deref() {
        let ms = parse_date_time(text).ok_or(TimeError::Unparseable)?;
        return Ok(Instant { ms, all_day: false });
    }
    if let Some(text) = time.date.as_deref() {
        let date = parse_date(text).ok_or(TimeError::Unparseable)?;
        return Ok(Instant {
            ms: local_midnight_ms(date, zone()),
            all_day: true,
        });
    }
    Err(TimeError::Missing)
}

/// RFC 3339 with offset to epoch milliseconds (sub-millisecond digits are truncated).
///
/// Google's exact shape (`2026-03-02T07:00:00+01:00`, optional fraction, `Z`) takes a fast path;
/// anything else goes through chrono, which decides. Both agree where both accept (tested).
pub fn parse_date_time(text: &str) -> Option<i64> {
    let text = text.trim();
    fast_rfc3339_ms(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date, `None` for a date that does not exist
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_len).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` without allocation; `None` sends the text to chrono.
fn fast_rfc3339_ms(b: &[u8]) -> Option<i64> {
    let digit = |i: usize| -> Option<i64> {
        let c = *b.get(i)?;
        c.is_ascii_digit().then(|| i64::from(c - b'0'))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, two(5)?, two(8)?)?;
    let mut i = 19;
    let mut millis = 0;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for k in 0..3 {
            millis = millis * 10 + if k < digits { digit(i + 1 + k)? } else { 0 };
        }
        i += 1 + digits;
    }
    let offset_seconds = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (two(i + 1)?, two(i + 4)?);
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = h * 3600 + m * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1000 + millis)
}

/// Strict `yyyy-mm-dd`, as Google writes all-day dates.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.trim().as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        b[range]
            .iter()
            .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'))
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)).ok()?, num(5..7), num(8..10))
}

/// The first instant of `date` in `zone`, in epoch milliseconds.
///
/// Usually local midnight. When midnight occurs twice (a fall-back at midnight) the earlier one;
/// when it does not exist (zones that spring forward at midnight, e.g. America/Santiago,
/// Asia/Beirut), the instant the day actually begins, i.e. the end of the gap. Exact to the second.
pub fn local_midnight_ms(date: NaiveDate, zone: Tz) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    match zone.from_local_datetime(&midnight) {
        LocalResult::Single(t) => t.timestamp() * 1000,
        LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()) * 1000,
        LocalResult::None => first_instant_after_gap(midnight, zone) * 1000,
    }
}

/// Finds the end of the DST gap that swallows `local` (which does not exist in `zone`): the first
/// existing local minute after it bounds the transition, then a scan of that minute finds the
/// exact second. Gaps are short (at most a day, Pacific/Apia 2011), so this stays cheap and rare.
fn first_instant_after_gap(local: NaiveDateTime, zone: Tz) -> i64 {
    for minute in 1..=(48 * 60) {
        let candidate = local + Duration::minutes(minute);
        let first = match zone.from_local_datetime(&candidate) {
            LocalResult::Single(t) => t.timestamp(),
            LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
            LocalResult::None => continue,
        };
        // The transition lies within the 60 seconds before `first`.
        return (first - 59..=first)
            .find(|&s| {
                DateTime::from_timestamp(s, 0)
                    .map(|utc| utc.with_timezone(&zone).naive_local() >= local)
                    .unwrap_or(false)
            })
            .unwrap_or(first);
    }
    // Unreachable for real zone data; fall back to reading midnight as UTC.
    local.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap_or_else(|| panic!("bad test date {text}"))
    }

    fn zone(name: &str) -> Tz {
        parse_time_zone(name).unwrap_or_else(|| panic!("bad test zone {name}"))
    }

    #[test]
    fn date_times_honour_their_offsets_exactly() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2026-03-02T07:00:00Z", Some(1_772_434_800_000)),
            ("2026-03-02T07:00:00+00:00", Some(1_772_434_800_000)),
            ("2026-03-02T08:00:00+01:00", Some(1_772_434_800_000)),
            ("2026-03-02T02:00:00-05:00", Some(1_772_434_800_000)),
            ("2026-03-02T12:45:00+05:45", Some(1_772_434_800_000)),
            ("2026-03-01T21:00:00-10:00", Some(1_772_434_800_000)),
            ("2026-03-02T20:45:00+13:45", Some(1_772_434_800_000)),
            ("2026-03-02T07:00:00.999Z", Some(1_772_434_800_999)),
            ("2026-03-02T07:00:00.9999Z", Some(1_772_434_800_999)),
            ("1969-12-31T23:59:59Z", Some(-1000)),
            (" 2026-03-02T07:00:00Z ", Some(1_772_434_800_000)),
            ("2026-03-02T07:00:00", None),
            ("2026-03-02", None),
            ("2026-02-30T07:00:00Z", None),
            ("", None),
            ("yesterday", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date_time(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        let cases = [
            "2026-03-02T07:00:00Z",
            "2026-03-02T08:00:00+01:00",
            "2026-03-02T02:00:00-05:00",
            "2026-03-02T12:45:00+05:45",
            "2026-03-02T07:00:00.1Z",
            "2026-03-02T07:00:00.123456789-03:30",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59.999-23:59",
            "2024-02-29T12:00:00Z",
            "2000-02-29T00:00:00Z",
            "0000-03-01T00:00:00Z",
            "1900-03-01T00:00:00Z",
        ];
        for text in cases {
            let chrono = DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .ok();
            assert!(chrono.is_some(), "{text}");
            assert_eq!(fast_rfc3339_ms(text.as_bytes()), chrono, "{text}");
        }
        // Shapes the fast path leaves to chrono.
        for text in [
            "2026-03-02t07:00:00z",
            "2026-03-02T07:00:60Z",
            "2026-03-02 07:00:00Z",
            "2026-03-02T07:00:00+0100",
        ] {
            assert_eq!(fast_rfc3339_ms(text.as_bytes()), None, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_chrono_on_generated_times(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,12})?(Z|[+-][0-2][0-9]:[0-6][0-9])"
        ) {
            let chrono = DateTime::parse_from_rfc3339(&text).map(|t| t.timestamp_millis()).ok();
            if let Some(fast) = fast_rfc3339_ms(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast), chrono);
            }
            proptest::prop_assert_eq!(parse_date_time(&text), chrono);
        }
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date("2026-03-29"),
            NaiveDate::from_ymd_opt(2026, 3, 29)
        );
        for bad in [
            "2026-3-29",
            "2026-02-30",
            "26-03-29",
            "2026/03/29",
            "+2026-03-2",
            "",
            "２０２６-03-29",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_midnight_follows_the_zone_across_dst() {
        let cases: &[(&str, &str, i64)] = &[
            ("UTC", "2026-03-29", 1_774_742_400_000),
            // Warsaw: CET (+01) until 2026-03-29 02:00, CEST (+02) until 2026-10-25 03:00.
            ("Europe/Warsaw", "2026-03-29", 1_774_738_800_000),
            ("Europe/Warsaw", "2026-03-30", 1_774_821_600_000),
            ("Europe/Warsaw", "2026-10-25", 1_792_879_200_000),
            ("Europe/Warsaw", "2026-10-26", 1_792_969_200_000),
            // New York: EST (-05) until 2026-03-08 02:00, EDT (-04) until 2026-11-01 02:00.
            ("America/New_York", "2026-03-08", 1_772_946_000_000),
            ("America/New_York", "2026-03-09", 1_773_028_800_000),
            ("America/New_York", "2026-11-01", 1_793_505_600_000),
            ("America/New_York", "2026-11-02", 1_793_595_600_000),
            // Santiago springs forward at local midnight: 2022-09-11 starts at 01:00 -03,
            // i.e. 04:00 UTC.
            ("America/Santiago", "2022-09-11", 1_662_868_800_000),
            // Beirut did the same on 2023-03-26 (planned): 00:00 +02 became 01:00 +03 = 22:00 UTC.
            ("Asia/Beirut", "2023-03-26", 1_679_781_600_000),
            // Samoa skipped 2011-12-30 entirely: the day "starts" when 2011-12-31 does.
            ("Pacific/Apia", "2011-12-30", 1_325_239_200_000),
            ("Pacific/Apia", "2011-12-31", 1_325_239_200_000),
        ];
        for (name, day, expected) in cases {
            assert_eq!(
                local_midnight_ms(date(day), zone(name)),
                *expected,
                "{name} {day}"
            );
        }
    }

    #[test]
    fn zone_names_parse_exactly() {
        assert_eq!(parse_time_zone("Europe/Warsaw"), Some(Tz::Europe__Warsaw));
        assert_eq!(parse_time_zone(" Europe/Warsaw "), Some(Tz::Europe__Warsaw));
        assert_eq!(parse_time_zone("UTC"), Some(Tz::UTC));
        for bad in [
            "",
            "europe/warsaw",
            "Mars/Olympus",
            "+01:00",
            &"A".repeat(500),
        ] {
            assert_eq!(parse_time_zone(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn all_day_zone_prefers_the_calendar_then_the_event_then_utc() {
        let own = EventTime {
            time_zone: Some("America/New_York".into()),
            ..EventTime::default()
        };
        let junk = EventTime {
            time_zone: Some("Nowhere/Land".into()),
            ..EventTime::default()
        };
        let warsaw = Some(Tz::Europe__Warsaw);
        assert_eq!(all_day_zone(warsaw, Some(&own)), Tz::Europe__Warsaw);
        assert_eq!(all_day_zone(None, Some(&own)), Tz::America__New_York);
        assert_eq!(all_day_zone(None, Some(&junk)), Tz::UTC);
        assert_eq!(all_day_zone(None, None), Tz::UTC);
    }

    #[test]
    fn resolve_distinguishes_missing_from_unparseable() {
        let dt = |s: &str| EventTime {
            date_time: Some(s.into()),
            ..EventTime::default()
        };
        let d = |s: &str| EventTime {
            date: Some(s.into()),
            ..EventTime::default()
        };
        let utc = || Tz::UTC;
        assert_eq!(resolve(None, utc), Err(TimeError::Missing));
        assert_eq!(
            resolve(Some(&EventTime::default()), utc),
            Err(TimeError::Missing)
        );
        assert_eq!(resolve(Some(&dt("nope")), utc), Err(TimeError::Unparseable));
        assert_eq!(
            resolve(Some(&d("2026-13-01")), utc),
            Err(TimeError::Unparseable)
        );
        assert_eq!(
            resolve(Some(&dt("1970-01-01T00:00:01Z")), utc),
            Ok(Instant {
                ms: 1000,
                all_day: false
            })
        );
        assert_eq!(
            resolve(Some(&d("1970-01-02")), utc),
            Ok(Instant {
                ms: 86_400_000,
                all_day: true
            })
        );
        let both = EventTime {
            date: Some("1970-01-02".into()),
            ..dt("1970-01-01T00:00:00Z")
        };
        assert_eq!(
            resolve(Some(&both), utc),
            Ok(Instant {
                ms: 0,
                all_day: false
            })
        );
    }
}
