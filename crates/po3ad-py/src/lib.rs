//! `po3ad._po3ad`: the native half of the `po3ad` Python package (python/po3ad wraps it
//! and carries the type stubs).
//!
//! Nothing here decides anything about scoring or training: `read` is
//! `po3ad_core::io::read`, `train` is `po3ad::detector::Detector::fit` (what `po3ad
//! train` runs, calibration included), `Model` is a `po3ad::detector::Detector` (what
//! `po3ad predict` and `po3ad serve` load, `--frame auto`), so a Python report equals
//! the CLI's for the same points, and `benchmark` is `po3ad benchmark`
//! (`cli::benchmark::benchmark`, its arguments as keywords). The GIL is released while
//! training, benchmarking, loading and scoring; training takes it back between steps
//! for the progress callback and Ctrl-C.

use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use po3ad::detector::calibration::NormalSource;
use po3ad::detector::{
    BackgroundMode, Detector, FitRequest, FrameMode, IntakeOptions, KindSettings, KindSpec,
    LoadOptions, ScanReport, UnitsArg,
};
use po3ad::device::DeviceArg;
use po3ad::eval::benchmark::{benchmark as run_benchmark, BenchmarkSpec, Shard};
use po3ad::score_rule::ObjectScore;
use po3ad::train::{FitHooks, FitProgress, Preset};
use po3ad_core::PointCloud;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
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

/// The Python view of a report and its point scores.
fn score_object(py: Python<'_>, report: &ScanReport, scores: Vec<f32>) -> PyResult<Score> {
    let regions = match &report.regions {
        None => None,
        Some(rs) => {
            let list = PyList::empty(py);
            for r in rs {
                list.append(region_dict(py, r)?)?;
            }
            Some(list.unbind())
        }
    };
    let fit = report.registration;
    Ok(Score {
        object_score: report.object_score,
        point_scores: PyArray1::from_vec(py, scores).unbind(),
        registered: fit.map(|f| f.registered),
        fitness: fit.map(|f| f.fitness as f64),
        inlier_rmse: fit.map(|f| f.inlier_rmse as f64),
        frame: report.frame.clone(),
        normalized_score: report.normalized_score,
        verdict: report.verdict.clone(),
        anomalous_points: report.anomalous_points,
        max_point_score: report.max_point_score,
        regions,
        report_json: serde_json::to_string(report).map_err(|e| to_py(e.into()))?,
    })
}

/// A trained detector, as `po3ad predict --model PATH` loads it.
#[pyclass(frozen, module = "po3ad._po3ad")]
struct Model {
    inner: Mutex<Detector>,
    path: PathBuf,
    kind: &'static str,
    settings: String,
}

impl Model {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let detector = Detector::load(path, &LoadOptions::default())?;
        let kind = detector.name();
        let settings = serde_json::to_string(&detector.manifest().settings)?;
        Ok(Model {
            inner: Mutex::new(detector),
            path: path.to_path_buf(),
            kind,
            settings,
        })
    }
}

/// A region of a report as a dict (the keys of predictions.json).
fn region_dict<'py>(
    py: Python<'py>,
    r: &po3ad::detector::regions::Region,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("points", r.points)?;
    d.set_item("centroid", r.centroid.to_vec())?;
    d.set_item("extent", r.extent.to_vec())?;
    d.set_item("bbox_min", r.bbox_min.to_vec())?;
    d.set_item("bbox_max", r.bbox_max.to_vec())?;
    d.set_item("max_score", r.max_score)?;
    d.set_item("mean_score", r.mean_score)?;
    Ok(d)
}

