//! The loaded detectors and who may use them. A scorer is not shared between requests
//! (a burn model is not `Sync`), so the pool holds one per worker; a request takes one
//! for the length of its scoring, on tokio's blocking threads. Admission is bounded:
//! at most `workers` scans are scored at once and `queue` more wait; the next one is
//! refused at once (503) instead of piling up memory.
//!
//! **Deadline.** Scoring cannot be interrupted (a detector is plain CPU code with no
//! cancellation points), so a scan that runs past `score_timeout` is answered 503 at the
//! deadline and *keeps computing* on its blocking thread. To free its worker for the next
//! request anyway, the pool holds `overrun` spare scorers: the late scan moves from its
//! worker place to an overrun place (it keeps its scorer), the worker place is released,
//! and the next request takes a spare. When the late scan finishes, its scorer returns to
//! the pool and the overrun place is released. At most `overrun` late scans compute at
//! once beyond the workers, so CPU use stays bounded; a late scan that finds every
//! overrun place taken keeps its worker place until it finishes (its client still gets
//! 503 at the deadline). Invariant: `workers + overrun` scorers, and a holder of a worker
//! place always finds an idle one (a scorer goes back before its place is released).

use crate::detector::intake::PartJudge;
use crate::detector::report::{report_scan, ScanReport};
use crate::detector::{Calibration, Placement, Scorer};
use crate::detector::{IntakeOptions, TemplateSize};
use po3ad_core::PointCloud;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// How many scans are scored at once, how many may wait, and for how long one may score.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Scans scored at once.
    pub workers: usize,
    /// Scans that may wait for a worker.
    pub queue: usize,
    /// Scans past the deadline that may keep computing after their worker was freed
    /// (each needs one more scorer, i.e. one more copy of the model).
    pub overrun: usize,
    /// Longest time one scan may be scored before it is answered 503.
    pub score_timeout: Duration,
}

/// Detectors ready to score, their placement and calibration.
pub struct DetectorPool {
    idle: Mutex<Vec<Box<dyn Scorer + Send>>>,
    workers: Arc<Semaphore>,
    overrun: Arc<Semaphore>,
    /// Scans admitted (parsing, waiting or scoring before their deadline).
    admitted: AtomicUsize,
    /// Scans waiting for a worker.
    waiting: AtomicUsize,
    /// Scans computing on a worker place.
    busy: AtomicUsize,
    /// Scans past their deadline still computing on an overrun place.
    overrunning: AtomicUsize,
    limits: PoolLimits,
    placement: Placement,
    calibration: Option<Calibration>,
    /// `po3ad` or `nearest`.
    pub detector: String,
    /// The model path as given.
    pub model: String,
    /// The template scans are checked against (units, background), if the detector
    /// records one.
    pub template: Option<TemplateSize>,
    /// How a request's scan is made ready unless its query says otherwise.
    pub intake: IntakeOptions,
}

/// Why a scan got no report.
#[derive(Debug)]
pub enum ScoreFailure {
    /// The scan was read but cannot be scored (the detector's message).
    Unscorable(String),
    /// Scoring took longer than the deadline (it may still be computing).
    TimedOut(Duration),
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

/// Decrements a counter when dropped (also when the future holding it is cancelled).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What scoring one scan gives: its report, an error, or a panic.
type Outcome = std::thread::Result<anyhow::Result<(ScanReport, Vec<f32>)>>;
/// A scoring task's result: the scorer (to go back to the pool) and the outcome.
type Scored = (Box<dyn Scorer + Send>, Outcome);

impl DetectorPool {
    /// A pool over `scorers`: `limits.workers` of them serve the workers, the rest (up to
    /// `limits.overrun`) are the spares for scans past the deadline. With fewer scorers
    /// than `workers + overrun`, the overrun places shrink first (then the workers, to
    /// one at least).
    pub fn new(
        scorers: Vec<Box<dyn Scorer + Send>>,
        placement: Placement,
        calibration: Option<Calibration>,
        detector: impl Into<String>,
        model: impl Into<String>,
        limits: PoolLimits,
    ) -> Self {
        let workers = limits.workers.clamp(1, scorers.len().max(1));
        let overrun = scorers.len().saturating_sub(workers).min(limits.overrun);
        Self {
            idle: Mutex::new(scorers),
            workers: Arc::new(Semaphore::new(workers)),
            overrun: Arc::new(Semaphore::new(overrun)),
            admitted: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            overrunning: AtomicUsize::new(0),
            limits: PoolLimits {
                workers,
                overrun,
                ..limits
            },
            placement,
            calibration,
            detector: detector.into(),
            model: model.into(),
            template: None,
            intake: IntakeOptions::default(),
        }
    }

    /// Check scans against `template` and make them ready as `intake` says.
    pub fn with_intake(mut self, template: Option<TemplateSize>, intake: IntakeOptions) -> Self {
        self.template = template;
        self.intake = intake;
        self
    }

    /// What judges a scene's candidate parts (the placement, when it registers).
    pub fn part_judge(&self) -> Option<&dyn PartJudge> {
        matches!(self.placement, Placement::Register { .. })
            .then_some(&self.placement as &dyn PartJudge)
    }

    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    pub fn calibrated(&self) -> bool {
        self.calibration.is_some()
    }

