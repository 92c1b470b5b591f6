//! Evaluation harness of the `surface` detector against the nearest-template baseline
//! on the dev benchmark (issue #21).
//!
//! ```text
//! cargo run --release -p po3ad-core --example surface_bench -- gen OUT [MESH_DIR] [hard]
//! cargo run --release -p po3ad-core --example surface_bench -- ROOT
//! ```
//! `gen` writes the dev benchmark's tracks as `scripts/dev-benchmark.sh` does
//! (`po3ad synth --seed 1` on six meshes; `hard` adds the one-sided, free-pose,
//! noisier, smaller-defect track `data-hard`). Without `gen`, every `ROOT/data-*`
//! track is evaluated (`data-partial*` and `data-hard` in the Real3D-AD layout, the
//! rest Anomaly-ShapeNet).
//!
//! Per part and track it prints object / point AUROC and AP of (a) nearest: the
//! distance to the nearest pooled training point, object score = mean of the top 1 %
//! (as `po3ad`'s `nearest` detector: training meshes sampled with 30k points,
//! CenterShift + unit sphere each, ICP-aligned to the first, pooled, 0.004 voxels), and
//! (b) each surface configuration; then the mean over parts and the object AUROC per
//! defect kind (each kind's scans against the normal scans). Every scan is placed as
//! `po3ad`'s `--frame auto` does for pose-dependent detectors: into the first
//! template's frame, then registered onto it (`registration::register`, default
//! settings); both detectors score the same placed scans. Registrations are cached
//! under `SURF_CACHE` (default `target/surface-bench-cache`).
//!
//! Environment: `SURF_CFGS` = JSON object `{"name": {SurfaceConfig fields}, ...}`
//! (default: one row `surface` with the defaults), `TRACKS` / `PARTS` = comma lists,
//! `SURF_DEBUG` = one line per scan, `SURF_DUMP=DIR` = one CSV per scan and
//! configuration (points, label, signed distance, z, gap, point score),
//! `SURF_SCALE=first` = scale every training cloud by the first one's unit-sphere
//! factor instead of its own (an experiment of notes/surface.md "Session 14"),
//! `REG_CFG` = JSON of `RegistrationConfig` fields to override (use its own
//! `SURF_CACHE`: cached registrations are not keyed by the settings).

