//! A scanner's file, made ready for a detector: what a real inspection cell adds to a
//! scan and the detector must not see.
//!
//! In order:
//! 1. **invalid points** (NaN / ±inf, the (0, 0, 0) pixels of organized clouds) are
//!    dropped when the file is read (`po3ad_core::io::read_scan`);
//! 2. **units**: the scan's size is compared with the template's (`--units`): a
//!    mismatch by a known unit factor (1000, 25.4, 10, …) is refused with a message
//!    naming both units (`check`, the default), or converted (`auto`); a scan declared
//!    in a unit (`--units mm`) is converted into a template whose units are known;
//! 3. **background**: the support plane, fixtures and other objects are removed
//!    (`po3ad_core::scene::remove_background`) when the scan is clearly larger than the
//!    part (`--background auto`, the default), always (`on`, or with `--crop`), or never
//!    (`off`).
//!
//! What is left — the part's points, in the template's units — is what the detector
//! places and scores. Every score is written back to the file's point order, with NaN
//! for a point that was dropped or removed ([`Intake::to_file_order`]).

use po3ad_core::frame::TrainingFrame;
use po3ad_core::io::{E57Scans, Scan};
use po3ad_core::registration::Registration;
use po3ad_core::scene::units::{extent_of, KNOWN_UNITS};
use po3ad_core::scene::{
    self, detect_scale_mismatch, BackgroundConfig, BackgroundReport, Plane, SceneSplit, Units,
};
use po3ad_core::PointCloud;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// `--units` of the scoring commands: how a scan's units are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnitsArg {
    /// Refuse a scan whose size says it is in other units than the template.
    #[default]
    Check,
    /// Convert such a scan (and report the conversion).
    Auto,
    /// The scan is in these units: converted when the template's units are known.
    Declared(Units),
}

impl FromStr for UnitsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "check" => Ok(Self::Check),
            "auto" => Ok(Self::Auto),
            other => match other.parse::<Units>() {
                Ok(Units::Unknown) | Err(_) => Err(format!(
                    "{s}: expected check, auto, or the scans' unit (m, cm, mm, in)"
                )),
                Ok(u) => Ok(Self::Declared(u)),
            },
        }
    }
}

impl fmt::Display for UnitsArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Check => f.write_str("check"),
            Self::Auto => f.write_str("auto"),
            Self::Declared(u) => write!(f, "{u}"),
        }
    }
}

/// `--background`: when the support plane and clutter are removed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundMode {
    /// When the scan is more than 1.25× the template's size (a part alone never is).
    #[default]
    Auto,
    /// Always (a scan of the part in its cell).
    On,
    /// Never: every point is the part's.
    Off,
}

/// A scan whose extent exceeds the template's by this factor holds more than the part.
/// A scan of the part alone is at most the part's size (a one-sided view is smaller)
/// plus noise and a few stray points; 1.25 leaves room for those.
const BACKGROUND_TRIGGER: f64 = 1.25;

/// The part of a scene, under the unit hypothesis it was found with.
struct Chosen {
    /// Scan units to template units.
    factor: f64,
    change: Option<(Units, Units)>,
    part: PointCloud,
    report: BackgroundReport,
}

/// A unit hypothesis: scan units to template units, and the change it stands for
/// (`None`: same units).
type Hypothesis = (f64, Option<(Units, Units)>);

/// Components tried as the part under each unit hypothesis (best size match first).
/// Under a one-sided view the part's extent is well below the template's, and a
/// fixture as long as the part or a distractor can come closer in size: three
/// candidates hold the part on every scene of the scene track (notes/scanner-data.md).
const MAX_CANDIDATES: usize = 6;

/// A registered candidate whose fitness × coverage reaches this is taken at once.
const CONFIDENT_FIT: f64 = 0.9;

/// The sizes a view of the part can have, as a ratio of its extent to the template's,
/// when candidates are judged by shape: never much larger than the part; a one-sided
/// view of a long part seen end-on is about half of it (0.49 on a cylinder scene), so
/// down to a third.
const VIEW_RATIO: (f64, f64) = (1.0 / 3.0, 1.5);

