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
    common::guard_decoder(path, "LAS/LAZ", || {
        precheck(path, bytes, max_points)?;
        decode(path, bytes, max_points)
    })
}

fn decode(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
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

/// Checks on the raw header before the crate sees it: the point count against the cap,
/// and `offset + count x record length` without overflow (the crate computes it
/// unchecked, which panics in debug builds and wraps in release ones).
fn precheck(path: &Path, bytes: &[u8], max_points: usize) -> Result<()> {
    let raw = las::raw::Header::read_from(Cursor::new(bytes))
        .map_err(|e| Error::format(path, format!("LAS header: {e}")))?;
    // The crate's rule (LAS 1.4 R15): the legacy 32-bit count unless it is 0.
    let count = match (raw.number_of_point_records, raw.large_file) {
        (0, Some(lf)) => lf.number_of_point_records,
        (legacy, _) => u64::from(legacy),
    };
    common::check_limit(
        path,
        "LAS header",
        usize::try_from(count).unwrap_or(usize::MAX),
        max_points,
    )?;
    count
        .checked_mul(u64::from(raw.point_data_record_length))
        .and_then(|n| n.checked_add(u64::from(raw.offset_to_point_data)))
        .map(|_| ())
        .ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "LAS header claims {count} points of {} bytes, past any file size",
                    raw.point_data_record_length
                ),
            )
        })?;
    if let Some(evlr) = raw.evlr {
        check_evlrs(path, bytes, evlr.start_of_first_evlr, evlr.number_of_evlrs)?;
    }
    // Bit 7 of the point format marks LAZ (bit 6 in some older writers).
    if raw.point_data_record_format & 0xC0 != 0 {
        check_chunk_table(path, bytes, u64::from(raw.offset_to_point_data), count)?;
        if let Some(vlr) = check_laszip_items(path, bytes, raw.point_data_record_length)? {
            check_chunk_points(
                path,
                bytes,
                u64::from(raw.offset_to_point_data),
                count,
                &vlr,
            )?;
        }
    }
    Ok(())
}

