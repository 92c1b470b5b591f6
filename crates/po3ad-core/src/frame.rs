//! The training frame: the coordinates a pose-dependent detector learned the part in.
//!
//! Training clouds are CenterShifted and scaled into the unit sphere one by one, so a
//! scan of the *whole* part lands in (nearly) the same frame when it is normalized on its
//! own. A one-sided scan does not: its centroid and extent are not the part's. The
//! frame therefore keeps the reference template's own normalization (`origin`, `scale`)
//! and a small copy of the template (points + normals) to register scans onto; a scan
//! is then scored in the frame the detector was trained in, while its scores stay
//! attached to its own points.

use crate::geometry::{center_shift, normalize_unit_sphere, voxel_downsample};
use crate::{Error, PointCloud, Result};
use serde::{Deserialize, Serialize};

/// Voxel size (unit-sphere units) of the reference copy kept for registration: fine
/// enough for ICP to land within a fraction of a training voxel, small enough to store
/// in a model file (~5k points for a typical part).
pub const REFERENCE_VOXEL: f32 = 0.02;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingFrame {
    /// `p_training = (p_file − origin) / scale` for a scan in the template's file pose.
    pub origin: [f32; 3],
    pub scale: f32,
    /// The reference template in the training frame, voxel-downsampled.
    pub points: Vec<[f32; 3]>,
    /// Its unit normals.
    pub normals: Vec<[f32; 3]>,
}

impl TrainingFrame {
    /// The frame of `template` (file coordinates, with normals): the CenterShift and
    /// unit-sphere normalization training applies to it, and its downsampled copy.
    pub fn from_template(template: &PointCloud) -> Result<Self> {
        let mut cloud = template.clone();
        let shift = center_shift(&mut cloud);
        Self::from_centered(&cloud, shift)
    }

    /// As [`from_template`](Self::from_template), for a template that was already
    /// CenterShifted by `shift` (as training prepares its clouds).
    pub fn from_centered(centered: &PointCloud, shift: [f32; 3]) -> Result<Self> {
        let normals = centered
            .normals
            .as_ref()
            .filter(|n| n.len() == centered.len())
            .ok_or_else(|| {
                Error::Invalid("a training frame needs a template with normals".into())
            })?;
        let mut cloud = PointCloud {
            points: centered.points.clone(),
            normals: Some(normals.clone()),
            labels: None,
            faces: Vec::new(),
        };
        let (centroid, scale) = normalize_unit_sphere(&mut cloud)?;
        let reference = voxel_downsample(&cloud, REFERENCE_VOXEL)?;
        let normals = reference
            .normals
            .clone()
            .unwrap_or_else(|| vec![crate::geometry::FALLBACK_NORMAL; reference.len()]);
        Ok(Self {
            origin: [0, 1, 2].map(|a| shift[a] + centroid[a]),
            scale,
            points: reference.points,
            normals,
        })
    }

    /// A point in the template's file coordinates, moved into the training frame.
    pub fn to_training(&self, p: [f32; 3]) -> [f32; 3] {
        [0, 1, 2].map(|a| (p[a] - self.origin[a]) / self.scale)
    }

    /// The reference points with their normals as a cloud (training frame), e.g. to
    /// hand the registration template to another tool.
    pub fn reference_cloud(&self) -> PointCloud {
        PointCloud {
            points: self.points.clone(),
            normals: Some(self.normals.clone()),
            labels: None,
            faces: Vec::new(),
        }
    }

    /// Checks a frame read from a file: finite numbers, a positive scale, one normal per
    /// reference point.
    pub fn validate(&self) -> Result<()> {
        let finite = |v: &[f32; 3]| v.iter().all(|c| c.is_finite());
        let well_formed = self.scale.is_finite()
            && self.scale > 0.0
            && finite(&self.origin)
            && !self.points.is_empty()
            && self.points.len() == self.normals.len()
            && self.points.iter().all(finite)
            && self.normals.iter().all(finite);
        if !well_formed {
            return Err(Error::Invalid(
                "the model's training frame is malformed (scale, origin or reference cloud)".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_with_normals(offset: [f32; 3], step: f32) -> PointCloud {
        let mut points = Vec::new();
        for i in 0..30 {
            for j in 0..30 {
                points.push([
                    offset[0] + i as f32 * step,
                    offset[1] + j as f32 * step,
                    offset[2] + ((i * j) % 7) as f32 * step,
                ]);
            }
        }
        let n = points.len();
        PointCloud {
            points,
            normals: Some(vec![[0.0, 0.0, 1.0]; n]),
            labels: None,
            faces: Vec::new(),
        }
    }

    #[test]
    fn maps_the_template_as_training_normalizes_it() {
        let t = grid_with_normals([10.0, -4.0, 3.0], 0.5);
        let frame = TrainingFrame::from_template(&t).unwrap();
        // Training: CenterShift, then unit sphere around the centroid.
        let mut expect = t.clone();
        center_shift(&mut expect);
        normalize_unit_sphere(&mut expect).unwrap();
        for (p, q) in t.points.iter().zip(&expect.points) {
            let m = frame.to_training(*p);
            for a in 0..3 {
                assert!((m[a] - q[a]).abs() < 1e-5, "{m:?} vs {q:?}");
            }
        }
        assert!(!frame.points.is_empty() && frame.points.len() <= t.len());
        frame.validate().unwrap();
    }

    #[test]
    fn needs_normals_and_rejects_malformed_frames() {
        let mut t = grid_with_normals([0.0; 3], 1.0);
        t.normals = None;
        assert!(TrainingFrame::from_template(&t).is_err());
        let mut f = TrainingFrame::from_template(&grid_with_normals([0.0; 3], 1.0)).unwrap();
        f.scale = 0.0;
        assert!(f.validate().is_err());
    }
}
