//! Memory banks against independent references: k-nearest lookup (k-d tree for 3/33/99
//! values a row) against a brute-force scan written here in f64; the greedy coreset
//! against a direct O(n·m²) greedy selection; the detectors on a synthetic part with a
//! known bump.

use po3ad_core::membank::{
    greedy_coreset, BankConfig, BtfFpfh, BtfRaw, FeatureIndex, IndexKind, ObjectScore, PatchCore,
    RegBank,
};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

fn d2_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum()
}

#[test]
fn knn_matches_brute_force_for_every_backend() {
    for dim in [3usize, 33, 99, 7] {
        let bank = random_rows(600, dim, dim as u64);
        let queries = random_rows(40, dim, 100 + dim as u64);
        for kind in [IndexKind::Auto, IndexKind::Tree, IndexKind::Brute] {
            let index = FeatureIndex::new(dim, bank.clone(), kind).unwrap();
            let tree = match kind {
                IndexKind::Auto => dim == 3,
                IndexKind::Tree => dim != 7,
                IndexKind::Brute => false,
            };
            assert_eq!(index.uses_tree(), tree);
            for q in queries.chunks(dim) {
                let mut expect: Vec<(usize, f64)> = bank
                    .chunks(dim)
                    .enumerate()
                    .map(|(i, r)| (i, d2_f64(r, q)))
                    .collect();
                expect.sort_by(|a, b| a.1.total_cmp(&b.1));
                let got = index.knn(q, 5).unwrap();
                let ids: Vec<usize> = got.iter().map(|x| x.0).collect();
                let want: Vec<usize> = expect[..5].iter().map(|x| x.0).collect();
                assert_eq!(ids, want, "dim {dim}, {kind:?}");
                for (g, e) in got.iter().zip(&expect) {
                    assert!((g.1 as f64 - e.1).abs() < 1e-4 * (1.0 + e.1));
                }
                assert_eq!(index.nearest(q).unwrap().0, want[0]);
            }
        }
    }
}

/// The batched search (blocked matrix products, several query and bank blocks) against
/// an f64 scan, on rows far from the origin (FPFH values are 0–200, where the expanded
/// distance loses precision) and with exact duplicate rows (ties go to the lower row).
#[test]
fn nearest_many_matches_brute_force() {
    for dim in [33usize, 99, 7] {
        let mut bank: Vec<f32> = random_rows(2500, dim, 7 + dim as u64)
            .iter()
            .map(|v| 100.0 + 60.0 * v)
            .collect();
        let dup = bank[..dim * 10].to_vec();
        bank.extend_from_slice(&dup);
        let mut queries: Vec<f32> = random_rows(300, dim, 900 + dim as u64)
            .iter()
            .map(|v| 100.0 + 60.0 * v)
            .collect();
        queries.extend_from_slice(&bank[dim * 3..dim * 5]);
        for kind in [IndexKind::Auto, IndexKind::Brute] {
            let index = FeatureIndex::new(dim, bank.clone(), kind).unwrap();
            let got = index.nearest_many(&queries).unwrap();
            assert_eq!(got.len(), queries.len() / dim);
            for (q, g) in queries.chunks(dim).zip(&got) {
                let (want, d) = bank
                    .chunks(dim)
                    .enumerate()
                    .map(|(i, r)| (i, d2_f64(r, q)))
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                    .unwrap();
                assert_eq!(g.0, want, "dim {dim}, {kind:?}");
                assert!((g.1 as f64 - d).abs() < 1e-4 * (1.0 + d), "{} vs {d}", g.1);
            }
        }
    }
}

#[test]
fn index_rejects_bad_rows_and_round_trips_through_json() {
    assert!(FeatureIndex::new(3, vec![0.0; 7], IndexKind::Auto).is_err());
    assert!(FeatureIndex::new(3, vec![], IndexKind::Auto).is_err());
    assert!(FeatureIndex::new(3, vec![f32::NAN, 0.0, 0.0], IndexKind::Auto).is_err());
    let index = FeatureIndex::new(33, random_rows(50, 33, 1), IndexKind::Tree).unwrap();
    assert!(index.knn(&[0.0; 3], 1).is_err());
    let json = serde_json::to_string(&index).unwrap();
    let back: FeatureIndex = serde_json::from_str(&json).unwrap();
    let q = random_rows(1, 33, 2);
    assert_eq!(index.knn(&q, 4).unwrap(), back.knn(&q, 4).unwrap());
    let bad = json.replace("\"dim\":33", "\"dim\":32");
    assert!(serde_json::from_str::<FeatureIndex>(&bad).is_err());
}

/// Greedy k-center written directly: at each step, for every row, the distance to the
/// nearest chosen row recomputed from scratch; the farthest row is added.
fn brute_greedy(values: &[f32], dim: usize, first: usize, count: usize) -> Vec<usize> {
    let rows: Vec<&[f32]> = values.chunks(dim).collect();
    let mut chosen = vec![first];
    while chosen.len() < count {
        let mut best = (0usize, -1.0f64);
        for (i, r) in rows.iter().enumerate() {
            let gap = chosen
                .iter()
                .map(|&c| d2_f64(r, rows[c]))
                .fold(f64::INFINITY, f64::min);
            if gap > best.1 {
                best = (i, gap);
            }
        }
        chosen.push(best.0);
    }
    chosen
}

