//! Heat-map pictures of per-point scores: an orthographic view of the cloud, each point a
//! small depth-tested disc coloured by its score, on a white background, with a colour
//! bar labelled with the score range. Optionally two views side by side (front and
//! back) so an anomaly on the far side is not missed.

use super::camera::{is_finite, Camera};
use super::canvas::Canvas;
use super::colormap::{colormap, robust_range, score_colors};
use super::glyphs::format_label;
use super::write::write_output;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How to draw a heat map. `Default` gives an 800×600 oblique view of a z-up object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderOptions {
    pub width: u32,
    pub height: u32,
    /// Direction from the object towards the viewer (any length but zero).
    pub view_dir: [f32; 3],
    /// World direction that should point up in the picture; a fallback axis is used
    /// when it is parallel to `view_dir`.
    pub up: [f32; 3],
    /// Splat radius in pixels; 0 picks one from the point count and picture size.
    pub splat_radius: f32,
    /// Darken farther points a little (depth cue), which makes the shape readable
    /// without normals.
    pub shading: bool,
    /// Score range mapped to the colour bar; `None` uses [`robust_range`].
    pub range: Option<(f32, f32)>,
    pub colorbar: bool,
    /// Draw a second view from the opposite side, next to the first.
    pub two_views: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            width: 800,
            height: 600,
            view_dir: [1.0, -1.2, 0.9],
            up: [0.0, 0.0, 1.0],
            splat_radius: 0.0,
            shading: true,
            range: None,
            colorbar: true,
            two_views: false,
        }
    }
}

/// A rendered picture: row-major RGB, 3 bytes per pixel, row 0 at the top.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Picture {
    /// Colour of pixel (`x`, `y`), `None` outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// The picture as PNG bytes (8-bit RGB).
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let err = |e: png::EncodingError| Error::Invalid(format!("PNG encoding: {e}"));
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&self.rgb).map_err(err)?;
        writer.finish().map_err(err)?;
        Ok(out)
    }
}

const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [40, 40, 40];
const MARGIN: i64 = 20;
/// Horizontal room the colour bar and its labels take at the right edge.
const BAR_AREA: i64 = 100;
const PANEL_GAP: i64 = 10;
/// Largest side accepted, to keep a typo from allocating gigabytes.
const MAX_SIDE: u32 = 16384;

/// Render the heat map and write it to `path` as PNG (atomically).
pub fn render_png(
    path: &Path,
    points: &[[f32; 3]],
    scores: &[f32],
    opts: &RenderOptions,
) -> Result<()> {
    let png = render_rgb(points, scores, opts)?.encode_png()?;
    write_output(path, &png)
}

/// Render the heat map into memory.
pub fn render_rgb(points: &[[f32; 3]], scores: &[f32], opts: &RenderOptions) -> Result<Picture> {
    check(points, scores, opts)?;
    let (lo, hi) = opts.range.unwrap_or_else(|| robust_range(scores));
    let colors = score_colors(scores, lo, hi);
    let mut canvas = Canvas::new(opts.width, opts.height, BACKGROUND);

    let (w, h) = (opts.width as i64, opts.height as i64);
    let plot_right = if opts.colorbar {
        w - BAR_AREA
    } else {
        w - MARGIN
    };
    let panels: Vec<(i64, i64)> = if opts.two_views {
        let mid = (MARGIN + plot_right) / 2;
        vec![
            (MARGIN, mid - PANEL_GAP / 2),
            (mid + PANEL_GAP / 2, plot_right),
        ]
    } else {
        vec![(MARGIN, plot_right)]
    };
    let cams: Vec<Camera> = panels
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let v = opts.view_dir;
            // The second view looks from the opposite side, same up.
            let v = if i == 0 { v } else { [-v[0], -v[1], v[2]] };
            Camera::new(v, opts.up)
        })
        .collect::<Result<_>>()?;

    // One scale for all panels so both views show the object at the same size.
    let panel_h = (h - 2 * MARGIN).max(1) as f32;
    let mut scale = f32::INFINITY;
    let mut extents = Vec::with_capacity(cams.len());
    for (cam, &(x0, x1)) in cams.iter().zip(&panels) {
        let e = cam.extent(points);
        let panel_w = (x1 - x0).max(1) as f32;
        let sx = panel_w / (e.u1 - e.u0).max(1e-12);
        let sy = panel_h / (e.v1 - e.v0).max(1e-12);
        scale = scale.min(sx).min(sy);
        extents.push(e);
    }
    let finite = points.iter().filter(|p| is_finite(p)).count().max(1);

    // Draw low scores first so that, where splats tie in depth, high scores stay on top.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));

    for ((cam, &(x0, x1)), e) in cams.iter().zip(&panels).zip(&extents) {
        // Centre the projected box in its panel.
        let cx = (x0 + x1) as f32 / 2.0;
        let cy = h as f32 / 2.0;
        let (mu, mv) = ((e.u0 + e.u1) / 2.0, (e.v0 + e.v1) / 2.0);
        let radius = if opts.splat_radius > 0.0 {
            opts.splat_radius
        } else {
            let area = (e.u1 - e.u0) * (e.v1 - e.v0) * scale * scale;
            // About the spacing of the visible half of a closed surface's points, so
            // splats touch without hiding detail.
            (1.1 * (area / finite as f32).sqrt()).clamp(1.0, 8.0)
        };
        let depth_span = (e.d1 - e.d0).max(1e-12);
        for &i in &order {
            let p = points[i];
            if !is_finite(&p) {
                continue;
            }
            let (u, v, d) = cam.project(p);
            let px = cx + (u - mu) * scale;
            let py = cy - (v - mv) * scale; // picture rows grow downwards
            let mut c = colors[i];
            if opts.shading {
                let far = (d - e.d0) / depth_span; // 0 nearest, 1 farthest
                let k = 1.0 - 0.4 * far;
                c = c.map(|x| (x as f32 * k).round() as u8);
            }
            canvas.splat(px, py, d, radius, c);
        }
    }
    if opts.colorbar {
        draw_colorbar(&mut canvas, lo, hi);
    }
    Ok(Picture {
        width: canvas.width,
        height: canvas.height,
        rgb: canvas.rgb,
    })
}

