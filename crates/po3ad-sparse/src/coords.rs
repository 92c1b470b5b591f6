//! Coordinate bookkeeping: the coordinate set of every tensor stride seen in one batch and the
//! kernel maps (input row → output row pairs per kernel offset) between them, built once on the
//! CPU with a hash map and cached so every layer with the same key reuses them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap;

use crate::error::SparseError;

/// A site: `[batch, x, y, z]`; at tensor stride `s` every spatial component is a multiple of `s`.
pub type Coord = [i32; 4];

/// Which neighbourhood a kernel map describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// Stride-1 convolution whose outputs are exactly the input sites.
    Submanifold,
    /// Stride-2 convolution (kernel 2) onto the downsampled sites.
    Down,
    /// Stride-2 transposed convolution (kernel 2) back onto the cached finer sites.
    Up,
}

/// Cache key of a kernel map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapKey {
    pub in_stride: u32,
    pub out_stride: u32,
    pub kernel: u32,
    pub kind: MapKind,
}

/// Gather/scatter pairs of one convolution, grouped by kernel offset:
/// `out[out_rows[j]] += in[in_rows[j]] · W[k]` for `j in starts[k]..starts[k+1]`.
#[derive(Debug)]
pub struct KernelMap {
    pub n_in: usize,
    pub n_out: usize,
    pub kernel_volume: usize,
    pub in_rows: Vec<u32>,
    pub out_rows: Vec<u32>,
    /// `kernel_volume + 1` offsets into the pair arrays.
    pub starts: Vec<usize>,
    transposed: OnceLock<Arc<KernelMap>>,
    pub(crate) blocked: crate::fused::BlockedCell,
    neighbors: OnceLock<Option<Arc<Vec<i32>>>>,
}

impl KernelMap {
    /// Builds a map from per-offset pair lists.
    pub fn from_pairs(n_in: usize, n_out: usize, per_offset: Vec<Vec<(u32, u32)>>) -> Self {
        let total = per_offset.iter().map(Vec::len).sum();
        let mut in_rows = Vec::with_capacity(total);
        let mut out_rows = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(per_offset.len() + 1);
        starts.push(0);
        for pairs in &per_offset {
            for &(i, o) in pairs {
                in_rows.push(i);
                out_rows.push(o);
            }
            starts.push(in_rows.len());
        }
        Self {
            n_in,
            n_out,
            kernel_volume: per_offset.len(),
            in_rows,
            out_rows,
            starts,
            transposed: OnceLock::new(),
            blocked: OnceLock::new(),
            neighbors: OnceLock::new(),
        }
    }

    /// Number of (input, output) pairs over all offsets.
    pub fn num_pairs(&self) -> usize {
        self.in_rows.len()
    }

    /// Input and output rows of offset `k`.
    pub fn offset_pairs(&self, k: usize) -> (&[u32], &[u32]) {
        let r = self.starts[k]..self.starts[k + 1];
        (&self.in_rows[r.clone()], &self.out_rows[r])
    }

    /// The map as a table, `table[o · K + k]` = the input row feeding output `o` through
    /// offset `k`, or −1 (what the output-stationary GPU kernels read). None when some
    /// (output, offset) has two inputs (no convolution MinkUNet uses has) or a row does
    /// not fit an i32. Computed once and kept: every layer sharing the map reuses it.
    pub fn neighbor_table(&self) -> Option<Arc<Vec<i32>>> {
        self.neighbors
            .get_or_init(|| {
                let k_vol = self.kernel_volume;
                let mut table = vec![-1i32; self.n_out.checked_mul(k_vol)?];
                for k in 0..k_vol {
                    let (ins, outs) = self.offset_pairs(k);
                    for (&i, &o) in ins.iter().zip(outs) {
                        let slot = &mut table[o as usize * k_vol + k];
                        if *slot >= 0 {
                            return None;
                        }
                        *slot = i32::try_from(i).ok()?;
                    }
                }
                Some(Arc::new(table))
            })
            .clone()
    }

