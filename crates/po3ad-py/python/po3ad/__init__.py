"""po3ad: PO3AD point-cloud anomaly detection from Python.

Train a detector for one part from a few defect-free scans or its CAD mesh, then
score new scans point by point. The work is done by the same Rust code as the
``po3ad`` command line (``po3ad train`` / ``po3ad predict``), so scores are equal to
the CLI's; no CUDA toolchain or deep-learning framework is needed.

    >>> import po3ad
    >>> model = po3ad.train(train="part.stl", out="runs/part", preset="cpu")
    >>> s = model.score(po3ad.read("scan.pcd"))
    >>> s.object_score, s.point_scores.shape

Training and scoring release the GIL. Training shows no progress from Python; the
CLI (``po3ad train``) shows progress bars.
"""

from ._po3ad import Model, Score, __version__, read, train

__all__ = ["Model", "Score", "read", "train", "__version__"]
