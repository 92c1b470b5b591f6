//! Writers: every writer's output reads back to the same cloud, writes are atomic
//! (no temporary files left, the old file survives a failed write), and inconsistent
//! clouds are refused.

use po3ad_core::io::{self, PcdData};
use po3ad_core::PointCloud;
use std::path::Path;

/// A cloud with values that are not short decimals, so ascii writers must print
/// enough digits to round-trip f32 exactly.
fn cloud(n: usize, normals: bool, labels: bool) -> PointCloud {
    let points: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let t = i as f32 * 0.7310586;
            [
                t.sin() * 1e-3,
                t.cos() * 123.456_79,
                (t * 0.1).tan() - 1.0 / 3.0,
            ]
        })
        .collect();
    PointCloud {
        normals: normals.then(|| {
            points
                .iter()
                .map(|p| {
                    let l = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt().max(1e-9);
                    [p[0] / l, p[1] / l, p[2] / l]
                })
                .collect()
        }),
        labels: labels.then(|| (0..n).map(|i| (i % 3 == 0) as u8).collect()),
        points,
        faces: Vec::new(),
    }
}

fn mesh() -> PointCloud {
    let mut m = cloud(5, true, true);
    m.faces = vec![[0, 1, 2], [0, 2, 3], [1, 3, 4]];
    m
}

fn no_temp_files(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp.")),
        "temp files left: {names:?}"
    );
}

#[test]
fn pcd_round_trips_in_every_mode() {
    let tmp = tempfile::tempdir().unwrap();
    for (mode, name) in [
        (PcdData::Ascii, "PCD ascii"),
        (PcdData::Binary, "PCD binary"),
        (PcdData::BinaryCompressed, "PCD binary_compressed"),
    ] {
        for (normals, labels) in [(false, false), (true, false), (true, true), (false, true)] {
            let c = cloud(300, normals, labels);
            let p = tmp.path().join("c.pcd");
            io::write_pcd(&p, &c, mode).unwrap();
            assert_eq!(io::read(&p).unwrap(), c, "{mode:?} {normals} {labels}");
            assert_eq!(io::inspect(&p).unwrap().format, name);
        }
    }
    // Incompressible data still makes a valid binary_compressed file.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noisy: Vec<[f32; 3]> = (0..50)
        .map(|_| {
            [0; 3].map(|_: u8| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / 1024.0 - 8000.0
            })
        })
        .collect();
    let c = PointCloud::from_points(noisy);
    let p = tmp.path().join("noise.pcd");
    io::write_pcd(&p, &c, PcdData::BinaryCompressed).unwrap();
    assert_eq!(io::read(&p).unwrap(), c);
    // Empty clouds too.
    io::write_pcd(&p, &PointCloud::default(), PcdData::BinaryCompressed).unwrap();
    assert!(io::read(&p).unwrap().is_empty());
    no_temp_files(tmp.path());
}

#[test]
fn ply_round_trips_with_faces_labels_and_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mesh();
    let colors: Vec<[u8; 3]> = (0..5).map(|i| [i * 50, 255 - i, 7]).collect();
    for binary in [true, false] {
        for col in [None, Some(colors.as_slice())] {
            let p = tmp.path().join("m.ply");
            io::write_ply(&p, &m, col, binary).unwrap();
            assert_eq!(io::read(&p).unwrap(), m, "binary {binary}");
            let info = io::inspect(&p).unwrap();
            assert_eq!(info.fields.contains(&"red".to_string()), col.is_some());
            assert_eq!(
                info.format,
                if binary {
                    "PLY binary_little_endian"
                } else {
                    "PLY ascii"
                }
            );
        }
    }
    let c = cloud(100, false, false);
    let p = tmp.path().join("c.ply");
    io::write_ply(&p, &c, None, true).unwrap();
    assert_eq!(io::read(&p).unwrap(), c);
    no_temp_files(tmp.path());
}

#[test]
fn xyz_and_gt_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    for (normals, labels) in [(false, false), (true, false), (false, true), (true, true)] {
        let c = cloud(200, normals, labels);
        let p = tmp.path().join("c.xyz");
        io::write_xyz(&p, &c).unwrap();
        assert_eq!(io::read(&p).unwrap(), c, "{normals} {labels}");
    }
    let c = cloud(200, false, true);
    let p = tmp.path().join("gt.txt");
    io::write_gt(&p, &c).unwrap();
    assert_eq!(io::read_gt(&p).unwrap(), c);
    let first = std::fs::read_to_string(&p).unwrap();
    let row = first.lines().next().unwrap();
    assert_eq!(row.split(',').count(), 4, "{row}");
    no_temp_files(tmp.path());
}

#[test]
fn writers_refuse_inconsistent_clouds_and_keep_the_old_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("keep.ply");
    let good = cloud(10, false, false);
    io::write_ply(&p, &good, None, true).unwrap();
    let before = std::fs::read(&p).unwrap();

    let mut bad = cloud(10, true, false);
    bad.normals.as_mut().unwrap().pop();
    assert!(io::write_ply(&p, &bad, None, true).is_err());
    let mut bad = cloud(10, false, true);
    bad.labels.as_mut().unwrap().push(1);
    assert!(io::write_pcd(&p, &bad, PcdData::Binary).is_err());
    let mut bad = cloud(10, false, false);
    bad.faces.push([0, 1, 10]);
    assert!(io::write_ply(&p, &bad, None, false).is_err());
    assert!(io::write_ply(&p, &good, Some(&[[0, 0, 0]]), true).is_err());
    assert_eq!(std::fs::read(&p).unwrap(), before);

    // A folder that does not exist: an Io error naming the file, nothing written.
    let missing = tmp.path().join("no/such/dir/x.pcd");
    let err = io::write_pcd(&missing, &good, PcdData::Ascii).unwrap_err();
    assert!(err.to_string().contains("x.pcd"), "{err}");
    no_temp_files(tmp.path());
}

#[test]
fn write_atomic_replaces_content_and_parallel_writers_do_not_collide() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("a.bin");
    io::write_atomic(&p, b"first").unwrap();
    io::write_atomic(&p, b"second").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    std::thread::scope(|s| {
        for i in 0..8u8 {
            let p = tmp.path().join(format!("t{i}.bin"));
            s.spawn(move || io::write_atomic(&p, &[i; 1000]).unwrap());
        }
    });
    for i in 0..8u8 {
        let got = std::fs::read(tmp.path().join(format!("t{i}.bin"))).unwrap();
        assert_eq!(got, vec![i; 1000]);
    }
    no_temp_files(tmp.path());
}
