//! Routes, their handlers and the per-request bookkeeping (metrics middleware).

use super::error::ApiError;
use super::format::{name_for_content_type, name_for_format, FORMATS};
use super::metrics::{Metrics, RequestLabels, RouteLabels, CONTENT_TYPE};
use super::pool::{DetectorPool, ScoreFailure};
use super::RequestLimits;
use crate::detector::intake::intake;
use crate::detector::{BackgroundMode, Intake, IntakeOptions, ScanReport, UnitsArg};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use po3ad_core::report::encode_heatmap_ply;
use po3ad_core::PointCloud;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Fewest points a scan may have: below this no detector's neighbourhoods (normals,
/// FPFH, kNN distances) mean anything.
pub const MIN_POINTS: usize = 100;

pub struct AppState {
    pool: Arc<DetectorPool>,
    limits: RequestLimits,
    metrics: Metrics,
}

impl AppState {
    pub fn new(pool: DetectorPool, limits: RequestLimits) -> Self {
        Self {
            pool: Arc::new(pool),
            limits,
            metrics: Metrics::new(),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/score", post(score))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Count every answer by route and status, and time it.
async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route (POST /v1/score, GET /healthz, GET /metrics)",
    )
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    detector: &'a str,
    model: &'a str,
    calibrated: bool,
    workers: usize,
    queue: usize,
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let limits = state.pool.limits();
    Json(Health {
        status: "ok",
        detector: &state.pool.detector,
        model: &state.pool.model,
        calibrated: state.pool.calibrated(),
        workers: limits.workers,
        queue: limits.queue,
    })
    .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    state.metrics.busy.set(state.pool.busy() as i64);
    state.metrics.queued.set(state.pool.queued() as i64);
    state
        .metrics
        .overrunning
        .set(state.pool.overrunning() as i64);
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

#[derive(Debug, Deserialize)]
pub struct ScoreQuery {
    /// The body's format (pcd, ply, obj, stl, xyz, e57, las, laz); overrides the
    /// content type.
    format: Option<String>,
    /// Add every point's score, in the scan's point order.
    #[serde(default)]
    point_scores: bool,
    /// Add the heatmap: the scan as binary PLY coloured by score, base64.
    #[serde(default)]
    heatmap: bool,
    /// The scan's units: check, auto, or m / cm / mm / in (default: `serve --units`).
    units: Option<String>,
    /// Background removal: auto, on or off (default: `serve --background`).
    background: Option<String>,
    /// E57 bodies: score only this scan (default: `serve --scan`, else all merged).
    scan: Option<usize>,
}

impl ScoreQuery {
    /// The service's intake defaults with this query's overrides.
    fn intake(&self, defaults: &IntakeOptions) -> Result<IntakeOptions, ApiError> {
        let mut opts = defaults.clone();
        if let Some(u) = &self.units {
            opts.units = u
                .parse::<UnitsArg>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("units={e}")))?;
        }
        if let Some(b) = &self.background {
            opts.background =
                <BackgroundMode as clap::ValueEnum>::from_str(b, true).map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("background={b}: expected auto, on or off"),
                    )
                })?;
        }
        if self.scan.is_some() {
            opts.scan = self.scan;
        }
        Ok(opts)
    }
}

/// The answer to `POST /v1/score`: the same report `po3ad predict` writes per file.
#[derive(Serialize)]
pub struct ScoreResponse {
    pub detector: String,
    #[serde(flatten)]
    pub report: ScanReport,
    /// Time spent scoring (after the body was read and parsed).
    pub scoring_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_scores: Option<Vec<f32>>,
    /// Binary PLY, base64 (standard alphabet, padded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heatmap_ply: Option<String>,
}

