//! Holes: a ball of material removed; the ring of surviving points around it is the
//! visible defect and is labelled.

use super::DefectOutcome;
use crate::synth::vec3::{dist2, V3};
use crate::PointCloud;

pub(super) fn apply(cloud: &PointCloud, center: V3, radius: f32, rim: f32) -> DefectOutcome {
    let (r2, outer2) = (radius * radius, (radius + rim) * (radius + rim));
    let keep: Vec<usize> = (0..cloud.points.len())
        .filter(|&i| dist2(cloud.points[i], center) >= r2)
        .collect();
    let mut out = cloud.select(&keep);
    let labels: Vec<u8> = out
        .points
        .iter()
        .map(|&p| u8::from(dist2(p, center) < outer2))
        .collect();
    let n_anomalous = labels.iter().filter(|&&l| l == 1).count();
    out.labels = Some(labels);
    DefectOutcome {
        n_removed: cloud.points.len() - out.points.len(),
        n_added: 0,
        n_anomalous,
        cloud: out,
    }
}