/// A piece of the scene joins the chosen part when at least this fraction of its points
/// lies near the template in the part's registered pose (a one-sided view falls apart
/// at self-occlusions and at a defect; a fixture or a neighbour stands clear of it).
const ON_TEMPLATE: f32 = 0.8;

/// How well a candidate part registers onto the template.
#[derive(Debug, Clone)]
pub struct PartFit {
    /// Passed the registration's quality gate.
    pub registered: bool,
    /// The registration (training frame).
    pub registration: Registration,
}

/// Tells a part from clutter by its shape: registers candidate parts onto the template
/// (the detector's placement does).
pub trait PartJudge {
    /// Register `points` (file coordinates in the template's units) onto the template;
    /// `None` when this detector does not register scans.
    fn fit(&self, points: &[[f32; 3]]) -> anyhow::Result<Option<PartFit>>;
    /// Fraction of `points` (as for [`Self::fit`]) near the template in `fit`'s pose.
    fn on_template(&self, fit: &PartFit, points: &[[f32; 3]]) -> f32;
    /// Coverage of the template by `points` (as for [`Self::fit`]) in `fit`'s pose: the
    /// share of the surface facing the implied viewpoint they show (0 when it cannot be
    /// measured).
    fn coverage(&self, fit: &PartFit, points: &[[f32; 3]]) -> f32;
    /// Fraction of the template surface that faces `view` (the scanner's direction,
    /// file frame) in `fit`'s pose but lies where the scanner saw through it: in front
    /// of what the whole `scene` (every scan point, as for [`Self::fit`]) shows there
    /// (0 when it cannot be measured).
    fn seen_through(&self, fit: &PartFit, scene: &[[f32; 3]], view: [f32; 3]) -> f32;
}

/// How far (as a ratio) the part's size may be from the template's and still be taken
/// for it: a one-sided view is smaller than the whole part (as in
/// `po3ad_core::scene::units`).
const SIZE_TOLERANCE: f64 = 1.5;

/// The wider tolerance a unit change's part gets (a one-sided view's diagonal can be
/// half the whole part's); the largest such part wins.
const CHANGE_TOLERANCE: f64 = 2.0;

/// How scans are prepared (`--units`, `--background`, `--crop`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeOptions {
    pub units: UnitsArg,
    pub background: BackgroundMode,
    /// Keep only points inside this box (scan coordinates) first; implies background
    /// removal.
    pub crop: Option<([f32; 3], [f32; 3])>,
    /// E57 files: read only this scan (0-based) instead of all of them merged.
    pub scan: Option<usize>,
}

impl IntakeOptions {
    /// How a file is read for this intake (at most `max_points` points).
    pub fn read_options(&self, max_points: usize) -> po3ad_core::io::ScanOptions {
        po3ad_core::io::ScanOptions {
            max_points,
            e57_scans: self.scan.map_or(E57Scans::All, E57Scans::Index),
            ..Default::default()
        }
    }
}

/// What the detector knows of its template, for the checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateSize {
    /// Bounding-box diagonal of the template, in its file units.
    pub extent: f64,
    pub units: Units,
}

impl TemplateSize {
    /// From the training frame a detector recorded (its template, normalized), `None`
    /// without one.
    pub fn of_frame(frame: Option<&TrainingFrame>, units: Units) -> Option<Self> {
        let frame = frame?;
        let cloud = PointCloud::from_points(frame.points.clone());
        let extent = scene::extent(&cloud) * frame.scale as f64;
        (extent.is_finite() && extent > 0.0).then_some(Self { extent, units })
    }
}

/// What the intake did to one scan, for reports (`predictions.json`, the service).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntakeSummary {
    /// Points in the file.
    pub file_points: usize,
    /// Dropped as invalid (NaN / infinite coordinates, (0, 0, 0) pixels).
    pub invalid_points: usize,
    /// Removed as background (outside the crop box, support plane, other objects).
    pub background_points: usize,
    /// The unit conversion applied, e.g. "mm -> m (x 0.001)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// The support plane removed (scan coordinates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_plane: Option<Plane>,
}

