//! Preparing training samples: read each normal file once, give it normals (from faces
//! for meshes, PCA for raw scans), CenterShift it; then per step, rotate, normalize and
//! apply Norm-AS to a fresh copy.

use super::preset::TrainConfig;
use po3ad_core::geometry::{
    center_shift, ensure_normals, normalize_unit_sphere, random_train_rotation_within,
    sample_surface,
};
use po3ad_core::pseudo::{norm_as, NormAsConfig};
use po3ad_core::{io, PointCloud};
use rand::Rng;
use std::path::{Path, PathBuf};

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
pub fn make_view<R: Rng>(
    sample: &PointCloud,
    rotate_deg: Option<f32>,
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
