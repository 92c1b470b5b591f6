//! Shared test helpers: random sparse inputs and a plain dense conv3d reference (a dense grid with
//! inactive sites zeroed, evaluated at the output sites) with hand-written gradients.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type Ad = Autodiff<Flex>;

/// Relative tolerance of the conv checks (f32 accumulation everywhere).
pub const TOL: f64 = 1e-4;
/// Grid size of the random sites.
pub const GRID: i32 = 6;
pub type Coord = [i32; 4];

/// Unique random sites in `[0, g)³` for each of `batches` batch elements, density `p`.
/// The first batch's sites are copied into the second so identical xyz occur in both.
pub fn random_coords(seed: u64, batches: i32, g: i32, p: f64) -> Vec<Coord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut first = Vec::new();
    for b in 0..batches {
        for x in 0..g {
            for y in 0..g {
                for z in 0..g {
                    let shared = b == 1 && first.contains(&[x, y, z]) && rng.random_bool(0.7);
                    if shared || rng.random_bool(p) {
                        out.push([b, x, y, z]);
                        if b == 0 {
                            first.push([x, y, z]);
                        }
                    }
                }
            }
        }
    }
    // Shuffle rows so row order carries no spatial structure.
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

pub fn random_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

pub fn tensor2<B: burn::tensor::backend::Backend>(
    v: &[f32],
    rows: usize,
    cols: usize,
) -> Tensor<B, 2> {
    Tensor::from_data(
        TensorData::new(v.to_vec(), [rows, cols]),
        &Default::default(),
    )
}

pub fn tensor3<B: burn::tensor::backend::Backend>(v: &[f32], d: [usize; 3]) -> Tensor<B, 3> {
    Tensor::from_data(TensorData::new(v.to_vec(), d), &Default::default())
}

pub fn to_vec<B: burn::tensor::backend::Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f32> {
    t.to_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// Asserts `max|a-b| <= tol * max(max|b|, 1e-3)`.
pub fn assert_close(name: &str, a: &[f32], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{name}: length");
    let scale = b.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((*x as f64 - y).abs()));
    assert!(
        err <= tol * scale,
        "{name}: max abs err {err:e} vs scale {scale:e}"
    );
}

/// Dense feature grid `[batch][x][y][z][c]` over `[0, g)³`, zero at inactive sites.
pub struct DenseGrid {
    pub batches: i32,
    pub g: i32,
    pub c: usize,
    pub data: Vec<f64>,
}

impl DenseGrid {
    pub fn new(batches: i32, g: i32, c: usize) -> Self {
        Self {
            batches,
            g,
            c,
            data: vec![0.0; (batches * g * g * g) as usize * c],
        }
    }

    pub fn from_sites(batches: i32, g: i32, c: usize, coords: &[Coord], feats: &[f32]) -> Self {
        let mut d = Self::new(batches, g, c);
        for (row, p) in coords.iter().enumerate() {
            let at = d.offset(p).expect("site inside grid");
            for j in 0..c {
                d.data[at + j] = feats[row * c + j] as f64;
            }
        }
        d
    }

    /// Start of the channel vector of `p`, or `None` outside the grid (treated as zero).
    pub fn offset(&self, p: &Coord) -> Option<usize> {
        let g = self.g;
        let inside = (0..self.batches).contains(&p[0]) && p[1..].iter().all(|v| (0..g).contains(v));
        inside.then(|| ((((p[0] * g + p[1]) * g + p[2]) * g + p[3]) as usize) * self.c)
    }
}

/// Which input site (if any) feeds output site `o` through kernel offset `k`.
pub type Tap<'a> = &'a dyn Fn(&Coord, usize) -> Option<Coord>;

/// Dense reference: `out[o] = Σ_k grid(tap(o,k)) · w[k]` (w `[K, C_in, C_out]`),
/// and for upstream gradient `r`: `d grid`, `d w`.
pub struct DenseConv {
    pub out: Vec<f64>,
    pub grad_grid: DenseGrid,
    pub grad_w: Vec<f64>,
}

