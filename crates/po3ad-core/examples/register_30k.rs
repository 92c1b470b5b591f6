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
//! `REG_CFG` = JSON of `RegistrationConfig` fields to override.

use po3ad_core::dataset::{list_categories, load_category, Layout};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::{center_shift, ensure_normals, sample_surface};
use po3ad_core::registration::{
    part_size, pose_error, register, Registration, RegistrationConfig, RegistrationTarget, Symmetry,
};
use po3ad_core::{io, synth, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
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
    println!("threads {}", rayon::current_num_threads());
    println!("| part | median ms | worst ms | registered | near truth |");
    println!("|---|---:|---:|---:|---:|");
    let mut all_ms = Vec::new();
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
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut ms, mut ok, mut near) = (Vec::new(), 0, 0);
        for _ in 0..poses {
            let scan = sample_surface(&mesh, 30_000, &mut rng)?;
            let pose = synth::random_pose(180.0, 0.5, &mut rng);
            let moved: Vec<[f32; 3]> = scan
                .points
                .iter()
                .map(|&p| pose.apply(frame.to_training(p)))
                .collect();
            let t0 = Instant::now();
            let r = register(&moved, &target, &reg)?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            ok += usize::from(r.registered);
            // The truth maps the moved scan back: p = Rᵀ (m − t).
            let rt: [[f32; 3]; 3] =
                std::array::from_fn(|i| std::array::from_fn(|j| pose.rotation[j][i]));
            let back = std::array::from_fn(|i| {
                -(0..3).map(|j| rt[i][j] * pose.translation[j]).sum::<f32>()
            });
            let truth = Registration::from_transform(rt, back);
            let n = moved.len() as f32;
            let at = std::array::from_fn(|a| moved.iter().map(|p| p[a]).sum::<f32>() / n);
            let e = pose_error(&r, &truth, &sym, at);
            near += usize::from(e.rotation_deg <= 2.0 && e.translation <= 0.01 * size);
        }
        all_ms.extend(ms.iter().copied());
        ms.sort_by(f64::total_cmp);
        println!(
            "| {part} | {:.0} | {:.0} | {ok}/{poses} | {near}/{poses} |",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    all_ms.sort_by(f64::total_cmp);
    if !all_ms.is_empty() {
        println!(
            "| all | {:.0} | {:.0} | | |",
            all_ms[all_ms.len() / 2],
            all_ms[all_ms.len() - 1]
        );
    }
    Ok(())
}
