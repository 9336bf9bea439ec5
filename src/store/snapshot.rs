//! Everything a store holds, engine-neutral: what `impulses-gcal migrate-store` reads from sled,
//! writes into PostgreSQL and reads back to verify. Secrets are held opened (each engine seals
//! them under its own key and contexts), so a snapshot lives only in memory, for one copy.

use sha2::{Digest, Sha256};

use super::{keys, GoogleCredentials, PendingAuthorization, PushChannel};
use crate::token::{DataToken, TokenId};

/// One datapoint as stored: its series, its entry key (timestamp and dimensions hash) and its
/// encoded point ([`codec`](super::codec)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoint {
    /// The user.
    pub user: String,
    /// The metric.
    pub metric: String,
    /// [`keys::ENTRY_KEY_LEN`] bytes: the timestamp, then the dimensions hash.
    pub entry: Vec<u8>,
    /// The encoded point.
    pub point: Vec<u8>,
}

/// Every record of a store.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Data tokens with the SHA-256 of their plaintext.
    pub tokens: Vec<(DataToken, [u8; 32])>,
    /// Google connections.
    pub credentials: Vec<(TokenId, GoogleCredentials)>,
    /// Selections, encoded.
    pub selections: Vec<(TokenId, Vec<u8>)>,
    /// Event index entries: token, event id, encoded entry.
    pub index: Vec<(TokenId, String, Vec<u8>)>,
    /// Datapoints.
    pub datapoints: Vec<StoredPoint>,
    /// Pending OAuth flows by the SHA-256 of their `state`.
    pub oauth_states: Vec<([u8; 32], PendingAuthorization)>,
    /// Open push channels.
    pub channels: Vec<(TokenId, PushChannel)>,
}

/// How many records of each kind a snapshot holds, and one digest over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Records per kind, in the order of [`Snapshot`]'s fields.
    pub counts: [(&'static str, usize); 7],
    /// SHA-256 over every record in a canonical order and encoding, hex.
    pub digest: String,
}

/// Feeds length-prefixed fields, so no two records hash alike by shifting bytes between fields.
struct Canon(Sha256);

impl Canon {
    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    fn num(&mut self, n: i64) -> &mut Self {
        self.put(&n.to_be_bytes())
    }
}

impl Snapshot {
    /// Sorts every list into the canonical order (by key), so two snapshots of equal stores
    /// compare and digest equal whatever order their engines listed them in.
    pub fn sort(&mut self) {
        self.tokens
            .sort_by(|a, b| a.0.id.as_str().cmp(b.0.id.as_str()));
        self.credentials
            .sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        self.selections
            .sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        self.index
            .sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        self.datapoints
            .sort_by(|a, b| (&a.user, &a.metric, &a.entry).cmp(&(&b.user, &b.metric, &b.entry)));
        self.oauth_states.sort_by_key(|a| a.0);
        self.channels
            .sort_by(|a, b| (a.0.as_str(), &a.1.id).cmp(&(b.0.as_str(), &b.1.id)));
    }

    /// The counts and digest of this (sorted) snapshot.
    pub fn summary(&self) -> Summary {
        let mut c = Canon(Sha256::new());
        for (t, hash) in &self.tokens {
            let capability = serde_json::to_string(&t.capability).unwrap_or_default();
            c.put(b"token")
                .put(t.id.as_str().as_bytes())
                .put(t.user.as_bytes());
            c.put(t.name.as_bytes()).put(capability.as_bytes());
            c.num(t.expires_at).num(t.created_at).put(hash);
        }
        for (t, g) in &self.credentials {
            c.put(b"credentials").put(t.as_str().as_bytes());
            c.put(g.connection_id.as_bytes())
                .put(g.access_token.expose().as_bytes());
            c.num(g.access_expires_at)
                .put(g.refresh_token.expose().as_bytes());
            for s in g.scopes.iter() {
                c.put(s.as_bytes());
            }
            c.put(g.account_email.as_bytes())
                .put(g.account_sub.as_bytes());
            c.num(g.connected_at).num(g.updated_at);
            c.put(g.needs_reauth.as_deref().unwrap_or("\u{0}").as_bytes());
        }
        for (t, s) in &self.selections {
            c.put(b"selection").put(t.as_str().as_bytes()).put(s);
        }
        for (t, e, v) in &self.index {
            c.put(b"index")
                .put(t.as_str().as_bytes())
                .put(e.as_bytes())
                .put(v);
        }
        for p in &self.datapoints {
            c.put(b"point")
                .put(p.user.as_bytes())
                .put(p.metric.as_bytes());
            c.put(&p.entry).put(&p.point);
        }
        for (k, p) in &self.oauth_states {
            c.put(b"oauth").put(k).put(p.token_id.as_str().as_bytes());
            c.put(p.verifier.expose().as_bytes()).num(p.created_at);
        }
        for (t, ch) in &self.channels {
            c.put(b"channel")
                .put(t.as_str().as_bytes())
                .put(ch.id.as_bytes());
            c.put(ch.resource_id.as_bytes())
                .put(ch.secret.expose().as_bytes());
            c.num(ch.expiration_ms).num(i64::from(ch.slot));
            c.put(ch.calendar_id.as_bytes()).num(ch.opened_ms);
        }
        Summary {
            counts: [
                ("tokens", self.tokens.len()),
                ("google_credentials", self.credentials.len()),
                ("selections", self.selections.len()),
                ("event_index", self.index.len()),
                ("datapoints", self.datapoints.len()),
                ("oauth_states", self.oauth_states.len()),
                ("push_channels", self.channels.len()),
            ],
            digest: hex::encode(c.0.finalize()),
        }
    }
}

/// Splits a datapoint entry key into its timestamp and dimensions hash.
pub(super) fn split_entry(entry: &[u8]) -> Option<(i64, &[u8])> {
    Some((
        keys::timestamp_of_entry(entry)?,
        &entry[keys::TIMESTAMP_LEN..],
    ))
}
