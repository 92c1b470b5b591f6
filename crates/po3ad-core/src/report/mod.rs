//! Everything that turns results into something a person reads: heat-map pictures of
//! per-point scores, result tables (CSV / JSON / Markdown / terminal), per-sample score
//! files, the paper's published numbers to compare against, and the HTML report
//! (`report.html`: curves, gallery, 3D view) built from a results folder.
//!
//! Nothing here computes a metric or a score; it only presents them. Every file is
//! written atomically (temporary file in the same folder, then rename), so an
//! interrupted run never leaves a half-written report under the final name.

pub mod colormap;
pub mod curves;
pub mod heatmap;
pub mod heatmap_ply;
pub mod html;
pub mod paper;
pub mod samples;
pub mod scan_view;
pub mod table;

mod camera;
mod canvas;
mod glyphs;
mod write;

pub use colormap::{robust_range, score_colors};
pub use curves::{read_curves, Curve, CurveFile, PointCurves, CURVES_FILE};
pub use heatmap::{render_png, render_rgb, Picture, RenderOptions};
pub use heatmap_ply::{encode_heatmap_ply, write_heatmap_ply};
pub use html::{write_predictions_report, write_report, REPORT_FILE};
pub use paper::{paper_table, PaperTable};
pub use samples::{write_samples_csv, write_samples_json, RegistrationFit, SampleScore};
pub use scan_view::{read_scan_view, write_scan_view, ScanView};
pub use table::{CategoryResult, ResultsTable};
