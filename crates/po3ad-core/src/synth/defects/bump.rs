//! Bulges and concavities: a smooth compact raised-cosine bump along the normals.

use super::{displaced, DefectOutcome, SAME_SIDE_COS};
use crate::synth::vec3::{dist2, dot, V3};
use crate::PointCloud;
use std::f32::consts::PI;

pub(super) fn apply(
    cloud: &PointCloud,
    normals: &[V3],
    center: V3,
    normal: V3,
    radius: f32,
    height: f32,
) -> DefectOutcome {
    let offsets: Vec<f32> = cloud
        .points
        .iter()
        .zip(normals)
        .map(|(&p, &n)| {
            let d2 = dist2(p, center);
            if d2 >= radius * radius || dot(n, normal) < SAME_SIDE_COS {
                return 0.0;
            }
            height * 0.5 * (1.0 + (PI * d2.sqrt() / radius).cos())
        })
        .collect();
    displaced(cloud, normals, &offsets)
}
