#!/usr/bin/env python3
"""Write the scanner-format fixtures of crates/po3ad-core/tests/fixtures/scanner/ with
independent tools (pye57 over libE57Format, laspy with lazrs) and the coordinates each
file must read back to, as computed by those tools (expected.json).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pye57 laspy lazrs numpy
    /tmp/venv/bin/python scripts/make_scanner_fixtures.py

Coordinates in expected.json are the float32 values a reader must return (the files
store float32, float64 or scaled integers; the float64 world value is rounded once).
"""

import json
import os
import uuid

import laspy
import numpy as np
import pye57
from pye57 import libe57

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "po3ad-core", "tests", "fixtures", "scanner")
rng = np.random.default_rng(24)


def f32_list(xyz):
    """Rows of float32 values as JSON-exact floats (the float32 value widened to float64)."""
    return [[float(np.float32(v)) for v in row] for row in np.asarray(xyz, dtype=np.float64)]


def quat_matrix(w, x, y, z):
    """Rotation matrix of a unit quaternion (w, x, y, z), the E57 pose convention."""
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def e57_cartesian_two_scans(expected):
    path = os.path.join(OUT, "pye57_two_scans.e57")
    if os.path.exists(path):
        os.remove(path)
    e = pye57.E57(path, mode="w")
    # Scan 0: 20 points with a pose, intensity and colour.
    n0 = 20
    p0 = rng.uniform(-0.5, 0.5, size=(n0, 3)).astype(np.float32)
    q = np.array([np.cos(0.3), 0.0, 0.0, np.sin(0.3)])  # 0.6 rad about z
    t = np.array([1.5, -2.0, 0.25])
    e.write_scan_raw(
        {
            "cartesianX": p0[:, 0].copy(),
            "cartesianY": p0[:, 1].copy(),
            "cartesianZ": p0[:, 2].copy(),
            "intensity": rng.uniform(0, 1, n0).astype(np.float32),
            "colorRed": rng.integers(0, 256, n0).astype(np.uint8),
            "colorGreen": rng.integers(0, 256, n0).astype(np.uint8),
            "colorBlue": rng.integers(0, 256, n0).astype(np.uint8),
        },
        name="posed",
        rotation=q,
        translation=t,
    )
    world0 = p0.astype(np.float64) @ quat_matrix(*q).T + t
    # Scan 1: a 3 x 5 organized grid with 3 invalid pixels, identity pose.
    rows, cols = 3, 5
    n1 = rows * cols
    p1 = rng.uniform(0.0, 2.0, size=(n1, 3)).astype(np.float32)
    invalid = np.zeros(n1, dtype=np.int8)
    invalid[[1, 7, 14]] = 2  # E57: 2 = no coordinate at all
    e.write_scan_raw(
        {
            "cartesianX": p1[:, 0].copy(),
            "cartesianY": p1[:, 1].copy(),
            "cartesianZ": p1[:, 2].copy(),
            "rowIndex": np.repeat(np.arange(rows), cols).astype(np.uint16),
            "columnIndex": np.tile(np.arange(cols), rows).astype(np.uint16),
            "cartesianInvalidState": invalid,
        },
        name="grid",
    )
    e.close()
    # Read back with pye57 (libE57Format) as the check that the file says what we meant.
    r = pye57.E57(path)
    back0 = r.read_scan(0, transform=True, ignore_missing_fields=True)
    got0 = np.stack([back0["cartesianX"], back0["cartesianY"], back0["cartesianZ"]], 1)
    assert np.allclose(got0, world0, atol=1e-6), "pye57 read back scan 0"
    expected["pye57_two_scans.e57"] = {
        "scans": [
            {"name": "posed", "points": f32_list(world0)},
            {"name": "grid", "points": f32_list(p1), "invalid": [1, 7, 14]},
        ],
        "organized_scan": 1,
        "note": "scan 0 posed (0.6 rad about z, t = (1.5, -2, 0.25)), float32 storage; "
        "scan 1 a 3 x 5 grid, cartesianInvalidState = 2 at 1, 7, 14",
    }


