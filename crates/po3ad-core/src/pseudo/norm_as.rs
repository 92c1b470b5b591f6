//! Norm-AS (paper §3.2): split the cloud into J patches, push one patch along its
//! normals by `alpha · n · (1 − w) · beta`. Both the paper's and the reference code's
//! behaviour are selectable, plus the paper's ablation switches.

use crate::{Error, PointCloud, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which of the two published behaviours to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NormAsVariant {
    /// Paper: signed normal, weight `1 − w`, any of the J patches.
    #[default]
    Paper,
    /// Reference code: component-wise `|n|`, `1 − w` min–max rescaled to [0, 1],
    /// patch drawn from the first J/2 (the compact ones, before leftovers pile up).
    Reference,
}

/// Displacement direction (the paper's Variant 3 uses a random one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    #[default]
    Normal,
    /// One random unit direction for the whole patch.
    Random,
}

/// Which patches the displaced one is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPool {
    /// As the variant says: all J (paper) or the first J/2 (reference).
    #[default]
    Auto,
    /// Any of the J patches, including the late, scattered ones made of leftovers.
    All,
    /// The first J/2 patches only: compact discs, like real local defects.
    FirstHalf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormAsConfig {
    /// J, the number of patches (paper: 64).
    pub patches: usize,
    /// beta ~ U[beta_min, beta_max], the displacement of the patch centre.
    pub beta_min: f32,
    pub beta_max: f32,
    pub variant: NormAsVariant,
    pub direction: Direction,
    /// Overrides the variant's choice of patch pool when not `auto`.
    pub patch_pool: PatchPool,
}

impl Default for NormAsConfig {
    fn default() -> Self {
        Self {
            patches: 64,
            beta_min: 0.06,
            beta_max: 0.12,
            variant: NormAsVariant::Paper,
            direction: Direction::Normal,
            patch_pool: PatchPool::Auto,
        }
    }
}

/// A displaced copy of a cloud and the per-point training target `O_gt = P̂ − P`.
#[derive(Debug, Clone)]
pub struct PseudoAnomaly {
    pub points: Vec<[f32; 3]>,
    pub offsets: Vec<[f32; 3]>,
    /// Indices of the displaced patch.
    pub patch: Vec<usize>,
}

/// Split `points` into `j` patches: repeatedly take a random point not yet in a patch
/// and its `n/j − 1` nearest among those not yet in a patch; leftovers join the last.
/// Returns, per patch, its member indices with the seed first.
///
/// Written as a partial selection over the remaining points rather than with a k-d
/// tree: a tree would have to support deletions, and J·N distance evaluations
/// (64 × 30k) take about a millisecond.
pub fn split_patches<R: Rng>(
    points: &[[f32; 3]],
    j: usize,
    rng: &mut R,
) -> Result<Vec<Vec<usize>>> {
    let n = points.len();
    if j == 0 || n < j {
        return Err(Error::Invalid(format!(
            "Norm-AS needs at least J = {j} points (and J > 0), the cloud has {n}"
        )));
    }
    let per = n / j;
    let mut remaining: Vec<usize> = (0..n).collect();
    let mut patches = Vec::with_capacity(j);
    for b in 0..j {
        let seed_pos = rng.random_range(0..remaining.len());
        let seed = remaining.swap_remove(seed_pos);
        let take = if b + 1 == j { remaining.len() } else { per - 1 };
        let s = points[seed];
        let d2 = |i: usize| {
            let p = points[i];
            (p[0] - s[0]).powi(2) + (p[1] - s[1]).powi(2) + (p[2] - s[2]).powi(2)
        };
        if take < remaining.len() && take > 0 {
            remaining
                .select_nth_unstable_by(take - 1, |&a, &b| d2(a).total_cmp(&d2(b)).then(a.cmp(&b)));
        }
        let mut patch = Vec::with_capacity(take + 1);
        patch.push(seed);
        patch.extend(remaining.drain(..take));
        patches.push(patch);
    }
    Ok(patches)
}