#[pymethods]
impl Model {
    /// Model.load(path): a folder written by `train`, or its model.po3ad / nearest.json.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
        py.detach(|| Model::open(&path)).map_err(to_py)
    }

    /// model.score(points) -> Score: the report `po3ad predict` gives for the scan
    /// (placed as `--frame auto` places it).
    fn score(&self, py: Python<'_>, points: &Bound<'_, PyAny>) -> PyResult<Score> {
        let points = points_from(py, points)?;
        let (report, scores) = py
            .detach(|| -> anyhow::Result<(ScanReport, Vec<f32>)> {
                let guard = self
                    .inner
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the model was poisoned by a panic"))?;
                let cloud = PointCloud {
                    points,
                    ..Default::default()
                };
                guard.score(&cloud)
            })
            .map_err(to_py)?;
        score_object(py, &report, scores)
    }

    /// model.score_file(path, units="check", background="auto") -> Score: a scanner's
    /// file scored as `po3ad predict` scores it: invalid points dropped, units checked
    /// (`units`: check, auto, or m / cm / mm / in), background removed (`background`:
    /// auto, on, off). `point_scores` follow the file's point order, NaN for dropped
    /// and background points; `report_json`'s `input` says what was taken out.
    #[pyo3(signature = (path, units = "check", background = "auto"))]
    fn score_file(
        &self,
        py: Python<'_>,
        path: PathBuf,
        units: &str,
        background: &str,
    ) -> PyResult<Score> {
        let opts = IntakeOptions {
            units: units
                .parse::<UnitsArg>()
                .map_err(|e| PyValueError::new_err(format!("units={e}")))?,
            background: value_enum::<BackgroundMode>("background", background)?,
            crop: None,
            scan: None,
        };
        let (report, scores) = py
            .detach(|| -> anyhow::Result<(ScanReport, Vec<f32>)> {
                let scan = po3ad_core::io::read_scan(&path, &Default::default())?;
                let guard = self
                    .inner
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the model was poisoned by a panic"))?;
                let scored = guard
                    .score_scan(scan, &opts)
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
                let scores = scored.file_scores();
                Ok((scored.report, scores))
            })
            .map_err(to_py)?;
        score_object(py, &report, scores)
    }

    /// The detector kind ("po3ad", "nearest", "curvature", ...).
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The settings it was built with (detector.json's `settings`), as a dict.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.settings.as_str(),))
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("Model(kind={:?}, path={:?})", self.kind, self.path)
    }
}

/// The report of one scan (what `po3ad predict` writes per scan).
#[pyclass(frozen, get_all, module = "po3ad._po3ad")]
struct Score {
    object_score: f64,
    point_scores: Py<PyArray1<f32>>,
    registered: Option<bool>,
    fitness: Option<f64>,
    inlier_rmse: Option<f64>,
    frame: String,
    normalized_score: Option<f64>,
    verdict: Option<String>,
    anomalous_points: Option<usize>,
    max_point_score: f32,
    regions: Option<Py<PyList>>,
    /// The report as predictions.json writes it (one scan's object).
    report_json: String,
}

