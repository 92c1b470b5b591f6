//! po3ad-core's integration tests, one module per file, built as one test binary.
//!
//! One binary instead of one per file: each linked the whole crate and its format
//! dependencies on its own, which the cold CI build paid for ~35 times in link time and
//! disk (notes/ci.md). Run one file's tests with `cargo test -p po3ad-core --test suite
//! <file>::`, e.g. `cargo test -p po3ad-core --release --test suite surface::`.

#[path = "common/bytes.rs"]
mod bytes;
#[path = "common/shared.rs"]
mod shared;

mod dataset_layouts;
mod dataset_load;
mod features_open3d;
mod geometry_knn;
mod geometry_normals;
mod geometry_open3d;
mod geometry_real_meshes;
mod geometry_sample;
mod geometry_transform;
mod geometry_voxel;
mod io_bad;
mod io_fuzz;
mod io_fuzz_gt;
mod io_fuzz_scanner;
mod io_read;
mod io_scanner;
mod io_shared;
mod io_write;
mod membank;
mod metrics_basic;
mod metrics_sklearn;
mod registration;
mod registration_symmetric;
mod report_colormap;
mod report_heatmap;
mod report_html;
mod report_paper;
mod report_samples;
mod report_table;
mod scene_background;
mod surface;
mod synth_benchmark;
mod synth_defects;
mod synth_shapes;
mod synth_shared_meshes;
