//! PCD (Point Cloud Library) files, v0.7 and the older v0.5/v0.6 headers.
//!
//! Written by hand rather than with `pcd-rs`: that crate (0.13) rejects pre-0.7 headers
//! and allocates the compressed block at the size the header claims, and we need any
//! field order, any scalar type, COUNT > 1, and errors that name the file before any
//! large allocation. LZF itself comes from the `lzf` crate.

use super::common::{self, Cursor, Parsed, Scalar};
use super::PcdData;
use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Headers are a dozen short lines; anything longer is not a PCD header.
const MAX_HEADER: usize = 64 * 1024;

/// LZF never expands more than ~88x (a 3-byte back reference yields at most 264
/// bytes); a header claiming more is lying, and we refuse before allocating.
const MAX_LZF_RATIO: usize = 100;

struct Field {
    name: String,
    ty: Scalar,
    count: usize,
    /// Byte offset of this field inside one row-major point record.
    offset: usize,
}

struct Header {
    fields: Vec<Field>,
    points: usize,
    /// `HEIGHT` > 1: an organized cloud (one point per sensor pixel).
    organized: bool,
    data: String,
    /// Bytes per point record (sum of SIZE x COUNT).
    record: usize,
}

impl Header {
    fn point_size(&self) -> usize {
        self.record
    }

    fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

fn scalar_of(path: &Path, ty: &str, size: usize) -> Result<Scalar> {
    Ok(match (ty, size) {
        ("F", 4) => Scalar::F32,
        ("F", 8) => Scalar::F64,
        ("I", 1) => Scalar::I8,
        ("I", 2) => Scalar::I16,
        ("I", 4) => Scalar::I32,
        ("I", 8) => Scalar::I64,
        ("U", 1) => Scalar::U8,
        ("U", 2) => Scalar::U16,
        ("U", 4) => Scalar::U32,
        ("U", 8) => Scalar::U64,
        _ => {
            return Err(Error::format(
                path,
                format!("field type {ty} with size {size} is not a PCD scalar type"),
            ))
        }
    })
}

fn parse_usize(path: &Path, key: &str, tok: &str) -> Result<usize> {
    tok.parse::<usize>().map_err(|_| {
        Error::format(
            path,
            format!("{key} value '{}' is not a count", common::shorten(tok)),
        )
    })
}

fn parse_header(path: &Path, lines: &[String]) -> Result<Header> {
    let mut names: Vec<String> = Vec::new();
    let mut sizes: Option<Vec<usize>> = None;
    let mut types: Option<Vec<String>> = None;
    let mut counts: Option<Vec<usize>> = None;
    let (mut width, mut height, mut points) = (None, None, None);
    let mut data = None;
    for line in lines {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut toks = line.split_whitespace();
        let key = toks.next().unwrap_or_default().to_ascii_uppercase();
        let rest: Vec<&str> = toks.collect();
        let one = |k: &str| -> Result<usize> {
            let t = rest
                .first()
                .ok_or_else(|| Error::format(path, format!("{k} has no value")))?;
            parse_usize(path, k, t)
        };
        match key.as_str() {
            "VERSION" | "VIEWPOINT" => {}
            // v0.5 calls the field list COLUMNS.
            "FIELDS" | "COLUMNS" => names = rest.iter().map(|s| s.to_string()).collect(),
            "SIZE" => {
                sizes = Some(
                    rest.iter()
                        .map(|t| parse_usize(path, "SIZE", t))
                        .collect::<Result<_>>()?,
                )
            }
            "TYPE" => types = Some(rest.iter().map(|s| s.to_ascii_uppercase()).collect()),
            "COUNT" => {
                counts = Some(
                    rest.iter()
                        .map(|t| parse_usize(path, "COUNT", t))
                        .collect::<Result<_>>()?,
                )
            }
            "WIDTH" => width = Some(one("WIDTH")?),
            "HEIGHT" => height = Some(one("HEIGHT")?),
            "POINTS" => points = Some(one("POINTS")?),
            "DATA" => data = rest.first().map(|s| s.to_ascii_lowercase()),
            other => {
                return Err(Error::format(
                    path,
                    format!("unknown PCD header line '{}'", common::shorten(other)),
                ))
            }
        }
    }
    if names.is_empty() {
        return Err(Error::format(path, "PCD header has no FIELDS line"));
    }
    let n = names.len();
    // Old headers may omit SIZE/TYPE/COUNT; PCL's defaults are 4-byte floats, count 1.
    let sizes = sizes.unwrap_or_else(|| vec![4; n]);
    let types = types.unwrap_or_else(|| vec!["F".to_string(); n]);
    let counts = counts.unwrap_or_else(|| vec![1; n]);
    if sizes.len() != n || types.len() != n || counts.len() != n {
        return Err(Error::format(
            path,
            format!(
                "PCD header lists {n} fields but {} sizes, {} types, {} counts",
                sizes.len(),
                types.len(),
                counts.len()
            ),
        ));
    }
    let mut fields = Vec::with_capacity(n);
    let mut offset = 0usize;
    for i in 0..n {
        let ty = scalar_of(path, &types[i], sizes[i])?;
        if counts[i] == 0 || counts[i] > 1 << 16 {
            return Err(Error::format(
                path,
                format!("field {} has COUNT {}", names[i], counts[i]),
            ));
        }
        fields.push(Field {
            name: names[i].clone(),
            ty,
            count: counts[i],
            offset,
        });
        offset += ty.size() * counts[i];
    }
    let from_dims = match (width, height) {
        (Some(w), Some(h)) => Some(
            w.checked_mul(h)
                .ok_or_else(|| Error::format(path, format!("WIDTH {w} x HEIGHT {h} overflows")))?,
        ),
        (Some(w), None) => Some(w),
        _ => None,
    };
    let points = match (points, from_dims) {
        (Some(p), Some(d)) if p != d => {
            return Err(Error::format(
                path,
                format!("POINTS {p} disagrees with WIDTH x HEIGHT = {d}"),
            ))
        }
        (Some(p), _) => p,
        (None, Some(d)) => d,
        (None, None) => return Err(Error::format(path, "PCD header has no POINTS or WIDTH")),
    };
    let data = data.ok_or_else(|| Error::format(path, "PCD header has no DATA line"))?;
    Ok(Header {
        fields,
        points,
        organized: height.is_some_and(|h| h > 1),
        data,
        record: offset,
    })
}

/// Where each point's value of field `f`, element 0, lives in the decoded buffer.
enum Layout {
    /// One record per point, fields side by side (DATA binary).
    RowMajor,
    /// All points of field 0, then all of field 1, ... (DATA binary_compressed).
    ColumnMajor,
}

fn value(h: &Header, buf: &[u8], layout: &Layout, field: usize, point: usize) -> f64 {
    let f = &h.fields[field];
    let start = match layout {
        Layout::RowMajor => point * h.record + f.offset,
        Layout::ColumnMajor => h.points * f.offset + point * f.ty.size() * f.count,
    };
    f.ty.decode(&buf[start..start + f.ty.size()], false)
}

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file"));
    }
    let (lines, body) = common::split_header(
        path,
        bytes,
        |l| l.to_ascii_uppercase().starts_with("DATA"),
        MAX_HEADER,
    )?;
    let h = parse_header(path, &lines)?;
    common::check_limit(path, "PCD header", h.points, max_points)?;
    let (x, y, z) = match (h.field("x"), h.field("y"), h.field("z")) {
        (Some(x), Some(y), Some(z)) => (x, y, z),
        _ => return Err(Error::format(path, "PCD has no x, y and z fields")),
    };
    let normal = match (
        h.field("normal_x"),
        h.field("normal_y"),
        h.field("normal_z"),
    ) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    let label = h.field("label");
    // Declared before `values`, which borrows them.
    let ascii_rows;
    let decoded;
    let values: Box<dyn Fn(usize, usize) -> f64 + '_>;
    let format = format!("PCD {}", h.data);
    match h.data.as_str() {
        "ascii" => {
            ascii_rows = read_ascii(path, body, &h)?;
            let width: usize = h.fields.iter().map(|f| f.count).sum();
            let starts: Vec<usize> = h
                .fields
                .iter()
                .scan(0, |s, f| {
                    let at = *s;
                    *s += f.count;
                    Some(at)
                })
                .collect();
            let rows = &ascii_rows;
            values = Box::new(move |f, p| rows[p * width + starts[f]]);
        }
        "binary" => {
            let need = h
                .points
                .checked_mul(h.point_size())
                .ok_or_else(|| Error::format(path, "POINTS x point size overflows"))?;
            if body.len() < need {
                return Err(Error::format(
                    path,
                    format!(
                        "binary data is {} bytes, header needs {need} ({} points x {} bytes)",
                        body.len(),
                        h.points,
                        h.point_size()
                    ),
                ));
            }
            let hr = &h;
            values = Box::new(move |f, p| value(hr, body, &Layout::RowMajor, f, p));
        }
        "binary_compressed" => {
            decoded = decompress(path, body, &h)?;
            let (hr, buf) = (&h, &decoded);
            values = Box::new(move |f, p| value(hr, buf, &Layout::ColumnMajor, f, p));
        }
        other => {
            return Err(Error::format(
                path,
                format!("unknown PCD DATA mode '{}'", common::shorten(other)),
            ))
        }
    }
    let n = h.points;
    let points: Vec<[f32; 3]> = (0..n)
        .map(|p| {
            [
                values(x, p) as f32,
                values(y, p) as f32,
                values(z, p) as f32,
            ]
        })
        .collect();
    let normals = normal.and_then(|[a, b, c]| {
        common::finite_normals(
            (0..n)
                .map(|p| {
                    [
                        values(a, p) as f32,
                        values(b, p) as f32,
                        values(c, p) as f32,
                    ]
                })
                .collect(),
        )
    });
    let labels = match label {
        Some(l) => Some(
            (0..n)
                .map(|p| common::label_u8(path, values(l, p), p))
                .collect::<Result<Vec<u8>>>()?,
        ),
        None => None,
    };
    let fields: Vec<String> = h.fields.iter().map(|f| f.name.clone()).collect();
    Ok(Parsed {
        cloud: PointCloud {
            points,
            normals,
            labels,
            faces: Vec::new(),
        },
        format,
        fields,
        organized: h.organized,
    })
}