def e57_spherical(expected):
    """One scan in spherical coordinates (double), written through libE57Format's node
    API since pye57's writer only writes Cartesian fields."""
    path = os.path.join(OUT, "pye57_spherical.e57")
    if os.path.exists(path):
        os.remove(path)
    e = pye57.E57(path, mode="w")
    f = e.image_file
    n = 12
    rng_ = rng.uniform(1.0, 10.0, n)
    az = rng.uniform(-np.pi, np.pi, n)
    el = rng.uniform(-1.2, 1.2, n)
    scan = libe57.StructureNode(f)
    scan.set("guid", libe57.StringNode(f, "{%s}" % uuid.UUID(int=24)))
    scan.set("name", libe57.StringNode(f, "spherical"))
    proto = libe57.StructureNode(f)
    names = ["sphericalRange", "sphericalAzimuth", "sphericalElevation"]
    for name in names:
        proto.set(name, libe57.FloatNode(f, 0.0, libe57.E57_DOUBLE, -1e9, 1e9))
    codecs = libe57.VectorNode(f, True)
    points = libe57.CompressedVectorNode(f, proto, codecs)
    scan.set("points", points)
    e.data3d.append(scan)
    arrays, buffers = e.make_buffers(names, n)
    arrays["sphericalRange"][:] = rng_
    arrays["sphericalAzimuth"][:] = az
    arrays["sphericalElevation"][:] = el
    w = points.writer(buffers)
    w.write(n)
    w.close()
    e.close()
    xyz = np.stack(
        [rng_ * np.cos(el) * np.cos(az), rng_ * np.cos(el) * np.sin(az), rng_ * np.sin(el)], 1
    )
    r = pye57.E57(path)
    assert r.scan_count == 1
    expected["pye57_spherical.e57"] = {
        "scans": [{"name": "spherical", "points": f32_list(xyz)}],
        "note": "range / azimuth / elevation as float64; x = r cos(el) cos(az), "
        "y = r cos(el) sin(az), z = r sin(el)",
    }


def las_file(expected, name, version, point_format, n, scale, offset, compressed):
    path = os.path.join(OUT, name)
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array(scale)
    header.offsets = np.array(offset)
    las = laspy.LasData(header)
    world = offset + rng.uniform(-20, 20, size=(n, 3))
    las.x, las.y, las.z = world[:, 0], world[:, 1], world[:, 2]
    las.intensity = rng.integers(0, 65535, n).astype(np.uint16)
    if "red" in las.point_format.dimension_names:
        las.red = rng.integers(0, 65535, n).astype(np.uint16)
        las.green = rng.integers(0, 65535, n).astype(np.uint16)
        las.blue = rng.integers(0, 65535, n).astype(np.uint16)
    if compressed:
        las.write(path, laz_backend=laspy.LazBackend.Lazrs)
    else:
        las.write(path)
    back = laspy.read(path)
    # The stored world values: integers x scale + offset, in float64 (laspy's x / y / z).
    xyz = np.stack([np.asarray(back.x), np.asarray(back.y), np.asarray(back.z)], 1)
    expected[name] = {
        "scans": [{"points": f32_list(xyz)}],
        "note": f"LAS {version} point format {point_format}, scale {scale}, offset {offset}, "
        + ("LAZ (lazrs)" if compressed else "uncompressed"),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    e57_cartesian_two_scans(expected)
    e57_spherical(expected)
    las_file(expected, "laspy_v12_pf0.las", "1.2", 0, 25, [0.001, 0.001, 0.001], [100.0, 200.0, 5.0], False)
    las_file(expected, "laspy_v14_pf6.las", "1.4", 6, 25, [0.01, 0.01, 0.005], [0.0, 0.0, 0.0], False)
    las_file(expected, "laspy_v14_pf7.laz", "1.4", 7, 40, [0.0001, 0.0001, 0.0001], [-3.0, 4.0, 1.0], True)
    las_file(expected, "laspy_v12_pf3.laz", "1.2", 3, 30, [0.001, 0.001, 0.001], [0.0, 0.0, 0.0], True)
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
        fh.write("\n")
    for k in sorted(expected):
        print(k, os.path.getsize(os.path.join(OUT, k)), "bytes")


if __name__ == "__main__":
    main()
