//! impulses-gcal: turns Google Calendar events into Impulses time-series metrics.
//!
//! # Architecture
//!
//! People log their life in Google Calendar; an event titled `#!Running` is a measurement. This
//! crate polls each connected calendar, converts such events into datapoints and serves them
//! through the Impulses data API.
//!
//! - [`settings`]: compiled-in defaults overridden by environment variables, validated once.
//! - [`store`]: one sled database with a named tree per record kind; datapoint keys are ordered
//!   so a metric of a user is one contiguous, time-sorted range. Google tokens and PKCE
//!   verifiers are sealed with an AEAD under a key kept apart from the records
//!   ([`store::cipher`], [`store::keyring`]); data tokens are kept only as hashes.
//! - [`http`]: the actix-web front door (data API, admin, Google routes); [`http::configure`]
//!   mounts it into any `App`, so a host process can embed the whole system. It serves its own
//!   OpenAPI document at `/openapi.json`, made from the mounted handlers ([`http::openapi`]).
//! - [`system`]: the running system a host starts on an open store.
//! - [`server`]: the stand-alone HTTP server used by the binary and the tests; it cuts off
//!   clients that send their request too slowly.
//!
//! Embedding, in a host that already runs actix:
//!
//! ```no_run
//! # async fn host() -> Result<(), Box<dyn std::error::Error>> {
//! use impulses_gcal::{http, settings::Settings, store::Store, system::SyncSystem};
//! let settings = Settings::from_env()?;
//! let store = Store::open_with(&settings.data_dir, &settings.store)?;
//! let system = SyncSystem::start(settings, store);
//! let state = system.app_state();
//! actix_web::HttpServer::new(move || {
//!     actix_web::App::new()
//!         .configure(|cfg| http::configure(cfg, &state))
//!         // JSON 404s, and 405s with `Allow`, for what no route takes.
//!         .default_service(actix_web::web::to(http::not_found))
//! })
//! .bind(("127.0.0.1", 8000))?
//! .run()
//! .await?;
//! system.shutdown().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod actors;
pub mod convert;
pub mod demo;
pub mod google;
pub mod http;
pub mod metric;
pub mod sandbox;
pub mod secret;
pub mod server;
pub mod settings;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod token;
