//! Fused CPU batch norm over the rows of `[N, C]` features for the `Flex` backend, training
//! mode, optionally followed by a residual add and a ReLU, with its hand-written backward.
//!
//! Why not burn's `BatchNorm` + `relu` + `add`: on `Flex` those are ~10 separate passes over
//! `[N, C]` forward (two transposed copies for the statistics, sub, square, div, mul, add, the
//! residual add, the ReLU) and about twice that backward (each op's generic backward, the
//! broadcast reductions), all single-threaded, each allocating a fresh `[N, C]` buffer and
//! each recorded as an autodiff node. In the MinkUNet34C step they were about as long as all
//! the convolutions. Here forward is 3 passes (sum, centred sum of squares, normalise+add+ReLU)
//! and backward 2, parallel over fixed chunks of rows.
//!
//! Determinism: partial sums are taken over fixed chunks of `CHUNK_ROWS` rows (not one per
//! thread) and combined in chunk order in f64, so the result does not depend on the thread
//! count (tests/train_resume.rs checks runs with several thread counts bit for bit).

use rayon::prelude::*;

use crate::buffers::par_zeroed_chunks;

/// Rows per partial sum. A constant, so summation order is thread-count independent.
const CHUNK_ROWS: usize = 512;

/// Per-channel sums of `f(row)` over all rows: per-chunk f32 partials (parallel), combined
/// in chunk order in f64.
fn channel_sums<const M: usize>(
    rows: usize,
    c: usize,
    f: impl Fn(usize, &mut [Vec<f32>; M]) + Sync,
) -> [Vec<f64>; M] {
    let n_chunks = rows.div_ceil(CHUNK_ROWS);
    let partials: Vec<[Vec<f32>; M]> = (0..n_chunks)
        .into_par_iter()
        .map(|chunk| {
            let mut acc: [Vec<f32>; M] = std::array::from_fn(|_| vec![0f32; c]);
            for r in chunk * CHUNK_ROWS..((chunk + 1) * CHUNK_ROWS).min(rows) {
                f(r, &mut acc);
            }
            acc
        })
        .collect();
    let mut sums: [Vec<f64>; M] = std::array::from_fn(|_| vec![0f64; c]);
    for p in &partials {
        for (s, v) in sums.iter_mut().zip(p) {
            for (d, &x) in s.iter_mut().zip(v) {
                *d += x as f64;
            }
        }
    }
    sums
}

