//! PLY (Stanford polygon) files: ascii, binary little and big endian.
//!
//! Written by hand rather than with `ply-rs-bw`: we only need the vertex and face
//! elements, must skip any other element in any encoding, triangulate polygons, enforce
//! the point cap and check every length against the data before allocating, with
//! errors that name the file. The format is small enough that this is ~300 lines.

use super::common::{self, Cursor, Parsed, Scalar};
use crate::{Error, PointCloud, Result};
use std::path::Path;

const MAX_HEADER: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Ascii,
    Little,
    Big,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Ascii => "ascii",
            Encoding::Little => "binary_little_endian",
            Encoding::Big => "binary_big_endian",
        }
    }
}

enum Kind {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

struct Property {
    name: String,
    kind: Kind,
}

struct Element {
    name: String,
    count: usize,
    props: Vec<Property>,
}

impl Element {
    fn prop(&self, names: &[&str]) -> Option<usize> {
        self.props
            .iter()
            .position(|p| names.iter().any(|n| p.name.eq_ignore_ascii_case(n)))
    }

    /// Fewest bytes one instance can take: bounds how many instances the data can hold.
    fn min_bytes(&self, enc: Encoding) -> usize {
        self.props
            .iter()
            .map(|p| match (enc, &p.kind) {
                (Encoding::Ascii, _) => 2,
                (_, Kind::Scalar(s)) => s.size(),
                (_, Kind::List { count, .. }) => count.size(),
            })
            .sum::<usize>()
            .max(1)
    }
}

fn scalar_of(path: &Path, name: &str) -> Result<Scalar> {
    Ok(match name {
        "char" | "int8" => Scalar::I8,
        "uchar" | "uint8" => Scalar::U8,
        "short" | "int16" => Scalar::I16,
        "ushort" | "uint16" => Scalar::U16,
        "int" | "int32" => Scalar::I32,
        "uint" | "uint32" => Scalar::U32,
        "float" | "float32" => Scalar::F32,
        "double" | "float64" => Scalar::F64,
        other => {
            return Err(Error::format(
                path,
                format!("unknown PLY property type '{}'", common::shorten(other)),
            ))
        }
    })
}

fn parse_header(path: &Path, lines: &[String]) -> Result<(Encoding, Vec<Element>)> {
    if lines.first().map(String::as_str) != Some("ply") {
        return Err(Error::format(path, "does not start with 'ply'"));
    }
    let mut enc = None;
    let mut elements: Vec<Element> = Vec::new();
    for line in &lines[1..] {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.as_slice() {
            [] | ["comment", ..] | ["obj_info", ..] | ["end_header"] => {}
            ["format", f, _version] => {
                enc = Some(match *f {
                    "ascii" => Encoding::Ascii,
                    "binary_little_endian" => Encoding::Little,
                    "binary_big_endian" => Encoding::Big,
                    other => {
                        return Err(Error::format(
                            path,
                            format!("unknown PLY format '{}'", common::shorten(other)),
                        ))
                    }
                })
            }
            ["element", name, count] => elements.push(Element {
                name: name.to_string(),
                count: count.parse().map_err(|_| {
                    Error::format(
                        path,
                        format!(
                            "element {name} count '{}' is not a count",
                            common::shorten(count)
                        ),
                    )
                })?,
                props: Vec::new(),
            }),
            ["property", "list", count, item, name] => {
                let prop = Property {
                    name: name.to_string(),
                    kind: Kind::List {
                        count: scalar_of(path, count)?,
                        item: scalar_of(path, item)?,
                    },
                };
                push_prop(path, &mut elements, prop)?;
            }
            ["property", ty, name] => {
                let prop = Property {
                    name: name.to_string(),
                    kind: Kind::Scalar(scalar_of(path, ty)?),
                };
                push_prop(path, &mut elements, prop)?;
            }
            _ => {
                return Err(Error::format(
                    path,
                    format!("bad PLY header line '{}'", common::shorten(line)),
                ))
            }
        }
    }
    let enc = enc.ok_or_else(|| Error::format(path, "PLY header has no format line"))?;
    Ok((enc, elements))
}

fn push_prop(path: &Path, elements: &mut [Element], prop: Property) -> Result<()> {
    elements
        .last_mut()
        .ok_or_else(|| Error::format(path, "PLY property before any element"))?
        .props
        .push(prop);
    Ok(())
}

/// The body as a stream of numbers, whatever the encoding.
enum Source<'a> {
    Ascii {
        tokens: std::str::SplitAsciiWhitespace<'a>,
    },
    Binary {
        cursor: Cursor<'a>,
        big: bool,
    },
}

impl Source<'_> {
    /// The next value; on failure the message lacks context, which the caller adds
    /// (building context strings per value would cost more than the parsing).
    fn next(&mut self, ty: Scalar) -> std::result::Result<f64, String> {
        match self {
            Source::Ascii { tokens } => {
                let tok = tokens.next().ok_or("data ends early")?;
                tok.parse::<f64>()
                    .map_err(|_| format!("'{}' is not a number", common::shorten(tok)))
            }
            Source::Binary { cursor, big } => cursor
                .scalar(ty, *big)
                .ok_or_else(|| "data ends early".into()),
        }
    }

    fn remaining_hint(&self) -> usize {
        match self {
            Source::Ascii { .. } => usize::MAX,
            Source::Binary { cursor, .. } => cursor.remaining(),
        }
    }
}

