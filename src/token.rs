//! Data tokens: who a request acts for, and what it may do.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// What a data token may do with its user's metrics, as in the Impulses server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Capability {
    /// Read metrics (and connect a calendar).
    Api,
    /// Write metrics.
    Ingest,
    /// Both.
    Super,
}

impl Capability {
    /// Whether the token may read metrics and manage its Google connection.
    pub fn can_read(self) -> bool {
        matches!(self, Self::Api | Self::Super)
    }

    /// Whether the token may write and delete metrics.
    pub fn can_write(self) -> bool {
        matches!(self, Self::Ingest | Self::Super)
    }
}

/// The public identifier of a data token: random, safe to log and to put in URLs, unrelated to
/// the secret plaintext.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(
    pattern = "^[0-9a-f]{32}$",
    example = "953db0589c1f4e2b8a0d6f3e2c1b7a94"
)]
pub struct TokenId(String);

impl TokenId {
    /// A fresh random id (128 bits, hex).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Accepts an id from a URL path; anything that is not 32 lowercase hex digits cannot exist.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(raw.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a token's plaintext: what the store keeps instead of the plaintext. The
/// plaintext has 256 bits of entropy, so a fast hash is enough; a stolen store yields no token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a presented plaintext.
    pub fn of(plaintext: &str) -> Self {
        Self(Sha256::digest(plaintext.as_bytes()).into())
    }

    /// The raw hash bytes, used as a store key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Generates a token plaintext: 256 random bits, base64url without padding (43 characters).
pub fn generate_plaintext() -> Secret<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A data token as stored and as listed by the admin API: never its plaintext or hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataToken {
    /// Public id.
    pub id: TokenId,
    /// The user whose metrics the token reads and writes.
    pub user: String,
    /// A name unique per user, chosen by the admin (e.g. "phone", "google").
    pub name: String,
    /// What the token may do.
    pub capability: Capability,
    /// Unix seconds after which the token no longer works.
    pub expires_at: i64,
    /// Unix seconds of creation.
    pub created_at: i64,
}

impl DataToken {
    /// Whether the token has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

/// The current time in unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_match_the_impulses_server() {
        assert!(Capability::Api.can_read() && !Capability::Api.can_write());
        assert!(!Capability::Ingest.can_read() && Capability::Ingest.can_write());
        assert!(Capability::Super.can_read() && Capability::Super.can_write());
        assert_eq!(
            serde_json::to_string(&Capability::Ingest).unwrap(),
            "\"INGEST\""
        );
        assert!(serde_json::from_str::<Capability>("\"api\"").is_err());
    }

    #[test]
    fn plaintexts_are_long_random_and_url_safe() {
        let a = generate_plaintext();
        let b = generate_plaintext();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(TokenHash::of(a.expose()) == TokenHash::of(a.expose()));
        assert!(TokenHash::of(a.expose()) != TokenHash::of(b.expose()));
    }

    #[test]
    fn token_ids_parse_only_their_own_shape() {
        let id = TokenId::generate();
        assert_eq!(TokenId::parse(id.as_str()), Some(id));
        assert_eq!(TokenId::parse("../etc"), None);
        assert_eq!(TokenId::parse(&"A".repeat(32)), None);
    }
}
