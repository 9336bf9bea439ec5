//! The Impulses data API: `GET /data`, `GET/POST/DELETE /data/{metric}`.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{read_body, DataCaller};
use super::openapi::{BodyRefused, DataTokenHeader, DataTokenRefused, Detail, Routes};
use super::{error::json_error, ApiError, AppState};
use crate::metric::{Datapoint, MetricName};
use crate::store::TimeRange;

/// Registers the data routes.
pub fn routes(r: &mut Routes) {
    r.add(list_metrics)
        .add(read_metric)
        .add(write_metric)
        .add(delete_metric);
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

/// The names of the caller's metrics, sorted.
#[utoipa::path(
    tag = "data",
    operation_id = "list_metrics",
    params(DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "The metric names.", body = Vec<String>,
            example = json!(["imp.events.duration", "weight"])),
        DataTokenRefused,
    )
)]
#[get("/data")]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// The first millisecond of the range (inclusive); unbounded when absent.
    from: Option<i64>,
    /// The end of the range in milliseconds (exclusive); unbounded when absent.
    to: Option<i64>,
}

/// The name of a metric in a path.
#[derive(IntoParams)]
#[into_params(names("metric"), parameter_in = Path)]
struct MetricPath(
    /// A metric name: 1-99 characters of letters, digits and `!$%&*+,-.:;<=>?@_()[]{}`.
    #[param(
        pattern = r"^[A-Za-z0-9!$%&*+,\-.:;<=>?@_()\[\]{}]{1,99}$",
        example = "weight"
    )]
    #[allow(dead_code)]
    String,
);

/// One metric's datapoints within a time range, in timestamp order. An unknown metric has none.
#[utoipa::path(
    tag = "data",
    operation_id = "read_metric",
    params(MetricPath, RangeQuery, DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "The datapoints.", body = Vec<Datapoint>),
        (status = 400, description = "`from` or `to` is not an integer.", body = Detail),
        DataTokenRefused,
        (status = 422, description = "Not a valid metric name.", body = Detail),
    )
)]
#[get("/data/{metric}")]
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

/// The answer to a write.
#[derive(Serialize, ToSchema)]
struct Written {
    /// How many datapoints were stored (a point with the same timestamp and dimensions as a
    /// stored one replaces it).
    written: usize,
}

/// The answer to a deletion.
#[derive(Serialize, ToSchema)]
struct Deleted {
    /// How many datapoints were removed.
    deleted: usize,
}

/// Writes datapoints to one of the caller's metrics, all or none, durably before the answer.
/// Names starting with `imp.` belong to the calendar sync and are refused.
#[utoipa::path(
    tag = "data",
    operation_id = "write_metric",
    params(MetricPath, DataTokenHeader),
    security(("data_token" = [])),
    request_body(content = Vec<Datapoint>, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored, on disk.", body = Written, example = json!({"written": 1})),
        BodyRefused,
        (status = 401, description = "No, an unknown or an expired data token.", body = Detail),
        (status = 403, description = "The token may not write (capability API), or the metric is reserved (`imp.`).", body = Detail),
        (status = 422, description = "An invalid metric name, or a datapoint that is not valid: the message names it.", body = Detail),
    )
)]
#[post("/data/{metric}")]
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
    Ok(HttpResponse::Ok().json(Written { written: count }))
}

/// Deletes one of the caller's metrics with all its datapoints, durably before the answer.
#[utoipa::path(
    tag = "data",
    operation_id = "delete_metric",
    params(MetricPath, DataTokenHeader),
    security(("data_token" = [])),
    responses(
        (status = 200, description = "Deleted, on disk (0 for a metric that did not exist).", body = Deleted, example = json!({"deleted": 12})),
        (status = 401, description = "No, an unknown or an expired data token.", body = Detail),
        (status = 403, description = "The token may not write (capability API), or the metric is reserved (`imp.`).", body = Detail),
        (status = 422, description = "Not a valid metric name.", body = Detail),
    )
)]
#[delete("/data/{metric}")]
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
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}