    /// Builds now what the fused CPU kernels would otherwise build on first use: this map's
    /// block layout and its transposed map with that one's layout (backward uses it). For
    /// building a batch's maps ahead of the step on another thread.
    pub fn precompute_layouts(&self) {
        crate::fused::precompute(self);
        crate::fused::precompute(&self.transposed());
    }

    /// The same pairs with input and output swapped (the map of the gradient w.r.t. the input,
    /// and of a transposed convolution). Computed once and kept.
    pub fn transposed(&self) -> Arc<KernelMap> {
        self.transposed
            .get_or_init(|| {
                Arc::new(KernelMap {
                    n_in: self.n_out,
                    n_out: self.n_in,
                    kernel_volume: self.kernel_volume,
                    in_rows: self.out_rows.clone(),
                    out_rows: self.in_rows.clone(),
                    starts: self.starts.clone(),
                    transposed: OnceLock::new(),
                    blocked: OnceLock::new(),
                    neighbors: OnceLock::new(),
                })
            })
            .clone()
    }
}

/// Per-batch coordinate manager shared (via `Arc`) by all sparse tensors of one forward pass.
#[derive(Debug)]
pub struct CoordinateManager {
    coords: Mutex<HashMap<u32, Arc<Vec<Coord>>>>,
    index: Mutex<HashMap<u32, Arc<FxHashMap<Coord, u32>>>>,
    maps: Mutex<HashMap<MapKey, Arc<KernelMap>>>,
}

impl CoordinateManager {
    /// Registers the stride-1 coordinates; fails on duplicates.
    pub fn new(coords: Vec<Coord>) -> Result<Self, SparseError> {
        if u32::try_from(coords.len()).is_err() {
            return Err(SparseError::TooManySites(coords.len()));
        }
        let index = build_index(&coords)?;
        Ok(Self {
            coords: Mutex::new(HashMap::from([(1, Arc::new(coords))])),
            index: Mutex::new(HashMap::from([(1, Arc::new(index))])),
            maps: Mutex::new(HashMap::new()),
        })
    }

    /// Keys of the kernel maps built so far, in no particular order.
    pub fn map_keys(&self) -> Vec<MapKey> {
        lock(&self.maps).keys().copied().collect()
    }

    /// Coordinates at `stride`, if that stride has been produced in this batch.
    pub fn coords(&self, stride: u32) -> Option<Arc<Vec<Coord>>> {
        lock(&self.coords).get(&stride).cloned()
    }

    /// The kernel map for `key`, building (and caching) it and any coordinates it needs.
    ///
    /// # Panics
    /// When the key is impossible for this batch (e.g. an `Up` map to a stride never seen, or a
    /// `Down`/`Up` key whose strides do not differ by 2×): a model-construction bug.
    pub fn kernel_map(&self, key: MapKey) -> Arc<KernelMap> {
        if let Some(m) = lock(&self.maps).get(&key) {
            return m.clone();
        }
        let map = Arc::new(match key.kind {
            MapKind::Submanifold => {
                assert_eq!(
                    key.in_stride, key.out_stride,
                    "submanifold keeps the stride"
                );
                self.build_submanifold(key.in_stride, key.kernel)
            }
            MapKind::Down => {
                assert_eq!(
                    key.out_stride,
                    2 * key.in_stride,
                    "down map doubles the stride"
                );
                assert_eq!(key.kernel, 2, "strided convolution supports kernel 2 only");
                self.build_down(key.in_stride)
            }
            MapKind::Up => {
                assert_eq!(
                    key.in_stride,
                    2 * key.out_stride,
                    "up map halves the stride"
                );
                let down = self.kernel_map(MapKey {
                    in_stride: key.out_stride,
                    out_stride: key.in_stride,
                    kernel: key.kernel,
                    kind: MapKind::Down,
                });
                let t = down.transposed();
                KernelMap {
                    n_in: t.n_in,
                    n_out: t.n_out,
                    kernel_volume: t.kernel_volume,
                    in_rows: t.in_rows.clone(),
                    out_rows: t.out_rows.clone(),
                    starts: t.starts.clone(),
                    transposed: OnceLock::new(),
                    blocked: OnceLock::new(),
                    neighbors: OnceLock::new(),
                }
            }
        });
        lock(&self.maps).entry(key).or_insert(map).clone()
    }

