//! The network as SPEC.md defines it: MinkUNet34C + offset head has exactly 37,858,901
//! trainable parameters (BN affine and PReLU weights included). The count was derived
//! by hand from MinkowskiEngine's MinkUNet34C definition (convolutions without bias
//! except the final 1×1, weights K·C_in·C_out) and checked with a short script:
//! stem 12000+64, encoder 4 downsamples + 15 BasicBlocks, decoder 4 transposed convs +
//! 8 BasicBlocks, final conv 3104, head 1685.

use burn::module::Module;
use po3ad::cli::common::CpuBackend;
use po3ad::model::{trainable_params, Backbone, ModelConfig, Po3adNet};

#[test]
fn minkunet34c_with_head_has_the_paper_parameter_count() {
    let net = Po3adNet::<CpuBackend>::new(&ModelConfig::default(), &Default::default());
    assert_eq!(trainable_params(&net), 37_858_901);
    // burn's own count adds the BN running mean and variance (2 × 8848 channels).
    assert_eq!(net.num_params(), 37_858_901 + 17_696);
}

#[test]
fn smaller_variants_are_smaller() {
    let device = Default::default();
    let full = Po3adNet::<CpuBackend>::new(&ModelConfig::default(), &device).num_params();
    let m14 = ModelConfig {
        backbone: Backbone::MinkUNet14,
        ..ModelConfig::default()
    };
    let n14 = Po3adNet::<CpuBackend>::new(&m14, &device).num_params();
    let quarter = ModelConfig {
        width: 0.25,
        ..m14.clone()
    };
    let nq = Po3adNet::<CpuBackend>::new(&quarter, &device).num_params();
    assert!(n14 < full / 2, "{n14} vs {full}");
    // Width 1/4 divides conv weights by ~16.
    assert!(nq * 10 < n14, "{nq} vs {n14}");
}
