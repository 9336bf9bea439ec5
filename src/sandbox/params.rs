//! The parameters of `events.list`, parsed and checked like Google does, and the refusal type
//! every list error travels in until it becomes Google's error body.

use std::collections::HashMap;

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::error;
use super::listing::{Restrictions, SyncParams};
use super::state::Shared;

/// Parameters forbidden together with `syncToken` (GOOGLE_APIS.md).
const FORBIDDEN_WITH_SYNC: [&str; 8] = [
    "timeMin",
    "timeMax",
    "updatedMin",
    "orderBy",
    "q",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
];

/// A list request, parsed and checked.
pub(crate) struct ListRequest {
    pub params: SyncParams,
    pub restrictions: Restrictions,
    pub forbidden: Vec<&'static str>,
    pub page_token: Option<String>,
    pub sync_token: Option<String>,
    pub display: Option<Tz>,
    pub page_size: usize,
}

/// A refused list call, turned into Google's error body at the end of the handler.
#[derive(Debug)]
pub(crate) struct Refused {
    code: u16,
    reason: &'static str,
    message: String,
}

impl Refused {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    /// With Google's usual message for the reason.
    pub(crate) fn usual(code: u16, reason: &'static str) -> Self {
        Self::new(code, reason, error::default_message(reason))
    }

    pub(crate) fn answer(&self) -> HttpResponse {
        error::calendar(self.code, self.reason, &self.message)
    }
}

pub(crate) fn invalid(reason: &'static str, message: &str) -> Refused {
    Refused::new(400, reason, message)
}

pub(crate) fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, Refused> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(
            "invalid",
            &format!("Invalid boolean value: '{other}'"),
        )),
    }
}

fn instant(q: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, Refused> {
    q.get(name)
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| invalid("badRequest", "Bad Request"))
        })
        .transpose()
}

pub(crate) fn parse(q: &HashMap<String, String>, shared: &Shared) -> Result<ListRequest, Refused> {
    let config = &shared.config;
    let max_results = match q.get("maxResults") {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(invalid(
                    "invalid",
                    &format!("Invalid value '{text}'. Values must be within the range: [1, 2500]"),
                ))
            }
        },
    };
    let display = match q.get("timeZone") {
        None => None,
        Some(name) => Some(name.parse::<Tz>().map_err(|_| {
            invalid(
                "timeZoneNotValid",
                &format!("Invalid time zone definition for {name}."),
            )
        })?),
    };
    let single_events = flag(q, "singleEvents")?;
    let restrictions = Restrictions {
        time_min: instant(q, "timeMin")?,
        time_max: instant(q, "timeMax")?,
        updated_min: instant(q, "updatedMin")?,
        order_by: q.get("orderBy").cloned(),
        text: q
            .get("q")
            .map(|text| text.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default(),
        ical_uid: q.get("iCalUID").cloned(),
    };
    if let (Some(min), Some(max)) = (restrictions.time_min, restrictions.time_max) {
        if min >= max {
            return Err(invalid(
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
    }
    match restrictions.order_by.as_deref() {
        None | Some("updated") => {}
        Some("startTime") if single_events => {}
        Some("startTime") => {
            return Err(invalid(
                "badRequest",
                "The requested ordering is not available for the particular query.",
            ))
        }
        Some(_) => return Err(invalid("invalid", "Invalid value for orderBy")),
    }
    Ok(ListRequest {
        params: SyncParams {
            single_events,
            show_deleted: flag(q, "showDeleted")?,
            max_results,
            time_zone: q.get("timeZone").cloned(),
            event_types: q.get("eventTypes").cloned(),
        },
        restrictions,
        forbidden: FORBIDDEN_WITH_SYNC
            .into_iter()
            .filter(|name| q.contains_key(*name))
            .collect(),
        page_token: q.get("pageToken").cloned(),
        sync_token: q.get("syncToken").cloned(),
        display,
        page_size: max_results
            .unwrap_or(config.default_page_size)
            .min(config.max_page_size) as usize,
    })
}
