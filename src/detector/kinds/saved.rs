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

/// Read `path` as a `what` file (e.g. "surface detector") of `expected`'s format and
/// version; `header` picks those fields out of the parsed value.
pub fn read_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    expected: Header<'_>,
    header: impl Fn(&T) -> Header<'_>,
) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let saved: T = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a {what} file ({e})", path.display()))?;
    let got = header(&saved);
    if got.format != expected.format || got.version != expected.version {
        anyhow::bail!(
            "{}: format '{}' version {}, expected '{}' version {}",
            path.display(),
            got.format,
            got.version,
            expected.format,
            expected.version
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
