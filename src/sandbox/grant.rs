//! OAuth bookkeeping: authorization codes, grant families (one consent → one refresh token and
//! the access tokens minted from it) and the tokens that point at them.
//!
//! Revocation works on families, as at Google: revoking an access token kills its refresh token
//! too, and a revoked refresh token answers `invalid_grant` forever.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::model::AccountId;
use super::token;

/// An issued authorization code and everything it is bound to.
#[derive(Debug)]
pub(crate) struct Code {
    pub account: AccountId,
    pub client_id: String,
    pub redirect_uri: String,
    /// `code_challenge` and its method, when the client sent one.
    pub challenge: Option<(String, String)>,
    pub scopes: Vec<String>,
    pub issued: DateTime<Utc>,
    /// The family the first redemption created; set means "already used".
    pub redeemed: Option<usize>,
    /// Whether the redemption hands out a refresh token (offline + first consent or prompt=consent).
    pub with_refresh: bool,
}

/// One grant: what a consent produced.
#[derive(Debug)]
pub(crate) struct Family {
    pub account: AccountId,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

#[derive(Debug)]
struct Access {
    family: usize,
    expires_at: DateTime<Utc>,
    /// Expired early through the control API: the client could not have seen it coming.
    forced: bool,
}

/// What a bearer token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bearer {
    /// Good: whose it is and what it may do.
    Valid {
        account: AccountId,
        scopes: Vec<String>,
    },
    /// Past its lifetime; `forced` when the test expired it early.
    Expired { forced: bool },
    /// Its family was revoked.
    Revoked,
    /// Never issued (or mangled).
    Unknown,
}

/// All OAuth state of a sandbox.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub codes: HashMap<String, Code>,
    pub families: Vec<Family>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, usize>,
    /// What each (account, client) pair was granted so far: later consents get no refresh token
    /// unless `prompt=consent`, and `include_granted_scopes=true` adds these scopes.
    pub consented: HashMap<(AccountId, String), Vec<String>>,
}

impl Grants {
    /// Starts a family and returns its index.
    pub fn open_family(
        &mut self,
        account: AccountId,
        client_id: String,
        scopes: Vec<String>,
    ) -> usize {
        self.families.push(Family {
            account,
            client_id,
            scopes,
            revoked: false,
        });
        self.families.len() - 1
    }

    /// A new access token of `family`.
    pub fn mint_access(&mut self, family: usize, expires_at: DateTime<Utc>) -> String {
        let token = token::access_token();
        self.access.insert(
            token.clone(),
            Access {
                family,
                expires_at,
                forced: false,
            },
        );
        token
    }

    /// A new refresh token of `family`.
    pub fn mint_refresh(&mut self, family: usize) -> String {
        let token = token::refresh_token();
        self.refresh.insert(token.clone(), family);
        token
    }

    /// The live family a refresh token belongs to.
    pub fn refresh_family(&self, refresh: &str) -> Option<usize> {
        self.refresh
            .get(refresh)
            .copied()
            .filter(|family| self.families.get(*family).is_some_and(|f| !f.revoked))
    }

    /// Classifies a bearer token at `now`.
    pub fn bearer(&self, token: &str, now: DateTime<Utc>) -> Bearer {
        let Some(access) = self.access.get(token) else {
            return Bearer::Unknown;
        };
        let Some(family) = self.families.get(access.family) else {
            return Bearer::Unknown;
        };
        if family.revoked {
            Bearer::Revoked
        } else if now >= access.expires_at {
            Bearer::Expired {
                forced: access.forced,
            }
        } else {
            Bearer::Valid {
                account: family.account.clone(),
                scopes: family.scopes.clone(),
            }
        }
    }

    /// Revokes the family of an access or refresh token; false if the token is unknown or its
    /// family already revoked.
    pub fn revoke_token(&mut self, token: &str) -> bool {
        let family = self
            .access
            .get(token)
            .map(|a| a.family)
            .or_else(|| self.refresh.get(token).copied());
        match family.and_then(|f| self.families.get_mut(f)) {
            Some(family) if !family.revoked => {
                family.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Revokes every grant of an account (the person removed the app's access).
    pub fn revoke_account(&mut self, account: &AccountId) {
        for family in self.families.iter_mut().filter(|f| &f.account == account) {
            family.revoked = true;
        }
        self.consented.retain(|(who, _), _| who != account);
    }

    /// Expires every access token of an account now, as if Google had cut them short.
    pub fn expire_account(&mut self, account: &AccountId, now: DateTime<Utc>) {
        let families: HashSet<usize> = (0..self.families.len())
            .filter(|f| &self.families[*f].account == account)
            .collect();
        for access in self
            .access
            .values_mut()
            .filter(|a| families.contains(&a.family))
        {
            if access.expires_at > now {
                access.expires_at = now;
                access.forced = true;
            }
        }
    }

    /// The account behind a code, refresh token or access token, for account-scoped faults.
    pub fn account_of(&self, credential: &str) -> Option<AccountId> {
        if let Some(code) = self.codes.get(credential) {
            return Some(code.account.clone());
        }
        let family = self
            .access
            .get(credential)
            .map(|a| a.family)
            .or_else(|| self.refresh.get(credential).copied())?;
        self.families.get(family).map(|f| f.account.clone())
    }
}