fn random_unit<R: Rng>(rng: &mut R) -> [f32; 3] {
    loop {
        let v = [
            rng.random_range(-1.0f32..1.0),
            rng.random_range(-1.0f32..1.0),
            rng.random_range(-1.0f32..1.0),
        ];
        let n2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        if n2 > 1e-4 && n2 <= 1.0 {
            let n = n2.sqrt();
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

/// Make one Norm-AS pseudo anomaly from a normalized cloud that has normals.
pub fn norm_as<R: Rng>(
    cloud: &PointCloud,
    cfg: &NormAsConfig,
    rng: &mut R,
) -> Result<PseudoAnomaly> {
    let normals = cloud
        .normals
        .as_ref()
        .ok_or_else(|| Error::Invalid("Norm-AS needs normals on the training cloud".into()))?;
    if !(cfg.beta_min >= 0.0 && cfg.beta_max >= cfg.beta_min) {
        return Err(Error::Invalid(format!(
            "Norm-AS beta range [{}, {}] is not a valid range",
            cfg.beta_min, cfg.beta_max
        )));
    }
    let patches = split_patches(&cloud.points, cfg.patches, rng)?;
    let pool = match (cfg.patch_pool, cfg.variant) {
        (PatchPool::All, _) | (PatchPool::Auto, NormAsVariant::Paper) => patches.len(),
        (PatchPool::FirstHalf, _) | (PatchPool::Auto, NormAsVariant::Reference) => {
            (patches.len() / 2).max(1)
        }
    };
    let patch = patches[rng.random_range(0..pool)].clone();
    let alpha: f32 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let beta = if cfg.beta_max > cfg.beta_min {
        rng.random_range(cfg.beta_min..cfg.beta_max)
    } else {
        cfg.beta_min
    };
    let random_dir = match cfg.direction {
        Direction::Random => Some(random_unit(rng)),
        Direction::Normal => None,
    };

    let seed = cloud.points[patch[0]];
    let dist: Vec<f32> = patch
        .iter()
        .map(|&i| {
            let p = cloud.points[i];
            ((p[0] - seed[0]).powi(2) + (p[1] - seed[1]).powi(2) + (p[2] - seed[2]).powi(2)).sqrt()
        })
        .collect();
    let dmax = dist.iter().copied().fold(0.0f32, f32::max);
    let mut weight: Vec<f32> = dist
        .iter()
        .map(|&d| if dmax > 0.0 { 1.0 - d / dmax } else { 1.0 })
        .collect();
    if cfg.variant == NormAsVariant::Reference {
        let lo = weight.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = weight.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if hi > lo {
            weight.iter_mut().for_each(|w| *w = (*w - lo) / (hi - lo));
        }
    }

    let mut points = cloud.points.clone();
    let mut offsets = vec![[0.0f32; 3]; points.len()];
    for (&i, &w) in patch.iter().zip(&weight) {
        let dir = match (random_dir, cfg.variant) {
            (Some(d), _) => d,
            (None, NormAsVariant::Paper) => normals[i],
            (None, NormAsVariant::Reference) => normals[i].map(f32::abs),
        };
        let scale = alpha * w * beta;
        for a in 0..3 {
            offsets[i][a] = dir[a] * scale;
            points[i][a] += offsets[i][a];
        }
    }
    Ok(PseudoAnomaly {
        points,
        offsets,
        patch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn grid(n: usize) -> PointCloud {
        let mut pts = Vec::new();
        for i in 0..n {
            for j in 0..n {
                pts.push([i as f32 / n as f32, j as f32 / n as f32, 0.0]);
            }
        }
        let normals = vec![[0.0, 0.0, 1.0]; pts.len()];
        PointCloud {
            points: pts,
            normals: Some(normals),
            ..Default::default()
        }
    }

    #[test]
    fn patches_partition_the_cloud() {
        let pc = grid(30);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let patches = split_patches(&pc.points, 64, &mut rng).unwrap();
        assert_eq!(patches.len(), 64);
        let mut seen = vec![0u8; pc.len()];
        for p in &patches {
            for &i in p {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        let per = pc.len() / 64;
        assert!(patches[..63].iter().all(|p| p.len() == per));
        assert_eq!(patches[63].len(), pc.len() - 63 * per);
    }

    #[test]
    fn patch_members_are_the_nearest_remaining_points() {
        // The first patch must be exactly the seed's per-1 nearest points overall.
        let pc = grid(20);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let patches = split_patches(&pc.points, 8, &mut rng).unwrap();
        let first = &patches[0];
        let s = pc.points[first[0]];
        let d = |p: [f32; 3]| (p[0] - s[0]).powi(2) + (p[1] - s[1]).powi(2);
        let worst_in = first.iter().map(|&i| d(pc.points[i])).fold(0.0, f32::max);
        let members: std::collections::HashSet<_> = first.iter().copied().collect();
        let best_out = (0..pc.len())
            .filter(|i| !members.contains(i))
            .map(|i| d(pc.points[i]))
            .fold(f32::INFINITY, f32::min);
        assert!(worst_in <= best_out);
    }

    #[test]
    fn paper_offsets_follow_signed_normals_and_peak_at_seed() {
        let pc = grid(32);
        let cfg = NormAsConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let pa = norm_as(&pc, &cfg, &mut rng).unwrap();
        let seed = pa.patch[0];
        let peak = pa.offsets[seed][2];
        assert!(peak.abs() >= 0.06 && peak.abs() <= 0.12, "peak {peak}");
        for (i, o) in pa.offsets.iter().enumerate() {
            assert_eq!(o[0], 0.0);
            assert_eq!(o[1], 0.0);
            assert!(o[2].abs() <= peak.abs() + 1e-7);
            assert!(o[2] == 0.0 || o[2].signum() == peak.signum());
            let moved = pa.points[i][2] - pc.points[i][2];
            assert!((moved - o[2]).abs() < 1e-7);
            if !pa.patch.contains(&i) {
                assert_eq!(o[2], 0.0);
            }
        }
    }

    #[test]
    fn reference_uses_absolute_normals_and_first_half() {
        let mut pc = grid(32);
        pc.normals = Some(vec![[0.0, 0.0, -1.0]; pc.len()]);
        let cfg = NormAsConfig {
            variant: NormAsVariant::Reference,
            ..Default::default()
        };
        for seed in 0..10 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let pa = norm_as(&pc, &cfg, &mut rng).unwrap();
            // |(0,0,-1)| = (0,0,1): the direction sign comes from alpha alone.
            let s = pa.offsets[pa.patch[0]][2];
            assert!(s.abs() >= 0.06 - 1e-6);
            let mut rng2 = ChaCha8Rng::seed_from_u64(seed);
            let patches = split_patches(&pc.points, 64, &mut rng2).unwrap();
            let idx = patches.iter().position(|p| p[0] == pa.patch[0]).unwrap();
            assert!(idx < 32);
        }
    }

    /// Index (in split order) of the patch Norm-AS displaced, for `seed`.
    fn chosen_patch(pc: &PointCloud, cfg: &NormAsConfig, seed: u64) -> usize {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pa = norm_as(pc, cfg, &mut rng).unwrap();
        let mut rng2 = ChaCha8Rng::seed_from_u64(seed);
        let patches = split_patches(&pc.points, cfg.patches, &mut rng2).unwrap();
        patches.iter().position(|p| p[0] == pa.patch[0]).unwrap()
    }

    #[test]
    fn patch_pool_overrides_the_variant() {
        let pc = grid(32);
        let first_half = NormAsConfig {
            patch_pool: PatchPool::FirstHalf,
            ..Default::default()
        };
        let all = NormAsConfig {
            variant: NormAsVariant::Reference,
            patch_pool: PatchPool::All,
            ..Default::default()
        };
        let from_half: Vec<usize> = (0..40).map(|s| chosen_patch(&pc, &first_half, s)).collect();
        let from_all: Vec<usize> = (0..40).map(|s| chosen_patch(&pc, &all, s)).collect();
        assert!(from_half.iter().all(|&i| i < 32), "{from_half:?}");
        // 40 draws from 64 patches all landing in the first half: p = 2^-40.
        assert!(from_all.iter().any(|&i| i >= 32), "{from_all:?}");
    }

    #[test]
    fn random_direction_is_shared_by_the_patch() {
        let pc = grid(32);
        let cfg = NormAsConfig {
            direction: Direction::Random,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let pa = norm_as(&pc, &cfg, &mut rng).unwrap();
        let o0 = pa.offsets[pa.patch[0]];
        let n0 = (o0[0] * o0[0] + o0[1] * o0[1] + o0[2] * o0[2]).sqrt();
        for &i in &pa.patch {
            let o = pa.offsets[i];
            let n = (o[0] * o[0] + o[1] * o[1] + o[2] * o[2]).sqrt();
            if n > 1e-6 {
                let cos = (o[0] * o0[0] + o[1] * o0[1] + o[2] * o0[2]) / (n * n0);
                assert!((cos - 1.0).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn errors_without_normals_or_points() {
        let mut pc = grid(4);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(norm_as(&pc, &NormAsConfig::default(), &mut rng).is_err());
        pc.normals = None;
        assert!(norm_as(&pc, &NormAsConfig::default(), &mut rng).is_err());
    }
}
