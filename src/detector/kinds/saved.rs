//! What the kinds that save one JSON file share: reading it with a message that names
//! the file and what it should have been, the format/version check, and the settings
//! list built from a serializable config.

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// The `format` and `version` fields every saved detector file starts with.
pub struct Header<'a> {
    pub format: &'a str,
    pub version: u32,
}

/// A saved file's `format` and `version` fields ([`versioned!`] implements it for a
/// struct that has both).
pub trait Versioned {
    fn header(&self) -> Header<'_>;
}

/// `impl Versioned` for a struct with `format: String` and `version: u32` fields.
macro_rules! versioned {
    ($t:ty) => {
        impl $crate::detector::kinds::saved::Versioned for $t {
            fn header(&self) -> $crate::detector::kinds::saved::Header<'_> {
                $crate::detector::kinds::saved::Header {
                    format: &self.format,
                    version: self.version,
                }
            }
        }
    };
}
pub(crate) use versioned;

/// Read `path` as a `what` file (e.g. "surface detector") of format `format`, version
/// `version`.
pub fn read_json<T: DeserializeOwned + Versioned>(
    path: &Path,
    what: &str,
    format: &str,
    version: u32,
) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let saved: T = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a {what} file ({e})", path.display()))?;
    let got = saved.header();
    if got.format != format || got.version != version {
        anyhow::bail!(
            "{}: format '{}' version {}, expected '{format}' version {version}",
            path.display(),
            got.format,
            got.version,
        );
    }
    Ok(saved)
}

/// A config's fields as `(name, JSON value)` pairs, for `Scorer::settings`.
pub fn settings_of<T: Serialize>(config: &T) -> Vec<(String, String)> {
    let value = serde_json::to_value(config).unwrap_or_default();
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default()
}
