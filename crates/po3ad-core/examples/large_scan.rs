//! Peak memory and time of the test-time path on one large scan (2 M points by
//! default): read, `preprocess_test`, voxelize, PCA normals, and voxel downsampling
//! followed by normals on the thinned cloud.
//!
//! `cargo run --release -p po3ad-core --example large_scan [-- POINTS [VOXEL]]`
//!
//! Peak memory is Linux's VmHWM (/proc/self/status); before each stage it is reset
//! (`5` written to /proc/self/clear_refs), so each row shows that stage's own peak.
//! Results are recorded in notes/reliability.md.

use po3ad_core::geometry::{estimate_normals, preprocess_test, voxel_downsample, voxelize};
use po3ad_core::io::{self, PcdData};
use po3ad_core::{PointCloud, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// VmRSS and VmHWM in MiB from /proc/self/status (None off Linux).
fn mem() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = s.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn reset_peak() {
    // Best effort: without it (non-Linux, old kernels) peaks are cumulative.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Row {
    stage: String,
    seconds: f64,
    rss_before: f64,
    peak: f64,
    rss_after: f64,
}

fn stage<T>(rows: &mut Vec<Row>, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    reset_peak();
    let (before, _) = mem().unwrap_or_default();
    let t = Instant::now();
    let out = f()?;
    let seconds = t.elapsed().as_secs_f64();
    let (after, peak) = mem().unwrap_or_default();
    rows.push(Row {
        stage: name.to_string(),
        seconds,
        rss_before: before,
        peak,
        rss_after: after,
    });
    Ok(out)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let voxel: f32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0.01);
    let k = 16;

    // A 2 M-point scan of a built-in vase, written as binary PCD (what scanners give).
    let dir = std::env::temp_dir().join(format!("po3ad-large-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| po3ad_core::Error::io(&dir, e))?;
    let file = dir.join("scan.pcd");
    {
        let mesh = po3ad_core::synth::builtin("vase")
            .ok_or_else(|| po3ad_core::Error::Invalid("no built-in vase".into()))?;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut scan = po3ad_core::geometry::sample_surface(&mesh, n, &mut rng)?;
        // Scanner units (mm) rather than unit-sphere ones.
        for p in &mut scan.points {
            *p = p.map(|v| v * 250.0);
        }
        io::write_pcd(
            &file,
            &PointCloud::from_points(scan.points),
            PcdData::Binary,
        )?;
    }
    let file_mb = std::fs::metadata(&file).map_or(0.0, |m| m.len() as f64 / 1048576.0);

    let mut rows = Vec::new();
    let mut cloud = stage(&mut rows, "read (binary PCD)", || io::read(&file))?;
    stage(&mut rows, "preprocess_test", || preprocess_test(&mut cloud))?;
    let vox = stage(&mut rows, &format!("voxelize ({voxel})"), || {
        voxelize(&cloud.points, voxel)
    })?;
    let n_vox = vox.len();
    drop(vox);
    let normals = stage(&mut rows, &format!("estimate_normals k={k}, full"), || {
        estimate_normals(&cloud.points, k)
    })?;
    drop(normals);
    let thin = stage(&mut rows, &format!("voxel_downsample ({voxel})"), || {
        voxel_downsample(&cloud, voxel)
    })?;
    let thin_normals = stage(
        &mut rows,
        &format!("estimate_normals k={k}, downsampled"),
        || estimate_normals(&thin.points, k),
    )?;

    println!(
        "{} points ({file_mb:.1} MiB binary PCD), {n_vox} voxels of {voxel} → {} points after downsampling ({} normals)",
        cloud.len(),
        thin.len(),
        thin_normals.len()
    );
    println!(
        "| stage | time (s) | RSS before (MiB) | peak during (MiB) | peak − before (MiB) | RSS after (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.stage,
            r.seconds,
            r.rss_before,
            r.peak,
            r.peak - r.rss_before,
            r.rss_after
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
