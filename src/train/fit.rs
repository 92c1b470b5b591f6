//! The training loop: epochs of shuffled, repeated samples; Norm-AS views collated into
//! one sparse batch; Adam; a checkpoint at the first epoch end `checkpoint_minutes`
//! after the previous one (see `cadence`), after the last epoch and when stopped early,
//! so a killed run resumes exactly where its last checkpoint left it. `loss.csv` gains a
//! line after every epoch (it is tiny; after a crash it may list epochs past the
//! checkpoint, and the resumed run rewrites it from the checkpoint's record).

use super::cadence::{CheckpointCadence, CheckpointReason};
use super::checkpoint::{Checkpoint, CheckpointError, CheckpointMeta};
use super::data::TrainView;
use super::data::{make_view, TrainSample};
use super::preset::Preset;
use super::progress::{FitProgress, ProgressCallback};
use super::schedule::learning_rate;
use crate::model::{collate, offset_loss, Batch, Po3adNet};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::{Backend, ElementConversion, Tensor, TensorData};
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::frame::TrainingFrame;
use po3ad_sparse::SparseBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const CHECKPOINT_FILE: &str = "checkpoint.po3ad";
pub const MODEL_FILE: &str = "model.po3ad";
pub const LOSS_FILE: &str = "loss.csv";

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] po3ad_core::Error),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("sparse tensor: {0}")]
    Sparse(#[from] po3ad_sparse::SparseError),
    #[error("the loss became {value} at epoch {epoch}, step {step}: training stopped; the last good checkpoint is kept ({checkpoint}). Try a lower train.lr.")]
    NonFinite {
        value: f64,
        epoch: usize,
        step: u64,
        checkpoint: PathBuf,
    },
    #[error("{path}: the checkpoint was made with a different preset; resume with the same preset or start afresh without --resume")]
    PresetMismatch { path: PathBuf },
    #[error("training was stopped by its progress callback in epoch {epoch}; the last checkpoint is kept ({checkpoint})")]
    Cancelled { epoch: usize, checkpoint: PathBuf },
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub out_dir: PathBuf,
    pub resume: bool,
    pub category: String,
    /// Stop (as if interrupted) after this many epochs in this run; for tests.
    pub stop_after: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct FitReport {
    pub epochs_done: usize,
    pub seconds: f64,
    pub clouds_per_second: f64,
    pub final_loss: f64,
    pub model_path: PathBuf,
}

/// A [`FitHooks::on_checkpoint`] callback: epochs done, why, and the file written.
pub type CheckpointCallback<'a> = Box<dyn FnMut(usize, CheckpointReason, &Path) + 'a>;

/// Controls of [`fit_with`] beyond [`FitOptions`]; [`fit`] uses the defaults.
#[derive(Default)]
pub struct FitHooks<'a> {
    /// The clock that times checkpoints (`train.checkpoint_minutes`); default: wall time
    /// since `fit` started. Read once per epoch end (and once at the start). Tests inject
    /// a fake one to place time-triggered checkpoints deterministically.
    pub clock: Option<Box<dyn FnMut() -> Duration + 'a>>,
    /// Once set (e.g. from a signal handler), the run stops at the next epoch end and
    /// writes a checkpoint there, like `FitOptions::stop_after`.
    pub stop: Option<&'a AtomicBool>,
    /// Called after every checkpoint written: epochs done, why, and the file.
    pub on_checkpoint: Option<CheckpointCallback<'a>>,
    /// Told every step and epoch (see [`FitProgress`]); the CLI's progress bar
    /// ([`super::progress::terminal_progress`]) and the Python module's callback. A
    /// `Break` stops the run with [`TrainError::Cancelled`]. It only observes: the run's
    /// results do not depend on it.
    pub on_progress: Option<ProgressCallback<'a>>,
    /// Prepare every batch on the training thread, between steps (the loop before
    /// `Prefetch`), instead of on a worker thread during the previous step. Both give
    /// the same batches in the same order; tests compare them.
    pub serial: bool,
}

/// The RNG for one epoch: the seed's stream `epoch + 1` (stream 0 prepares data), so
/// resuming at an epoch boundary needs no saved RNG state.
pub fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64 + 1);
    rng
}

fn to_tensor<B: Backend>(rows: &[[f32; 3]], device: &B::Device) -> Tensor<B, 2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), 3]), device)
}

/// Train on `samples` with `preset`; writes checkpoints, `loss.csv` and the final
/// `model.po3ad` into `opts.out_dir`.
pub fn fit<B: AutodiffBackend + SparseBackend>(
    samples: &[TrainSample],
    preset: &Preset,
    opts: &FitOptions,
    device: &B::Device,
) -> Result<(Po3adNet<B>, FitReport), TrainError> {
    fit_with(samples, preset, opts, device, FitHooks::default())
}

