//! Structural properties: batch isolation, input validation, kernel-map shape, map caching,
//! a finite-difference gradient check, and batch norm against a hand computation.

mod common;

use burn::backend::Flex;
use burn::module::Param;
use burn::tensor::Tensor;
use common::*;
use po3ad_sparse::{
    relu, MapKey, MapKind, SparseBatchNormConfig, SparseConv3dConfig, SparseError, SparseTensor,
};

#[test]
fn batch_elements_never_mix() {
    // Same xyz in both batch elements, different features: the joint result must equal the
    // two single-element results.
    let xyz: Vec<[i32; 3]> = random_coords(70, 1, 5, 0.5)
        .iter()
        .map(|c| [c[1], c[2], c[3]])
        .collect();
    let n = xyz.len();
    let both: Vec<[i32; 4]> = (0..2)
        .flat_map(|b| xyz.iter().map(move |p| [b, p[0], p[1], p[2]]))
        .collect();
    let feats = random_vec(71, 2 * n * 3);
    let dev = Default::default();
    let conv = SparseConv3dConfig::new(3, 4, 3).init::<Flex>(&dev);
    let down = SparseConv3dConfig::new(4, 2, 2)
        .with_stride(2)
        .init::<Flex>(&dev);
    let run = |coords: Vec<[i32; 4]>, f: &[f32]| {
        let rows = coords.len();
        let x = SparseTensor::<Flex>::new(coords, tensor2::<Flex>(f, rows, 3)).expect("valid");
        let y = conv.forward(&x);
        let z = down.forward(&y);
        (to_vec(y.feats()), to_vec(z.feats()), z.coords())
    };
    let (joint_y, joint_z, joint_zc) = run(both.clone(), &feats);
    for b in 0..2 {
        let own: Vec<[i32; 4]> = xyz.iter().map(|p| [0, p[0], p[1], p[2]]).collect();
        let (y, z, zc) = run(own, &feats[b * n * 3..(b + 1) * n * 3]);
        assert_eq!(
            &joint_y[b * n * 4..(b + 1) * n * 4],
            &y[..],
            "batch {b} conv"
        );
        // Coarse rows of batch b in the joint run, matched by xyz.
        let rows = row_of(&joint_zc);
        for (i, c) in zc.iter().enumerate() {
            let j = rows[&[b as i32, c[1], c[2], c[3]]];
            assert_eq!(
                &joint_z[j * 2..j * 2 + 2],
                &z[i * 2..i * 2 + 2],
                "batch {b} down"
            );
        }
    }
}

#[test]
fn invalid_inputs_are_rejected() {
    let dev = Default::default();
    let dup = vec![[0, 1, 2, 3], [1, 1, 2, 3], [0, 1, 2, 3]];
    let err = SparseTensor::<Flex>::new(dup, Tensor::zeros([3, 2], &dev)).unwrap_err();
    assert_eq!(
        err,
        SparseError::DuplicateCoordinate {
            coord: [0, 1, 2, 3],
            first: 0,
            second: 2
        }
    );
    let err =
        SparseTensor::<Flex>::new(vec![[0, 0, 0, 0]], Tensor::zeros([2, 2], &dev)).unwrap_err();
    assert_eq!(err, SparseError::RowMismatch { coords: 1, rows: 2 });
}

#[test]
fn up_map_gives_each_fine_site_one_parent_and_maps_are_cached() {
    let coords = random_coords(80, 2, 8, 0.3);
    let n = coords.len();
    let x = SparseTensor::<Flex>::new(coords.clone(), Tensor::zeros([n, 1], &Default::default()))
        .expect("valid");
    let m = x.manager();
    let down_key = MapKey {
        in_stride: 1,
        out_stride: 2,
        kernel: 2,
        kind: MapKind::Down,
    };
    let down = m.kernel_map(down_key);
    assert!(
        std::sync::Arc::ptr_eq(&down, &m.kernel_map(down_key)),
        "cached"
    );
    let up = m.kernel_map(MapKey {
        in_stride: 2,
        out_stride: 1,
        kernel: 2,
        kind: MapKind::Up,
    });
    assert_eq!(up.n_out, n);
    assert_eq!(up.num_pairs(), n, "one pair per fine site");
    let mut seen = vec![0; n];
    for &o in &up.out_rows {
        seen[o as usize] += 1;
    }
    assert!(seen.iter().all(|&c| c == 1));
    let coarse = m.coords(2).expect("stride 2 cached");
    for k in 0..8 {
        let (ins, outs) = up.offset_pairs(k);
        for (&i, &o) in ins.iter().zip(outs) {
            let (p, c) = (coarse[i as usize], coords[o as usize]);
            let d = [c[1] - p[1], c[2] - p[2], c[3] - p[3]];
            assert_eq!(p[0], c[0], "same batch");
            assert_eq!(d[0] * 4 + d[1] * 2 + d[2], k as i32, "offset index");
        }
    }
    // Submanifold k=3 on a full 3×3×3 block: the centre site sees all 27 neighbours.
    let block: Vec<[i32; 4]> = (0..27).map(|i| [0, i / 9, (i / 3) % 3, i % 3]).collect();
    let b = SparseTensor::<Flex>::new(block, Tensor::zeros([27, 1], &Default::default()))
        .expect("valid");
    let map = b.manager().kernel_map(MapKey {
        in_stride: 1,
        out_stride: 1,
        kernel: 3,
        kind: MapKind::Submanifold,
    });
    // Σ over sites of the in-block neighbour count: (3+2·2)^3 = 7^3 = 343.
    assert_eq!(map.num_pairs(), 343);
    let centre = map.out_rows.iter().filter(|&&o| o == 13).count();
    assert_eq!(centre, 27);

    // The GPU kernels' neighbour table holds exactly the pairs: the centre's row is the
    // block in offset order (offset k = 9·dx + 3·dy + dz over −1..1, site 9x + 3y + z),
    // a corner sees 8 sites, and the table is built once.
    let table = map
        .neighbor_table()
        .expect("one input per output and offset");
    assert_eq!(table.len(), 27 * 27);
    assert_eq!(&table[13 * 27..14 * 27], &(0..27).collect::<Vec<i32>>()[..]);
    assert_eq!(table[..27].iter().filter(|&&i| i >= 0).count(), 8);
    assert_eq!(table.iter().filter(|&&i| i >= 0).count(), map.num_pairs());
    assert!(std::sync::Arc::ptr_eq(
        &table,
        &map.neighbor_table().unwrap()
    ));
    let up_table = up.neighbor_table().expect("up map");
    for k in 0..8 {
        let (ins, outs) = up.offset_pairs(k);
        for (&i, &o) in ins.iter().zip(outs) {
            assert_eq!(up_table[o as usize * 8 + k], i as i32);
        }
    }
}

