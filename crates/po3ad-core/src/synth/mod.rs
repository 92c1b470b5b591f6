//! Synthetic anomaly-detection benchmarks from any closed-ish mesh, and built-in
//! procedural meshes for a self-contained demo.
//!
//! - [`shapes`]: procedural meshes (vase, bottle, cup, bowl, plate, gear).
//! - [`defects`]: bulge, concavity, crack, scratch, hole, broken, with exact labels.
//! - [`scan`]: one-sided partial scans and sensor noise (Real3D-AD style).
//! - [`benchmark`]: writes a category in the Anomaly-ShapeNet or Real3D-AD layout,
//!   with a `manifest.json` describing every file.
//! - [`scene`]: the part on a table with a fixture and other objects, in mm (`--scene`).
//! - [`pose`]: random rigid poses for free-pose test scans.
//! - [`mesh_check`]: volume, area and edge checks; rejection of unusable meshes.

pub mod benchmark;
pub mod defects;
pub mod mesh_check;
pub mod obj;
pub mod pose;
pub mod scan;
pub mod scene;
pub mod shapes;
mod vec3;

pub use benchmark::{
    write_builtin_benchmark, write_category, Manifest, SynthConfig, SynthLayout, TestEntry,
};
pub use defects::{apply_defect, sample_defect, Defect, DefectKind, DefectShape};
pub use pose::{random_pose, read_poses_csv, write_poses_csv, RigidPose, POSES_CSV};
pub use scene::{SceneConfig, SceneEntry};
pub use shapes::{builtin, BUILTIN_SHAPES};
