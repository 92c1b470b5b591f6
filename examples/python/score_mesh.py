"""Train po3ad on a CAD mesh and plot the point scores of a scan.

    pip install ./crates/po3ad-py matplotlib tqdm       # matplotlib, tqdm: optional
    python examples/python/score_mesh.py part.stl scan.pcd            # your files
    python examples/python/score_mesh.py                              # a built-in demo part

Without arguments it writes a small synthetic bottle with the po3ad CLI
(`po3ad synth`, on PATH or in target/release) and scores its bulged test scan.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import po3ad


def demo_files(tmp: Path):
    exe = shutil.which("po3ad") or str(Path(__file__).resolve().parents[2] / "target/release/po3ad")
    subprocess.run(
        [exe, "synth", "--builtin", "bottle", "--out", str(tmp), "--n-train", "1",
         "--n-good", "1", "--n-per-defect", "1", "--defects", "bulge"],
        check=True,
    )  # fmt: skip
    return tmp / "obj/bottle/bottle_template0.obj", tmp / "pcd/bottle/test/bottle_bulge0.pcd"


def progress():
    """A tqdm bar over the epochs when tqdm is installed, else a line per epoch."""
    try:
        import tqdm  # noqa: F401

        return True
    except ImportError:
        return lambda epoch, epochs, loss: print(f"epoch {epoch}/{epochs}: loss {loss:.4f}")


def main():
    tmp = Path(tempfile.mkdtemp(prefix="po3ad-example-"))
    if len(sys.argv) == 3:
        mesh, scan = Path(sys.argv[1]), Path(sys.argv[2])
    else:
        mesh, scan = demo_files(tmp)

    # "cpu" trains PO3AD for a few minutes; "tiny" in seconds; detector="nearest" is
    # training-free and the strongest pass/fail detector (see the README).
    # PO3AD_PRESET=tiny runs the example in seconds.
    preset = os.environ.get("PO3AD_PRESET", "cpu")
    model = po3ad.train(train=mesh, out=tmp / "model", preset=preset, progress=progress())
    points = po3ad.read(scan)
    s = model.score(points)
    print(f"{scan.name}: object score {s.object_score:.5f}, frame {s.frame}, "
          f"registered {s.registered} (fitness {s.fitness})")
    print(f"highest point scores: {np.sort(s.point_scores)[-5:]}")

    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot")
        return
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    hi = np.quantile(s.point_scores, 0.99)
    sc = ax.scatter(*points.T, c=s.point_scores, s=1, cmap="inferno", vmax=hi)
    fig.colorbar(sc, ax=ax, label="point score")
    ax.set_title(f"{scan.name}: object score {s.object_score:.4f}")
    ax.set_box_aspect(np.ptp(points, axis=0))
    out = tmp / "scores.png"
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")
    plt.show()


if __name__ == "__main__":
    main()
