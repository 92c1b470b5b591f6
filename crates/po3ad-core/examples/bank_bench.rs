//! The memory-bank detectors (`po3ad_core::membank`) beside the nearest-template
//! baseline on the dev benchmark's five tracks.
//!
//! ```text
//! cargo run --release -p po3ad-core --example bank_bench -- [--root DIR] [--synth DIR]
//!     [--tracks aligned,free,partial,partial-free,hard] [--parts a,b] [--kinds k1,k2]
//!     [--index auto|tree|brute] [--voxel V] [--radius R] [--radii R1,R2,R3]
//! ```
//!
//! `--root` holds `data-aligned`, `data-free` (anomaly-shapenet layout), `data-partial`,
//! `data-partial-free`, `data-hard` (real3d layout), as `scripts/dev-benchmark.sh` writes
//! them; `--synth DIR` first writes a small built-in benchmark there in that shape.
//! Kinds: `nearest` (distance to the nearest pooled training point, object score = mean
//! of the top 1 %), `btf-raw`, `btf-fpfh`, `patchcore`, `reg-bank`, the `-ms` variants
//! of the FPFH kinds (multi-scale, `--radii`), and any of them with `@top` appended
//! (object score = mean of the top 1 % of point scores instead of the maximum).
//!
//! Frames: training meshes are surface-sampled (30k points), each normalised to the
//! unit sphere and ICP-aligned to the first (as the nearest detector does); that first
//! template's normalisation is the training frame. Every scan is moved into the frame's
//! units (`TrainingFrame::to_training`); the pose-dependent kinds (nearest, btf-raw,
//! reg-bank) then score it registered onto the template (`registration::register`, on
//! every track, as `--frame auto` does); the FPFH kinds score it unregistered. Each
//! part is fitted once and the detector reused on every track (the tracks share their
//! templates).
//!
//! Prints, per track: per part and mean object / point AUROC and AP, object AUROC per
//! defect kind; per part: fit time, and the score time of a 30k-point scan (surface
//! samples of the first template).

