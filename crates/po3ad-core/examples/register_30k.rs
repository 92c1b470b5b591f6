//! Registration time of whole 30k-point scans (issues #21 / #26: "registration of a
//! 30k-point scan ≤ 0.3 s median"), per part, over several random poses.
//!
//! ```text
//! cargo run --release -p po3ad-core --example register_30k -- ROOT/data-aligned [POSES]
//! ```
//! For every part of an Anomaly-ShapeNet-layout track (the dev benchmark's
//! `data-aligned`), the template is the first training mesh sampled with 30k points in
//! `po3ad`'s training frame (as `surface_bench` builds it; its near-symmetries found
//! first, as `po3ad` does when it loads a model). Each timed scan is a fresh 30k-point
//! sample of that mesh in a random pose (`POSES`, default 8, seeded). Prints per part
//! the median and worst registration time and how many scans came back registered and
//! within 2° / 1 % of the part's size of the true pose or of a symmetric-equivalent
//! one (the template's exact symmetries, [`Symmetry::detect`], as `register_eval`).
//! `REG_CFG` = JSON of `RegistrationConfig` fields to override; `PARTS` = comma list.
//!
//! Side by side with Open3D (`scripts/register-compare-30k.sh`): `REG_EXPORT=DIR`
//! also writes each part's template and scans in the layout
//! `scripts/open3d_register_bench.py` reads (track `30k`); `REG_EXTERNAL=FILE` reads
//! that script's transforms back and measures them on the same scans, against the
//! same truth.

use po3ad_core::dataset::{list_categories, load_category, Layout};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::{center_shift, ensure_normals, sample_surface};
use po3ad_core::registration::{
    evaluate_pose, part_size, pose_error, read_transforms_csv, register, Registration,
    RegistrationConfig, RegistrationTarget, Symmetry,
};
use po3ad_core::{io, synth, PointCloud, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(root) = args.get(1) else {
        eprintln!("usage: register_30k TRACK_DIR [POSES]");
        return Ok(());
    };
    let poses: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let reg: RegistrationConfig = match std::env::var("REG_CFG") {
        Ok(json) => serde_json::from_str(&json).map_err(|e| {
            po3ad_core::Error::Invalid(format!("REG_CFG is not a RegistrationConfig: {e}"))
        })?,
        Err(_) => RegistrationConfig::default(),
    };
    let parts_only: Option<Vec<String>> = std::env::var("PARTS")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let dir = Path::new(root);
    let export = std::env::var("REG_EXPORT").ok().map(PathBuf::from);
    let external = match std::env::var("REG_EXTERNAL") {
        Ok(p) => Some(read_transforms_csv(Path::new(&p))?),
        Err(_) => None,
    };
    println!("threads {}", rayon::current_num_threads());
    println!("| method | part | median ms | worst ms | registered | near truth |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut all_ms: Vec<(&str, f64)> = Vec::new();
    for part in list_categories(Layout::AnomalyShapeNet, dir)? {
        if parts_only.as_ref().is_some_and(|o| !o.contains(&part)) {
            continue;
        }
        let cat = load_category(Layout::AnomalyShapeNet, dir, &part)?;
        let mesh = io::read(&cat.train[0])?;
        if !mesh.is_mesh() {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut cloud = sample_surface(&mesh, 30_000, &mut rng)?;
        ensure_normals(&mut cloud, 16)?;
        let shift = center_shift(&mut cloud);
        let frame = TrainingFrame::from_centered(&cloud, shift)?;
        let target = RegistrationTarget::new(&frame.points, &frame.normals, &reg)?;
        if reg.near_symmetries {
            target.near_symmetry_count();
        }
        let sym = Symmetry::detect(&target, &reg);
        let size = part_size(&target);
        let out_dir = export.as_ref().map(|e| e.join("30k").join(&part));
        let mut list = String::from("index,file\n");
        if let Some(d) = &out_dir {
            std::fs::create_dir_all(d).map_err(|e| po3ad_core::Error::io(d, e))?;
            let template = frame.reference_cloud();
            io::write_ply(&d.join("template.ply"), &template, None, true)?;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut tallies: Vec<(&str, Vec<f64>, usize, usize)> = vec![("po3ad", Vec::new(), 0, 0)];
        if external.is_some() {
            tallies.push(("open3d", Vec::new(), 0, 0));
        }
        for k in 0..poses {
            let scan = sample_surface(&mesh, 30_000, &mut rng)?;
            let pose = synth::random_pose(180.0, 0.5, &mut rng);
            let moved: Vec<[f32; 3]> = scan
                .points
                .iter()
                .map(|&p| pose.apply(frame.to_training(p)))
                .collect();
            let file = format!("scan{k}");
            if let Some(d) = &out_dir {
                let cloud = PointCloud::from_points(moved.clone());
                io::write_ply(&d.join(format!("{k}.ply")), &cloud, None, true)?;
                list.push_str(&format!("{k},{file}\n"));
            }
            let t0 = Instant::now();
            let ours = register(&moved, &target, &reg)?;
            let mut results = vec![(ours, t0.elapsed().as_secs_f64() * 1e3)];
            if let Some(ext) = &external {
                if let Some((r, secs)) = ext.get(&("30k".into(), part.clone(), file.clone())) {
                    // Overlap, residual and coverage as po3ad's gate measures them.
                    results.push((evaluate_pose(&moved, &target, r, &reg)?, secs * 1e3));
                }
            }
            // The truth maps the moved scan back: p = Rᵀ (m − t).
            let rt: [[f32; 3]; 3] =
                std::array::from_fn(|i| std::array::from_fn(|j| pose.rotation[j][i]));
            let back = std::array::from_fn(|i| {
                -(0..3).map(|j| rt[i][j] * pose.translation[j]).sum::<f32>()
            });
            let truth = Registration::from_transform(rt, back);
            let n = moved.len() as f32;
            let at = std::array::from_fn(|a| moved.iter().map(|p| p[a]).sum::<f32>() / n);
            for ((_, ms, ok, near), (r, t)) in tallies.iter_mut().zip(results) {
                let e = pose_error(&r, &truth, &sym, at);
                ms.push(t);
                *ok += usize::from(r.registered);
                *near += usize::from(e.rotation_deg <= 2.0 && e.translation <= 0.01 * size);
            }
        }
        if let Some(d) = &out_dir {
            let path = d.join("scans.csv");
            std::fs::write(&path, &list).map_err(|e| po3ad_core::Error::io(&path, e))?;
        }
        for (method, ms, ok, near) in &mut tallies {
            all_ms.extend(ms.iter().map(|&t| (*method, t)));
            let n = ms.len();
            ms.sort_by(f64::total_cmp);
            let (median, worst) = (ms[n / 2], ms[n - 1]);
            println!("| {method} | {part} | {median:.0} | {worst:.0} | {ok}/{n} | {near}/{n} |");
        }
    }
    for method in ["po3ad", "open3d"] {
        let mut ms: Vec<f64> = all_ms
            .iter()
            .filter(|(m, _)| *m == method)
            .map(|&(_, t)| t)
            .collect();
        if ms.is_empty() {
            continue;
        }
        ms.sort_by(f64::total_cmp);
        let (median, worst) = (ms[ms.len() / 2], ms[ms.len() - 1]);
        println!("| {method} | all | {median:.0} | {worst:.0} | | |");
    }
    Ok(())
}
