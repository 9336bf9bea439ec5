//! `GET /calendar/v3/users/me/calendarList`: the calendars in the caller's list, paged like
//! `events.list` (page tokens bound to the account, `nextSyncToken` only on the last page), with
//! `showDeleted` and `minAccessRole` (GOOGLE_APIS.md, "calendarList.list").
//!
//! **Ours**: a `syncToken` call answers the whole current list again, deleted entries included,
//! rather than only what changed; `showHidden` is accepted and changes nothing, since no entry
//! of the sandbox is hidden.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::calendar::{authenticate, known};
use super::directory::Role;
use super::fault::Endpoint;
use super::model::{etag, AccountId};
use super::oauth::{bearer_token, form};
use super::params::{flag, invalid, Refused};
use super::state::{Shared, State};
use super::token;

/// The default and the largest page of `calendarList.list` (larger asks are clamped).
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 250;

/// The state behind a `calendarList` page token: the flow's entries, decided when it started.
#[derive(Debug, Clone)]
pub(crate) struct ListCursor {
    pub account: AccountId,
    pub items: Arc<Vec<Value>>,
    pub offset: usize,
}

/// A `calendarList.list` request, parsed.
struct ListParams {
    page_size: usize,
    page_token: Option<String>,
    sync_token: Option<String>,
    show_deleted: bool,
    min_role: Option<Role>,
}

fn parse(q: &HashMap<String, String>) -> Result<ListParams, Refused> {
    let page_size = match q.get("maxResults") {
        None => DEFAULT_PAGE,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
            _ => {
                return Err(invalid(
                    "invalid",
                    &format!("Invalid value '{text}'. Values must be within the range: [1, 250]"),
                ))
            }
        },
    };
    let min_role = match q.get("minAccessRole") {
        None => None,
        Some(text) => Some(Role::parse(text).map_err(|_| {
            invalid(
                "invalid",
                &format!("Invalid value for minAccessRole: {text}"),
            )
        })?),
    };
    flag(q, "showHidden")?;
    let sync_token = q.get("syncToken").cloned();
    if sync_token.is_some() && min_role.is_some() {
        return Err(invalid(
            "invalid",
            "The minAccessRole parameter cannot be used together with syncToken.",
        ));
    }
    Ok(ListParams {
        page_size,
        page_token: q.get("pageToken").cloned(),
        // An incremental call always lists deleted entries, as Google's does.
        show_deleted: flag(q, "showDeleted")? || sync_token.is_some(),
        sync_token,
        min_role,
    })
}

/// The list's entries as Google renders them, primary first, then as added.
fn entries(state: &State, account: &AccountId, params: &ListParams) -> Vec<Value> {
    let primary = state.accounts.get(account).map(|a| a.primary.clone());
    state
        .visible_entries(account, params.show_deleted)
        .into_iter()
        .filter(|(entry, _)| params.min_role.is_none_or(|min| entry.role >= min))
        .map(|(entry, calendar)| {
            let mut item = json!({
                "kind": "calendar#calendarListEntry",
                "etag": etag(entry.since.max(calendar.created), 0),
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.zone.name(),
                "accessRole": entry.role.as_str(),
                "backgroundColor": "#9fe1e7",
                "selected": true,
            });
            if let Some(text) = &entry.summary_override {
                item["summaryOverride"] = json!(text);
            }
            if primary.as_ref() == Some(&calendar.id) {
                item["primary"] = json!(true);
            }
            if calendar.deleted {
                item["deleted"] = json!(true);
            }
            item
        })
        .collect()
}

/// The cursor a call continues: a new flow, or the one its page token names.
fn cursor(
    state: &mut State,
    account: &AccountId,
    params: &ListParams,
) -> Result<ListCursor, Refused> {
    if let Some(page_token) = &params.page_token {
        let bad = || invalid("invalid", "Invalid page token value.");
        let found = known(state, "page", page_token, |s, t| {
            s.list_pages.contains_key(t)
        })
        .ok_or_else(bad)?;
        return state
            .list_pages
            .get(&found)
            .filter(|c| &c.account == account)
            .cloned()
            .ok_or_else(bad);
    }
    if let Some(sync_token) = &params.sync_token {
        let gone = || Refused::usual(410, "fullSyncRequired");
        let found = known(state, "sync", sync_token, |s, t| {
            s.list_syncs.contains_key(t)
        })
        .ok_or_else(gone)?;
        if state.list_syncs.get(&found) != Some(account) {
            state.violation("calendarList: sync token of another account".to_string());
            return Err(gone());
        }
    }
    Ok(ListCursor {
        account: account.clone(),
        items: Arc::new(entries(state, account, params)),
        offset: 0,
    })
}

/// One page of the flow: its items and either the next page token or, last, a sync token.
fn page(state: &mut State, cursor: ListCursor, page_size: usize) -> Value {
    let start = cursor.offset.min(cursor.items.len());
    let end = (start + page_size).min(cursor.items.len());
    let items: Vec<Value> = cursor.items[start..end].to_vec();
    let mut body = json!({
        "kind": "calendar#calendarList",
        "etag": etag(state.now(), cursor.items.len() as u64),
    });
    let next = token::opaque();
    if end < cursor.items.len() {
        body["nextPageToken"] = json!(next);
        body["items"] = json!(items);
        let rest = ListCursor {
            offset: end,
            ..cursor
        };
        state.list_pages.insert(next, rest);
    } else {
        body["items"] = json!(items);
        body["nextSyncToken"] = json!(next);
        state.list_syncs.insert(next, cursor.account);
    }
    body
}

/// The `calendarList.list` handler.
pub(crate) async fn list(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let q = form(req.query_string().as_bytes());
    let token = bearer_token(&req);
    let owner = {
        let mut state = shared.lock();
        state.counters.calendar_list_calls += 1;
        token
            .as_deref()
            .and_then(|token| state.grants.account_of(token))
    };
    if let Some(answer) = shared
        .fault_gate(Endpoint::CalendarList, owner.as_ref())
        .await
    {
        return answer;
    }
    let mut state = shared.lock();
    let answer = authenticate(&mut state, token.as_deref()).and_then(|account| {
        let params = parse(&q)?;
        let cursor = cursor(&mut state, &account, &params)?;
        Ok(page(&mut state, cursor, params.page_size))
    });
    drop(state);
    match answer {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json; charset=UTF-8")
            .json(body),
        Err(refused) => refused.answer(),
    }
}
