//! Bad input of every kind (empty, truncated, corrupt, lying headers, NaN/Inf, non-UTF-8,
//! out-of-range faces) gives an error that names the file and the problem: no panic and
//! no allocation sized from a header the data cannot back.

use po3ad_core::io;

/// Write `bytes` as `name` in a temp dir, read it, and return the error message, after
/// checking it names the file and contains every word in `expect`.
fn bad(name: &str, bytes: &[u8], expect: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let msg = match io::read(&p) {
        Ok(c) => panic!("{name}: expected an error, read {} points", c.len()),
        Err(e) => e.to_string(),
    };
    assert!(
        msg.contains(name),
        "{name}: error does not name the file: {msg}"
    );
    for w in expect {
        assert!(msg.contains(w), "{name}: '{w}' missing from: {msg}");
    }
    msg
}

fn pcd_header(fields: &str, size: &str, ty: &str, points: u64, data: &str) -> Vec<u8> {
    let k = fields.split_whitespace().count();
    format!(
        "VERSION 0.7\nFIELDS {fields}\nSIZE {size}\nTYPE {ty}\nCOUNT {}\nWIDTH {points}\nHEIGHT 1\nPOINTS {points}\nDATA {data}\n",
        vec!["1"; k].join(" ")
    )
    .into_bytes()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn empty_files_of_every_format() {
    for name in [
        "e.pcd", "e.ply", "e.obj", "e.stl", "e.xyz", "e.txt", "e.csv",
    ] {
        bad(name, b"", &[]);
    }
    bad("comments.xyz", b"# nothing\n\n", &["no data"]);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = io::read(std::path::Path::new("/no/such/file.pcd")).unwrap_err();
    assert!(matches!(err, po3ad_core::Error::Io { .. }));
    assert!(err.to_string().contains("file.pcd"));
}

#[test]
fn pcd_bad_inputs() {
    let h = |p, d| pcd_header("x y z", "4 4 4", "F F F", p, d);
    // Lying point counts: over the cap, and under the cap but far beyond the data.
    let mut b = h(1_000_000_000, "binary");
    b.extend(f32s(&[1.0, 2.0, 3.0]));
    bad("huge.pcd", &b, &["limit"]);
    let mut b = h(40_000_000, "binary");
    b.extend(f32s(&[1.0, 2.0, 3.0]));
    bad("lying.pcd", &b, &["binary data is 12 bytes"]);
    let mut b = h(2, "binary");
    b.extend(f32s(&[1.0, 2.0, 3.0, 4.0, 5.0]));
    bad("truncated.pcd", &b, &["header needs 24"]);
    // Wrong field sizes / inconsistent header.
    bad(
        "size3.pcd",
        &pcd_header("x y z", "4 3 4", "F F F", 1, "ascii"),
        &["size 3"],
    );
    bad(
        "sizes.pcd",
        &pcd_header("x y z", "4 4", "F F F", 1, "ascii"),
        &["2 sizes"],
    );
    bad(
        "noxyz.pcd",
        &pcd_header("a b c", "4 4 4", "F F F", 0, "ascii"),
        &["x, y and z"],
    );
    bad("mode.pcd", &h(0, "zipped"), &["DATA mode"]);
    bad(
        "nodata.pcd",
        b"VERSION 0.7\nFIELDS x y z\nPOINTS 1\n",
        &["end marker"],
    );
    let mut b = h(1, "ascii");
    b.extend(b"1 2 3\n");
    b[0] = 0xFF; // header no longer text
    bad("binhdr.pcd", &b, &["not text"]);
    // NaN / Inf coordinates, ascii and binary.
    let mut b = h(2, "ascii");
    b.extend(b"1 2 3\nnan 0 0\n");
    bad("nan.pcd", &b, &["point 1", "non-finite"]);
    let mut b = h(1, "binary");
    b.extend(f32s(&[1.0, f32::INFINITY, 3.0]));
    bad("inf.pcd", &b, &["non-finite"]);
    // Ascii problems: short rows, too few rows, garbage, non-UTF-8.
    let mut b = h(2, "ascii");
    b.extend(b"1 2 3\n4 5\n");
    bad("short.pcd", &b, &["has 2 values"]);
    let mut b = h(3, "ascii");
    b.extend(b"1 2 3\n");
    bad("few.pcd", &b, &["claims 3 points"]);
    let mut b = h(1, "ascii");
    b.extend(b"1 two 3\n");
    bad("garbage.pcd", &b, &["'two' is not a number"]);
    let mut b = h(1, "ascii");
    b.extend(b"1 2 \xFF\n");
    bad("latin1.pcd", &b, &["UTF-8"]);
    // Compressed: size fields lying, corrupt LZF.
    let mut b = h(1_000_000, "binary_compressed");
    b.extend(10u32.to_le_bytes());
    b.extend(12_000_000u32.to_le_bytes());
    b.extend([0u8; 10]);
    bad("ratio.pcd", &b, &["cannot hold"]);
    let mut b = h(1, "binary_compressed");
    b.extend(100u32.to_le_bytes());
    b.extend(12u32.to_le_bytes());
    b.extend([0u8; 5]);
    bad("block.pcd", &b, &["header says 100"]);
    let mut b = h(1, "binary_compressed");
    b.extend(3u32.to_le_bytes());
    b.extend(12u32.to_le_bytes());
    b.extend([0xE0, 0xFF, 0xFF]); // back reference before the start
    bad("lzf.pcd", &b, &["LZF"]);
    let mut b = h(1, "binary_compressed");
    b.extend(3u32.to_le_bytes());
    bad("nosize.pcd", &b, &["uncompressed size"]);
    // Label that is not a u8 value.
    let mut b = pcd_header("x y z label", "4 4 4 4", "F F F F", 1, "ascii");
    b.extend(b"1 2 3 0.5\n");
    bad("label.pcd", &b, &["label of point 0"]);
}

#[test]
fn ply_bad_inputs() {
    let head = |enc: &str, n: u64, faces: u64| {
        format!(
            "ply\nformat {enc} 1.0\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\nelement face {faces}\nproperty list uchar int vertex_indices\nend_header\n"
        )
        .into_bytes()
    };
    let mut b = head("binary_little_endian", 1_000_000_000, 0);
    b.extend(f32s(&[0.0; 3]));
    bad("huge.ply", &b, &["limit"]);
    let mut b = head("binary_little_endian", 40_000_000, 0);
    b.extend(f32s(&[0.0; 3]));
    bad("lying.ply", &b, &["vertex 1", "ends early"]);
    let mut b = head("binary_little_endian", 3, 1);
    b.extend(f32s(&[0.0; 9]));
    b.extend([3u8]);
    b.extend(0i32.to_le_bytes());
    b.extend(1i32.to_le_bytes());
    b.extend(3i32.to_le_bytes());
    bad("range.ply", &b, &["face 0 uses vertex 3"]);
    let mut b = head("binary_little_endian", 3, 1);
    b.extend(f32s(&[0.0; 9]));
    b.extend([3u8]);
    b.extend((-1i32).to_le_bytes());
    b.extend(0i32.to_le_bytes());
    b.extend(1i32.to_le_bytes());
    bad("negative.ply", &b, &["vertex index -1"]);
    // A list claiming 2^31 items with a few bytes left.
    let mut b = b"ply\nformat binary_big_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list int int vertex_indices\nend_header\n"
        .to_vec();
    b.extend([0u8; 12]);
    b.extend(0x7FFF_FFFFi32.to_be_bytes());
    b.extend([0u8; 8]);
    bad("biglist.ply", &b, &["more than the data left"]);
    let mut b = head("binary_little_endian", 2, 0);
    b.extend(f32s(&[0.0, 1.0, 2.0, f32::NAN, 0.0, 0.0]));
    bad("nan.ply", &b, &["point 1", "non-finite"]);
    let mut b = head("ascii", 1, 0);
    b.extend(b"1 inf 3\n");
    bad("inf.ply", &b, &["non-finite"]);
    let mut b = head("ascii", 2, 0);
    b.extend(b"1 2 3\n4 \xC3\x28 6\n");
    bad("utf8.ply", &b, &["UTF-8"]);
    let mut b = head("ascii", 2, 0);
    b.extend(b"1 2 3\n");
    bad("trunc.ply", &b, &["vertex 1", "ends early"]);
    bad(
        "noend.ply",
        b"ply\nformat ascii 1.0\nelement vertex 1\n",
        &["end marker"],
    );
    bad("notply.ply", b"PLY\nend_header\n", &["'ply'"]);
    bad(
        "type.ply",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float3 x\nend_header\n",
        &["float3"],
    );
    bad(
        "noxyz.ply",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n",
        &["x, y and z"],
    );
    bad(
        "count.ply",
        b"ply\nformat ascii 1.0\nelement vertex -5\nend_header\n",
        &["not a count"],
    );
}

#[test]
fn obj_bad_inputs() {
    bad(
        "range.obj",
        b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n",
        &["line 4", "'4'"],
    );
    bad(
        "zero.obj",
        b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n",
        &["out of range"],
    );
    bad(
        "neg.obj",
        b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n",
        &["'-4'"],
    );
    bad(
        "vn.obj",
        b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1//1 2 3\n",
        &["normal index"],
    );
    bad(
        "nan.obj",
        b"v 0 0 0\nv NaN 0 0\nv 0 1 0\n",
        &["point 1", "non-finite"],
    );
    bad("text.obj", b"v 0 zero 0\n", &["line 1", "'zero'"]);
    bad("short.obj", b"v 0 0\n", &["3 coordinates"]);
    bad("line.obj", b"v 0 0 0\nv 1 0 0\nf 1 2\n", &["face with 2"]);
    bad("bytes.obj", b"v 0 0 0\n\xFF\xFE\n", &["UTF-8"]);
}

#[test]
fn stl_bad_inputs() {
    // Binary header claiming 10^9 triangles with one triangle's worth of data.
    let mut b = vec![0u8; 80];
    b.extend(1_000_000_000u32.to_le_bytes());
    b.extend([0u8; 50]);
    bad("lying.stl", &b, &["claims 1000000000 triangles"]);
    let mut b = vec![0u8; 80];
    b.extend(1u32.to_le_bytes());
    b.extend([0u8; 12]);
    b.extend(f32s(&[0.0, 0.0, 0.0, 1.0, f32::NAN, 0.0, 0.0, 1.0, 0.0]));
    b.extend([0u8; 2]);
    bad("nan.stl", &b, &["non-finite"]);
    bad("short.stl", &[0u8; 40], &["neither"]);
    let facet = "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n";
    bad("cut.stl", facet.as_bytes(), &["inside a facet"]);
    let two = "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\nendsolid\n";
    bad("two.stl", two.as_bytes(), &["facet with 2"]);
    let junk = "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 q\n";
    bad("junk.stl", junk.as_bytes(), &["'q' is not a number"]);
    bad("word.stl", b"solid x\nhello\n", &["unexpected 'hello'"]);
}

#[test]
fn xyz_bad_inputs() {
    bad("mixed.xyz", b"1 2 3\n4 5 6 7\n", &["line 2", "4 columns"]);
    bad("five.csv", b"1,2,3,4,5\n", &["5 columns"]);
    bad("label.txt", b"1,2,3,2.5\n", &["label of point 0"]);
    bad("label256.txt", b"1 2 3 256\n", &["label of point 0"]);
    bad("inf.xyz", b"1 2 3\n1 2 -inf\n", &["point 1", "non-finite"]);
    bad("big.xyz", b"1 2 1e39\n", &["non-finite"]);
    bad("bytes.xyz", b"1 2 3\n1 2 \xE9\n", &["UTF-8"]);
    bad("words.xyz", b"x y z\na b c\n", &["'a' is not a number"]);
    // read_gt insists on labels and names the file.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("nolabel_gt.txt");
    std::fs::write(&p, "1 2 3\n").unwrap();
    let e = io::read_gt(&p).unwrap_err().to_string();
    assert!(e.contains("nolabel_gt.txt") && e.contains("label"), "{e}");
}

/// Without the point cap, headers claiming 2^40 points must still be caught by the
/// data-length checks before anything is allocated (a 12 TB allocation would abort
/// the test process, not return an error).
#[test]
fn lying_headers_without_a_cap_do_not_allocate() {
    let huge: u64 = 1 << 40;
    let tmp = tempfile::tempdir().unwrap();
    let check = |name: &str, bytes: Vec<u8>| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = io::read_with_limit(&p, usize::MAX).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    };
    for mode in ["ascii", "binary", "binary_compressed"] {
        let mut b = pcd_header("x y z", "4 4 4", "F F F", huge, mode);
        b.extend(16u32.to_le_bytes());
        b.extend(16u32.to_le_bytes());
        b.extend([0u8; 16]);
        check(&format!("huge_{mode}.pcd"), b);
    }
    for enc in ["ascii", "binary_little_endian", "binary_big_endian"] {
        for (v, f) in [(huge, 0), (3, huge)] {
            let mut b = format!(
                "ply\nformat {enc} 1.0\nelement vertex {v}\nproperty float x\nproperty float y\nproperty float z\nelement face {f}\nproperty list uchar int vertex_indices\nend_header\n"
            )
            .into_bytes();
            b.extend(if enc == "ascii" {
                b"0 0 0\n".to_vec()
            } else {
                vec![0u8; 12]
            });
            check(&format!("huge_{enc}_{f}.ply"), b);
        }
    }
    let mut b = vec![0u8; 80];
    b.extend(u32::MAX.to_le_bytes());
    check("huge.stl", b);
}

/// Every reader's point cap is the typed `TooManyPoints` (a service answers 413 for it,
/// 400 for the other errors), with the file, the count and the limit.
#[test]
fn over_the_point_limit_is_its_own_error() {
    let xyz = b"0 0 0\n1 0 0\n0 1 0\n".as_slice();
    let ply = b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n".as_slice();
    let pcd = b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 3\nHEIGHT 1\nPOINTS 3\nDATA ascii\n0 0 0\n1 0 0\n0 1 0\n".as_slice();
    let obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".as_slice();
    let stl = b"solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n".as_slice();
    for (name, bytes) in [
        ("a.xyz", xyz),
        ("a.ply", ply),
        ("a.pcd", pcd),
        ("a.obj", obj),
        ("a.stl", stl),
    ] {
        let path = std::path::Path::new(name);
        assert_eq!(io::parse_bytes(path, bytes, 3).unwrap().len(), 3, "{name}");
        match io::parse_bytes(path, bytes, 2) {
            Err(po3ad_core::Error::TooManyPoints {
                path: p,
                claimed,
                limit,
                ..
            }) => {
                assert_eq!(p, path, "{name}");
                assert_eq!(limit, 2, "{name}");
                assert_eq!(claimed, 3, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}
