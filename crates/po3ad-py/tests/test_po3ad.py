"""Tests of the po3ad Python module against the po3ad CLI on the same files.

The CLI binary is taken from $PO3AD_BIN, else from the cargo target folder
($CARGO_TARGET_DIR or <repo>/target, release then debug). Without it the CLI
comparisons fail (they are the point of the suite), they are not skipped.
"""

import _thread
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

import po3ad

REPO = Path(__file__).resolve().parents[3]


def cli_binary() -> Path:
    env = os.environ.get("PO3AD_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("release", "debug"):
        p = target / profile / "po3ad"
        if p.is_file():
            return p
    pytest.fail(
        f"no po3ad binary in {target}/(release|debug); build it (cargo build --release) "
        "or set PO3AD_BIN"
    )


def run_cli(*args) -> str:
    res = subprocess.run(
        [str(cli_binary()), *map(str, args)], capture_output=True, text=True
    )
    assert res.returncode == 0, f"po3ad {args} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> Path:
    """A small synthetic bottle: one training template, one good and one bulged scan."""
    root = tmp_path_factory.mktemp("data")
    run_cli(
        "synth", "--builtin", "bottle", "--out", root, "--n-train", "1",
        "--n-good", "1", "--n-per-defect", "1", "--points", "3000",
        "--defects", "bulge",
    )  # fmt: skip
    return root / "pcd" / "bottle"


def scans(data: Path):
    return sorted((data / "test").glob("*.pcd"))


@pytest.fixture(scope="session")
def nearest_model(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("nearest")
    return po3ad.train(train=data / "train", out=out, detector="nearest")


@pytest.fixture(scope="session")
def po3ad_model(data, tmp_path_factory):
    """PO3AD with the tiny preset, trained in the training pose (scans registered) and
    fused with the nearest-template distance, so the whole predict path is exercised."""
    tmp = tmp_path_factory.mktemp("po3ad")
    text = (REPO / "presets" / "tiny.toml").read_text()
    text = text.replace("[train]\n", "[train]\nrotate = false\n", 1)
    text += '\n[test]\nnearest_weight = 0.5\nobject_score = "top_mean"\n'
    preset = tmp / "tiny-fused.toml"
    preset.write_text(text)
    return po3ad.train(train=data / "train", out=tmp / "model", preset=str(preset))


@pytest.fixture(scope="session")
def tiny_model(data, tmp_path_factory):
    """The stock tiny preset (trained with rotations: scans normalized on their own)."""
    out = tmp_path_factory.mktemp("tiny")
    return po3ad.train(train=data / "train", out=out, preset="tiny", epochs=1)


def cli_predict(model_path: Path, files, out: Path):
    run_cli("predict", "--model", model_path, *files, "--out", out, "--point-scores")
    preds = json.loads((out / "predictions.json").read_text())
    point = [
        np.loadtxt(out / f"{Path(p['file']).stem}.scores.txt", dtype=np.float32)
        for p in preds
    ]
    return preds, point


@pytest.mark.parametrize("which", ["nearest_model", "po3ad_model", "tiny_model"])
def test_scores_equal_cli(which, request, data, tmp_path):
    model = request.getfixturevalue(which)
    files = scans(data)
    assert len(files) == 2
    preds, cli_points = cli_predict(model.path, files, tmp_path / "cli")
    for f, pred, cli_pts in zip(files, preds, cli_points):
        s = model.score(po3ad.read(f))
        assert s.frame == pred["frame"]
        assert s.point_scores.dtype == np.float32
        assert s.point_scores.shape == (pred["points"],)
        np.testing.assert_array_equal(s.point_scores, cli_pts)
        assert s.object_score == pytest.approx(pred["object_score"], rel=1e-12, abs=0)
        reg = pred.get("registration")
        if reg is None:
            assert s.registered is None and s.fitness is None
        else:
            assert s.registered == reg["registered"]
            assert s.fitness == pytest.approx(reg["fitness"], rel=1e-6)
        # The judgement too: `train` calibrated the model as `po3ad train` does.
        assert s.verdict == pred["verdict"] and s.verdict in ("normal", "anomalous")
        assert s.normalized_score == pred["normalized_score"]
        assert s.anomalous_points == pred["anomalous_points"]
        assert [r["points"] for r in s.regions] == [r["points"] for r in pred["regions"]]
        report = json.loads(s.report_json)
        assert report == {k: v for k, v in pred.items() if k in report}
        assert report["scoring"]["detector"] == model.kind
    if which != "tiny_model":
        assert preds[0]["frame"] == "register"


def test_model_load_forms(nearest_model, po3ad_model, data):
    pts = po3ad.read(scans(data)[0])
    for model, file in ((nearest_model, "nearest.json"), (po3ad_model, "model.po3ad")):
        a = model.score(pts)
        for path in (model.path, str(model.path), Path(model.path) / file):
            b = po3ad.Model.load(path).score(pts)
            np.testing.assert_array_equal(a.point_scores, b.point_scores)
            assert a.object_score == b.object_score
    assert nearest_model.kind == "nearest" and po3ad_model.kind == "po3ad"
    assert nearest_model.settings["top_fraction"] == 0.01
    assert po3ad_model.settings["test"]["nearest_weight"] == 0.5


def test_anomaly_scores_higher(nearest_model, data):
    good, bad = (nearest_model.score(po3ad.read(f)) for f in (
        data / "test" / "bottle_positive0.pcd", data / "test" / "bottle_bulge0.pcd"))
    assert bad.object_score > good.object_score


def test_read(data):
    pts = po3ad.read(scans(data)[0])
    assert isinstance(pts, np.ndarray)
    assert pts.dtype == np.float32 and pts.ndim == 2 and pts.shape[1] == 3
    assert pts.shape[0] > 1000 and pts.flags.c_contiguous
    assert np.isfinite(pts).all()


def test_dtypes_and_strides(nearest_model, data):
    pts = po3ad.read(scans(data)[0])
    ref = nearest_model.score(pts)
    # float64, a Python list, Fortran order, a strided view: all the same points.
    f64 = pts.astype(np.float64)
    fortran = np.asfortranarray(pts)
    wide = np.zeros((pts.shape[0] * 2, 5), dtype=np.float64)
    wide[::2, 1:4] = pts
    view = wide[::2, 1:4]
    assert not view.flags.c_contiguous
    for arr in (f64, fortran, view, pts.tolist()):
        s = nearest_model.score(arr)
        np.testing.assert_array_equal(s.point_scores, ref.point_scores)
        assert s.object_score == ref.object_score
    # The caller's array is not modified.
    np.testing.assert_array_equal(view, pts.astype(np.float64))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 2), np.float32),
        np.zeros((10, 4)),
        np.zeros(30),
        np.zeros((2, 10, 3)),
        np.zeros((0, 3)),
        np.array([[0.0, 1.0, np.nan]] * 10),
        np.array([[0.0, np.inf, 1.0]] * 10),
        [["a", "b", "c"]],
    ],
)
def test_wrong_points_raise_value_error(nearest_model, bad):
    with pytest.raises(ValueError):
        nearest_model.score(bad)


