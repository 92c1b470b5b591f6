//! The PO3AD network: a MinkUNet backbone built on `po3ad_sparse` convolutions, the
//! per-point offset head, the loss, and the collation of clouds into one sparse batch.
//! Everything here is generic over the burn backend.

pub mod batch;
pub mod blocks;
pub mod config;
pub mod head;
pub mod loss;
pub mod minkunet;
pub mod net;
pub mod params;

pub use batch::{collate, Batch};
pub use config::{Backbone, ModelConfig};
pub use loss::{offset_loss, LossConfig, LossParts};
pub use net::Po3adNet;
pub use params::trainable_params;