/// LAS 1.4's extended VLRs carry a 64-bit payload length, and the `las` crate sizes a
/// buffer by it before reading (`Vec::resize`): a lying length panics with "capacity
/// overflow" past `isize::MAX`, or below it asks for up to exabytes, which aborts the
/// process instead of failing. So every EVLR whose 60-byte header lies in the file must
/// fit in the file with its payload. The walk stops quietly at the first header past
/// the end (the crate reads only what is there, and reports a short read itself).
fn check_evlrs(path: &Path, bytes: &[u8], start: u64, count: u32) -> Result<()> {
    // reserved u16, user id [u8; 16], record id u16, then the length: byte 20.
    const HEADER: u64 = 60;
    const LENGTH_AT: u64 = 20;
    let size = bytes.len() as u64;
    let mut at = start;
    for i in 0..count {
        let Some(end_of_header) = at.checked_add(HEADER).filter(|&e| e <= size) else {
            return Ok(());
        };
        let l = (at + LENGTH_AT) as usize;
        let length = u64::from_le_bytes(bytes[l..l + 8].try_into().unwrap_or([0xFF; 8]));
        match end_of_header.checked_add(length) {
            Some(end) if end <= size => at = end,
            _ => {
                return Err(Error::format(
                    path,
                    format!(
                        "LAS: extended VLR {} (at byte {at}) claims {length} bytes, past the \
                         end of the file ({size} bytes)",
                        i + 1
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The LAZ chunk table's count sizes an allocation in the `laz` crate before any chunk
/// is read. Every chunk holds at least one point, stored raw (20 bytes or more) at the
/// chunk's start, so a table claiming more chunks than points or than the file has
/// 20-byte pieces is a lie. The table is found as `laz` finds it: through the 64-bit
/// offset at the start of the point data, or the file's last 8 bytes when that offset
/// was never filled in.
fn check_chunk_table(path: &Path, bytes: &[u8], data_start: u64, points: u64) -> Result<()> {
    let i64_at = |at: u64| -> Option<i64> {
        let at = usize::try_from(at).ok()?;
        let b = bytes.get(at..at.checked_add(8)?)?;
        Some(i64::from_le_bytes(b.try_into().ok()?))
    };
    let Some(mut table) = i64_at(data_start) else {
        return Ok(()); // the crate reports the missing bytes itself
    };
    if table <= data_start as i64 {
        match i64_at((bytes.len() as u64).saturating_sub(8)) {
            Some(t) if t > data_start as i64 => table = t,
            _ => return Ok(()),
        }
    }
    let Some(n) = usize::try_from(table)
        .ok()
        .and_then(|t| bytes.get(t.checked_add(4)?..t.checked_add(8)?))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return Ok(());
    };
    let n = u64::from(n);
    if n > points || n > bytes.len() as u64 / 20 {
        return Err(Error::format(
            path,
            format!(
                "LAZ chunk table claims {n} chunks for {points} points in {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// The LASzip VLR (user "laszip encoded", record 22204) lists the compressed point
/// items; `laz` expects at least one and panics on an empty list, so it is checked here:
/// `num_items` is the u16 at byte 32 of the record, each item 6 bytes after byte 34.
/// Returns the record's bytes when it passes (None when the file has none).
fn check_laszip_items(path: &Path, bytes: &[u8], record_length: u16) -> Result<Option<Vec<u8>>> {
    let Ok(header) = las::Header::new(Cursor::new(bytes)) else {
        return Ok(None); // the crate reports it when it reads the same header
    };
    let Some(vlr) = header
        .all_vlrs()
        .find(|v| v.user_id == "laszip encoded" && v.record_id == 22204)
    else {
        return Ok(None);
    };
    let d = &vlr.data;
    let items = d.get(32..34).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let n = match items {
        Some(n) if n > 0 && d.len() >= 34 + 6 * n as usize => n as usize,
        _ => {
            return Err(Error::format(
                path,
                "LAZ: the LASzip record lists no point items (or fewer bytes than it claims)",
            ))
        }
    };
    // Each item is (type, size, version), u16 each. `laz` splits every point record at
    // the items' declared sizes but decodes each fixed item at its type's own size, so a
    // declared size other than the type's, or items that do not add up to the point
    // record, make it slice past the record (panics in the crate, found by the fuzz run).
    let item = |i: usize| {
        let at = 34 + 6 * i;
        let word = |k: usize| u16::from_le_bytes([d[at + k], d[at + k + 1]]);
        (word(0), word(2))
    };
    let mut sizes = 0u64;
    for (kind, size) in (0..n).map(item) {
        if let Some(fixed) = laszip_item_size(kind).filter(|&f| f != size) {
            return Err(Error::format(
                path,
                format!(
                    "LAZ: the LASzip record gives item type {kind} {size} bytes; that type \
                     takes {fixed}"
                ),
            ));
        }
        sizes += u64::from(size);
    }
    if sizes != u64::from(record_length) {
        return Err(Error::format(
            path,
            format!(
                "LAZ: the LASzip record's items take {sizes} bytes, the point record has \
                 {record_length}"
            ),
        ));
    }
    Ok(Some(d.clone()))
}

/// The size the LASzip format fixes for an item type (its specification's table:
/// Point10, GPS time, RGB, wave packet of LAS ≤ 1.3; Point14, RGB, RGB + NIR, wave
/// packet of LAS 1.4); `None` for extra bytes (types 0 and 14, any size) and for types
/// `laz` does not know (it reports those itself).
fn laszip_item_size(kind: u16) -> Option<u16> {
    match kind {
        6 => Some(20),
        7 => Some(8),
        8 | 11 => Some(6),
        9 | 13 => Some(29),
        10 => Some(30),
        12 => Some(8),
        _ => None,
    }
}

/// With variable-size chunks, `laz` takes each chunk's point count from the chunk table
/// and indexes the table by chunk number as it decodes: a table whose chunks hold fewer
/// points than the header claims is indexed past its end (a panic in the crate, found
/// by the 10⁶-case fuzz run). The table is read with `laz`'s own reader and its counts
/// summed; a table it cannot read is left for the decoder to report.
fn check_chunk_points(
    path: &Path,
    bytes: &[u8],
    data_start: u64,
    points: u64,
    vlr: &[u8],
) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let Ok(vlr) = laz::LazVlr::read_from(vlr) else {
        return Ok(());
    };
    if !vlr.uses_variable_size_chunks() {
        return Ok(());
    }
    let mut src = Cursor::new(bytes);
    if src.seek(SeekFrom::Start(data_start)).is_err() {
        return Ok(());
    }
    let Ok(table) = laz::laszip::ChunkTable::read_from(&mut src, &vlr) else {
        return Ok(());
    };
    let held = table
        .as_ref()
        .iter()
        .fold(0u64, |sum, e| sum.saturating_add(e.point_count));
    if held < points {
        return Err(Error::format(
            path,
            format!(
                "LAZ: the chunk table's {} chunks hold {held} points, the header claims {points}",
                table.len()
            ),
        ));
    }
    Ok(())
}
