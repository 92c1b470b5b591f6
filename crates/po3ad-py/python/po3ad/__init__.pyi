"""Type stubs for po3ad (the native module ``po3ad._po3ad``)."""

import os
import pathlib
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, "os.PathLike[str]"]

#: The registered detector kinds (``po3ad --help`` lists the same).
_Kind = Literal["po3ad", "nearest", "curvature"]

#: ``progress(epoch, epochs, loss)``: called after every training epoch.
_ProgressCallback = Callable[[int, int, float], object]

class Region(TypedDict):
    """A connected cluster of points above the calibrated point threshold that stands
    out more than any region of the normal calibration scans (file coordinates)."""

    points: int
    centroid: List[float]
    extent: List[float]
    bbox_min: List[float]
    bbox_max: List[float]
    max_score: float
    mean_score: float
    excess: float

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
    preset: Optional[str] = None,
    epochs: Optional[int] = None,
    detector: Optional[_Kind] = None,
    seed: Optional[int] = None,
    progress: Union[bool, _ProgressCallback, None] = None,
    settings: Optional[_Path] = None,
) -> Model:
    """Train on a mesh, a scan, or every supported file in a folder, writing the model
    to ``out`` (as ``po3ad train --train TRAIN --out OUT [--detector KIND]``, which ends
    by calibrating the verdict thresholds) and return it loaded.

    ``detector``: ``None`` builds ``"surface"`` (training-free, seconds; the best
    measured on every dev-benchmark track), or trains ``"po3ad"`` when ``preset`` or
    ``epochs`` is given; any registered kind by name. ``preset`` (PO3AD only):
    ``"cpu"`` (its default), ``"paper"``, ``"tiny"`` or a TOML file; ``epochs``/``seed``
    override the preset's. A ``preset`` or ``epochs`` with another kind named is a
    ``ValueError``. ``settings``: a TOML file of a training-free kind's settings (as
    ``--settings``; docs/settings.md), e.g. multi-scale FPFH for the memory-bank kinds;
    a field the kind does not have is a ``ValueError`` naming the file. Releases the GIL.

    ``progress``: ``True`` shows a tqdm bar over the epochs (nothing when tqdm is not
    installed); a callable is called as ``progress(epoch, epochs, loss)`` after every
    epoch (``epoch`` from 1 to ``epochs``; ``loss`` the epoch's mean loss, as in
    ``out/loss.csv``), with the GIL held. An exception raised by the callback stops
    training and is raised by ``train`` itself, as is ``KeyboardInterrupt`` on Ctrl-C
    (``out`` keeps what was written by then: loss.csv, a checkpoint if one was due).
    The training-free detectors have no epochs and never call it.
    """

def benchmark(
    root: _Path,
    out: _Path,
    layout: Literal["auto", "anomaly-shapenet", "real3d", "folder"],
    categories: Optional[Sequence[str]] = None,
    detector: Optional[_Kind] = None,
    preset: Optional[str] = None,
    epochs: Optional[int] = None,
    reuse_models: Optional[_Path] = None,
    frame: Literal["auto", "register", "fixed", "scan"] = "auto",
    nearest_weight: Optional[float] = None,
    object_score: Optional[Literal["mean", "top_mean"]] = None,
    heatmaps: int = 4,
    shard: Optional[str] = None,
    object_nearest_weight: Optional[float] = None,
    model: Optional[_Kind] = None,
    models: Optional[_Path] = None,
    settings: Optional[_Path] = None,
) -> List[_BenchmarkRow]:
    """``po3ad benchmark``: build the detector (``detector=None``: ``"surface"``,
    training-free, seconds; ``"po3ad"`` when ``preset``, ``epochs`` or a PO3AD test option
    is given, as in ``train``) for every category of the dataset
    at ``root`` (or just ``categories``), test it, and write the CLI's tables into
    ``out`` (results.csv/.json/.md, per-category scores.csv and ``heatmaps`` heatmaps).

    Returns the rows of results.csv as dicts, one per category in the order tested and
    the row ``"mean"`` last, at full precision (metrics are fractions in [0, 1]; NaN
    where one cannot be computed). The keyword arguments are the CLI's options
    (``reuse_models``: reuse the models an earlier benchmark wrote there; ``shard="I/N"``;
    ``nearest_weight`` / ``object_nearest_weight``: the template distance's weight in the
    point scores / in the scores behind the object score, as ``--nearest-weight`` /
    ``--object-nearest-weight``; ``settings``: a training-free kind's TOML settings, as
    ``--settings``); CPU only. Prints a line per category to stderr like the CLI. Releases the GIL.
    ``model=`` and ``models=`` are the old names of ``detector=`` and ``reuse_models=``:
    they still work and raise a ``DeprecationWarning``.
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
    @property
    def verdict(self) -> Optional[Literal["normal", "anomalous", "unregistered"]]:
        """``"anomalous"`` when the object score is above the calibrated threshold,
        ``"normal"`` below it, ``"unregistered"`` when the scan could not be put into the
        training pose (its scores measure a wrong pose); None without a calibration."""
    @property
    def normalized_score(self) -> Optional[float]:
        """``clamp(0.5 · object_score / threshold, 0, 1)``: the threshold maps to 0.5."""
    @property
    def anomalous_points(self) -> Optional[int]:
        """Points above the calibrated point threshold."""
    @property
    def max_point_score(self) -> float: ...
    @property
    def regions(self) -> Optional[List[Region]]:
        """Anomalous regions, largest first (None without a calibration or when the
        scan is unregistered)."""
    @property
    def report_json(self) -> str:
        """The whole report as ``po3ad predict`` writes it per scan in predictions.json
        (with ``scoring``: detector, settings, frame, version)."""

class Model:
    """A trained detector (any kind), as ``po3ad predict`` loads it."""

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
    def kind(self) -> _Kind:
        """The detector kind (detector.json's ``kind``)."""
    @property
    def settings(self) -> Dict[str, Any]:
        """The settings it was built with (detector.json's ``settings``)."""
    @property
    def path(self) -> pathlib.Path:
        """The path the model was loaded from."""
