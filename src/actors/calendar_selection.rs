//! Listing the account's calendars and changing which of them a connection syncs: messages to
//! the token's actor, which owns the credentials the Google calls need and the selection the
//! syncs read. The rules of a valid selection are [`plan_selection`], a pure function.

use std::sync::Arc;

use actix::prelude::*;

use super::metric_writer::ChangeSelection;
use super::status::{ActorState, CalendarStatus, PushStatus};
use super::sync_job::{calendar_list, ListFailure};
use super::token_sync::TokenSyncActor;
use super::SyncDeps;
use crate::google::calendar::PRIMARY;
use crate::google::calendar_list::CalendarListEntry;
use crate::store::{GoogleCredentials, Selection, StoreError};
use crate::token::TokenId;

/// The most calendars one connection may sync: each costs a list call per poll.
pub const MAX_SELECTED: usize = 50;

/// The account's calendars as Google lists them, with the selected ones' sync status.
#[derive(Debug, Clone)]
pub struct CalendarListing {
    /// Google's calendar list, in its order.
    pub google: Vec<CalendarListEntry>,
    /// Each selected calendar's status, in selection order (`primary` names the primary).
    pub selected: Vec<CalendarStatus>,
}

/// Why the calendars could not be listed or selected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectionError {
    /// The grant is gone: reconnect first.
    #[error("the Google connection needs to be reconnected: {0}")]
    NeedsReauth(String),
    /// Google failed; its reason in words.
    #[error("Google could not list the calendars: {0}")]
    Google(String),
    /// The requested selection is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The connection changed or went away meanwhile.
    #[error("the Google connection changed meanwhile; try again")]
    Stale,
    /// The store failed.
    #[error("the selection could not be stored: {0}")]
    Store(String),
}

impl From<ListFailure> for SelectionError {
    fn from(f: ListFailure) -> Self {
        match f {
            ListFailure::NeedsReauth(r) => Self::NeedsReauth(r),
            ListFailure::Google(r) => Self::Google(r),
            ListFailure::Stale => Self::Stale,
        }
    }
}

/// Checks a requested selection against the account's calendars and the current selection and
/// answers it as stored: `primary` for the primary calendar, whichever name it was given by. A
/// calendar Google no longer lists may stay selected (it is shown as gone, its datapoints kept)
/// but cannot be added.
pub fn plan_selection(
    requested: &[String],
    google: &[CalendarListEntry],
    current: &Selection,
) -> Result<Vec<String>, String> {
    if requested.is_empty() {
        return Err(
            "select at least one calendar; to stop syncing every calendar, disconnect".into(),
        );
    }
    if requested.len() > MAX_SELECTED {
        return Err(format!("at most {MAX_SELECTED} calendars can be selected"));
    }
    let mut out: Vec<String> = Vec::with_capacity(requested.len());
    for id in requested {
        let listed = google.iter().find(|c| &c.id == id);
        let name = if id == PRIMARY || listed.is_some_and(|c| c.primary) {
            PRIMARY.to_string()
        } else if let Some(c) = listed {
            if c.is_free_busy_only() {
                return Err(format!(
                    "calendar {id:?} shows this account free/busy times only, without titles: \
                     none of its events can become a metric"
                ));
            }
            id.clone()
        } else if current.find(id).is_some() {
            id.clone()
        } else {
            return Err(format!("the Google account has no calendar {id:?}"));
        };
        if out.contains(&name) {
            return Err(format!("calendar {id:?} is selected twice"));
        }
        out.push(name);
    }
    Ok(out)
}

/// Lists the account's calendars.
#[derive(Message)]
#[rtype(result = "Result<CalendarListing, SelectionError>")]
pub struct ListCalendars;

/// Replaces the selection with these calendars (ids, or `primary`), and syncs the new ones at
/// once.
#[derive(Message)]
#[rtype(result = "Result<CalendarListing, SelectionError>")]
pub struct SelectCalendars(pub Vec<String>);

type Answer = ResponseActFuture<TokenSyncActor, Result<CalendarListing, SelectionError>>;

