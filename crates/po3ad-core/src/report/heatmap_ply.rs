//! Heat maps as coloured PLY files, for turning and zooming in a 3D viewer (MeshLab,
//! CloudCompare, Open3D): the cloud's points (and normals / faces when present), each
//! vertex coloured by its score with the same colour map as the PNG heat maps.

use super::colormap::{robust_range, score_colors};
use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Write `cloud` with per-vertex colours from `scores` as binary little-endian PLY
/// (atomically, through [`crate::io::write_ply`]). `range` is the score range mapped to
/// the colour map; `None` uses [`robust_range`]. Labels, if present, are kept.
pub fn write_heatmap_ply(
    path: &Path,
    cloud: &PointCloud,
    scores: &[f32],
    range: Option<(f32, f32)>,
) -> Result<()> {
    let colors = heatmap_colors(cloud, scores, range)?;
    crate::io::write_ply(path, cloud, Some(&colors), true)
}

/// [`write_heatmap_ply`]'s bytes without a file (for answers sent over the network).
pub fn encode_heatmap_ply(
    cloud: &PointCloud,
    scores: &[f32],
    range: Option<(f32, f32)>,
) -> Result<Vec<u8>> {
    let colors = heatmap_colors(cloud, scores, range)?;
    crate::io::encode_ply(cloud, Some(&colors), true)
}

fn heatmap_colors(
    cloud: &PointCloud,
    scores: &[f32],
    range: Option<(f32, f32)>,
) -> Result<Vec<[u8; 3]>> {
    if scores.len() != cloud.points.len() {
        return Err(Error::Invalid(format!(
            "heat map PLY: {} points but {} scores",
            cloud.points.len(),
            scores.len()
        )));
    }
    let (lo, hi) = range.unwrap_or_else(|| robust_range(scores));
    Ok(score_colors(scores, lo, hi))
}
