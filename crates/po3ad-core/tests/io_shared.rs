//! The real STL/OBJ meshes in ../shared/data/meshes read to the counts Open3D gives
//! (tests/fixtures/io/shared_meshes.json, from scripts/make_io_fixtures.py). Skips with
//! a message when ../shared is absent (fails under `PO3AD_REQUIRE_SHARED=1`).

use crate::shared;

use po3ad_core::io;
use serde_json::Value;
use std::path::Path;

#[test]
fn shared_meshes_match_open3d() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(dir) = shared::shared("data/meshes") else {
        return;
    };
    let refs: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("crates/po3ad-core/tests/fixtures/io/shared_meshes.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let meshes = refs["meshes"].as_array().unwrap();
    assert!(!meshes.is_empty());
    for m in meshes {
        let file = m["file"].as_str().unwrap();
        let path = dir.join(file);
        if !path.exists() {
            shared::missing(&path);
            continue;
        }
        let c = io::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.faces.len() as u64,
            m["triangles"].as_u64().unwrap(),
            "{file}"
        );
        if let Some(v) = m["v_lines"].as_u64() {
            assert_eq!(c.len() as u64, v, "{file}: OBJ keeps every v line");
        } else {
            let distinct = m["distinct_corners"].as_u64().unwrap();
            assert_eq!(c.len() as u64, distinct, "{file}: merged STL vertices");
        }
        let mut sum = [0f64; 3];
        for f in &c.faces {
            for &v in f {
                for (s, x) in sum.iter_mut().zip(c.points[v as usize]) {
                    *s += x as f64;
                }
            }
        }
        let want = m["corner_sum"].as_array().unwrap();
        let scale: f64 = c.faces.len() as f64 * 3.0;
        for k in 0..3 {
            let w = want[k].as_f64().unwrap();
            // Summation order differs; 1e-9 of the corner count bounds the rounding.
            assert!(
                (sum[k] - w).abs() <= 1e-9 * scale * w.abs().max(1.0),
                "{file}: corner sum axis {k}: {} vs {w}",
                sum[k]
            );
        }
    }
}
