//! The service's Prometheus metrics (OpenMetrics text, which Prometheus scrapes):
//! requests by route and status, latency histograms by route, points scored, queue
//! depth and rejections. `prometheus-client` does the bookkeeping and the encoding.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// Latency buckets from 1 ms to ~33 s (a 30k-point scan takes 0.1–2 s on a CPU).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub points: Counter,
    pub rejected: Counter,
    pub panics: Counter,
    pub timeouts: Counter,
    pub busy: Gauge,
    pub queued: Gauge,
    pub overrunning: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let points = Counter::default();
        let rejected = Counter::default();
        let panics = Counter::default();
        let timeouts = Counter::default();
        let busy = Gauge::default();
        let queued = Gauge::default();
        let overrunning = Gauge::default();
        let mut registry = Registry::with_prefix("po3ad");
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route",
            latency.clone(),
        );
        registry.register("scored_points", "Points scored", points.clone());
        registry.register(
            "rejected_requests",
            "Scans refused with 503 because every worker and queue place was taken",
            rejected.clone(),
        );
        registry.register(
            "scoring_panics",
            "Scans whose scoring panicked (a bug; answered with 500)",
            panics.clone(),
        );
        registry.register(
            "scoring_timeouts",
            "Scans answered with 503 because scoring ran past --score-timeout",
            timeouts.clone(),
        );
        registry.register(
            "scans_in_progress",
            "Scans being scored on a worker now",
            busy.clone(),
        );
        registry.register("scans_queued", "Scans waiting for a worker", queued.clone());
        registry.register(
            "scans_overrunning",
            "Scans past --score-timeout still computing on a spare scorer",
            overrunning.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            points,
            rejected,
            panics,
            timeouts,
            busy,
            queued,
            overrunning,
        }
    }

    /// The whole registry as OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
