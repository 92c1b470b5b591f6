//! Counting trainable parameters. burn's `num_params` also counts batch-norm running
//! statistics (they are module state), which PyTorch-style counts leave out; this
//! visitor skips them so the count is comparable with the paper's.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::{Backend, Tensor};

#[derive(Default)]
struct TrainableCounter {
    path: Vec<String>,
    count: usize,
}

impl<B: Backend> ModuleVisitor<B> for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let running = self
            .path
            .last()
            .is_some_and(|n| n == "running_mean" || n == "running_var");
        if !running {
            self.count += param.shape().num_elements();
        }
    }
}

/// Trainable parameters of `module` (weights, biases, BN affine, PReLU slopes).
pub fn trainable_params<B: Backend, M: Module<B>>(module: &M) -> usize {
    let mut counter = TrainableCounter::default();
    module.visit(&mut counter);
    counter.count
}