    fn required_coords(&self, stride: u32) -> Arc<Vec<Coord>> {
        match self.coords(stride) {
            Some(c) => c,
            None => panic!("no coordinates at tensor stride {stride} in this batch"),
        }
    }

    fn index(&self, stride: u32) -> Arc<FxHashMap<Coord, u32>> {
        if let Some(i) = lock(&self.index).get(&stride) {
            return i.clone();
        }
        let coords = self.required_coords(stride);
        // Coordinates registered here are unique by construction (new() checks stride 1,
        // downsampling deduplicates), so the index cannot fail.
        let idx = Arc::new(build_index(&coords).unwrap_or_default());
        lock(&self.index).entry(stride).or_insert(idx).clone()
    }

    fn build_submanifold(&self, stride: u32, kernel: u32) -> KernelMap {
        let coords = self.required_coords(stride);
        let index = self.index(stride);
        let k = kernel as i32;
        let r = (k - 1) / 2;
        let s = stride as i32;
        let offsets: Vec<[i32; 3]> = (0..k)
            .flat_map(|dx| (0..k).flat_map(move |dy| (0..k).map(move |dz| [dx, dy, dz])))
            .map(|[dx, dy, dz]| [(dx - r) * s, (dy - r) * s, (dz - r) * s])
            .collect();
        let per_offset = offsets_pairs(&offsets, &coords, &index);
        KernelMap::from_pairs(coords.len(), coords.len(), per_offset)
    }

    fn build_down(&self, stride: u32) -> KernelMap {
        let fine = self.required_coords(stride);
        let s2 = 2 * stride as i32;
        let s = stride as i32;
        let mut coarse_index: FxHashMap<Coord, u32> = FxHashMap::default();
        let mut coarse: Vec<Coord> = Vec::new();
        let mut per_offset: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 8];
        for (i, c) in fine.iter().enumerate() {
            let p = [
                c[0],
                c[1].div_euclid(s2) * s2,
                c[2].div_euclid(s2) * s2,
                c[3].div_euclid(s2) * s2,
            ];
            let row = *coarse_index.entry(p).or_insert_with(|| {
                coarse.push(p);
                (coarse.len() - 1) as u32
            });
            let k = ((c[1] - p[1]) / s * 4 + (c[2] - p[2]) / s * 2 + (c[3] - p[3]) / s) as usize;
            per_offset[k].push((i as u32, row));
        }
        let n_coarse = coarse.len();
        let out_stride = 2 * stride;
        lock(&self.coords)
            .entry(out_stride)
            .or_insert_with(|| Arc::new(coarse));
        lock(&self.index)
            .entry(out_stride)
            .or_insert_with(|| Arc::new(coarse_index));
        KernelMap::from_pairs(fine.len(), n_coarse, per_offset)
    }
}

/// Pairs per offset for a map whose outputs are the input sites themselves.
/// Parallel over offsets: each offset is an independent sweep of hash lookups.
fn offsets_pairs(
    offsets: &[[i32; 3]],
    coords: &[Coord],
    index: &FxHashMap<Coord, u32>,
) -> Vec<Vec<(u32, u32)>> {
    use rayon::prelude::*;
    offsets
        .par_iter()
        .map(|d| {
            coords
                .iter()
                .enumerate()
                .filter_map(|(o, c)| {
                    index
                        .get(&[c[0], c[1] + d[0], c[2] + d[1], c[3] + d[2]])
                        .map(|&i| (i, o as u32))
                })
                .collect()
        })
        .collect()
}

fn build_index(coords: &[Coord]) -> Result<FxHashMap<Coord, u32>, SparseError> {
    let mut index = FxHashMap::default();
    index.reserve(coords.len());
    for (row, c) in coords.iter().enumerate() {
        if let Some(first) = index.insert(*c, row as u32) {
            return Err(SparseError::DuplicateCoordinate {
                coord: *c,
                first: first as usize,
                second: row,
            });
        }
    }
    Ok(index)
}

/// Locks a cache mutex; a poisoned lock only means another thread panicked mid-insert of an
/// immutable `Arc`, so the map itself is still consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