async fn score(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ScoreQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ScoreResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let name = body_name(&query, &headers)?;
    let intake_opts = query.intake(&state.pool.intake)?;
    // Refuse before reading when the declared size is already too big.
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > state.limits.max_body_bytes as u64 {
            return Err(too_large(state.limits.max_body_bytes));
        }
    }
    // The whole body first, then a place: a slow upload holds a connection, never a
    // scoring place, so slow clients cannot starve the workers.
    let bytes = read_body(body, &state.limits).await?;
    let Some(admission) = state.pool.try_admit() else {
        state.metrics.rejected.inc();
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "every scoring worker is busy and the queue is full; retry later",
        ));
    };
    let intake = parse(
        name,
        &bytes,
        state.limits.max_points,
        Arc::clone(&state.pool),
        intake_opts,
    )
    .await?;
    if intake.part.points.len() < MIN_POINTS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{name}: {} points to score ({} in the body, {} invalid, {} background); a \
                 scan needs at least {MIN_POINTS}",
                intake.part.points.len(),
                intake.summary.file_points,
                intake.summary.invalid_points,
                intake.summary.background_points
            ),
        ));
    }
    let start = Instant::now();
    let scored = state
        .pool
        .score(&admission, intake.part.clone(), intake.to_template)
        .await;
    drop(admission);
    let (mut report, scores) = scored.map_err(|failure| match failure {
        ScoreFailure::Unscorable(msg) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{name}: {msg}"))
        }
        ScoreFailure::TimedOut(limit) => {
            state.metrics.timeouts.inc();
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "scoring took longer than the limit of {} s (--score-timeout); retry later \
                     or send a smaller scan",
                    limit.as_secs_f64()
                ),
            )
        }
        ScoreFailure::Panicked(msg) => {
            state.metrics.panics.inc();
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error while scoring (please report it): {msg}"),
            )
        }
    })?;
    let scoring_ms = start.elapsed().as_secs_f64() * 1e3;
    state.metrics.points.inc_by(scores.len() as u64);
    report.input = Some(intake.summary.clone());
    let heatmap_ply = if query.heatmap {
        Some(heatmap(&intake.valid, &intake.to_valid_order(&scores))?)
    } else {
        None
    };
    Ok(Json(ScoreResponse {
        detector: state.pool.detector.clone(),
        report,
        scoring_ms,
        point_scores: query.point_scores.then(|| intake.to_file_order(&scores)),
        heatmap_ply,
    }))
}

/// The file name the body is parsed as (its extension picks the reader).
fn body_name(query: &ScoreQuery, headers: &HeaderMap) -> Result<&'static str, ApiError> {
    if let Some(f) = &query.format {
        return name_for_format(f).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("format={f}: not one of {FORMATS}"),
            )
        });
    }
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the Content-Type header is not text",
            )
        })?),
    };
    name_for_content_type(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {}: not a point-cloud format; send the scan as one of {FORMATS} \
                 (or application/octet-stream, or say ?format=)",
                content_type.unwrap_or_default()
            ),
        )
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is over the limit of {limit} bytes"),
    )
}

/// The whole body, within the size limit and the read timeout.
async fn read_body(body: Body, limits: &RequestLimits) -> Result<bytes::Bytes, ApiError> {
    let read = axum::body::to_bytes(body, limits.max_body_bytes);
    match tokio::time::timeout(limits.read_timeout, read).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                limits.read_timeout.as_secs_f64()
            ),
        )),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large(limits.max_body_bytes))
            } else {
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the body: {inner}"),
                ))
            }
        }
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// Parse and make ready off the async threads: a big ASCII scan takes a while, and so
/// does background removal (which registers its candidate parts with the pool's
/// placement).
async fn parse(
    name: &str,
    bytes: &bytes::Bytes,
    max_points: usize,
    pool: Arc<DetectorPool>,
    opts: IntakeOptions,
) -> Result<Intake, ApiError> {
    let bytes = bytes.clone();
    let path = name.to_string();
    let opts_scan = opts.read_options(max_points);
    tokio::task::spawn_blocking(move || {
        let scan = po3ad_core::io::parse_scan_bytes(Path::new(&path), &bytes, &opts_scan).map_err(
            |e| {
                let status = match e {
                    po3ad_core::Error::TooManyPoints { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, e.to_string())
            },
        )?;
        intake(scan, pool.template, &opts, pool.part_judge())
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{path}: {e:#}")))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error while parsing (please report it): {e}"),
        )
    })?
}

fn heatmap(cloud: &PointCloud, scores: &[f32]) -> Result<String, ApiError> {
    // Points and normals only, as `po3ad predict` writes its heatmap PLY.
    let plain = PointCloud {
        points: cloud.points.clone(),
        normals: cloud.normals.clone(),
        labels: None,
        faces: Vec::new(),
    };
    let bytes = encode_heatmap_ply(&plain, scores, None).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("writing the heatmap: {e}"),
        )
    })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