#[test]
fn coreset_matches_brute_force_greedy_selection() {
    for (dim, n, count, seed) in [(33usize, 300usize, 30usize, 7u64), (3, 200, 50, 9)] {
        let values = random_rows(n, dim, seed);
        let got = greedy_coreset(&values, dim, count, seed).unwrap();
        assert_eq!(got.len(), count);
        let want = brute_greedy(&values, dim, got[0], count);
        assert_eq!(got, want, "dim {dim}");
        // Distinct rows, and the covering radius shrinks as rows are added.
        let mut sorted = got.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), count);
    }
    // Same seed, same first row; count capped at the bank; duplicates stop early.
    let values = random_rows(20, 4, 3);
    assert_eq!(
        greedy_coreset(&values, 4, 5, 11).unwrap(),
        greedy_coreset(&values, 4, 5, 11).unwrap()
    );
    assert_eq!(greedy_coreset(&values, 4, 99, 11).unwrap().len(), 20);
    let same = vec![0.5f32; 40];
    assert_eq!(greedy_coreset(&same, 4, 5, 0).unwrap().len(), 1);
}

/// A unit sphere sampled on a Fibonacci lattice, with outward normals, optionally with
/// a bump of height `h` around the +z pole; labels mark the bump.
fn sphere(n: usize, h: f32, twist: f32) -> PointCloud {
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    let mut pc = PointCloud::default();
    let (mut normals, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
        let r = (1.0 - z * z).sqrt();
        let t = golden * i as f32 + twist;
        let dir = [r * t.cos(), r * t.sin(), z];
        let angle = z.clamp(-1.0, 1.0).acos();
        let bump = if angle < 0.35 {
            h * (1.0 + (angle / 0.35 * std::f32::consts::PI).cos()) / 2.0
        } else {
            0.0
        };
        pc.points.push(dir.map(|c| c * (1.0 + bump)));
        normals.push(dir);
        labels.push(u8::from(bump > 0.01 * h.max(1e-6)));
    }
    pc.normals = Some(normals);
    pc.labels = Some(labels);
    pc
}

#[test]
fn detectors_find_a_bump_and_survive_serialization() {
    let training = vec![sphere(6000, 0.0, 0.0), sphere(6000, 0.0, 0.7)];
    let good = sphere(5000, 0.0, 1.3);
    let bad = sphere(5000, 0.25, 1.3);
    let labels = bad.labels.clone().unwrap();
    let cfg = BankConfig {
        descriptor: po3ad_core::features::DescriptorConfig {
            voxel: 0.06,
            radii: vec![0.3],
            ..Default::default()
        },
        ..Default::default()
    };
    type Fit = fn(&[PointCloud], &BankConfig) -> Box<dyn Fn(&[[f32; 3]]) -> (Vec<f32>, f32)>;
    let kinds: [(&str, Fit); 4] = [
        ("btf-raw", |t, c| {
            let d = BtfRaw::fit(t, c).unwrap();
            let d: BtfRaw = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            Box::new(move |s| d.score(s).unwrap())
        }),
        ("btf-fpfh", |t, c| {
            let d = BtfFpfh::fit(t, c).unwrap();
            let d: BtfFpfh = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            Box::new(move |s| d.score(s).unwrap())
        }),
        ("patchcore", |t, c| {
            let d = PatchCore::fit(t, c).unwrap();
            assert!(d.len() * 5 < d.full_len, "coreset keeps ~10 %");
            let d: PatchCore = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            Box::new(move |s| d.score(s).unwrap())
        }),
        ("reg-bank", |t, c| {
            let d = RegBank::fit(t, c).unwrap();
            let d: RegBank = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            Box::new(move |s| d.score(s).unwrap())
        }),
    ];
    for (name, fit) in kinds {
        let score = fit(&training, &cfg);
        let (pg, og) = score(&good.points);
        let (pb, ob) = score(&bad.points);
        assert_eq!(pg.len(), good.len());
        assert_eq!(pb.len(), bad.len());
        assert!(ob > og, "{name}: object score bad {ob} <= good {og}");
        let mean = |l: u8| {
            let v: Vec<f32> = pb
                .iter()
                .zip(&labels)
                .filter(|x| *x.1 == l)
                .map(|x| *x.0)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(
            mean(1) > 2.0 * mean(0),
            "{name}: bump {} vs rest {}",
            mean(1),
            mean(0)
        );
    }
}

#[test]
fn object_score_rules_and_bad_input() {
    assert_eq!(ObjectScore::Max.apply(&[0.1, 0.7, 0.3]), 0.7);
    let top = ObjectScore::TopMean { fraction: 0.5 };
    assert!((top.apply(&[0.1, 0.7, 0.3, 0.5]) - 0.6).abs() < 1e-6);
    let cfg = BankConfig::default();
    assert!(BtfRaw::fit(&[], &cfg).is_err());
    let d = BtfRaw::fit(&[sphere(2000, 0.0, 0.0)], &cfg).unwrap();
    assert!(d.score(&[]).is_err());
    assert!(d.score(&[[f32::NAN, 0.0, 0.0]]).is_err());
    let bad = BankConfig {
        reweight_k: 1,
        ..BankConfig::default()
    };
    assert!(PatchCore::fit(&[sphere(2000, 0.0, 0.0)], &bad).is_err());
}
