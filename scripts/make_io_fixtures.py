#!/usr/bin/env python3
"""Write the io test fixtures (crates/po3ad-core/tests/fixtures/io/) from known values.

Every fixture holds the same small point cloud or the same small mesh, so the Rust
tests (crates/po3ad-core/tests/io_read.rs) can compare what they read with the
values in expected.json. Open3D (a real, widely used writer) writes every variant it
supports; the rest are written here with numpy/struct, as marked "hand" below:
  - PCD binary with shuffled/extra fields, F8/I2/U4 types, COUNT>1, padding `_`
  - PCD binary_compressed with a label field (Open3D cannot write labels)
  - PCD v0.5 / v0.6 headers (Open3D writes only v0.7)
  - PLY binary big-endian with double coordinates, labels, quad faces, extra element
  - OBJ with quads, mixed v / v/vt / v//vn / v/vt/vn corners, negative indices
  - STL ascii (Open3D writes binary STL only)
  - ground-truth text (comma and whitespace) and 7-column CSV with labels

Coordinates are multiples of 1/64 and normals come from a few exactly printable unit
vectors, so ascii writers that print 6 significant digits lose nothing.

Usage: pip install open3d numpy   (open3d needs Debian's libusb-1.0-0)
       python3 scripts/make_io_fixtures.py
"""

import json
import os
import struct

import numpy as np
import open3d as o3d

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "po3ad-core", "tests", "fixtures", "io")
N = 40

rng = np.random.default_rng(20251128)
POINTS = (rng.integers(-64, 65, size=(N, 3)) / 64.0).astype(np.float32)
UNIT = np.array(
    [[1, 0, 0], [0, -1, 0], [0, 0, 1], [0.6, 0.8, 0], [0, -0.6, 0.8], [0.36, 0.48, 0.8], [-0.8, 0, 0.6]],
    dtype=np.float32,
)
NORMALS = UNIT[rng.integers(0, len(UNIT), size=N)]
LABELS = (POINTS[:, 0] > 0.25).astype(np.uint8)

# A box with corners at multiples of 1/64; quads listed counter-clockwise from outside.
MESH_V = np.array(
    [[x, y, z] for z in (-0.5, 0.75) for y in (-0.25, 0.5) for x in (-0.125, 1.0)], dtype=np.float32
)
QUADS = np.array(
    [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]], dtype=np.int64
)
TRIS = np.array([[q[0], q[k], q[k + 1]] for q in QUADS for k in (1, 2)], dtype=np.int64)
MESH_N = UNIT[[0, 1, 2, 3, 4, 5, 6, 0]]
MESH_LABELS = np.array([0, 1, 0, 1, 1, 0, 0, 1], dtype=np.uint8)

fixtures = []


def note(name, kind, fmt, normals, labels, writer, faces="tris"):
    fixtures.append(
        dict(file=name, kind=kind, format=fmt, normals=normals, labels=labels, writer=writer, faces=faces)
    )


def path(name):
    return os.path.join(OUT, name)


def o3d_cloud(normals=True, colors=False):
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(POINTS.astype(np.float64)))
    if normals:
        pc.normals = o3d.utility.Vector3dVector(NORMALS.astype(np.float64))
    if colors:
        pc.colors = o3d.utility.Vector3dVector(np.tile([[0.5, 0.25, 1.0]], (N, 1)))
    return pc


def o3d_mesh(normals=True):
    m = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(MESH_V.astype(np.float64)), o3d.utility.Vector3iVector(TRIS.astype(np.int32))
    )
    if normals:
        m.vertex_normals = o3d.utility.Vector3dVector(MESH_N.astype(np.float64))
    return m