#[test]
fn finite_difference_gradient_check() {
    // L = Σ r ⊙ relu-free (conv(x))²: nonlinear in x and w, so a wrong gradient cannot hide.
    let coords = random_coords(90, 1, 3, 0.6);
    let n = coords.len();
    let (c_in, c_out) = (2, 2);
    let xv = random_vec(91, n * c_in);
    let wv = random_vec(92, 27 * c_in * c_out);
    let r = random_vec(93, n * c_out);
    let loss = |xv: &[f32], wv: &[f32], track: bool| {
        let x = tensor2::<Ad>(xv, n, c_in);
        let x = if track { x.require_grad() } else { x };
        let mut conv = SparseConv3dConfig::new(c_in, c_out, 3).init::<Ad>(&Default::default());
        conv.weight = Param::from_tensor(tensor3::<Ad>(wv, [27, c_in, c_out]).require_grad());
        let st = SparseTensor::new(coords.clone(), x.clone()).expect("valid");
        let out = conv.forward(&st).into_feats();
        let l = (out.clone() * out * tensor2::<Ad>(&r, n, c_out)).sum();
        (l, x, conv)
    };
    let (l, x, conv) = loss(&xv, &wv, true);
    let grads = l.backward();
    let gx = to_vec(&x.grad(&grads).expect("x grad"));
    let gw = to_vec(&conv.weight.val().grad(&grads).expect("w grad"));
    let eval = |xv: &[f32], wv: &[f32]| to_vec(&loss(xv, wv, false).0)[0] as f64;
    let eps = 1e-2f32;
    for i in (0..xv.len()).step_by(3) {
        let (mut p, mut m) = (xv.clone(), xv.clone());
        p[i] += eps;
        m[i] -= eps;
        let fd = (eval(&p, &wv) - eval(&m, &wv)) / (2.0 * eps as f64);
        assert!(
            (fd - gx[i] as f64).abs() <= 1e-2 * (1.0 + fd.abs()),
            "dx[{i}] fd {fd} vs {}",
            gx[i]
        );
    }
    for i in (0..wv.len()).step_by(7) {
        let (mut p, mut m) = (wv.clone(), wv.clone());
        p[i] += eps;
        m[i] -= eps;
        let fd = (eval(&xv, &p) - eval(&xv, &m)) / (2.0 * eps as f64);
        assert!(
            (fd - gw[i] as f64).abs() <= 1e-2 * (1.0 + fd.abs()),
            "dw[{i}] fd {fd} vs {}",
            gw[i]
        );
    }
}

#[test]
fn batch_norm_train_mode_matches_hand_computation() {
    let coords = random_coords(100, 2, 4, 0.5);
    let (n, c) = (coords.len(), 3);
    let xv: Vec<f32> = random_vec(101, n * c)
        .iter()
        .enumerate()
        .map(|(i, v)| v * 3.0 + (i % c) as f32)
        .collect();
    let x = SparseTensor::<Ad>::new(coords, tensor2::<Ad>(&xv, n, c)).expect("valid");
    let bn = SparseBatchNormConfig::new(c).init::<Ad>(&Default::default());
    let y = to_vec(bn.forward(x).feats());
    let running = to_vec(&bn.norm.running_mean.value_sync());
    for ch in 0..c {
        let col: Vec<f64> = (0..n).map(|i| xv[i * c + ch] as f64).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let expect: Vec<f64> = col
            .iter()
            .map(|v| (v - mean) / (var + 1e-5).sqrt())
            .collect();
        let got: Vec<f32> = (0..n).map(|i| y[i * c + ch]).collect();
        assert_close(&format!("bn channel {ch}"), &got, &expect, 1e-4);
        assert!(
            (running[ch] as f64 - 0.1 * mean).abs() < 1e-5,
            "running mean {ch}"
        );
    }
}

#[test]
fn relu_and_cat_keep_sites() {
    let coords = random_coords(110, 2, 4, 0.5);
    let n = coords.len();
    let xv = random_vec(111, n * 2);
    let x = SparseTensor::<Flex>::new(coords.clone(), tensor2::<Flex>(&xv, n, 2)).expect("valid");
    let y = relu(x.clone());
    let got = to_vec(y.feats());
    for (g, v) in got.iter().zip(&xv) {
        assert_eq!(*g, v.max(0.0));
    }
    let z = x.cat(&y);
    assert_eq!(z.feats().dims(), [n, 4]);
    assert_eq!(*z.coords(), coords);
    let zv = to_vec(z.feats());
    assert_eq!(zv[2], got[0]);
    assert_eq!(zv[0], xv[0]);
}
