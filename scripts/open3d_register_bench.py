#!/usr/bin/env python3
"""Open3D's standard global registration (FPFH + RANSAC, then point-to-plane ICP) on
the scans exported by `register_eval` (REG_EXPORT=DIR), for a side-by-side comparison
with po3ad's `registration::register`.

    python scripts/open3d_register_bench.py EXPORT_DIR > open3d.csv

EXPORT_DIR/<track>/<category>/ holds template.ply (training frame, with normals),
scans.csv (index,file) and <index>.ply (each scan as po3ad places it before
registering). Output rows: track,category,file,r00..r22,tx,ty,tz,seconds, the
transform taking the scan onto the template; `register_eval` (REG_EXTERNAL=FILE)
measures them against the true pose exactly as it measures po3ad's.

Settings follow Open3D's global-registration tutorial, at po3ad's scales: voxel 0.03
(po3ad's `voxel_size`), normals over 2 voxels, FPFH over 5 voxels, RANSAC with
100k iterations / 0.999 confidence, edge-length (0.9) and distance (1.5 voxels)
checkers, then point-to-plane ICP on the 0.02-voxel scan with po3ad's 0.04
correspondence distance. `seconds` covers everything after reading the file
(downsampling, normals, FPFH, RANSAC, ICP); the template's features are prepared
once per category. Run with OMP_NUM_THREADS set to the cores to compare on.
"""
import csv
import os
import sys
import time

import numpy as np
import open3d as o3d

VOXEL = 0.03
FINE_VOXEL = 0.02
MAX_CORR = 0.04


def features(pcd):
    down = pcd.voxel_down_sample(VOXEL)
    down.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2 * VOXEL, max_nn=30))
    fpfh = o3d.pipelines.registration.compute_fpfh_feature(
        down, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * VOXEL, max_nn=100)
    )
    return down, fpfh


def register(scan, tmpl_down, tmpl_fpfh, tmpl_fine):
    reg = o3d.pipelines.registration
    down, fpfh = features(scan)
    ransac = reg.registration_ransac_based_on_feature_matching(
        down,
        tmpl_down,
        fpfh,
        tmpl_fpfh,
        True,
        1.5 * VOXEL,
        reg.TransformationEstimationPointToPoint(False),
        3,
        [
            reg.CorrespondenceCheckerBasedOnEdgeLength(0.9),
            reg.CorrespondenceCheckerBasedOnDistance(1.5 * VOXEL),
        ],
        reg.RANSACConvergenceCriteria(100000, 0.999),
    )
    fine = scan.voxel_down_sample(FINE_VOXEL)
    icp = reg.registration_icp(
        fine,
        tmpl_fine,
        MAX_CORR,
        ransac.transformation,
        reg.TransformationEstimationPointToPlane(),
        reg.ICPConvergenceCriteria(max_iteration=30),
    )
    return icp.transformation


def main():
    root = sys.argv[1]
    o3d.utility.random.seed(0)
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    out = csv.writer(sys.stdout)
    head = ["track", "category", "file"]
    head += [f"r{i}{j}" for i in range(3) for j in range(3)] + ["tx", "ty", "tz", "seconds"]
    out.writerow(head)
    for track in sorted(os.listdir(root)):
        tdir = os.path.join(root, track)
        if not os.path.isdir(tdir):
            continue
        for cat in sorted(os.listdir(tdir)):
            cdir = os.path.join(tdir, cat)
            if not os.path.isfile(os.path.join(cdir, "scans.csv")):
                continue
            tmpl = o3d.io.read_point_cloud(os.path.join(cdir, "template.ply"))
            tmpl_down, tmpl_fpfh = features(tmpl)
            tmpl_fine = tmpl  # already voxel-downsampled, with its outward normals
            with open(os.path.join(cdir, "scans.csv")) as f:
                rows = list(csv.DictReader(f))
            for row in rows:
                scan = o3d.io.read_point_cloud(os.path.join(cdir, f"{row['index']}.ply"))
                t0 = time.perf_counter()
                t = register(scan, tmpl_down, tmpl_fpfh, tmpl_fine)
                secs = time.perf_counter() - t0
                vals = [f"{v:.7g}" for v in np.asarray(t)[:3, :3].reshape(-1)]
                vals += [f"{v:.7g}" for v in np.asarray(t)[:3, 3]]
                out.writerow([track, cat, row["file"]] + vals + [f"{secs:.4f}"])
                sys.stdout.flush()


if __name__ == "__main__":
    main()