def test_errors_are_exceptions_naming_the_file(tmp_path):
    missing = tmp_path / "missing_scan.pcd"
    with pytest.raises(OSError, match="missing_scan.pcd"):
        po3ad.read(missing)
    with pytest.raises(FileNotFoundError):
        po3ad.read(missing)
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"ply\nformat nonsense\n")
    with pytest.raises(ValueError, match="garbage.ply"):
        po3ad.read(garbage)
    with pytest.raises(Exception, match="no_model_here"):
        po3ad.Model.load(tmp_path / "no_model_here")
    with pytest.raises(Exception, match="no_train_data"):
        po3ad.train(train=tmp_path / "no_train_data", out=tmp_path / "o", detector="nearest")
    with pytest.raises(ValueError, match="unknown detector"):
        po3ad.train(train=tmp_path, out=tmp_path / "o", detector="bogus")
    with pytest.raises(ValueError, match="preset"):
        po3ad.train(train=tmp_path, out=tmp_path / "o", preset="no-such-preset")
    with pytest.raises(ValueError, match="preset only applies to --detector po3ad"):
        po3ad.train(train=tmp_path, out=tmp_path / "o", preset="tiny", detector="nearest")
    assert not (tmp_path / "o").exists()


def test_train_builds_the_default_surface_detector(data, tmp_path):
    """No detector and no network option: the default kind, ``surface``, as the CLI."""
    model = po3ad.train(train=data / "train", out=tmp_path / "m")
    assert model.kind == "surface"
    assert (tmp_path / "m" / "surface.json").is_file()
    assert not (tmp_path / "m" / "model.po3ad").exists()


