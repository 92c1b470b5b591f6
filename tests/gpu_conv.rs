//! CUDA against CPU: the same sparse convolutions (submanifold k=3, stride-2 down, stride-2
//! transposed up), forward and backward, and the same small network forward, run on
//! `Autodiff<Cuda>` (po3ad-sparse's fused CubeCL kernels) and on `Autodiff<Flex>` (the fused
//! CPU path) from identical inputs and weights must agree.
//!
//! Needs the `cuda` feature and an NVIDIA GPU: `cargo test --release --features cuda --test
//! suite gpu_conv:: -- --nocapture` (or `scripts/gpu-check.sh`, which runs the prebuilt binary).
//! Every comparison prints its error first, so a failing run still says by how much.
//!
//! Tolerance: max |cuda − cpu| ≤ TOL · max |cpu| per tensor, TOL = 2e-3 unless the environment
//! sets `PO3AD_GPU_TOL`. burn's CUDA matmul runs f32 products through TF32 tensor cores
//! (10-bit mantissa) on Ampere and newer GPUs: the first H200 run measured 3.4e-4 on one
//! submanifold conv of the composed path of then (notes/gpu.md), so 1e-4 would flag
//! rounding, not bugs. The fused conv kernels are plain f32, but the network tests also
//! go through the head's Linear layers.
#![cfg(feature = "cuda")]

use crate::common;

use burn::backend::cuda::CudaDevice;
use burn::backend::{Autodiff, Cuda, Flex};
use burn::module::{Module, Param};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use po3ad::model::{collate, ModelConfig, Po3adNet};
use po3ad_sparse::{SparseBackend, SparseConv3dConfig, SparseTensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Gpu = Autodiff<Cuda>;
type Cpu = Autodiff<Flex>;

fn tolerance() -> f32 {
    std::env::var("PO3AD_GPU_TOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2e-3)
}

fn gpu() -> CudaDevice {
    CudaDevice { index: 0 }
}

fn random_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Unique `[batch, x, y, z]` sites, each cell of a `grid³` cube per batch kept with
/// probability `density`.
fn random_coords(seed: u64, batches: i32, grid: i32, density: f64) -> Vec<[i32; 4]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for b in 0..batches {
        for x in 0..grid {
            for y in 0..grid {
                for z in 0..grid {
                    if rng.random_bool(density) {
                        out.push([b, x, y, z]);
                    }
                }
            }
        }
    }
    out
}

fn to_vec<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f32> {
    t.clone()
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data")
}

fn tensor<B: Backend, const D: usize>(
    v: &[f32],
    shape: [usize; D],
    dev: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), dev)
}

/// Compares one tensor; prints the error before asserting so a failure still reports it.
fn assert_agree(name: &str, gpu: &[f32], cpu: &[f32]) {
    assert_eq!(gpu.len(), cpu.len(), "{name}: lengths differ");
    let scale = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let max_diff = gpu
        .iter()
        .zip(cpu)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        gpu.iter().all(|v| v.is_finite()),
        "{name}: non-finite CUDA values"
    );
    let rel = max_diff / scale;
    println!(
        "{name:<28} n={:<7} max|cpu|={scale:<10.4e} max diff={max_diff:.3e} rel={rel:.3e}",
        cpu.len()
    );
    assert!(
        rel <= tolerance(),
        "{name}: CUDA and CPU differ by {rel:.3e} relative (> {:.1e})",
        tolerance()
    );
}

/// Everything one run of the conv chain produces, as host vectors.
struct ChainResult {
    outputs: [Vec<f32>; 3],
    out_coords: [Vec<[i32; 4]>; 3],
    grad_x: Vec<f32>,
    grad_w: [Vec<f32>; 3],
}

const C_IN: usize = 4;
const C_SUB: usize = 8;
const C_DOWN: usize = 16;
const C_UP: usize = 6;

/// x → submanifold k=3 → stride-2 k=2 down → stride-2 k=2 transposed up, loss
/// `Σ_stage Σ out ⊙ r_stage` with fixed random `r`, backward to the input and all weights.
fn conv_chain<B: AutodiffBackend + SparseBackend>(
    coords: &[[i32; 4]],
    dev: &B::Device,
) -> ChainResult {
    let n = coords.len();
    let x = tensor::<B, 2>(&random_vec(1, n * C_IN), [n, C_IN], dev).require_grad();
    let input = SparseTensor::new(coords.to_vec(), x.clone()).expect("valid coords");
    let configs = [
        SparseConv3dConfig::new(C_IN, C_SUB, 3),
        SparseConv3dConfig::new(C_SUB, C_DOWN, 2).with_stride(2),
        SparseConv3dConfig::new(C_DOWN, C_UP, 2)
            .with_stride(2)
            .with_transposed(true),
    ];
    let convs: Vec<_> = configs
        .iter()
        .enumerate()
        .map(|(i, cfg)| {
            let mut conv = cfg.init::<B>(dev);
            let shape = conv.weight.dims();
            let w = random_vec(10 + i as u64, shape.iter().product());
            conv.weight = Param::from_tensor(tensor::<B, 3>(&w, shape, dev).require_grad());
            conv
        })
        .collect();
    let sub = convs[0].forward(&input);
    let down = convs[1].forward(&sub);
    let up = convs[2].forward(&down);
    let stages = [&sub, &down, &up];
    let mut loss = Tensor::<B, 1>::zeros([1], dev);
    for (i, s) in stages.iter().enumerate() {
        let [rows, cols] = s.feats().dims();
        let r = tensor::<B, 2>(&random_vec(20 + i as u64, rows * cols), [rows, cols], dev);
        loss = loss + (s.feats().clone() * r).sum();
    }
    let grads = loss.backward();
    ChainResult {
        outputs: stages.map(|s| to_vec(s.feats())),
        out_coords: stages.map(|s| s.coords().to_vec()),
        grad_x: to_vec(&x.grad(&grads).expect("input gradient")),
        grad_w: [0, 1, 2]
            .map(|i| to_vec(&convs[i].weight.val().grad(&grads).expect("weight gradient"))),
    }
}