use po3ad_core::dataset::{list_categories, load_category, load_test_points, Layout};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::{
    center_shift, ensure_normals, normalize_unit_sphere, sample_surface, voxel_downsample, KdTree,
};
use po3ad_core::metrics::{average_precision, roc_auc};
use po3ad_core::registration::{
    refine, register, Registration, RegistrationConfig, RegistrationTarget,
};
use po3ad_core::surface::{SurfaceConfig, SurfaceModel};
use po3ad_core::synth::{self, SynthConfig, SynthLayout};
use po3ad_core::{io, PointCloud, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const MESHES: [&str; 6] = [
    "torus.STL",
    "cylinder.stl",
    "rabbit.obj",
    "Vase.stl",
    "plate_holes.STL",
    "gears.stl",
];

fn gen(out: &Path, mesh_dir: &Path, hard: bool) -> Result<()> {
    let base = SynthConfig {
        seed: 1,
        ..SynthConfig::default()
    };
    let free = |c: SynthConfig| SynthConfig {
        test_pose_deg: 180.0,
        ..c
    };
    let partial = |c: SynthConfig| SynthConfig { partial: true, ..c };
    let mut tracks = vec![
        ("aligned", SynthLayout::AnomalyShapeNet, base.clone()),
        ("free", SynthLayout::AnomalyShapeNet, free(base.clone())),
        ("partial", SynthLayout::Real3d, partial(base.clone())),
        (
            "partial-free",
            SynthLayout::Real3d,
            free(partial(base.clone())),
        ),
    ];
    if hard {
        let hard = SynthConfig {
            noise_sigma: 0.004,
            severity: [0.0, 0.5],
            ..free(partial(base.clone()))
        };
        tracks.push(("hard", SynthLayout::Real3d, hard));
    }
    for (name, layout, cfg) in tracks {
        let dir = out.join(format!("data-{name}"));
        if dir.exists() {
            continue;
        }
        for m in MESHES {
            let path = mesh_dir.join(m);
            let mesh = io::read(&path)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            synth::write_category(&mesh, &stem, &dir, layout, &cfg)?;
        }
        println!("wrote {}", dir.display());
    }
    Ok(())
}

/// The training side of one part, as `po3ad`'s nearest detector prepares it.
struct Training {
    frame: TrainingFrame,
    target: RegistrationTarget,
    /// Each training cloud (with normals) in the training frame, aligned.
    clouds: Vec<PointCloud>,
    /// Nearest's pooled reference (0.004 voxels) and its tree.
    pooled_tree: KdTree,
}

fn prepare_training(files: &[PathBuf], reg: &RegistrationConfig) -> Result<Training> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut prepared = Vec::new();
    for f in files {
        let mut cloud = io::read(f)?;
        if cloud.is_mesh() {
            cloud = sample_surface(&cloud, 30_000, &mut rng)?;
        }
        ensure_normals(&mut cloud, 16)?;
        cloud.faces.clear();
        cloud.labels = None;
        let shift = center_shift(&mut cloud);
        prepared.push((cloud, shift));
    }
    let frame = TrainingFrame::from_centered(&prepared[0].0, prepared[0].1)?;
    let target = RegistrationTarget::new(&frame.points, &frame.normals, reg)?;
    let mut clouds = Vec::new();
    for (i, (cloud, _)) in prepared.iter().enumerate() {
        let mut c = cloud.clone();
        let (_, own) = normalize_unit_sphere(&mut c)?;
        if std::env::var("SURF_SCALE").is_ok_and(|v| v == "first") {
            let k = own / frame.scale;
            for p in &mut c.points {
                *p = p.map(|x| x * k);
            }
        }
        if i > 0 {
            let r = refine(&c.points, &target, &Registration::identity(), reg)?;
            if r.fitness >= reg.min_fitness {
                for p in &mut c.points {
                    *p = r.apply(*p);
                }
                if let Some(n) = c.normals.as_mut() {
                    for v in n.iter_mut() {
                        *v = r.apply_vector(*v);
                    }
                }
            }
        }
        clouds.push(c);
    }
    let all: Vec<[f32; 3]> = clouds.iter().flat_map(|c| c.points.clone()).collect();
    let pooled = voxel_downsample(&PointCloud::from_points(all), 0.004)?.points;
    Ok(Training {
        frame,
        target,
        clouds,
        pooled_tree: KdTree::new(&pooled),
    })
}

fn top_mean(values: &[f32], fraction: f64) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let top = ((s.len() as f64 * fraction).ceil() as usize).clamp(1, s.len());
    s[..top].iter().map(|&v| v as f64).sum::<f64>() / top as f64
}

/// Scores of one detector on one part.
#[derive(Default)]
struct Collected {
    object_labels: Vec<bool>,
    object_scores: Vec<f64>,
    defects: Vec<String>,
    point_labels: Vec<bool>,
    point_scores: Vec<f64>,
}

impl Collected {
    fn push(
        &mut self,
        defect: &str,
        anomalous: bool,
        labels: Option<&[u8]>,
        pts: &[f32],
        obj: f64,
    ) {
        self.object_labels.push(anomalous);
        self.object_scores.push(obj);
        self.defects.push(defect.to_string());
        if let Some(l) = labels {
            self.point_labels.extend(l.iter().map(|&x| x != 0));
            self.point_scores.extend(pts.iter().map(|&v| v as f64));
        }
    }

    /// object AUROC, object AP, point AUROC, point AP (NaN where undefined).
    fn metrics(&self) -> [f64; 4] {
        let m = |r: Result<f64>| r.unwrap_or(f64::NAN);
        [
            m(roc_auc(&self.object_labels, &self.object_scores)),
            m(average_precision(&self.object_labels, &self.object_scores)),
            m(roc_auc(&self.point_labels, &self.point_scores)),
            m(average_precision(&self.point_labels, &self.point_scores)),
        ]
    }

    fn per_kind(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        let kinds: std::collections::BTreeSet<&String> = self
            .defects
            .iter()
            .zip(&self.object_labels)
            .filter(|(_, &a)| a)
            .map(|(d, _)| d)
            .collect();
        for k in kinds {
            let (l, s): (Vec<bool>, Vec<f64>) = self
                .object_labels
                .iter()
                .zip(&self.object_scores)
                .zip(&self.defects)
                .filter(|((&a, _), d)| !a || *d == k)
                .map(|((&a, &s), _)| (a, s))
                .unzip();
            if let Ok(v) = roc_auc(&l, &s) {
                out.insert(k.clone(), v);
            }
        }
        out
    }
}