#[pymethods]
impl Score {
    fn __repr__(&self) -> String {
        format!(
            "Score(object_score={}, verdict={:?}, normalized_score={:?}, frame={:?}, registered={:?})",
            self.object_score, self.verdict, self.normalized_score, self.frame, self.registered
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

/// train(train, out, preset=None, epochs=None, detector=None, seed=None,
/// progress=None, settings=None) -> Model: `po3ad train --train TRAIN --out OUT
/// [--preset ...] [--detector KIND] [--settings TOML]` (calibration included; the kind
/// chosen as the CLI chooses it); `progress(epoch, epochs, loss)` after every epoch
/// (the package's `po3ad.train` turns `progress=True` into a tqdm bar).
#[pyfunction]
#[pyo3(signature = (train, out, preset = None, epochs = None, detector = None, seed = None, progress = None, settings = None))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn train(
    py: Python<'_>,
    train: PathBuf,
    out: PathBuf,
    preset: Option<&str>,
    epochs: Option<usize>,
    detector: Option<&str>,
    seed: Option<u64>,
    progress: Option<Py<PyAny>>,
    settings: Option<PathBuf>,
) -> PyResult<Model> {
    let kind = choose_kind(
        detector,
        &[("preset", preset.is_some()), ("epochs", epochs.is_some())],
    )?;
    let preset = preset.unwrap_or(po3ad::train::DEFAULT_PRESET);
    if let Some(p) = &progress {
        if !p.bind(py).is_callable() {
            return Err(PyTypeError::new_err(
                "progress must be a callable (epoch, epochs, loss), True, False or None",
            ));
        }
    }
    let mut failure: Option<PyErr> = None;
    let result = py.detach(|| -> anyhow::Result<Model> {
        let settings = settings.as_deref().map(KindSettings::load).transpose()?;
        let preset = Preset::load_with(preset, epochs, seed)?;
        let (files, name) = po3ad::train::data::training_files(&train)?;
        let hooks = FitHooks {
            on_progress: Some(Box::new(|event| {
                python_progress(event, progress.as_ref(), &mut failure)
            })),
            ..FitHooks::default()
        };
        Detector::fit(
            kind,
            FitRequest {
                files: &files,
                out: &out,
                preset: &preset,
                resume: false,
                category: &name,
                device: DeviceArg::Cpu,
                hooks,
                settings: settings.as_ref(),
            },
        )?;
        // As `po3ad train`: thresholds from views of the training files.
        let mut d = Detector::load(
            &out,
            &LoadOptions {
                kind: Some(kind),
                calibration: false,
                ..LoadOptions::default()
            },
        )?;
        d.calibrate(&NormalSource::TrainingViews(files))?;
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

/// The kind a Python call builds: `detector` by name, chosen as the CLI chooses it
/// ([`po3ad::detector::choose_kind`]) from the PO3AD-only keyword arguments `given`.
fn choose_kind(detector: Option<&str>, given: &[(&str, bool)]) -> PyResult<&'static KindSpec> {
    let named = detector
        .map(po3ad::detector::kind)
        .transpose()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let options: Vec<&str> = given.iter().filter(|(_, g)| *g).map(|(o, _)| *o).collect();
    po3ad::detector::choose_kind(named, &options).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// benchmark(root, out, layout, ...) -> list[dict]: `po3ad benchmark` with the same
/// options (CPU only); the rows of its results.csv, mean row last, full precision.
#[pyfunction]
#[pyo3(signature = (
    root, out, layout, categories = None, detector = None, preset = None, epochs = None,
    reuse_models = None, frame = "auto", nearest_weight = None, object_score = None,
    heatmaps = 4, shard = None, object_nearest_weight = None, model = None, models = None,
    settings = None
))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn benchmark<'py>(
    py: Python<'py>,
    root: PathBuf,
    out: PathBuf,
    layout: String,
    categories: Option<Vec<String>>,
    detector: Option<&str>,
    preset: Option<&str>,
    epochs: Option<usize>,
    reuse_models: Option<PathBuf>,
    frame: &str,
    nearest_weight: Option<f32>,
    object_score: Option<&str>,
    heatmaps: usize,
    shard: Option<&str>,
    object_nearest_weight: Option<f32>,
    model: Option<&str>,
    models: Option<PathBuf>,
    settings: Option<PathBuf>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let warn = |msg: &str| -> PyResult<()> {
        let warnings = py.import("warnings")?;
        let category = py.import("builtins")?.getattr("DeprecationWarning")?;
        warnings.call_method1("warn", (msg, category, 2))?;
        Ok(())
    };
    let detector = match (detector, model) {
        (Some(d), _) => Some(d),
        (None, Some(m)) => {
            warn("benchmark(model=...) is deprecated; use detector=...")?;
            Some(m)
        }
        (None, None) => None,
    };
    let reuse_models = match (reuse_models, models) {
        (Some(r), _) => Some(r),
        (None, Some(m)) => {
            warn("benchmark(models=...) is deprecated; use reuse_models=...")?;
            Some(m)
        }
        (None, None) => None,
    };
    let detector = if reuse_models.is_some() {
        detector
            .map(po3ad::detector::kind)
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?
    } else {
        let given = [
            ("preset", preset.is_some()),
            ("epochs", epochs.is_some()),
            ("nearest_weight", nearest_weight.is_some()),
            ("object_nearest_weight", object_nearest_weight.is_some()),
            ("object_score", object_score.is_some()),
        ];
        Some(choose_kind(detector, &given)?)
    };
    let preset = preset.unwrap_or(po3ad::train::DEFAULT_PRESET);
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
    let no_hooks = |_: &str| FitHooks::default();
    let args = BenchmarkSpec {
        layout,
        root,
        categories: categories.unwrap_or_default(),
        preset: preset.to_string(),
        epochs,
        detector,
        settings: settings
            .as_deref()
            .map(KindSettings::load)
            .transpose()
            .map_err(to_py)?,
        reuse_models,
        frame,
        overrides: po3ad::detector::TestOverrides {
            object_score,
            nearest_weight,
            object_nearest_weight,
        },
        out,
        heatmaps,
        shard,
        device: DeviceArg::Cpu,
        progress: false,
        hooks: &no_hooks,
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