def test_train_reads_a_settings_file(data, tmp_path):
    """settings= as the CLI's --settings: the TOML's fields reach the saved bank, and a
    field the kind does not have is a ValueError naming the file."""
    ms = tmp_path / "ms.toml"
    ms.write_text("[descriptor]\nradii = [0.12, 0.2, 0.32]\n")
    model = po3ad.train(train=data / "train", out=tmp_path / "m", detector="btf-fpfh", settings=ms)
    assert model.kind == "btf-fpfh"
    saved = json.loads((tmp_path / "m" / "membank.json").read_text())
    assert saved["bank"]["btf_fpfh"]["bank"]["dim"] == 99
    bad = tmp_path / "bad.toml"
    bad.write_text("radius = 0.3\n")
    with pytest.raises(ValueError, match="bad.toml"):
        po3ad.train(train=data / "train", out=tmp_path / "n", detector="patchcore", settings=bad)


def test_other_threads_run_while_scoring(po3ad_model, data):
    """score releases the GIL: a pure-Python counter advances during the call."""
    pts = po3ad.read(scans(data)[1])
    big = np.concatenate([pts + np.float32(1e-4) * i for i in range(8)])
    count = 0
    stop = threading.Event()

    def counter():
        nonlocal count
        while not stop.is_set():
            count += 1
            time.sleep(0.0005)

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.02)
        before = count
        t0 = time.perf_counter()
        po3ad_model.score(big)
        seconds = time.perf_counter() - t0
        during = count - before
    finally:
        stop.set()
        t.join()
    assert seconds > 0.05, f"the score call was too short to test ({seconds:.3f} s)"
    # With the GIL held the counter could not advance at all during the call.
    assert during >= 10, f"counter advanced {during} times in {seconds:.2f} s"


def test_score_repr_and_fields(nearest_model, data):
    s = nearest_model.score(po3ad.read(scans(data)[0]))
    assert isinstance(s.object_score, float)
    assert s.frame == "register" and s.registered is True
    assert 0.0 < s.fitness <= 1.0 and s.inlier_rmse >= 0.0
    assert "object_score" in repr(s) and "nearest" in repr(nearest_model)


# --- Progress of training -------------------------------------------------------------


def loss_csv(out: Path):
    lines = (out / "loss.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,lr,loss")
    return [(int(l.split(",")[0]), float(l.split(",")[2])) for l in lines[1:]]


