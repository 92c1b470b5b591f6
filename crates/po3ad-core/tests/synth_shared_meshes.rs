//! Run the benchmark writer over every real mesh in the shared data folder and report
//! which are rejected and why. Skips when the folder is absent (fails under
//! `PO3AD_REQUIRE_SHARED=1`).

use po3ad_core::synth::{write_category, SynthConfig, SynthLayout};

use crate::shared;

#[test]
fn every_shared_mesh_makes_a_category_or_a_clear_rejection() {
    let Some(dir) = shared::shared("data/meshes") else {
        return;
    };
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            matches!(ext.as_deref(), Some("stl" | "obj" | "ply"))
        })
        .collect();
    files.sort();
    let out = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        n_train: 1,
        template_min_vertices: 0,
        n_test_points: 2_000,
        n_good: 1,
        n_per_defect: 1,
        ..SynthConfig::default()
    };
    let (mut ok, mut rejected) = (0, Vec::new());
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let result = po3ad_core::io::read(path).and_then(|mesh| {
            write_category(&mesh, &name, out.path(), SynthLayout::AnomalyShapeNet, &cfg)
        });
        match result {
            Ok(m) => {
                ok += 1;
                println!(
                    "ok       {name}: {} vertices, {} faces, {:?}, flipped {}, {} welded vertices, {} duplicate faces, {} unused vertices, {} test files",
                    m.mesh.vertices,
                    m.mesh.faces,
                    m.mesh.edges,
                    m.mesh.flipped,
                    m.mesh.welded_vertices,
                    m.mesh.duplicate_faces,
                    m.mesh.unreferenced_vertices,
                    m.tests.len()
                );
            }
            Err(e) => {
                println!("rejected {name}: {e}");
                rejected.push(name);
            }
        }
    }
    println!("{ok} accepted, {} rejected: {rejected:?}", rejected.len());
    assert!(!files.is_empty(), "no meshes in {}", dir.display());
    // The shared meshes are all real, non-degenerate parts.
    assert!(ok * 2 >= files.len(), "{ok} of {} accepted", files.len());
}