fn cached_registration(
    cache: &Path,
    points: &[[f32; 3]],
    target: &RegistrationTarget,
    reg: &RegistrationConfig,
) -> Result<(Registration, f64)> {
    if let Ok(bytes) = std::fs::read(cache) {
        if let Ok(r) = serde_json::from_slice::<Registration>(&bytes) {
            return Ok((r, f64::NAN));
        }
    }
    let t0 = Instant::now();
    let r = register(points, target, reg)?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).map_err(|e| po3ad_core::Error::io(dir, e))?;
    }
    let json = serde_json::to_vec(&r).map_err(|e| po3ad_core::Error::Invalid(e.to_string()))?;
    std::fs::write(cache, json).map_err(|e| po3ad_core::Error::io(cache, e))?;
    Ok((r, ms))
}

fn configs() -> Vec<(String, SurfaceConfig)> {
    match std::env::var("SURF_CFGS") {
        Ok(j) => {
            let m: BTreeMap<String, SurfaceConfig> =
                serde_json::from_str(&j).expect("SURF_CFGS: {name: SurfaceConfig} JSON");
            m.into_iter().collect()
        }
        Err(_) => vec![("surface".into(), SurfaceConfig::default())],
    }
}

fn list_env(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect())
}

struct TrackResult {
    /// detector → part → metrics.
    rows: BTreeMap<String, BTreeMap<String, [f64; 4]>>,
    /// detector → defect kind → AUROCs over parts.
    kinds: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
}

