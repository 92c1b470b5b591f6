//! The memory-bank kinds, the PO3AD paper's comparison methods that need no pretrained
//! network ([`po3ad_core::membank`]): `btf-raw` (positions), `btf-fpfh` (FPFH),
//! `patchcore` (FPFH, greedy coreset, re-weighted) and `reg-bank` (position + FPFH, a
//! descriptor compared only with bank entries near the same place). All are built from
//! the training clouds in the training frame. Under `--frame auto`, scans are
//! registered onto it for BTF-Raw and RegBank (they compare positions) and only moved
//! into its units for BTF-FPFH and PatchCore (`fixed`: FPFH does not depend on the pose,
//! but its radii are training-frame lengths).
//!
//! Folder: `membank.json` (kind, settings, training frame, the bank).

use super::nearest::{training_clouds, NearestConfig};
use super::saved::{read_json, settings_of, versioned};
use crate::detector::placement::FrameNeed;
use crate::detector::registry::{FitOutcome, FitRequest, KindSpec, LoadRequest};
use crate::detector::scorer::{Scored, Scorer};
use anyhow::Context;
use po3ad_core::frame::TrainingFrame;
use po3ad_core::membank::{BankConfig, BtfFpfh, BtfRaw, PatchCore, RegBank};
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::{io, PointCloud};
use serde::{Deserialize, Serialize};

pub const MEMBANK_FILE: &str = "membank.json";
const FORMAT: &str = "po3ad-membank";
const FORMAT_VERSION: u32 = 1;

macro_rules! bank_kind {
    ($const:ident, $name:literal, $about:literal, $fit:ident) => {
        pub const $const: KindSpec = KindSpec {
            name: $name,
            about: $about,
            marker_file: "",
            takes_settings: true,
            fit: $fit,
            load,
        };
        fn $fit(req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
            fit_bank($name, req)
        }
    };
}

bank_kind!(
    BTF_RAW,
    "btf-raw",
    "BTF with raw coordinates: distance to the nearest training point of a thinned bank (training-free)",
    fit_btf_raw
);
bank_kind!(
    BTF_FPFH,
    "btf-fpfh",
    "BTF with FPFH descriptors: distance to the nearest training descriptor (training-free)",
    fit_btf_fpfh
);
bank_kind!(
    PATCHCORE,
    "patchcore",
    "PatchCore on FPFH descriptors: greedy coreset bank, re-weighted object score (training-free)",
    fit_patchcore
);
bank_kind!(
    REGBANK,
    "reg-bank",
    "registration + memory bank: FPFH compared with bank entries near the same place (training-free)",
    fit_regbank
);

/// One fitted bank of any of the four kinds.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Bank {
    BtfRaw(BtfRaw),
    BtfFpfh(BtfFpfh),
    PatchCore(PatchCore),
    RegBank(RegBank),
}

impl Bank {
    fn fit(kind: &str, clouds: &[PointCloud], cfg: &BankConfig) -> anyhow::Result<Self> {
        Ok(match kind {
            "btf-raw" => Bank::BtfRaw(BtfRaw::fit(clouds, cfg)?),
            "btf-fpfh" => Bank::BtfFpfh(BtfFpfh::fit(clouds, cfg)?),
            "patchcore" => Bank::PatchCore(PatchCore::fit(clouds, cfg)?),
            "reg-bank" => Bank::RegBank(RegBank::fit(clouds, cfg)?),
            other => anyhow::bail!("no memory bank called '{other}'"),
        })
    }

    fn score(&self, scan: &[[f32; 3]]) -> anyhow::Result<(Vec<f32>, f32)> {
        Ok(match self {
            Bank::BtfRaw(b) => b.score(scan)?,
            Bank::BtfFpfh(b) => b.score(scan)?,
            Bank::PatchCore(b) => b.score(scan)?,
            Bank::RegBank(b) => b.score(scan)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    format: String,
    version: u32,
    kind: String,
    config: BankConfig,
    frame: TrainingFrame,
    sources: Vec<String>,
    bank: Bank,
}
versioned!(Saved);

/// A memory-bank detector in the training frame.
pub struct BankDetector {
    kind: &'static str,
    config: BankConfig,
    frame: TrainingFrame,
    bank: Bank,
}

fn fit_bank(kind: &'static str, req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
    let t0 = std::time::Instant::now();
    let config: BankConfig = req.settings_or_default(kind, BankConfig::validate)?;
    let (frame, clouds) = training_clouds(
        req.files,
        &NearestConfig::default(),
        &RegistrationConfig::default(),
    )?;
    let bank =
        Bank::fit(kind, &clouds, &config).with_context(|| format!("building the {kind} bank"))?;
    let saved = Saved {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        kind: kind.into(),
        config: config.clone(),
        frame: frame.clone(),
        sources: req.files.iter().map(|f| f.display().to_string()).collect(),
        bank,
    };
    let path = req.out.join(MEMBANK_FILE);
    io::atomic::write_atomic(&path, &serde_json::to_vec(&saved)?)?;
    Ok(FitOutcome {
        settings: serde_json::to_value(&config)?,
        files: vec![("bank", MEMBANK_FILE.to_string())],
        frame: Some((&frame).into()),
        summary: format!(
            "built {kind} detector '{}' from {} file(s) in {:.1} s; model: {}",
            req.category,
            req.files.len(),
            t0.elapsed().as_secs_f64(),
            path.display()
        ),
    })
}

fn load(req: &LoadRequest<'_>) -> anyhow::Result<Box<dyn Scorer + Send>> {
    let path = if req.file.is_dir() || req.file.file_name().is_none_or(|n| n != MEMBANK_FILE) {
        req.dir.join(MEMBANK_FILE)
    } else {
        req.file.clone()
    };
    let saved: Saved = read_json(&path, "memory-bank detector", FORMAT, FORMAT_VERSION)?;
    let kind = crate::detector::kind(&saved.kind)
        .with_context(|| path.display().to_string())?
        .name;
    saved
        .frame
        .validate()
        .with_context(|| path.display().to_string())?;
    Ok(Box::new(BankDetector {
        kind,
        config: saved.config,
        frame: saved.frame,
        bank: saved.bank,
    }))
}

impl Scorer for BankDetector {
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(self.score(clouds)?.into_iter().map(|s| s.points).collect())
    }

    /// The bank's own rule (the largest point score by default).
    fn object_score(&self, point_scores: &[f32]) -> f64 {
        self.config.object.apply(point_scores) as f64
    }

    fn score(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Scored>> {
        clouds
            .iter()
            .map(|c| {
                let (points, object) = self.bank.score(&c.points)?;
                Ok(Scored {
                    points,
                    object: object as f64,
                })
            })
            .collect()
    }

    fn name(&self) -> &str {
        self.kind
    }

    /// BTF-Raw and RegBank compare positions; BTF-FPFH and PatchCore compare FPFH
    /// descriptors, rotation- and shift-invariant, but their radii are lengths in the
    /// training frame.
    fn frame_need(&self) -> FrameNeed {
        match self.bank {
            Bank::BtfRaw(_) | Bank::RegBank(_) => FrameNeed::Pose,
            Bank::BtfFpfh(_) | Bank::PatchCore(_) => FrameNeed::Units,
        }
    }

    fn frame(&self) -> Option<&TrainingFrame> {
        Some(&self.frame)
    }

    fn scoring(&self) -> String {
        format!("{} object_score={:?}", self.kind, self.config.object)
    }

    fn settings(&self) -> Vec<(String, String)> {
        settings_of(&self.config)
    }
}
