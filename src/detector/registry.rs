//! The detector kinds this build knows, and what each one provides.
//!
//! Adding a kind: write `kinds/<name>.rs` with a `pub const KIND: KindSpec` (its `fit`
//! writes the model folder's files, its `load` returns a [`Scorer`]), then add `mod`
//! and one entry to [`KINDS`] in this file. `--detector` in every command, the model
//! folder's `detector.json`, the service and Python then know it.

use super::kinds;
use super::scorer::Scorer;
use crate::device::DeviceArg;
use crate::train::{FitHooks, Preset};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub use kinds::po3ad::TestOverrides;

/// Every registered kind, the network (`po3ad`) first.
pub const KINDS: &[&KindSpec] = &[
    &kinds::po3ad::KIND,
    &kinds::nearest::KIND,
    &kinds::curvature::KIND,
    &kinds::surface::KIND,
    &kinds::membank::BTF_RAW,
    &kinds::membank::BTF_FPFH,
    &kinds::membank::PATCHCORE,
    &kinds::membank::REGBANK,
];

/// One detector kind.
pub struct KindSpec {
    /// The name used by `--detector`, `detector.json` and calibration entries.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The file that marks an older model folder (saved before `detector.json`) as this
    /// kind; empty when the kind never had one.
    pub marker_file: &'static str,
    /// Whether `fit` reads `--settings` (a TOML file of the kind's config fields).
    pub takes_settings: bool,
    /// Build the detector from training files into `req.out`.
    pub fit: fn(FitRequest<'_>) -> anyhow::Result<FitOutcome>,
    /// The scorer saved in a model folder.
    pub load: fn(&LoadRequest<'_>) -> anyhow::Result<Box<dyn Scorer + Send>>,
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for KindSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// What a kind's `fit` gets.
pub struct FitRequest<'a> {
    pub files: &'a [PathBuf],
    pub out: &'a Path,
    /// The training preset (only PO3AD reads it).
    pub preset: &'a Preset,
    /// Continue from `out/checkpoint.po3ad` (PO3AD).
    pub resume: bool,
    /// The part's name, for messages.
    pub category: &'a str,
    pub device: DeviceArg,
    pub hooks: FitHooks<'a>,
    /// The kind's settings (`--settings FILE`); None = the kind's defaults.
    pub settings: Option<&'a KindSettings>,
}

/// A training-free kind's settings from a TOML file (`--settings FILE`): a table of the
/// fields of the kind's config (e.g. `SurfaceConfig`, `BankConfig`), the rest default.
/// Recorded in `detector.json` like the defaults.
#[derive(Debug, Clone)]
pub struct KindSettings {
    pub path: PathBuf,
    pub table: serde_json::Value,
}

impl KindSettings {
    /// Read `path` as a TOML table.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading settings {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// `text` (TOML) as the settings of file `path` (named in messages).
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("settings {}: not TOML ({e})", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            table: serde_json::to_value(table)?,
        })
    }
}

impl FitRequest<'_> {
    /// The kind's config: `T`'s defaults, with the settings file's fields over them,
    /// passed through `check` (the config's own range checks). A field `T` does not
    /// have, or a value `check` refuses, is an error naming the file and the kind.
    pub fn settings_or_default<T, E>(
        &self,
        kind: &str,
        check: impl Fn(&T) -> Result<(), E>,
    ) -> anyhow::Result<T>
    where
        T: serde::de::DeserializeOwned + Default,
        E: std::fmt::Display,
    {
        let Some(s) = self.settings else {
            return Ok(T::default());
        };
        let bad = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "settings {}: not valid for --detector {kind} ({e})",
                s.path.display()
            )
        };
        let cfg: T = serde_json::from_value(s.table.clone()).map_err(|e| bad(&e))?;
        check(&cfg).map_err(|e| bad(&e))?;
        Ok(cfg)
    }
}

/// What a kind's `fit` returns besides the files it wrote.
pub struct FitOutcome {
    /// The settings recorded in `detector.json`.
    pub settings: serde_json::Value,
    /// The folder's files by role (`weights`, `reference`), for `detector.json`.
    pub files: Vec<(&'static str, String)>,
    /// The training frame's origin and scale (None for pose-free kinds).
    pub frame: Option<super::manifest::FrameSummary>,
    /// One line for the terminal.
    pub summary: String,
}

/// What a kind's `load` gets.
pub struct LoadRequest<'a> {
    /// The model folder.
    pub dir: &'a Path,
    /// The kind's main file: the one named on the command line, or the folder's
    /// `marker_file`.
    pub file: PathBuf,
    pub device: DeviceArg,
    /// Test-time overrides of a PO3AD preset (ignored by the other kinds).
    pub overrides: TestOverrides,
}

/// The kind called `name`.
pub fn kind(name: &str) -> anyhow::Result<&'static KindSpec> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "unknown detector '{name}' (available: {})",
                names().join(", ")
            )
        })
}

/// The registered names, in [`KINDS`] order.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// The kind `train` and `benchmark` build when none is named and no PO3AD option is
/// given: the best measured pipeline on every dev-benchmark track, full and one-sided,
/// aligned and free pose, object and point level (notes/detectors.md, "Session 9"). It
/// is training-free, so the default fits a part in seconds on any machine.
pub const DEFAULT_KIND: &KindSpec = &kinds::surface::KIND;

/// The kind to build: the one named; else `po3ad` when an option only the network
/// reads was given (`po3ad_options` names them: a preset, epochs, a GPU, ...); else
/// [`DEFAULT_KIND`]. Naming another kind together with such an option is an error, not
/// an option silently dropped.
pub fn choose_kind(
    named: Option<&'static KindSpec>,
    po3ad_options: &[&str],
) -> anyhow::Result<&'static KindSpec> {
    let network = &kinds::po3ad::KIND;
    match named {
        Some(k) if k != network && !po3ad_options.is_empty() => anyhow::bail!(
            "{} only appl{} to --detector po3ad, not to --detector {} (leave {} out, or \
             name --detector po3ad)",
            po3ad_options.join(", "),
            if po3ad_options.len() == 1 { "ies" } else { "y" },
            k.name,
            if po3ad_options.len() == 1 {
                "it"
            } else {
                "them"
            },
        ),
        Some(k) => Ok(k),
        None if po3ad_options.is_empty() => Ok(DEFAULT_KIND),
        None => Ok(network),
    }
}

/// `--detector KIND`: a clap parser that lists every registered kind.
pub fn kind_parser() -> impl clap::builder::TypedValueParser<Value = &'static KindSpec> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(
        KINDS
            .iter()
            .map(|k| clap::builder::PossibleValue::new(k.name).help(k.about)),
    )
    .try_map(|name: String| kind(&name).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_surface_and_a_network_option_picks_po3ad() {
        assert_eq!(choose_kind(None, &[]).unwrap().name, "surface");
        assert_eq!(choose_kind(None, &["--preset"]).unwrap().name, "po3ad");
        let nearest = kind("nearest").unwrap();
        assert_eq!(choose_kind(Some(nearest), &[]).unwrap().name, "nearest");
        let po3ad = kind("po3ad").unwrap();
        assert_eq!(
            choose_kind(Some(po3ad), &["--epochs"]).unwrap().name,
            "po3ad"
        );
        let err = choose_kind(Some(nearest), &["--preset", "--epochs"]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--preset, --epochs only apply to --detector po3ad"),
            "{msg}"
        );
        assert!(msg.contains("--detector nearest"), "{msg}");
    }
}
