//! The OAuth scopes this server asks for, and the ones a grant holds, kept small: every
//! connected token keeps its credentials in memory, and the three scopes this server asks for
//! would otherwise be four heap allocations per token (about 200 bytes, 2 MB for ten thousand
//! tokens).

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Read-only access to the calendar: all we need, and what we ask for.
pub const SCOPE_CALENDAR: &str = "https://www.googleapis.com/auth/calendar.readonly";
/// The account's e-mail, shown to the person so they know which account is connected.
pub const SCOPE_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
/// OpenID Connect: the ID token that names the account.
pub const SCOPE_OPENID: &str = "openid";

/// The scopes this server asks for (the consent screen lists them), each a flag of [`Scopes`],
/// in the order they are listed.
pub const ASKED: [&str; 3] = [SCOPE_CALENDAR, SCOPE_EMAIL, SCOPE_OPENID];

/// Granted scopes: the ones this server asks for as flags, any other Google granted
/// (`include_granted_scopes` brings the client's earlier grants, `email` is Google's short alias)
/// by name. Listed and stored as the asked ones first, then the others as granted; a scope is
/// held once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    asked: u8,
    other: Vec<String>,
}

impl Scopes {
    /// The scopes of a token answer or a callback's `scope` parameter.
    pub fn from_names<S: AsRef<str> + Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut scopes = Self::default();
        for name in names {
            scopes.insert(name);
        }
        scopes
    }

    fn insert<S: AsRef<str> + Into<String>>(&mut self, name: S) {
        match ASKED.iter().position(|a| *a == name.as_ref()) {
            Some(bit) => self.asked |= 1 << bit,
            None if self.other.iter().any(|o| o == name.as_ref()) => {}
            None => self.other.push(name.into()),
        }
    }

    /// Every scope, the asked ones first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        ASKED
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.asked & (1 << bit) != 0)
            .map(|(_, s)| *s)
            .chain(self.other.iter().map(String::as_str))
    }

    /// Whether none was granted (a token answer that lists none).
    pub fn is_empty(&self) -> bool {
        self.asked == 0 && self.other.is_empty()
    }

    fn has(&self, name: &str) -> bool {
        self.iter().any(|s| s == name)
    }

    /// What the sync needs and was not granted (`email` is Google's short alias of the e-mail
    /// scope).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.has(SCOPE_CALENDAR) {
            missing.push(SCOPE_CALENDAR);
        }
        if !self.has(SCOPE_EMAIL) && !self.has("email") {
            missing.push(SCOPE_EMAIL);
        }
        missing
    }
}

/// A list of strings, as the credentials record has always stored them.
impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for scope in self.iter() {
            seq.serialize_element(scope)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Scopes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of scopes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scopes, A::Error> {
                let mut scopes = Scopes::default();
                while let Some(name) = seq.next_element::<String>()? {
                    scopes.insert(name);
                }
                Ok(scopes)
            }
        }
        d.deserialize_seq(List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asked_scopes_are_flags_and_the_others_are_kept_by_name_once() {
        let s = Scopes::from_names([
            "email",
            SCOPE_OPENID,
            SCOPE_CALENDAR,
            "email",
            SCOPE_CALENDAR,
        ]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [SCOPE_CALENDAR, SCOPE_OPENID, "email"]
        );
        assert!(!s.is_empty());
        assert!(Scopes::from_names(Vec::<String>::new()).is_empty());
        let all = Scopes::from_names(ASKED);
        assert_eq!(all.iter().collect::<Vec<_>>(), ASKED);
        assert!(
            all.other.is_empty(),
            "no allocation for what the server asks"
        );
    }

    #[test]
    fn missing_scopes_are_named() {
        assert!(Scopes::from_names(ASKED).missing().is_empty());
        assert!(Scopes::from_names([SCOPE_CALENDAR, "email"])
            .missing()
            .is_empty());
        assert_eq!(
            Scopes::from_names([SCOPE_EMAIL]).missing(),
            [SCOPE_CALENDAR]
        );
        assert_eq!(Scopes::default().missing().len(), 2);
        // A longer scope that starts like one asked for is not it.
        let near = format!("{SCOPE_CALENDAR}.extra");
        assert_eq!(
            Scopes::from_names([near.as_str(), SCOPE_EMAIL]).missing(),
            [SCOPE_CALENDAR]
        );
    }

    #[test]
    fn stored_as_the_list_of_strings_it_always_was() {
        let s = Scopes::from_names(["https://example.com/x", SCOPE_EMAIL]);
        let json = serde_json::to_string(&s).expect("serializes");
        assert_eq!(
            json,
            format!(r#"["{SCOPE_EMAIL}","https://example.com/x"]"#)
        );
        assert_eq!(serde_json::from_str::<Scopes>(&json).ok(), Some(s));
        let old: Vec<String> = vec!["s".into(), SCOPE_CALENDAR.into()];
        let read: Scopes =
            serde_json::from_str(&serde_json::to_string(&old).expect("json")).expect("reads");
        assert_eq!(read, Scopes::from_names(old));
        assert!(serde_json::from_str::<Scopes>(r#""openid""#).is_err());
    }
}
