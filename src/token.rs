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
// Always 32 lowercase hex digits, held inline (this comment stays out of the API document):
// ten thousand actors, their statuses and the supervisor's map each keep one per token, and a
// `String` would be a heap allocation in every one of them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(
    value_type = String,
    pattern = "^[0-9a-f]{32}$",
    example = "953db0589c1f4e2b8a0d6f3e2c1b7a94"
)]
pub struct TokenId([u8; 32]);

impl TokenId {
    /// A fresh random id (128 bits, hex).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 32];
        for (pair, b) in id.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        Self(id)
    }

    /// Accepts an id from a URL path or a record; anything that is not 32 lowercase hex digits
    /// cannot exist.
    pub fn parse(raw: &str) -> Option<Self> {
        let id: [u8; 32] = raw.as_bytes().try_into().ok()?;
        id.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only `generate` and `parse` build one, and both leave ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenId").field(&self.as_str()).finish()
    }
}

impl Serialize for TokenId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = TokenId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token id: 32 lowercase hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<TokenId, E> {
                // The input is not echoed: it may be anything a client sent.
                TokenId::parse(raw)
                    .ok_or_else(|| E::custom("a token id is 32 lowercase hex digits"))
            }
        }
        d.deserialize_str(Id)
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
        assert_ne!(id, TokenId::generate());
        assert_eq!(TokenId::parse(id.as_str()).as_ref(), Some(&id));
        assert_eq!(TokenId::parse("../etc"), None);
        assert_eq!(TokenId::parse(&"A".repeat(32)), None);
        assert_eq!(TokenId::parse(&"a".repeat(31)), None);
        assert_eq!(TokenId::parse(&"a".repeat(33)), None);
        assert_eq!(TokenId::parse("é".repeat(16).as_str()), None);
        assert_eq!(format!("{id:?}"), format!("TokenId({:?})", id.as_str()));
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(
            serde_json::from_str::<TokenId>(&json).ok().as_ref(),
            Some(&id)
        );
        assert!(serde_json::from_str::<TokenId>("\"../etc\"").is_err());
    }
}
