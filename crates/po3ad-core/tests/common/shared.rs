//! The shared data beside the checkout (`../shared`: real meshes, the paper's text) for
//! the tests that use it, and what such a test does when it is absent: it skips with a
//! message, or fails when `PO3AD_REQUIRE_SHARED=1` (CI sets it, so a run that should
//! have checked the real data cannot pass without it). `PO3AD_SHARED_DIR` points
//! elsewhere (e.g. at a missing folder, to check that the tests do fail).
//! Included by each such test with `#[path = "common/shared.rs"] mod shared;`.

use std::path::{Path, PathBuf};

/// The shared folder: `$PO3AD_SHARED_DIR`, else `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("PO3AD_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// `rel` inside the shared folder when it exists; else [`missing`] and None.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = shared_dir().join(rel);
    if path.exists() {
        Some(path)
    } else {
        missing(&path);
        None
    }
}

/// A shared file or folder is absent: a panic under `PO3AD_REQUIRE_SHARED=1`, else a
/// message saying what is skipped.
pub fn missing(path: &Path) {
    if std::env::var("PO3AD_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!(
            "{} not found, and PO3AD_REQUIRE_SHARED=1 requires the shared data",
            path.display()
        );
    }
    println!(
        "skipping: {} not found (PO3AD_REQUIRE_SHARED=1 makes this a failure)",
        path.display()
    );
}
