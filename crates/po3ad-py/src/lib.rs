//! `po3ad._po3ad`: the native half of the `po3ad` Python package (python/po3ad wraps it
//! and carries the type stubs).
//!
//! Nothing here decides anything about scoring or training: `read` is
//! `po3ad_core::io::read`, `train` is `po3ad train` (`cli::train`), `benchmark` is
//! `po3ad benchmark` (`cli::benchmark::benchmark`), and `Model.score` places and
//! scores a scan with the very functions `po3ad predict` uses
//! (`cli::predict::{load_scorer, placement_for, score_scan}`, `--frame auto`), so a
//! Python score equals the CLI's for the same points. The GIL is released while
//! training, benchmarking, loading and scoring; training takes it back between steps
//! for the progress callback and Ctrl-C.

use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use po3ad::cli::benchmark::{benchmark as run_benchmark, BenchmarkArgs, Shard};
use po3ad::cli::common::{
    locate_detector, CpuBackend, CpuTrainBackend, DeviceArg, FrameArgs, SavedDetector,
};
use po3ad::cli::predict::{load_scorer, placement_for, score_scan};
use po3ad::cli::train::{preset_with_overrides, train_on, training_files};
use po3ad::eval::{
    FrameMode, ModelScorer, NearestConfig, NearestTemplate, ObjectScore, Placement, Scorer,
};
use po3ad::train::{FitHooks, FitOptions, FitProgress};
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::PointCloud;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A library error as a Python exception with the library's message (which names the
/// file): file-system errors become `OSError` (`FileNotFoundError` for a missing
/// path), everything else `ValueError`.
fn to_py(err: anyhow::Error) -> PyErr {
    let msg = format!("{err:#}");
    for cause in err.chain() {
        let io = match cause.downcast_ref::<po3ad_core::Error>() {
            Some(po3ad_core::Error::Io { cause, .. }) => Some(cause.kind()),
            _ => cause.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        };
        match io {
            Some(std::io::ErrorKind::NotFound) => return PyFileNotFoundError::new_err(msg),
            Some(_) => return PyOSError::new_err(msg),
            None => {}
        }
    }
    PyValueError::new_err(msg)
}

/// Rows of anything `numpy.asarray` turns into a finite `(N, 3)` array, as float32.
fn points_from(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<[f32; 3]>> {
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj, "float32"))?;
    let arr = arr
        .cast_into::<PyArrayDyn<f32>>()
        .map_err(|_| PyValueError::new_err("points: not convertible to a float32 array"))?;
    let shape = arr.shape().to_vec();
    if shape.len() != 2 || shape[1] != 3 {
        return Err(PyValueError::new_err(format!(
            "points must have shape (N, 3), got {shape:?}"
        )));
    }
    if shape[0] == 0 {
        return Err(PyValueError::new_err("points: the scan has no points"));
    }
    let ro = arr.readonly();
    let view = ro.as_array();
    let mut out = Vec::with_capacity(shape[0]);
    for r in view.rows() {
        let p = [r[0], r[1], r[2]];
        if !p.iter().all(|c| c.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "points: row {} has a non-finite coordinate (NaN or inf)",
                out.len()
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// read(path) -> (N, 3) float32 array of the file's points (mesh vertices for meshes).
#[pyfunction]
fn read<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let cloud = py
        .detach(|| po3ad_core::io::read(&path))
        .map_err(|e| to_py(e.into()))?;
    let n = cloud.points.len();
    let flat: Vec<f32> = cloud.points.into_iter().flatten().collect();
    PyArray1::from_vec(py, flat).reshape([n, 3])
}

enum Detector {
    Po3ad(Box<ModelScorer<CpuBackend>>),
    Nearest(Box<NearestTemplate>),
}

impl Detector {
    fn scorer(&self) -> &dyn Scorer {
        match self {
            Detector::Po3ad(s) => s.as_ref(),
            Detector::Nearest(n) => n.as_ref(),
        }
    }
}

struct Loaded {
    detector: Detector,
    placement: Placement,
}

/// A trained detector, as `po3ad predict --model PATH` loads it.
#[pyclass(frozen, module = "po3ad._po3ad")]
struct Model {
    inner: Mutex<Loaded>,
    path: PathBuf,
    kind: &'static str,
}

impl Model {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let (detector, kind) = match locate_detector(path)? {
            SavedDetector::Po3ad(_) => (
                // The path as given, as predict passes `--model` (the fused nearest
                // detector is found beside it).
                Detector::Po3ad(Box::new(load_scorer::<CpuBackend>(
                    path,
                    &Default::default(),
                )?)),
                "po3ad",
            ),
            SavedDetector::Nearest(file) => (
                Detector::Nearest(Box::new(NearestTemplate::load(&file)?)),
                "nearest",
            ),
        };
        let placement = placement_for(detector.scorer(), FrameMode::Auto)?;
        Ok(Model {
            inner: Mutex::new(Loaded {
                detector,
                placement,
            }),
            path: path.to_path_buf(),
            kind,
        })
    }
}

