//! The one place report writers hand their bytes to the file system.

use crate::Result;
use std::path::Path;

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename),
/// through the crate's shared writer so every output file behaves the same way.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::io::atomic::write_atomic(path, bytes)
}