pub fn dense_conv(
    grid: &DenseGrid,
    out_sites: &[Coord],
    w: &[f32],
    k_vol: usize,
    c_out: usize,
    tap: Tap,
    r: &[f32],
) -> DenseConv {
    let c_in = grid.c;
    let mut out = vec![0.0; out_sites.len() * c_out];
    let mut grad_grid = DenseGrid::new(grid.batches, grid.g, c_in);
    let mut grad_w = vec![0.0; k_vol * c_in * c_out];
    for (o, site) in out_sites.iter().enumerate() {
        for k in 0..k_vol {
            let Some(src) = tap(site, k) else { continue };
            let Some(at) = grid.offset(&src) else {
                continue;
            };
            for i in 0..c_in {
                let xv = grid.data[at + i];
                for j in 0..c_out {
                    let wv = w[(k * c_in + i) * c_out + j] as f64;
                    let rv = r[o * c_out + j] as f64;
                    out[o * c_out + j] += xv * wv;
                    grad_grid.data[at + i] += rv * wv;
                    grad_w[(k * c_in + i) * c_out + j] += xv * rv;
                }
            }
        }
    }
    DenseConv {
        out,
        grad_grid,
        grad_w,
    }
}

/// Gathers the dense gradient at the given sites, row by row.
pub fn gather(grid: &DenseGrid, sites: &[Coord]) -> Vec<f64> {
    let mut v = Vec::with_capacity(sites.len() * grid.c);
    for p in sites {
        let at = grid.offset(p).expect("site inside grid");
        v.extend_from_slice(&grid.data[at..at + grid.c]);
    }
    v
}

/// Submanifold tap: offset index `k = (dx·ks + dy)·ks + dz`, displacement `(d − r)·stride`.
pub fn submanifold_tap(ks: i32, stride: i32) -> impl Fn(&Coord, usize) -> Option<Coord> {
    move |o, k| {
        let k = k as i32;
        let r = (ks - 1) / 2;
        let (dx, dy, dz) = (k / (ks * ks), (k / ks) % ks, k % ks);
        Some([
            o[0],
            o[1] + (dx - r) * stride,
            o[2] + (dy - r) * stride,
            o[3] + (dz - r) * stride,
        ])
    }
}

/// Down tap from fine stride `s`: coarse site `o` reads `o + (dx, dy, dz)·s`, `k = 4dx + 2dy + dz`.
pub fn down_tap(s: i32) -> impl Fn(&Coord, usize) -> Option<Coord> {
    move |o, k| {
        let k = k as i32;
        Some([
            o[0],
            o[1] + (k / 4) * s,
            o[2] + ((k / 2) % 2) * s,
            o[3] + (k % 2) * s,
        ])
    }
}

/// Up tap to fine stride `s`: fine site `o` reads its coarse parent only through the offset of
/// its position inside the parent's 2×2×2 cell.
pub fn up_tap(s: i32) -> impl Fn(&Coord, usize) -> Option<Coord> {
    move |o, k| {
        let s2 = 2 * s;
        let p = [
            o[0],
            o[1].div_euclid(s2) * s2,
            o[2].div_euclid(s2) * s2,
            o[3].div_euclid(s2) * s2,
        ];
        let kk = ((o[1] - p[1]) / s * 4 + (o[2] - p[2]) / s * 2 + (o[3] - p[3]) / s) as usize;
        (kk == k).then_some(p)
    }
}

/// The downsampled site set, computed independently of the crate.
pub fn downsampled(coords: &[Coord], s: i32) -> BTreeSet<Coord> {
    let s2 = 2 * s;
    coords
        .iter()
        .map(|c| {
            [
                c[0],
                c[1].div_euclid(s2) * s2,
                c[2].div_euclid(s2) * s2,
                c[3].div_euclid(s2) * s2,
            ]
        })
        .collect()
}