/// Forward output: `y`, and the batch mean and biased variance per channel.
pub(crate) struct BnForward {
    pub y: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// `y = act(γ · (x − μ) / sqrt(σ² + ε) + β [+ r])` with μ, σ² (biased) the per-channel batch
/// statistics of `x: [rows, c]`.
pub(crate) fn bn_forward(
    x: &[f32],
    c: usize,
    gamma: &[f32],
    beta: &[f32],
    residual: Option<&[f32]>,
    epsilon: f64,
    relu: bool,
) -> BnForward {
    let rows = x.len().checked_div(c).unwrap_or(0);
    let n = rows.max(1) as f64;
    let [sum] = channel_sums::<1>(rows, c, |r, [s]| {
        for (d, &v) in s.iter_mut().zip(&x[r * c..(r + 1) * c]) {
            *d += v;
        }
    });
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    // Two-pass variance (centred), as burn's BatchNorm computes it: no cancellation when
    // |μ| ≫ σ.
    let [sq] = channel_sums::<1>(rows, c, |r, [s]| {
        for ((d, &v), &m) in s.iter_mut().zip(&x[r * c..(r + 1) * c]).zip(&mean) {
            let t = v - m;
            *d += t * t;
        }
    });
    let var: Vec<f32> = sq.iter().map(|s| (s / n) as f32).collect();
    // y = x·a + b with a = γ·rstd, b = β − μ·a.
    let a: Vec<f32> = var
        .iter()
        .zip(gamma)
        .map(|(&v, &g)| g / ((v as f64 + epsilon).sqrt() as f32))
        .collect();
    let b: Vec<f32> = beta
        .iter()
        .zip(&mean)
        .zip(&a)
        .map(|((&be, &m), &a)| be - m * a)
        .collect();
    if c == 0 {
        return BnForward {
            y: Vec::new(),
            mean,
            var,
        };
    }
    let y = par_zeroed_chunks(
        x.len(),
        CHUNK_ROWS * c,
        || (),
        |_, chunk, out| {
            let base = chunk * CHUNK_ROWS * c;
            let xs = &x[base..base + out.len()];
            let rs = residual.map(|r| &r[base..base + out.len()]);
            for (j, (o, xr)) in out.chunks_mut(c).zip(xs.chunks(c)).enumerate() {
                for ((o, &v), (&a, &b)) in o.iter_mut().zip(xr).zip(a.iter().zip(&b)) {
                    *o = v * a + b;
                }
                if let Some(rs) = rs {
                    for (o, &r) in o.iter_mut().zip(&rs[j * c..(j + 1) * c]) {
                        *o += r;
                    }
                }
                if relu {
                    for o in o.iter_mut() {
                        *o = o.max(0.0);
                    }
                }
            }
        },
    );
    BnForward { y, mean, var }
}

/// Gradients of [`bn_forward`]: `(dx, dγ, dβ, dz)` where `dz` (the gradient at the input of
/// the ReLU, i.e. of the residual) is only materialised when `want_dz` (with ReLU; without
/// one it is the incoming gradient itself).
pub(crate) struct BnBackward {
    pub dx: Vec<f32>,
    pub dgamma: Vec<f32>,
    pub dbeta: Vec<f32>,
    pub dz: Option<Vec<f32>>,
}

/// Backward of [`bn_forward`] from the saved input `x`, output `y` (for the ReLU mask),
/// batch statistics and γ.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bn_backward(
    x: &[f32],
    y: &[f32],
    grad: &[f32],
    c: usize,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    epsilon: f64,
    relu: bool,
    want_dz: bool,
) -> BnBackward {
    let rows = x.len().checked_div(c).unwrap_or(0);
    let n = rows.max(1) as f32;
    let rstd: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    // dz = dy · [y > 0] (ReLU; y > 0 exactly where its input was), else dy.
    let dz_row = |r: usize, out: &mut [f32]| {
        let (yr, gr) = (&y[r * c..(r + 1) * c], &grad[r * c..(r + 1) * c]);
        for ((o, &yv), &g) in out.iter_mut().zip(yr).zip(gr) {
            *o = if relu && yv <= 0.0 { 0.0 } else { g };
        }
    };
    let [s_dz, s_dzx] = channel_sums::<2>(rows, c, |r, [s1, s2]| {
        let (xr, yr, gr) = (
            &x[r * c..(r + 1) * c],
            &y[r * c..(r + 1) * c],
            &grad[r * c..(r + 1) * c],
        );
        // Zipped slices (no indexing) so the loop vectorises over channels.
        let lanes = s1.iter_mut().zip(s2.iter_mut()).zip(xr.iter().zip(mean));
        for (((a, b), (&xv, &m)), (&yv, &g)) in lanes.zip(yr.iter().zip(gr)) {
            let dz = if relu && yv <= 0.0 { 0.0 } else { g };
            *a += dz;
            *b += dz * (xv - m);
        }
    });
    let dbeta: Vec<f32> = s_dz.iter().map(|&v| v as f32).collect();
    let dgamma: Vec<f32> = s_dzx
        .iter()
        .zip(&rstd)
        .map(|(&v, &r)| (v * r as f64) as f32)
        .collect();
    // dx = a·dz − a·dβ/N − a·rstd·dγ/N · (x − μ), a = γ·rstd.
    let k1: Vec<f32> = gamma.iter().zip(&rstd).map(|(&g, &r)| g * r).collect();
    let k0: Vec<f32> = k1.iter().zip(&dbeta).map(|(&a, &b)| -a * b / n).collect();
    let k2: Vec<f32> = k1
        .iter()
        .zip(&rstd)
        .zip(&dgamma)
        .map(|((&a, &r), &g)| -a * r * g / n)
        .collect();
    // k0 − k2·μ: the constant term once x − μ is expanded.
    let k0m: Vec<f32> = k0
        .iter()
        .zip(&k2)
        .zip(mean)
        .map(|((&z, &b), &m)| z - b * m)
        .collect();
    let mut dx = vec![0f32; x.len()];
    let mut dz = want_dz.then(|| vec![0f32; x.len()]);
    if c > 0 {
        let step = CHUNK_ROWS * c;
        let body = |chunk: usize, out: &mut [f32], mut dz_out: Option<&mut [f32]>| {
            let mut d = vec![0f32; c];
            for (j, o) in out.chunks_mut(c).enumerate() {
                let r = chunk * CHUNK_ROWS + j;
                dz_row(r, &mut d);
                let xr = &x[r * c..(r + 1) * c];
                let coef = k1.iter().zip(&k2).zip(&k0m);
                for (((o, &dv), &xv), ((&a, &b), &z)) in o.iter_mut().zip(&d).zip(xr).zip(coef) {
                    *o = a * dv + b * xv + z;
                }
                if let Some(dzo) = dz_out.as_deref_mut() {
                    dzo[j * c..(j + 1) * c].copy_from_slice(&d);
                }
            }
        };
        match dz.as_mut() {
            Some(dz) => dx
                .par_chunks_mut(step)
                .zip(dz.par_chunks_mut(step))
                .enumerate()
                .for_each(|(chunk, (out, dzo))| body(chunk, out, Some(dzo))),
            None => dx
                .par_chunks_mut(step)
                .enumerate()
                .for_each(|(chunk, out)| body(chunk, out, None)),
        }
    }
    BnBackward {
        dx,
        dgamma,
        dbeta,
        dz,
    }
}
