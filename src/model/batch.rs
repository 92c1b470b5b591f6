//! Collation: voxelize each cloud, give every voxel a batch index, and keep the
//! voxel-to-point index so per-voxel features can be handed back to every point.

use std::sync::Arc;

use burn::prelude::{Backend, Int, Tensor, TensorData};
use po3ad_core::geometry::voxelize;
use po3ad_sparse::{CoordinateManager, SparseTensor};

use super::config::ModelConfig;
use super::minkunet::kernel_map_keys;

/// Clouds packed into one sparse input. Host-side data; [`Batch::input`] moves it to a
/// device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, x, y, z]` integer voxel coordinates, unique.
    pub coords: Vec<[i32; 4]>,
    /// Features per voxel, row-major `[voxels, 3]`: the xyz of its representative point.
    pub feats: Vec<f32>,
    /// For every point of every cloud (concatenated), the row of its voxel.
    pub point_to_voxel: Vec<i64>,
    /// Points per cloud, in order.
    pub counts: Vec<usize>,
    /// The coordinate manager of `coords` with the network's kernel maps already built
    /// ([`Batch::prebuild_maps`]); `None`: [`Batch::input`] makes a fresh one and the
    /// forward pass builds each map when it first needs it. Maps are a pure function of
    /// the coordinates, so both give the same numbers.
    pub maps: Option<Arc<CoordinateManager>>,
}

/// Pack clouds (already normalized) into one batch at `voxel_size`.
pub fn collate(clouds: &[&[[f32; 3]]], voxel_size: f32) -> po3ad_core::Result<Batch> {
    let mut batch = Batch {
        coords: Vec::new(),
        feats: Vec::new(),
        point_to_voxel: Vec::new(),
        counts: Vec::new(),
        maps: None,
    };
    for (b, points) in clouds.iter().enumerate() {
        let vox = voxelize(points, voxel_size)?;
        let base = batch.coords.len() as i64;
        for (c, &rep) in vox.coords.iter().zip(&vox.representative) {
            batch.coords.push([b as i32, c[0], c[1], c[2]]);
            batch.feats.extend_from_slice(&points[rep as usize]);
        }
        batch
            .point_to_voxel
            .extend(vox.point_to_voxel.iter().map(|&v| base + v as i64));
        batch.counts.push(points.len());
    }
    Ok(batch)
}

impl Batch {
    pub fn num_points(&self) -> usize {
        self.point_to_voxel.len()
    }

    pub fn num_voxels(&self) -> usize {
        self.coords.len()
    }

    /// Builds every kernel map the MinkUNet of `cfg` uses (and what the fused CPU kernels
    /// derive from them) now, so a prefetch thread can do it while the previous step runs
    /// (train::fit::Prefetch) instead of the forward pass doing it on the training thread.
    pub fn prebuild_maps(&mut self, cfg: &ModelConfig) -> Result<(), po3ad_sparse::SparseError> {
        let manager = CoordinateManager::new(self.coords.clone())?;
        for key in kernel_map_keys(cfg) {
            manager.kernel_map(key).precompute_layouts();
        }
        self.maps = Some(Arc::new(manager));
        Ok(())
    }

    /// The sparse input tensor and the voxel-to-point index on `device`.
    pub fn input<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<(SparseTensor<B>, Tensor<B, 1, Int>), po3ad_sparse::SparseError> {
        let n = self.coords.len();
        let feats = Tensor::<B, 2>::from_data(TensorData::new(self.feats.clone(), [n, 3]), device);
        let index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(self.point_to_voxel.clone(), [self.point_to_voxel.len()]),
            device,
        );
        let input = match &self.maps {
            Some(manager) => SparseTensor::on_manager(manager.clone(), feats)?,
            None => SparseTensor::new(self.coords.clone(), feats)?,
        };
        Ok((input, index))
    }
}