def test_progress_callback_every_epoch(data, tmp_path):
    calls = []
    out = tmp_path / "model"
    model = po3ad.train(
        train=data / "train", out=out, preset="tiny", epochs=3,
        progress=lambda *args: calls.append(args),
    )  # fmt: skip
    assert [(e, n) for e, n, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    losses = [loss for _, _, loss in calls]
    assert all(isinstance(x, float) and np.isfinite(x) for x in losses)
    # The epoch means loss.csv records (it prints 6 decimals).
    assert [e for e, _ in loss_csv(out)] == [1, 2, 3]
    np.testing.assert_allclose(losses, [x for _, x in loss_csv(out)], rtol=0, atol=5e-7)
    assert model.kind == "po3ad" and (out / "model.po3ad").is_file()


class Stop(Exception):
    pass


def test_exception_in_progress_stops_training(data, nearest_model, tmp_path):
    calls = []
    raised = Stop("enough after one epoch")

    def progress(epoch, epochs, loss):
        calls.append(epoch)
        raise raised

    out = tmp_path / "stopped"
    with pytest.raises(Stop) as info:
        po3ad.train(train=data / "train", out=out, preset="tiny", epochs=5, progress=progress)
    assert info.value is raised  # the callback's own exception, not a wrapper
    assert calls == [1]  # training stopped at once
    assert [e for e, _ in loss_csv(out)] == [1]
    assert not (out / "model.po3ad").exists()
    # The module keeps working: training again, and scoring.
    again = po3ad.train(train=data / "train", out=tmp_path / "again", preset="tiny", epochs=1)
    assert again.kind == "po3ad"
    assert np.isfinite(nearest_model.score(po3ad.read(scans(data)[0])).object_score)


def test_progress_true_uses_tqdm_when_installed(data, tmp_path, monkeypatch):
    bars = []

    class FakeTqdm:
        """The part of tqdm's API the progress bar uses."""

        def __init__(self, total, **kwargs):
            self.total, self.n, self.postfix, self.closed = total, 0, None, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix(self, refresh=True, **kwargs):
            self.postfix = kwargs

        def close(self):
            self.closed = True

    tqdm_auto = types.ModuleType("tqdm.auto")
    tqdm_auto.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", tqdm_auto)
    po3ad.train(train=data / "train", out=tmp_path / "m", preset="tiny", epochs=2, progress=True)
    assert len(bars) == 1
    bar = bars[0]
    assert (bar.total, bar.n, bar.closed) == (2, 2, True)
    assert set(bar.postfix) == {"loss"}


def test_progress_true_without_tqdm_is_silent(data, tmp_path, monkeypatch):
    # None in sys.modules makes `import tqdm` raise ImportError.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model = po3ad.train(
        train=data / "train", out=tmp_path / "m", preset="tiny", epochs=1, progress=True
    )
    assert model.kind == "po3ad"


def test_progress_must_be_callable(data, tmp_path):
    with pytest.raises(TypeError, match="progress"):
        po3ad.train(train=data / "train", out=tmp_path / "m", preset="tiny", progress=5)
    with pytest.raises(TypeError, match="progress"):
        po3ad._po3ad.train(data / "train", tmp_path / "m", "tiny", 1, None, None, 5)


def test_ctrl_c_stops_training(data, tmp_path):
    """Training holds no GIL, yet a SIGINT (here its stand-in, interrupt_main) stops it
    within a step and comes out as KeyboardInterrupt."""
    started = time.monotonic()

    def guard(epoch, epochs, loss):
        # Were Ctrl-C not noticed, fail after a while instead of training 10^5 epochs.
        if time.monotonic() - started > 60:
            raise AssertionError("KeyboardInterrupt did not stop training")

    # A process started in the background by a non-interactive shell (`cmd &`, as CI
    # runners and nohup may do) inherits SIGINT ignored; Python then installs no
    # KeyboardInterrupt handler and interrupt_main() does nothing. Install Python's own
    # handler for this test, as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            po3ad.train(
                train=data / "train", out=tmp_path / "m", preset="tiny", epochs=100_000,
                progress=guard,
            )  # fmt: skip
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 30
    assert len(loss_csv(tmp_path / "m")) >= 1


# --- Benchmark --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bench_data(tmp_path_factory) -> Path:
    """Two synthetic parts in the Anomaly-ShapeNet layout, as tests/shards.rs makes them."""
    root = tmp_path_factory.mktemp("bench") / "data"
    run_cli(
        "synth", "--builtin", "bowl,cup", "--out", root, "--n-good", "2",
        "--n-per-defect", "1", "--defects", "bulge,hole", "--points", "2000",
        "--template-vertices", "1500", "--seed", "5",
    )  # fmt: skip
    return root


