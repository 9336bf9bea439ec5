//! Failure injection points for tests, which `SyncSystem::start_with_hooks` hands to the actors.

use std::sync::Arc;

use crate::token::TokenId;

/// A check run by the writer before each sync commit; an `Err` fails that commit.
pub type CommitHook = Arc<dyn Fn(&TokenId) -> Result<(), String> + Send + Sync>;
/// A check run at the start of each sync; `true` makes the sync panic.
pub type PanicHook = Arc<dyn Fn(&TokenId) -> bool + Send + Sync>;

/// Failure injection points for tests. Inert by default.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Fails a sync commit just before it is applied.
    pub before_commit: Option<CommitHook>,
    /// Makes a sync panic as it starts.
    pub panic_in_sync: Option<PanicHook>,
}
