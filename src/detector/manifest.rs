//! `detector.json`: the small manifest of a model folder — which kind it holds, the
//! settings it was built with, its units and training frame, which files play which
//! role, and which po3ad wrote it. Folders written before manifests existed are
//! recognised by their files (`model.po3ad`, `nearest.json`) and load as before.

use super::registry::{kind, KindSpec, KINDS};
use po3ad_core::frame::TrainingFrame;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const MANIFEST_FILE: &str = "detector.json";
const FORMAT: &str = "po3ad-detector";
pub const FORMAT_VERSION: u32 = 1;

/// Origin and scale of the training frame (the full frame, with its template points,
/// stays in the kind's own files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameSummary {
    pub origin: [f32; 3],
    pub scale: f32,
}

impl From<&TrainingFrame> for FrameSummary {
    fn from(f: &TrainingFrame) -> Self {
        Self {
            origin: f.origin,
            scale: f.scale,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The registered kind (`po3ad`, `nearest`, ...).
    pub kind: String,
    /// The settings the detector was built with (kind-specific).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Units of the training data, as far as known (`unknown` until a reader says).
    #[serde(default = "unknown_units")]
    pub units: String,
    /// The training frame (null for pose-free kinds).
    #[serde(default)]
    pub frame: Option<FrameSummary>,
    /// The folder's files by role (`weights`, `reference`, ...).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Training files it was built from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// `po3ad <version> (<commit>)` that wrote it.
    #[serde(default)]
    pub created_by: String,
}

fn unknown_units() -> String {
    "unknown".into()
}

impl Manifest {
    pub fn new(kind: &KindSpec) -> Self {
        Self {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            kind: kind.name.into(),
            settings: serde_json::Value::Null,
            units: unknown_units(),
            frame: None,
            files: BTreeMap::new(),
            sources: Vec::new(),
            created_by: crate::version::long(),
        }
    }

    /// Write `dir/detector.json` atomically.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)? + "\n";
        po3ad_core::io::atomic::write_atomic(&dir.join(MANIFEST_FILE), json.as_bytes())?;
        Ok(())
    }

    /// `dir/detector.json`, or None when the folder has none (an older folder).
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!("{}: not a po3ad detector manifest ({e})", path.display())
        })?;
        if m.format != FORMAT {
            anyhow::bail!(
                "{}: format '{}', expected '{FORMAT}'",
                path.display(),
                m.format
            );
        }
        if m.version > FORMAT_VERSION {
            anyhow::bail!(
                "{}: manifest version {} was written by a newer po3ad ({}); this one reads \
                 version {FORMAT_VERSION} — upgrade po3ad",
                path.display(),
                m.version,
                m.created_by
            );
        }
        kind(&m.kind).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Some(m))
    }

    /// The manifest an older folder (no `detector.json`) would have: the kind whose
    /// marker file it holds, `preferred` first when given.
    pub fn infer(dir: &Path, preferred: Option<&KindSpec>) -> anyhow::Result<Self> {
        let candidates = preferred.into_iter().chain(KINDS.iter().copied());
        for k in candidates {
            if !k.marker_file.is_empty() && dir.join(k.marker_file).is_file() {
                let mut m = Self::new(k);
                m.created_by = "unknown (folder saved before detector.json)".into();
                m.files.insert("main".into(), k.marker_file.into());
                return Ok(m);
            }
        }
        let markers: Vec<String> = KINDS
            .iter()
            .filter(|k| !k.marker_file.is_empty())
            .map(|k| format!("{} ({})", k.marker_file, k.name))
            .collect();
        anyhow::bail!(
            "{}: no {MANIFEST_FILE} and none of {} in this folder: not a po3ad model folder \
             (train one with `po3ad train --out {}`)",
            dir.display(),
            markers.join(", "),
            dir.display()
        )
    }
}

/// Record `units` as the template's units in `dir/detector.json`.
pub fn set_units(dir: &Path, units: po3ad_core::scene::Units) -> anyhow::Result<()> {
    let mut m = Manifest::load(dir)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no {MANIFEST_FILE} to record the units in",
            dir.display()
        )
    })?;
    m.units = units.as_str().to_string();
    m.save(dir)
}