METRICS = ["object_auroc", "object_ap", "point_auroc", "point_ap"]


@pytest.mark.parametrize(
    "model, extra",
    [
        ("nearest", {"categories": ["cup"]}),  # registration: the slow one
        ("curvature", {}),
        ("po3ad", {"preset": "tiny", "epochs": 1, "categories": ["bowl"]}),
        (
            "po3ad",
            {
                "preset": "tiny",
                "epochs": 1,
                "categories": ["bowl"],
                "nearest_weight": 0.3,
                "object_nearest_weight": 1.0,
            },
        ),
    ],
)
def test_benchmark_rows_equal_cli(bench_data, tmp_path, model, extra):
    flags = []
    for k, v in extra.items():
        flags += [f"--{k.replace('_', '-')}", ",".join(v) if isinstance(v, list) else str(v)]
    run_cli(
        "benchmark", "--layout", "anomaly-shapenet", "--root", bench_data, "--detector",
        model, "--heatmaps", "0", "--out", tmp_path / "cli", *flags,
    )  # fmt: skip
    rows = po3ad.benchmark(
        bench_data, tmp_path / "py", layout="anomaly-shapenet", detector=model, heatmaps=0,
        **extra,
    )  # fmt: skip
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    expected = cli["rows"] + [cli["mean"]]
    cats = extra.get("categories", ["bowl", "cup"])
    assert [r["category"] for r in rows] == cats + ["mean"]
    assert [r["category"] for r in expected] == cats + ["mean"]
    for row, want in zip(rows, expected):
        assert row["model"] == model == cli["model"]
        assert set(row) == {"category", "model", *METRICS, "train_seconds", "test_seconds"}
        for m in METRICS:
            # results.json is lossless (NaN is null): the very same numbers.
            if want[m] is None:
                assert np.isnan(row[m]), (row["category"], m)
            else:
                assert row[m] == want[m], (row["category"], m)
    # The Python call wrote the CLI's tables too, with the same metric columns.
    def metric_columns(path):
        return [l.split(",")[:5] for l in path.read_text().splitlines()]

    assert metric_columns(tmp_path / "py" / "results.csv") == metric_columns(
        tmp_path / "cli" / "results.csv"
    )
    assert all(0.0 <= r["object_auroc"] <= 1.0 for r in rows)


def test_benchmark_errors(bench_data, tmp_path):
    with pytest.raises(ValueError, match="layout"):
        po3ad.benchmark(bench_data, tmp_path / "o", layout="nope", detector="curvature")
    with pytest.raises(ValueError, match="frame.*register"):
        po3ad.benchmark(
            bench_data, tmp_path / "o", layout="anomaly-shapenet", detector="curvature",
            frame="sideways",
        )  # fmt: skip
    with pytest.raises(ValueError, match="shard"):
        po3ad.benchmark(
            bench_data, tmp_path / "o", layout="anomaly-shapenet", detector="curvature",
            shard="3/2",
        )  # fmt: skip
    with pytest.raises(ValueError, match="available: po3ad, nearest, curvature"):
        po3ad.benchmark(bench_data, tmp_path / "o", layout="anomaly-shapenet", detector="bogus")
    # The old keyword still works for one release, with a warning.
    with pytest.warns(DeprecationWarning, match="detector="):
        with pytest.raises(ValueError, match="available"):
            po3ad.benchmark(bench_data, tmp_path / "o", layout="anomaly-shapenet", model="bogus")
    with pytest.raises(ValueError, match="no_data"):
        po3ad.benchmark(tmp_path / "no_data", tmp_path / "o", layout="folder", detector="curvature")
    assert not (tmp_path / "o").exists()  # every error came before any output
