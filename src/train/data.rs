//! Preparing training samples: read each normal file once, give it normals (from faces
//! for meshes, PCA for raw scans), CenterShift it; then per step, rotate, normalize and
//! apply Norm-AS to a fresh copy.

use super::preset::{TrainConfig, TrainViews};
use po3ad_core::geometry::KdTree;
use po3ad_core::geometry::{
    center_shift, ensure_normals, normalize_unit_sphere, random_train_rotation_within,
    sample_surface,
};
use po3ad_core::pseudo::{norm_as, NormAsConfig};
use po3ad_core::synth::scan::{partial_scan, random_view};
use po3ad_core::{io, PointCloud};
use rand::Rng;
use std::path::{Path, PathBuf};

/// Fewest points a one-sided training view keeps; a smaller one stays whole.
const MIN_VIEW_POINTS: usize = 256;

/// Median nearest-neighbour distance over (at most) 256 evenly strided points: the
/// sample spacing the hidden-point removal's depth buffer is sized by.
fn median_spacing(points: &[[f32; 3]]) -> f32 {
    let tree = KdTree::new(points);
    let step = points.len().div_ceil(256).max(1);
    let mut d: Vec<f32> = points
        .iter()
        .step_by(step)
        .filter_map(|&p| tree.knn(p, 2).get(1).map(|&(_, d2)| d2.sqrt()))
        .filter(|d| *d > 0.0)
        .collect();
    if d.is_empty() {
        return 1e-2;
    }
    let mid = d.len() / 2;
    d.select_nth_unstable_by(mid, f32::total_cmp);
    d[mid]
}

/// One normal training cloud, centre-shifted, with unit normals.
#[derive(Debug, Clone)]
pub struct TrainSample {
    pub source: PathBuf,
    pub cloud: PointCloud,
    /// The CenterShift that was subtracted from the file's coordinates (so the model
    /// can record the training frame, see `po3ad_core::frame`).
    pub shift: [f32; 3],
}

/// Turn a loaded file into a training cloud (see module doc), returned with the
/// CenterShift it was moved by. Meshes with fewer
/// vertices than `min_template_points` are resampled on their surface: the vertices of
/// a coarse CAD mesh are too few and too unevenly spread to train on.
pub fn prepare_training_cloud<R: Rng>(
    mut cloud: PointCloud,
    cfg: &TrainConfig,
    rng: &mut R,
) -> po3ad_core::Result<(PointCloud, [f32; 3])> {
    if cloud.is_mesh() && cfg.surface_points > 0 {
        cloud = sample_surface(&cloud, cfg.surface_points, rng)?;
    } else if cloud.is_mesh() && cloud.len() < cfg.min_template_points {
        cloud = sample_surface(&cloud, cfg.min_template_points, rng)?;
    }
    ensure_normals(&mut cloud, cfg.normal_k)?;
    cloud.faces.clear();
    cloud.labels = None;
    let shift = center_shift(&mut cloud);
    Ok((cloud, shift))
}

pub fn load_training_set<R: Rng>(
    files: &[PathBuf],
    cfg: &TrainConfig,
    rng: &mut R,
) -> po3ad_core::Result<Vec<TrainSample>> {
    if files.is_empty() {
        return Err(po3ad_core::Error::Invalid(
            "no training files were found".into(),
        ));
    }
    files
        .iter()
        .map(|f| {
            let (cloud, shift) = prepare_training_cloud(io::read(f)?, cfg, rng)?;
            Ok(TrainSample {
                source: f.clone(),
                cloud,
                shift,
            })
        })
        .collect()
}

/// A pseudo-anomalous training view: displaced points and the target offsets.
pub struct TrainView {
    pub points: Vec<[f32; 3]>,
    pub offsets: Vec<[f32; 3]>,
}

/// `rotate_deg`: `None` for no rotation, else the largest angle of each of the three.
/// `views`: see [`TrainConfig::views`](super::preset::TrainConfig::views).
pub fn make_view<R: Rng>(
    sample: &PointCloud,
    rotate_deg: Option<f32>,
    views: TrainViews,
    norm_as_cfg: &NormAsConfig,
    rng: &mut R,
) -> po3ad_core::Result<TrainView> {
    let mut cloud = sample.clone();
    if let Some(deg) = rotate_deg {
        // Exactly π at 180°, so SPEC's full rotation draws what it always drew.
        let max = if deg >= 180.0 {
            std::f32::consts::PI
        } else {
            deg.to_radians()
        };
        random_train_rotation_within(&mut cloud, max, rng);
    }
    normalize_unit_sphere(&mut cloud)?;
    if views == TrainViews::OneSided {
        let view = random_view(None, rng);
        let visible = partial_scan(&cloud, view, median_spacing(&cloud.points))?;
        // A view that shows almost nothing (a thin part edge-on) teaches nothing.
        if visible.len() >= MIN_VIEW_POINTS.min(cloud.len()) {
            cloud = visible;
        }
    }
    let pa = norm_as(&cloud, norm_as_cfg, rng)?;
    Ok(TrainView {
        points: pa.points,
        offsets: pa.offsets,
    })
}

/// Files to train on from a single mesh/cloud path or a folder of them.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// `--train PATH`: the training files (the file itself, or every supported file in the
/// folder) and the part's name (the path's stem).
pub fn training_files(path: &Path) -> anyhow::Result<(Vec<PathBuf>, String)> {
    use anyhow::Context;
    let files = files_in(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("part")
        .to_string();
    Ok((files, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// `n` points spread evenly over the unit sphere, with outward normals.
    fn sphere(n: usize) -> PointCloud {
        let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
        let points: Vec<[f32; 3]> = (0..n)
            .map(|i| {
                let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
                let r = (1.0 - z * z).sqrt();
                let a = golden * i as f32;
                [r * a.cos(), r * a.sin(), z]
            })
            .collect();
        PointCloud {
            normals: Some(points.clone()),
            points,
            labels: None,
            faces: Vec::new(),
        }
    }

    #[test]
    fn a_one_sided_view_keeps_the_half_facing_the_scanner() {
        let cloud = sphere(4000);
        let norm_as = NormAsConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let whole = make_view(&cloud, None, TrainViews::Whole, &norm_as, &mut rng).unwrap();
        assert_eq!(whole.points.len(), 4000);
        for seed in 0..5 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let view = make_view(&cloud, None, TrainViews::OneSided, &norm_as, &mut rng).unwrap();
            // A sphere seen from far away shows its near hemisphere: half the points.
            let n = view.points.len();
            assert!((1700..=2300).contains(&n), "seed {seed}: {n} points");
            assert_eq!(view.offsets.len(), n);
        }
    }
}
