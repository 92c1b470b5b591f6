//! Detectors: the one way from training files or a model folder to a scored, judged
//! scan, for the CLI, the service and Python alike.
//!
//! Lifecycle of a [`Detector`]:
//! 1. **fit** ([`Detector::fit`]): a registered kind ([`registry::KINDS`]: `po3ad`,
//!    `nearest`, `curvature`) builds itself from training files into a model folder,
//!    which gets a `detector.json` manifest ([`manifest`]: kind, settings, units,
//!    training frame, files, version).
//! 2. **load** ([`Detector::load`]): the folder (or one of its files) becomes a
//!    [`Scorer`], a [`Placement`] (`--frame`: registration onto the training pose, or the
//!    scan's own normalization) and, when one holds for these scores, a [`Calibration`].
//! 3. **calibrate** ([`Detector::calibrate`]): thresholds from normal scans, stored in
//!    `calibration.json` beside the model.
//! 4. **score** ([`Detector::score`]): place a scan, score its points and object, and
//!    judge it ([`report::ScanReport`]: normalized score, verdict, regions, fit).
//!
//! A new kind is one file in `kinds/` plus one line in [`registry`].

pub mod calibration;
pub mod intake;
mod kinds;
pub mod manifest;
pub mod placement;
pub mod regions;
pub mod registry;
pub mod report;
pub mod scorer;

pub use calibration::{Calibration, CalibrationRule, NormalSource};
pub use intake::{BackgroundMode, Intake, IntakeOptions, IntakeSummary, TemplateSize, UnitsArg};
pub use kinds::curvature::CurvatureScorer;
pub use kinds::nearest::{NearestConfig, NearestTemplate, NEAREST_FILE};
pub use kinds::po3ad::{load_model, ModelScorer};
pub use manifest::{Manifest, MANIFEST_FILE};
pub use placement::{FrameMode, FrameNeed, Placement};
pub use registry::{
    choose_kind, kind, kind_parser, names, FitOutcome, FitRequest, KindSettings, KindSpec,
    TestOverrides, DEFAULT_KIND,
};
pub use report::ScanReport;
pub use scorer::{Scored, Scorer};

use crate::device::DeviceArg;
use po3ad_core::io::Scan;
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::scene::Units;
use po3ad_core::PointCloud;
use std::path::{Path, PathBuf};

/// How a saved detector is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: DeviceArg,
    /// How scans are put into the detector's frame (`--frame`).
    pub frame: FrameMode,
    /// Test-time overrides of a PO3AD preset.
    pub overrides: TestOverrides,
    /// Load this kind from the folder (e.g. the `nearest` companion of a PO3AD folder)
    /// instead of the one its manifest names.
    pub kind: Option<&'static KindSpec>,
    /// Look for the calibration beside the model (off for a detector built on the fly).
    pub calibration: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: DeviceArg::Cpu,
            frame: FrameMode::Auto,
            overrides: TestOverrides::default(),
            kind: None,
            calibration: true,
        }
    }
}

/// A loaded detector: scorer, placement, calibration and where it came from.
pub struct Detector {
    kind: &'static KindSpec,
    dir: PathBuf,
    manifest: Manifest,
    scorer: Box<dyn Scorer + Send>,
    placement: Placement,
    calibration: Option<Calibration>,
    template: Option<TemplateSize>,
}

/// A scanner's file scored by [`Detector::score_scan`].
pub struct ScoredScan {
    /// The report; `input` says what was taken out of the file.
    pub report: ScanReport,
    /// The file's valid points and the part's place among them.
    pub intake: Intake,
    /// One score per part point (`intake.part`).
    pub part_scores: Vec<f32>,
}

impl ScoredScan {
    /// Scores in the file's point order, NaN for dropped and background points.
    pub fn file_scores(&self) -> Vec<f32> {
        self.intake.to_file_order(&self.part_scores)
    }

    /// Scores of the file's valid points (`intake.valid`), NaN for background points:
    /// what a heatmap shows (background grey).
    pub fn valid_scores(&self) -> Vec<f32> {
        self.intake.to_valid_order(&self.part_scores)
    }
}

/// The template size a detector checks scans against (see [`intake`]).
fn template_size(scorer: &dyn Scorer, manifest: &Manifest) -> Option<TemplateSize> {
    let units = manifest.units.parse::<Units>().unwrap_or_default();
    TemplateSize::of_frame(scorer.frame(), units)
}