def write_open3d():
    w = o3d.io.write_point_cloud
    assert w(path("o3d_ascii.pcd"), o3d_cloud(), write_ascii=True)
    note("o3d_ascii.pcd", "cloud", "PCD ascii", True, False, "open3d")
    assert w(path("o3d_binary.pcd"), o3d_cloud())
    note("o3d_binary.pcd", "cloud", "PCD binary", True, False, "open3d")
    assert w(path("o3d_binary_compressed.pcd"), o3d_cloud(), compressed=True)
    note("o3d_binary_compressed.pcd", "cloud", "PCD binary_compressed", True, False, "open3d")
    assert w(path("o3d_ascii.ply"), o3d_cloud(), write_ascii=True)
    note("o3d_ascii.ply", "cloud", "PLY ascii", True, False, "open3d")
    assert w(path("o3d_binary_le_colors.ply"), o3d_cloud(colors=True))
    note("o3d_binary_le_colors.ply", "cloud", "PLY binary_little_endian", True, False, "open3d")
    assert w(path("o3d_points.xyz"), o3d_cloud(normals=False))
    note("o3d_points.xyz", "cloud", "XYZ text (whitespace, 3 columns)", False, False, "open3d")
    assert w(path("o3d_points.xyzn"), o3d_cloud())
    note("o3d_points.xyzn", "cloud", "XYZ text (whitespace, 6 columns)", True, False, "open3d")

    wm = o3d.io.write_triangle_mesh
    assert wm(path("o3d_mesh_binary.ply"), o3d_mesh())
    note("o3d_mesh_binary.ply", "mesh", "PLY binary_little_endian", True, False, "open3d")
    assert wm(path("o3d_mesh_ascii.ply"), o3d_mesh(normals=False), write_ascii=True)
    note("o3d_mesh_ascii.ply", "mesh", "PLY ascii", False, False, "open3d")
    assert wm(path("o3d_mesh.obj"), o3d_mesh(), write_triangle_uvs=False)
    note("o3d_mesh.obj", "mesh", "OBJ", True, False, "open3d")
    m = o3d_mesh(normals=False)
    m.compute_triangle_normals()
    assert wm(path("o3d_mesh_binary.stl"), m)
    note("o3d_mesh_binary.stl", "mesh", "STL binary", False, False, "open3d")


def pcd_header(version, fields, sizes, types, counts, data, n, old=False):
    lines = [f"# .PCD v{version} - Point Cloud Data file format", f"VERSION {version}"]
    lines.append(("COLUMNS " if old else "FIELDS ") + " ".join(fields))
    lines.append("SIZE " + " ".join(map(str, sizes)))
    lines.append("TYPE " + " ".join(types))
    if counts is not None:
        lines.append("COUNT " + " ".join(map(str, counts)))
    lines += [f"WIDTH {n}", "HEIGHT 1"]
    if version == "0.7":
        lines.append("VIEWPOINT 0 0 0 1 0 0 0")
    lines += [f"POINTS {n}", f"DATA {data}"]
    return ("\n".join(lines) + "\n").encode()


def lzf_literals(data):
    """A valid LZF stream made only of literal runs (control byte = length - 1)."""
    out = bytearray()
    for i in range(0, len(data), 32):
        run = data[i : i + 32]
        out.append(len(run) - 1)
        out += run
    return bytes(out)


def write_pcd_hand():
    # Shuffled fields, extras, mixed types, COUNT 3 on one field and padding.
    dt = np.dtype(
        [
            ("intensity", "<f8"),
            ("normal_z", "<f4"),
            ("x", "<f8"),
            ("_", "u1", (3,)),
            ("y", "<f4"),
            ("hist", "<i2", (3,)),
            ("normal_x", "<f4"),
            ("label", "<u4"),
            ("z", "<f4"),
            ("normal_y", "<f4"),
            ("rgb", "<f4"),
        ]
    )
    rec = np.zeros(N, dtype=dt)
    rec["intensity"] = np.arange(N) * 0.5
    rec["x"], rec["y"], rec["z"] = POINTS[:, 0], POINTS[:, 1], POINTS[:, 2]
    rec["normal_x"], rec["normal_y"], rec["normal_z"] = NORMALS[:, 0], NORMALS[:, 1], NORMALS[:, 2]
    rec["hist"] = np.arange(N * 3).reshape(N, 3) - 7
    rec["label"] = LABELS
    names = ["intensity", "normal_z", "x", "_", "y", "hist", "normal_x", "label", "z", "normal_y", "rgb"]
    sizes = [8, 4, 8, 1, 4, 2, 4, 4, 4, 4, 4]
    types = ["F", "F", "F", "U", "F", "I", "F", "U", "F", "F", "F"]
    counts = [1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1]
    with open(path("hand_binary_fields.pcd"), "wb") as f:
        f.write(pcd_header("0.7", names, sizes, types, counts, "binary", N) + rec.tobytes())
    note("hand_binary_fields.pcd", "cloud", "PCD binary", True, True, "hand")

    # binary_compressed with a label: fields stored one after another (column-major).
    cols = [POINTS[:, 0], POINTS[:, 1], POINTS[:, 2], LABELS.astype("<u4")]
    raw = b"".join(np.ascontiguousarray(c).astype(c.dtype.newbyteorder("<")).tobytes() for c in cols)
    packed = lzf_literals(raw)
    with open(path("hand_compressed_label.pcd"), "wb") as f:
        f.write(pcd_header("0.7", ["x", "y", "z", "label"], [4, 4, 4, 4], ["F", "F", "F", "U"], [1, 1, 1, 1], "binary_compressed", N))
        f.write(struct.pack("<II", len(packed), len(raw)) + packed)
    note("hand_compressed_label.pcd", "cloud", "PCD binary_compressed", False, True, "hand")

    # v0.5: COLUMNS instead of FIELDS, no COUNT, no VIEWPOINT, ascii.
    body = "".join(f"{p[0]:g} {p[1]:g} {p[2]:g}\n" for p in POINTS)
    with open(path("hand_v05_ascii.pcd"), "wb") as f:
        f.write(pcd_header(".5", ["x", "y", "z"], [4, 4, 4], ["F", "F", "F"], None, "ascii", N, old=True) + body.encode())
    note("hand_v05_ascii.pcd", "cloud", "PCD ascii", False, False, "hand")

    # v0.6: COUNT but no VIEWPOINT, binary, doubles.
    with open(path("hand_v06_binary_f8.pcd"), "wb") as f:
        f.write(pcd_header("0.6", ["x", "y", "z"], [8, 8, 8], ["F", "F", "F"], [1, 1, 1], "binary", N))
        f.write(POINTS.astype("<f8").tobytes())
    note("hand_v06_binary_f8.pcd", "cloud", "PCD binary", False, False, "hand")