impl TokenSyncActor {
    /// What a Google call on the token's behalf needs (its own copy of the credentials, which a
    /// refresh may change); refused when the grant is known to be gone.
    fn google_call(&self) -> Result<(SyncDeps, TokenId, GoogleCredentials), SelectionError> {
        match (&self.phase, &self.creds.needs_reauth) {
            (_, Some(reason)) => Err(SelectionError::NeedsReauth(reason.clone())),
            (ActorState::NeedsReauth, None) => {
                Err(SelectionError::NeedsReauth("Google refused access".into()))
            }
            _ => Ok((
                self.deps.clone(),
                self.token.id.clone(),
                (*self.creds).clone(),
            )),
        }
    }

    /// Keeps credentials a call refreshed, if they are still this connection's.
    fn adopt(&mut self, creds: GoogleCredentials) {
        if creds.connection_id == self.creds.connection_id
            && creds.access_expires_at > self.creds.access_expires_at
        {
            self.creds = Arc::new(creds);
        }
    }

    fn listing(&self, google: Vec<CalendarListEntry>) -> CalendarListing {
        CalendarListing {
            google,
            selected: self.calendar_statuses(),
        }
    }

    /// Takes a selection the store answered, keeping any calendar state a commit brought in
    /// meanwhile.
    fn adopt_selection(&mut self, mut stored: Selection) {
        for c in &mut stored.calendars {
            if let Some(mine) = self.selection.get(c.slot) {
                if mine.last_success_at >= c.last_success_at {
                    *c = mine.clone();
                }
            }
        }
        self.runs
            .retain(|r| stored.calendars.iter().any(|c| c.slot == r.slot));
        self.selection = Arc::new(stored);
    }
}

impl Handler<ListCalendars> for TokenSyncActor {
    type Result = Answer;

    fn handle(&mut self, _: ListCalendars, _: &mut Context<Self>) -> Answer {
        let (deps, token, mut creds) = match self.google_call() {
            Ok(parts) => parts,
            Err(refused) => return Box::pin(fut::ready(Err(refused))),
        };
        let call = async move {
            let list = calendar_list(&deps, &token, &mut creds).await;
            (list, creds)
        };
        Box::pin(call.into_actor(self).map(|(list, creds), act, _| {
            act.adopt(creds);
            Ok(act.listing(list?))
        }))
    }
}

impl Handler<SelectCalendars> for TokenSyncActor {
    type Result = Answer;