/// How `scorer`'s scores are made when scans are placed by `placement` (see
/// [`Detector::provenance`]).
pub fn provenance(
    scorer: &dyn Scorer,
    placement: &Placement,
) -> std::collections::BTreeMap<String, String> {
    let mut m: std::collections::BTreeMap<String, String> = scorer.settings().into_iter().collect();
    m.insert("detector".into(), scorer.name().into());
    m.insert("label".into(), scorer.label());
    m.insert("scoring".into(), scorer.scoring());
    m.insert("frame".into(), placement.name().into());
    m.insert("version".into(), crate::version::long());
    m
}

/// Build a `kind` detector as `req` says, then load it with `load`.
pub fn fit_and_load(
    kind: &'static KindSpec,
    req: FitRequest<'_>,
    load: &LoadOptions,
) -> anyhow::Result<Detector> {
    let out = req.out.to_path_buf();
    Detector::fit(kind, req)?;
    Detector::load(&out, load)
}

/// The folder a model file lives in (where `detector.json` and `calibration.json` go).
pub fn model_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The kind a model *file* named on the command line holds: the kind whose marker file
/// has its name, else by extension (`.json`: nearest, anything else: a PO3AD model).
fn kind_of_file(path: &Path) -> &'static KindSpec {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    registry::KINDS
        .iter()
        .copied()
        .find(|k| !k.marker_file.is_empty() && k.marker_file == name)
        .unwrap_or(match path.extension().and_then(|e| e.to_str()) {
            Some("json") => &kinds::nearest::KIND,
            _ => &kinds::po3ad::KIND,
        })
}

impl Detector {
    /// Build a `kind` detector from `req.files` into `req.out` and write its manifest.
    pub fn fit(kind: &'static KindSpec, req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
        if let (Some(s), false) = (req.settings, kind.takes_settings) {
            let instead = if kind.name == "po3ad" {
                "the network's settings come from --preset (a name or a TOML file)"
            } else {
                "it has no settings"
            };
            anyhow::bail!(
                "--settings {} does not apply to --detector {}: {instead}",
                s.path.display(),
                kind.name
            );
        }
        let out = req.out.to_path_buf();
        std::fs::create_dir_all(&out)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", out.display()))?;
        let sources: Vec<String> = req.files.iter().map(|f| f.display().to_string()).collect();
        let outcome = (kind.fit)(req)?;
        let mut manifest = Manifest::new(kind);
        manifest.settings = outcome.settings.clone();
        manifest.sources = sources;
        manifest.files = outcome
            .files
            .iter()
            .map(|(role, file)| (role.to_string(), file.clone()))
            .collect();
        manifest.frame = outcome.frame.clone();
        manifest.save(&out)?;
        Ok(outcome)
    }

    /// A detector around a scorer built in memory (no folder, no calibration), placing
    /// scans by `frame`.
    pub fn from_scorer(scorer: Box<dyn Scorer + Send>, frame: FrameMode) -> anyhow::Result<Self> {
        let kind = registry::kind(scorer.name())?;
        let placement = Placement::new(
            frame,
            scorer.frame_need(),
            scorer.frame(),
            &RegistrationConfig::default(),
        )?;
        let manifest = Manifest::new(kind);
        let template = template_size(scorer.as_ref(), &manifest);
        Ok(Self {
            kind,
            dir: PathBuf::from("."),
            manifest,
            scorer,
            placement,
            calibration: None,
            template,
        })
    }

