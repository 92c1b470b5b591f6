//! The detector kinds, one file each (listed in [`super::registry::KINDS`]).

pub mod curvature;
pub mod membank;
pub mod nearest;
pub mod po3ad;
mod saved;
pub mod surface;