    fn handle(&mut self, msg: SelectCalendars, _: &mut Context<Self>) -> Answer {
        let (deps, token, mut creds) = match self.google_call() {
            Ok(parts) => parts,
            Err(refused) => return Box::pin(fut::ready(Err(refused))),
        };
        let current = Arc::clone(&self.selection);
        let call = async move {
            let result = async {
                let google = calendar_list(&deps, &token, &mut creds).await?;
                let stored = select(&deps, &token, &creds, &msg.0, &google, &current).await?;
                Ok::<_, SelectionError>((google, stored))
            }
            .await;
            (result, creds)
        };
        Box::pin(call.into_actor(self).map(|(result, creds), act, ctx| {
            act.adopt(creds);
            let (google, stored) = result?;
            let added = stored
                .calendars
                .iter()
                .any(|c| act.selection.get(c.slot).is_none());
            log::info!(
                "token {}: calendars selected: {}",
                act.token.id,
                stored
                    .calendars
                    .iter()
                    .map(|c| c.calendar_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            act.adopt_selection(stored);
            act.stop_unselected_channels(ctx);
            act.publish();
            if added {
                act.start_sync(ctx);
            }
            Ok(act.listing(google))
        }))
    }
}

/// Plans the selection `requested` against Google's list and the current selection, and has the
/// metric writer store it (refused as stale when the connection changed meanwhile).
async fn select(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &GoogleCredentials,
    requested: &[String],
    google: &[CalendarListEntry],
    current: &Selection,
) -> Result<Selection, SelectionError> {
    let ids = plan_selection(requested, google, current).map_err(SelectionError::Invalid)?;
    let change = ChangeSelection {
        token_id: token.clone(),
        connection_id: creds.connection_id.clone(),
        ids,
    };
    match deps.writer.send(change).await {
        Ok(Ok(stored)) => Ok(stored),
        Ok(Err(StoreError::Stale)) => Err(SelectionError::Stale),
        Ok(Err(e)) => Err(SelectionError::Store(e.to_string())),
        Err(e) => Err(SelectionError::Store(e.to_string())),
    }
}

/// On a fleet, the calendars of a token another node syncs, listed (and with `requested`,
/// selected) from this node with the stored credentials: any node answers. The statuses are the
/// stored ones (the last errors and push channels live with the owner's actor).
pub(super) async fn elsewhere(
    deps: SyncDeps,
    token: TokenId,
    mut creds: GoogleCredentials,
    requested: Option<Vec<String>>,
) -> Result<CalendarListing, SelectionError> {
    if let Some(reason) = &creds.needs_reauth {
        return Err(SelectionError::NeedsReauth(reason.clone()));
    }
    let google = calendar_list(&deps, &token, &mut creds).await?;
    let stored = |e: StoreError| SelectionError::Store(e.to_string());
    let current = deps.store.selection(&token).map_err(stored)?;
    let selection = match requested {
        None => current,
        Some(ids) => select(&deps, &token, &creds, &ids, &google, &current).await?,
    };
    let push = if deps.settings.push.is_some() {
        PushStatus::new(None, None, None)
    } else {
        PushStatus::off()
    };
    let selected = selection
        .calendars
        .iter()
        .map(|c| CalendarStatus::new(c, None, push.clone()))
        .collect();
    Ok(CalendarListing { google, selected })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(id: &str, primary: bool, role: &str) -> CalendarListEntry {
        CalendarListEntry {
            id: id.into(),
            summary: Some(id.into()),
            access_role: Some(role.into()),
            primary,
            ..CalendarListEntry::default()
        }
    }

    fn google() -> Vec<CalendarListEntry> {
        vec![
            cal("ann@example.com", true, "owner"),
            cal("c_training@group.calendar.google.com", false, "owner"),
            cal("c_shared@group.calendar.google.com", false, "reader"),
            cal("c_busy@group.calendar.google.com", false, "freeBusyReader"),
        ]
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_primary_is_stored_as_primary_by_either_name() {
        let current = Selection::default();
        for name in ["primary", "ann@example.com"] {
            let plan = plan_selection(
                &ids(&[name, "c_shared@group.calendar.google.com"]),
                &google(),
                &current,
            );
            assert_eq!(
                plan,
                Ok(ids(&["primary", "c_shared@group.calendar.google.com"]))
            );
        }
    }

    #[test]
    fn bad_selections_are_refused_with_a_reason() {
        let current = Selection::default();
        let g = google();
        let cases: [(&[&str], &str); 5] = [
            (&[], "at least one"),
            (&["primary", "ann@example.com"], "selected twice"),
            (
                &[
                    "c_training@group.calendar.google.com",
                    "c_training@group.calendar.google.com",
                ],
                "selected twice",
            ),
            (&["c_nope@group.calendar.google.com"], "has no calendar"),
            (&["c_busy@group.calendar.google.com"], "free/busy"),
        ];
        for (requested, why) in cases {
            let err = plan_selection(&ids(requested), &g, &current).unwrap_err();
            assert!(err.contains(why), "{requested:?}: {err}");
        }
        let many: Vec<String> = (0..=MAX_SELECTED).map(|i| format!("c_{i}")).collect();
        assert!(plan_selection(&many, &g, &current)
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn a_gone_calendar_may_stay_selected_but_not_be_added() {
        let gone = "c_gone@group.calendar.google.com";
        let (current, _) = Selection::default().reselect(&ids(&["primary", gone]));
        assert_eq!(
            plan_selection(&ids(&[gone, "primary"]), &google(), &current),
            Ok(ids(&[gone, "primary"]))
        );
        assert!(plan_selection(&ids(&[gone]), &google(), &Selection::default()).is_err());
    }
}