    /// Load the detector saved at `path`: a model folder, or one of its files
    /// (`model.po3ad`, `nearest.json`).
    pub fn load(path: &Path, opts: &LoadOptions) -> anyhow::Result<Self> {
        let dir = model_dir(path);
        let (kind, manifest, file) = if path.is_dir() {
            let manifest = match Manifest::load(&dir)? {
                Some(m) => m,
                None => Manifest::infer(&dir, opts.kind)?,
            };
            let saved = registry::kind(&manifest.kind)?;
            let kind = opts.kind.unwrap_or(saved);
            if kind != saved
                && (kind.marker_file.is_empty() || !dir.join(kind.marker_file).is_file())
            {
                anyhow::bail!(
                    "{}: holds a '{}' detector, not '{}'",
                    dir.display(),
                    saved.name,
                    kind.name
                );
            }
            (kind, manifest, dir.join(kind.marker_file))
        } else {
            let kind = opts.kind.unwrap_or_else(|| kind_of_file(path));
            let manifest = match Manifest::load(&dir)? {
                Some(m) if m.kind == kind.name => m,
                _ => Manifest::new(kind),
            };
            (kind, manifest, path.to_path_buf())
        };
        let scorer = (kind.load)(&registry::LoadRequest {
            dir: &dir,
            file,
            device: opts.device,
            overrides: opts.overrides,
        })?;
        let placement = Placement::new(
            opts.frame,
            scorer.frame_need(),
            scorer.frame(),
            &RegistrationConfig::default(),
        )?;
        let calibration = if opts.calibration {
            calibration::usable(&dir, path, kind.name, &scorer.scoring())?
        } else {
            None
        };
        let template = template_size(scorer.as_ref(), &manifest);
        Ok(Self {
            kind,
            dir,
            manifest,
            scorer,
            placement,
            calibration,
            template,
        })
    }

    /// Place `scan` (file coordinates), score it and judge it; returns the report and
    /// the point scores in the scan's point order.
    pub fn score(&self, scan: &PointCloud) -> anyhow::Result<(ScanReport, Vec<f32>)> {
        report::report_scan(
            &self.placement,
            self.scorer.as_ref(),
            self.calibration.as_ref(),
            scan,
            1.0,
        )
    }

    /// Score a scanner's file (as `po3ad_core::io::read_scan` returns it): invalid
    /// points, units and background are dealt with as `opts` says ([`intake`]), then
    /// the part is placed, scored and judged.
    pub fn score_scan(&self, scan: Scan, opts: &IntakeOptions) -> anyhow::Result<ScoredScan> {
        let intake = self.intake(scan, opts)?;
        let (mut report, part_scores) = report::report_scan(
            &self.placement,
            self.scorer.as_ref(),
            self.calibration.as_ref(),
            &intake.part,
            intake.to_template,
        )?;
        report.input = Some(intake.summary.clone());
        Ok(ScoredScan {
            report,
            intake,
            part_scores,
        })
    }

    /// Make `scan` ready for this detector without scoring it ([`intake::intake`]).
    pub fn intake(&self, scan: Scan, opts: &IntakeOptions) -> anyhow::Result<Intake> {
        let registers = matches!(self.placement, Placement::Register { .. });
        intake::intake(
            scan,
            self.template,
            opts,
            registers.then_some(&self.placement as &dyn intake::PartJudge),
        )
    }

    /// The template size scans are checked against (None: the detector records no
    /// training frame).
    pub fn template(&self) -> Option<TemplateSize> {
        self.template
    }

    /// Choose thresholds from `source`'s normal scans, store them in the folder's
    /// `calibration.json` and use them from now on.
    pub fn calibrate(&mut self, source: &NormalSource) -> anyhow::Result<(Calibration, PathBuf)> {
        let (cal, path) = calibration::calibrate_scorer(
            self.scorer.as_ref(),
            self.kind.name,
            &self.dir,
            source,
            &self.placement,
        )?;
        self.calibration = Some(cal.clone());
        Ok((cal, path))
    }

    pub fn kind(&self) -> &'static KindSpec {
        self.kind
    }

    pub fn name(&self) -> &'static str {
        self.kind.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn scorer(&self) -> &dyn Scorer {
        self.scorer.as_ref()
    }

    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// The settings its scores depend on ([`Scorer::scoring`]).
    pub fn scoring(&self) -> String {
        self.scorer.scoring()
    }

    /// How its scores are made, for every results file: `detector`, `label`,
    /// `scoring`, the kind's settings, `frame` and `version`.
    pub fn provenance(&self) -> std::collections::BTreeMap<String, String> {
        provenance(self.scorer.as_ref(), &self.placement)
    }

    /// Scorer, placement and calibration, for a caller that spreads one detector's
    /// copies over workers (the service).
    pub fn into_parts(self) -> (Box<dyn Scorer + Send>, Placement, Option<Calibration>) {
        (self.scorer, self.placement, self.calibration)
    }
}
