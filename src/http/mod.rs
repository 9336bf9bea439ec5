//! The HTTP front door: routes, extractors, and the mapping of errors to statuses.
//!
//! A host application mounts everything with [`configure`]; [`cors`] and [`access_log`] give it
//! the middleware our own binary wraps around the routes.

pub mod actors;
pub mod admin;
mod calendars;
pub mod data;
mod error;
pub mod extract;
pub mod google;
pub mod health;
pub mod metrics;
mod notifications;
mod oauth;
mod sync_handle;

use std::sync::Arc;

use actix_web::{middleware, web, HttpResponse};

pub use error::ApiError;

use crate::settings::Settings;
use crate::store::Store;
pub use sync_handle::SyncHandle;

/// What every handler shares: settings and the store. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The open store.
    pub store: Store,
    /// The sync actors; `None` when Google is not configured.
    pub sync: Option<SyncHandle>,
}

/// Mounts every route of impulses-gcal, with extractor configs that answer malformed input with
/// JSON 4xx errors. Use it as `App::new().configure(|cfg| http::configure(cfg, &state))`.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.clone()))
        .app_data(
            web::JsonConfig::default()
                .limit(state.settings.max_body_bytes)
                .error_handler(error::handlers::json),
        )
        .app_data(web::QueryConfig::default().error_handler(error::handlers::query))
        .app_data(web::PathConfig::default().error_handler(error::handlers::path))
        .configure(health::routes)
        .configure(data::routes)
        .configure(admin::routes)
        .configure(actors::routes)
        .configure(metrics::routes)
        .configure(google::routes);
}

/// CORS for the Impulses UI: admits `ORIGIN` with the headers the UI sends.
pub fn cors(settings: &Settings) -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allowed_origin(settings.origin.as_str())
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::HeaderName::from_static("x-data-token"),
        ])
        .max_age(3600)
}

/// The access log: method, path (never the query string, which carries OAuth codes), status,
/// size and duration.
pub fn access_log() -> middleware::Logger {
    middleware::Logger::new("%{method}xi %U %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .log_target("impulses_gcal::access")
}

/// Writes every pending store change to disk (fsync) off the async workers. Handlers call it
/// before acknowledging a write, so an answer promises durability: a crash right after it loses
/// nothing.
pub async fn persist(store: &crate::store::Store) -> Result<(), ApiError> {
    let store = store.clone();
    actix_web::web::block(move || store.flush()).await??;
    Ok(())
}

/// JSON 404 for paths no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".into()))
}

/// JSON 405 for a known path with an unsupported method.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(
        "method not allowed on this route".into(),
    ))
}
