//! The main crate's integration tests, one module per file, built as one test binary.
//!
//! Each integration-test file used to be its own binary, and each linked burn, cubecl and
//! the whole tool on its own: ~100 MB and a link step apiece, which the cold CI build paid
//! for 17 times (notes/ci.md). Run one file's tests with `cargo test --test suite
//! <file>::`, e.g. `cargo test --release --test suite serve::`.

mod common;

mod cli_docs;
mod cli_pipeline;
mod concurrency;
mod decisions;
mod detector_api;
mod device_errors;
mod free_pose;
mod fuzz_checkpoint;
mod gpu_conv;
mod model_architecture;
mod scanner_intake;
mod serve;
mod settings_file;
mod shards;
mod train_guards;
mod train_pipeline;
mod train_resume;
