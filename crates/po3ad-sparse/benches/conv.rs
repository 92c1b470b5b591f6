//! Benchmark of one 3×3×3 submanifold layer on a voxelised closed surface (a bumpy sphere,
//! voxel 0.03 → ~19k sites, 32→32 channels; voxel 0.11 → ~1.5k sites, 128→128), fused Flex path
//! vs the composed path, kernel-map build time, peak heap, and an SGEMM 2048³ ceiling with the
//! same `gemm` kernel. Writes the coordinates to /tmp for `scripts/bench_conv_torch.py`.
//!
//! Run: `cargo bench -p po3ad-sparse --bench conv`

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};
use po3ad_sparse::{
    composed_conv, CoordinateManager, MapKey, MapKind, SparseConv3dConfig, SparseTensor,
};

/// Counts live heap bytes and their peak, so each measurement can report its own high-water mark.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Resets the peak to the current live size and returns that baseline.
fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

fn peak_mib_since(base: usize) -> f64 {
    (PEAK.load(Ordering::Relaxed).saturating_sub(base)) as f64 / (1024.0 * 1024.0)
}

/// Voxels of the bumpy sphere `r(θ, φ) = 0.85 + 0.12·sin 6θ·cos 6φ` (inside the unit sphere).
fn surface_voxels(h: f32) -> Vec<[i32; 4]> {
    let (nt, np) = (2000, 4000);
    let mut set = std::collections::HashSet::new();
    let mut out = Vec::new();
    for i in 0..nt {
        let t = std::f32::consts::PI * i as f32 / (nt - 1) as f32;
        for j in 0..np {
            let p = 2.0 * std::f32::consts::PI * j as f32 / np as f32;
            let r = 0.85 + 0.12 * (6.0 * t).sin() * (6.0 * p).cos();
            let q = [r * t.sin() * p.cos(), r * t.sin() * p.sin(), r * t.cos()];
            let c = [
                0,
                (q[0] / h).floor() as i32,
                (q[1] / h).floor() as i32,
                (q[2] / h).floor() as i32,
            ];
            if set.insert(c) {
                out.push(c);
            }
        }
    }
    out
}

/// CPU time of the calling thread (insensitive to other processes time-slicing the cores).
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn cpu_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = thread_cpu_ms();
                f();
                thread_cpu_ms() - t
            })
            .collect(),
    )
}

/// Single-thread CPU-time figures (one-thread rayon pool, GEMM without threads): comparable
/// across runs even when other jobs load the machine.
fn single_thread(rows: &mut Vec<Row>) {
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).build() else {
        return;
    };
    pool.install(|| {
        let n = 1024;
        let a: Vec<f32> = (0..n * n).map(|i| ((i % 13) as f32) * 0.1).collect();
        let b: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32) * 0.1).collect();
        let mut c = vec![0f32; n * n];
        let ms = cpu_ms(5, || {
            square_sgemm(&a, &b, &mut c, n, gemm::Parallelism::None);
            std::hint::black_box(&c);
        });
        let flop = 2.0 * (n as f64).powi(3);
        rows.push(Row {
            name: "1-thread CPU-time SGEMM 1024^3 (gemm crate)".into(),
            ms,
            gflops: flop / ms / 1e6,
            peak_mib: f64::NAN,
        });
        for (label, h, ch) in [("big", 0.03, 32), ("small", 0.11, 128)] {
            type Ad = Autodiff<Flex>;
            let coords = surface_voxels(h);
            let n = coords.len();
            let dev = Default::default();
            let feats: Tensor<Ad, 2> =
                Tensor::random([n, ch], Distribution::Normal(0.0, 1.0), &dev);
            let x = SparseTensor::<Ad>::new(coords, feats.clone()).expect("unique voxels");
            let conv = SparseConv3dConfig::new(ch, ch, 3).init::<Ad>(&dev);
            let out = conv.forward(&x);
            let map = x.manager().kernel_map(MapKey {
                in_stride: 1,
                out_stride: 1,
                kernel: 3,
                kind: MapKind::Submanifold,
            });
            let flop = (map.num_pairs() * ch * ch * 2) as f64;
            drop(out);
            let ms = cpu_ms(5, || {
                let xr = x.with_feats(feats.clone().require_grad());
                std::hint::black_box(conv.forward(&xr).into_feats().sum().backward());
            });
            rows.push(Row {
                name: format!("1-thread CPU-time {label} fused fwd+bwd"),
                ms,
                gflops: 3.0 * flop / ms / 1e6,
                peak_mib: f64::NAN,
            });
        }
    });
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up (builds cached maps / blocked layouts)
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

struct Row {
    name: String,
    ms: f64,
    gflops: f64,
    peak_mib: f64,
}

