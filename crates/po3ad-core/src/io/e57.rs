//! ASTM E57 files (laser scanners: Faro, Leica, Trimble, ...), read through the `e57`
//! crate, which parses the paged binary container, the XML section and the compressed
//! vectors. This module only picks the scans, turns each point into `f32` coordinates
//! in the file's frame (the scan's pose applied, spherical coordinates converted by the
//! crate) and enforces the point cap.
//!
//! Points whose coordinates the file marks invalid (no return, direction only) become
//! NaN points, so an organized scan keeps one point per pixel; [`super::read_scan`] drops
//! them with a count, [`super::read`] refuses them like any non-finite coordinate.
//! Intensity and colour have no place in [`PointCloud`] and are listed as fields only.

use super::common::{self, Parsed};
use crate::{Error, PointCloud, Result};
use e57::{CartesianCoordinate, E57Reader};
use std::io::Cursor;
use std::path::Path;

/// What a caller may ask of a multi-scan file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum E57Scans {
    /// Every scan of the file, in file order, each in the file's common frame.
    #[default]
    All,
    /// One scan, by its 0-based index in the file.
    Index(usize),
}

pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    max_points: usize,
    scans: E57Scans,
) -> Result<Parsed> {
    common::guard_decoder(path, "E57", || decode(path, bytes, max_points, scans))
}

fn decode(path: &Path, bytes: &[u8], max_points: usize, scans: E57Scans) -> Result<Parsed> {
    let bad = |e: e57::Error| Error::format(path, format!("E57: {e}"));
    let mut reader = E57Reader::new(Cursor::new(bytes)).map_err(bad)?;
    let all = reader.pointclouds();
    let chosen: Vec<&e57::PointCloud> = match scans {
        E57Scans::All => all.iter().collect(),
        E57Scans::Index(i) => vec![all.get(i).ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "E57 scan {i} asked for, but the file has {} scan(s) (0-based)",
                    all.len()
                ),
            )
        })?],
    };
    if chosen.is_empty() {
        return Err(Error::format(path, "E57 file holds no point-cloud scans"));
    }
    let total = chosen
        .iter()
        .try_fold(0u64, |acc, pc| acc.checked_add(pc.records))
        .unwrap_or(u64::MAX);
    common::check_limit(
        path,
        "E57 file",
        usize::try_from(total).unwrap_or(usize::MAX),
        max_points,
    )?;
    // A record is at least one bit per coordinate in the file; the cap keeps a lying
    // record count from reserving more than the bytes could hold.
    let mut points = Vec::with_capacity(common::capacity(total as usize, bytes.len(), 1));
    let mut fields: Vec<String> = Vec::new();
    let mut organized = false;
    for pc in &chosen {
        for r in &pc.prototype {
            let name = format!("{:?}", r.name);
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        organized |= pc.has_row_column();
        let start = points.len();
        let iter = reader.pointcloud_simple(pc).map_err(bad)?;
        for p in iter {
            let p = p.map_err(bad)?;
            points.push(match p.cartesian {
                CartesianCoordinate::Valid { x, y, z } => [x as f32, y as f32, z as f32],
                _ => [f32::NAN; 3],
            });
            if points.len() - start > pc.records as usize {
                return Err(Error::format(
                    path,
                    format!("E57 scan holds more points than its {} records", pc.records),
                ));
            }
        }
    }
    let format = match scans {
        E57Scans::All => format!("E57 ({} scan(s) of {})", chosen.len(), all.len()),
        E57Scans::Index(i) => format!("E57 (scan {i} of {})", all.len()),
    };
    Ok(Parsed {
        cloud: PointCloud::from_points(points),
        format,
        fields,
        organized,
    })
}

/// Name and point count of each scan of an E57 file, in file order.
pub(crate) fn list(path: &Path, bytes: &[u8]) -> Result<Vec<(Option<String>, u64)>> {
    common::guard_decoder(path, "E57", || list_scans(path, bytes))
}

fn list_scans(path: &Path, bytes: &[u8]) -> Result<Vec<(Option<String>, u64)>> {
    let reader =
        E57Reader::new(Cursor::new(bytes)).map_err(|e| Error::format(path, format!("E57: {e}")))?;
    Ok(reader
        .pointclouds()
        .into_iter()
        .map(|pc| (pc.name.clone(), pc.records))
        .collect())
}
