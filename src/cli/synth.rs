//! `po3ad synth`: write a synthetic defect benchmark (training templates, normal and
//! defective test clouds with ground truth, a manifest) from meshes or built-in shapes.

use anyhow::{bail, Context};
use clap::Args;
use po3ad_core::synth::{self, DefectKind, SynthConfig, SynthLayout, BUILTIN_SHAPES};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  po3ad synth --mesh part.stl --out data/                         # Anomaly-ShapeNet layout
  po3ad synth --mesh part.stl --out data-free/ --pose random      # same clouds, free poses
  po3ad synth --mesh part.stl --out real/ --layout real3d --partial  # one-sided scans
  po3ad synth --builtin gear --out cell/ --scene      # part on a table with clutter, in mm
  po3ad synth --builtin all --out demo/")]
pub struct SynthArgs {
    /// Mesh file(s) to build categories from (STL, OBJ, PLY with faces). Repeatable.
    #[arg(long)]
    pub mesh: Vec<PathBuf>,
    /// Built-in shape(s): vase, bottle, cup, bowl, plate, gear, or `all`.
    /// Repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub builtin: Vec<String>,
    /// Output folder (the dataset root).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder layout: anomaly-shapenet or real3d.
    #[arg(long, default_value = "anomaly-shapenet")]
    pub layout: SynthLayout,
    /// Category name (with a single --mesh; default: the file stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Random seed; the same seed writes identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Training templates per category.
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Normal test clouds per category.
    #[arg(long)]
    pub n_good: Option<usize>,
    /// Anomalous test clouds per defect kind.
    #[arg(long)]
    pub n_per_defect: Option<usize>,
    /// Points sampled per test cloud.
    #[arg(long)]
    pub points: Option<usize>,
    /// Minimum vertices of a training template (meshes are subdivided up to it).
    #[arg(long)]
    pub template_vertices: Option<usize>,
    /// Defect kinds (comma-separated): bulge, concavity, crack, scratch, hole, broken.
    #[arg(long, value_delimiter = ',')]
    pub defects: Vec<DefectKind>,
    /// Severity range as `lo,hi` within [0, 1] (0 subtle, 1 obvious), e.g. 0.2,0.8.
    #[arg(long, value_delimiter = ',', num_args = 1..=2, allow_negative_numbers = true)]
    pub severity: Vec<f32>,
    /// Gaussian sensor noise sigma added to test points (unit-sphere units).
    #[arg(long)]
    pub noise: Option<f32>,
    /// One-sided test scans from a random viewpoint (Real3D-AD style).
    #[arg(long)]
    pub partial: bool,
    /// Pose of the test clouds: `canonical` (the training pose) or `random` (each test
    /// cloud and its GT rows turned and shifted by its own random rigid motion; the
    /// training templates stay canonical). The manifest records every pose.
    #[arg(long, default_value = "canonical", value_parser = ["canonical", "random"])]
    pub pose: String,
    /// With `--pose random`: largest rotation angle in degrees (180 = uniform over all
    /// rotations).
    #[arg(long, default_value_t = 180.0)]
    pub max_angle: f32,
    /// Test scans of the part in an inspection cell: any pose, resting on a table, with
    /// a fixture block and distractor objects, seen from above, one-sided, in mm
    /// (templates stay in their units, read as metres). GT labels background 0; the
    /// manifest's `scene.part_points` says how many leading points are the part.
    #[arg(long, conflicts_with_all = ["partial"])]
    pub scene: bool,
    /// With `--scene`: millimetres per template unit (ignored without it).
    #[arg(long, default_value_t = 1000.0)]
    pub scene_mm_per_unit: f32,
    /// With `--scene`: distractor objects on the table (ignored without it).
    #[arg(long, default_value_t = 2)]
    pub scene_distractors: usize,
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let mut cfg = SynthConfig {
        seed: args.seed,
        partial: args.partial,
        ..SynthConfig::default()
    };
    if args.pose == "random" {
        cfg.test_pose_deg = args.max_angle;
    }
    if args.scene {
        cfg.scene = Some(synth::SceneConfig {
            mm_per_unit: args.scene_mm_per_unit,
            distractors: args.scene_distractors,
            ..synth::SceneConfig::default()
        });
    }
    if let Some(v) = args.n_train {
        cfg.n_train = v;
    }
    if let Some(v) = args.n_good {
        cfg.n_good = v;
    }
    if let Some(v) = args.n_per_defect {
        cfg.n_per_defect = v;
    }
    if let Some(v) = args.points {
        cfg.n_test_points = v;
    }
    if let Some(v) = args.template_vertices {
        cfg.template_min_vertices = v;
    }
    if !args.defects.is_empty() {
        cfg.defects = args.defects.clone();
    }
    if !args.severity.is_empty() && args.severity.len() != 2 {
        bail!(
            "--severity takes two values, lo,hi (e.g. 0.2,0.8); got {}",
            args.severity.len()
        );
    }
    if let [lo, hi] = args.severity[..] {
        cfg.severity = [lo, hi];
    }
    if let Some(v) = args.noise {
        cfg.noise_sigma = v;
    }
    if args.mesh.is_empty() && args.builtin.is_empty() {
        bail!(
            "give --mesh FILE or --builtin NAME (built-in shapes: {})",
            BUILTIN_SHAPES.join(", ")
        );
    }
    if args.name.is_some() && args.mesh.len() + args.builtin.len() != 1 {
        bail!("--name needs exactly one --mesh or --builtin");
    }

    let mut jobs: Vec<(String, po3ad_core::PointCloud)> = Vec::new();
    for path in &args.mesh {
        let mesh = po3ad_core::io::read(path)
            .with_context(|| format!("reading mesh {}", path.display()))?;
        let name = match &args.name {
            Some(n) => n.clone(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .with_context(|| format!("{}: no file name", path.display()))?,
        };
        jobs.push((name, mesh));
    }
    let builtins: Vec<&str> = if args.builtin.iter().any(|b| b == "all") {
        BUILTIN_SHAPES.to_vec()
    } else {
        args.builtin.iter().map(String::as_str).collect()
    };
    for b in builtins {
        let mesh = synth::builtin(b).with_context(|| {
            format!(
                "unknown built-in shape '{b}' (known: {})",
                BUILTIN_SHAPES.join(", ")
            )
        })?;
        jobs.push((args.name.clone().unwrap_or_else(|| b.to_string()), mesh));
    }

    for (name, mesh) in &jobs {
        let m = synth::write_category(mesh, name, &args.out, args.layout, &cfg)
            .with_context(|| format!("category '{name}'"))?;
        let anomalous = m.tests.iter().filter(|t| t.defect.is_some()).count();
        let points: usize = m.tests.iter().map(|t| t.n_points).sum();
        println!(
            "{name}: {} templates ({} vertices each, about), {} test clouds ({} normal, {anomalous} anomalous, {} points on average); manifest {}",
            m.templates.len(),
            m.templates.first().map_or(0, |t| t.vertices),
            m.tests.len(),
            m.tests.len() - anomalous,
            points / m.tests.len().max(1),
            args.out.join(&m.manifest).display()
        );
    }
    println!(
        "wrote {} categor{} in the {} layout under {}",
        jobs.len(),
        if jobs.len() == 1 { "y" } else { "ies" },
        args.layout,
        args.out.display()
    );
    Ok(())
}
