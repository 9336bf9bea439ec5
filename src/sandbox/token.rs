//! Random secrets the sandbox hands out: OAuth codes and tokens, and the opaque page and sync
//! tokens of `events.list`.
//!
//! Page and sync tokens are standard base64 that always holds `+`, `/` and `=`, so a client that
//! forgets to URL-encode them (and gets `+` back as a space) is caught (GOOGLE_APIS.md).

use base64::Engine;
use rand::RngCore;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn url_safe(len: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(len))
}

/// A page or sync token: 22 bytes (→ `==` padding), the first two forced to `0xFB 0xFF` so the
/// text starts with `+/`; the rest is random.
pub(crate) fn opaque() -> String {
    let mut bytes = random_bytes(22);
    bytes[0] = 0xFB;
    bytes[1] = 0xFF;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a token looks like after a careless client let `+` be decoded as a space.
pub(crate) fn is_plus_mangled(received: &str) -> bool {
    received.contains(' ')
}

/// Undoes the `+` → space damage, to find the token the client meant.
pub(crate) fn unmangle(received: &str) -> String {
    received.replace(' ', "+")
}

/// An authorization code in Google's style (`4/0A…`).
pub(crate) fn auth_code() -> String {
    format!("4/0A{}", url_safe(48))
}

/// An access token in Google's style (`ya29.…`).
pub(crate) fn access_token() -> String {
    format!("ya29.a0{}", url_safe(96))
}

/// A refresh token in Google's style (`1//0…`).
pub(crate) fn refresh_token() -> String {
    format!("1//0{}", url_safe(72))
}

/// A numeric `sub` like Google's (21 digits).
pub(crate) fn subject() -> String {
    let mut rng = rand::thread_rng();
    let tail = rng.next_u64() % 10_000_000_000_000_000_000;
    format!("10{tail:019}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_hold_every_character_that_needs_encoding() {
        for _ in 0..100 {
            let token = opaque();
            assert!(
                token.contains('+') && token.contains('/') && token.contains('='),
                "{token}"
            );
        }
    }

    #[test]
    fn distinct_kinds_have_distinct_prefixes() {
        assert!(access_token().starts_with("ya29."));
        assert!(refresh_token().starts_with("1//"));
        assert_ne!(opaque(), opaque());
        assert_eq!(subject().len(), 21);
    }
}
