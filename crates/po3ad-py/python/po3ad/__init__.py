"""po3ad: PO3AD point-cloud anomaly detection from Python.

Train a detector for one part from a few defect-free scans or its CAD mesh, then
score new scans point by point. The work is done by the same Rust code as the
``po3ad`` command line (``po3ad train`` / ``po3ad predict`` / ``po3ad benchmark``), so
scores are equal to the CLI's; no CUDA toolchain or deep-learning framework is needed.

    >>> import po3ad
    >>> model = po3ad.train(train="part.stl", out="runs/part", preset="cpu", progress=True)
    >>> s = model.score(po3ad.read("scan.pcd"))
    >>> s.object_score, s.point_scores.shape

Training, benchmarking and scoring release the GIL. ``train(progress=...)`` reports
every epoch (``True``: a tqdm bar when tqdm is installed); Ctrl-C stops training.
"""

from . import _po3ad
from ._po3ad import Model, Score, __version__, benchmark, read

__all__ = ["Model", "Score", "benchmark", "read", "train", "__version__"]


class _TqdmProgress:
    """``progress=True``: one tqdm bar over the epochs, opened at the first epoch's end
    (when the epoch count is known) and closed when training ends, however it ends."""

    def __init__(self, tqdm):
        self._tqdm = tqdm
        self._bar = None

    def __call__(self, epoch, epochs, loss):
        if self._bar is None:
            self._bar = self._tqdm(total=epochs, unit="epoch", desc="train")
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self._bar.update(epoch - self._bar.n)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _progress_callback(progress):
    """The callable the native ``train`` gets for ``progress``, or None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            # tqdm.auto: a widget in Jupyter, a text bar on a terminal.
            from tqdm.auto import tqdm
        except ImportError:
            return None  # documented: without tqdm, progress=True is silent
        return _TqdmProgress(tqdm)
    if callable(progress):
        return progress
    raise TypeError(
        f"progress must be a callable (epoch, epochs, loss), True, False or None, "
        f"not {type(progress).__name__}"
    )


def train(
    train,
    out,
    preset=None,
    epochs=None,
    detector=None,
    seed=None,
    progress=None,
    settings=None,
):
    """Train on a mesh, a scan, or every supported file in a folder, writing the model
    to ``out`` (as ``po3ad train --train TRAIN --out OUT``) and return it loaded.

    ``progress``: ``callable(epoch, epochs, loss)`` after every epoch (``epoch`` counts
    from 1; ``loss`` is the epoch's mean, as in ``loss.csv``), or ``True`` for a tqdm bar
    (silent when tqdm is not installed). An exception raised by the callback, or Ctrl-C,
    stops training and is raised here. The full description is in ``__init__.pyi``.
    """
    callback = _progress_callback(progress)
    try:
        return _po3ad.train(train, out, preset, epochs, detector, seed, callback, settings)
    finally:
        if isinstance(callback, _TqdmProgress):
            callback.close()

