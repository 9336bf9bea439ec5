//! The HTTP front door: routes, extractors, and the mapping of errors to statuses.
//!
//! A host application mounts everything with [`configure`]; [`cors`] and [`access_log`] give it
//! the middleware our own binary wraps around the routes.

pub mod actors;
pub mod admin;
mod calendars;
mod connection;
pub mod console;
pub mod data;
mod error;
pub mod extract;
pub mod google;
pub mod health;
pub mod metrics;
mod notifications;
mod oauth;
pub mod openapi;
mod sync_handle;

use std::sync::Arc;

use actix_web::{middleware, web, HttpRequest, HttpResponse};

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
/// JSON 4xx errors, and `/openapi.json` describing them all. Use it as
/// `App::new().configure(|cfg| http::configure(cfg, &state)).default_service(web::to(http::not_found))`.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.clone()))
        .app_data(
            web::JsonConfig::default()
                .limit(state.settings.max_body_bytes)
                .error_handler(error::handlers::json),
        )
        .app_data(web::QueryConfig::default().error_handler(error::handlers::query))
        .app_data(web::PathConfig::default().error_handler(error::handlers::path));
    let mut routes = openapi::Routes::new(cfg);
    health::routes(&mut routes);
    data::routes(&mut routes);
    admin::routes(&mut routes);
    actors::routes(&mut routes);
    metrics::routes(&mut routes);
    google::routes(&mut routes);
    if state.settings.console {
        console::routes(&mut routes);
    }
    routes.finish();
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

/// The app's default service: JSON 405 for a known path with a method no route takes (each
/// route is a resource guarded by its method, so such a request falls through to here), JSON 404
/// for a path no route matches.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let allowed = req.app_data::<web::Data<openapi::Allowed>>();
    let methods = req
        .resource_map()
        .match_pattern(req.path())
        .and_then(|pattern| allowed.and_then(|a| a.of(&pattern)).map(str::to_string));
    match methods {
        Some(methods) => {
            let mut answer = ApiError::MethodNotAllowed("method not allowed on this route".into())
                .error_response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&methods) {
                answer
                    .headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            answer
        }
        None => ApiError::NotFound("no such route".into()).error_response(),
    }
}
