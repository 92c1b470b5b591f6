//! Every fixture written by scripts/make_io_fixtures.py (Open3D or hand-written bytes)
//! reads back to the known values in expected.json.

use po3ad_core::io;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid json")
}

fn vec3s(v: &Value) -> Vec<[f32; 3]> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|p| {
            let a = p.as_array().expect("triple");
            [0, 1, 2].map(|k| a[k].as_f64().expect("number") as f32)
        })
        .collect()
}

fn u8s(v: &Value) -> Vec<u8> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as u8)
        .collect()
}

fn close(file: &str, what: &str, got: &[[f32; 3]], want: &[[f32; 3]]) {
    assert_eq!(got.len(), want.len(), "{file}: {what} count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for k in 0..3 {
            let tol = 1e-6 * w[k].abs().max(1e-6);
            assert!(
                (g[k] - w[k]).abs() <= tol,
                "{file}: {what} {i}[{k}] = {} expected {}",
                g[k],
                w[k]
            );
        }
    }
}

#[test]
fn every_fixture_reads_to_the_known_values() {
    let exp = expected();
    let fixtures = exp["fixtures"].as_array().expect("fixtures");
    assert!(fixtures.len() >= 20);
    for fx in fixtures {
        let file = fx["file"].as_str().expect("file");
        let kind = fx["kind"].as_str().expect("kind");
        let path = dir().join(file);
        let cloud = io::read(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let info = io::inspect(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            info.format,
            fx["format"].as_str().unwrap(),
            "{file}: format"
        );
        assert_eq!(info.points, cloud.len(), "{file}");
        assert_eq!(info.faces, cloud.faces.len(), "{file}");
        let want_normals = fx["normals"].as_bool().unwrap();
        let want_labels = fx["labels"].as_bool().unwrap();
        assert_eq!(cloud.normals.is_some(), want_normals, "{file}: normals");
        assert_eq!(cloud.labels.is_some(), want_labels, "{file}: labels");
        assert_eq!(info.has_normals, want_normals, "{file}");
        assert_eq!(info.has_labels, want_labels, "{file}");

        let src = if kind == "mesh" {
            &exp["mesh"]
        } else {
            &exp["cloud"]
        };
        let verts = vec3s(if kind == "mesh" {
            &src["vertices"]
        } else {
            &src["points"]
        });
        if kind == "mesh" {
            // STL merges vertices in first-use order; compare triangles by coordinates.
            let tris: Vec<[usize; 3]> = src["triangles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| [0, 1, 2].map(|k| t[k].as_u64().unwrap() as usize))
                .collect();
            assert_eq!(
                cloud.len(),
                verts.len(),
                "{file}: vertex count after merging"
            );
            assert_eq!(cloud.faces.len(), tris.len(), "{file}: triangle count");
            let got: Vec<[f32; 3]> = cloud
                .faces
                .iter()
                .flat_map(|f| f.map(|v| cloud.points[v as usize]))
                .collect();
            let want: Vec<[f32; 3]> = tris.iter().flat_map(|t| t.map(|v| verts[v])).collect();
            close(file, "triangle corner", &got, &want);
            if !file.ends_with(".stl") {
                close(file, "vertex", &cloud.points, &verts);
            }
        } else {
            assert!(cloud.faces.is_empty(), "{file}: a cloud has no faces");
            close(file, "point", &cloud.points, &verts);
        }
        if let Some(n) = &cloud.normals {
            close(file, "normal", n, &vec3s(&src["normals"]));
        }
        if let Some(l) = &cloud.labels {
            assert_eq!(l, &u8s(&src["labels"]), "{file}: labels");
        }
        let (lo, hi) = info.bbox.expect("bbox");
        for k in 0..3 {
            let min = verts.iter().map(|p| p[k]).fold(f32::INFINITY, f32::min);
            let max = verts.iter().map(|p| p[k]).fold(f32::NEG_INFINITY, f32::max);
            assert_eq!((lo[k], hi[k]), (min, max), "{file}: bbox axis {k}");
        }
    }
}

#[test]
fn fields_are_reported_as_the_file_names_them() {
    let info = io::inspect(&dir().join("hand_binary_fields.pcd")).unwrap();
    assert_eq!(
        info.fields,
        [
            "intensity",
            "normal_z",
            "x",
            "_",
            "y",
            "hist",
            "normal_x",
            "label",
            "z",
            "normal_y",
            "rgb"
        ]
    );
    let info = io::inspect(&dir().join("o3d_binary_le_colors.ply")).unwrap();
    for f in ["x", "nx", "red", "green", "blue"] {
        assert!(
            info.fields.iter().any(|g| g == f),
            "{f} in {:?}",
            info.fields
        );
    }
    let info = io::inspect(&dir().join("hand_7col.csv")).unwrap();
    assert_eq!(info.fields, ["x", "y", "z", "nx", "ny", "nz", "label"]);
}

#[test]
fn read_gt_reads_both_ground_truth_styles() {
    let exp = expected();
    let labels = u8s(&exp["cloud"]["labels"]);
    for f in ["hand_gt_comma.txt", "hand_gt_space.txt"] {
        let gt = io::read_gt(&dir().join(f)).unwrap();
        assert_eq!(gt.labels.as_ref(), Some(&labels), "{f}");
        close(f, "point", &gt.points, &vec3s(&exp["cloud"]["points"]));
    }
    // A file without a label column is not ground truth.
    let err = io::read_gt(&dir().join("o3d_points.xyz")).unwrap_err();
    assert!(err.to_string().contains("o3d_points.xyz"), "{err}");
}

#[test]
fn txt_extension_is_sniffed_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    for (src, want) in [
        ("o3d_ascii.ply", "PLY ascii"),
        ("o3d_ascii.pcd", "PCD ascii"),
        ("hand_ascii.stl", "STL ascii"),
        ("o3d_mesh_binary.stl", "STL binary"),
        ("o3d_mesh.obj", "OBJ"),
        ("o3d_points.xyz", "XYZ text (whitespace, 3 columns)"),
    ] {
        let p = tmp.path().join(format!("{src}.txt"));
        std::fs::copy(dir().join(src), &p).unwrap();
        assert_eq!(io::inspect(&p).unwrap().format, want, "{src}");
    }
}

#[test]
fn point_cap_is_enforced() {
    let p = dir().join("o3d_binary.pcd");
    assert_eq!(io::read_with_limit(&p, 40).unwrap().len(), 40);
    let err = io::read_with_limit(&p, 39).unwrap_err().to_string();
    assert!(
        err.contains("o3d_binary.pcd") && err.contains("limit"),
        "{err}"
    );
    for f in [
        "o3d_ascii.ply",
        "o3d_points.xyz",
        "hand_ascii.stl",
        "o3d_mesh.obj",
    ] {
        let err = io::read_with_limit(&dir().join(f), 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains(f) && err.contains("limit"), "{err}");
    }
    assert_eq!(io::DEFAULT_MAX_POINTS, 50_000_000);
}

#[test]
fn pts_count_line_and_header_row_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("scan.pts");
    std::fs::write(&p, "2\n0.5 1 2\n3 4 5\n").unwrap();
    assert_eq!(
        io::read(&p).unwrap().points,
        [[0.5, 1.0, 2.0], [3.0, 4.0, 5.0]]
    );
    let p = tmp.path().join("named.csv");
    std::fs::write(&p, "x,y,z\n0.5,1,2\n").unwrap();
    assert_eq!(io::read(&p).unwrap().points, [[0.5, 1.0, 2.0]]);
}
