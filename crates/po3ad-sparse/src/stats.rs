//! Wall-clock time spent inside this crate's CPU kernels, by kind, for profiling
//! (`po3ad profile` prints it as a per-layer-type split of the step). Process-wide relaxed
//! atomic counters: one `Instant` pair per op call, negligible next to the op.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a timed section computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Sparse convolution forward.
    ConvForward,
    /// Sparse convolution input gradient.
    ConvInputGrad,
    /// Sparse convolution weight gradient.
    ConvWeightGrad,
    /// Fused batch norm (+ residual, + ReLU) forward.
    NormForward,
    /// Fused batch norm backward.
    NormBackward,
}

const KINDS: usize = 5;
static NANOS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

/// Adds the time until it is dropped to `kernel`'s counter.
pub(crate) struct Timed(Kernel, Instant);

impl Timed {
    pub(crate) fn start(kernel: Kernel) -> Self {
        Timed(kernel, Instant::now())
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        let ns = u64::try_from(self.1.elapsed().as_nanos()).unwrap_or(u64::MAX);
        NANOS[self.0 as usize].fetch_add(ns, Ordering::Relaxed);
    }
}

/// Time accumulated per kernel since the last call (counters are reset), in the order of
/// [`Kernel`]'s variants.
pub fn take_kernel_times() -> [(Kernel, Duration); KINDS] {
    use Kernel::*;
    [
        ConvForward,
        ConvInputGrad,
        ConvWeightGrad,
        NormForward,
        NormBackward,
    ]
    .map(|k| {
        (
            k,
            Duration::from_nanos(NANOS[k as usize].swap(0, Ordering::Relaxed)),
        )
    })
}
