//! Heat-map pictures: they decode as PNG with the asked size, high scores land where
//! their points project, the depth test keeps the nearer point, files are written
//! atomically.

use po3ad_core::report::colormap::{COLD, HOT};
use po3ad_core::report::heatmap::{render_png, render_rgb, Picture, RenderOptions};
use std::path::Path;

/// Decode a PNG file with the png crate (independent of the encoder path used).
fn decode(path: &Path) -> Picture {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Picture {
        width: info.width,
        height: info.height,
        rgb: buf,
    }
}

/// A flat 40×40 grid in z = 0 over [-1, 1]² with score 0, and a small cluster of hot
/// points (score 1) just above it near the corner (-0.9, 0.9).
fn grid_with_hot_corner() -> (Vec<[f32; 3]>, Vec<f32>) {
    let mut points = Vec::new();
    let mut scores = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            let x = -1.0 + 2.0 * i as f32 / 39.0;
            let y = -1.0 + 2.0 * j as f32 / 39.0;
            points.push([x, y, 0.0]);
            scores.push(0.0);
        }
    }
    for dx in [-0.02f32, 0.0, 0.02] {
        for dy in [-0.02f32, 0.0, 0.02] {
            points.push([-0.9 + dx, 0.9 + dy, 0.05]);
            scores.push(1.0);
        }
    }
    (points, scores)
}

/// Looking down the z axis with y up: x runs right, y runs up in the picture.
fn top_view() -> RenderOptions {
    RenderOptions {
        view_dir: [0.0, 0.0, 1.0],
        up: [0.0, 1.0, 0.0],
        shading: false,
        colorbar: false,
        range: Some((0.0, 1.0)),
        splat_radius: 3.0,
        ..RenderOptions::default()
    }
}

fn pixels_of(p: &Picture, c: [u8; 3]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for y in 0..p.height {
        for x in 0..p.width {
            if p.pixel(x, y) == Some(c) {
                out.push((x, y));
            }
        }
    }
    out
}

#[test]
fn png_decodes_with_requested_size_and_hot_colour_where_hot_point_projects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heat.png");
    let (points, scores) = grid_with_hot_corner();
    let opts = top_view();
    render_png(&path, &points, &scores, &opts).unwrap();
    let pic = decode(&path);
    assert_eq!((pic.width, pic.height), (800, 600));

    let (w2, h2) = (pic.width / 2, pic.height / 2);
    let hot = pixels_of(&pic, HOT);
    assert!(!hot.is_empty(), "the hot colour must appear");
    // (-0.9, 0.9) is left and up: every hot pixel lies in the top-left quadrant.
    assert!(hot.iter().all(|&(x, y)| x < w2 && y < h2), "{hot:?}");

    // The cold grid covers all four quadrants.
    let cold = pixels_of(&pic, COLD);
    for (left, top) in [(true, true), (true, false), (false, true), (false, false)] {
        assert!(
            cold.iter()
                .any(|&(x, y)| (x < w2) == left && (y < h2) == top),
            "no cold pixel in quadrant left={left} top={top}"
        );
    }
    // White background survives around the object.
    assert_eq!(pic.pixel(0, 0), Some([255, 255, 255]));
    // The file on disk is exactly what render_rgb produces.
    assert_eq!(pic, render_rgb(&points, &scores, &opts).unwrap());
}

#[test]
fn nearer_point_hides_farther_one() {
    // Two points on the same line of sight: cold at z = +0.5, hot at z = -0.5, plus two
    // cold points that give the picture some extent.
    let points = vec![
        [0.0, 0.0, 0.5],
        [0.0, 0.0, -0.5],
        [-1.0, -1.0, 0.0],
        [1.0, 1.0, 0.0],
    ];
    let scores = vec![0.0, 1.0, 0.0, 0.0];
    let from_top = render_rgb(&points, &scores, &top_view()).unwrap();
    assert!(pixels_of(&from_top, HOT).is_empty(), "hot point is behind");
    let from_below = RenderOptions {
        view_dir: [0.0, 0.0, -1.0],
        ..top_view()
    };
    let pic = render_rgb(&points, &scores, &from_below).unwrap();
    assert!(!pixels_of(&pic, HOT).is_empty(), "hot point is in front");
}

