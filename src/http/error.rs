//! The one place that knows HTTP statuses: every handler error becomes `{"detail": "..."}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::actors::calendar_selection::SelectionError;
use crate::metric::ModelError;
use crate::store::StoreError;

/// An error answered to an HTTP client. The message is shown to the client as it is, so it
/// never carries a secret; internal causes are logged, not sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credential, or one that is unknown or expired.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the credential is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (for this caller).
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: it exists already.
    #[error("{0}")]
    Conflict(String),
    /// 408: the client took too long to send its request.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but invalid (names, types, values).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: too soon after the same request; `retry_after` seconds until it is welcome.
    #[error("{detail}")]
    TooManyRequests {
        /// What to wait for, in words.
        detail: String,
        /// Whole seconds to wait (the `Retry-After` header).
        retry_after: u64,
    },
    /// 502: Google failed or refused a call this request needed.
    #[error("{0}")]
    BadGateway(String),
    /// 503: a feature that is not configured on this server.
    #[error("{0}")]
    Unavailable(String),
    /// 500: our fault; logged with its cause, answered opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// Wraps an internal failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => Self::Conflict(msg),
            StoreError::Unavailable(why) => {
                log::warn!("the database is unavailable: {why}");
                Self::Unavailable("the database is unavailable; try again shortly".into())
            }
            other => Self::internal(other),
        }
    }
}

impl From<SelectionError> for ApiError {
    fn from(e: SelectionError) -> Self {
        match e {
            SelectionError::NeedsReauth(_) | SelectionError::Stale => Self::Conflict(e.to_string()),
            SelectionError::Google(_) => Self::BadGateway(e.to_string()),
            SelectionError::Invalid(_) => Self::Unprocessable(e.to_string()),
            SelectionError::Store(_) => Self::internal(e),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        Self::Unprocessable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            log::error!("request failed: {}", cause_chain(cause.as_ref()));
        }
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized(_)) {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::TooManyRequests { retry_after, .. } = self {
            resp.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        resp.json(json!({ "detail": self.to_string() }))
    }
}

/// Turns actix's own extractor errors (malformed JSON, bad query strings, path segments) into
/// our JSON 4xx answers instead of actix's plain-text bodies.
pub mod handlers {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::HttpRequest;

    use super::ApiError;

    /// For `JsonConfig`: size → 413, content type → 415, syntax → 400, shape → 422.
    pub fn json(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge("request body is too large".into())
            }
            JsonPayloadError::ContentType => {
                ApiError::UnsupportedMediaType("Content-Type must be application/json".into())
            }
            JsonPayloadError::Deserialize(e) => super::json_error(e),
            other => ApiError::BadRequest(format!("cannot read request body: {other}")),
        };
        api.into()
    }

    /// For `QueryConfig`: a query string that does not fit the route's parameters.
    pub fn query(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
        ApiError::BadRequest(format!("invalid query string: {err}")).into()
    }

    /// For `PathConfig`: a path segment of the wrong shape.
    pub fn path(err: PathError, _req: &HttpRequest) -> actix_web::Error {
        ApiError::NotFound(format!("no such resource: {err}")).into()
    }
}

/// Classifies a JSON body error: broken JSON is a 400, JSON of the wrong shape a 422.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::BadRequest(format!("malformed JSON: {e}"))
        }
        Category::Data => ApiError::Unprocessable(format!("invalid request body: {e}")),
    }
}
