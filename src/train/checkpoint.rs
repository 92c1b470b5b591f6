//! Checkpoint files: everything needed to continue training exactly (weights,
//! optimizer state, epoch, preset) or to score with a trained model.
//!
//! Layout (all integers little endian):
//! `b"PO3ADCKP"`, u32 format version, then three length-prefixed (u64) sections —
//! metadata JSON, model record, optimizer record (empty for a final model) — and a
//! CRC-32 of everything before it. A truncated, corrupted or foreign file is refused
//! before anything is decoded. RNG state needs no section: every epoch draws from its
//! own stream of the seeded generator (see `fit`).

use super::preset::Preset;
use burn::module::Module;
use burn::optim::Optimizer;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::frame::TrainingFrame;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PO3ADCKP";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a po3ad checkpoint ({msg})")]
    Invalid { path: PathBuf, msg: String },
    #[error(
        "{path}: checkpoint format version {found}, this po3ad reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: the weights do not fit this model ({msg})")]
    Record { path: PathBuf, msg: String },
    #[error("{0}")]
    Write(#[from] po3ad_core::Error),
}

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub preset: Preset,
    /// Epochs completed.
    pub epochs_done: usize,
    pub steps_done: u64,
    /// Mean loss of each completed epoch.
    pub epoch_losses: Vec<f64>,
    /// Its two parts, L_dist and L_dir, per epoch (for loss curves).
    #[serde(default)]
    pub epoch_dist: Vec<f64>,
    #[serde(default)]
    pub epoch_dir: Vec<f64>,
    pub category: String,
    pub po3ad_version: String,
    /// Training files, for the record.
    pub sources: Vec<String>,
    /// The first training sample's frame (normalization + reference cloud), used to
    /// register test scans; absent in models from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<TrainingFrame>,
}

pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

fn section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Checkpoint {
    pub fn to_bytes(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&self.meta).unwrap_or_default();
        let mut out = Vec::with_capacity(32 + meta.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        section(&mut out, &meta);
        section(&mut out, &self.model);
        section(&mut out, &self.optimizer);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let invalid = |msg: &str| CheckpointError::Invalid {
            path: path.to_path_buf(),
            msg: msg.into(),
        };
        if bytes.len() < 8 + 4 + 3 * 8 + 4 || &bytes[..8] != MAGIC {
            return Err(invalid("missing PO3ADCKP header"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let version = u32::from_le_bytes([body[8], body[9], body[10], body[11]]);
        if version != FORMAT_VERSION {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        if crc32fast::hash(body) != stored {
            return Err(invalid(
                "checksum mismatch: the file is truncated or corrupted",
            ));
        }
        let mut pos = 12usize;
        let mut take = || -> Result<&[u8], CheckpointError> {
            let len_bytes = body
                .get(pos..pos + 8)
                .ok_or_else(|| invalid("truncated section length"))?;
            let mut len = [0u8; 8];
            len.copy_from_slice(len_bytes);
            let len = usize::try_from(u64::from_le_bytes(len))
                .map_err(|_| invalid("section too large"))?;
            let start = pos + 8;
            let end = start
                .checked_add(len)
                .ok_or_else(|| invalid("section too large"))?;
            let s = body
                .get(start..end)
                .ok_or_else(|| invalid("section runs past the end of the file"))?;
            pos = end;
            Ok(s)
        };
        let meta_bytes = take()?;
        let model = take()?.to_vec();
        let optimizer = take()?.to_vec();
        let meta: CheckpointMeta = serde_json::from_slice(meta_bytes)
            .map_err(|e| invalid(&format!("bad metadata: {e}")))?;
        Ok(Self {
            meta,
            model,
            optimizer,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        po3ad_core::io::atomic::write_atomic(path, &self.to_bytes())?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Encode a module's weights.
    pub fn encode_model<B: Backend, M: Module<B>>(model: &M) -> Vec<u8> {
        Rec::default()
            .record(model.clone().into_record(), ())
            .unwrap_or_default()
    }

    pub fn encode_optimizer<
        B: AutodiffBackend,
        M: burn::module::AutodiffModule<B>,
        O: Optimizer<M, B>,
    >(
        optim: &O,
    ) -> Vec<u8> {
        Rec::default()
            .record(optim.to_record(), ())
            .unwrap_or_default()
    }

    /// Load these weights into `model` (built from the same preset). A record whose
    /// tensors do not have the model's shapes is refused here, not deep in a forward pass.
    pub fn restore_model<B: Backend, M: Module<B>>(
        &self,
        model: M,
        device: &B::Device,
        path: &Path,
    ) -> Result<M, CheckpointError> {
        let expected = shapes(&model);
        let record = decode(&self.model, device, path)?;
        // burn asserts (panics) when a record has another number of layers.
        let model =
            quietly(|| model.load_record(record)).ok_or_else(|| CheckpointError::Record {
                path: path.to_path_buf(),
                msg: "the record has another layer structure than the model the preset describes"
                    .into(),
            })?;
        if shapes(&model) != expected {
            return Err(CheckpointError::Record {
                path: path.to_path_buf(),
                msg: "tensor shapes differ from the model the preset describes".into(),
            });
        }
        Ok(model)
    }

    pub fn restore_optimizer<
        B: AutodiffBackend,
        M: burn::module::AutodiffModule<B>,
        O: Optimizer<M, B>,
    >(
        &self,
        optim: O,
        device: &B::Device,
        path: &Path,
    ) -> Result<O, CheckpointError> {
        if self.optimizer.is_empty() {
            return Err(CheckpointError::Invalid {
                path: path.to_path_buf(),
                msg: "this is a final model without optimizer state; it cannot be resumed".into(),
            });
        }
        let record = decode(&self.optimizer, device, path)?;
        Ok(optim.load_record(record))
    }
}

/// Decode a burn record. burn's decoder panics on some malformed content (e.g. an
/// invalid parameter id, found by fuzzing) even though the CRC matched; that panic is
/// caught and reported as a bad checkpoint instead of taking the process down.
fn decode<B: Backend, R: burn::record::Record<B>>(
    bytes: &[u8],
    device: &B::Device,
    path: &Path,
) -> Result<R, CheckpointError> {
    let bad = |msg: String| CheckpointError::Record {
        path: path.to_path_buf(),
        msg,
    };
    let bytes = bytes.to_vec();
    match quietly(|| Rec::default().load(bytes, device)) {
        Some(Ok(record)) => Ok(record),
        Some(Err(e)) => Err(bad(e.to_string())),
        None => Err(bad("malformed weights record".into())),
    }
}

/// Run `f`, turning a panic inside burn into `None` without printing it.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.ok()
}

/// Shapes of every float tensor in a module, in visiting order (as text: only compared).
fn shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<String> {
    struct Shapes(Vec<String>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::prelude::Tensor<B, D>>,
        ) {
            self.0.push(format!("{:?}", param.shape()));
        }
    }
    let mut v = Shapes(Vec::new());
    module.visit(&mut v);
    v.0
}