def write_ply_hand():
    # Big-endian, double coordinates, uchar labels, quad faces (vertex_index, int32
    # indices), plus an edge element that readers must skip.
    hdr = (
        "ply\nformat binary_big_endian 1.0\ncomment hand-written by make_io_fixtures.py\n"
        f"element vertex {len(MESH_V)}\nproperty double x\nproperty double y\nproperty double z\n"
        "property uchar label\n"
        f"element face {len(QUADS)}\nproperty list uchar int vertex_index\n"
        "element edge 2\nproperty int vertex1\nproperty int vertex2\nend_header\n"
    )
    body = bytearray()
    for v, l in zip(MESH_V, MESH_LABELS):
        body += struct.pack(">dddB", *map(float, v), int(l))
    for q in QUADS:
        body += struct.pack(">B4i", 4, *map(int, q))
    body += struct.pack(">4i", 0, 1, 1, 2)
    with open(path("hand_mesh_be_quads.ply"), "wb") as f:
        f.write(hdr.encode() + bytes(body))
    note("hand_mesh_be_quads.ply", "mesh", "PLY binary_big_endian", False, True, "hand", faces="quads")

    # Big-endian point cloud with normals (floats), the other common BE layout.
    hdr = (
        "ply\nformat binary_big_endian 1.0\n"
        f"element vertex {N}\nproperty float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\nproperty float scalar_label\nend_header\n"
    )
    body = b"".join(struct.pack(">7f", *map(float, p), *map(float, n), float(l)) for p, n, l in zip(POINTS, NORMALS, LABELS))
    with open(path("hand_cloud_be.ply"), "wb") as f:
        f.write(hdr.encode() + body)
    note("hand_cloud_be.ply", "cloud", "PLY binary_big_endian", True, True, "hand")


def write_obj_hand():
    # Quads with every corner form and negative (relative) indices; per-face normals
    # (hard edges), so no consistent vertex normal exists and the reader leaves None.
    lines = ["# hand-written by make_io_fixtures.py", "mtllib none.mtl", "o box"]
    lines += [f"v {v[0]:g} {v[1]:g} {v[2]:g}" for v in MESH_V]
    lines += ["vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1"]
    face_n = [[0, 0, -1], [0, 0, 1], [0, -1, 0], [0, 1, 0], [-1, 0, 0], [1, 0, 0]]
    lines += [f"vn {n[0]} {n[1]} {n[2]}" for n in face_n]
    for i, q in enumerate(QUADS):
        a = [int(x) + 1 for x in q]
        if i == 0:
            corners = [f"{v}" for v in a]
        elif i == 1:
            corners = [f"{v}/{k + 1}" for k, v in enumerate(a)]
        elif i == 2:
            corners = [f"{v}//{i + 1}" for v in a]
        elif i == 3:
            corners = [f"{v}/{k + 1}/{i + 1}" for k, v in enumerate(a)]
        else:  # negative: -1 is the last vertex (8), so vertex v is v - 9
            corners = [f"{v - 9}/{k - 4}/{i - 6}" for k, v in enumerate(a)]
        lines.append(("g side\n" if i == 3 else "") + "f " + " ".join(corners))
    with open(path("hand_quads_negative.obj"), "w") as f:
        f.write("\n".join(lines) + "\n")
    note("hand_quads_negative.obj", "mesh", "OBJ", False, False, "hand", faces="quads")