#[pymethods]
impl Model {
    /// Model.load(path): a folder written by `train`, or its model.po3ad / nearest.json.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
        py.detach(|| Model::open(&path)).map_err(to_py)
    }

    /// model.score(points) -> Score: the scan is placed as `po3ad predict --frame auto`
    /// places it (registered onto the training pose when the detector needs it).
    fn score(&self, py: Python<'_>, points: &Bound<'_, PyAny>) -> PyResult<Score> {
        let points = points_from(py, points)?;
        let (scores, object, fit, frame) = py
            .detach(|| -> anyhow::Result<_> {
                let guard = self
                    .inner
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the model was poisoned by a panic"))?;
                let scorer = guard.detector.scorer();
                let cloud = PointCloud {
                    points,
                    ..Default::default()
                };
                let (scored, fit) = score_scan(&guard.placement, scorer, cloud)?;
                Ok((scored.points, scored.object, fit, guard.placement.name()))
            })
            .map_err(to_py)?;
        Ok(Score {
            object_score: object,
            point_scores: PyArray1::from_vec(py, scores).unbind(),
            registered: fit.map(|f| f.registered),
            fitness: fit.map(|f| f.fitness as f64),
            inlier_rmse: fit.map(|f| f.inlier_rmse as f64),
            frame: frame.to_string(),
        })
    }

    /// "po3ad" or "nearest".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("Model(kind={:?}, path={:?})", self.kind, self.path)
    }
}

/// The scores of one scan.
#[pyclass(frozen, get_all, module = "po3ad._po3ad")]
struct Score {
    object_score: f64,
    point_scores: Py<PyArray1<f32>>,
    registered: Option<bool>,
    fitness: Option<f64>,
    inlier_rmse: Option<f64>,
    frame: String,
}

#[pymethods]
impl Score {
    fn __repr__(&self) -> String {
        format!(
            "Score(object_score={}, frame={:?}, registered={:?}, fitness={:?})",
            self.object_score, self.frame, self.registered, self.fitness
        )
    }
}

/// The training loop's progress, seen from Python (the loop runs without the GIL and
/// calls this on its own thread between steps). Every event takes the GIL back to look
/// for Ctrl-C, which Python otherwise only notices when it runs Python code, i.e.
/// after training; each epoch's end calls `callback(epoch, epochs, loss)`. The first
/// Python exception, from either, is kept in `failure` and stops training; `train`
/// raises it.
fn python_progress(
    event: FitProgress,
    callback: Option<&Py<PyAny>>,
    failure: &mut Option<PyErr>,
) -> ControlFlow<()> {
    let outcome = Python::attach(|py| -> PyResult<()> {
        py.check_signals()?;
        if let (
            FitProgress::Epoch {
                epoch,
                epochs,
                loss,
            },
            Some(callback),
        ) = (event, callback)
        {
            callback.call1(py, (epoch, epochs, loss))?;
        }
        Ok(())
    });
    match outcome {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => {
            *failure = Some(err);
            ControlFlow::Break(())
        }
    }
}

