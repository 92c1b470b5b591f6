//! Reading and writing point-cloud and mesh files. One file per format; this module
//! picks the reader by extension and, where the extension is ambiguous (`.txt`, an
//! unknown one), by content.
//!
//! Entry points (stable API other modules rely on):
//! - [`read`] / [`read_with_limit`]: any supported file → [`PointCloud`] (faces filled
//!   for meshes, normals and labels when the file has them). A NaN / infinite
//!   coordinate is an error here.
//! - [`read_scan`] / [`parse_scan_bytes`]: a scanner's file → [`Scan`]: invalid points
//!   (NaN, ±inf, (0, 0, 0) pixels of organized clouds) dropped and counted, with the
//!   mapping back to the file's order ([`DroppedPoints`]); one E57 scan or all of them.
//! - [`read_gt`]: a ground-truth text file (`x,y,z,label` rows) → cloud with labels.
//! - [`inspect`]: what a file holds ([`FileInfo`]), for `po3ad inspect`.
//! - writers [`write_ply`], [`write_pcd`], [`write_xyz`], [`write_gt`], all atomic
//!   through [`atomic::write_atomic`].
//!
//! Readers treat every file as untrusted: lengths claimed by headers are checked against
//! the data before allocating, and every error names the file.

pub mod atomic;
mod common;
mod e57;
mod las;
mod obj;
mod pcd;
mod ply;
mod stl;
mod xyz;

pub use atomic::{write_atomic, write_atomic_with};
pub use e57::E57Scans;
pub use xyz::{write_gt, write_xyz};

use crate::scene::invalid::{drop_invalid, DroppedPoints, OriginPolicy};
use crate::scene::units::Units;
use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Most points [`read`] accepts in one cloud (a scan of 50 M points is ~600 MB of
/// coordinates); use [`read_with_limit`] for another cap.
pub const DEFAULT_MAX_POINTS: usize = 50_000_000;

/// PCD `DATA` encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcdData {
    Ascii,
    Binary,
    /// LZF-compressed, fields stored one after another (PCL's default for big clouds).
    BinaryCompressed,
}

/// What [`inspect`] reports about a file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileInfo {
    /// e.g. "PCD binary_compressed", "PLY binary_big_endian", "STL binary".
    pub format: String,
    /// Field / property / column names as the file calls them.
    pub fields: Vec<String>,
    pub points: usize,
    /// Triangles after triangulating polygons.
    pub faces: usize,
    pub has_normals: bool,
    pub has_labels: bool,
    /// Bounding box of the valid points.
    pub bbox: Option<([f32; 3], [f32; 3])>,
    /// Points [`read_scan`] drops (NaN, ±inf, (0, 0, 0) pixels of a sensor grid);
    /// [`read`] refuses a file with non-finite ones. Included in `points`.
    pub invalid_points: usize,
    /// Name and point count of each scan, for E57 files; empty for other formats.
    pub scans: Vec<(Option<String>, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pcd,
    Ply,
    Obj,
    Stl,
    Xyz,
    E57,
    /// LAS and LAZ (the header says which).
    Las,
}

fn detect(path: &Path, bytes: &[u8]) -> Format {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pcd" => Format::Pcd,
        "ply" => Format::Ply,
        "obj" => Format::Obj,
        "stl" => Format::Stl,
        "e57" => Format::E57,
        "las" | "laz" => Format::Las,
        "xyz" | "csv" | "pts" | "asc" | "xyzn" => Format::Xyz,
        _ => sniff(bytes),
    }
}