def write_stl_hand():
    out = ["solid box"]
    for t in TRIS:
        a, b, c = MESH_V[t]
        n = np.cross(b - a, c - a)
        n = n / np.linalg.norm(n)
        out.append(f"  facet normal {n[0]:e} {n[1]:e} {n[2]:e}\n    outer loop")
        out += [f"      vertex {v[0]:e} {v[1]:e} {v[2]:e}" for v in (a, b, c)]
        out.append("    endloop\n  endfacet")
    out.append("endsolid box")
    with open(path("hand_ascii.stl"), "w") as f:
        f.write("\n".join(out) + "\n")
    note("hand_ascii.stl", "mesh", "STL ascii", False, False, "hand")


def write_text_hand():
    with open(path("hand_gt_comma.txt"), "w") as f:
        f.writelines(f"{p[0]:g},{p[1]:g},{p[2]:g},{l}\n" for p, l in zip(POINTS, LABELS))
    note("hand_gt_comma.txt", "cloud", "XYZ text (comma, 4 columns)", False, True, "hand")
    with open(path("hand_gt_space.txt"), "w") as f:
        f.write("# Real3D-AD style ground truth: x y z label\n\n")
        f.writelines(f"{p[0]:.6f}\t{p[1]:.6f}  {p[2]:.6f} {float(l):.6f}\n" for p, l in zip(POINTS, LABELS))
    note("hand_gt_space.txt", "cloud", "XYZ text (whitespace, 4 columns)", False, True, "hand")
    with open(path("hand_7col.csv"), "w") as f:
        f.write("x,y,z,nx,ny,nz,label\n")
        f.writelines(
            f"{p[0]:g},{p[1]:g},{p[2]:g},{n[0]:g},{n[1]:g},{n[2]:g},{l}\n" for p, n, l in zip(POINTS, NORMALS, LABELS)
        )
    note("hand_7col.csv", "cloud", "XYZ text (comma, 7 columns)", True, True, "hand")


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "meshes")


def obj_fans(p):
    """`v` positions and fan-triangulated `f` faces of an OBJ (1-based or negative)."""
    verts, tris = [], []
    with open(p) as fh:
        for line in fh:
            t = line.split()
            if t[:1] == ["v"]:
                verts.append([float(x) for x in t[1:4]])
            elif t[:1] == ["f"]:
                idx = [int(c.split("/")[0]) for c in t[1:]]
                idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                tris += [[idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1)]
    return np.array(verts, dtype=np.float32), np.array(tris, dtype=np.int64)


def write_shared_reference():
    """Reference counts for the real meshes in ../shared/data/meshes: triangles,
    distinct corner positions (what merging identical STL vertices must give), `v`
    lines for OBJ, and the float64 sum of all triangle corners.

    STL is read by Open3D. OBJ is read by the few lines of numpy below, because
    Open3D 0.20 silently drops non-triangle faces ("Skipping non-triangle primitive")
    where we triangulate them as fans."""
    if not os.path.isdir(SHARED):
        print("no ../shared/data/meshes, shared_meshes.json not rewritten")
        return
    out = []
    for f in sorted(os.listdir(SHARED)):
        if not f.lower().endswith((".stl", ".obj")):
            continue
        if f.lower().endswith(".obj"):
            v, t = obj_fans(os.path.join(SHARED, f))
        else:
            m = o3d.io.read_triangle_mesh(os.path.join(SHARED, f))
            v, t = np.asarray(m.vertices), np.asarray(m.triangles)
        corners = v[t.reshape(-1)].astype(np.float32)
        entry = dict(
            file=f,
            triangles=int(len(t)),
            distinct_corners=int(len(np.unique(corners, axis=0))),
            corner_sum=corners.astype(np.float64).sum(axis=0).tolist(),
        )
        if f.lower().endswith(".obj"):
            with open(os.path.join(SHARED, f), "rb") as fh:
                entry["v_lines"] = sum(1 for line in fh if line.split()[:1] == [b"v"])
        out.append(entry)
    with open(path("shared_meshes.json"), "w") as fh:
        json.dump(dict(generator="scripts/make_io_fixtures.py", open3d_version=o3d.__version__, meshes=out), fh, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_open3d()
    write_pcd_hand()
    write_ply_hand()
    write_obj_hand()
    write_stl_hand()
    write_text_hand()
    write_shared_reference()
    expected = dict(
        generator="scripts/make_io_fixtures.py",
        open3d_version=o3d.__version__,
        cloud=dict(points=POINTS.tolist(), normals=NORMALS.tolist(), labels=LABELS.tolist()),
        mesh=dict(
            vertices=MESH_V.tolist(),
            normals=MESH_N.tolist(),
            labels=MESH_LABELS.tolist(),
            triangles=TRIS.tolist(),
            quad_fans=TRIS.tolist(),
        ),
        fixtures=fixtures,
    )
    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    total = sum(os.path.getsize(path(x["file"])) for x in fixtures)
    print(f"{len(fixtures)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