/// train(train, out, preset="cpu", epochs=None, detector=None, seed=None,
/// progress=None) -> Model: `po3ad train --train TRAIN --out OUT [--preset ...]
/// [--detector nearest]`; `progress(epoch, epochs, loss)` after every epoch (the
/// package's `po3ad.train` turns `progress=True` into a tqdm bar).
#[pyfunction]
#[pyo3(signature = (train, out, preset = "cpu", epochs = None, detector = None, seed = None, progress = None))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn train(
    py: Python<'_>,
    train: PathBuf,
    out: PathBuf,
    preset: &str,
    epochs: Option<usize>,
    detector: Option<&str>,
    seed: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Model> {
    match detector {
        None | Some("nearest") => {}
        Some(d) => {
            return Err(PyValueError::new_err(format!(
                "unknown detector '{d}' (None for PO3AD, or 'nearest')"
            )))
        }
    }
    if let Some(p) = &progress {
        if !p.bind(py).is_callable() {
            return Err(PyTypeError::new_err(
                "progress must be a callable (epoch, epochs, loss), True, False or None",
            ));
        }
    }
    let mut failure: Option<PyErr> = None;
    let result = py.detach(|| -> anyhow::Result<Model> {
        let preset = preset_with_overrides(preset, epochs, seed)?;
        let (files, name) = training_files(&train)?;
        if detector.is_some() {
            NearestTemplate::fit(
                &files,
                &NearestConfig::default(),
                &RegistrationConfig::default(),
            )?
            .save(&out)?;
        } else {
            let opts = FitOptions {
                out_dir: out.clone(),
                resume: false,
                category: name,
                stop_after: None,
            };
            let hooks = FitHooks {
                on_progress: Some(Box::new(|event| {
                    python_progress(event, progress.as_ref(), &mut failure)
                })),
                ..FitHooks::default()
            };
            train_on::<CpuTrainBackend>(&files, &preset, &opts, &Default::default(), hooks)?;
        }
        Model::open(&out)
    });
    match (result, failure) {
        // Training stopped because of a Python exception: raise that one, not the
        // library's "stopped by its progress callback".
        (Err(_), Some(err)) => Err(err),
        (result, _) => result.map_err(to_py),
    }
}

/// A `--frame`-style option parsed as the CLI parses it, so the same spellings work.
fn value_enum<E: clap::ValueEnum>(what: &str, value: &str) -> PyResult<E> {
    E::from_str(value, false).map_err(|_| {
        let names: Vec<String> = E::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        PyValueError::new_err(format!(
            "{what}: unknown value '{value}' (expected one of {})",
            names.join(", ")
        ))
    })
}

/// One row of a results table as a dict (the columns of results.csv, plus the model).
fn row_dict<'py>(
    py: Python<'py>,
    model: &str,
    r: &po3ad_core::report::CategoryResult,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("category", &r.category)?;
    d.set_item("model", model)?;
    d.set_item("object_auroc", r.object_auroc)?;
    d.set_item("object_ap", r.object_ap)?;
    d.set_item("point_auroc", r.point_auroc)?;
    d.set_item("point_ap", r.point_ap)?;
    d.set_item("train_seconds", r.train_seconds)?;
    d.set_item("test_seconds", r.test_seconds)?;
    Ok(d)
}

/// benchmark(root, out, layout, ...) -> list[dict]: `po3ad benchmark` with the same
/// options (CPU only); the rows of its results.csv, mean row last, full precision.
#[pyfunction]
#[pyo3(signature = (
    root, out, layout, categories = None, model = "po3ad", preset = "cpu", epochs = None,
    models = None, frame = "auto", nearest_weight = None, object_score = None,
    heatmaps = 2, shard = None, object_nearest_weight = None
))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn benchmark<'py>(
    py: Python<'py>,
    root: PathBuf,
    out: PathBuf,
    layout: String,
    categories: Option<Vec<String>>,
    model: &str,
    preset: &str,
    epochs: Option<usize>,
    models: Option<PathBuf>,
    frame: &str,
    nearest_weight: Option<f32>,
    object_score: Option<&str>,
    heatmaps: usize,
    shard: Option<&str>,
    object_nearest_weight: Option<f32>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let frame = value_enum::<FrameMode>("frame", frame)?;
    let object_score = object_score
        .map(|s| value_enum::<ObjectScore>("object_score", s))
        .transpose()?;
    let shard = shard
        .map(|s| {
            s.parse::<Shard>()
                .map_err(|e| PyValueError::new_err(format!("shard: {e}")))
        })
        .transpose()?;
    let args = BenchmarkArgs {
        layout,
        root,
        categories: categories.unwrap_or_default(),
        preset: preset.to_string(),
        model: model.to_string(),
        models,
        frame: FrameArgs { frame },
        nearest_weight,
        object_nearest_weight,
        object_score,
        out,
        epochs,
        heatmaps,
        shard,
        device: DeviceArg::Cpu,
    };
    let table = py.detach(|| run_benchmark(&args)).map_err(to_py)?;
    let mean = table.mean();
    table
        .rows
        .iter()
        .chain(std::iter::once(&mean))
        .map(|r| row_dict(py, &table.model, r))
        .collect()
}

#[pymodule]
fn _po3ad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(benchmark, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<Score>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
