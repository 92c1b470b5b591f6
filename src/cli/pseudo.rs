//! `po3ad pseudo FILE --out x.ply`: one Norm-AS pseudo anomaly, coloured by offset
//! magnitude, so a person can see what the network trains on.

use crate::train::data::{make_view, prepare_training_cloud};
use crate::train::Preset;
use po3ad_core::pseudo::{Direction, NormAsVariant, PatchPool};
use po3ad_core::{io, PointCloud};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  po3ad pseudo part.stl --out pseudo.ply\n  po3ad pseudo scan.pcd --out p.ply --variant reference --patches 32 --seed 3\n  po3ad pseudo part.stl --out p.ply --preset paper --patch-pool first-half"
)]
pub struct PseudoArgs {
    /// A normal sample (mesh or cloud).
    pub file: PathBuf,
    /// Output PLY (a PNG with the same stem is written beside it).
    #[arg(long)]
    pub out: PathBuf,
    /// Preset whose Norm-AS settings are used: cpu, paper, tiny, or a TOML file.
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// paper (signed normals) or reference (|n|, first J/2 patches).
    #[arg(long)]
    pub variant: Option<String>,
    /// Move along a random direction instead of normals (Variant 3).
    #[arg(long)]
    pub random_direction: bool,
    /// Number of patches J.
    #[arg(long)]
    pub patches: Option<usize>,
    /// Which patches may be displaced: auto (as the variant says), all, first-half.
    #[arg(long)]
    pub patch_pool: Option<String>,
    /// Seed of the patch split and the displaced patch.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: PseudoArgs) -> anyhow::Result<()> {
    let mut preset = Preset::load(&args.preset)?;
    if let Some(v) = &args.variant {
        preset.norm_as.variant = match v.as_str() {
            "paper" => NormAsVariant::Paper,
            "reference" => NormAsVariant::Reference,
            _ => anyhow::bail!("--variant must be paper or reference, got '{v}'"),
        };
    }
    if args.random_direction {
        preset.norm_as.direction = Direction::Random;
    }
    if let Some(j) = args.patches {
        preset.norm_as.patches = j;
    }
    if let Some(p) = &args.patch_pool {
        preset.norm_as.patch_pool = match p.as_str() {
            "auto" => PatchPool::Auto,
            "all" => PatchPool::All,
            "first-half" => PatchPool::FirstHalf,
            _ => anyhow::bail!("--patch-pool must be auto, all or first-half, got '{p}'"),
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let (cloud, _) = prepare_training_cloud(io::read(&args.file)?, &preset.train, &mut rng)?;
    let view = make_view(&cloud, None, preset.train.views, &preset.norm_as, &mut rng)?;
    let mags: Vec<f32> = view
        .offsets
        .iter()
        .map(|o| (o[0] * o[0] + o[1] * o[1] + o[2] * o[2]).sqrt())
        .collect();
    let moved = mags.iter().filter(|&&m| m > 0.0).count();
    let out_cloud = PointCloud::from_points(view.points);
    let stem = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("pseudo")
        .to_string();
    let dir = args.out.parent().map(PathBuf::from).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    crate::eval::write_heatmaps(&dir, &stem, &out_cloud, &mags)?;
    println!(
        "{}: {} points, {} displaced (max offset {:.4}); wrote {} and {}",
        args.file.display(),
        mags.len(),
        moved,
        mags.iter().copied().fold(0.0f32, f32::max),
        dir.join(format!("{stem}.ply")).display(),
        dir.join(format!("{stem}.png")).display()
    );
    Ok(())
}