/// A scan made ready: the part's points and the way back to the file's order.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The file's valid points, in its own coordinates (what heatmaps show).
    pub valid: PointCloud,
    /// The part's points in the file's own coordinates (regions are reported in them).
    pub part: PointCloud,
    /// Multiply the part's coordinates by this to get the template's units.
    pub to_template: f64,
    /// For each part point, its index in `valid`.
    part_in_valid: Vec<u32>,
    /// For each valid point, its index in the file.
    valid_in_file: Vec<u32>,
    pub summary: IntakeSummary,
}

impl Intake {
    /// The part's points in the template's units, ready to be placed.
    pub fn part_in_template_units(&self) -> PointCloud {
        let mut cloud = self.part.clone();
        if self.to_template != 1.0 {
            scene::units::scale(&mut cloud, self.to_template);
        }
        cloud
    }

    /// Part scores spread over the valid points (NaN for background).
    pub fn to_valid_order(&self, part_scores: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.valid.points.len()];
        for (&i, &s) in self.part_in_valid.iter().zip(part_scores) {
            out[i as usize] = s;
        }
        out
    }

    /// Part scores in the file's point order, NaN for every dropped or removed point.
    pub fn to_file_order(&self, part_scores: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.summary.file_points];
        for (&i, &s) in self.part_in_valid.iter().zip(part_scores) {
            out[self.valid_in_file[i as usize] as usize] = s;
        }
        out
    }
}