use po3ad_core::dataset::{list_categories, load_category, load_test_points, Layout};
use po3ad_core::features::DescriptorConfig;
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::{
    center_shift, ensure_normals, normalize_unit_sphere, sample_surface, voxel_downsample, KdTree,
};
use po3ad_core::membank::{BankConfig, BtfFpfh, BtfRaw, IndexKind, PatchCore, RegBank};
use po3ad_core::metrics::{average_precision, roc_auc};
use po3ad_core::registration::{
    refine, register, Registration, RegistrationConfig, RegistrationTarget,
};
use po3ad_core::synth::{write_builtin_benchmark, SynthConfig, SynthLayout};
use po3ad_core::{io, PointCloud, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const TRACKS: [(&str, &str, Layout); 5] = [
    ("aligned", "data-aligned", Layout::AnomalyShapeNet),
    ("free", "data-free", Layout::AnomalyShapeNet),
    ("partial", "data-partial", Layout::Real3d),
    ("partial-free", "data-partial-free", Layout::Real3d),
    ("hard", "data-hard", Layout::Real3d),
];
const ALL_KINDS: [&str; 8] = [
    "nearest",
    "btf-raw",
    "btf-fpfh",
    "patchcore",
    "reg-bank",
    "btf-fpfh-ms",
    "patchcore-ms",
    "reg-bank-ms",
];

struct Args {
    root: PathBuf,
    synth: bool,
    tracks: Vec<String>,
    parts: Vec<String>,
    kinds: Vec<String>,
    cfg: BankConfig,
    radii_ms: Vec<f32>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn floats(s: &str) -> Vec<f32> {
    s.split(',').filter_map(|x| x.parse().ok()).collect()
}

fn parse_args() -> Args {
    let mut a = Args {
        root: PathBuf::from("/work/devdata"),
        synth: false,
        tracks: TRACKS.iter().map(|t| t.0.to_string()).collect(),
        parts: Vec::new(),
        kinds: ALL_KINDS.iter().map(|k| k.to_string()).collect(),
        cfg: BankConfig::default(),
        radii_ms: vec![0.12, 0.2, 0.32],
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--root" => a.root = PathBuf::from(&v),
            "--synth" => {
                a.root = PathBuf::from(&v);
                a.synth = true;
            }
            "--tracks" => a.tracks = list(&v),
            "--parts" => a.parts = list(&v),
            "--kinds" => a.kinds = list(&v),
            "--index" => {
                a.cfg.index = match v.as_str() {
                    "brute" => IndexKind::Brute,
                    "tree" => IndexKind::Tree,
                    _ => IndexKind::Auto,
                }
            }
            "--voxel" => a.cfg.descriptor.voxel = v.parse().expect("--voxel: a number"),
            "--radius" => a.cfg.descriptor.radii = vec![v.parse().expect("--radius: a number")],
            "--radii" => a.radii_ms = floats(&v),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn write_synth(root: &Path) -> Result<()> {
    let base = SynthConfig {
        n_good: 4,
        n_per_defect: 1,
        n_test_points: 12_000,
        template_min_vertices: 4000,
        ..SynthConfig::default()
    };
    let shapes = ["bottle", "gear"];
    for (_, dir, layout) in TRACKS {
        let mut cfg = base.clone();
        let hard = dir.ends_with("hard");
        cfg.partial = dir.contains("partial") || hard;
        cfg.test_pose_deg = if dir.ends_with("free") || hard {
            180.0
        } else {
            0.0
        };
        let l = if layout == Layout::Real3d {
            SynthLayout::Real3d
        } else {
            SynthLayout::AnomalyShapeNet
        };
        write_builtin_benchmark(&root.join(dir), l, &cfg, &shapes)?;
    }
    Ok(())
}

/// The training clouds in the training frame (with normals), the frame, and the
/// registration target built from it.
struct Training {
    clouds: Vec<PointCloud>,
    frame: TrainingFrame,
    target: RegistrationTarget,
    /// Pooled points for the nearest baseline (voxel 0.004, as the nearest detector).
    pooled: Vec<[f32; 3]>,
}

fn prepare_training(files: &[PathBuf], reg: &RegistrationConfig) -> Result<Training> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut prepared = Vec::new();
    for f in files {
        let mut c = io::read(f)?;
        if c.is_mesh() {
            c = sample_surface(&c, 30_000, &mut rng)?;
        }
        ensure_normals(&mut c, 16)?;
        c.faces.clear();
        c.labels = None;
        let shift = center_shift(&mut c);
        prepared.push((c, shift));
    }
    let frame = TrainingFrame::from_centered(&prepared[0].0, prepared[0].1)?;
    let target = RegistrationTarget::new(&frame.points, &frame.normals, reg)?;
    let mut clouds = Vec::new();
    for (i, (c, _)) in prepared.into_iter().enumerate() {
        let mut c = c;
        normalize_unit_sphere(&mut c)?;
        if i > 0 {
            let r = refine(&c.points, &target, &Registration::identity(), reg)?;
            if r.fitness >= reg.min_fitness {
                for p in &mut c.points {
                    *p = r.apply(*p);
                }
                if let Some(n) = &mut c.normals {
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
        clouds,
        frame,
        target,
        pooled,
    })
}

enum Detector {
    /// `KIND@top` beside `KIND`: the object score of detector `.0`'s point scores by
    /// the top-1 % rule (no second scoring).
    TopOf(usize),
    Nearest(KdTree),
    Raw(BtfRaw),
    Fpfh(BtfFpfh),
    Patch(PatchCore),
    Reg(RegBank),
}

impl Detector {
    fn pose_dependent(&self) -> bool {
        matches!(
            self,
            Detector::Nearest(_) | Detector::Raw(_) | Detector::Reg(_)
        )
    }

    fn score(&self, scan: &[[f32; 3]]) -> Result<(Vec<f32>, f32)> {
        match self {
            Detector::TopOf(_) => unreachable!("derived from another detector's scores"),
            Detector::Nearest(t) => {
                let s: Vec<f32> = scan.par_iter().map(|&p| t.nearest(p).1.sqrt()).collect();
                let o = po3ad_core::membank::ObjectScore::TopMean { fraction: 0.01 }.apply(&s);
                Ok((s, o))
            }
            Detector::Raw(d) => d.score(scan),
            Detector::Fpfh(d) => d.score(scan),
            Detector::Patch(d) => d.score(scan),
            Detector::Reg(d) => d.score(scan),
        }
    }

    fn size(&self) -> usize {
        match self {
            Detector::TopOf(_) => 0,
            Detector::Nearest(t) => t.len(),
            Detector::Raw(d) => d.len(),
            Detector::Fpfh(d) => d.len(),
            Detector::Patch(d) => d.len(),
            Detector::Reg(d) => d.len(),
        }
    }
}

fn fit(kind: &str, t: &Training, a: &Args) -> Result<Detector> {
    let mut cfg = a.cfg.clone();
    let kind = match kind.strip_suffix("@top") {
        Some(k) => {
            cfg.object = po3ad_core::membank::ObjectScore::TopMean { fraction: 0.01 };
            k
        }
        None => kind,
    };
    if kind.ends_with("-ms") {
        cfg.descriptor = DescriptorConfig {
            radii: a.radii_ms.clone(),
            ..cfg.descriptor
        };
    }
    let c = &t.clouds;
    Ok(match kind.trim_end_matches("-ms") {
        "nearest" => Detector::Nearest(KdTree::new(&t.pooled)),
        "btf-raw" => Detector::Raw(BtfRaw::fit(c, &cfg)?),
        "btf-fpfh" => Detector::Fpfh(BtfFpfh::fit(c, &cfg)?),
        "patchcore" => Detector::Patch(PatchCore::fit(c, &cfg)?),
        "reg-bank" => Detector::Reg(RegBank::fit(c, &cfg)?),
        other => panic!("unknown kind {other}"),
    })
}

#[derive(Default)]
struct Collected {
    /// (anomalous, defect, object score)
    objects: Vec<(bool, String, f32)>,
    point_labels: Vec<bool>,
    point_scores: Vec<f64>,
}

struct Row {
    obj_auroc: f64,
    obj_ap: f64,
    pt_auroc: f64,
    pt_ap: f64,
    per_defect: BTreeMap<String, f64>,
}

fn summarise(c: &Collected) -> Row {
    let labels: Vec<bool> = c.objects.iter().map(|o| o.0).collect();
    let scores: Vec<f64> = c.objects.iter().map(|o| o.2 as f64).collect();
    let nan = f64::NAN;
    let mut per_defect = BTreeMap::new();
    let defects: std::collections::BTreeSet<&String> =
        c.objects.iter().filter(|o| o.0).map(|o| &o.1).collect();
    for d in defects {
        let sel: Vec<&(bool, String, f32)> =
            c.objects.iter().filter(|o| !o.0 || &o.1 == d).collect();
        let l: Vec<bool> = sel.iter().map(|o| o.0).collect();
        let s: Vec<f64> = sel.iter().map(|o| o.2 as f64).collect();
        per_defect.insert(d.clone(), roc_auc(&l, &s).unwrap_or(nan));
    }
    Row {
        obj_auroc: roc_auc(&labels, &scores).unwrap_or(nan),
        obj_ap: average_precision(&labels, &scores).unwrap_or(nan),
        pt_auroc: roc_auc(&c.point_labels, &c.point_scores).unwrap_or(nan),
        pt_ap: average_precision(&c.point_labels, &c.point_scores).unwrap_or(nan),
        per_defect,
    }
}

fn main() -> Result<()> {
    let a = parse_args();
    if a.synth {
        write_synth(&a.root)?;
    }
    let reg = RegistrationConfig::default();
    println!(
        "config: voxel {} radius {:?} multi-scale radii {:?} index {:?} threads {}",
        a.cfg.descriptor.voxel,
        a.cfg.descriptor.radii,
        a.radii_ms,
        a.cfg.index,
        rayon::current_num_threads()
    );
    let first_track = TRACKS
        .iter()
        .find(|t| a.tracks.iter().any(|x| x == t.0))
        .expect("at least one known track");
    let mut parts = list_categories(first_track.2, &a.root.join(first_track.1))?;
    if !a.parts.is_empty() {
        parts.retain(|p| a.parts.contains(p));
    }
    // results[track][kind][part] = Row
    let mut results: BTreeMap<String, BTreeMap<String, BTreeMap<String, Row>>> = BTreeMap::new();
    for part in &parts {
        let cat = load_category(first_track.2, &a.root.join(first_track.1), part)?;
        let t0 = Instant::now();
        let training = prepare_training(&cat.train, &reg)?;
        println!(
            "\n## {part}: {} training clouds prepared in {:.1} s",
            training.clouds.len(),
            t0.elapsed().as_secs_f64()
        );
        // A 30k-point scan for timing: fresh surface samples of the first template.
        let timing_scan = {
            let mut m = io::read(&cat.train[0])?;
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            if m.is_mesh() {
                m = sample_surface(&m, 30_000, &mut rng)?;
            }
            m.points
                .iter()
                .map(|&p| training.frame.to_training(p))
                .collect::<Vec<_>>()
        };
        let mut detectors: Vec<(String, Detector)> = Vec::new();
        for kind in &a.kinds {
            if let Some(base) = kind.strip_suffix("@top") {
                if let Some(i) = detectors.iter().position(|d| d.0 == base) {
                    detectors.push((kind.clone(), Detector::TopOf(i)));
                    continue;
                }
            }
            let t0 = Instant::now();
            let d = fit(kind, &training, &a)?;
            let fit_s = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let (ps, _) = d.score(&timing_scan)?;
            let score_s = t1.elapsed().as_secs_f64();
            println!(
                "fit {kind:13} {fit_s:6.2} s  bank {:6}  score 30k-point scan {score_s:5.3} s ({} scores)",
                d.size(),
                ps.len()
            );
            detectors.push((kind.clone(), d));
        }
        for (tname, dir, layout) in TRACKS {
            if !a.tracks.iter().any(|x| x == tname) {
                continue;
            }
            let cat = load_category(layout, &a.root.join(dir), part)?;
            let mut collected: Vec<Collected> =
                detectors.iter().map(|_| Collected::default()).collect();
            let mut unregistered = 0;
            let t0 = Instant::now();
            for s in &cat.test {
                let cloud = load_test_points(s)?;
                let fixed: Vec<[f32; 3]> = cloud
                    .points
                    .iter()
                    .map(|&p| training.frame.to_training(p))
                    .collect();
                let r = register(&fixed, &training.target, &reg)?;
                if !r.registered {
                    unregistered += 1;
                }
                let placed: Vec<[f32; 3]> = fixed.iter().map(|&p| r.apply(p)).collect();
                let mut scored: Vec<Vec<f32>> = Vec::new();
                for (k, (_, d)) in detectors.iter().enumerate() {
                    let scan = if d.pose_dependent() { &placed } else { &fixed };
                    let (ps, os) = match d {
                        Detector::TopOf(i) => {
                            let ps = scored[*i].clone();
                            let os = po3ad_core::membank::ObjectScore::TopMean { fraction: 0.01 }
                                .apply(&ps);
                            (ps, os)
                        }
                        _ => d.score(scan)?,
                    };
                    scored.push(ps.clone());
                    let c = &mut collected[k];
                    c.objects.push((s.anomalous, s.defect.clone(), os));
                    if let Some(l) = &cloud.labels {
                        c.point_labels.extend(l.iter().map(|&x| x != 0));
                        c.point_scores.extend(ps.iter().map(|&x| x as f64));
                    }
                }
            }
            println!(
                "track {tname}: {} scans ({unregistered} not registered) in {:.1} s",
                cat.test.len(),
                t0.elapsed().as_secs_f64()
            );
            for (k, (kind, _)) in detectors.iter().enumerate() {
                let row = summarise(&collected[k]);
                println!(
                    "  {kind:13} object AUROC {:.4} AP {:.4} | point AUROC {:.4} AP {:.4} | per defect {}",
                    row.obj_auroc,
                    row.obj_ap,
                    row.pt_auroc,
                    row.pt_ap,
                    row.per_defect
                        .iter()
                        .map(|(d, v)| format!("{d} {v:.3}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                results
                    .entry(tname.to_string())
                    .or_default()
                    .entry(kind.clone())
                    .or_default()
                    .insert(part.clone(), row);
            }
        }
    }
    println!(
        "\n# Means over {} parts (object AUROC / point AUROC, object AP / point AP)",
        parts.len()
    );
    for (track, kinds) in &results {
        println!("\n### {track}\n\n| kind | object AUROC | point AUROC | object AP | point AP | object AUROC per defect |\n|---|---|---|---|---|---|");
        for kind in &a.kinds {
            let Some(rows) = kinds.get(kind) else {
                continue;
            };
            let m = |f: fn(&Row) -> f64| rows.values().map(f).sum::<f64>() / rows.len() as f64;
            let mut defects: BTreeMap<String, (f64, usize)> = BTreeMap::new();
            for r in rows.values() {
                for (d, v) in &r.per_defect {
                    let e = defects.entry(d.clone()).or_default();
                    e.0 += v;
                    e.1 += 1;
                }
            }
            println!(
                "| {kind} | {:.4} | {:.4} | {:.4} | {:.4} | {} |",
                m(|r| r.obj_auroc),
                m(|r| r.pt_auroc),
                m(|r| r.obj_ap),
                m(|r| r.pt_ap),
                defects
                    .iter()
                    .map(|(d, (s, n))| format!("{d} {:.3}", s / *n as f64))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}
