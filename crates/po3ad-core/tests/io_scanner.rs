//! E57 and LAS/LAZ files written by independent tools (pye57 over libE57Format, laspy
//! with lazrs; `scripts/make_scanner_fixtures.py`) read back to the coordinates those
//! tools computed (`tests/fixtures/scanner/expected.json`).

use po3ad_core::io::{self, E57Scans, ScanOptions};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scanner")
}

fn expected() -> serde_json::Value {
    let s = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn points(v: &serde_json::Value) -> Vec<[f32; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            [0, 1, 2].map(|a| r[a].as_f64().unwrap() as f32)
        })
        .collect()
}

/// Points of every scan of a fixture, with the invalid pixels left out, in file order.
fn valid_points(entry: &serde_json::Value, scan: Option<usize>) -> Vec<[f32; 3]> {
    let scans = entry["scans"].as_array().unwrap();
    let mut out = Vec::new();
    for (k, s) in scans.iter().enumerate() {
        if scan.is_some_and(|want| want != k) {
            continue;
        }
        let invalid: Vec<u64> = s
            .get("invalid")
            .map(|v| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        for (i, p) in points(&s["points"]).into_iter().enumerate() {
            if !invalid.contains(&(i as u64)) {
                out.push(p);
            }
        }
    }
    out
}

/// Largest coordinate difference relative to the coordinate's size.
fn max_rel_err(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| (0..3).map(move |k| (p[k] - q[k]).abs() / q[k].abs().max(1.0)))
        .fold(0.0, f32::max)
}

#[test]
fn las_and_laz_read_back_exactly() {
    let exp = expected();
    for name in [
        "laspy_v12_pf0.las",
        "laspy_v14_pf6.las",
        "laspy_v14_pf7.laz",
        "laspy_v12_pf3.laz",
    ] {
        let path = dir().join(name);
        let got = io::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = valid_points(&exp[name], None);
        // Scaled integers x scale + offset in f64, rounded once to f32: bit-equal.
        assert_eq!(got.points, want, "{name}");
        let info = io::inspect(&path).unwrap();
        assert_eq!(info.points, want.len());
        let laz = name.ends_with(".laz");
        assert!(
            info.format.starts_with(if laz { "LAZ" } else { "LAS" }),
            "{}",
            info.format
        );
        // The content decides when the extension does not.
        let bytes = std::fs::read(&path).unwrap();
        let sniffed = io::parse_bytes(Path::new("scan.bin"), &bytes, 1000).unwrap();
        assert_eq!(sniffed.points, want, "{name} sniffed");
    }
}