/// Prepare `scan` for a detector whose template is `template` (None: the detector
/// records none, so units and background can only follow explicit options). `judge`
/// tells the part from clutter by its fit to the template ([`choose_by_fit`]).
pub fn intake(
    scan: Scan,
    template: Option<TemplateSize>,
    opts: &IntakeOptions,
    judge: Option<&dyn PartJudge>,
) -> anyhow::Result<Intake> {
    let Scan {
        cloud: valid,
        dropped,
        units: file_units,
        ..
    } = scan;
    if valid.is_empty() {
        anyhow::bail!(
            "no valid points ({} in the file, {} invalid)",
            dropped.total,
            dropped.dropped()
        );
    }
    let mut summary = IntakeSummary {
        file_points: dropped.total,
        invalid_points: dropped.dropped(),
        ..Default::default()
    };
    let declared = match opts.units {
        UnitsArg::Declared(u) => u,
        _ => file_units,
    };
    let (mut to_template, settled) =
        units_factor(&valid, template, declared, opts.units, &mut summary)?;

    let wanted = opts.crop.is_some()
        || match opts.background {
            BackgroundMode::On => true,
            BackgroundMode::Off => false,
            BackgroundMode::Auto => template.is_some_and(|t| {
                scene::extent(&valid) * to_template > BACKGROUND_TRIGGER * t.extent
            }),
        };
    let (part, part_in_valid) = if wanted {
        let split = SceneSplit::new(
            &valid,
            &BackgroundConfig {
                crop: opts.crop,
                ..BackgroundConfig::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("removing the background: {e}"))?;
        // Clutter makes the whole scan's size say nothing about its units: when they
        // are not settled every unit change is a hypothesis, "same units" first.
        let hypotheses = match template {
            Some(t) if !settled => unit_changes(t.units),
            _ => vec![(to_template, None)],
        };
        let by_fit = match judge {
            Some(judge) => choose_by_fit(&split, template, settled, &hypotheses, judge)?,
            None => None,
        };
        let Some(Chosen {
            factor,
            change,
            part,
            report,
        }) = by_fit.or(choose_by_size(&split, template, settled, &hypotheses)?)
        else {
            anyhow::bail!("background removal found no part");
        };
        if let Some((from, to)) = change {
            if opts.units == UnitsArg::Check {
                anyhow::bail!(
                    "after removing the background, the part is {factor}x the template's \
                     size: it looks like {from} while the template is in {to}; convert the \
                     scan to {to}, say its units (--units {from}), or pass --units auto"
                );
            }
            summary.units = Some(format!(
                "{from} -> {to} (x {factor}, from the part's size after background removal)"
            ));
            to_template = factor;
        }
        summary.background_points = report.removed.len();
        summary.support_plane = report.plane;
        (part, report.kept)
    } else {
        let n = valid.points.len() as u32;
        (valid.clone(), (0..n).collect())
    };
    Ok(Intake {
        valid,
        part,
        to_template,
        part_in_valid,
        valid_in_file: dropped.kept,
        summary,
    })
}

fn scaled(points: Vec<[f32; 3]>, factor: f64) -> Vec<[f32; 3]> {
    if factor == 1.0 {
        return points;
    }
    let f = factor as f32;
    points.into_iter().map(|p| p.map(|v| v * f)).collect()
}

/// Size misfit `|ln(template size / part size)|` of a part `extent` (scan units) under
/// `factor`.
fn misfit(template: Option<TemplateSize>, extent: f64, factor: f64) -> f64 {
    template.map_or(0.0, |t| {
        (t.extent / (extent * factor).max(f64::MIN_POSITIVE))
            .ln()
            .abs()
    })
}

/// Whether a part of size misfit `m` is plausible under a hypothesis (always, when the
/// units are settled).
fn plausible(m: f64, settled: bool, change: Option<(Units, Units)>) -> bool {
    let tolerance = if change.is_none() {
        SIZE_TOLERANCE
    } else {
        CHANGE_TOLERANCE
    };
    settled || m <= tolerance.ln()
}

/// The part by its fit to the template: under each hypothesis the
/// [`MAX_CANDIDATES`] components closest to the template's size are registered and
/// the best fit wins (registered first, then fitness × coverage × the share of the posed
/// template the scanner did not see through, then size); the other pieces that lie on
/// the template in that pose join it. When no candidate is confident, the best
/// [`PAIRED`] well-fitting candidates are also registered in pairs: a part a defect cut
/// in two registers as a whole only together. `None` when no component is plausible or
/// the judge does not register.
fn choose_by_fit(
    split: &SceneSplit<'_>,
    template: Option<TemplateSize>,
    settled: bool,
    hypotheses: &[Hypothesis],
    judge: &dyn PartJudge,
) -> anyhow::Result<Option<Chosen>> {
    let mut best: Option<Judged> = None;
    // A look-alike piece of clutter can fit the template as well as the part does; the
    // pose it implies puts the rest of the part where the scanner saw the table or
    // something behind it.
    let view = split.scan_direction();
    'hypotheses: for &(factor, change) in hypotheses {
        let expected = template.map(|t| (t.extent / factor) as f32);
        let pieces = Pieces {
            split,
            factor,
            change,
            scene: view.map(|v| (scaled(split.scene_points().to_vec(), factor), v)),
        };
        // Registered candidates that lie on the template, best first, for the pairs.
        let mut fitting: Vec<(f64, usize)> = Vec::new();
        for k in split.ranked(expected).into_iter().take(MAX_CANDIDATES) {
            let extent = split.component_extent(k) as f64;
            let ratio = template.map_or(1.0, |t| extent * factor / t.extent);
            if !(settled || (VIEW_RATIO.0..=VIEW_RATIO.1).contains(&ratio)) {
                continue;
            }
            let Some(judged) = pieces.judge(judge, &[k], template)? else {
                return Ok(None);
            };
            let (registered, score) = judged.key;
            if registered {
                fitting.push((score, k));
            }
            offer(&mut best, judged);
            if registered && score >= CONFIDENT_FIT {
                // The scan lies on the template and shows what it should: nothing
                // else can fit better by much, and each registration costs.
                break 'hypotheses;
            }
        }
        fitting.sort_by(|a, b| b.0.total_cmp(&a.0));
        fitting.truncate(PAIRED);
        for (i, &(_, a)) in fitting.iter().enumerate() {
            for &(_, b) in &fitting[i + 1..] {
                let Some(judged) = pieces.judge(judge, &[a, b], template)? else {
                    return Ok(None);
                };
                offer(&mut best, judged);
            }
        }
    }
    let Some(best) = best else {
        return Ok(None);
    };
    if best.key == (false, 0.0) {
        // Nothing registered at all: no shape to go by.
        return Ok(None);
    }
    let (factor, change) = best.hypothesis;
    let (part, report) = split.part_of(&best.members);
    Ok(Some(Chosen {
        factor,
        change,
        part,
        report,
    }))
}

