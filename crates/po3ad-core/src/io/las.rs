//! ASPRS LAS and LAZ files (airborne and terrestrial lidar tools), read through the `las`
//! crate with its `laz` feature (the LAZ decompressor is the pure-Rust `laz` crate).
//! The format stores coordinates as 32-bit integers with a per-axis scale and offset;
//! the crate applies them in `f64` and this module rounds to `f32` once.
//!
//! Points are read in batches so that a header claiming billions of points costs
//! nothing until the data is really there; the header's count is checked against the
//! point cap first. Intensity, classification and colour have no place in
//! [`PointCloud`] and are listed as fields only.

use super::common::{self, Parsed};
use crate::{Error, PointCloud, Result};
use std::io::Cursor;
use std::path::Path;

/// Points decoded per call into the `las` reader.
const BATCH: u64 = 1 << 16;

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    let bad = |e: las::Error| Error::format(path, format!("LAS: {e}"));
    // The crate's reader owns its source ('static), hence the copy.
    let mut reader = las::Reader::new(Cursor::new(bytes.to_vec())).map_err(bad)?;
    let header = reader.header().clone();
    let claimed = header.number_of_points();
    common::check_limit(
        path,
        "LAS header",
        usize::try_from(claimed).unwrap_or(usize::MAX),
        max_points,
    )?;
    let fmt = header.point_format();
    let compressed = fmt.is_compressed;
    let mut fields: Vec<String> = ["x", "y", "z", "intensity", "classification"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if fmt.has_gps_time {
        fields.push("gps_time".into());
    }
    if fmt.has_color {
        fields.extend(["red", "green", "blue"].map(String::from));
    }
    // Every record is at least 20 bytes (point format 0).
    let mut points = Vec::with_capacity(common::capacity(claimed as usize, bytes.len(), 20));
    let mut left = claimed;
    while left > 0 {
        let want = left.min(BATCH);
        let data = reader.read_points(want).map_err(bad)?;
        if data.is_empty() {
            return Err(Error::format(
                path,
                format!(
                    "LAS header claims {claimed} points, the data ends after {}",
                    points.len()
                ),
            ));
        }
        points.extend(
            data.x()
                .zip(data.y())
                .zip(data.z())
                .map(|((x, y), z)| [x as f32, y as f32, z as f32]),
        );
        left -= (data.len() as u64).min(left);
    }
    let v = header.version();
    let format = format!(
        "{} {}.{} point format {}",
        if compressed { "LAZ" } else { "LAS" },
        v.major,
        v.minor,
        fmt.to_u8().unwrap_or(255)
    );
    Ok(Parsed {
        cloud: PointCloud::from_points(points),
        format,
        fields,
        organized: false,
    })
}
