//! Request extractors for the two kinds of caller: data tokens and the admin.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::token::{now_secs, DataToken};

/// The header carrying a data token, as in the Impulses server.
pub const DATA_TOKEN_HEADER: &str = "X-Data-Token";

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("AppState is not registered with the App".into()))
}

/// A request authenticated by a live data token.
#[derive(Debug, Clone)]
pub struct DataCaller(pub DataToken);

impl DataCaller {
    /// Refuses tokens that may not read.
    pub fn require_read(&self) -> Result<(), ApiError> {
        if self.0.capability.can_read() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this data token may not read: it needs capability API or SUPER".into(),
            ))
        }
    }

    /// Refuses tokens that may not write.
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.0.capability.can_write() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this data token may not write: it needs capability INGEST or SUPER".into(),
            ))
        }
    }
}

/// The presented data token's plaintext.
fn presented(req: &HttpRequest) -> Result<String, ApiError> {
    Ok(req
        .headers()
        .get(DATA_TOKEN_HEADER)
        .ok_or_else(|| ApiError::Unauthorized(format!("missing {DATA_TOKEN_HEADER} header")))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("unknown data token".into()))?
        .trim()
        .to_string())
}

/// The live token behind `found`, a lookup's answer.
fn live(found: Option<DataToken>) -> Result<DataCaller, ApiError> {
    let token = found.ok_or_else(|| ApiError::Unauthorized("unknown data token".into()))?;
    if token.is_expired(now_secs()) {
        return Err(ApiError::Unauthorized("data token expired".into()));
    }
    Ok(DataCaller(token))
}

impl FromRequest for DataCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let looked_up = state(req).and_then(|s| Ok((s.store.clone(), presented(req)?)));
        let (store, presented) = match looked_up {
            Ok(found) => found,
            Err(e) => return Box::pin(ready(Err(e))),
        };
        if !store.is_remote() {
            return Box::pin(ready(
                store
                    .find_token_by_plaintext(&presented)
                    .map_err(ApiError::from)
                    .and_then(live),
            ));
        }
        // A database round trip: not on the HTTP worker's thread.
        Box::pin(async move {
            live(web::block(move || store.find_token_by_plaintext(&presented)).await??)
        })
    }
}

/// A request carrying the admin bearer token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

fn admin(req: &HttpRequest) -> Result<Admin, ApiError> {
    let state = state(req)?;
    let Some(expected) = &state.settings.admin_token else {
        return Err(ApiError::Forbidden(
            "the admin API is disabled: ADMIN_TOKEN is not set".into(),
        ));
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer <ADMIN_TOKEN> header".into())
        })?;
    // Hashing both sides first makes the comparison constant-time in the length too.
    let a = Sha256::digest(presented.trim().as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(Admin)
    } else {
        Err(ApiError::Unauthorized("wrong admin token".into()))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req))
    }
}

/// Reads a request body up to `limit` bytes, answering 413 (as JSON) beyond it. Checks the
/// declared length first, so an oversized upload is refused before it is read.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large =
        || ApiError::PayloadTooLarge(format!("request body is larger than {limit} bytes"));
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("cannot read request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
