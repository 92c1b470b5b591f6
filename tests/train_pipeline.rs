//! Batch prefetching (`train::fit::Prefetch`: the next batch is prepared on a worker
//! thread during the step) changes nothing that is computed: the pipelined loop, the
//! serial loop (`FitHooks::serial`) and a copy of the training loop as it was before
//! prefetching (below) give bit-identical per-epoch losses and weights.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::{Backend, ElementConversion, Tensor, TensorData};
use po3ad::device::{CpuBackend, CpuTrainBackend};
use po3ad::model::{collate, offset_loss, Po3adNet};
use po3ad::train::data::make_view;
use po3ad::train::fit::{epoch_rng, BatchSource, Prefetch, MODEL_FILE};
use po3ad::train::schedule::learning_rate;
use po3ad::train::{fit_with, Checkpoint, FitHooks, Preset, TrainSample};
use rand::seq::SliceRandom;
use std::path::Path;
use std::sync::Arc;

use crate::common;

/// One float tensor: shape and raw f32 bits.
type Tensor1 = (Vec<usize>, Vec<u32>);

#[derive(Default)]
struct Weights(Vec<Tensor1>);

impl<B: Backend> ModuleVisitor<B> for Weights {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let values: Vec<f32> = t.into_data().convert::<f32>().to_vec().expect("f32 data");
        self.0
            .push((shape, values.iter().map(|v| v.to_bits()).collect()));
    }
}

fn weights_of<B: Backend, M: Module<B>>(m: &M) -> Vec<Tensor1> {
    let mut w = Weights::default();
    m.visit(&mut w);
    w.0
}

fn model_file_weights(path: &Path) -> (Vec<Tensor1>, Vec<f64>) {
    let c = Checkpoint::load(path).expect("model loads");
    let device = Default::default();
    let net = Po3adNet::<CpuBackend>::new(&c.meta.preset.model, &device);
    let net = c
        .restore_model::<CpuBackend, _>(net, &device, path)
        .expect("restore");
    (weights_of(&net), c.meta.epoch_losses)
}

/// `tiny` on the bowl with 3 epochs of 4 steps (two clouds each).
fn preset() -> Preset {
    let mut p = Preset::load("tiny").expect("tiny");
    p.train.epochs = 3;
    p.train.repeat = 8;
    p
}

/// The training loop before prefetching (commit 1f0c8f7, `fit` without checkpoints):
/// views drawn in batch order from the epoch's RNG right before each step.
fn reference_loop(samples: &[TrainSample], preset: &Preset) -> (Vec<Tensor1>, Vec<f64>) {
    type B = CpuTrainBackend;
    let t = &preset.train;
    let device = Default::default();
    B::seed(&device, t.seed);
    let mut model = Po3adNet::<B>::new(&preset.model, &device);
    let mut optim = AdamConfig::new()
        .with_epsilon(t.adam_epsilon as f32)
        .init::<B, Po3adNet<B>>();
    let steps = (samples.len() * t.repeat) / t.batch_size;
    let mut losses = Vec::new();
    for epoch in 0..t.epochs {
        let lr = learning_rate(epoch, t.epochs, t.lr, t.lr_min, t.hold_epochs);
        let mut rng = epoch_rng(t.seed, epoch);
        let mut order: Vec<usize> = (0..samples.len())
            .flat_map(|i| std::iter::repeat_n(i, t.repeat))
            .collect();
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for chunk in order.chunks_exact(t.batch_size) {
            let views: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    make_view(
                        &samples[i].cloud,
                        t.rotation_deg(),
                        t.views,
                        &preset.norm_as,
                        &mut rng,
                    )
                    .expect("view")
                })
                .collect();
            let sets: Vec<&[[f32; 3]]> = views.iter().map(|v| v.points.as_slice()).collect();
            let batch = collate(&sets, preset.model.voxel_size).expect("collate");
            let targets: Vec<f32> = views
                .iter()
                .flat_map(|v| v.offsets.iter().flatten().copied())
                .collect();
            let n = targets.len() / 3;
            let target = Tensor::<B, 2>::from_data(TensorData::new(targets, [n, 3]), &device);
            let pred = model.forward(&batch, &device).expect("forward");
            let parts = offset_loss(pred, target, &preset.loss);
            let value: f64 = parts.total.clone().into_scalar().elem();
            let grads = GradientsParams::from_grads(parts.total.backward(), &model);
            model = optim.step(lr, model, grads);
            sum += value;
        }
        losses.push(sum / steps as f64);
    }
    (weights_of(&model.valid()), losses)
}

