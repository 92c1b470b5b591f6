//! Learning rate per epoch: held at `lr` for `hold_epochs`, then cosine decay to
//! `lr_min` at the last epoch (SPEC.md, training).

/// `epoch` is 0-based; `epochs` the total.
pub fn learning_rate(epoch: usize, epochs: usize, lr: f64, lr_min: f64, hold_epochs: usize) -> f64 {
    if epoch < hold_epochs || epochs <= hold_epochs + 1 {
        return lr;
    }
    let span = (epochs - 1 - hold_epochs) as f64;
    let t = ((epoch - hold_epochs) as f64 / span).min(1.0);
    lr_min + 0.5 * (lr - lr_min) * (1.0 + (std::f64::consts::PI * t).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_then_decays_to_min_at_last_epoch() {
        let (lr, min) = (1e-3, 1e-6);
        for e in 0..10 {
            assert_eq!(learning_rate(e, 1000, lr, min, 10), lr);
        }
        assert!((learning_rate(999, 1000, lr, min, 10) - min).abs() < 1e-15);
        // Half-way through the decay the cosine is at its midpoint.
        let mid = learning_rate(10 + 989 / 2, 1000, lr, min, 10);
        let expect =
            min + 0.5 * (lr - min) * (1.0 + (std::f64::consts::PI * (494.0 / 989.0)).cos());
        assert!((mid - expect).abs() < 1e-15);
        // Monotone non-increasing.
        let mut prev = lr;
        for e in 0..1000 {
            let v = learning_rate(e, 1000, lr, min, 10);
            assert!(v <= prev + 1e-18);
            prev = v;
        }
    }
}