#[test]
fn sparse_convs_agree_forward_and_backward() {
    let coords = random_coords(7, 2, 12, 0.3);
    let cpu = conv_chain::<Cpu>(&coords, &Default::default());
    let gpu = conv_chain::<Gpu>(&coords, &gpu());
    let names = ["submanifold k3", "down k2 s2", "transposed k2 s2"];
    for (i, name) in names.iter().enumerate() {
        assert_eq!(gpu.out_coords[i], cpu.out_coords[i], "{name}: output sites");
        assert_agree(&format!("{name} forward"), &gpu.outputs[i], &cpu.outputs[i]);
        assert_agree(&format!("{name} d weight"), &gpu.grad_w[i], &cpu.grad_w[i]);
    }
    assert_agree("chain d input", &gpu.grad_x, &cpu.grad_x);
    // The chain did real work: a stride-2 level exists and the up conv restores every site.
    assert!(cpu.out_coords[1].len() < coords.len());
    assert_eq!(cpu.out_coords[2], coords);
}

/// Two clouds: points on a sphere and on a wavy cylinder, inside the unit ball.
fn clouds() -> Vec<Vec<[f32; 3]>> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let sphere = (0..3000)
        .map(|_| {
            let z: f32 = rng.random_range(-1.0..1.0);
            let t: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            let r = (1.0 - z * z).sqrt() * 0.9;
            [r * t.cos(), r * t.sin(), z * 0.9]
        })
        .collect();
    let cylinder = (0..3000)
        .map(|_| {
            let z: f32 = rng.random_range(-0.7..0.7);
            let t: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            let r = 0.5 + 0.05 * (5.0 * t).sin();
            [r * t.cos(), r * t.sin(), z]
        })
        .collect();
    vec![sphere, cylinder]
}

/// Reads every float parameter, which initialises lazily created ones in place.
struct Materialise;

impl<B: Backend> burn::module::ModuleVisitor<B> for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let _ = param.val();
    }
}

/// The same weights on both backends: encode the CPU model's record, load it on CUDA.
fn models_with_same_weights<C: SparseBackend, G: SparseBackend>(
    cfg: &ModelConfig,
    cpu_dev: &C::Device,
    gpu_dev: &G::Device,
) -> (Po3adNet<C>, Po3adNet<G>) {
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let cpu = Po3adNet::<C>::new(cfg, cpu_dev);
    // burn initialises parameters lazily and a clone of a never-used model initialises its
    // own copy with other random numbers: read every parameter first (see
    // tests/model_architecture.rs, record_bytes_round_trip_keeps_the_forward).
    cpu.visit(&mut Materialise);
    let bytes = Recorder::<C>::record(&recorder, cpu.clone().into_record(), ()).expect("encode");
    let record = Recorder::<G>::load(&recorder, bytes, gpu_dev).expect("decode");
    let gpu = Po3adNet::<G>::new(cfg, gpu_dev).load_record(record);
    (cpu, gpu)
}

fn model_forward_agrees<C: SparseBackend, G: SparseBackend>(
    name: &str,
    cfg: &ModelConfig,
    cpu_dev: &C::Device,
    gpu_dev: &G::Device,
) {
    let clouds = clouds();
    let refs: Vec<&[[f32; 3]]> = clouds.iter().map(Vec::as_slice).collect();
    let batch = collate(&refs, cfg.voxel_size).expect("collate");
    let (cpu, gpu) = models_with_same_weights::<C, G>(cfg, cpu_dev, gpu_dev);
    let out_cpu = to_vec(&cpu.forward(&batch, cpu_dev).expect("cpu forward"));
    let out_gpu = to_vec(&gpu.forward(&batch, gpu_dev).expect("cuda forward"));
    assert_eq!(out_cpu.len(), batch.num_points() * 3);
    assert!(
        out_cpu.iter().any(|v| v.abs() > 0.0),
        "{name}: all-zero output tests nothing"
    );
    assert_agree(name, &out_gpu, &out_cpu);
}

fn tiny_config() -> ModelConfig {
    common::small_model_config()
}

#[test]
fn small_model_forward_agrees_in_inference() {
    model_forward_agrees::<Flex, Cuda>(
        "model14 inference",
        &tiny_config(),
        &Default::default(),
        &gpu(),
    );
}

#[test]
fn small_model_forward_agrees_in_training_mode() {
    // On an autodiff backend batch norm uses the batch statistics.
    model_forward_agrees::<Cpu, Gpu>(
        "model14 training-mode",
        &tiny_config(),
        &Default::default(),
        &gpu(),
    );
}

#[test]
fn paper_model_forward_agrees_in_inference() {
    // MinkUNet34C at full width and the paper's voxel size: the channel counts the GPU
    // kernels really see in training.
    model_forward_agrees::<Flex, Cuda>(
        "model34C inference",
        &ModelConfig::default(),
        &Default::default(),
        &gpu(),
    );
}
