//! Heat maps of scored scans as files people open: a coloured PLY (any viewer), a PNG
//! (two views) and the data of the HTML report's 3D view, for `test`, `benchmark` and
//! `predict`; and the HTML report of a results folder.

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
    // The points (subsampled) and scores the HTML report's 3D view shows.
    po3ad_core::report::write_scan_view(dir, name, &cloud.points, scores)?;
    Ok(())
}

/// Write the HTML report of the results folder `dir` (`report.html`, or
/// `predictions.html` for a predict folder) and return its path; a report that cannot be
/// written is a warning, never a failed run (the results themselves are written).
pub fn write_report_or_warn(dir: &Path) -> Option<std::path::PathBuf> {
    match po3ad_core::report::write_report(dir) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("warning: no HTML report for {}: {e}", dir.display());
            None
        }
    }
}

/// Write the point-level curves of a test run (`curves.json`, read by the report); a
/// test set without both classes of points has none (a warning).
pub fn write_curves_or_warn(dir: &Path, curves: &po3ad_core::report::PointCurves) {
    if let Err(e) = curves.write(dir) {
        eprintln!("warning: no point curves for {}: {e}", dir.display());
    }
}