/// A list length read from the file, checked to be a sane non-negative integer that the
/// remaining data could hold.
fn list_len(v: f64, item: Scalar, src: &Source) -> std::result::Result<usize, String> {
    let n = common::as_u32(v).ok_or_else(|| format!("list length {v}"))? as usize;
    if n.saturating_mul(item.size()) > src.remaining_hint() {
        return Err(format!("list length {n}, more than the data left"));
    }
    Ok(n)
}

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file"));
    }
    let (lines, body) = common::split_header(path, bytes, |l| l == "end_header", MAX_HEADER)?;
    let (enc, elements) = parse_header(path, &lines)?;
    let mut src = match enc {
        Encoding::Ascii => Source::Ascii {
            tokens: common::utf8(path, body)?.split_ascii_whitespace(),
        },
        Encoding::Little | Encoding::Big => Source::Binary {
            cursor: Cursor::new(body),
            big: enc == Encoding::Big,
        },
    };
    let vertex = elements
        .iter()
        .find(|e| e.name == "vertex")
        .ok_or_else(|| Error::format(path, "PLY has no vertex element"))?;
    common::check_limit(path, "PLY header", vertex.count, max_points)?;
    let fields: Vec<String> = vertex.props.iter().map(|p| p.name.clone()).collect();

    let mut cloud = PointCloud::default();
    let mut normals = Vec::new();
    let mut labels = Vec::new();
    let mut has_normals = false;
    let mut label_strict = true;
    let mut label_at = None;
    for el in &elements {
        let cap = common::capacity(el.count, body.len(), el.min_bytes(enc));
        if el.name == "vertex" {
            let xyz = [el.prop(&["x"]), el.prop(&["y"]), el.prop(&["z"])];
            let [Some(x), Some(y), Some(z)] = xyz else {
                return Err(Error::format(path, "PLY vertex has no x, y and z"));
            };
            let nrm = [el.prop(&["nx"]), el.prop(&["ny"]), el.prop(&["nz"])];
            has_normals = nrm.iter().all(Option::is_some);
            label_at = el.prop(&["label", "scalar_label"]);
            if label_at.is_none() {
                // A bare `scalar` is only taken as labels if every value fits one.
                label_at = el.prop(&["scalar"]);
                label_strict = false;
            }
            cloud.points.reserve(cap);
            let mut row = vec![0f64; el.props.len()];
            for i in 0..el.count {
                read_instance(path, &mut src, el, i, &mut row, None)?;
                cloud
                    .points
                    .push([row[x] as f32, row[y] as f32, row[z] as f32]);
                if has_normals {
                    let g = |k: Option<usize>| k.map_or(0.0, |k| row[k] as f32);
                    normals.push([g(nrm[0]), g(nrm[1]), g(nrm[2])]);
                }
                if let Some(l) = label_at {
                    labels.push(row[l]);
                }
            }
        } else if el.name == "face" {
            let list = el
                .prop(&["vertex_indices", "vertex_index"])
                .ok_or_else(|| {
                    Error::format(path, "PLY face has no vertex_indices / vertex_index list")
                })?;
            cloud.faces.reserve(cap);
            let mut row = vec![0f64; el.props.len()];
            let mut poly = Vec::new();
            for i in 0..el.count {
                poly.clear();
                read_instance(path, &mut src, el, i, &mut row, Some((list, &mut poly)))?;
                common::fan(&poly, &mut cloud.faces);
            }
        } else {
            let mut row = vec![0f64; el.props.len()];
            for i in 0..el.count {
                read_instance(path, &mut src, el, i, &mut row, None)?;
            }
        }
    }
    common::check_faces(path, &cloud.faces, cloud.points.len())?;
    if has_normals {
        cloud.normals = common::finite_normals(normals);
    }
    if label_at.is_some() {
        let converted: Result<Vec<u8>> = labels
            .iter()
            .enumerate()
            .map(|(i, &v)| common::label_u8(path, v, i))
            .collect();
        match converted {
            Ok(l) => cloud.labels = Some(l),
            Err(e) if label_strict => return Err(e),
            Err(_) => {}
        }
    }
    Ok(Parsed {
        cloud,
        format: format!("PLY {}", enc.name()),
        fields,
        organized: false,
    })
}

/// Read one element instance: scalars into `row`; the list at `keep.0` (if any) into
/// `keep.1` as vertex indices; other lists are skipped.
fn read_instance(
    path: &Path,
    src: &mut Source,
    el: &Element,
    i: usize,
    row: &mut [f64],
    keep: Option<(usize, &mut Vec<u32>)>,
) -> Result<()> {
    read_props(src, el, row, keep).map_err(|(k, msg)| {
        let prop = el.props.get(k).map_or("", |p| p.name.as_str());
        Error::format(path, format!("{} {i}, property {prop}: {msg}", el.name))
    })
}

