//! Where the arithmetic runs: `--device cpu` (burn's `Flex`) or `cuda[:N]` (behind the
//! `cuda` feature), and [`with_backend!`](crate::with_backend) which binds a backend type
//! for generic code. Shared by the detectors, training, the CLI, the service and Python.

use std::str::FromStr;

/// `--device cpu` (default) or `--device cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceArg::Cpu),
            "cuda" | "gpu" => Ok(DeviceArg::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceArg::Cuda)
                .ok_or_else(|| format!("unknown device '{s}' (use cpu, cuda or cuda:N)")),
        }
    }
}

/// The CPU backends: `Flex` for inference, `Autodiff<Flex>` for training.
pub type CpuBackend = burn::backend::Flex;
pub type CpuTrainBackend = burn::backend::Autodiff<CpuBackend>;

/// Run `$body` with `$B` bound to the training (autodiff) backend of `$device` and
/// `$dev` to its device. Each subcommand stays generic; only this picks a backend.
#[macro_export]
macro_rules! with_backend {
    ($device:expr, |$B:ident, $dev:ident| $body:expr) => {{
        match $device {
            $crate::device::DeviceArg::Cpu => {
                type $B = $crate::device::CpuTrainBackend;
                let $dev = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::device::DeviceArg::Cuda(index) => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $dev = $crate::device::cuda::device(index)?;
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::device::DeviceArg::Cuda(_) => {
                anyhow::bail!("this po3ad binary was built without CUDA support (rebuild with `cargo build --release --features cuda`); use --device cpu")
            }
        }
    }};
}

#[cfg(feature = "cuda")]
pub mod cuda;