/// Guess the format from the first bytes, for `.txt` and unknown extensions.
fn sniff(bytes: &[u8]) -> Format {
    // Binary containers with a fixed signature first.
    if bytes.starts_with(b"ASTM-E57") {
        return Format::E57;
    }
    if bytes.starts_with(b"LASF") {
        return Format::Las;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && (!l.starts_with('#') || l.starts_with("# .PCD")))
        .unwrap_or("");
    let word = first.split_whitespace().next().unwrap_or("");
    if word == "ply" {
        Format::Ply
    } else if first.starts_with("# .PCD") || matches!(word, "VERSION" | "FIELDS") {
        Format::Pcd
    } else if (word == "solid" && text.contains("facet"))
        || (std::str::from_utf8(head).is_err() && stl::is_binary(bytes))
    {
        Format::Stl
    } else if matches!(
        word,
        "v" | "vn" | "vt" | "f" | "o" | "g" | "mtllib" | "usemtl" | "s"
    ) {
        Format::Obj
    } else {
        Format::Xyz
    }
}

fn load(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The reader's result as the file holds it: non-finite points are still in.
fn parse(path: &Path, bytes: &[u8], max_points: usize, scans: E57Scans) -> Result<common::Parsed> {
    match detect(path, bytes) {
        Format::E57 => e57::read(path, bytes, max_points, scans),
        Format::Las => las::read(path, bytes, max_points),
        Format::Pcd => pcd::read(path, bytes, max_points),
        Format::Ply => ply::read(path, bytes, max_points),
        Format::Obj => obj::read(path, bytes, max_points),
        Format::Stl => stl::read(path, bytes, max_points),
        Format::Xyz => xyz::read(path, bytes, max_points),
    }
}

/// Read any supported point-cloud or mesh file (PCD, PLY, OBJ, STL, XYZ/TXT/CSV, E57
/// (all scans), LAS/LAZ), with at most [`DEFAULT_MAX_POINTS`] points. A non-finite
/// coordinate is an error; scanner files with invalid pixels go through [`read_scan`].
pub fn read(path: &Path) -> Result<PointCloud> {
    read_with_limit(path, DEFAULT_MAX_POINTS)
}

/// [`read`] with a different cap on the number of points; a file over it is an error.
pub fn read_with_limit(path: &Path, max_points: usize) -> Result<PointCloud> {
    let bytes = load(path)?;
    parse_bytes(path, &bytes, max_points)
}

/// Parse bytes as if they were the file `path` (the name picks the format). Lets
/// callers and fuzzers feed data that never touched the disk.
pub fn parse_bytes(path: &Path, bytes: &[u8], max_points: usize) -> Result<PointCloud> {
    let cloud = parse(path, bytes, max_points, E57Scans::All)?.cloud;
    common::check_finite(path, &cloud.points)?;
    Ok(cloud)
}

/// How [`read_scan`] reads a scanner's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Cap on the points in the file, invalid ones included.
    pub max_points: usize,
    /// Which scans of an E57 file (ignored for other formats).
    pub e57_scans: E57Scans,
    /// When exact (0, 0, 0) points are missing pixels.
    pub origin: OriginPolicy,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_points: DEFAULT_MAX_POINTS,
            e57_scans: E57Scans::All,
            origin: OriginPolicy::Auto,
        }
    }
}

/// A scan as [`read_scan`] returns it.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The valid points (normals and labels follow them), in file order.
    pub cloud: PointCloud,
    /// What was dropped, and each kept point's index in the file.
    pub dropped: DroppedPoints,
    /// Units the format itself fixes (E57: metres); [`Units::Unknown`] otherwise.
    pub units: Units,
    /// e.g. "E57 (scan 0 of 2)", "LAZ 1.4 point format 6".
    pub format: String,
}

/// Read a scanner's file: invalid points are dropped with a count instead of failing
/// the read (see [`crate::scene::invalid`]). Files without invalid points give the
/// same cloud as [`read`]. A mesh with invalid vertices is an error.
pub fn read_scan(path: &Path, opts: &ScanOptions) -> Result<Scan> {
    let bytes = load(path)?;
    parse_scan_bytes(path, &bytes, opts)
}