/// [`fit`] with an injected clock, a stop flag, and checkpoint and progress callbacks.
pub fn fit_with<B: AutodiffBackend + SparseBackend>(
    samples: &[TrainSample],
    preset: &Preset,
    opts: &FitOptions,
    device: &B::Device,
    mut hooks: FitHooks<'_>,
) -> Result<(Po3adNet<B>, FitReport), TrainError> {
    let t = &preset.train;
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| po3ad_core::Error::io(&opts.out_dir, e))?;
    let ckpt_path = opts.out_dir.join(CHECKPOINT_FILE);

    B::seed(device, t.seed);
    let mut model = Po3adNet::<B>::new(&preset.model, device);
    let mut optim = AdamConfig::new()
        .with_epsilon(t.adam_epsilon as f32)
        .init::<B, Po3adNet<B>>();
    let mut meta = CheckpointMeta {
        preset: preset.clone(),
        epochs_done: 0,
        steps_done: 0,
        epoch_losses: Vec::new(),
        epoch_dist: Vec::new(),
        epoch_dir: Vec::new(),
        category: opts.category.clone(),
        po3ad_version: env!("CARGO_PKG_VERSION").into(),
        sources: samples
            .iter()
            .map(|s| s.source.display().to_string())
            .collect(),
        frame: None,
    };
    if opts.resume && ckpt_path.exists() {
        let ckpt = Checkpoint::load(&ckpt_path)?;
        if !ckpt.meta.preset.same_training(preset) {
            return Err(TrainError::PresetMismatch { path: ckpt_path });
        }
        model = ckpt.restore_model(model, device, &ckpt_path)?;
        optim = ckpt.restore_optimizer(optim, device, &ckpt_path)?;
        meta = ckpt.meta;
        // The cadence may differ from the checkpoint's (`Preset::same_training`).
        meta.preset = preset.clone();
    }
    // The first sample's frame: where test scans are put before this model scores them.
    meta.frame = samples
        .first()
        .map(|s| TrainingFrame::from_centered(&s.cloud, s.shift))
        .transpose()?;

    let steps_per_epoch = (samples.len() * t.repeat) / t.batch_size;
    if steps_per_epoch == 0 {
        return Err(po3ad_core::Error::Invalid(format!(
            "{} samples × repeat {} is less than one batch of {}",
            samples.len(),
            t.repeat,
            t.batch_size
        ))
        .into());
    }
    let mut progress = hooks.on_progress.take();
    let mut report = |event: FitProgress| match progress.as_mut() {
        Some(f) => f(event),
        None => ControlFlow::Continue(()),
    };
    let cancelled = |epoch: usize| TrainError::Cancelled {
        epoch,
        checkpoint: opts.out_dir.join(CHECKPOINT_FILE),
    };
    if report(FitProgress::Start {
        first_epoch: meta.epochs_done,
        epochs: t.epochs,
        steps_per_epoch,
    })
    .is_break()
    {
        return Err(cancelled(meta.epochs_done + 1));
    }
    let start = Instant::now();
    let mut clock = hooks
        .clock
        .take()
        .unwrap_or_else(|| Box::new(move || start.elapsed()));
    let mut cadence = CheckpointCadence::new(t, clock(), meta.epochs_done);
    let mut clouds = 0usize;
    let mut last_loss = meta.epoch_losses.last().copied().unwrap_or(f64::NAN);

    let source = BatchSource::new(samples.into(), Arc::new(preset.clone()), meta.epochs_done);
    let mut batches: Box<dyn Iterator<Item = po3ad_core::Result<PreparedBatch>>> = if hooks.serial {
        Box::new(source)
    } else {
        Box::new(Prefetch::spawn(source, 1))
    };
    for (run_epochs, epoch) in (meta.epochs_done..t.epochs).enumerate() {
        if opts.stop_after.is_some_and(|n| run_epochs >= n) {
            break;
        }
        let lr = learning_rate(epoch, t.epochs, t.lr, t.lr_min, t.hold_epochs);
        let (mut sum, mut sum_dist, mut sum_dir) = (0.0, 0.0, 0.0);
        for _ in 0..steps_per_epoch {
            let prepared = match batches.next() {
                Some(p) => p?,
                None => unreachable!("the batch source runs to the last epoch"),
            };
            debug_assert_eq!(prepared.epoch, epoch);
            let pred = model.forward(&prepared.batch, device)?;
            let parts = offset_loss(
                pred,
                to_tensor::<B>(&prepared.targets, device),
                &preset.loss,
            );
            let value: f64 = parts.total.clone().into_scalar().elem();
            sum_dist += parts.dist.into_scalar().elem::<f64>();
            sum_dir += parts.dir.into_scalar().elem::<f64>();
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    value,
                    epoch,
                    step: meta.steps_done,
                    checkpoint: ckpt_path,
                });
            }
            let grads = GradientsParams::from_grads(parts.total.backward(), &model);
            model = optim.step(lr, model, grads);
            sum += value;
            meta.steps_done += 1;
            clouds += prepared.batch.counts.len();
            let step = FitProgress::Step {
                epoch: epoch + 1,
                epochs: t.epochs,
                loss: value,
                lr,
            };
            if report(step).is_break() {
                return Err(cancelled(epoch + 1));
            }
        }
        last_loss = sum / steps_per_epoch as f64;
        meta.epoch_losses.push(last_loss);
        meta.epoch_dist.push(sum_dist / steps_per_epoch as f64);
        meta.epoch_dir.push(sum_dir / steps_per_epoch as f64);
        meta.epochs_done = epoch + 1;
        write_loss_csv(&opts.out_dir.join(LOSS_FILE), &meta, preset)?;
        let stopping = opts.stop_after.is_some_and(|n| run_epochs + 1 >= n)
            || hooks.stop.is_some_and(|f| f.load(Ordering::Relaxed));
        if let Some(reason) = cadence.due(meta.epochs_done, clock(), stopping) {
            write_checkpoint(
                &model,
                Checkpoint::encode_optimizer(&optim),
                &meta,
                &ckpt_path,
            )?;
            cadence.written(meta.epochs_done, clock());
            if let Some(f) = hooks.on_checkpoint.as_mut() {
                f(meta.epochs_done, reason, &ckpt_path);
            }
        }
        let done = FitProgress::Epoch {
            epoch: meta.epochs_done,
            epochs: t.epochs,
            loss: last_loss,
        };
        if report(done).is_break() {
            return Err(cancelled(meta.epochs_done));
        }
        if stopping {
            break;
        }
    }
    // Sent before the final model is written, where the CLI's bar used to be cleared;
    // there is nothing left to cancel.
    let _ = report(FitProgress::Done);

    let model_path = opts.out_dir.join(MODEL_FILE);
    if meta.epochs_done >= t.epochs {
        write_checkpoint(&model, Vec::new(), &meta, &model_path)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok((
        model,
        FitReport {
            epochs_done: meta.epochs_done,
            seconds,
            clouds_per_second: clouds as f64 / seconds.max(1e-9),
            final_loss: last_loss,
            model_path,
        },
    ))
}

