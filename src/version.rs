//! Which po3ad this is: the crate version and the git commit it was built from
//! (build.rs), recorded in model folders and results files.

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit (12 hex digits, then `+dirty` for a build of uncommitted edits) or
/// `unknown`.
pub const COMMIT: &str = env!("PO3AD_GIT_COMMIT");

/// `po3ad 0.1.0 (1a2b3c4d5e6f)`.
pub fn long() -> String {
    format!("po3ad {VERSION} ({COMMIT})")
}