/// [`read_scan`] on bytes that never touched the disk (the name picks the format).
pub fn parse_scan_bytes(path: &Path, bytes: &[u8], opts: &ScanOptions) -> Result<Scan> {
    let format_kind = detect(path, bytes);
    let p = parse(path, bytes, opts.max_points, opts.e57_scans)?;
    let (cloud, dropped) = drop_invalid(p.cloud, p.organized, opts.origin);
    if cloud.is_mesh() && dropped.dropped() > 0 {
        common::check_finite(path, &cloud.points)?;
        return Err(Error::format(
            path,
            format!(
                "mesh has {} vertices at (0, 0, 0) taken for missing pixels",
                dropped.origin
            ),
        ));
    }
    Ok(Scan {
        cloud,
        dropped,
        units: if format_kind == Format::E57 {
            Units::Meters
        } else {
            Units::Unknown
        },
        format: p.format,
    })
}

/// Read a ground-truth file: one row per point, `x y z label` separated by commas or
/// whitespace. The returned cloud has `labels` set.
pub fn read_gt(path: &Path) -> Result<PointCloud> {
    let bytes = load(path)?;
    xyz::read_gt(path, &bytes, DEFAULT_MAX_POINTS)
}

/// Describe a file: format variant, fields, counts, bounding box. Reads the whole file,
/// so it also validates it.
pub fn inspect(path: &Path) -> Result<FileInfo> {
    let bytes = load(path)?;
    let p = parse(path, &bytes, DEFAULT_MAX_POINTS, E57Scans::All)?;
    let scans = if detect(path, &bytes) == Format::E57 {
        e57::list(path, &bytes)?
    } else {
        Vec::new()
    };
    let (format, fields, faces) = (p.format, p.fields, p.cloud.faces.len());
    let points = p.cloud.points.len();
    let has_normals = p.cloud.normals.is_some();
    let has_labels = p.cloud.labels.is_some();
    let (valid, dropped) = drop_invalid(p.cloud, p.organized, OriginPolicy::Auto);
    if faces > 0 && dropped.non_finite > 0 {
        common::check_finite(path, &valid.points)?;
    }
    Ok(FileInfo {
        format,
        fields,
        points,
        faces,
        has_normals,
        has_labels,
        bbox: if faces > 0 && dropped.dropped() > 0 {
            None
        } else {
            valid.bbox()
        },
        invalid_points: dropped.dropped(),
        scans,
    })
}

/// Write a cloud or mesh as PLY (binary little-endian when `binary`, else ascii) with
/// normals, faces and labels (`label` uchar) when present, and optional colours.
pub fn write_ply(
    path: &Path,
    cloud: &PointCloud,
    colors: Option<&[[u8; 3]]>,
    binary: bool,
) -> Result<()> {
    ply::write(path, cloud, colors, binary)
}

/// [`write_ply`]'s bytes without a file (binary little-endian when `binary`).
pub fn encode_ply(cloud: &PointCloud, colors: Option<&[[u8; 3]]>, binary: bool) -> Result<Vec<u8>> {
    ply::encode(cloud, colors, binary)
}

/// Write a cloud as PCD v0.7 in the chosen DATA mode (normals and labels when present;
/// faces are not representable and are dropped).
pub fn write_pcd(path: &Path, cloud: &PointCloud, mode: PcdData) -> Result<()> {
    pcd::write(path, cloud, mode)
}

/// Writers refuse clouds whose parts disagree rather than write a corrupt file.
fn check_lengths(cloud: &PointCloud) -> Result<()> {
    let n = cloud.points.len();
    if cloud.normals.as_ref().is_some_and(|v| v.len() != n) {
        return Err(Error::Invalid(format!(
            "cloud has {n} points but a different number of normals"
        )));
    }
    if cloud.labels.as_ref().is_some_and(|v| v.len() != n) {
        return Err(Error::Invalid(format!(
            "cloud has {n} points but a different number of labels"
        )));
    }
    if cloud.faces.iter().flatten().any(|&v| v as usize >= n) {
        return Err(Error::Invalid(format!(
            "cloud has a face index beyond its {n} points"
        )));
    }
    Ok(())
}