#[test]
fn pipelined_serial_and_pre_prefetch_loops_are_bit_identical() {
    let preset = preset();
    let data = common::bowl_samples(&preset);
    let device = Default::default();
    let tmp = tempfile::tempdir().expect("temp dir");
    let (a, b) = (tmp.path().join("pipelined"), tmp.path().join("serial"));
    // Several rayon threads: the worker thread runs beside a busy pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon pool");
    pool.install(|| {
        fit_with::<CpuTrainBackend>(
            &data,
            &preset,
            &common::bowl_fit_options(&a, false, None),
            &device,
            FitHooks::default(),
        )
        .expect("pipelined run");
        fit_with::<CpuTrainBackend>(
            &data,
            &preset,
            &common::bowl_fit_options(&b, false, None),
            &device,
            FitHooks {
                serial: true,
                ..FitHooks::default()
            },
        )
        .expect("serial run");
        let reference = reference_loop(&data, &preset);
        let pipelined = model_file_weights(&a.join(MODEL_FILE));
        let serial = model_file_weights(&b.join(MODEL_FILE));
        assert_eq!(reference.1.len(), 3);
        assert_eq!(pipelined.1, reference.1, "pipelined losses vs the old loop");
        assert_eq!(serial.1, reference.1, "serial losses vs the old loop");
        assert!(pipelined.0 == reference.0, "pipelined weights differ");
        assert!(serial.0 == reference.0, "serial weights differ");
    });
}

/// The worker yields exactly the source's batches, across epoch boundaries, and a
/// prefetcher dropped half-way (a run that stops early) shuts its worker down.
#[test]
fn prefetch_yields_the_source_sequence_and_stops_when_dropped() {
    let preset = Arc::new(preset());
    let data: Arc<[TrainSample]> = common::bowl_samples(&preset).into();
    let serial: Vec<_> = BatchSource::new(data.clone(), preset.clone(), 1)
        .map(|b| b.expect("batch"))
        .collect();
    // Epochs 1 and 2, four steps each.
    assert_eq!(serial.len(), 8);
    assert_eq!(serial[0].epoch, 1);
    assert_eq!(serial[7].epoch, 2);
    let piped: Vec<_> = Prefetch::spawn(BatchSource::new(data.clone(), preset.clone(), 1), 1)
        .map(|b| b.expect("batch"))
        .collect();
    assert_eq!(piped.len(), serial.len());
    for (x, y) in serial.iter().zip(&piped) {
        assert_eq!(x.epoch, y.epoch);
        assert_eq!(x.batch.coords, y.batch.coords);
        assert_eq!(x.batch.feats, y.batch.feats);
        assert_eq!(x.batch.point_to_voxel, y.batch.point_to_voxel);
        assert_eq!(x.targets, y.targets);
    }
    let mut early = Prefetch::spawn(BatchSource::new(data, preset, 0), 1);
    assert!(early.next().is_some());
    drop(early); // joins the worker; a hang here fails the test by timeout
}

/// `po3ad profile` runs end to end on a small network and reports every phase.
#[test]
fn profile_command_prints_the_phase_table() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .args([
            "profile",
            "--preset",
            "tiny",
            "--batch-size",
            "2",
            "--samples",
            "2",
            "--points",
            "2000",
            "--steps",
            "2",
            "--warmup",
            "0",
        ])
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("run po3ad profile");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "data: Norm-AS views",
        "data: collate",
        "forward + loss",
        "kernel maps",
        "backward",
        "optimiser step",
        "clouds/s",
        "identical in both modes",
        "checkpoint:",
    ] {
        assert!(stdout.contains(needle), "missing '{needle}' in:\n{stdout}");
    }
}
