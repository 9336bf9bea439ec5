//! `GET /calendar/v3/calendars/{calendarId}/events`: authentication, parameter checks, and the
//! three kinds of call (full sync start, incremental sync start, next page) of GOOGLE_APIS.md.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::error;
use super::fault::Endpoint;
use super::grant::Bearer;
use super::listing::{self, Restrictions, Scope, SyncParams};
use super::model::AccountId;
use super::oauth::{bearer_token, form, CALENDAR_SCOPES};
use super::page;
use super::state::{Cursor, Shared, State};
use super::token;

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
pub(crate) struct Refused {
    code: u16,
    reason: &'static str,
    message: String,
}

impl Refused {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    /// With Google's usual message for the reason.
    fn usual(code: u16, reason: &'static str) -> Self {
        Self::new(code, reason, error::default_message(reason))
    }

    fn answer(&self) -> HttpResponse {
        error::calendar(self.code, self.reason, &self.message)
    }
}

fn invalid(reason: &'static str, message: &str) -> Refused {
    Refused::new(400, reason, message)
}

fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, Refused> {
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

fn parse(q: &HashMap<String, String>, shared: &Shared) -> Result<ListRequest, Refused> {
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

/// Checks the bearer token; `Ok` carries the account it belongs to.
fn authenticate(state: &mut State, token: Option<&str>) -> Result<AccountId, Refused> {
    let unauthorized = || Refused::usual(401, "authError");
    let Some(token) = token else {
        state.violation("list: no access token".to_string());
        return Err(unauthorized());
    };
    match state.grants.bearer(token, state.now()) {
        Bearer::Valid { account, scopes } => {
            if !scopes.iter().any(|s| CALENDAR_SCOPES.contains(&s.as_str())) {
                return Err(Refused::usual(403, "insufficientPermissions"));
            }
            Ok(account)
        }
        Bearer::Expired { forced: true } | Bearer::Revoked => Err(unauthorized()),
        Bearer::Expired { forced: false } => {
            state.violation(
                "list: access token used after it expired (refresh before expiry)".to_string(),
            );
            Err(unauthorized())
        }
        Bearer::Unknown => {
            let text = if token::is_plus_mangled(token) {
                "mangled"
            } else {
                "unknown"
            };
            state.violation(format!("list: {text} access token"));
            Err(unauthorized())
        }
    }
}

/// Looks up a page or sync token; records a violation when it arrived with `+` decoded as space.
fn known(
    state: &mut State,
    kind: &str,
    received: &str,
    exists: impl Fn(&State, &str) -> bool,
) -> Option<String> {
    if exists(state, received) {
        return Some(received.to_string());
    }
    if token::is_plus_mangled(received) && exists(state, &token::unmangle(received)) {
        state.violation(format!(
            "list: {kind} token arrived with '+' decoded as a space (not URL-encoded)"
        ));
    }
    None
}

/// The `events.list` handler.
pub(crate) async fn list(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let q = form(req.query_string().as_bytes());
    let token = bearer_token(&req);
    let owner = token
        .as_deref()
        .and_then(|t| shared.lock().grants.account_of(t));
    if let Some(owner) = &owner {
        *shared
            .lock()
            .counters
            .list_calls_by_account
            .entry(owner.0.clone())
            .or_default() += 1;
    }
    if let Some(answer) = shared.fault_gate(Endpoint::List, owner.as_ref()).await {
        return answer;
    }
    let account = match authenticate(&mut shared.lock(), token.as_deref()) {
        Ok(account) => account,
        Err(refused) => return refused.answer(),
    };
    {
        let state = shared.lock();
        let Ok(owner) = state.account(&account) else {
            return error::calendar(404, "notFound", "Not Found");
        };
        let id = path.into_inner();
        if id != "primary" && !id.eq_ignore_ascii_case(&owner.email) {
            return error::calendar(404, "notFound", "Not Found");
        }
    }
    let request = match parse(&q, &shared) {
        Ok(request) => request,
        Err(refused) => return refused.answer(),
    };
    let cursor = if let Some(page_token) = &request.page_token {
        next_page(&shared, &account, &request, page_token)
    } else if let Some(sync_token) = &request.sync_token {
        start_incremental(&shared, &account, &request, sync_token)
    } else {
        start_full(&shared, &account, &request)
    };
    match cursor {
        Ok(cursor) => page::serve(&shared, cursor, &request),
        Err(refused) => refused.answer(),
    }
}

/// How far open-ended series are expanded: the configured horizon past the sandbox's now.
fn horizon(shared: &Shared, state: &State) -> DateTime<Utc> {
    let ahead = chrono::Duration::from_std(shared.config.recurrence_horizon)
        .unwrap_or(chrono::Duration::days(730));
    state.now() + ahead
}

fn start_full(
    shared: &Shared,
    account: &AccountId,
    request: &ListRequest,
) -> Result<Cursor, Refused> {
    let (events, zone, seq, epoch, horizon) = {
        let mut state = shared.lock();
        state.counters.full_syncs_started += 1;
        state.counters.list_full += 1;
        let horizon = horizon(shared, &state);
        let owner = state
            .account(account)
            .map_err(|_| Refused::usual(404, "notFound"))?;
        (
            owner.calendar.snapshot(),
            owner.zone,
            owner.calendar.seq,
            owner.sync_epoch,
            horizon,
        )
    };
    let scope = Scope {
        params: &request.params,
        zone,
        horizon,
    };
    let items = listing::full(&events, &scope, &request.restrictions);
    Ok(Cursor {
        account: account.clone(),
        items: Arc::new(items),
        offset: 0,
        sync_seq: seq,
        epoch,
        params: request.params.clone(),
        incremental: false,
        same_token: None,
    })
}

fn gone() -> Refused {
    Refused::usual(410, "fullSyncRequired")
}

fn start_incremental(
    shared: &Shared,
    account: &AccountId,
    request: &ListRequest,
    sync_token: &str,
) -> Result<Cursor, Refused> {
    let mut state = shared.lock();
    state.counters.list_incremental += 1;
    if !request.forbidden.is_empty() {
        state.violation(format!(
            "list: syncToken sent with {}",
            request.forbidden.join(", ")
        ));
        return Err(Refused::usual(400, "syncTokenWithRequestRestrictions"));
    }
    let Some(found) = known(&mut state, "sync", sync_token, |s, t| {
        s.sync_tokens.contains_key(t)
    }) else {
        return Err(gone());
    };
    let (seq, epoch, params) = match state.sync_tokens.get(&found) {
        Some(record) if &record.account == account => {
            (record.seq, record.epoch, record.params.clone())
        }
        _ => return Err(gone()),
    };
    let differences = params.differences(&request.params);
    if !differences.is_empty() {
        state.violation(format!(
            "list: sync token used with different {}",
            differences.join(", ")
        ));
    }
    let horizon = horizon(shared, &state);
    let owner = state.account(account).map_err(|_| gone())?;
    if epoch < owner.sync_epoch {
        return Err(gone());
    }
    let (changed, exceptions) = owner.calendar.changed_since(seq);
    let (zone, now_seq, current_epoch) = (owner.zone, owner.calendar.seq, owner.sync_epoch);
    drop(state);
    let scope = Scope {
        params: &request.params,
        zone,
        horizon,
    };
    let items = listing::incremental(&changed, &exceptions, &scope);
    let unchanged = now_seq == seq && differences.is_empty();
    Ok(Cursor {
        account: account.clone(),
        items: Arc::new(items),
        offset: 0,
        sync_seq: now_seq,
        epoch: current_epoch,
        params: request.params.clone(),
        incremental: true,
        same_token: unchanged.then(|| found.clone()),
    })
}

fn next_page(
    shared: &Shared,
    account: &AccountId,
    request: &ListRequest,
    page_token: &str,
) -> Result<Cursor, Refused> {
    let mut state = shared.lock();
    let bad_token = || invalid("invalid", "Invalid page token value.");
    let Some(found) = known(&mut state, "page", page_token, |s, t| {
        s.page_tokens.contains_key(t)
    }) else {
        state.counters.list_full += 1;
        return Err(bad_token());
    };
    let Some(cursor) = state
        .page_tokens
        .get(&found)
        .filter(|c| &c.account == account)
        .cloned()
    else {
        return Err(bad_token());
    };
    if cursor.incremental {
        state.counters.list_incremental += 1;
    } else {
        state.counters.list_full += 1;
    }
    let differences = cursor.params.differences(&request.params);
    if !differences.is_empty() {
        state.violation(format!(
            "list: page token used with different {}",
            differences.join(", ")
        ));
    }
    Ok(cursor)
}
