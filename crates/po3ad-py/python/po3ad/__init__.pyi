"""Type stubs for po3ad (the native module ``po3ad._po3ad``)."""

import os
import pathlib
from typing import Callable, List, Literal, Optional, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, "os.PathLike[str]"]

#: ``progress(epoch, epochs, loss)``: called after every training epoch.
_ProgressCallback = Callable[[int, int, float], object]

class _BenchmarkRow(TypedDict):
    """One row of ``benchmark``: a category (or ``"mean"``), as in results.csv."""

    category: str
    model: str
    object_auroc: float
    object_ap: float
    point_auroc: float
    point_ap: float
    train_seconds: float
    test_seconds: float

def read(path: _Path) -> npt.NDArray[np.float32]:
    """The points of a scan or mesh file (PCD, PLY, OBJ, STL, XYZ/TXT/CSV) as an
    ``(N, 3)`` float32 array (a mesh's vertices).

    Raises ``FileNotFoundError``/``OSError`` when the file cannot be read and
    ``ValueError`` when its content is not valid; the message names the file.
    """

def train(
    train: _Path,
    out: _Path,
    preset: str = "cpu",
    epochs: Optional[int] = None,
    detector: Optional[Literal["nearest"]] = None,
    seed: Optional[int] = None,
    progress: Union[bool, _ProgressCallback, None] = None,
) -> Model:
    """Train on a mesh, a scan, or every supported file in a folder, writing the model
    to ``out`` (as ``po3ad train --train TRAIN --out OUT``) and return it loaded.

    ``preset``: ``"cpu"`` (default), ``"paper"``, ``"tiny"`` or a TOML file;
    ``epochs``/``seed`` override the preset's; ``detector="nearest"`` builds the
    training-free nearest-template detector instead (seconds). Releases the GIL.

    ``progress``: ``True`` shows a tqdm bar over the epochs (nothing when tqdm is not
    installed); a callable is called as ``progress(epoch, epochs, loss)`` after every
    epoch (``epoch`` from 1 to ``epochs``; ``loss`` the epoch's mean loss, as in
    ``out/loss.csv``), with the GIL held. An exception raised by the callback stops
    training and is raised by ``train`` itself, as is ``KeyboardInterrupt`` on Ctrl-C
    (``out`` keeps what was written by then: loss.csv, a checkpoint if one was due).
    ``detector="nearest"`` has no epochs and never calls it.
    """

def benchmark(
    root: _Path,
    out: _Path,
    layout: Literal["anomaly-shapenet", "real3d", "folder"],
    categories: Optional[Sequence[str]] = None,
    model: Literal["po3ad", "nearest", "curvature"] = "po3ad",
    preset: str = "cpu",
    epochs: Optional[int] = None,
    models: Optional[_Path] = None,
    frame: Literal["auto", "register", "fixed", "scan"] = "auto",
    nearest_weight: Optional[float] = None,
    object_score: Optional[Literal["mean", "top_mean"]] = None,
    heatmaps: int = 2,
    shard: Optional[str] = None,
    object_nearest_weight: Optional[float] = None,
) -> List[_BenchmarkRow]:
    """``po3ad benchmark``: train (``model="po3ad"``) or build the training-free
    detector (``"nearest"``, ``"curvature"``: seconds) for every category of the dataset
    at ``root`` (or just ``categories``), test it, and write the CLI's tables into
    ``out`` (results.csv/.json/.md, per-category scores.csv and ``heatmaps`` heatmaps).

    Returns the rows of results.csv as dicts, one per category in the order tested and
    the row ``"mean"`` last, at full precision (metrics are fractions in [0, 1]; NaN
    where one cannot be computed). The keyword arguments are the CLI's options
    (``models``: reuse the models an earlier benchmark wrote there; ``shard="I/N"``;
    ``nearest_weight`` / ``object_nearest_weight``: the template distance's weight in the
    point scores / in the scores behind the object score, as ``--nearest-weight`` /
    ``--object-nearest-weight``);
    CPU only. Prints a line per category to stderr like the CLI. Releases the GIL.
    """

class Score:
    """The scores of one scan."""

    @property
    def object_score(self) -> float:
        """The scan's anomaly score (higher = more anomalous)."""
    @property
    def point_scores(self) -> npt.NDArray[np.float32]:
        """``(N,)`` float32: one score per input point, in the input's order."""
    @property
    def registered(self) -> Optional[bool]:
        """Whether the scan was registered to the training pose; ``None`` when it was not
        registered at all (the detector does not need the pose). ``False``: the scores
        are unreliable."""
    @property
    def fitness(self) -> Optional[float]:
        """The registration's overlap (fraction of points near the template), or None."""
    @property
    def inlier_rmse(self) -> Optional[float]:
        """The registration's inlier RMSE (unit-sphere units), or None."""
    @property
    def frame(self) -> Literal["register", "fixed", "scan"]:
        """How the scan was put into the detector's frame."""

class Model:
    """A trained detector (PO3AD or nearest-template), as ``po3ad predict`` loads it."""

    @staticmethod
    def load(path: _Path) -> Model:
        """A folder written by ``train``, or its ``model.po3ad`` / ``nearest.json``."""
    def score(self, points: npt.ArrayLike) -> Score:
        """Score one scan: anything ``numpy.asarray`` turns into a finite ``(N, 3)`` array
        (float32 or float64, any strides, e.g. ``np.asarray(o3d_cloud.points)``), in the
        scan's own coordinates and units. It is placed as ``po3ad predict --frame auto``
        places it. Raises ``ValueError`` for other shapes or non-finite values.
        Releases the GIL."""
    @property
    def kind(self) -> Literal["po3ad", "nearest"]: ...
    @property
    def path(self) -> pathlib.Path:
        """The path the model was loaded from."""
