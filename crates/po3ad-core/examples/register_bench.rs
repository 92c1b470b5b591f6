//! Speed and success rate of `registration::register` on built-in shapes in random
//! poses (uniform over SO(3), translation up to ±0.5 per axis), full and one-sided
//! partial scans with light sensor noise.
//!
//! `cargo run --release -p po3ad-core --example register_bench [-- TRIALS [SCAN_POINTS]]`
//!
//! Per shape and scan kind it prints: ms per scan (the `register` call only; the
//! template is prepared once), `reg` = fraction flagged registered, `surf` = fraction
//! whose aligned scan lies on the template (mean nearest distance < 0.01, meaningful
//! for symmetric parts too), and `pose` = fraction within 2° / 0.02 of the true pose
//! (only meaningful for the asymmetric `asym` part; the built-ins are rotationally
//! symmetric).

use po3ad_core::geometry::{normalize_unit_sphere, sample_surface, KdTree};
use po3ad_core::registration::{register, RegistrationConfig, RegistrationTarget};
use po3ad_core::synth::scan::{add_noise, partial_scan, random_view};
use po3ad_core::synth::{builtin, BUILTIN_SHAPES};
use po3ad_core::{PointCloud, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

type M3 = [[f32; 3]; 3];

/// Uniform random rotation (a normalised Gaussian quaternion, as the synth poses).
fn random_rotation(rng: &mut impl Rng) -> M3 {
    po3ad_core::synth::random_pose(180.0, 0.0, rng).rotation
}

fn mul(r: &M3, p: [f32; 3]) -> [f32; 3] {
    std::array::from_fn(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

/// Points with outward normals on the faces of the box `c ± h`, uniform by area.
fn box_surface(c: [f32; 3], h: [f32; 3], n: usize, rng: &mut impl Rng) -> PointCloud {
    let areas = [h[1] * h[2], h[0] * h[2], h[0] * h[1]];
    let total: f32 = areas.iter().sum();
    let mut pc = PointCloud::default();
    let mut normals = Vec::new();
    for _ in 0..n {
        let mut pick = rng.random_range(0.0..total);
        let mut axis = 0;
        while axis < 2 && pick >= areas[axis] {
            pick -= areas[axis];
            axis += 1;
        }
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        let mut p = [0.0f32; 3];
        for a in 0..3 {
            p[a] = c[a] + h[a] * rng.random_range(-1.0f32..1.0);
        }
        p[axis] = c[axis] + sign * h[axis];
        let mut nn = [0.0f32; 3];
        nn[axis] = sign;
        pc.points.push(p);
        normals.push(nn);
    }
    pc.normals = Some(normals);
    pc
}

/// A dense sample of a named part in the unit sphere: a built-in, or `asym` = the
/// bottle with two boxes stuck on (no rotational symmetry).
fn part(name: &str, n: usize, rng: &mut impl Rng) -> Result<PointCloud> {
    let base = if name == "asym" { "bottle" } else { name };
    let mut mesh = builtin(base).expect("built-in shape");
    normalize_unit_sphere(&mut mesh)?;
    let mut pc = sample_surface(&mesh, n, rng)?;
    if name == "asym" {
        let k = n / 10;
        for extra in [
            box_surface([0.35, 0.0, -0.2], [0.15, 0.1, 0.12], k, rng),
            box_surface([-0.1, 0.3, 0.3], [0.08, 0.12, 0.08], k / 2, rng),
        ] {
            pc.points.extend(extra.points);
            pc.normals
                .as_mut()
                .expect("sampled normals")
                .extend(extra.normals.expect("box normals"));
        }
    }
    Ok(pc)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let trials: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let scan_points: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30_000);
    // Optional overrides: REG_CFG='{"voxel_size": 0.03}' (missing fields = defaults),
    // REG_SHAPES=vase,cup (default: all).
    let cfg: RegistrationConfig = match std::env::var("REG_CFG") {
        Ok(j) => serde_json::from_str(&j).expect("REG_CFG: RegistrationConfig JSON"),
        Err(_) => RegistrationConfig::default(),
    };
    let only: Option<Vec<String>> = std::env::var("REG_SHAPES")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut shapes: Vec<&str> = BUILTIN_SHAPES.to_vec();
    shapes.push("asym");
    println!(
        "threads {}, trials {trials}, scan points ~{scan_points}",
        rayon::current_num_threads()
    );
    println!(
        "{:<8} {:<8} {:>8} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "shape", "scan", "ms/scan", "reg", "surf", "pose", "fitness", "rmse"
    );
    let (mut all_ms, mut all_n, mut all_surf) = (0.0f64, 0usize, 0usize);
    for name in shapes {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == name)) {
            continue;
        }
        let template = part(name, 20_000, &mut rng)?;
        let t0 = Instant::now();
        let target = RegistrationTarget::new(
            &template.points,
            template.normals.as_ref().expect("normals"),
            &cfg,
        )?;
        let prep_ms = t0.elapsed().as_secs_f64() * 1e3;
        let dense = part(name, 60_000, &mut rng)?;
        let dense_tree = KdTree::new(&dense.points);
        for partial in [false, true] {
            let (mut ms, mut reg, mut surf, mut pose, mut fit, mut rmse) =
                (0.0f64, 0, 0, 0, 0.0f32, 0.0f32);
            for _ in 0..trials {
                let mut scan = if partial {
                    let big = part(name, scan_points * 5 / 2, &mut rng)?;
                    partial_scan(&big, random_view(None, &mut rng), 0.01)?
                } else {
                    part(name, scan_points, &mut rng)?
                };
                add_noise(&mut scan, 0.002, &mut rng)?;
                let truth = scan.points.clone();
                let r = random_rotation(&mut rng);
                let t: [f32; 3] = std::array::from_fn(|_| rng.random_range(-0.5f32..0.5));
                let moved: Vec<[f32; 3]> = scan
                    .points
                    .iter()
                    .map(|&p| {
                        let q = mul(&r, p);
                        [q[0] + t[0], q[1] + t[1], q[2] + t[2]]
                    })
                    .collect();
                let t0 = Instant::now();
                let res = register(&moved, &target, &cfg)?;
                ms += t0.elapsed().as_secs_f64() * 1e3;
                let aligned: Vec<[f32; 3]> = moved.iter().map(|&p| res.apply(p)).collect();
                let surf_d: f32 = aligned
                    .iter()
                    .map(|&p| dense_tree.nearest(p).1.sqrt())
                    .sum::<f32>()
                    / aligned.len() as f32;
                let pose_d: f32 = aligned
                    .iter()
                    .zip(truth.iter())
                    .map(|(a, b)| {
                        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2))
                            .sqrt()
                    })
                    .sum::<f32>()
                    / aligned.len() as f32;
                reg += res.registered as usize;
                surf += (surf_d < 0.01) as usize;
                pose += (pose_d < 0.02) as usize;
                fit += res.fitness;
                rmse += res.inlier_rmse;
            }
            let n = trials as f64;
            println!(
                "{:<8} {:<8} {:>8.0} {:>6.2} {:>6.2} {:>6.2} {:>8.3} {:>8.4}",
                name,
                if partial { "partial" } else { "full" },
                ms / n,
                reg as f64 / n,
                surf as f64 / n,
                pose as f64 / n,
                fit / trials as f32,
                rmse / trials as f32
            );
            all_ms += ms;
            all_n += trials;
            all_surf += surf;
        }
        println!(
            "{:<8} template: {} pts -> coarse {}, fine {}, prepared in {prep_ms:.0} ms",
            name,
            template.len(),
            target.coarse_len(),
            target.fine_len()
        );
    }
    println!(
        "overall: {:.0} ms/scan, surface success {:.3} ({all_surf}/{all_n})",
        all_ms / all_n as f64,
        all_surf as f64 / all_n as f64
    );
    Ok(())
}
