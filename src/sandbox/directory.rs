//! Which calendars exist, who owns them, and which calendars each account's calendar list holds
//! with which access role: what `calendarList.list` shows and what `events.list` lets an account
//! read (GOOGLE_APIS.md, "calendarList.list").

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::events::Calendar;
use super::model::{AccountId, CalendarId};
use super::state::State;
use super::SandboxError;

/// An account's access to a calendar, weakest first, so `>=` answers `minAccessRole`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Role {
    /// Sees when events are, not what they are: no `summary`, no `description`.
    FreeBusyReader,
    Reader,
    Writer,
    Owner,
}

impl Role {
    /// Reads Google's spelling (`accessRole`, `minAccessRole`).
    pub fn parse(text: &str) -> Result<Self, SandboxError> {
        match text {
            "freeBusyReader" => Ok(Self::FreeBusyReader),
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "owner" => Ok(Self::Owner),
            other => Err(SandboxError::Invalid(format!(
                "unknown access role {other:?} (owner, writer, reader, freeBusyReader)"
            ))),
        }
    }

    /// Google's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FreeBusyReader => "freeBusyReader",
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Owner => "owner",
        }
    }

    /// Whether event titles and descriptions are withheld (Google hides them from free/busy).
    pub fn hides_details(self) -> bool {
        self == Self::FreeBusyReader
    }
}

/// One calendar: its events, its zone and its own sync-token space.
#[derive(Debug)]
pub(crate) struct CalendarRecord {
    pub id: CalendarId,
    pub owner: AccountId,
    pub summary: String,
    /// The zone of all-day events and of the listing's `timeZone`.
    pub zone: Tz,
    pub events: Calendar,
    /// Bumped to invalidate every sync token of this calendar, whoever holds it.
    pub sync_epoch: u64,
    /// Deleted calendars stay, so their owner's list can show them with `showDeleted`.
    pub deleted: bool,
    pub created: DateTime<Utc>,
    /// The opaque `resourceId` of every push channel watching its events (GOOGLE_APIS.md,
    /// "Push notifications"): one per calendar, so channels renewed on it share it.
    pub resource_id: String,
}

impl CalendarRecord {
    pub fn new(
        id: CalendarId,
        owner: AccountId,
        summary: String,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            owner,
            summary,
            zone,
            events: Calendar::default(),
            sync_epoch: 0,
            deleted: false,
            created: now,
            resource_id: super::channel::resource_id(),
        }
    }
}

/// One entry of an account's calendar list.
#[derive(Clone, Debug)]
pub(crate) struct ListEntry {
    pub calendar: CalendarId,
    pub role: Role,
    /// The person's own name for a shared calendar.
    pub summary_override: Option<String>,
    /// When the entry appeared (or last changed), for its etag.
    pub since: DateTime<Utc>,
}

impl State {
    pub fn calendar(&self, id: &CalendarId) -> Result<&CalendarRecord, SandboxError> {
        self.calendars
            .get(id)
            .filter(|c| !c.deleted)
            .ok_or_else(|| SandboxError::UnknownCalendar(id.clone()))
    }

    pub fn calendar_mut(&mut self, id: &CalendarId) -> Result<&mut CalendarRecord, SandboxError> {
        self.calendars
            .get_mut(id)
            .filter(|c| !c.deleted)
            .ok_or_else(|| SandboxError::UnknownCalendar(id.clone()))
    }

    /// What `calendarId` in a path names for `account`: `primary`, the account's e-mail (any
    /// case), or a live calendar in its list; `None` is Google's 404 `notFound`.
    pub fn resolve(&self, account: &AccountId, raw: &str) -> Option<(CalendarId, Role)> {
        let owner = self.accounts.get(account)?;
        let id = if raw == "primary" || raw.eq_ignore_ascii_case(&owner.email) {
            owner.primary.clone()
        } else {
            CalendarId(raw.to_string())
        };
        let entry = owner.list.iter().find(|e| e.calendar == id)?;
        self.calendar(&id).ok()?;
        Some((id, entry.role))
    }

    /// The key `list_calls_by_calendar` counts a call under: the real id for the aliases of the
    /// primary, the path's id otherwise.
    pub fn calendar_key(&self, account: &AccountId, raw: &str) -> String {
        match self.accounts.get(account) {
            Some(owner) if raw == "primary" || raw.eq_ignore_ascii_case(&owner.email) => {
                owner.primary.0.clone()
            }
            _ => raw.to_string(),
        }
    }

    /// The live entries of the account's list in list order (primary first, then as added);
    /// with `show_deleted`, also the calendars it owned and deleted.
    pub fn visible_entries(
        &self,
        account: &AccountId,
        show_deleted: bool,
    ) -> Vec<(ListEntry, &CalendarRecord)> {
        let Some(owner) = self.accounts.get(account) else {
            return Vec::new();
        };
        owner
            .list
            .iter()
            .filter_map(|entry| {
                let calendar = self.calendars.get(&entry.calendar)?;
                let shown = !calendar.deleted || (show_deleted && &calendar.owner == account);
                shown.then(|| (entry.clone(), calendar))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_from_free_busy_to_owner_and_round_trip_their_spelling() {
        let names = ["freeBusyReader", "reader", "writer", "owner"];
        let roles: Vec<Role> = names.iter().map(|n| Role::parse(n).unwrap()).collect();
        assert!(roles.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), names);
        assert!(Role::parse("Owner").is_err() && Role::parse("").is_err());
        assert!(Role::FreeBusyReader.hides_details() && !Role::Reader.hides_details());
    }

    #[test]
    fn secondary_ids_look_like_googles() {
        let id = CalendarId::secondary();
        let hex = id
            .as_str()
            .strip_prefix("c_")
            .and_then(|rest| rest.strip_suffix("@group.calendar.google.com"))
            .unwrap();
        assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(CalendarId::secondary(), id);
    }
}