#[test]
fn default_options_draw_colour_bar_and_two_views() {
    let (points, scores) = grid_with_hot_corner();
    let opts = RenderOptions {
        two_views: true,
        ..RenderOptions::default()
    };
    let pic = render_rgb(&points, &scores, &opts).unwrap();
    assert_eq!((pic.width, pic.height), (800, 600));
    // The colour bar's top holds the hot colour, its bottom the cold one, both in the
    // right-hand 100 pixels, which the views never reach.
    let hot = pixels_of(&pic, HOT);
    let cold = pixels_of(&pic, COLD);
    assert!(hot.iter().any(|&(x, _)| x >= 700));
    assert!(cold.iter().any(|&(x, _)| x >= 700));
    let top_hot = hot.iter().filter(|&&(x, _)| x >= 700).map(|p| p.1).max();
    let bottom_cold = cold.iter().filter(|&&(x, _)| x >= 700).map(|p| p.1).min();
    assert!(top_hot < bottom_cold, "hot at the top of the bar");
    // Both halves of the plot area show something.
    let drawn = |x0: u32, x1: u32| {
        (0..pic.height).any(|y| (x0..x1).any(|x| pic.pixel(x, y) != Some([255, 255, 255])))
    };
    assert!(drawn(20, 350) && drawn(360, 690));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (points, scores) = grid_with_hot_corner();
    let o = RenderOptions::default();
    assert!(render_rgb(&points, &scores[1..], &o).is_err());
    assert!(render_rgb(&[], &[], &o).is_err());
    assert!(render_rgb(&[[f32::NAN; 3]], &[0.0], &o).is_err());
    let tiny = RenderOptions {
        width: 10,
        ..o.clone()
    };
    assert!(render_rgb(&points, &scores, &tiny).is_err());
    let no_dir = RenderOptions {
        view_dir: [0.0; 3],
        ..o.clone()
    };
    assert!(render_rgb(&points, &scores, &no_dir).is_err());
    let bad_range = RenderOptions {
        range: Some((1.0, 1.0)),
        ..o.clone()
    };
    assert!(render_rgb(&points, &scores, &bad_range).is_err());
    // Up parallel to the view falls back to another axis instead of failing.
    let parallel = RenderOptions {
        view_dir: [0.0, 0.0, 1.0],
        up: [0.0, 0.0, 1.0],
        ..o
    };
    assert!(render_rgb(&points, &scores, &parallel).is_ok());
}

#[test]
fn atomic_write_leaves_only_the_final_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heat.png");
    let (points, scores) = grid_with_hot_corner();
    // Twice: the second write replaces the first.
    render_png(&path, &points, &scores, &top_view()).unwrap();
    render_png(&path, &points, &scores, &RenderOptions::default()).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["heat.png".to_string()]);
    // A folder that does not exist is an error naming the file, and leaves nothing.
    let missing = dir.path().join("no/such/heat.png");
    let err = render_png(&missing, &points, &scores, &top_view()).unwrap_err();
    assert!(err.to_string().contains("heat.png"), "{err}");
}

/// Parse a binary little-endian PLY just enough to read each vertex's colour: the
/// header gives property names and types, hence the record layout.
fn ply_vertex_colors(bytes: &[u8]) -> Vec<[u8; 3]> {
    let end = b"end_header\n";
    let h = bytes.windows(end.len()).position(|w| w == end).unwrap() + end.len();
    let header = std::str::from_utf8(&bytes[..h]).unwrap();
    assert!(header.contains("format binary_little_endian 1.0"));
    let mut n = 0usize;
    let mut props: Vec<(String, usize)> = Vec::new();
    let mut in_vertex = false;
    for line in header.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["element", "vertex", count] => {
                n = count.parse().unwrap();
                in_vertex = true;
            }
            ["element", ..] => in_vertex = false,
            ["property", ty, name] if in_vertex => {
                let size = match *ty {
                    "float" | "float32" | "int" | "uint" | "int32" | "uint32" => 4,
                    "double" | "float64" => 8,
                    "uchar" | "uint8" | "char" | "int8" => 1,
                    "short" | "ushort" | "int16" | "uint16" => 2,
                    other => panic!("unexpected type {other}"),
                };
                props.push((name.to_string(), size));
            }
            _ => {}
        }
    }
    let offset = |name: &str| {
        let i = props.iter().position(|p| p.0 == name).unwrap();
        props[..i].iter().map(|p| p.1).sum::<usize>()
    };
    let record: usize = props.iter().map(|p| p.1).sum();
    let (r, g, b) = (offset("red"), offset("green"), offset("blue"));
    (0..n)
        .map(|i| {
            let v = &bytes[h + i * record..h + (i + 1) * record];
            [v[r], v[g], v[b]]
        })
        .collect()
}

#[test]
fn heatmap_ply_colours_vertices_by_score() {
    use po3ad_core::report::write_heatmap_ply;
    use po3ad_core::PointCloud;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heat.ply");
    let cloud = PointCloud::from_points(vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
    write_heatmap_ply(&path, &cloud, &[0.0, 2.0, 1.0], Some((0.0, 2.0))).unwrap();
    let colors = ply_vertex_colors(&std::fs::read(&path).unwrap());
    assert_eq!(colors.len(), 3);
    assert_eq!(colors[0], COLD);
    assert_eq!(colors[1], HOT);
    assert_eq!(colors[2], po3ad_core::report::colormap::colormap(0.5));
    // Length mismatch is refused and writes nothing.
    let other = dir.path().join("bad.ply");
    assert!(write_heatmap_ply(&other, &cloud, &[0.0], None).is_err());
    assert!(!other.exists());
}
