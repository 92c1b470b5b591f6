//! The 3D viewer's data: each scan's subsampled points quantized to 16 bits per
//! coordinate over its bounding box and coloured with the heat maps' colour map, both
//! base64 in one JSON block the page's script reads (7 bytes a point before base64).

use crate::report::colormap::{robust_range, score_colors};
use crate::report::scan_view::ScanView;
use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

/// One scan as the viewer script reads it.
#[derive(Serialize)]
struct ViewScan<'a> {
    name: &'a str,
    /// `[min x, min y, min z, max x, max y, max z]` of the points.
    bbox: [f32; 6],
    /// u16 little-endian x, y, z per point, 0 = bbox min, 65535 = bbox max.
    pos: String,
    /// r, g, b bytes per point.
    rgb: String,
    total_points: usize,
}

/// The JSON the page embeds in `<script id="view-data" type="application/json">`,
/// made safe to sit inside a script element (`</` cannot end it early).
pub fn view_data_json(scans: &[(&str, &ScanView)]) -> Result<String> {
    let mut out = Vec::with_capacity(scans.len());
    for &(name, v) in scans {
        let mut bbox = [
            f32::INFINITY,
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ];
        for p in v.points.iter().filter(|p| p.iter().all(|c| c.is_finite())) {
            for k in 0..3 {
                bbox[k] = bbox[k].min(p[k]);
                bbox[k + 3] = bbox[k + 3].max(p[k]);
            }
        }
        if !bbox[0].is_finite() {
            continue; // no finite point: nothing to show
        }
        let mut pos = Vec::with_capacity(v.points.len() * 6);
        for p in &v.points {
            for k in 0..3 {
                let span = bbox[k + 3] - bbox[k];
                let t = if span > 0.0 {
                    (p[k] - bbox[k]) / span
                } else {
                    0.5
                };
                // NaN coordinates land at the box's minimum corner (`as` saturates).
                pos.extend_from_slice(
                    &((t.clamp(0.0, 1.0) * 65535.0).round() as u16).to_le_bytes(),
                );
            }
        }
        let (lo, hi) = robust_range(&v.scores);
        let rgb: Vec<u8> = score_colors(&v.scores, lo, hi)
            .into_iter()
            .flatten()
            .collect();
        out.push(ViewScan {
            name,
            bbox,
            pos: STANDARD.encode(&pos),
            rgb: STANDARD.encode(&rgb),
            total_points: v.total_points,
        });
    }
    let json = serde_json::to_string(&serde_json::json!({ "scans": out }))
        .map_err(|e| Error::Invalid(format!("viewer data: {e}")))?;
    Ok(json.replace("</", "<\\/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_onto_the_bounding_box_and_escapes_names() {
        let v = ScanView {
            points: vec![[0.0, -1.0, 2.0], [1.0, 1.0, 2.0]],
            scores: vec![0.0, 1.0],
            total_points: 2,
        };
        let json = view_data_json(&[("a</script><b>", &v)]).unwrap();
        assert!(!json.contains("</script>"));
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        let scan = &parsed["scans"][0];
        assert_eq!(scan["name"], "a</script><b>");
        let pos = STANDARD.decode(scan["pos"].as_str().unwrap()).unwrap();
        let q: Vec<u16> = pos
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // x: 0 → 0, 1 → 65535; y: -1 → 0, 1 → 65535; z flat → the middle.
        assert_eq!(q, vec![0, 0, 32768, 65535, 65535, 32768]);
        let rgb = STANDARD.decode(scan["rgb"].as_str().unwrap()).unwrap();
        assert_eq!(rgb.len(), 6);
        assert_eq!(&rgb[..3], &crate::report::colormap::COLD);
        assert_eq!(&rgb[3..], &crate::report::colormap::HOT);
    }
}
