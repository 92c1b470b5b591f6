//! `--device cuda[:N]`: pick the GPU and fail with one clear line where there is none.

use burn::backend::cuda::CudaDevice;
use burn::backend::Cuda;
use burn::prelude::Tensor;

/// The CUDA device `index`, after checking that a driver and that GPU answer.
///
/// burn's CUDA runtime panics when it finds no driver; the probe runs inside
/// `catch_unwind` with the panic message silenced so the user sees one line instead of
/// a backtrace.
pub fn device(index: usize) -> anyhow::Result<CudaDevice> {
    let device = CudaDevice { index };
    let probe = device.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(move || {
        let t = Tensor::<Cuda, 1>::ones([4], &probe);
        t.sum().into_scalar()
    });
    std::panic::set_hook(previous);
    match ok {
        Ok(v) if (v - 4.0).abs() < 1e-6 => Ok(device),
        Ok(v) => anyhow::bail!("CUDA device {index} gave a wrong answer to a self-test (sum of four ones = {v}); use --device cpu"),
        Err(_) => anyhow::bail!("no usable CUDA GPU {index} (no NVIDIA driver or device found); use --device cpu"),
    }
}
