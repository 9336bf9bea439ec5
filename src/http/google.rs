//! The Google routes under `/oauth2/google`. Until the integration is configured they all answer
//! 503, so the UI can tell "not set up here" from "broken".

use actix_web::{web, HttpResponse};

use super::{ApiError, AppState};

/// Registers the `/oauth2/google` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/oauth2/google").default_service(web::to(unconfigured_or_missing)));
}

async fn unconfigured_or_missing(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.settings.google.is_none() {
        return Err(ApiError::Unavailable(
            "the Google integration is not configured on this server: set GOOGLE_OAUTH2_CREDS"
                .into(),
        ));
    }
    Err(ApiError::NotFound("no such Google route".into()))
}