#[test]
fn e57_cartesian_scans_read_back_with_pose_and_invalid_pixels() {
    let exp = expected();
    let name = "pye57_two_scans.e57";
    let path = dir().join(name);
    let opts = ScanOptions::default();
    let scan = io::read_scan(&path, &opts).unwrap();
    let want = valid_points(&exp[name], None);
    assert!(max_rel_err(&scan.cloud.points, &want) < 1e-6);
    assert_eq!(scan.dropped.total, 35);
    assert_eq!(scan.dropped.non_finite, 3);
    let kept: Vec<u32> = (0..35).filter(|i| ![21, 27, 34].contains(i)).collect();
    assert_eq!(scan.dropped.kept, kept);
    assert_eq!(scan.units, po3ad_core::scene::Units::Meters);

    // One scan by index; the unposed grid is float32 in the file: bit-equal.
    let one = io::read_scan(
        &path,
        &ScanOptions {
            e57_scans: E57Scans::Index(1),
            ..opts
        },
    )
    .unwrap();
    assert_eq!(one.cloud.points, valid_points(&exp[name], Some(1)));
    assert_eq!(
        one.dropped.kept,
        vec![0, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]
    );
    let e = io::read_scan(
        &path,
        &ScanOptions {
            e57_scans: E57Scans::Index(2),
            ..opts
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains(name) && e.contains("2 scan(s)"), "{e}");

    // `read` refuses the invalid pixels, naming the file.
    let e = io::read(&path).unwrap_err().to_string();
    assert!(e.contains(name) && e.contains("non-finite"), "{e}");
    let info = io::inspect(&path).unwrap();
    assert_eq!((info.points, info.invalid_points), (35, 3));
    assert_eq!(info.scans.len(), 2);
    assert_eq!(info.scans[0].0.as_deref(), Some("posed"));
    assert_eq!(info.scans[1].1, 15);
}

#[test]
fn e57_spherical_coordinates_are_converted() {
    let exp = expected();
    let name = "pye57_spherical.e57";
    let got = io::read(&dir().join(name)).unwrap();
    let want = valid_points(&exp[name], None);
    assert!(
        max_rel_err(&got.points, &want) < 1e-6,
        "{:?} vs {:?}",
        got.points,
        want
    );
}

#[test]
fn organized_pcd_with_nan_and_zero_pixels_is_cleaned_with_a_mapping() {
    // A 3 x 2 structured-light frame: pixel 1 NaN, pixel 3 (0, 0, 0), pixel 4 -inf.
    let body = "1 2 3\nnan nan nan\n4 5 6\n0 0 0\n-inf 0 1\n7 8 9\n";
    let pcd = format!(
        "VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 3\nHEIGHT 2\n\
         VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 6\nDATA ascii\n{body}"
    );
    let path = Path::new("zivid_frame.pcd");
    let scan = io::parse_scan_bytes(path, pcd.as_bytes(), &ScanOptions::default()).unwrap();
    assert_eq!(
        scan.cloud.points,
        vec![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    );
    assert_eq!((scan.dropped.non_finite, scan.dropped.origin), (2, 1));
    assert_eq!(scan.dropped.kept, vec![0, 2, 5]);
    let scores = scan.dropped.scatter(&[0.1f32, 0.2, 0.3], f32::NAN).unwrap();
    assert_eq!(scores.len(), 6);
    assert_eq!((scores[0], scores[2], scores[5]), (0.1, 0.2, 0.3));
    // `read` keeps refusing non-finite points, naming the file and the point.
    let e = io::parse_bytes(path, pcd.as_bytes(), 100)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zivid_frame.pcd") && e.contains("point 1"),
        "{e}"
    );
    // A clean file reads the same through both.
    let clean = "VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\n\
                 HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA ascii\n0 0 0\n1 1 1\n";
    let a = io::parse_bytes(path, clean.as_bytes(), 100).unwrap();
    let b = io::parse_scan_bytes(path, clean.as_bytes(), &ScanOptions::default()).unwrap();
    assert_eq!(a, b.cloud);
    assert_eq!(b.dropped, po3ad_core::scene::DroppedPoints::none(2));
}

#[test]
fn broken_scanner_files_are_errors_naming_the_file() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.e57", b"", "E57"),
        ("garbage.e57", b"ASTM-E57 but then nothing useful", "E57"),
        ("empty.las", b"", "LAS"),
        ("short.laz", b"LASF\x00\x00", "LAS"),
        ("text.las", b"x y z\n1 2 3\n", "LAS"),
    ];
    for (name, bytes, word) in cases {
        let e = io::parse_bytes(Path::new(name), bytes, 1000)
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(word), "{name}: {e}");
    }
    // Truncated real files.
    for name in [
        "pye57_two_scans.e57",
        "laspy_v14_pf7.laz",
        "laspy_v12_pf0.las",
    ] {
        let b = std::fs::read(dir().join(name)).unwrap();
        let e = io::parse_bytes(Path::new(name), &b[..b.len() * 2 / 3], 1000).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
    // The point cap applies before decoding.
    let b = std::fs::read(dir().join("laspy_v14_pf7.laz")).unwrap();
    let e = io::parse_bytes(Path::new("cap.laz"), &b, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("limit of 10"), "{e}");
    let b = std::fs::read(dir().join("pye57_two_scans.e57")).unwrap();
    let e = io::parse_bytes(Path::new("cap.e57"), &b, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("limit of 10"), "{e}");
}