fn bench(root: &Path) -> Result<()> {
    let reg: RegistrationConfig = match std::env::var("REG_CFG") {
        Ok(json) => serde_json::from_str(&json).map_err(|e| {
            po3ad_core::Error::Invalid(format!("REG_CFG is not a RegistrationConfig: {e}"))
        })?,
        Err(_) => RegistrationConfig::default(),
    };
    let cfgs = configs();
    let tracks_only = list_env("TRACKS");
    let parts_only = list_env("PARTS");
    let cache_root = PathBuf::from(
        std::env::var("SURF_CACHE").unwrap_or_else(|_| "target/surface-bench-cache".into()),
    );
    let mut tracks: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| po3ad_core::Error::io(root, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("data-"))
        .map(|n| n["data-".len()..].to_string())
        .collect();
    tracks.sort_by_key(|t| match t.as_str() {
        "aligned" => 0,
        "free" => 1,
        "partial" => 2,
        "partial-free" => 3,
        _ => 4,
    });
    println!("threads {}", rayon::current_num_threads());
    let mut summary: Vec<(String, TrackResult)> = Vec::new();
    // Each part's 30k-point timing, once (on the first track that has the part).
    let mut timed_30k = std::collections::BTreeSet::new();
    for track in tracks {
        if tracks_only.as_ref().is_some_and(|o| !o.contains(&track)) {
            continue;
        }
        let dir = root.join(format!("data-{track}"));
        let layout = if track.starts_with("partial") || track == "hard" {
            Layout::Real3d
        } else {
            Layout::AnomalyShapeNet
        };
        println!("\n## track {track} ({layout})");
        let mut res = TrackResult {
            rows: BTreeMap::new(),
            kinds: BTreeMap::new(),
        };
        for part in list_categories(layout, &dir)? {
            if parts_only.as_ref().is_some_and(|o| !o.contains(&part)) {
                continue;
            }
            let cat = load_category(layout, &dir, &part)?;
            let t0 = Instant::now();
            let training = prepare_training(&cat.train, &reg)?;
            let prep_s = t0.elapsed().as_secs_f64();
            let mut models = Vec::new();
            for (name, cfg) in &cfgs {
                let t0 = Instant::now();
                let m = SurfaceModel::fit(&training.clouds, cfg)?;
                let fit_s = t0.elapsed().as_secs_f64();
                println!(
                    "{part}: {name} fit {fit_s:.2} s ({} nodes, h {:.4}, median floor {:.5}); \
                     training prep (sampling + template ICP) {prep_s:.2} s",
                    m.len(),
                    m.spacing(),
                    {
                        let mut f = m.noise_floor().to_vec();
                        f.sort_by(f32::total_cmp);
                        f[f.len() / 2]
                    }
                );
                models.push((name.clone(), m));
            }
            let mut nearest = Collected::default();
            let mut surf: Vec<Collected> = models.iter().map(|_| Collected::default()).collect();
            let (mut reg_ms, mut reg_n, mut near_ms, mut score_ms, mut n_pts) =
                (0.0, 0, 0.0, vec![0.0; models.len()], 0usize);
            let mut unregistered = 0;
            for sample in &cat.test {
                let cloud = load_test_points(sample)?;
                let placed: Vec<[f32; 3]> = cloud
                    .points
                    .iter()
                    .map(|&p| training.frame.to_training(p))
                    .collect();
                // Keyed by the file's size too, so regenerated data is not mixed up.
                let bytes = std::fs::metadata(&sample.path).map_or(0, |m| m.len());
                let cache = cache_root
                    .join(&track)
                    .join(&part)
                    .join(format!("{}-{bytes}.json", sample.name));
                let (r, ms) = cached_registration(&cache, &placed, &training.target, &reg)?;
                if ms.is_finite() {
                    reg_ms += ms;
                    reg_n += 1;
                }
                unregistered += usize::from(!r.registered);
                let placed: Vec<[f32; 3]> = placed.iter().map(|&p| r.apply(p)).collect();
                n_pts += placed.len();
                let labels = cloud.labels.as_deref();
                let t0 = Instant::now();
                let d: Vec<f32> = placed
                    .par_iter()
                    .map(|&p| training.pooled_tree.nearest(p).1.sqrt())
                    .collect();
                let obj = top_mean(&d, 0.01);
                near_ms += t0.elapsed().as_secs_f64() * 1e3;
                nearest.push(&sample.defect, sample.anomalous, labels, &d, obj);
                for (k, (_, m)) in models.iter().enumerate() {
                    let t0 = Instant::now();
                    let s = m.score(&placed)?;
                    score_ms[k] += t0.elapsed().as_secs_f64() * 1e3;
                    if let Ok(dir) = std::env::var("SURF_DUMP") {
                        // x y z label signed z gap point, one row per scan point.
                        let f = PathBuf::from(dir).join(format!(
                            "{track}-{part}-{}-{name}.csv",
                            sample.name.replace(&format!("{part}_"), ""),
                            name = models[k].0
                        ));
                        let mut out = String::from("x,y,z,label,signed,zscore,gap,point\n");
                        for (i, p) in placed.iter().enumerate() {
                            let l = labels.map_or(0.0, |l| l[i] as f32);
                            out.push_str(&format!(
                                "{},{},{},{},{},{},{},{}\n",
                                p[0], p[1], p[2], l, s.signed[i], s.z[i], s.gap[i], s.point[i]
                            ));
                        }
                        std::fs::write(&f, out).map_err(|e| po3ad_core::Error::io(&f, e))?;
                    }
                    if std::env::var("SURF_DEBUG").is_ok() {
                        println!(
                            "  {} {:<10} obj {:7.2} top1% {:7.2} gap {:6.2} miss {:5} exp {:6} noise {:.5} s {:.4} view {:?} fit {:.3} rmse {:.4}",
                            sample.name,
                            sample.defect,
                            s.object,
                            {
                                let mut p = s.point.clone();
                                p.sort_by(|a, b| b.total_cmp(a));
                                p[..(p.len() / 100).max(1)].iter().sum::<f32>() / (p.len() / 100).max(1) as f32
                            },
                            s.max_gap_z,
                            s.missing_nodes,
                            s.expected_nodes,
                            s.noise_sigma,
                            s.scan_spacing,
                            s.view.map(|v| v.map(|x| (x * 100.0).round() / 100.0)),
                            r.fitness,
                            r.inlier_rmse
                        );
                    }
                    surf[k].push(
                        &sample.defect,
                        sample.anomalous,
                        labels,
                        &s.point,
                        f64::from(s.object),
                    );
                }
            }
            let n = cat.test.len() as f64;
            print!(
                "{part}: {} scans, {:.0} points each, {unregistered} unregistered; ms/scan: \
                 register {}, nearest {:.0}",
                cat.test.len(),
                n_pts as f64 / n,
                if reg_n > 0 {
                    format!("{:.0}", reg_ms / reg_n as f64)
                } else {
                    "cached".into()
                },
                near_ms / n
            );
            for (k, (name, _)) in models.iter().enumerate() {
                print!(", {name} {:.0}", score_ms[k] / n);
            }
            println!();
            let mut record = |name: &str, c: &Collected| {
                let m = c.metrics();
                println!(
                    "  {name:<14} object AUROC {:.4} AP {:.4} | point AUROC {:.4} AP {:.4}",
                    m[0], m[1], m[2], m[3]
                );
                res.rows
                    .entry(name.to_string())
                    .or_default()
                    .insert(part.clone(), m);
                let kinds = res.kinds.entry(name.to_string()).or_default();
                for (k, v) in c.per_kind() {
                    kinds.entry(k).or_default().push(v);
                }
            };
            record("nearest", &nearest);
            for (k, (name, _)) in models.iter().enumerate() {
                record(name, &surf[k]);
            }
            if timed_30k.insert(part.clone()) {
                time_30k(&part, &cat.train[0], &training, &models[0].1, &reg)?;
            }
        }
        summary.push((track, res));
    }
    println!("\n## mean over parts: object AUROC / AP | point AUROC / AP");
    for (track, res) in &summary {
        for (det, parts) in &res.rows {
            let n = parts.len() as f64;
            let mean: Vec<f64> = (0..4)
                .map(|j| parts.values().map(|m| m[j]).sum::<f64>() / n)
                .collect();
            println!(
                "| {track} | {det} | {:.4} | {:.4} | {:.4} | {:.4} |",
                mean[0], mean[2], mean[1], mean[3]
            );
        }
    }
    println!("\n## object AUROC per defect kind (mean over parts)");
    for (track, res) in &summary {
        for (det, kinds) in &res.kinds {
            let cells: Vec<String> = kinds
                .iter()
                .map(|(k, v)| format!("{k} {:.3}", v.iter().sum::<f64>() / v.len() as f64))
                .collect();
            println!("| {track} | {det} | {} |", cells.join(" | "));
        }
    }
    Ok(())
}

