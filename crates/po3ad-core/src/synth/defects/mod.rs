//! Synthetic defects on a dense test cloud (points + normals, unit-sphere units), each
//! with exact per-point labels (1 = anomalous).
//!
//! A defect is made in two steps so that tests and manifests can name it exactly:
//! [`sample_defect`] draws a [`Defect`] (kind, severity, concrete [`DefectShape`]) for a
//! given cloud, and [`apply_defect`] applies a shape deterministically.
//!
//! Labelling rule: a point is anomalous when the defect moved it by more than
//! [`LABEL_THRESHOLD`], when it lies in the rim band left around removed material
//! (holes, breaks), or when it was added on a fracture face. Everything else is 0.
//!
//! The displacement profiles are deliberately unlike Norm-AS's training pseudo
//! anomalies (a linear `1 − w` cone on a kNN patch): bumps use a raised cosine over
//! Euclidean distance, grooves follow a curve, holes and breaks remove material.

mod broken;
mod bump;
mod groove;
mod hole;

use super::vec3::{normalize_or, V3};
use crate::{Error, PointCloud, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Points moved by more than this (unit-sphere units, i.e. 0.2 % of the radius) are
/// labelled anomalous; smaller moves at a bump's fringe are indistinguishable from
/// sensor noise and stay normal.
pub const LABEL_THRESHOLD: f32 = 0.002;

/// Normals within this cosine of the defect's own normal count as "the same side" of
/// the surface; it keeps a bump on the outside of a thin wall from pushing the inside.
const SAME_SIDE_COS: f32 = 0.3;

/// The defect types of Anomaly-ShapeNet / Real3D-AD that can be synthesized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefectKind {
    Bulge,
    Concavity,
    Crack,
    Scratch,
    Hole,
    Broken,
}

impl DefectKind {
    pub const ALL: [DefectKind; 6] = [
        DefectKind::Bulge,
        DefectKind::Concavity,
        DefectKind::Crack,
        DefectKind::Scratch,
        DefectKind::Hole,
        DefectKind::Broken,
    ];

    /// The name used in file names (`<cat>_<name><i>.pcd`) and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::Bulge => "bulge",
            DefectKind::Concavity => "concavity",
            DefectKind::Crack => "crack",
            DefectKind::Scratch => "scratch",
            DefectKind::Hole => "hole",
            DefectKind::Broken => "broken",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DefectKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        DefectKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = DefectKind::ALL.iter().map(|k| k.name()).collect();
                Error::Invalid(format!(
                    "unknown defect '{s}' (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// Cross-section of a groove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrooveProfile {
    /// Sharp V: depth falls linearly to zero at the half width (cracks).
    V,
    /// Rounded: raised cosine across the width (scratches).
    Round,
}

/// A concrete defect geometry, in the cloud's coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum DefectShape {
    /// Each point within `radius` (Euclidean) of `center` on the same side as `normal`
    /// moves along its own normal by `height · ½(1 + cos(π d / radius))`; negative
    /// `height` makes a concavity.
    Bump {
        center: V3,
        normal: V3,
        radius: f32,
        height: f32,
    },
    /// Points within `half_width` of the polyline `path` (same side as the normal at
    /// the nearest path vertex) sink along their normal by `depth · across · taper`,
    /// where `across` is the profile across the groove and `taper` fades the ends.
    Groove {
        path: Vec<V3>,
        path_normals: Vec<V3>,
        half_width: f32,
        depth: f32,
        profile: GrooveProfile,
    },
    /// Points within `radius` of `center` are removed; kept points within
    /// `radius + rim` are labelled.
    Hole { center: V3, radius: f32, rim: f32 },
    /// Points with `p · normal > offset` are removed; kept points with
    /// `p · normal > offset − rim` are labelled; if a mesh is given, the cut face is
    /// filled with points spaced `face_spacing`, labelled.
    Cut {
        normal: V3,
        offset: f32,
        rim: f32,
        face_spacing: f32,
    },
}

/// A drawn defect: what it is, how severe (0 subtle … 1 obvious) and its geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Defect {
    pub kind: DefectKind,
    pub severity: f32,
    /// A surface point the defect is centred on (for choosing a scan viewpoint).
    pub anchor: V3,
    /// The surface normal there.
    pub anchor_normal: V3,
    pub shape: DefectShape,
}

