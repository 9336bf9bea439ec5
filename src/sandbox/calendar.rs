//! `GET /calendar/v3/calendars/{calendarId}/events`: authentication, which calendar the id names
//! for the caller, parameter checks, and the three kinds of call (full sync start, incremental
//! sync start, next page) of GOOGLE_APIS.md. Page and sync tokens are bound to the account and
//! the calendar they came from.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::fault::Endpoint;
use super::grant::Bearer;
use super::listing::{self, Scope};
use super::model::{AccountId, CalendarId};
use super::oauth::{bearer_token, form, CALENDAR_SCOPES};
use super::page;
use super::params::{invalid, parse, ListRequest, Refused};
use super::state::{Cursor, Shared, State};
use super::token;

/// Checks the bearer token; `Ok` carries the account it belongs to.
pub(crate) fn authenticate(state: &mut State, token: Option<&str>) -> Result<AccountId, Refused> {
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
pub(crate) fn known(
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

/// One `events.list` call of an account being answered; counted in `lists_in_flight` until
/// dropped, whichever way the handler returns.
struct InFlight {
    shared: web::Data<Shared>,
    account: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(n) = state.lists_in_flight.get_mut(&self.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.lists_in_flight.remove(&self.account);
            }
        }
    }
}

/// The `events.list` handler.
pub(crate) async fn list(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let q = form(req.query_string().as_bytes());
    let token = bearer_token(&req);
    let raw = path.into_inner();
    let owner = token.as_deref().and_then(|token| {
        let mut state = shared.lock();
        let owner = state.grants.account_of(token)?;
        let calls = state.counters.list_calls_by_account.entry(owner.0.clone());
        *calls.or_default() += 1;
        let now = state.lists_in_flight.entry(owner.0.clone()).or_default();
        *now += 1;
        let now = *now;
        let most = &mut state.counters.most_concurrent_lists_of_one_account;
        *most = (*most).max(now);
        let key = state.calendar_key(&owner, &raw);
        *state
            .counters
            .list_calls_by_calendar
            .entry(key)
            .or_default() += 1;
        Some(owner)
    });
    let _answering = owner.as_ref().map(|o| InFlight {
        shared: shared.clone(),
        account: o.0.clone(),
    });
    if q.contains_key("pageToken") {
        if let Some(answer) = shared.fault_gate(Endpoint::ListPage, owner.as_ref()).await {
            return answer;
        }
    }
    if let Some(answer) = shared.fault_gate(Endpoint::List, owner.as_ref()).await {
        return answer;
    }
    let account = match authenticate(&mut shared.lock(), token.as_deref()) {
        Ok(account) => account,
        Err(refused) => return refused.answer(),
    };
    // A calendar deleted, unshared, or never in the caller's list is 404 (GOOGLE_APIS.md).
    let Some((calendar, role)) = shared.lock().resolve(&account, &raw) else {
        return Refused::usual(404, "notFound").answer();
    };
    let request = match parse(&q, &shared) {
        Ok(request) => request,
        Err(refused) => return refused.answer(),
    };
    let target = Target {
        account: &account,
        calendar: &calendar,
    };
    let cursor = if let Some(page_token) = &request.page_token {
        next_page(&shared, &target, &request, page_token)
    } else if let Some(sync_token) = &request.sync_token {
        start_incremental(&shared, &target, &request, sync_token)
    } else {
        start_full(&shared, &target, &request)
    };
    match cursor {
        Ok(cursor) => page::serve(&shared, cursor, &request, role),
        Err(refused) => refused.answer(),
    }
}

/// Who lists which calendar.
struct Target<'a> {
    account: &'a AccountId,
    calendar: &'a CalendarId,
}

/// The account's and the calendar's current sync epochs.
fn epochs(state: &State, target: &Target<'_>) -> Option<(u64, u64)> {
    let account = state.account(target.account).ok()?;
    let calendar = state.calendar(target.calendar).ok()?;
    Some((account.sync_epoch, calendar.sync_epoch))
}

fn start_full(
    shared: &Shared,
    target: &Target<'_>,
    request: &ListRequest,
) -> Result<Cursor, Refused> {
    let (events, zone, seq, (epoch, calendar_epoch), horizon) = {
        let mut state = shared.lock();
        state.counters.full_syncs_started += 1;
        state.counters.list_full += 1;
        let horizon = shared.horizon(state.now());
        let not_found = || Refused::usual(404, "notFound");
        let epochs = epochs(&state, target).ok_or_else(not_found)?;
        let calendar = state.calendar(target.calendar).map_err(|_| not_found())?;
        (
            calendar.events.snapshot(),
            calendar.zone,
            calendar.events.seq,
            epochs,
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
        account: target.account.clone(),
        calendar: target.calendar.clone(),
        items: Arc::new(items),
        offset: 0,
        sync_seq: seq,
        epoch,
        calendar_epoch,
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
    target: &Target<'_>,
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
    let Some(record) = state.sync_tokens.get(&found) else {
        return Err(gone());
    };
    let (seq, epoch, params) = (record.seq, record.epoch, record.params.clone());
    let calendar_epoch = record.calendar_epoch;
    if &record.account != target.account {
        state.violation("list: sync token of another account".to_string());
        return Err(gone());
    }
    if &record.calendar != target.calendar {
        state.violation("list: sync token of another calendar".to_string());
        return Err(gone());
    }
    let differences = params.differences(&request.params);
    if !differences.is_empty() {
        state.violation(format!(
            "list: sync token used with different {}",
            differences.join(", ")
        ));
    }
    let horizon = shared.horizon(state.now());
    let (current_epoch, current_calendar_epoch) = epochs(&state, target).ok_or_else(gone)?;
    if epoch < current_epoch || calendar_epoch < current_calendar_epoch {
        return Err(gone());
    }
    let calendar = state.calendar(target.calendar).map_err(|_| gone())?;
    let (changed, exceptions) = calendar.events.changed_since(seq);
    let (zone, now_seq) = (calendar.zone, calendar.events.seq);
    drop(state);
    let scope = Scope {
        params: &request.params,
        zone,
        horizon,
    };
    let items = listing::incremental(&changed, &exceptions, seq, &scope);
    let unchanged = now_seq == seq && differences.is_empty();
    Ok(Cursor {
        account: target.account.clone(),
        calendar: target.calendar.clone(),
        items: Arc::new(items),
        offset: 0,
        sync_seq: now_seq,
        epoch: current_epoch,
        calendar_epoch: current_calendar_epoch,
        params: request.params.clone(),
        incremental: true,
        same_token: unchanged.then(|| found.clone()),
    })
}

fn next_page(
    shared: &Shared,
    target: &Target<'_>,
    request: &ListRequest,
    page_token: &str,
) -> Result<Cursor, Refused> {
    let mut state = shared.lock();
    let bad_token = || invalid("invalid", "Invalid page token value.");
    let Some(found) = known(&mut state, "page", page_token, |s, t| {
        s.page_tokens.contains_key(t)
    }) else {
        return Err(bad_token());
    };
    let Some(cursor) = state
        .page_tokens
        .get(&found)
        .filter(|c| &c.account == target.account && &c.calendar == target.calendar)
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