/// Well-fitting candidates registered in pairs when none is confident (3 pairs).
const PAIRED: usize = 3;

/// A candidate part registered and judged.
struct Judged {
    /// (registered, fitness × coverage × share not seen through).
    key: (bool, f64),
    /// Size misfit of the joined pieces (ties).
    misfit: f64,
    /// The components that make the part.
    members: Vec<usize>,
    hypothesis: Hypothesis,
}

/// Keep `judged` when it beats `best` (higher key, then smaller size misfit).
fn offer(best: &mut Option<Judged>, judged: Judged) {
    let better = best
        .as_ref()
        .is_none_or(|b| judged.key > b.key || (judged.key == b.key && judged.misfit < b.misfit));
    if better {
        *best = Some(judged);
    }
}

/// The components of one scene under one unit hypothesis, judged as candidate parts.
struct Pieces<'s, 'a> {
    split: &'s SceneSplit<'a>,
    factor: f64,
    change: Option<(Units, Units)>,
    /// The whole scene (template units) and the direction it was scanned from.
    scene: Option<(Vec<[f32; 3]>, [f32; 3])>,
}

impl Pieces<'_, '_> {
    fn piece(&self, k: usize) -> Vec<[f32; 3]> {
        scaled(self.split.component(k), self.factor)
    }

    fn union(&self, members: &[usize]) -> Vec<[f32; 3]> {
        members.iter().flat_map(|&k| self.piece(k)).collect()
    }

    /// Register the union of `seeds` and judge the pose: the pieces on the template in
    /// it join (the seed too, when there is one: a lone candidate is its own part), and
    /// the key is (registered, fitness × coverage of the joined pieces × the share of
    /// the posed template the scanner did not see through). `None` when the judge does
    /// not register; an unregistered key when no piece lies on the template.
    fn judge(
        &self,
        judge: &dyn PartJudge,
        seeds: &[usize],
        template: Option<TemplateSize>,
    ) -> anyhow::Result<Option<Judged>> {
        let Some(fit) = judge.fit(&self.union(seeds))? else {
            return Ok(None);
        };
        let lone = seeds.len() == 1;
        let mut members = Vec::new();
        let mut union = Vec::new();
        for j in 0..self.split.components() {
            let piece = self.piece(j);
            let seed = lone && seeds[0] == j;
            if seed || judge.on_template(&fit, &piece) >= ON_TEMPLATE {
                members.push(j);
                union.extend(piece);
            }
        }
        let key = if members.is_empty() {
            (false, 0.0)
        } else {
            let coverage = judge.coverage(&fit, &union) as f64;
            let seen = self.scene.as_ref().map_or(0.0, |(scene, view)| {
                judge.seen_through(&fit, scene, *view) as f64
            });
            let score = fit.registration.fitness as f64 * coverage * (1.0 - seen);
            (fit.registered, score)
        };
        Ok(Some(Judged {
            key,
            misfit: misfit(template, extent_of(&union) / self.factor, self.factor),
            members,
            hypothesis: (self.factor, self.change),
        }))
    }
}

/// The part by its size, for a detector that does not register (nothing to judge a
/// shape by): "same units" when its best size match is plausible, else the largest
/// plausible part of a unit change (the object the scanner was pointed at: a
/// distractor a tenth of the part's size can look right under cm -> m), else the best
/// "same units" match.
fn choose_by_size(
    split: &SceneSplit<'_>,
    template: Option<TemplateSize>,
    settled: bool,
    hypotheses: &[Hypothesis],
) -> anyhow::Result<Option<Chosen>> {
    let mut same_units: Option<Chosen> = None;
    let mut best: Option<Chosen> = None;
    for &(factor, change) in hypotheses {
        let expected = template.map(|t| (t.extent / factor) as f32);
        let Some((part, report)) = split
            .candidates(expected, 1)
            .map_err(|e| anyhow::anyhow!("removing the background: {e}"))?
            .into_iter()
            .next()
        else {
            continue;
        };
        let m = misfit(template, scene::extent(&part), factor);
        let ok = plausible(m, settled, change);
        let c = Chosen {
            factor,
            change,
            part,
            report,
        };
        if change.is_none() {
            if ok {
                return Ok(Some(c));
            }
            same_units = Some(c);
        } else if ok
            && best
                .as_ref()
                .is_none_or(|b| c.part.points.len() > b.part.points.len())
        {
            best = Some(c);
        }
    }
    Ok(best.or(same_units))
}

