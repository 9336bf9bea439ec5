//! Encryption of the secrets the store keeps (Google tokens, PKCE verifiers).
//!
//! A copy of `DATA_DIR` (a backup, a stolen disk) must not hand out everybody's Google refresh
//! tokens. Each secret record is sealed with ChaCha20-Poly1305 (from `ring`, already our TLS
//! provider) under a 32-byte key that lives outside the records: the `CREDENTIALS_KEY` setting, or
//! a key file created next to the store. Every record gets a fresh random nonce, and its tree and
//! key are the associated data, so a sealed record copied under another token id fails to open.
//!
//! Sealed layout: `[FORMAT_V1][12-byte nonce][ciphertext + 16-byte tag]`.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::secret::Secret;

/// The first byte of every sealed record; a plaintext JSON record starts with `{` instead.
const FORMAT_V1: u8 = 1;
/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// A 32-byte credentials key; printing it shows `[redacted]`.
#[derive(Clone, Debug)]
pub struct CredentialKey(Secret<[u8; KEY_LEN]>);

impl CredentialKey {
    /// Parses the base64 form deployers put in `CREDENTIALS_KEY` (standard or URL-safe alphabet,
    /// padded or not). The problem message never contains the value.
    pub fn from_base64(value: &str) -> Result<Self, String> {
        let v = value.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|e| e.decode(v).ok())
            .ok_or("must be base64 (e.g. the output of `openssl rand -base64 32`)")?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must decode to {KEY_LEN} bytes, not {}", b.len()))?;
        Ok(Self(Secret::new(key)))
    }

    /// A new random key, for the key file made on first start.
    pub fn generate() -> Result<Self, ring::error::Unspecified> {
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut key)?;
        Ok(Self(Secret::new(key)))
    }

    /// The base64 form written to the key file.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.expose())
    }
}

/// Which keys to open the store with: the current one (`None`: the key file in the data
/// directory) and, during a rotation, the previous one.
#[derive(Clone, Debug, Default)]
pub struct CredentialKeys {
    /// `CREDENTIALS_KEY`; `None` uses (or creates) the key file.
    pub current: Option<CredentialKey>,
    /// `CREDENTIALS_KEY_PREVIOUS`: records sealed under it are re-sealed under `current` at start.
    pub previous: Option<CredentialKey>,
}

/// Seals and opens records under one key.
pub(crate) struct Cipher {
    key: LessSafeKey,
    rng: SystemRandom,
}

/// Sealing or opening failed: a wrong key, altered bytes, a record moved under another id, or
/// (when sealing) no randomness for the nonce.
#[derive(Debug)]
pub(crate) struct CipherFailed;

impl Cipher {
    /// Fails only if the key length does not fit the algorithm, which the type rules out.
    pub(crate) fn new(key: &CredentialKey) -> Result<Self, CipherFailed> {
        let unbound =
            UnboundKey::new(&CHACHA20_POLY1305, key.0.expose()).map_err(|_| CipherFailed)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plaintext`, bound to `context` (the tree and the record's key).
    pub(crate) fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CipherFailed> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CipherFailed)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buf,
            )
            .map_err(|_| CipherFailed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens a record sealed by [`Cipher::seal`] with the same `context`.
    pub(crate) fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CipherFailed> {
        let rest = match sealed.split_first() {
            Some((&FORMAT_V1, rest)) if rest.len() >= NONCE_LEN => rest,
            _ => return Err(CipherFailed),
        };
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CipherFailed)?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| CipherFailed)?;
        Ok(plain.to_vec())
    }
}

/// Whether a stored record is a sealed one (rather than the plaintext JSON of schema 1).
pub(crate) fn is_sealed(record: &[u8]) -> bool {
    record.first() == Some(&FORMAT_V1)
}

/// The associated data of a record: its tree and its key, so a record only opens where it was
/// written.
pub(crate) fn context(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(tree.len() + 1 + key.len());
    c.extend_from_slice(tree.as_bytes());
    c.push(0);
    c.extend_from_slice(key);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CredentialKey {
        CredentialKey(Secret::new([byte; KEY_LEN]))
    }

    #[test]
    fn a_sealed_record_opens_only_with_its_key_and_context() {
        let c = Cipher::new(&key(1)).unwrap();
        let sealed = c.seal(b"t\0a", b"refresh-token").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(7).any(|w| w == b"refresh"));
        assert_eq!(c.open(b"t\0a", &sealed).unwrap(), b"refresh-token");
        assert!(c.open(b"t\0b", &sealed).is_err(), "other record id");
        assert!(Cipher::new(&key(2))
            .unwrap()
            .open(b"t\0a", &sealed)
            .is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(c.open(b"t\0a", &flipped).is_err(), "tampered");
        assert!(c.open(b"t\0a", &sealed[..10]).is_err(), "truncated");
        assert!(c.open(b"t\0a", b"{\"json\":1}").is_err(), "plaintext");
    }

    proptest::proptest! {
        #[test]
        fn any_record_round_trips_and_any_alteration_is_refused(
            plaintext in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            ctx in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            flip in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let c = Cipher::new(&key(7)).unwrap();
            let sealed = c.seal(&ctx, &plaintext).unwrap();
            proptest::prop_assert_eq!(c.open(&ctx, &sealed).unwrap(), plaintext);
            let mut altered = sealed.clone();
            let i = flip.index(altered.len());
            altered[i] ^= 1 << bit;
            proptest::prop_assert!(c.open(&ctx, &altered).is_err());
            proptest::prop_assert!(c.open(&ctx, &sealed[..sealed.len() - 1]).is_err());
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let c = Cipher::new(&key(1)).unwrap();
        let a = c.seal(b"x", b"same").unwrap();
        let b = c.seal(b"x", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn keys_parse_from_base64_and_say_what_is_wrong() {
        let k = CredentialKey::generate().unwrap();
        let text = k.to_base64();
        let back = CredentialKey::from_base64(&text).unwrap();
        assert_eq!(back.0.expose(), k.0.expose());
        let no_pad = text.trim_end_matches('=');
        assert!(CredentialKey::from_base64(no_pad).is_ok());
        let short = CredentialKey::from_base64("c2hvcnQ=").unwrap_err();
        assert!(short.contains("32 bytes"), "{short}");
        assert!(CredentialKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{k:?}"), "CredentialKey([redacted])");
    }
}
