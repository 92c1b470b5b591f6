//! A tiny 3×5 pixel font for the colour-bar labels: digits, '.', '-', '+', 'e'.
//!
//! Hand-drawn here because the labels need a dozen characters only; a font crate plus a
//! font file would be far more than the job needs.

/// Glyph width and height in font pixels.
pub(crate) const GLYPH_W: u32 = 3;
pub(crate) const GLYPH_H: u32 = 5;

/// Rows top to bottom; bit 2 is the left column, bit 0 the right one.
pub(crate) fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b011, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '+' => [0b000, 0b010, 0b111, 0b010, 0b000],
        'e' => [0b000, 0b111, 0b111, 0b100, 0b111],
        ' ' => [0; 5],
        _ => return None,
    })
}

/// A short label for a colour-bar end: at most 4 significant digits, scientific
/// notation for very small or large magnitudes.
pub(crate) fn format_label(v: f32) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_character_has_a_glyph() {
        for v in [0.0f32, 1.0, -0.5, 1234.5, 1e-7, -3e9, 0.012345] {
            let s = format_label(v);
            assert!(s.chars().all(|c| glyph(c).is_some()), "{s}");
        }
    }
}
