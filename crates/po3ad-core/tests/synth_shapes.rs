//! Built-in shapes are closed, consistently wound, outward-facing meshes.

use po3ad_core::synth::mesh_check::{edge_report, signed_volume, surface_area};
use po3ad_core::synth::{builtin, BUILTIN_SHAPES};

#[test]
fn every_builtin_shape_is_closed_and_outward() {
    for &name in BUILTIN_SHAPES {
        let mesh = builtin(name).expect("listed shape exists");
        let edges = edge_report(&mesh);
        assert!(edges.is_closed(), "{name}: {edges:?}");
        let volume = signed_volume(&mesh);
        assert!(volume > 0.0, "{name}: volume {volume}");
        // No degenerate faces.
        let faces = mesh.faces.len();
        assert!(faces > 500, "{name}: {faces} faces");
        for f in &mesh.faces {
            assert!(
                f[0] != f[1] && f[1] != f[2] && f[0] != f[2],
                "{name}: {f:?}"
            );
        }
        println!(
            "{name}: {} vertices, {faces} faces, area {:.3}, volume {volume:.4}",
            mesh.points.len(),
            surface_area(&mesh)
        );
    }
}

#[test]
fn unknown_shape_is_none() {
    assert!(builtin("teacup-of-doom").is_none());
}

/// Volumes against closed-form values: the cup is a frustum minus the inner frustum
/// above its bottom; the plate a box minus six cylinders. Polygonal approximation
/// makes the mesh slightly smaller, so the tolerance is a few percent.
#[test]
fn volumes_match_closed_forms() {
    use std::f64::consts::PI;
    let frustum = |r0: f64, r1: f64, h: f64| PI * h / 3.0 * (r0 * r0 + r0 * r1 + r1 * r1);
    // cup: r_out(z) = 0.3 + 0.08 z on [0, 0.85], wall 0.03, bottom 0.03.
    let r_out = |z: f64| 0.3 + 0.08 * z;
    let outer = frustum(r_out(0.0), r_out(0.85), 0.85);
    let inner = frustum(r_out(0.03) - 0.03, r_out(0.85) - 0.03, 0.85 - 0.03);
    let cup = signed_volume(&builtin("cup").unwrap());
    let want = outer - inner;
    assert!((cup - want).abs() / want < 0.03, "cup {cup} vs {want}");

    // plate: 2 × 1 × 0.15 minus 4 holes r = 0.0625 and 2 holes r = 0.09375.
    let holes = 4.0 * PI * 0.0625f64.powi(2) + 2.0 * PI * 0.09375f64.powi(2);
    let want = (2.0 - holes) * 0.15;
    let plate = signed_volume(&builtin("plate").unwrap());
    assert!(
        (plate - want).abs() / want < 0.02,
        "plate {plate} vs {want}"
    );
}
