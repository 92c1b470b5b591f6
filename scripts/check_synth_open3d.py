#!/usr/bin/env python3
"""Cross-check a benchmark written by `po3ad synth` with Open3D (an independent reader).

For every manifest.json under the given roots: each test cloud's point count (Open3D's
PCD reader) must equal the manifest's, each ground-truth file must have one row per
point with the manifest's number of label-1 rows and the same coordinates as the cloud,
and each training template (OBJ/PLY via Open3D's mesh reader, PCD via its cloud reader)
must have the manifest's vertex (and face) count.

Usage: python3 scripts/check_synth_open3d.py OUT_DIR [OUT_DIR ...]
Needs: pip install open3d numpy (and on Debian: apt-get install -y libusb-1.0-0).
Exits non-zero on the first mismatch class found, after printing all mismatches.
"""
import json
import sys
from pathlib import Path

import numpy as np
import open3d as o3d


def read_gt(path: Path) -> np.ndarray:
    text = path.read_text()
    delim = "," if "," in text.split("\n", 1)[0] else None
    return np.loadtxt(path, delimiter=delim, ndmin=2)


def check_manifest(root: Path, manifest_path: Path) -> list[str]:
    m = json.loads(manifest_path.read_text())
    errors = []
    for t in m["tests"]:
        pcd = o3d.io.read_point_cloud(str(root / t["file"]))
        pts = np.asarray(pcd.points)
        if len(pts) != t["n_points"]:
            errors.append(f"{t['file']}: Open3D reads {len(pts)} points, manifest says {t['n_points']}")
        if t["gt"] is not None:
            gt = read_gt(root / t["gt"])
            if gt.shape != (t["n_points"], 4):
                errors.append(f"{t['gt']}: shape {gt.shape}, want ({t['n_points']}, 4)")
                continue
            n1 = int((gt[:, 3] == 1).sum())
            if n1 != t["n_anomalous"]:
                errors.append(f"{t['gt']}: {n1} anomalous rows, manifest says {t['n_anomalous']}")
            if len(pts) == len(gt) and not np.allclose(pts, gt[:, :3], atol=1e-6):
                errors.append(f"{t['gt']}: coordinates differ from {t['file']}")
    for tpl in m["templates"]:
        for f in tpl["files"]:
            path = str(root / f)
            if f.endswith(".pcd"):
                n, faces = len(o3d.io.read_point_cloud(path).points), None
            else:
                mesh = o3d.io.read_triangle_mesh(path)
                n, faces = len(mesh.vertices), len(mesh.triangles)
            if n != tpl["vertices"]:
                errors.append(f"{f}: Open3D reads {n} vertices, manifest says {tpl['vertices']}")
            if faces is not None and faces != tpl["faces"]:
                errors.append(f"{f}: Open3D reads {faces} faces, manifest says {tpl['faces']}")
    n_files = len(m["tests"]) + sum(len(t["files"]) for t in m["templates"])
    status = "ok" if not errors else f"{len(errors)} mismatches"
    print(f"{m['category']} ({m['layout']}): {n_files} files checked, {status}")
    return errors


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    errors = []
    n = 0
    for arg in sys.argv[1:]:
        root = Path(arg)
        for manifest in sorted(root.rglob("manifest.json")):
            n += 1
            errors += check_manifest(root, manifest)
    for e in errors:
        print("MISMATCH", e)
    if n == 0:
        print("no manifest.json found")
        return 2
    print(f"{n} categories, {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