fn check(points: &[[f32; 3]], scores: &[f32], opts: &RenderOptions) -> Result<()> {
    if points.len() != scores.len() {
        return Err(Error::Invalid(format!(
            "heat map: {} points but {} scores",
            points.len(),
            scores.len()
        )));
    }
    if !points.iter().any(is_finite) {
        return Err(Error::Invalid("heat map: no finite point to draw".into()));
    }
    let min_w = 2 * MARGIN as u32 + 1 + if opts.colorbar { BAR_AREA as u32 } else { 0 };
    let min_h = 2 * MARGIN as u32 + 1;
    if !(min_w..=MAX_SIDE).contains(&opts.width) || !(min_h..=MAX_SIDE).contains(&opts.height) {
        return Err(Error::Invalid(format!(
            "heat map: picture size {}x{} outside {min_w}..={MAX_SIDE} x {min_h}..={MAX_SIDE}",
            opts.width, opts.height
        )));
    }
    if let Some((lo, hi)) = opts.range {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::Invalid(format!(
                "heat map: score range ({lo}, {hi}) must be finite with min < max"
            )));
        }
    }
    Ok(())
}

/// Vertical colour bar at the right edge, hot at the top, with the range's ends written
/// above and below it.
fn draw_colorbar(canvas: &mut Canvas, lo: f32, hi: f32) {
    let (w, h) = (canvas.width as i64, canvas.height as i64);
    let scale = 2;
    let th = Canvas::text_height(scale);
    let bar_w = 20;
    let bx0 = w - BAR_AREA / 2 - bar_w / 2;
    let by0 = MARGIN + th + 8;
    let by1 = h - MARGIN - th - 8;
    if by1 <= by0 {
        return;
    }
    canvas.fill_rect(bx0 - 1, by0 - 1, bx0 + bar_w + 1, by1 + 1, INK);
    let n = (by1 - by0 - 1).max(1) as f32;
    for y in by0..by1 {
        let t = 1.0 - (y - by0) as f32 / n;
        canvas.fill_rect(bx0, y, bx0 + bar_w, y + 1, colormap(t));
    }
    let centre = bx0 + bar_w / 2;
    // Rounding noise like 3e-17 next to 0.01 reads as a real value; show it as 0.
    let tiny = 1e-6 * lo.abs().max(hi.abs());
    let snap = |v: f32| if v.abs() < tiny { 0.0 } else { v };
    let top = format_label(snap(hi));
    let bottom = format_label(snap(lo));
    let tw = Canvas::text_width(&top, scale);
    let bw = Canvas::text_width(&bottom, scale);
    canvas.text(centre - tw / 2, MARGIN, &top, scale, INK);
    canvas.text(centre - bw / 2, by1 + 8, &bottom, scale, INK);
}
