#!/usr/bin/env python3
"""Object-score rules for the `surface` detector, recomputed offline from its point scores.

    SURF_DUMP=DIR target/release/examples/surface_bench ROOT   # one CSV per scan
    python3 scripts/surface-object-rules.py DIR

Each CSV (`{track}-{part}-{scan}-surface.csv`: x,y,z,label,signed,zscore,gap,point) gives a
scan's point scores. Per track and part this prints the object AUROC (scikit-learn) of:
- `top1`: the detector's rule, the mean of the top 1 % of the point scores (or the mean of
  the three largest gap z-scores when larger);
- `smooth{r}`: point scores averaged over the scan's neighbours within r × its spacing
  (median nearest-neighbour distance), then the top 0.3 %;
- `k{n}`: the mean of the n largest point scores.
notes/surface.md "Session 15" has what it measured. Needs numpy, scipy, scikit-learn.
"""
import collections
import glob
import os
import sys

import numpy as np
from scipy.spatial import cKDTree
from sklearn.metrics import roc_auc_score


def top_mean(v, frac):
    v = np.sort(v)[::-1]
    return v[: max(1, int(frac * len(v)))].mean()


def gap_term(gap):
    # The gap z is written onto each gap's rim points: its distinct values are the gaps.
    g = np.unique(gap[gap > 0])[::-1]
    return g[:3].mean() if len(g) else 0.0


def rules(a):
    pts, point, gap = a[:, :3], a[:, 7], a[:, 6]
    tree = cKDTree(pts)
    spacing = np.median(tree.query(pts, k=2)[0][:, 1])
    g = gap_term(gap)
    out = {"top1": max(top_mean(point, 0.01), g)}
    for r in (2.0, 3.0):
        near = tree.query_ball_point(pts, r * spacing)
        smoothed = np.array([point[n].mean() for n in near])
        out[f"smooth{r:g}"] = max(top_mean(smoothed, 0.003), g)
    ranked = np.sort(point)[::-1]
    for n in (20, 40, 80):
        out[f"k{n}"] = max(ranked[:n].mean(), g)
    return out


def main():
    rows = collections.defaultdict(list)
    for f in sorted(glob.glob(os.path.join(sys.argv[1], "*-surface.csv"))):
        track, part, _scan = os.path.basename(f)[: -len("-surface.csv")].rsplit("-", 2)
        a = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
        rows[(track, part)].append((bool((a[:, 3] > 0).any()), rules(a)))
    names = list(next(iter(rows.values()))[0][1])
    per_track = collections.defaultdict(list)
    print("track part " + " ".join(names))
    for (track, part), rs in sorted(rows.items()):
        y = [r[0] for r in rs]
        auc = [roc_auc_score(y, [r[1][n] for r in rs]) for n in names]
        per_track[track].append(auc)
        print(track, part, " ".join(f"{v:.3f}" for v in auc))
    for track, aucs in per_track.items():
        print("mean", track, " ".join(f"{v:.3f}" for v in np.mean(aucs, axis=0)))


if __name__ == "__main__":
    main()