/// Time registration + scoring of one 30k-point scan (a fresh sample of the part's
/// first training mesh in a random pose), nearest and surface side by side; median of
/// five runs each. The template's near-symmetries are found first, as `po3ad` does
/// when it loads a model (once per model, not per scan).
fn time_30k(
    part: &str,
    mesh_path: &Path,
    training: &Training,
    model: &SurfaceModel,
    reg: &RegistrationConfig,
) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mesh = io::read(mesh_path)?;
    if !mesh.is_mesh() {
        return Ok(());
    }
    let scan = sample_surface(&mesh, 30_000, &mut rng)?;
    let pose = synth::random_pose(180.0, 0.5, &mut rng);
    let moved: Vec<[f32; 3]> = scan
        .points
        .iter()
        .map(|&p| pose.apply(training.frame.to_training(p)))
        .collect();
    if reg.near_symmetries {
        training.target.near_symmetry_count();
    }
    let reps = 5;
    let (mut t_reg, mut t_near, mut t_surf) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t0 = Instant::now();
        let r = register(&moved, &training.target, reg)?;
        let placed: Vec<[f32; 3]> = moved.iter().map(|&p| r.apply(p)).collect();
        t_reg.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let d: Vec<f32> = placed
            .par_iter()
            .map(|&p| training.pooled_tree.nearest(p).1.sqrt())
            .collect();
        std::hint::black_box(top_mean(&d, 0.01));
        t_near.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        std::hint::black_box(model.score(&placed)?);
        t_surf.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let total: Vec<f64> = t_reg.iter().zip(&t_surf).map(|(a, b)| a + b).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "30k-point scan ({part}), {} threads, median of {reps}: register {:.0} ms, nearest \
         scoring {:.0} ms, surface scoring {:.0} ms (register + surface {:.0} ms)",
        rayon::current_num_threads(),
        median(t_reg),
        median(t_near),
        median(t_surf),
        median(total)
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let out = PathBuf::from(args.get(2).expect("gen OUT [MESH_DIR] [hard]"));
            let meshes = PathBuf::from(
                args.get(3)
                    .filter(|a| *a != "hard")
                    .map_or("../shared/data/meshes", String::as_str),
            );
            let hard = args.iter().any(|a| a == "hard");
            gen(&out, &meshes, hard)
        }
        Some(root) => bench(Path::new(root)),
        None => {
            eprintln!("usage: surface_bench gen OUT [MESH_DIR] [hard] | surface_bench ROOT");
            Ok(())
        }
    }
}
