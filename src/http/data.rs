//! The Impulses data API: `GET /data`, `GET/POST/DELETE /data/{metric}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{read_body, DataCaller};
use super::{error::json_error, ApiError, AppState};
use crate::metric::{Datapoint, MetricName};
use crate::store::TimeRange;

/// Registers the data routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/data")
            .route(web::get().to(list_metrics))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/data/{metric}")
            .route(web::get().to(read_metric))
            .route(web::post().to(write_metric))
            .route(web::delete().to(delete_metric))
            .default_service(web::to(super::method_not_allowed)),
    );
}

fn metric_name(raw: &str) -> Result<MetricName, ApiError> {
    Ok(MetricName::new(raw)?)
}

fn writable(raw: &str) -> Result<MetricName, ApiError> {
    let metric = metric_name(raw)?;
    if metric.is_reserved() {
        return Err(ApiError::Forbidden(format!(
            "metric {metric} is reserved: names starting with imp. are written by the calendar sync only"
        )));
    }
    Ok(metric)
}

async fn list_metrics(
    state: web::Data<AppState>,
    caller: DataCaller,
) -> Result<HttpResponse, ApiError> {
    caller.require_read()?;
    let store = state.store.clone();
    let names = web::block(move || store.list_metrics(&caller.0.user)).await??;
    Ok(HttpResponse::Ok().json(names))
}

/// `?from=&to=`: milliseconds, `from` inclusive, `to` exclusive.
#[derive(Debug, Deserialize)]
struct RangeQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn read_metric(
    state: web::Data<AppState>,
    caller: DataCaller,
    path: web::Path<String>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_read()?;
    let metric = metric_name(&path)?;
    let range = TimeRange {
        from: query.from,
        to: query.to,
    };
    let store = state.store.clone();
    let body =
        web::block(move || store.read_datapoints_json(&caller.0.user, &metric, range)).await??;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

async fn write_metric(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: DataCaller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let metric = writable(&path)?;
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let points: Vec<Datapoint> = serde_json::from_slice(&body).map_err(|e| json_error(&e))?;
    for (i, p) in points.iter().enumerate() {
        p.validate()
            .map_err(|e| ApiError::Unprocessable(format!("datapoint {i}: {e}")))?;
    }
    let count = points.len();
    let store = state.store.clone();
    web::block(move || store.upsert_datapoints(&caller.0.user, &metric, &points)).await??;
    // Acknowledged means durable: a crash right after the answer must not lose the write.
    super::persist(&state.store).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "written": count })))
}

async fn delete_metric(
    state: web::Data<AppState>,
    caller: DataCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let metric = writable(&path)?;
    let store = state.store.clone();
    let deleted = web::block(move || store.delete_metric(&caller.0.user, &metric)).await??;
    super::persist(&state.store).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": deleted })))
}
