//! Web origins (`scheme://host[:port]`) for the UI and for this server.

use std::fmt;

/// A validated web origin without a trailing slash, so `format!("{origin}/path")` is always a
/// well-formed URL and CORS compares it byte for byte with the browser's `Origin` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Parses `http(s)://host[:port]`, tolerating one trailing slash; a path, query or other
    /// scheme is refused because it cannot be an origin.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        let url =
            url::Url::parse(trimmed).map_err(|e| format!("{trimmed:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{trimmed:?} must start with http:// or https://"));
        }
        if url.host_str().is_none()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "{trimmed:?} must be an origin: scheme, host and optional port only"
            ));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    /// The origin as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn origins_are_normalised_or_refused() {
        let ok = [
            ("http://localhost:3000", "http://localhost:3000"),
            ("https://ui.example.com/", "https://ui.example.com"),
            ("HTTPS://UI.Example.com:443", "https://ui.example.com"),
        ];
        for (raw, want) in ok {
            assert_eq!(
                Origin::parse(raw).map(|o| o.to_string()),
                Ok(want.to_string()),
                "{raw}"
            );
        }
        for raw in [
            "",
            "localhost:3000",
            "ftp://x.org",
            "https://x.org/app",
            "https://x.org?a=1",
            "http://",
        ] {
            assert!(Origin::parse(raw).is_err(), "{raw}");
        }
    }
}
