//! The running system: what a host process starts inside its actix runtime and shuts down again.

use std::sync::Arc;

use crate::http::AppState;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// A started impulses-gcal system. It owns the shared state the HTTP routes need; the sync actors
/// hang off it as they are added.
pub struct SyncSystem {
    state: AppState,
}

impl SyncSystem {
    /// Starts the system on an open store. Must run inside an actix system (the actors it starts
    /// live on the current arbiter).
    pub fn start(settings: Settings, store: Store) -> Self {
        Self {
            state: AppState {
                settings: Arc::new(settings),
                store,
            },
        }
    }

    /// The state to hand to [`crate::http::configure`].
    pub fn app_state(&self) -> AppState {
        self.state.clone()
    }

    /// Stops the system and flushes the store, so an orderly exit leaves nothing unwritten.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let store = self.state.store.clone();
        actix_web::web::block(move || store.flush())
            .await
            .map_err(|e| StoreError::Corrupt(format!("flush did not run: {e}")))?
    }
}
