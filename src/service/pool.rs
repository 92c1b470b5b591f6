//! The loaded detectors and who may use them. A scorer is not shared between requests
//! (a burn model is not `Sync`), so the pool holds one per worker; a request takes one
//! for the length of its scoring, on tokio's blocking threads. Admission is bounded:
//! at most `workers` scans are scored at once and `queue` more wait; the next one is
//! refused at once (503) instead of piling up memory.

use crate::detector::report::{report_scan, ScanReport};
use crate::detector::{Calibration, Placement, Scorer};
use po3ad_core::PointCloud;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// How many scans are scored at once, and how many may wait.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    pub workers: usize,
    pub queue: usize,
}

/// Detectors ready to score, their placement and calibration.
pub struct DetectorPool {
    idle: Mutex<Vec<Box<dyn Scorer + Send>>>,
    workers: Arc<Semaphore>,
    /// Scans admitted (scoring or waiting).
    admitted: AtomicUsize,
    busy: AtomicUsize,
    limits: PoolLimits,
    placement: Placement,
    calibration: Option<Calibration>,
    /// `po3ad` or `nearest`.
    pub detector: String,
    /// The model path as given.
    pub model: String,
}

/// Why a scan got no report.
#[derive(Debug)]
pub enum ScoreFailure {
    /// The scan was read but cannot be scored (the detector's message).
    Unscorable(String),
    /// A bug: scoring panicked. The worker is kept; the message is the panic's.
    Panicked(String),
}

/// A place in the pool (scoring or queued); dropping it frees the place.
pub struct Admission<'a> {
    pool: &'a DetectorPool,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.pool.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl DetectorPool {
    /// A pool over `scorers` (one per worker: `limits.workers` is their number).
    pub fn new(
        scorers: Vec<Box<dyn Scorer + Send>>,
        placement: Placement,
        calibration: Option<Calibration>,
        detector: impl Into<String>,
        model: impl Into<String>,
        queue: usize,
    ) -> Self {
        let workers = scorers.len().max(1);
        Self {
            idle: Mutex::new(scorers),
            workers: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            limits: PoolLimits { workers, queue },
            placement,
            calibration,
            detector: detector.into(),
            model: model.into(),
        }
    }

    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    pub fn calibrated(&self) -> bool {
        self.calibration.is_some()
    }

    /// Scans being scored now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Scans admitted and waiting for a worker.
    pub fn queued(&self) -> usize {
        self.admitted
            .load(Ordering::Acquire)
            .saturating_sub(self.busy())
    }

    /// A place for one more scan, or None when workers and queue are all taken.
    pub fn try_admit(&self) -> Option<Admission<'_>> {
        let cap = self.limits.workers + self.limits.queue;
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()
            .map(|_| Admission { pool: self })
    }

    /// Score `cloud` (file coordinates) on a free worker; waits for one.
    pub async fn score(
        self: &Arc<Self>,
        _admission: &Admission<'_>,
        cloud: PointCloud,
    ) -> Result<(ScanReport, Vec<f32>), ScoreFailure> {
        let permit = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ScoreFailure::Unscorable("the service is shutting down".into()))?;
        let scorer = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| ScoreFailure::Panicked("no idle scorer under a permit".into()))?;
        self.busy.fetch_add(1, Ordering::AcqRel);
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            // Catch a panic here, not at the join, so the scorer comes back to the pool.
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                report_scan(
                    &pool.placement,
                    scorer.as_ref(),
                    pool.calibration.as_ref(),
                    &cloud,
                )
            }));
            (scorer, result)
        })
        .await;
        self.busy.fetch_sub(1, Ordering::AcqRel);
        let (scorer, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                // The scorer is gone with the task: retire its permit too, so the
                // permits keep matching the idle scorers.
                permit.forget();
                return Err(ScoreFailure::Panicked(e.to_string()));
            }
        };
        // Back in the pool before the permit is released, so a permit always finds one.
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(scorer);
        drop(permit);
        match result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(ScoreFailure::Unscorable(format!("{e:#}"))),
            Err(panic) => Err(ScoreFailure::Panicked(panic_message(&panic))),
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