fn read_props(
    src: &mut Source,
    el: &Element,
    row: &mut [f64],
    mut keep: Option<(usize, &mut Vec<u32>)>,
) -> std::result::Result<(), (usize, String)> {
    for (k, p) in el.props.iter().enumerate() {
        let at = |m: String| (k, m);
        match p.kind {
            Kind::Scalar(t) => row[k] = src.next(t).map_err(at)?,
            Kind::List { count, item } => {
                let v = src.next(count).map_err(at)?;
                let n = list_len(v, item, src).map_err(at)?;
                match keep.as_mut() {
                    Some((want, out)) if *want == k => {
                        for _ in 0..n {
                            let idx = src.next(item).map_err(at)?;
                            let idx = common::as_u32(idx)
                                .ok_or_else(|| (k, format!("vertex index {idx}")))?;
                            out.push(idx);
                        }
                    }
                    _ => {
                        for _ in 0..n {
                            src.next(item).map_err(at)?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Write `cloud` as PLY: float x y z, float nx ny nz if normals, uchar red green blue if
/// `colors`, uchar label if labels, and an int face list if faces. `binary` picks
/// binary_little_endian over ascii.
pub fn write(
    path: &Path,
    cloud: &PointCloud,
    colors: Option<&[[u8; 3]]>,
    binary: bool,
) -> Result<()> {
    let h = header(path, cloud, colors, binary)?;
    super::atomic::write_atomic_with(path, |w| write_body(w, &h, cloud, colors, binary))
}

/// `cloud` as PLY bytes, as [`write`] would put them in a file (for answers that never
/// touch the disk, such as the service's heatmaps).
pub fn encode(cloud: &PointCloud, colors: Option<&[[u8; 3]]>, binary: bool) -> Result<Vec<u8>> {
    let path = Path::new("heatmap.ply");
    let h = header(path, cloud, colors, binary)?;
    let mut out = Vec::new();
    write_body(&mut out, &h, cloud, colors, binary).map_err(|e| Error::io(path, e))?;
    Ok(out)
}

/// Check lengths and build the header for [`write`] / [`encode`].
fn header(
    path: &Path,
    cloud: &PointCloud,
    colors: Option<&[[u8; 3]]>,
    binary: bool,
) -> Result<String> {
    super::check_lengths(cloud)?;
    if let Some(c) = colors {
        if c.len() != cloud.points.len() {
            return Err(Error::Invalid(format!(
                "{}: {} colours for {} points",
                path.display(),
                c.len(),
                cloud.points.len()
            )));
        }
    }
    let n = cloud.points.len();
    let mut h = format!(
        "ply\nformat {} 1.0\ncomment written by po3ad\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\n",
        if binary { "binary_little_endian" } else { "ascii" }
    );
    if cloud.normals.is_some() {
        h.push_str("property float nx\nproperty float ny\nproperty float nz\n");
    }
    if colors.is_some() {
        h.push_str("property uchar red\nproperty uchar green\nproperty uchar blue\n");
    }
    if cloud.labels.is_some() {
        h.push_str("property uchar label\n");
    }
    if !cloud.faces.is_empty() {
        h.push_str(&format!(
            "element face {}\nproperty list uchar int vertex_indices\n",
            cloud.faces.len()
        ));
    }
    h.push_str("end_header\n");
    Ok(h)
}

fn write_body(
    w: &mut dyn std::io::Write,
    h: &str,
    cloud: &PointCloud,
    colors: Option<&[[u8; 3]]>,
    binary: bool,
) -> std::io::Result<()> {
    let n = cloud.points.len();
    w.write_all(h.as_bytes())?;
    for i in 0..n {
        let p = cloud.points[i];
        let nrm = cloud.normals.as_ref().map(|v| v[i]);
        let col = colors.map(|c| c[i]);
        let lab = cloud.labels.as_ref().map(|l| l[i]);
        if binary {
            for v in p.iter().chain(nrm.iter().flatten()) {
                w.write_all(&v.to_le_bytes())?;
            }
            if let Some(c) = col {
                w.write_all(&c)?;
            }
            if let Some(l) = lab {
                w.write_all(&[l])?;
            }
        } else {
            write!(w, "{} {} {}", p[0], p[1], p[2])?;
            if let Some(q) = nrm {
                write!(w, " {} {} {}", q[0], q[1], q[2])?;
            }
            if let Some(c) = col {
                write!(w, " {} {} {}", c[0], c[1], c[2])?;
            }
            if let Some(l) = lab {
                write!(w, " {l}")?;
            }
            writeln!(w)?;
        }
    }
    for f in &cloud.faces {
        if binary {
            w.write_all(&[3u8])?;
            for v in f {
                w.write_all(&(*v as i32).to_le_bytes())?;
            }
        } else {
            writeln!(w, "3 {} {} {}", f[0], f[1], f[2])?;
        }
    }
    Ok(())
}
