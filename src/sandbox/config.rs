//! How a sandbox behaves: the OAuth client it knows, token lifetimes, paging, recurrence
//! and push channels.

use std::time::Duration;

/// Settings of one sandbox; [`SandboxConfig::default`] matches Google's behaviour.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one (tests).
    pub port: u16,
    /// The registered OAuth client id.
    pub client_id: String,
    /// Its secret (also the HS256 key of the `id_token`s the sandbox signs).
    pub client_secret: String,
    /// Registered redirect URIs; the consent screen accepts only exact matches.
    pub redirect_uris: Vec<String>,
    /// `expires_in` of access tokens; Google says 3599.
    pub access_token_lifetime: Duration,
    /// How long an authorization code can be redeemed; Google: about 10 minutes.
    pub code_lifetime: Duration,
    /// `maxResults` when the request names none; Google: 250.
    pub default_page_size: u32,
    /// The cap on `maxResults`; Google: 2500.
    pub max_page_size: u32,
    /// When set, pages come out shorter than asked, sometimes empty, while more remain (as Google
    /// may do), chosen by an RNG seeded with this value so runs repeat.
    pub short_pages: Option<u64>,
    /// How far past the sandbox's "now" open-ended series are expanded with `singleEvents=true`.
    /// Google bounds them far beyond now; the default is two years (730 days).
    pub recurrence_horizon: Duration,
    /// Number of actix workers serving the sandbox.
    pub workers: usize,
    /// The sandbox's clock starts this far from real time (negative: in the past); move it
    /// later with [`super::Sandbox::advance_clock`].
    pub clock_offset: chrono::Duration,
    /// The longest channel lifetime `events.watch` grants, whatever the request asks; Google
    /// grants about a week (GOOGLE_APIS.md, "Push notifications"), the default is 7 days.
    pub push_ttl_cap: Duration,
    /// The waits before each retry of a notification the address did not accept (an answer
    /// other than 200, 201, 202 or 204, or no answer); after the last retry fails the
    /// notification is dropped, as Google gives up. Default 50 ms, 200 ms, 1 s, 5 s: Google
    /// backs off exponentially, and tests should not wait minutes.
    pub push_retry_delays: Vec<Duration>,
}

/// A configured `std` duration as chrono's; values beyond chrono's range become a thousand
/// years, far enough to mean "never" without overflowing date arithmetic.
pub(crate) fn span(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or_else(|_| chrono::Duration::days(365_000))
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            client_id: "sandbox-client.apps.googleusercontent.com".into(),
            client_secret: "GOCSPX-sandbox-secret".into(),
            redirect_uris: vec!["http://127.0.0.1:8000/oauth/callback".into()],
            access_token_lifetime: Duration::from_secs(3599),
            code_lifetime: Duration::from_secs(600),
            default_page_size: 250,
            max_page_size: 2500,
            short_pages: None,
            recurrence_horizon: Duration::from_secs(730 * 24 * 3600),
            workers: 2,
            clock_offset: chrono::Duration::zero(),
            push_ttl_cap: Duration::from_secs(7 * 24 * 3600),
            push_retry_delays: vec![
                Duration::from_millis(50),
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(5),
            ],
        }
    }
}
