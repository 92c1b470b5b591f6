//! Heat maps of scored scans as files people open: a coloured PLY (any viewer) and a
//! PNG (two views), for `test`, `benchmark` and `predict`.

use anyhow::Context;
use po3ad_core::report::{render_png, RenderOptions};
use po3ad_core::PointCloud;
use std::path::Path;

/// `<dir>/<name>.ply` (points coloured by score, with a `scalar_score`-free PLY any
/// viewer opens) and `<dir>/<name>.png`.
pub fn write_heatmaps(
    dir: &Path,
    name: &str,
    cloud: &PointCloud,
    scores: &[f32],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let plain = PointCloud {
        points: cloud.points.clone(),
        normals: cloud.normals.clone(),
        labels: None,
        faces: Vec::new(),
    };
    po3ad_core::report::write_heatmap_ply(&dir.join(format!("{name}.ply")), &plain, scores, None)?;
    let opts = RenderOptions {
        two_views: true,
        ..Default::default()
    };
    render_png(
        &dir.join(format!("{name}.png")),
        &cloud.points,
        scores,
        &opts,
    )?;
    Ok(())
}