/// Row lookup of a coordinate list.
pub fn row_of(coords: &[Coord]) -> HashMap<Coord, usize> {
    coords.iter().enumerate().map(|(i, c)| (*c, i)).collect()
}

/// `conv` on `input` (features `x`, a leaf), backpropagating `Σ out ⊙ r` (r random from
/// `seed`), against the dense reference with `tap`: forward, input gradient and weight
/// gradient to `TOL` relative. Generic over the backend (CPU `Flex`, CubeCL `Wgpu`);
/// tensors live on the backend's default device.
pub fn check_conv<B>(
    name: &str,
    input: &po3ad_sparse::SparseTensor<B>,
    x: &Tensor<B, 2>,
    conv: &po3ad_sparse::SparseConv3d<B>,
    tap: Tap,
    seed: u64,
) -> po3ad_sparse::SparseTensor<B>
where
    B: burn::tensor::backend::AutodiffBackend + po3ad_sparse::SparseBackend,
{
    let in_coords = input.coords();
    let [k_vol, c_in, c_out] = conv.weight.dims();
    let w = to_vec(&conv.weight.val());
    let out = conv.forward(input);
    let out_coords = out.coords();
    let n_out = out_coords.len();
    let r = random_vec(seed, n_out * c_out);
    let loss = (out.feats().clone() * tensor2::<B>(&r, n_out, c_out)).sum();
    let grads = loss.backward();
    let gx = to_vec(&x.grad(&grads).expect("input grad"));
    let gw = to_vec(&conv.weight.val().grad(&grads).expect("weight grad"));

    let xv = to_vec(x);
    // The sites' extent (at least GRID), plus the margin the dense reference reads as zeros.
    let extent = in_coords
        .iter()
        .chain(out_coords.iter())
        .flat_map(|c| c[1..].iter().copied())
        .max()
        .map_or(GRID, |m| m.max(GRID));
    let grid = DenseGrid::from_sites(2, extent + 2, c_in, &in_coords, &xv);
    let reference = dense_conv(&grid, &out_coords, &w, k_vol, c_out, tap, &r);
    assert_close(
        &format!("{name} forward"),
        &to_vec(out.feats()),
        &reference.out,
        TOL,
    );
    let gx_ref = gather(&reference.grad_grid, &in_coords);
    assert_close(&format!("{name} d input"), &gx, &gx_ref, TOL);
    assert_close(&format!("{name} d weight"), &gw, &reference.grad_w, TOL);
    out
}

/// A conv layer from `cfg` with weights drawn from `seed` (a gradient leaf).
pub fn conv_with_weight<B>(
    cfg: po3ad_sparse::SparseConv3dConfig,
    seed: u64,
) -> po3ad_sparse::SparseConv3d<B>
where
    B: burn::tensor::backend::AutodiffBackend + po3ad_sparse::SparseBackend,
{
    let mut conv = cfg.init::<B>(&Default::default());
    let d = conv.weight.dims();
    let w = random_vec(seed, d[0] * d[1] * d[2]);
    conv.weight = burn::module::Param::from_tensor(tensor3::<B>(&w, d).require_grad());
    conv
}

/// Random features from `seed` on `coords` as a gradient leaf, and the sparse tensor.
pub fn leaf_input<B>(
    coords: Vec<[i32; 4]>,
    c: usize,
    seed: u64,
) -> (po3ad_sparse::SparseTensor<B>, Tensor<B, 2>)
where
    B: burn::tensor::backend::AutodiffBackend + po3ad_sparse::SparseBackend,
{
    let n = coords.len();
    let x = tensor2::<B>(&random_vec(seed, n * c), n, c).require_grad();
    (
        po3ad_sparse::SparseTensor::new(coords, x.clone()).expect("valid coords"),
        x,
    )
}
