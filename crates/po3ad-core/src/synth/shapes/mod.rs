//! Built-in procedural meshes for the demo benchmark: indexed triangle meshes (as
//! [`PointCloud`] with faces), closed, with outward winding. Sizes are arbitrary (about
//! one unit); [`super::benchmark`] normalizes every mesh to the unit sphere anyway.

mod extrude;
mod revolve;

use super::mesh_check::signed_volume;
use crate::PointCloud;

/// Names accepted by [`builtin`].
pub const BUILTIN_SHAPES: &[&str] = &["vase", "bottle", "cup", "bowl", "plate", "gear"];

/// The built-in mesh called `name`, or `None` for an unknown name.
///
/// - `vase`, `cup`, `bowl`: open vessels with a 0.03-unit wall (closed surfaces).
/// - `bottle`: a closed solid with shoulder, neck and lip.
/// - `plate`: a flat plate with six through holes.
/// - `gear`: a 14-tooth spur gear with a bore.
pub fn builtin(name: &str) -> Option<PointCloud> {
    Some(match name {
        "vase" => revolve::vase(),
        "bottle" => revolve::bottle(),
        "cup" => revolve::cup(),
        "bowl" => revolve::bowl(),
        "plate" => extrude::plate(),
        "gear" => extrude::gear(),
        _ => return None,
    })
}

/// Flip every face if the enclosed volume comes out negative, so normals point out.
/// The builders make consistently wound surfaces; only the global sign is unknown.
fn orient_outward(mesh: &mut PointCloud) {
    if signed_volume(mesh) < 0.0 {
        for f in &mut mesh.faces {
            f.swap(1, 2);
        }
    }
}

/// Resample a 2D polyline at (about) spacing `ds` by arc length, keeping both ends
/// exactly.
fn resample(line: &[[f32; 2]], ds: f32) -> Vec<[f32; 2]> {
    let mut cum = vec![0.0f32];
    for w in line.windows(2) {
        let d = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
        cum.push(cum[cum.len() - 1] + d);
    }
    let total = cum[cum.len() - 1];
    let n = ((total / ds).ceil() as usize).max(1);
    let mut out = Vec::with_capacity(n + 1);
    let mut seg = 0;
    for i in 0..=n {
        if i == n {
            out.push(line[line.len() - 1]);
            break;
        }
        let s = total * i as f32 / n as f32;
        while seg + 2 < cum.len() && cum[seg + 1] < s {
            seg += 1;
        }
        let len = cum[seg + 1] - cum[seg];
        let t = if len > 0.0 { (s - cum[seg]) / len } else { 0.0 };
        let (a, b) = (line[seg], line[seg + 1]);
        out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
    }
    out
}