/// A LAS 1.4 file whose extended VLR claims more bytes than the file holds is refused,
/// naming the file, before the `las` crate sizes a buffer by that length (a lying
/// length panicked there, or asked for more memory than exists: found by the
/// 10⁶-case fuzz run, notes/reliability.md). The same record with an honest length
/// reads as the file without it.
#[test]
fn a_lying_extended_vlr_length_is_refused() {
    for name in ["laspy_v14_pf6.las", "laspy_v14_pf7.laz"] {
        let original = std::fs::read(dir().join(name)).unwrap();
        let with_evlr = |length: u64| {
            let mut b = original.clone();
            let start = b.len() as u64;
            // LAS 1.4 header: start of the first EVLR (u64) at byte 235, their count
            // (u32) at 243; an EVLR's payload length (u64) at byte 20 of its header.
            b[235..243].copy_from_slice(&start.to_le_bytes());
            b[243..247].copy_from_slice(&1u32.to_le_bytes());
            let mut evlr = vec![0u8; 60];
            evlr[20..28].copy_from_slice(&length.to_le_bytes());
            b.extend_from_slice(&evlr);
            b
        };
        for lie in [u64::MAX - 8, 1 << 40, 61] {
            let e = io::parse_bytes(Path::new(name), &with_evlr(lie), 1_000_000)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(name) && e.contains("extended VLR 1") && e.contains("past the end"),
                "{name}, length {lie}: {e}"
            );
        }
        let honest = io::parse_bytes(Path::new(name), &with_evlr(0), 1_000_000).unwrap();
        let plain = io::parse_bytes(Path::new(name), &original, 1_000_000).unwrap();
        assert_eq!(honest.points, plain.points, "{name}");
    }
}

/// Where the LASzip record's data starts in a LAZ file: 54 bytes after its VLR header,
/// whose user id (at byte 2 of it) reads "laszip encoded".
fn laszip_data(bytes: &[u8]) -> usize {
    let user = bytes
        .windows(14)
        .position(|w| w == b"laszip encoded")
        .expect("a LASzip record");
    user - 2 + 54
}

/// A LAZ file that says its chunks vary in size but whose chunk table holds fewer
/// points than the header claims is refused, naming the file, instead of sending the
/// `laz` decoder past the end of the table (an index panic there: found by the
/// 10⁶-case fuzz run, notes/reliability.md).
#[test]
fn a_laz_chunk_table_short_of_the_points_is_refused() {
    let name = "laspy_v14_pf7.laz";
    let mut b = std::fs::read(dir().join(name)).unwrap();
    // The LASzip record's chunk size (u32) is at byte 12 of its data.
    let chunk_size = laszip_data(&b) + 12;
    b[chunk_size..chunk_size + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    // The chunk table: at the offset (i64) the point data starts with; its chunk count
    // is the u32 at byte 4 of it.
    let data_start = u32::from_le_bytes(b[96..100].try_into().unwrap()) as usize;
    let table = i64::from_le_bytes(b[data_start..data_start + 8].try_into().unwrap()) as usize;
    b[table + 4..table + 8].copy_from_slice(&0u32.to_le_bytes());
    let e = io::parse_bytes(Path::new(name), &b, 1_000_000)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(name) && e.contains("chunk table's 0 chunks hold 0 points"),
        "{e}"
    );
}

/// A LAZ file whose LASzip record lists items larger than the point record is refused,
/// naming the file (`laz` split each record at the items' sizes and panicked: found by
/// the fuzz run, notes/reliability.md).
#[test]
fn laszip_items_that_do_not_match_the_point_record_are_refused() {
    let name = "laspy_v12_pf3.laz";
    let orig = std::fs::read(dir().join(name)).unwrap();
    // The LASzip record's items start at byte 34 of its data, (type, size, version)
    // each; this file's are Point10 (20 bytes), GPS time (8) and RGB (6): 34 bytes, its
    // point record. A Point10 item of 0 bytes was found by the fuzz run (a panic in
    // `laz`); 200 bytes overruns the record.
    let items = laszip_data(&orig) + 34;
    for (item, kind, size, says) in [
        (0, 6u16, 0u16, "that type takes 20"),
        (0, 6, 19, "that type takes 20"),
        (0, 6, 200, "that type takes 20"),
        // Extra bytes (type 0) may have any size, but the items must fill the record.
        (2, 0, 10, "items take 38 bytes"),
    ] {
        let mut b = orig.clone();
        let at = items + 6 * item;
        b[at..at + 2].copy_from_slice(&kind.to_le_bytes());
        b[at + 2..at + 4].copy_from_slice(&size.to_le_bytes());
        let e = io::parse_bytes(Path::new(name), &b, 1_000_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(says), "{kind}/{size}: {e}");
    }
}
