//! Expansion of a series' `RRULE`/`EXDATE`/`RDATE` lines into occurrence start times, evaluated in
//! the series' `start.timeZone` (GOOGLE_APIS.md), so a weekly 07:00 meeting stays at 07:00 local
//! across a DST change.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rrule::{RRule, RRuleSet, Unvalidated};

use super::model::EventTime;
use super::SandboxError;

/// The occurrences of a series starting at `start`, up to and including `horizon` (open-ended
/// series are cut there; Google cuts them too, far beyond now), in order.
pub(crate) fn expand(
    start: &EventTime,
    lines: &[String],
    horizon: DateTime<Utc>,
) -> Result<Vec<EventTime>, SandboxError> {
    let zone: rrule::Tz = match start {
        EventTime::Timed(at) => at.timezone().into(),
        EventTime::AllDay(_) => rrule::Tz::UTC,
    };
    let dt_start = to_rrule(start, zone)?;
    let mut set = RRuleSet::new(dt_start);
    for line in lines {
        let (name, params, value) = split_line(line)?;
        match name.as_str() {
            "RRULE" => {
                let rule: RRule<Unvalidated> = value
                    .parse()
                    .map_err(|e| SandboxError::Invalid(format!("{line}: {e}")))?;
                let rule = rule
                    .validate(dt_start)
                    .map_err(|e| SandboxError::Invalid(format!("{line}: {e}")))?;
                set = set.rrule(rule);
            }
            "EXDATE" => {
                for value in value.split(',') {
                    set = set.exdate(parse_date(&params, value, start, zone)?);
                }
            }
            "RDATE" => {
                for value in value.split(',') {
                    set = set.rdate(parse_date(&params, value, start, zone)?);
                }
            }
            _ => {
                return Err(SandboxError::Invalid(format!(
                    "unsupported recurrence line {line}"
                )))
            }
        }
    }
    let horizon = horizon.with_timezone(&zone);
    Ok(set
        .into_iter()
        .take_while(|at| *at <= horizon)
        .map(|at| from_rrule(start, at))
        .collect())
}

fn to_rrule(time: &EventTime, zone: rrule::Tz) -> Result<DateTime<rrule::Tz>, SandboxError> {
    match time {
        EventTime::Timed(at) => Ok(at.with_timezone(&zone)),
        EventTime::AllDay(date) => local(zone, date.and_time(NaiveTime::MIN)),
    }
}

fn from_rrule(start: &EventTime, at: DateTime<rrule::Tz>) -> EventTime {
    match start {
        EventTime::Timed(first) => EventTime::Timed(at.with_timezone(&first.timezone())),
        EventTime::AllDay(_) => EventTime::AllDay(at.date_naive()),
    }
}

fn local(zone: rrule::Tz, local: NaiveDateTime) -> Result<DateTime<rrule::Tz>, SandboxError> {
    zone.from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| SandboxError::Invalid(format!("{local} does not exist in {}", zone.name())))
}

/// A recurrence line taken apart: NAME, its `;PARAM=V` pairs, VALUE.
type Line<'a> = (String, Vec<(String, String)>, &'a str);

/// `NAME;PARAM=V;…:VALUE` → (NAME, params, VALUE).
fn split_line(line: &str) -> Result<Line<'_>, SandboxError> {
    let (head, value) = line
        .split_once(':')
        .ok_or_else(|| SandboxError::Invalid(format!("recurrence line without ':': {line}")))?;
    let mut parts = head.split(';');
    let name = parts.next().unwrap_or_default().trim().to_ascii_uppercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_ascii_uppercase(), v.to_string()))
        .collect();
    Ok((name, params, value.trim()))
}