fn bench_case(label: &str, h: f32, c: usize, reps: usize, rows: &mut Vec<Row>) {
    type Ad = Autodiff<Flex>;
    let coords = surface_voxels(h);
    let n = coords.len();
    let path = format!("/tmp/po3ad_conv_bench_{label}.txt");
    if let Ok(mut f) = std::fs::File::create(&path) {
        for p in &coords {
            let _ = writeln!(f, "{} {} {} {}", p[0], p[1], p[2], p[3]);
        }
    }
    let dev = Default::default();
    let key = MapKey {
        in_stride: 1,
        out_stride: 1,
        kernel: 3,
        kind: MapKind::Submanifold,
    };
    let map_ms = time_ms(reps, || {
        let m = CoordinateManager::new(coords.clone()).expect("unique voxels");
        std::hint::black_box(m.kernel_map(key));
    });
    let x = SparseTensor::<Flex>::new(
        coords.clone(),
        Tensor::random([n, c], Distribution::Normal(0.0, 1.0), &dev),
    )
    .expect("unique voxels");
    let map = x.manager().kernel_map(key);
    let pairs = map.num_pairs();
    let flop = (pairs * c * c * 2) as f64;
    println!(
        "# {label}: N = {n}, pairs = {pairs} ({:.2} occupied neighbours of 27), C = {c}, coords in {path}",
        pairs as f64 / n as f64
    );
    rows.push(Row {
        name: format!("{label} kernel-map build (CPU hash)"),
        ms: map_ms,
        gflops: f64::NAN,
        peak_mib: f64::NAN,
    });

    let conv = SparseConv3dConfig::new(c, c, 3).init::<Flex>(&dev);
    let base = reset_peak();
    let ms = time_ms(reps, || {
        std::hint::black_box(conv.forward(&x));
    });
    rows.push(Row {
        name: format!("{label} fused fwd"),
        ms,
        gflops: flop / ms / 1e6,
        peak_mib: peak_mib_since(base),
    });

    let conv_ad = SparseConv3dConfig::new(c, c, 3).init::<Ad>(&dev);
    let feats: Tensor<Ad, 2> = Tensor::from_inner(x.feats().clone());
    let xa = SparseTensor::<Ad>::new(coords.clone(), feats.clone()).expect("unique voxels");
    let base = reset_peak();
    let ms = time_ms(reps, || {
        let xr = xa.with_feats(feats.clone().require_grad());
        let g = conv_ad.forward(&xr).into_feats().sum().backward();
        std::hint::black_box(g);
    });
    rows.push(Row {
        name: format!("{label} fused fwd+bwd"),
        ms,
        gflops: 3.0 * flop / ms / 1e6,
        peak_mib: peak_mib_since(base),
    });

    let w = conv_ad.weight.val();
    let base = reset_peak();
    let ms = time_ms(reps, || {
        let xr = feats.clone().require_grad();
        let g = composed_conv(xr, w.clone(), &map).sum().backward();
        std::hint::black_box(g);
    });
    rows.push(Row {
        name: format!("{label} composed fwd+bwd"),
        ms,
        gflops: 3.0 * flop / ms / 1e6,
        peak_mib: peak_mib_since(base),
    });
    let _ = Arc::strong_count(&map);
}

fn sgemm(rows: &mut Vec<Row>) {
    let n = 2048;
    let a: Vec<f32> = (0..n * n).map(|i| ((i % 13) as f32) * 0.1).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32) * 0.1).collect();
    let mut c = vec![0f32; n * n];
    let flop = 2.0 * (n as f64).powi(3);
    let ms = time_ms(5, || {
        square_sgemm(&a, &b, &mut c, n, gemm::Parallelism::Rayon(0));
        std::hint::black_box(&c);
    });
    rows.push(Row {
        name: "SGEMM 2048^3 (gemm crate, rayon)".into(),
        ms,
        gflops: flop / ms / 1e6,
        peak_mib: f64::NAN,
    });
    let dev = Default::default();
    let ta = Tensor::<Flex, 2>::random([n, n], Distribution::Default, &dev);
    let tb = Tensor::<Flex, 2>::random([n, n], Distribution::Default, &dev);
    let ms = time_ms(5, || {
        std::hint::black_box(ta.clone().matmul(tb.clone()));
    });
    rows.push(Row {
        name: "SGEMM 2048^3 (burn Flex matmul)".into(),
        ms,
        gflops: flop / ms / 1e6,
        peak_mib: f64::NAN,
    });
}

fn main() {
    let reps = 11;
    let mut rows = Vec::new();
    println!("# rayon threads: {}", rayon::current_num_threads());
    sgemm(&mut rows);
    bench_case("big", 0.03, 32, reps, &mut rows);
    bench_case("small", 0.11, 128, reps, &mut rows);
    single_thread(&mut rows);
    println!("| measurement | median ms | useful GFLOP/s | peak heap MiB |");
    println!("|---|---:|---:|---:|");
    let fmt = |v: f64, p: usize| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.p$}")
        }
    };
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.name,
            fmt(r.ms, 2),
            fmt(r.gflops, 1),
            fmt(r.peak_mib, 1)
        );
    }
}

/// `c += a · b` for n×n row-major matrices: the dense SGEMM the sparse conv is compared with.
fn square_sgemm(a: &[f32], b: &[f32], c: &mut [f32], n: usize, parallelism: gemm::Parallelism) {
    assert!(a.len() >= n * n && b.len() >= n * n && c.len() >= n * n);
    // SAFETY: the assert above: all three buffers hold n×n row-major f32.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