/// One training step's input, prepared without the model: collated views and the
/// target offsets of every point, in batch order.
pub struct PreparedBatch {
    pub epoch: usize,
    pub batch: Batch,
    pub targets: Vec<[f32; 3]>,
    /// Time spent making the views (rotation, normalisation, Norm-AS) and collating
    /// them (voxelisation, then the kernel maps), wherever the batch was prepared.
    pub views_time: Duration,
    pub collate_time: Duration,
}

/// Norm-AS views for one batch, drawn from `rng` in batch order.
pub fn make_views(
    samples: &[TrainSample],
    chunk: &[usize],
    preset: &Preset,
    rng: &mut ChaCha8Rng,
) -> po3ad_core::Result<Vec<TrainView>> {
    chunk
        .iter()
        .map(|&i| {
            make_view(
                &samples[i].cloud,
                preset.train.rotation_deg(),
                preset.train.views,
                &preset.norm_as,
                rng,
            )
        })
        .collect()
}

/// Collate views into one sparse batch plus the per-point targets.
pub fn collate_views(
    views: &[TrainView],
    voxel_size: f32,
) -> po3ad_core::Result<(Batch, Vec<[f32; 3]>)> {
    let point_sets: Vec<&[[f32; 3]]> = views.iter().map(|v| v.points.as_slice()).collect();
    let batch = collate(&point_sets, voxel_size)?;
    let targets = views
        .iter()
        .flat_map(|v| v.offsets.iter().copied())
        .collect();
    Ok((batch, targets))
}

/// Every batch of a run from `first_epoch` on, in training order. Each epoch shuffles
/// with its own RNG (`epoch_rng`) and then draws every view from that RNG in batch
/// order, so the sequence does not depend on who consumes it, on which thread, or when.
/// Owns its data so that it can move to a worker thread ([`Prefetch`]).
pub struct BatchSource {
    samples: Arc<[TrainSample]>,
    preset: Arc<Preset>,
    epoch: usize,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    next_chunk: usize,
}

impl BatchSource {
    pub fn new(samples: Arc<[TrainSample]>, preset: Arc<Preset>, first_epoch: usize) -> Self {
        let rng = epoch_rng(preset.train.seed, first_epoch);
        let mut s = Self {
            samples,
            preset,
            epoch: first_epoch,
            rng,
            order: Vec::new(),
            next_chunk: 0,
        };
        s.start_epoch(first_epoch);
        s
    }