/// One `EXDATE`/`RDATE` value: `…Z` (UTC), `;TZID=` local, floating (series zone), or a date.
fn parse_date(
    params: &[(String, String)],
    value: &str,
    start: &EventTime,
    zone: rrule::Tz,
) -> Result<DateTime<rrule::Tz>, SandboxError> {
    let bad = || SandboxError::Invalid(format!("bad recurrence date {value}"));
    let value = value.trim();
    if value.len() == 8 {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| bad())?;
        // A date for a timed series means that day's occurrence at the series' local time.
        let time = match start {
            EventTime::Timed(at) => at.naive_local().time(),
            EventTime::AllDay(_) => NaiveTime::MIN,
        };
        return local(zone, date.and_time(time));
    }
    if let Some(utc) = value.strip_suffix('Z') {
        let naive = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        return Ok(naive.and_utc().with_timezone(&zone));
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
    let tzid = params.iter().find(|(k, _)| k == "TZID").map(|(_, v)| v);
    match tzid {
        Some(name) => {
            let named: chrono_tz::Tz = name.parse().map_err(|_| bad())?;
            Ok(local(named.into(), naive)?.with_timezone(&zone))
        }
        None => local(zone, naive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike};

    fn warsaw(y: i32, m: u32, d: u32, h: u32) -> EventTime {
        EventTime::Timed(
            chrono_tz::Europe::Warsaw
                .with_ymd_and_hms(y, m, d, h, 0, 0)
                .unwrap(),
        )
    }

    #[test]
    fn weekly_series_keeps_local_time_across_dst() {
        let start = warsaw(2026, 3, 16, 7);
        let lines = vec!["RRULE:FREQ=WEEKLY;COUNT=4".to_string()];
        let all = expand(&start, &lines, Utc::now() + chrono::Duration::days(3650)).unwrap();
        assert_eq!(all.len(), 4);
        for time in &all {
            let EventTime::Timed(at) = time else {
                panic!("timed")
            };
            assert_eq!(at.hour(), 7);
        }
        assert_eq!(all[1].instance_suffix(), "20260323T060000Z");
        assert_eq!(all[2].instance_suffix(), "20260330T050000Z");
    }

    #[test]
    fn exdate_and_rdate_in_every_form() {
        let start = warsaw(2026, 3, 2, 7);
        let lines = vec![
            "RRULE:FREQ=DAILY;COUNT=5".to_string(),
            "EXDATE;TZID=Europe/Warsaw:20260303T070000".to_string(),
            "EXDATE:20260304T060000Z".to_string(),
            "RDATE;TZID=Europe/Warsaw:20260310T090000".to_string(),
        ];
        let all = expand(&start, &lines, Utc::now() + chrono::Duration::days(3650)).unwrap();
        let days: Vec<u32> = all
            .iter()
            .map(|t| match t {
                EventTime::Timed(at) => at.day(),
                EventTime::AllDay(d) => d.day(),
            })
            .collect();
        assert_eq!(days, vec![2, 5, 6, 10]);
    }

    #[test]
    fn all_day_series_expands_by_date() {
        let start = EventTime::AllDay(NaiveDate::from_ymd_opt(2026, 3, 28).unwrap());
        let lines = vec![
            "RRULE:FREQ=DAILY;COUNT=3".to_string(),
            "EXDATE;VALUE=DATE:20260329".to_string(),
        ];
        let all = expand(&start, &lines, Utc::now() + chrono::Duration::days(3650)).unwrap();
        let ids: Vec<String> = all.iter().map(EventTime::instance_suffix).collect();
        assert_eq!(ids, vec!["20260328", "20260330"]);
    }

    #[test]
    fn open_ended_series_stops_at_the_horizon() {
        let start = warsaw(2026, 1, 5, 7);
        let lines = vec!["RRULE:FREQ=WEEKLY".to_string()];
        let horizon = chrono::Utc.with_ymd_and_hms(2027, 1, 5, 0, 0, 0).unwrap();
        let all = expand(&start, &lines, horizon).unwrap();
        assert_eq!(
            all.len(),
            53,
            "2026-01-05 plus 52 weeks is 2027-01-04, inside the horizon"
        );
    }
}
