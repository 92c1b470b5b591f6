//! Pieces every format reader shares: the parsed result with its description, checks
//! on untrusted values (finite coordinates, labels, face indices, point caps), bounded
//! pre-allocation, binary scalar decoding and polygon fans.

use crate::{Error, PointCloud, Result};
use std::path::Path;

/// What a reader returns: the cloud plus how the file described itself, which
/// [`super::inspect`] reports.
pub(crate) struct Parsed {
    pub cloud: PointCloud,
    /// e.g. "PCD binary_compressed", "PLY ascii".
    pub format: String,
    /// Field / property / column names as the file calls them.
    pub fields: Vec<String>,
    /// The file is a sensor grid (PCD `HEIGHT` > 1, E57 row/column indices): exact
    /// (0, 0, 0) points are missing pixels there (see `scene::invalid`).
    pub organized: bool,
}

/// Never reserve more than this many items up front, whatever a header claims; vectors
/// still grow past it when the data really is there.
const MAX_PREALLOC: usize = 1 << 20;

/// A capacity for `claimed` items that cannot exceed what `available` bytes could hold
/// at `min_item_bytes` each, nor [`MAX_PREALLOC`]: a lying header cannot make us allocate.
pub(crate) fn capacity(claimed: usize, available: usize, min_item_bytes: usize) -> usize {
    claimed
        .min(available / min_item_bytes.max(1))
        .min(MAX_PREALLOC)
}

pub(crate) fn check_limit(path: &Path, what: &str, n: usize, max_points: usize) -> Result<()> {
    if n > max_points {
        return Err(Error::TooManyPoints {
            path: path.to_path_buf(),
            what: what.to_string(),
            claimed: n,
            limit: max_points,
        });
    }
    Ok(())
}

/// Run a third-party decoder on untrusted bytes, turning a panic inside it into an
/// error naming the file. The `laz` decoder ports C++ code that relies on integer
/// wrap-around; with overflow checks on (debug builds) corrupt data makes it panic, and
/// no decoder of compressed data can promise never to index out of range on garbage.
/// The panic hook still prints the panic; the caller gets an `Err`, never an unwind.
pub(crate) fn guard_decoder<T>(
    path: &Path,
    what: &str,
    decode: impl FnOnce() -> Result<T>,
) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::format(
            path,
            format!("{what} decoder failed on corrupt data ({why})"),
        ))
    })
}

/// Reject NaN / infinite coordinates (they poison every distance computation later).
pub(crate) fn check_finite(path: &Path, points: &[[f32; 3]]) -> Result<()> {
    if let Some(i) = points.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        let p = points[i];
        return Err(Error::format(
            path,
            format!(
                "point {i} has a non-finite coordinate ({}, {}, {})",
                p[0], p[1], p[2]
            ),
        ));
    }
    Ok(())
}

/// Normals with any NaN / infinite entry are dropped as a whole (PCL writes NaN normals
/// where it could not estimate one); geometry recomputes them.
pub(crate) fn finite_normals(normals: Vec<[f32; 3]>) -> Option<Vec<[f32; 3]>> {
    if normals.iter().flatten().all(|v| v.is_finite()) {
        Some(normals)
    } else {
        None
    }
}

/// A label value as read from a file (possibly stored as float) → `u8`.
pub(crate) fn label_u8(path: &Path, v: f64, index: usize) -> Result<u8> {
    if (0.0..=255.0).contains(&v) && v.fract() == 0.0 {
        Ok(v as u8)
    } else {
        Err(Error::format(
            path,
            format!("label of point {index} is {v}, expected an integer 0..=255"),
        ))
    }
}

/// A count or index read as a number: a non-negative integer that fits `u32`.
pub(crate) fn as_u32(v: f64) -> Option<u32> {
    ((0.0..=u32::MAX as f64).contains(&v) && v.fract() == 0.0).then_some(v as u32)
}

/// Every face index must point at an existing vertex.
pub(crate) fn check_faces(path: &Path, faces: &[[u32; 3]], n_points: usize) -> Result<()> {
    for (i, f) in faces.iter().enumerate() {
        if let Some(&bad) = f.iter().find(|&&v| v as usize >= n_points) {
            return Err(Error::format(
                path,
                format!("face {i} uses vertex {bad}, but there are only {n_points} vertices"),
            ));
        }
    }
    Ok(())
}

/// Triangulate a convex polygon as a fan around its first vertex (what every mesh tool
/// does for the quads and n-gons these formats carry). Fewer than 3 vertices → nothing.
pub(crate) fn fan(poly: &[u32], out: &mut Vec<[u32; 3]>) {
    for k in 1..poly.len().saturating_sub(1) {
        out.push([poly[0], poly[k], poly[k + 1]]);
    }
}

/// The file as text, or an error naming the first byte that is not UTF-8.
pub(crate) fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::format(
            path,
            format!("not valid UTF-8 text at byte {}", e.valid_up_to()),
        )
    })
}

/// A parsed number token, with a message naming the token when it is not a number.
pub(crate) fn number(path: &Path, tok: &str, line: usize) -> Result<f64> {
    tok.parse::<f64>().map_err(|_| {
        Error::format(
            path,
            format!("line {line}: '{}' is not a number", shorten(tok)),
        )
    })
}

/// Keep error messages short and printable when a token is garbage.
pub(crate) fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

/// Scalar types of binary point formats (PCD TYPE/SIZE, PLY property types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Scalar {
    pub fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }

    /// Decode one value from exactly `self.size()` bytes.
    pub fn decode(self, b: &[u8], big_endian: bool) -> f64 {
        macro_rules! get {
            ($t:ty, $n:expr) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                if big_endian {
                    <$t>::from_be_bytes(a) as f64
                } else {
                    <$t>::from_le_bytes(a) as f64
                }
            }};
        }
        match self {
            Scalar::I8 => b[0] as i8 as f64,
            Scalar::U8 => b[0] as f64,
            Scalar::I16 => get!(i16, 2),
            Scalar::U16 => get!(u16, 2),
            Scalar::I32 => get!(i32, 4),
            Scalar::U32 => get!(u32, 4),
            Scalar::I64 => get!(i64, 8),
            Scalar::U64 => get!(u64, 8),
            Scalar::F32 => get!(f32, 4),
            Scalar::F64 => get!(f64, 8),
        }
    }
}

/// Reads fixed-size pieces off a byte slice, failing instead of panicking at the end.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub fn scalar(&mut self, t: Scalar, big_endian: bool) -> Option<f64> {
        self.take(t.size()).map(|b| t.decode(b, big_endian))
    }
}

/// Split a file into its header (text lines up to and including the line starting with
/// `end_keyword`) and the remaining body bytes. Header lines are returned trimmed.
pub(crate) fn split_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    is_last: impl Fn(&str) -> bool,
    max_header: usize,
) -> Result<(Vec<String>, &'a [u8])> {
    let mut lines = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        if pos > max_header {
            return Err(Error::format(
                path,
                format!("header longer than {max_header} bytes, file is not what it claims"),
            ));
        }
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| pos + i);
        let line = utf8(path, &bytes[pos..end])
            .map_err(|_| Error::format(path, format!("header is not text near byte {pos}")))?
            .trim()
            .to_string();
        pos = (end + 1).min(bytes.len());
        let last = is_last(&line);
        lines.push(line);
        if last {
            return Ok((lines, &bytes[pos..]));
        }
    }
    Err(Error::format(path, "header ends before its end marker"))
}