/// The factor that brings the scan into the template's units, after the `--units`
/// policy, and whether that is settled (known units on both sides, a size mismatch
/// found, or no template); records a conversion in `summary`.
fn units_factor(
    valid: &PointCloud,
    template: Option<TemplateSize>,
    declared: Units,
    policy: UnitsArg,
    summary: &mut IntakeSummary,
) -> anyhow::Result<(f64, bool)> {
    let Some(t) = template else {
        return Ok((1.0, true));
    };
    // Known on both sides: the definitions decide, not the sizes.
    if let Some(factor) = declared.factor_to(t.units) {
        if factor != 1.0 {
            summary.units = Some(format!("{declared} -> {} (x {factor})", t.units));
        }
        return Ok((factor, true));
    }
    let Some(m) = detect_scale_mismatch(t.extent, scene::extent(valid), t.units) else {
        return Ok((1.0, false));
    };
    match policy {
        UnitsArg::Check => anyhow::bail!(
            "{m}; convert the scan to {}, say its units (--units {}), or pass --units auto",
            m.to,
            m.from
        ),
        UnitsArg::Auto | UnitsArg::Declared(_) => {
            summary.units = Some(format!(
                "{} -> {} (x {}, from the scan's size)",
                m.from, m.to, m.factor
            ));
            Ok((m.factor, true))
        }
    }
}

