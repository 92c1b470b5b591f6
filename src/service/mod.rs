//! `po3ad serve`: an HTTP scoring service. It owns everything between a socket and a
//! loaded detector — routes, admission control (a fixed number of scoring workers and
//! a bounded queue, 503 beyond it), request limits (body size, read timeout), the
//! Prometheus metrics and graceful shutdown. What a scan's score *is* stays in
//! [`crate::detector::report`], which `po3ad predict` uses too, so the service and the CLI
//! give the same numbers for the same file.
//!
//! Routes:
//! - `POST /v1/score` — the body is one scan in any format `po3ad` reads; the format
//!   comes from `?format=` or the `Content-Type` ([`format`]), else from the bytes.
//!   Answers [`routes::ScoreResponse`] as JSON (`?point_scores=true` adds every point's
//!   score, `?heatmap=true` a coloured binary PLY, base64).
//! - `GET /healthz` — the detector's name and the model path, once it is loaded.
//! - `GET /metrics` — Prometheus text format: requests by route and status, latency
//!   histograms, queue depth, rejections.
//!
//! A request's body is read whole (within the size limit and the read timeout) before
//! it asks for a scoring place, so slow uploads hold connections, not workers. Scoring
//! has a deadline (`score_timeout`): past it the client gets 503 and the worker is freed
//! for the next scan while the late one finishes on a spare scorer (`pool.rs` says how).
//!
//! Errors are JSON `{"error": ..., "status": ...}` with a 4xx for anything the client
//! sent (400 unreadable scan, 408 body too slow, 413 body too large or more points than
//! `max_points`, 415 unknown content type, 422 a readable scan that cannot be scored)
//! and 503 when the queue is full or scoring ran past its deadline.

mod error;
pub mod format;
mod metrics;
mod pool;
mod routes;

pub use pool::{DetectorPool, PoolLimits};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Limits on what one request may send.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Largest body accepted (bytes); larger gets 413 before it is read.
    pub max_body_bytes: usize,
    /// Most points in one scan; more gets 413.
    pub max_points: usize,
    /// Time allowed to receive the whole body; slower gets 408.
    pub read_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 << 20,
            max_points: 5_000_000,
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serve `pool` on `listener` until `shutdown` resolves; requests in flight when it
/// does are finished before this returns.
pub async fn serve(
    listener: TcpListener,
    pool: DetectorPool,
    limits: RequestLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(routes::AppState::new(pool, limits));
    let app = routes::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // An error here means no handler could be installed: then only SIGTERM stops us.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
