//! Plain-text point tables (.xyz / .txt / .csv / .pts) and ground-truth files.
//!
//! One point per row, separated by commas and/or whitespace. The column count decides
//! the meaning: 3 = x y z, 4 = + label, 6 = + normal, 7 = + normal + label. Blank lines
//! and `#` comments are skipped, and so are one header row of names (e.g. `x,y,z`)
//! and a leading point-count line (`.pts`).
//! Ground truth (`x,y,z,label` in Anomaly-ShapeNet, `x y z label` in Real3D-AD) is the
//! 4-column case, required to carry labels.

use super::common::{self, Parsed};
use crate::{Error, PointCloud, Result};
use std::path::Path;

fn split(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file"));
    }
    let text = common::utf8(path, bytes)?;
    let mut cols = 0usize;
    let mut header: Option<Vec<String>> = None;
    let mut values: Vec<f64> = Vec::new();
    let mut row = Vec::with_capacity(8);
    for (ln, line) in text.lines().enumerate() {
        let ln = ln + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        row.clear();
        row.extend(split(line));
        if cols == 0 && header.is_none() && row.iter().all(|t| t.parse::<f64>().is_err()) {
            header = Some(row.iter().map(|s| s.to_string()).collect());
            continue;
        }
        if cols == 0 && values.is_empty() && row.len() == 1 && row[0].parse::<u64>().is_ok() {
            // A leading point-count line, as Leica .pts files have.
            continue;
        }
        if cols == 0 {
            cols = row.len();
            if !matches!(cols, 3 | 4 | 6 | 7) {
                return Err(Error::format(
                    path,
                    format!("line {ln}: {cols} columns; expected 3 (xyz), 4 (xyz label), 6 (xyz normal) or 7 (xyz normal label)"),
                ));
            }
        } else if row.len() != cols {
            return Err(Error::format(
                path,
                format!("line {ln}: {} columns, earlier rows have {cols}", row.len()),
            ));
        }
        for tok in &row {
            values.push(common::number(path, tok, ln)?);
        }
        common::check_limit(path, "text file", values.len() / cols, max_points)?;
    }
    if cols == 0 {
        return Err(Error::format(path, "no data rows"));
    }
    let n = values.len() / cols;
    let at = |i: usize, c: usize| values[i * cols + c];
    let points: Vec<[f32; 3]> = (0..n)
        .map(|i| [at(i, 0) as f32, at(i, 1) as f32, at(i, 2) as f32])
        .collect();
    let normals = (cols >= 6).then(|| {
        (0..n)
            .map(|i| [at(i, 3) as f32, at(i, 4) as f32, at(i, 5) as f32])
            .collect::<Vec<_>>()
    });
    let labels = if cols == 4 || cols == 7 {
        Some(
            (0..n)
                .map(|i| common::label_u8(path, at(i, cols - 1), i))
                .collect::<Result<Vec<u8>>>()?,
        )
    } else {
        None
    };
    let fields = header.unwrap_or_else(|| {
        let names: &[&str] = match cols {
            3 => &["x", "y", "z"],
            4 => &["x", "y", "z", "label"],
            6 => &["x", "y", "z", "nx", "ny", "nz"],
            _ => &["x", "y", "z", "nx", "ny", "nz", "label"],
        };
        names.iter().map(|s| s.to_string()).collect()
    });
    let sep = if text.contains(',') {
        "comma"
    } else {
        "whitespace"
    };
    Ok(Parsed {
        cloud: PointCloud {
            points,
            normals: normals.and_then(common::finite_normals),
            labels,
            faces: Vec::new(),
        },
        format: format!("XYZ text ({sep}, {cols} columns)"),
        fields,
        organized: false,
    })
}

/// Ground truth: a text table whose rows carry a label column.
pub(crate) fn read_gt(path: &Path, bytes: &[u8], max_points: usize) -> Result<PointCloud> {
    let parsed = read(path, bytes, max_points)?;
    common::check_finite(path, &parsed.cloud.points)?;
    if parsed.cloud.labels.is_none() {
        return Err(Error::format(
            path,
            "ground-truth file has no label column (expected x,y,z,label rows)",
        ));
    }
    Ok(parsed.cloud)
}

/// Rows `x y z [nx ny nz] [label]`, space separated, which [`read`] reads back.
pub fn write_xyz(path: &Path, cloud: &PointCloud) -> Result<()> {
    super::check_lengths(cloud)?;
    super::atomic::write_atomic_with(path, |w| {
        for (i, p) in cloud.points.iter().enumerate() {
            write!(w, "{} {} {}", p[0], p[1], p[2])?;
            if let Some(n) = &cloud.normals {
                write!(w, " {} {} {}", n[i][0], n[i][1], n[i][2])?;
            }
            if let Some(l) = &cloud.labels {
                write!(w, " {}", l[i])?;
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

/// Anomaly-ShapeNet ground-truth style rows `x,y,z,label` (label 0 when unknown).
pub fn write_gt(path: &Path, cloud: &PointCloud) -> Result<()> {
    super::check_lengths(cloud)?;
    super::atomic::write_atomic_with(path, |w| {
        for (i, p) in cloud.points.iter().enumerate() {
            let l = cloud.labels.as_ref().map_or(0, |l| l[i]);
            writeln!(w, "{},{},{},{}", p[0], p[1], p[2], l)?;
        }
        Ok(())
    })
}
