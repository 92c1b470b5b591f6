//! An RGB picture with a depth buffer: the drawing surface of the heat-map renderer.
//! Only what the renderer needs: depth-tested round splats, filled rectangles and the
//! tiny label font.

use super::glyphs::{glyph, GLYPH_H, GLYPH_W};

pub(crate) struct Canvas {
    pub width: u32,
    pub height: u32,
    /// Row-major RGB, 3 bytes per pixel, row 0 at the top.
    pub rgb: Vec<u8>,
    /// Depth of what each pixel shows; smaller is nearer; +inf where nothing is drawn.
    depth: Vec<f32>,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: [u8; 3]) -> Self {
        let n = width as usize * height as usize;
        let mut rgb = Vec::with_capacity(n * 3);
        for _ in 0..n {
            rgb.extend_from_slice(&background);
        }
        Self {
            width,
            height,
            rgb,
            depth: vec![f32::INFINITY; n],
        }
    }

    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.rgb[i..i + 3].copy_from_slice(&c);
    }

    /// A round splat of `radius` pixels centred at (`cx`, `cy`), drawn only where it is
    /// not farther than what is already there.
    pub fn splat(&mut self, cx: f32, cy: f32, depth: f32, radius: f32, c: [u8; 3]) {
        let r = radius.max(0.5);
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0.max(0)..=y1.min(self.height as i64 - 1) {
            for x in x0.max(0)..=x1.min(self.width as i64 - 1) {
                // Pixel centres at +0.5.
                let dx = x as f32 + 0.5 - cx;
                let dy = y as f32 + 0.5 - cy;
                if dx * dx + dy * dy > r * r {
                    continue;
                }
                let i = y as usize * self.width as usize + x as usize;
                // `<=`: on a tie the later splat wins (the caller orders its draws).
                if depth <= self.depth[i] {
                    self.depth[i] = depth;
                    self.rgb[i * 3..i * 3 + 3].copy_from_slice(&c);
                }
            }
        }
    }

    /// Fill the rectangle [x0, x1) × [y0, y1) (clipped), ignoring depth.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.put(x, y, c);
            }
        }
    }

    /// Write `text` with its top-left corner at (`x`, `y`), each font pixel drawn as a
    /// `scale`×`scale` block; characters without a glyph are skipped.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: [u8; 3]) {
        let s = scale.max(1) as i64;
        let mut pen = x;
        for ch in text.chars() {
            if let Some(rows) = glyph(ch) {
                for (ry, bits) in rows.iter().enumerate() {
                    for rx in 0..GLYPH_W as i64 {
                        if bits & (1 << (GLYPH_W as i64 - 1 - rx)) != 0 {
                            let px = pen + rx * s;
                            let py = y + ry as i64 * s;
                            self.fill_rect(px, py, px + s, py + s, c);
                        }
                    }
                }
            }
            pen += (GLYPH_W as i64 + 1) * s;
        }
    }

    /// Width in pixels `text` takes at `scale`.
    pub fn text_width(text: &str, scale: u32) -> i64 {
        let n = text.chars().count() as i64;
        (n * (GLYPH_W as i64 + 1) - 1).max(0) * scale.max(1) as i64
    }

    pub fn text_height(scale: u32) -> i64 {
        GLYPH_H as i64 * scale.max(1) as i64
    }
}