    fn start_epoch(&mut self, epoch: usize) {
        let t = &self.preset.train;
        self.epoch = epoch;
        self.rng = epoch_rng(t.seed, epoch);
        self.order = (0..self.samples.len())
            .flat_map(|i| std::iter::repeat_n(i, t.repeat))
            .collect();
        self.order.shuffle(&mut self.rng);
        self.next_chunk = 0;
    }

    fn prepare(&mut self, lo: usize) -> po3ad_core::Result<PreparedBatch> {
        let b = self.preset.train.batch_size;
        let t0 = Instant::now();
        let views = make_views(
            &self.samples,
            &self.order[lo..lo + b],
            &self.preset,
            &mut self.rng,
        )?;
        let t1 = Instant::now();
        let (mut batch, targets) = collate_views(&views, self.preset.model.voxel_size)?;
        // Kernel maps too: on the prefetch worker this takes them off the training
        // thread (they were ~9 % of a `cpu` step, notes/train-profile.md).
        batch
            .prebuild_maps(&self.preset.model)
            .map_err(|e| po3ad_core::Error::Invalid(format!("kernel maps: {e}")))?;
        Ok(PreparedBatch {
            epoch: self.epoch,
            batch,
            targets,
            views_time: t1 - t0,
            collate_time: t1.elapsed(),
        })
    }
}

impl Iterator for BatchSource {
    type Item = po3ad_core::Result<PreparedBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let t = &self.preset.train;
        let b = t.batch_size;
        if self.epoch >= t.epochs {
            return None;
        }
        if (self.next_chunk + 1) * b > self.order.len() {
            if self.epoch + 1 >= t.epochs {
                self.epoch = t.epochs;
                return None;
            }
            self.start_epoch(self.epoch + 1);
        }
        let lo = self.next_chunk * b;
        self.next_chunk += 1;
        Some(self.prepare(lo))
    }
}

/// A [`BatchSource`] run on a worker thread, `depth` batches ahead of the consumer (plus
/// the one being prepared), so the next batch's preparation overlaps the current step.
/// The batches and their order are exactly the source's. Dropping it stops the worker.
pub struct Prefetch {
    rx: Option<Receiver<po3ad_core::Result<PreparedBatch>>>,
    worker: Option<JoinHandle<()>>,
}

impl Prefetch {
    pub fn spawn(mut source: BatchSource, depth: usize) -> Self {
        let (tx, rx) = sync_channel(depth);
        let worker = std::thread::Builder::new()
            .name("po3ad-batches".into())
            .spawn(move || {
                for item in source.by_ref() {
                    let failed = item.is_err();
                    // A closed channel: the consumer has stopped.
                    if tx.send(item).is_err() || failed {
                        break;
                    }
                }
            })
            .ok();
        match worker {
            Some(worker) => Self {
                rx: Some(rx),
                worker: Some(worker),
            },
            // No thread could be started: an empty stream would end training early, so
            // say so.
            None => {
                let (tx, rx) = sync_channel(1);
                let _ = tx.send(Err(po3ad_core::Error::Invalid(
                    "could not start the batch-preparation thread".into(),
                )));
                Self {
                    rx: Some(rx),
                    worker: None,
                }
            }
        }
    }
}

impl Iterator for Prefetch {
    type Item = po3ad_core::Result<PreparedBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.rx.as_ref()?.recv().ok();
        if item.is_none() {
            // The worker is gone: finished, or panicked (re-raised here).
            self.rx = None;
            if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
        }
        item
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Close the channel first so a worker blocked on `send` returns, then wait.
        self.rx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn write_checkpoint<B: AutodiffBackend>(
    model: &Po3adNet<B>,
    optimizer: Vec<u8>,
    meta: &CheckpointMeta,
    path: &Path,
) -> Result<(), CheckpointError> {
    let ckpt = Checkpoint {
        meta: meta.clone(),
        model: Checkpoint::encode_model::<B, _>(model),
        optimizer,
    };
    ckpt.save(path)
}

fn write_loss_csv(
    path: &Path,
    meta: &CheckpointMeta,
    preset: &Preset,
) -> Result<(), CheckpointError> {
    let t = &preset.train;
    let mut text = String::from("epoch,lr,loss,dist,dir\n");
    for (e, l) in meta.epoch_losses.iter().enumerate() {
        let lr = learning_rate(e, t.epochs, t.lr, t.lr_min, t.hold_epochs);
        // Checkpoints written before the split was logged have no parts: left empty.
        let part = |v: &[f64]| v.get(e).map(|x| format!("{x:.6}")).unwrap_or_default();
        text.push_str(&format!(
            "{},{lr:.3e},{l:.6},{},{}\n",
            e + 1,
            part(&meta.epoch_dist),
            part(&meta.epoch_dir)
        ));
    }
    po3ad_core::io::atomic::write_atomic(path, text.as_bytes())?;
    Ok(())
}