/// The defective cloud (labels set, normals kept) and what happened to it.
#[derive(Debug, Clone)]
pub struct DefectOutcome {
    pub cloud: PointCloud,
    pub n_removed: usize,
    pub n_added: usize,
    pub n_anomalous: usize,
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn normals(cloud: &PointCloud) -> Result<&[V3]> {
    match &cloud.normals {
        Some(n) if n.len() == cloud.points.len() => Ok(n),
        _ => Err(Error::Invalid(
            "defects need a cloud with one normal per point".into(),
        )),
    }
}

/// Draw a defect of `kind` at `severity` (clamped to `[0, 1]`) on `cloud`.
///
/// Sizes, in unit-sphere units, from severity 0 to 1:
/// bulge/concavity radius 0.08–0.20, height 0.02–0.08; crack length 0.20–0.50,
/// half width 0.012–0.024, depth 0.02–0.06; scratch length 0.30–0.70, half width
/// 0.008–0.016, depth 0.006–0.018; hole radius 0.05–0.15; broken: a cut removing
/// 6–20 % of the extent along the cut normal.
///
/// Lateral sizes are floored at multiples of the cloud's sample spacing (bump and hole
/// radius 2.5×, groove half width 1.5×, rims 1×) so that a defect always spans a few
/// samples: a groove narrower than the spacing would touch almost no point.
pub fn sample_defect<R: Rng>(
    kind: DefectKind,
    severity: f32,
    cloud: &PointCloud,
    rng: &mut R,
) -> Result<Defect> {
    let normals = normals(cloud)?;
    if cloud.points.len() < 16 {
        return Err(Error::Invalid(format!(
            "cloud of {} points is too small for a defect",
            cloud.points.len()
        )));
    }
    let s = severity.clamp(0.0, 1.0);
    let spacing = mean_spacing(cloud, rng);
    let i = rng.random_range(0..cloud.points.len());
    let (anchor, anchor_normal) = (cloud.points[i], normalize_or(normals[i], [0.0, 0.0, 1.0]));
    let shape = match kind {
        DefectKind::Bulge | DefectKind::Concavity => {
            let sign = if kind == DefectKind::Bulge { 1.0 } else { -1.0 };
            DefectShape::Bump {
                center: anchor,
                normal: anchor_normal,
                radius: lerp(0.08, 0.20, s).max(2.5 * spacing),
                height: sign * lerp(0.02, 0.08, s),
            }
        }
        DefectKind::Crack | DefectKind::Scratch => {
            let crack = kind == DefectKind::Crack;
            let (length, half_width, depth) = if crack {
                (
                    lerp(0.20, 0.50, s),
                    lerp(0.012, 0.024, s),
                    lerp(0.02, 0.06, s),
                )
            } else {
                (
                    lerp(0.30, 0.70, s),
                    lerp(0.008, 0.016, s),
                    lerp(0.006, 0.018, s),
                )
            };
            let (path, path_normals) = groove::draw_path(
                cloud,
                normals,
                anchor,
                anchor_normal,
                length,
                crack,
                spacing,
                rng,
            );
            DefectShape::Groove {
                path,
                path_normals,
                half_width: half_width.max(1.5 * spacing),
                depth,
                profile: if crack {
                    GrooveProfile::V
                } else {
                    GrooveProfile::Round
                },
            }
        }
        DefectKind::Hole => {
            let radius = lerp(0.05, 0.15, s).max(2.5 * spacing);
            DefectShape::Hole {
                center: anchor,
                radius,
                rim: (0.02 + 0.15 * radius).max(spacing),
            }
        }
        DefectKind::Broken => {
            let (normal, offset) = broken::draw_cut(cloud, lerp(0.06, 0.20, s), rng);
            // Anchor the break on the kept point nearest the removed tip, so a partial
            // scan can be aimed at it.
            return Ok(Defect {
                kind,
                severity: s,
                anchor: broken::anchor(cloud, normal, offset),
                anchor_normal: normal,
                shape: DefectShape::Cut {
                    normal,
                    offset,
                    rim: spacing.max(0.025),
                    face_spacing: spacing,
                },
            });
        }
    };
    Ok(Defect {
        kind,
        severity: s,
        anchor,
        anchor_normal,
        shape,
    })
}

/// Typical distance between neighbouring samples, `1 / sqrt(density)`: for uniform
/// random samples the mean nearest-neighbour distance is half of it. Estimated from
/// 64 random points by brute force (cheap, and needs no index).
fn mean_spacing<R: Rng>(cloud: &PointCloud, rng: &mut R) -> f32 {
    let n = cloud.points.len();
    let probes = 64.min(n);
    let mut total = 0.0f64;
    for _ in 0..probes {
        let i = rng.random_range(0..n);
        let p = cloud.points[i];
        let nearest = cloud
            .points
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, q)| super::vec3::dist2(p, *q))
            .fold(f32::INFINITY, f32::min);
        total += f64::from(nearest.sqrt());
    }
    (2.0 * total / probes as f64) as f32
}

/// Apply `shape` to `cloud` (which needs normals). `mesh` is the surface the cloud was
/// sampled from, used only to fill a cut face; without it a break leaves an open cut.
pub fn apply_defect(
    shape: &DefectShape,
    cloud: &PointCloud,
    mesh: Option<&PointCloud>,
) -> Result<DefectOutcome> {
    let normals = normals(cloud)?;
    let out = match shape {
        DefectShape::Bump {
            center,
            normal,
            radius,
            height,
        } => bump::apply(cloud, normals, *center, *normal, *radius, *height),
        DefectShape::Groove {
            path,
            path_normals,
            half_width,
            depth,
            profile,
        } => groove::apply(
            cloud,
            normals,
            path,
            path_normals,
            *half_width,
            *depth,
            *profile,
        )?,
        DefectShape::Hole {
            center,
            radius,
            rim,
        } => hole::apply(cloud, *center, *radius, *rim),
        DefectShape::Cut {
            normal,
            offset,
            rim,
            face_spacing,
        } => broken::apply(cloud, *normal, *offset, *rim, *face_spacing, mesh),
    };
    if out.cloud.points.is_empty() {
        return Err(Error::Invalid("the defect removed every point".into()));
    }
    Ok(out)
}

/// A displaced copy of `cloud`: point `i` moves by `offsets[i]` along its normal and
/// is labelled when the move exceeds [`LABEL_THRESHOLD`].
fn displaced(cloud: &PointCloud, normals: &[V3], offsets: &[f32]) -> DefectOutcome {
    let mut out = cloud.clone();
    let mut labels = vec![0u8; cloud.points.len()];
    for (i, &o) in offsets.iter().enumerate() {
        if o != 0.0 {
            let n = normals[i];
            let p = &mut out.points[i];
            for a in 0..3 {
                p[a] += n[a] * o;
            }
        }
        labels[i] = u8::from(o.abs() > LABEL_THRESHOLD);
    }
    let n_anomalous = labels.iter().filter(|&&l| l == 1).count();
    out.labels = Some(labels);
    out.faces.clear();
    DefectOutcome {
        cloud: out,
        n_removed: 0,
        n_added: 0,
        n_anomalous,
    }
}
