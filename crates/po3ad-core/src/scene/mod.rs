//! Real scans from an inspection cell, before registration: what a clean synthetic
//! scan does not have.
//!
//! - [`invalid`]: NaN / ±inf / (0, 0, 0) pixels of organized clouds, dropped with a count
//!   and a mapping back to the file's point order.
//! - [`units`]: length units and the scan-vs-template scale check.
//! - [`background`]: the support plane, fixtures and other objects removed, the part kept.
//! - [`view`]: the direction a scene was scanned from, found from the scan alone.

pub mod background;
pub mod invalid;
pub mod units;
pub mod view;

pub use background::{remove_background, BackgroundConfig, BackgroundReport, Plane, SceneSplit};
pub use invalid::{drop_invalid, DroppedPoints, OriginPolicy};
pub use units::{
    check_scan_units, detect_scale_mismatch, extent, ScaleMismatch, Units, UnitsCheck,
};
pub use view::scan_direction;