/// "Same units" first, then every change of known units into `to` (into any known
/// unit when `to` is unknown): `(factor, Some((from, to)))`.
fn unit_changes(to: Units) -> Vec<(f64, Option<(Units, Units)>)> {
    let mut out = vec![(1.0, None)];
    for from in KNOWN_UNITS {
        for into in KNOWN_UNITS {
            if from == into || (to != Units::Unknown && into != to) {
                continue;
            }
            if let Some(f) = from.factor_to(into) {
                out.push((f, Some((from, into))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use po3ad_core::scene::DroppedPoints;

    fn scan(points: Vec<[f32; 3]>) -> Scan {
        let n = points.len();
        Scan {
            cloud: PointCloud::from_points(points),
            dropped: DroppedPoints::none(n),
            units: Units::Unknown,
            format: "test".into(),
        }
    }

    /// A 10 × 10 grid of a 0.1-unit square, in the z = 0 plane.
    fn square(side: f32) -> Vec<[f32; 3]> {
        (0..100)
            .map(|i| {
                [
                    (i % 10) as f32 * side / 9.0,
                    (i / 10) as f32 * side / 9.0,
                    0.0,
                ]
            })
            .collect()
    }

    #[test]
    fn units_arg_parses() {
        assert_eq!("check".parse::<UnitsArg>(), Ok(UnitsArg::Check));
        assert_eq!("AUTO".parse::<UnitsArg>(), Ok(UnitsArg::Auto));
        assert_eq!(
            "mm".parse::<UnitsArg>(),
            Ok(UnitsArg::Declared(Units::Millimeters))
        );
        assert!("furlong".parse::<UnitsArg>().is_err());
        assert!("unknown".parse::<UnitsArg>().is_err());
    }

    #[test]
    fn a_mm_scan_of_an_m_template_is_refused_or_converted() {
        let template = TemplateSize {
            extent: 0.1 * 2f64.sqrt(),
            units: Units::Meters,
        };
        let mm = || scan(square(100.0));
        let e = intake(mm(), Some(template), &IntakeOptions::default(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mm") && e.contains(" m ") && e.contains("--units auto"),
            "{e}"
        );
        let auto = IntakeOptions {
            units: UnitsArg::Auto,
            ..Default::default()
        };
        let got = intake(mm(), Some(template), &auto, None).unwrap();
        assert_eq!(got.to_template, 0.001);
        let part = got.part_in_template_units();
        assert!((part.points[99][0] - 0.1).abs() < 1e-6);
        assert!(got.summary.units.as_deref().unwrap().starts_with("mm -> m"));
        // Declared units convert by definition, whatever the size.
        let declared = IntakeOptions {
            units: UnitsArg::Declared(Units::Millimeters),
            ..Default::default()
        };
        assert_eq!(
            intake(mm(), Some(template), &declared, None)
                .unwrap()
                .to_template,
            0.001
        );
        // Same units: nothing to do.
        let m = intake(
            scan(square(0.1)),
            Some(template),
            &IntakeOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!((m.to_template, m.summary.units), (1.0, None));
    }

    #[test]
    fn scores_go_back_to_the_file_order_with_nan_for_dropped_points() {
        // File: 4 points, the second invalid; background keeps valid points 0 and 2.
        let got = Intake {
            valid: PointCloud::from_points(vec![[0.0; 3], [1.0; 3], [2.0; 3]]),
            part: PointCloud::from_points(vec![[0.0; 3], [2.0; 3]]),
            to_template: 1.0,
            part_in_valid: vec![0, 2],
            valid_in_file: vec![0, 2, 3],
            summary: IntakeSummary {
                file_points: 4,
                invalid_points: 1,
                background_points: 1,
                ..Default::default()
            },
        };
        let file = got.to_file_order(&[0.5, 0.7]);
        assert_eq!(file[0], 0.5);
        assert!(file[1].is_nan() && file[2].is_nan());
        assert_eq!(file[3], 0.7);
        let valid = got.to_valid_order(&[0.5, 0.7]);
        assert_eq!((valid[0], valid[2]), (0.5, 0.7));
        assert!(valid[1].is_nan());
    }

    /// Points on a regular grid over the box `x × y × z`.
    fn grid(x: (f32, f32), y: (f32, f32), z: (f32, f32), step: f32) -> Vec<[f32; 3]> {
        let n = |r: (f32, f32)| ((r.1 - r.0) / step).round() as usize + 1;
        let mut out = Vec::new();
        for i in 0..n(x) {
            for j in 0..n(y) {
                for k in 0..n(z) {
                    out.push([
                        x.0 + i as f32 * step,
                        y.0 + j as f32 * step,
                        z.0 + k as f32 * step,
                    ]);
                }
            }
        }
        out
    }

    /// A table (z = 0); the part at x < 0 in two pieces (z 0.3–1.1 and 1.3–1.5); a block
    /// at x = 1 (a fixture or a distractor); a template of extent 1.6; background
    /// removal on. Returns the points, the part's point count, the template, the options.
    fn two_pieces_and_a_block() -> (Vec<[f32; 3]>, usize, TemplateSize, IntakeOptions) {
        let table = grid((-3.0, 3.0), (-3.0, 3.0), (0.0, 0.0), 0.1);
        let piece_a = grid((-1.0, -0.2), (0.0, 0.0), (0.3, 1.1), 0.05);
        let piece_b = grid((-1.0, -0.2), (0.0, 0.0), (1.3, 1.5), 0.05);
        let block = grid((1.0, 1.0), (-0.8, 0.8), (0.3, 0.6), 0.05);
        let part_points = piece_a.len() + piece_b.len();
        let template = TemplateSize {
            extent: 1.6,
            units: Units::Unknown,
        };
        let opts = IntakeOptions {
            background: BackgroundMode::On,
            ..Default::default()
        };
        (
            [table, piece_a, piece_b, block].concat(),
            part_points,
            template,
            opts,
        )
    }

    #[test]
    fn a_part_a_defect_cut_in_two_is_registered_whole() {
        // The part (x < 0) fell into two pieces; a distractor (x > 0.5) fits the template
        // as well as either piece does and shows more of it than the larger piece, but
        // posed on it the part would float where the scanner saw the table.
        let (points, part_points, template, opts) = two_pieces_and_a_block();

        /// Every candidate fits the template; a piece lies on it only in the pose of a
        /// registration that included it (a lone piece's pose is its own).
        struct Pieces {
            part_points: usize,
            last: std::cell::RefCell<Vec<[f32; 3]>>,
        }
        impl PartJudge for Pieces {
            fn fit(&self, points: &[[f32; 3]]) -> anyhow::Result<Option<PartFit>> {
                *self.last.borrow_mut() = points.to_vec();
                let mut registration = Registration::identity();
                registration.fitness = 1.0;
                Ok(Some(PartFit {
                    registered: true,
                    registration,
                }))
            }
            fn on_template(&self, _: &PartFit, points: &[[f32; 3]]) -> f32 {
                let last = self.last.borrow();
                let on = points.iter().filter(|p| last.contains(p)).count();
                on as f32 / points.len().max(1) as f32
            }
            fn coverage(&self, _: &PartFit, points: &[[f32; 3]]) -> f32 {
                if points.iter().any(|p| p[0] > 0.5) {
                    return 0.7;
                }
                points.len() as f32 / self.part_points as f32
            }
            fn seen_through(&self, _: &PartFit, _: &[[f32; 3]], _: [f32; 3]) -> f32 {
                if self.last.borrow().iter().any(|p| p[0] > 0.5) {
                    0.4
                } else {
                    0.0
                }
            }
        }
        let judge = Pieces {
            part_points,
            last: Default::default(),
        };
        let chosen = intake(scan(points), Some(template), &opts, Some(&judge)).unwrap();
        assert_eq!(chosen.part.points.len(), part_points);
        assert!(chosen.part.points.iter().all(|p| p[0] < 0.0));
    }

    /// A part seen in two pieces (a self-occlusion splits it) beside a fixture whose
    /// size is closer to the template's than either piece: the size rule takes the
    /// fixture, the judge (here a stand-in that knows the part is at x < 0) takes both
    /// pieces and nothing else.
    #[test]
    fn the_judge_takes_the_part_where_the_size_rule_takes_the_fixture() {
        let (points, part_points, template, opts) = two_pieces_and_a_block();

        struct Knows(usize);
        fn share(points: &[[f32; 3]]) -> f64 {
            points.iter().filter(|p| p[0] < 0.0).count() as f64 / points.len().max(1) as f64
        }
        impl PartJudge for Knows {
            fn fit(&self, points: &[[f32; 3]]) -> anyhow::Result<Option<PartFit>> {
                let mut registration = Registration::identity();
                registration.fitness = share(points) as f32;
                registration.coverage = registration.fitness;
                Ok(Some(PartFit {
                    registered: registration.fitness > 0.9,
                    registration,
                }))
            }
            fn on_template(&self, _: &PartFit, points: &[[f32; 3]]) -> f32 {
                share(points) as f32
            }
            fn seen_through(&self, _: &PartFit, _: &[[f32; 3]], _: [f32; 3]) -> f32 {
                0.0
            }
            fn coverage(&self, _: &PartFit, points: &[[f32; 3]]) -> f32 {
                points.iter().filter(|p| p[0] < 0.0).count() as f32 / self.0 as f32
            }
        }

        let by_size = intake(scan(points.clone()), Some(template), &opts, None).unwrap();
        assert!(
            by_size.part.points.iter().all(|p| p[0] > 0.5),
            "the size rule's pick"
        );
        let judge = Knows(part_points);
        let by_fit = intake(scan(points), Some(template), &opts, Some(&judge)).unwrap();
        assert_eq!(by_fit.part.points.len(), part_points);
        assert!(by_fit.part.points.iter().all(|p| p[0] < 0.0));
    }

    #[test]
    fn a_part_alone_keeps_every_point_under_auto_background() {
        let template = TemplateSize {
            extent: 0.1 * 2f64.sqrt(),
            units: Units::Unknown,
        };
        let got = intake(
            scan(square(0.1)),
            Some(template),
            &IntakeOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!(got.part.points.len(), 100);
        assert_eq!(got.summary.background_points, 0);
    }
}
