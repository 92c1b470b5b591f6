//! Atomic file writes: every writer in the crate goes through here so a crash or a full
//! disk never leaves a half-written file under the final name.
//!
//! The bytes go to a temporary file in the same folder (same file system, so the final
//! `rename` is atomic), are flushed to disk, and only then renamed over `path`.

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers within one process; the pid
/// distinguishes processes.
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{}: not a file path", path.display())))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        n
    );
    Ok(path.with_file_name(tmp_name))
}

/// Write `bytes` to `path` atomically (temp file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Stream content into `path` atomically: `fill` writes into a buffered writer on a
/// temporary file, which is renamed to `path` only if `fill` and the flush succeed.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let tmp = temp_path(path)?;
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temp file may not exist if creation itself failed.
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
