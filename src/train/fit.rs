//! The training loop: epochs of shuffled, repeated samples; Norm-AS views collated into
//! one sparse batch; Adam; a checkpoint after every `checkpoint_every` epochs, so a
//! killed run resumes exactly where its last checkpoint left it.

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointMeta};
use super::data::{make_view, TrainSample};
use super::preset::Preset;
use super::schedule::learning_rate;
use crate::model::{collate, offset_loss, Po3adNet};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::{Backend, ElementConversion, Tensor, TensorData};
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use po3ad_core::frame::TrainingFrame;
use po3ad_sparse::SparseBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub out_dir: PathBuf,
    pub resume: bool,
    pub progress: bool,
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

fn progress_bar(total: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Train on `samples` with `preset`; writes checkpoints, `loss.csv` and the final
/// `model.po3ad` into `opts.out_dir`.
pub fn fit<B: AutodiffBackend + SparseBackend>(
    samples: &[TrainSample],
    preset: &Preset,
    opts: &FitOptions,
    device: &B::Device,
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
        if ckpt.meta.preset != *preset {
            return Err(TrainError::PresetMismatch { path: ckpt_path });
        }
        model = ckpt.restore_model(model, device, &ckpt_path)?;
        optim = ckpt.restore_optimizer(optim, device, &ckpt_path)?;
        meta = ckpt.meta;
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
    let pb = progress_bar(
        ((t.epochs - meta.epochs_done.min(t.epochs)) * steps_per_epoch) as u64,
        opts.progress,
    );
    pb.set_prefix(format!("train {}", opts.category));
    let start = Instant::now();
    let mut clouds = 0usize;
    let mut last_loss = meta.epoch_losses.last().copied().unwrap_or(f64::NAN);

    for (run_epochs, epoch) in (meta.epochs_done..t.epochs).enumerate() {
        if opts.stop_after.is_some_and(|n| run_epochs >= n) {
            break;
        }
        let lr = learning_rate(epoch, t.epochs, t.lr, t.lr_min, t.hold_epochs);
        let mut rng = epoch_rng(t.seed, epoch);
        let mut order: Vec<usize> = (0..samples.len())
            .flat_map(|i| std::iter::repeat_n(i, t.repeat))
            .collect();
        order.shuffle(&mut rng);
        let (mut sum, mut sum_dist, mut sum_dir) = (0.0, 0.0, 0.0);
        for chunk in order.chunks_exact(t.batch_size) {
            let views = chunk
                .iter()
                .map(|&i| {
                    make_view(
                        &samples[i].cloud,
                        t.rotation_deg(),
                        &preset.norm_as,
                        &mut rng,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let point_sets: Vec<&[[f32; 3]]> = views.iter().map(|v| v.points.as_slice()).collect();
            let batch = collate(&point_sets, preset.model.voxel_size)?;
            let targets: Vec<[f32; 3]> = views
                .iter()
                .flat_map(|v| v.offsets.iter().copied())
                .collect();
            let pred = model.forward(&batch, device)?;
            let parts = offset_loss(pred, to_tensor::<B>(&targets, device), &preset.loss);
            let value: f64 = parts.total.clone().into_scalar().elem();
            sum_dist += parts.dist.into_scalar().elem::<f64>();
            sum_dir += parts.dir.into_scalar().elem::<f64>();
            if !value.is_finite() {
                pb.abandon();
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
            clouds += chunk.len();
            pb.inc(1);
            pb.set_message(format!(
                "epoch {}/{} loss {value:.4} lr {lr:.1e}",
                epoch + 1,
                t.epochs
            ));
        }
        last_loss = sum / steps_per_epoch as f64;
        meta.epoch_losses.push(last_loss);
        meta.epoch_dist.push(sum_dist / steps_per_epoch as f64);
        meta.epoch_dir.push(sum_dir / steps_per_epoch as f64);
        meta.epochs_done = epoch + 1;
        if meta.epochs_done.is_multiple_of(t.checkpoint_every.max(1))
            || meta.epochs_done == t.epochs
        {
            write_checkpoint(
                &model,
                Checkpoint::encode_optimizer(&optim),
                &meta,
                &ckpt_path,
            )?;
            write_loss_csv(&opts.out_dir.join(LOSS_FILE), &meta, preset)?;
        }
    }
    pb.finish_and_clear();

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