/// DATA ascii: one line per point, one token per field element. Returns all values
/// row-major (points x elements).
fn read_ascii(path: &Path, body: &[u8], h: &Header) -> Result<Vec<f64>> {
    let text = common::utf8(path, body)?;
    let width: usize = h.fields.iter().map(|f| f.count).sum();
    // A value needs at least 2 bytes ("0 "), so the body bounds the real count.
    let mut out = Vec::with_capacity(common::capacity(
        h.points.saturating_mul(width),
        body.len(),
        2,
    ));
    let mut rows = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if rows == h.points {
            break;
        }
        let before = out.len();
        for tok in line.split_whitespace() {
            out.push(common::number(path, tok, i + 1)?);
        }
        if out.len() - before != width {
            return Err(Error::format(
                path,
                format!(
                    "data row {} has {} values, the header's fields need {width}",
                    rows + 1,
                    out.len() - before
                ),
            ));
        }
        rows += 1;
    }
    if rows < h.points {
        return Err(Error::format(
            path,
            format!("header claims {} points but the data has {rows}", h.points),
        ));
    }
    Ok(out)
}

/// DATA binary_compressed: u32 compressed size, u32 uncompressed size, then an LZF
/// block that decodes to the fields stored one after another (column-major).
fn decompress(path: &Path, body: &[u8], h: &Header) -> Result<Vec<u8>> {
    let mut c = Cursor::new(body);
    let mut u32_at = |what: &str| -> Result<usize> {
        c.scalar(Scalar::U32, false)
            .map(|v| v as usize)
            .ok_or_else(|| Error::format(path, format!("binary_compressed data has no {what}")))
    };
    let packed = u32_at("compressed size")?;
    let unpacked = u32_at("uncompressed size")?;
    let need = h
        .points
        .checked_mul(h.point_size())
        .ok_or_else(|| Error::format(path, "POINTS x point size overflows"))?;
    if unpacked != need {
        return Err(Error::format(
            path,
            format!(
                "uncompressed size {unpacked} does not match {} points x {} bytes",
                h.points,
                h.point_size()
            ),
        ));
    }
    if need == 0 {
        return Ok(Vec::new());
    }
    let rest = body.get(8..).unwrap_or_default();
    let block = &rest[..packed.min(rest.len())];
    if block.len() < packed {
        return Err(Error::format(
            path,
            format!(
                "compressed block is {} bytes, header says {packed}",
                block.len()
            ),
        ));
    }
    if unpacked > packed.saturating_mul(MAX_LZF_RATIO) {
        return Err(Error::format(
            path,
            format!("{packed} compressed bytes cannot hold {unpacked} bytes of points"),
        ));
    }
    let out = lzf::decompress(block, unpacked)
        .map_err(|e| Error::format(path, format!("LZF data is corrupt: {e:?}")))?;
    if out.len() != unpacked {
        return Err(Error::format(
            path,
            format!(
                "LZF data decodes to {} bytes, expected {unpacked}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Write `cloud` as PCD v0.7 with fields x y z [normal_x normal_y normal_z] [label].
/// Labels are stored as U4 like PCL's `PointXYZL`.
pub fn write(path: &Path, cloud: &PointCloud, mode: PcdData) -> Result<()> {
    super::check_lengths(cloud)?;
    let n = cloud.points.len();
    let mut names = vec!["x", "y", "z"];
    let mut sizes = vec!["4"; 3];
    let mut types = vec!["F"; 3];
    if cloud.normals.is_some() {
        names.extend(["normal_x", "normal_y", "normal_z"]);
        sizes.extend(["4"; 3]);
        types.extend(["F"; 3]);
    }
    if cloud.labels.is_some() {
        names.push("label");
        sizes.push("4");
        types.push("U");
    }
    let mode_name = match mode {
        PcdData::Ascii => "ascii",
        PcdData::Binary => "binary",
        PcdData::BinaryCompressed => "binary_compressed",
    };
    let k = names.len();
    let header = format!(
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS {}\nSIZE {}\nTYPE {}\nCOUNT {}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {mode_name}\n",
        names.join(" "),
        sizes.join(" "),
        types.join(" "),
        vec!["1"; k].join(" "),
    );
    // Column c of point i, as f32 bits or u32 label.
    let column = |c: usize, i: usize| -> [u8; 4] {
        if c < 3 {
            cloud.points[i][c].to_le_bytes()
        } else if c < 6 && cloud.normals.is_some() {
            cloud
                .normals
                .as_ref()
                .map_or([0; 4], |nr| nr[i][c - 3].to_le_bytes())
        } else {
            cloud
                .labels
                .as_ref()
                .map_or([0; 4], |l| u32::from(l[i]).to_le_bytes())
        }
    };
    // binary_compressed needs the whole column-major block in memory to compress it.
    let packed = match mode {
        PcdData::BinaryCompressed => {
            let mut soa = Vec::with_capacity(n * k * 4);
            for c in 0..k {
                for i in 0..n {
                    soa.extend_from_slice(&column(c, i));
                }
            }
            let raw_len = u32::try_from(soa.len()).map_err(|_| {
                Error::Invalid(format!(
                    "{}: {n} points are too many for PCD binary_compressed (4 GiB limit)",
                    path.display()
                ))
            })?;
            Some((raw_len, lzf_pack(&soa)))
        }
        _ => None,
    };
    super::atomic::write_atomic_with(path, |w| {
        w.write_all(header.as_bytes())?;
        match (mode, &packed) {
            (PcdData::Ascii, _) => {
                for (i, p) in cloud.points.iter().enumerate() {
                    write!(w, "{} {} {}", p[0], p[1], p[2])?;
                    if let Some(nr) = &cloud.normals {
                        write!(w, " {} {} {}", nr[i][0], nr[i][1], nr[i][2])?;
                    }
                    if let Some(l) = &cloud.labels {
                        write!(w, " {}", l[i])?;
                    }
                    writeln!(w)?;
                }
            }
            (PcdData::Binary, _) => {
                for i in 0..n {
                    for c in 0..k {
                        w.write_all(&column(c, i))?;
                    }
                }
            }
            (_, Some((raw_len, block))) => {
                w.write_all(&(block.len() as u32).to_le_bytes())?;
                w.write_all(&raw_len.to_le_bytes())?;
                w.write_all(block)?;
            }
            (PcdData::BinaryCompressed, None) => {}
        }
        Ok(())
    })
}

/// LZF-compress; when the data does not compress (the `lzf` crate then refuses), emit
/// a valid LZF stream of literal runs (control byte = run length - 1, max 32), which
/// every LZF decoder accepts.
fn lzf_pack(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    if let Ok(p) = lzf::compress(data) {
        return p;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 1);
    for run in data.chunks(32) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
    out
}