    /// Scans computing on a worker place now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Scans admitted and waiting for a worker.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Scans past their deadline that still compute on an overrun place.
    pub fn overrunning(&self) -> usize {
        self.overrunning.load(Ordering::Acquire)
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

    /// Score `cloud` (file coordinates; `× to_template` gives the template's units) on
    /// a free worker; waits for one, then gives the
    /// scan `score_timeout` (see the module doc for what happens past it).
    pub async fn score(
        self: &Arc<Self>,
        _admission: &Admission<'_>,
        cloud: PointCloud,
        to_template: f64,
    ) -> Result<(ScanReport, Vec<f32>), ScoreFailure> {
        let permit = {
            let _waiting = Counted::new(&self.waiting);
            self.workers
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ScoreFailure::Unscorable("the service is shutting down".into()))?
        };
        let scorer = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| ScoreFailure::Panicked("no idle scorer under a permit".into()))?;
        self.busy.fetch_add(1, Ordering::AcqRel);
        let pool = Arc::clone(self);
        let job: JoinHandle<Scored> = tokio::task::spawn_blocking(move || {
            // Catch a panic here, not at the join, so the scorer comes back to the pool.
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                report_scan(
                    &pool.placement,
                    scorer.as_ref(),
                    pool.calibration.as_ref(),
                    &cloud,
                    to_template,
                )
            }));
            (scorer, result)
        });
        // From here the scan owns a worker place and a scorer; `InFlight` hands both to
        // a background task when this future ends early: at the deadline, or when the
        // connection is dropped and the server cancels the request.
        let mut flight = InFlight {
            pool: Arc::clone(self),
            job: Some(job),
            worker: Some(permit),
        };
        let limit = self.limits.score_timeout;
        let (joined, permit) = match tokio::time::timeout(limit, flight.job()).await {
            Ok(joined) => (joined, flight.disarm()),
            Err(_) => {
                drop(flight);
                return Err(ScoreFailure::TimedOut(limit));
            }
        };
        let Some(permit) = permit else {
            return Err(ScoreFailure::Panicked(
                "a scan lost its worker place".into(),
            ));
        };
        self.busy.fetch_sub(1, Ordering::AcqRel);
        match self
            .finish(joined, permit)
            .map_err(ScoreFailure::Panicked)?
        {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(ScoreFailure::Unscorable(format!("{e:#}"))),
            Err(panic) => Err(ScoreFailure::Panicked(panic_message(&panic))),
        }
    }

    /// A scan past its deadline: let it finish on an overrun place (freeing its worker
    /// place now) or, when every overrun place is taken, on its worker place.
    fn overrun_in_background(
        self: &Arc<Self>,
        job: JoinHandle<Scored>,
        worker: OwnedSemaphorePermit,
    ) {
        let place = match self.overrun.clone().try_acquire_owned() {
            Ok(overrun) => {
                self.overrunning.fetch_add(1, Ordering::AcqRel);
                self.busy.fetch_sub(1, Ordering::AcqRel);
                drop(worker);
                Place::Overrun(overrun)
            }
            Err(_) => Place::Worker(worker),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Only when the runtime itself is gone (the process is exiting): nothing is
            // left to serve, the place and the scorer go with it.
            return;
        };
        let pool = Arc::clone(self);
        runtime.spawn(async move {
            let joined = job.await;
            let (permit, counter) = match place {
                Place::Overrun(p) => (p, &pool.overrunning),
                Place::Worker(p) => (p, &pool.busy),
            };
            counter.fetch_sub(1, Ordering::AcqRel);
            // The outcome is dropped: its client was answered at the deadline.
            let _ = pool.finish(joined, permit);
        });
    }

    /// Puts the scorer back, then releases `permit` (so a permit always finds a scorer).
    /// A task that is gone took its scorer with it: its permit is retired too, so the
    /// permits keep matching the scorers.
    fn finish(
        &self,
        joined: Result<Scored, tokio::task::JoinError>,
        permit: OwnedSemaphorePermit,
    ) -> Result<Outcome, String> {
        match joined {
            Ok((scorer, outcome)) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(scorer);
                drop(permit);
                Ok(outcome)
            }
            Err(e) => {
                permit.forget();
                Err(e.to_string())
            }
        }
    }
}

/// A scan being scored: its task and its worker place, until the handler takes the
/// result ([`InFlight::disarm`]); dropped before that, both go to
/// [`DetectorPool::overrun_in_background`].
struct InFlight {
    pool: Arc<DetectorPool>,
    job: Option<JoinHandle<Scored>>,
    worker: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    /// The scoring task's result, once it is done.
    async fn job(&mut self) -> Result<Scored, tokio::task::JoinError> {
        match self.job.as_mut() {
            Some(job) => job.await,
            // Not reachable: `job` is only taken by `disarm` and `drop`.
            None => std::future::pending().await,
        }
    }

    /// The task has finished: nothing is left to hand over; the worker place is the
    /// caller's to release.
    fn disarm(&mut self) -> Option<OwnedSemaphorePermit> {
        self.job = None;
        self.worker.take()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let (Some(job), Some(worker)) = (self.job.take(), self.worker.take()) {
            self.pool.overrun_in_background(job, worker);
        }
    }
}

/// Where a late scan computes.
enum Place {
    Overrun(OwnedSemaphorePermit),
    Worker(OwnedSemaphorePermit),
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
