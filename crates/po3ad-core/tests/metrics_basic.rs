//! Metric properties checked by independent computations: AUROC equals the
//! Mann–Whitney pair count (ties one half), AP equals a direct per-threshold sum,
//! invariance to monotone transforms and input order, and input validation.

use po3ad_core::metrics::{average_precision, pr_curve, roc_auc, roc_curve};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn sample(n: usize, levels: u32, seed: u64) -> (Vec<bool>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<bool> = (0..n).map(|_| rng.random_bool(0.3)).collect();
    let scores = labels
        .iter()
        .map(|&l| (rng.random_range(0..levels) + if l { levels / 3 } else { 0 }) as f64)
        .collect();
    (labels, scores)
}

/// O(n²) probability that a random anomalous sample outscores a random normal one.
fn mann_whitney(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                if scores[i] > scores[j] {
                    wins += 1.0;
                } else if scores[i] == scores[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

/// O(n·t) AP: for each distinct threshold (descending), precision times recall gain.
fn direct_ap(labels: &[bool], scores: &[f64]) -> f64 {
    let mut thresholds: Vec<f64> = scores.to_vec();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let (mut ap, mut prev_recall) = (0.0, 0.0);
    for t in thresholds {
        let tp = labels
            .iter()
            .zip(scores)
            .filter(|(&l, &s)| l && s >= t)
            .count() as f64;
        let k = scores.iter().filter(|&&s| s >= t).count() as f64;
        let recall = tp / pos;
        ap += (recall - prev_recall) * tp / k;
        prev_recall = recall;
    }
    ap
}

#[test]
fn auroc_is_the_mann_whitney_statistic() {
    for (levels, seed) in [(5, 1), (50, 2), (100_000, 3)] {
        let (l, s) = sample(400, levels, seed);
        let got = roc_auc(&l, &s).unwrap();
        assert!(
            (got - mann_whitney(&l, &s)).abs() < 1e-12,
            "levels {levels}"
        );
    }
}

#[test]
fn ap_is_the_step_sum_over_thresholds() {
    for (levels, seed) in [(3, 4), (20, 5), (100_000, 6)] {
        let (l, s) = sample(400, levels, seed);
        let got = average_precision(&l, &s).unwrap();
        assert!((got - direct_ap(&l, &s)).abs() < 1e-12, "levels {levels}");
    }
}

#[test]
fn invariant_to_order_and_monotone_maps() {
    let (l, s) = sample(500, 30, 7);
    let auc = roc_auc(&l, &s).unwrap();
    let ap = average_precision(&l, &s).unwrap();
    let mapped: Vec<f64> = s.iter().map(|x| (x * 0.1).exp() - 4.0).collect();
    assert!((roc_auc(&l, &mapped).unwrap() - auc).abs() < 1e-12);
    assert!((average_precision(&l, &mapped).unwrap() - ap).abs() < 1e-12);
    let (rl, rs): (Vec<bool>, Vec<f64>) = l.iter().zip(&s).rev().map(|(a, b)| (*a, *b)).unzip();
    assert_eq!(roc_auc(&rl, &rs).unwrap(), auc);
    assert_eq!(average_precision(&rl, &rs).unwrap(), ap);
}

#[test]
fn curves_have_the_documented_shape() {
    let (l, s) = sample(300, 40, 8);
    let (fpr, tpr, th) = roc_curve(&l, &s).unwrap();
    assert_eq!((fpr[0], tpr[0], th[0]), (0.0, 0.0, f64::INFINITY));
    assert_eq!((*fpr.last().unwrap(), *tpr.last().unwrap()), (1.0, 1.0));
    assert!(fpr.windows(2).all(|w| w[0] <= w[1]) && tpr.windows(2).all(|w| w[0] <= w[1]));
    let (p, r, t) = pr_curve(&l, &s).unwrap();
    assert_eq!(p.len(), t.len() + 1);
    assert_eq!((*p.last().unwrap(), *r.last().unwrap()), (1.0, 0.0));
    assert!(t.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn invalid_inputs_are_errors() {
    let l = [true, false, true];
    assert!(roc_auc(&l, &[0.1, 0.2]).is_err());
    assert!(roc_auc(&l, &[0.1, f64::NAN, 0.3]).is_err());
    assert!(average_precision(&l, &[0.1, f64::INFINITY, 0.3]).is_err());
    assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_err());
    assert!(average_precision(&[false, false], &[0.1, 0.2]).is_err());
    assert!(roc_curve(&[], &[]).is_err());
    assert!(pr_curve(&[false], &[1.0]).is_err());
}

#[test]
fn a_million_pooled_points() {
    // Scale check (no timing): half a million normal and anomalous points with
    // overlapping integer scores; AUROC has a closed form here.
    // Normal scores uniform on 0..1000, anomalous on 500..1500 (each value equally
    // often): P(a > n) + P(a == n)/2 = 1 - 0.5*0.5*0.5 exactly = 0.875 minus the tie
    // correction computed below.
    let n = 500_000;
    let mut labels = Vec::with_capacity(2 * n);
    let mut scores = Vec::with_capacity(2 * n);
    for i in 0..n {
        labels.push(false);
        scores.push((i % 1000) as f64);
        labels.push(true);
        scores.push((500 + i % 1000) as f64);
    }
    // Overlap 500..1000: pairs with a in the overlap (500 values) and n in the overlap
    // (500 values): a > n in 500*499/2 pairs, ties in 500; all other pairs a > n.
    let total = 1000.0 * 1000.0;
    let losses_or_ties = 500.0 * 499.0 / 2.0 + 500.0 * 0.5;
    let want = 1.0 - losses_or_ties / total;
    let got = roc_auc(&labels, &scores).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}
