//! Registration of symmetric and near-symmetric parts (issue 26): a 14-tooth gear in
//! random poses, full and one-sided; a 6-fold part accepted in any equivalent pose; a
//! bulge defect that must not pull the pose.
//!
//! Every expectation comes from the pose the test applied and from the symmetry group
//! the test knows the part has (the gear's 14 turns about its axis and 14 flips, the
//! hex part's 6 turns), not from `registration::Symmetry` — which is itself checked
//! against those groups here.

use crate::shared;

use po3ad_core::geometry::{normalize_unit_sphere, sample_surface};
use po3ad_core::registration::{
    register, Registration, RegistrationConfig, RegistrationTarget, Symmetry,
};
use po3ad_core::synth::builtin;
use po3ad_core::synth::scan::{add_noise, partial_scan, random_view};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type M3 = [[f32; 3]; 3];
type V3 = [f32; 3];

fn random_rotation(rng: &mut impl Rng) -> M3 {
    po3ad_core::synth::random_pose(180.0, 0.0, rng).rotation
}

fn mul(r: &M3, p: V3) -> V3 {
    std::array::from_fn(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

fn matmul(a: &M3, b: &M3) -> M3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn transpose(a: &M3) -> M3 {
    std::array::from_fn(|i| std::array::from_fn(|j| a[j][i]))
}

fn angle_deg(r: &M3) -> f32 {
    let tr = r[0][0] + r[1][1] + r[2][2];
    ((tr - 1.0) * 0.5).clamp(-1.0, 1.0).acos().to_degrees()
}

fn dist(a: V3, b: V3) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Rotation by `deg` about the unit axis `a` (Rodrigues).
fn axis_angle(a: V3, deg: f32) -> M3 {
    let (s, c) = deg.to_radians().sin_cos();
    let k = 1.0 - c;
    [
        [
            c + a[0] * a[0] * k,
            a[0] * a[1] * k - a[2] * s,
            a[0] * a[2] * k + a[1] * s,
        ],
        [
            a[1] * a[0] * k + a[2] * s,
            c + a[1] * a[1] * k,
            a[1] * a[2] * k - a[0] * s,
        ],
        [
            a[2] * a[0] * k - a[1] * s,
            a[2] * a[1] * k + a[0] * s,
            c + a[2] * a[2] * k,
        ],
    ]
}

/// A part about the z axis through `center` with the rotation group `group`
/// (matrices acting on the part's own coordinates).
struct Part {
    dense: PointCloud,
    center: V3,
    group: Vec<M3>,
}

/// The smallest error of `reg` (scan → part frame) to any symmetric equivalent of the
/// true pose, for a scan made as `input = R p + t`: the equivalents are
/// `p ↦ c + S (Rᵀ (p − t) − c)` for every `S` in the group. Returns (degrees,
/// distance at the scan's centroid).
fn error_to_equivalent(reg: &Registration, part: &Part, r: &M3, t: V3, at: V3) -> (f32, f32) {
    let rt = transpose(r);
    let truth_at = mul(&rt, [at[0] - t[0], at[1] - t[1], at[2] - t[2]]);
    let est_at = reg.apply(at);
    let c = part.center;
    part.group
        .iter()
        .map(|s| {
            let rot = matmul(&reg.rotation, &transpose(&matmul(s, &rt)));
            let d = [truth_at[0] - c[0], truth_at[1] - c[1], truth_at[2] - c[2]];
            let q = mul(s, d);
            let sym_at = [q[0] + c[0], q[1] + c[1], q[2] + c[2]];
            (angle_deg(&rot), dist(est_at, sym_at))
        })
        .fold((f32::INFINITY, f32::INFINITY), |a, b| {
            if b.0 < a.0 {
                b
            } else {
                a
            }
        })
}

fn centroid(p: &[V3]) -> V3 {
    let n = p.len() as f32;
    let s = p
        .iter()
        .fold([0.0f32; 3], |a, q| [a[0] + q[0], a[1] + q[1], a[2] + q[2]]);
    s.map(|v| v / n)
}

/// The built-in 14-tooth spur gear, in the unit sphere. Its group: 14 turns about z
/// through the slab's centre, and 14 half-turns about the in-plane axes through a
/// tooth centre or a gap centre (the slab and each tooth are mirror-symmetric).
fn gear(rng: &mut impl Rng) -> Part {
    let mut mesh = builtin("gear").unwrap();
    normalize_unit_sphere(&mut mesh).unwrap();
    let dense = sample_surface(&mesh, 60_000, rng).unwrap();
    let zs: Vec<f32> = mesh.points.iter().map(|p| p[2]).collect();
    let zmid = 0.5
        * (zs.iter().cloned().fold(f32::INFINITY, f32::min)
            + zs.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
    // The outline is centred on the origin before normalizing, which only shifts and
    // scales: the axis stays at x = y = 0 up to the normalization's shift.
    let c = centroid(&mesh.points);
    let center = [c[0], c[1], zmid];
    let mut group = Vec::new();
    // Over each pitch: flank up to 0.2, tip land to 0.45, flank down to 0.65, so tooth
    // k is centred at (k + 0.325) · 360/14; gaps half a pitch further on.
    let tooth_mid = 0.325 * 360.0 / 14.0;
    for k in 0..14 {
        group.push(axis_angle([0.0, 0.0, 1.0], k as f32 * 360.0 / 14.0));
        let a = (tooth_mid + k as f32 * 180.0 / 14.0).to_radians();
        group.push(axis_angle([a.cos(), a.sin(), 0.0], 180.0));
    }
    Part {
        dense,
        center,
        group,
    }
}

/// A 6-fold part: a hexagonal prism (circumradius 1, height 0.4, about z) with six
/// round bosses on its top face only, so its symmetries are the 6 turns about z.
fn hex_part(rng: &mut impl Rng) -> Part {
    let n = 60_000;
    let mut points = Vec::with_capacity(n);
    let mut normals = Vec::with_capacity(n);
    let h = 0.4f32;
    let apothem = 3f32.sqrt() / 2.0;
    let inside_hex = |x: f32, y: f32| {
        (0..6).all(|k| {
            let a = (k as f32 * 60.0 + 30.0).to_radians();
            x * a.cos() + y * a.sin() <= apothem
        })
    };
    let boss = |x: f32, y: f32| {
        (0..6).any(|k| {
            let a = (k as f32 * 60.0).to_radians();
            dist([x, y, 0.0], [0.6 * a.cos(), 0.6 * a.sin(), 0.0]) < 0.15
        })
    };
    // Faces drawn at fixed rates (not by area): registration voxelizes anyway.
    while points.len() < n {
        let pick = rng.random_range(0.0f32..1.0);
        if pick < 0.32 {
            let (x, y) = (
                rng.random_range(-1.0f32..1.0),
                rng.random_range(-1.0f32..1.0),
            );
            if !inside_hex(x, y) {
                continue;
            }
            let top = rng.random::<bool>();
            let z = if top && boss(x, y) {
                h + 0.1
            } else if top {
                h
            } else {
                0.0
            };
            points.push([x, y, z]);
            normals.push([0.0, 0.0, if top { 1.0 } else { -1.0 }]);
        } else if pick < 0.9 {
            let k = rng.random_range(0..6);
            let a0 = (k as f32 * 60.0).to_radians();
            let a1 = ((k + 1) as f32 * 60.0).to_radians();
            let u = rng.random_range(0.0f32..1.0);
            let (x, y) = (
                a0.cos() * (1.0 - u) + a1.cos() * u,
                a0.sin() * (1.0 - u) + a1.sin() * u,
            );
            let am = (k as f32 * 60.0 + 30.0).to_radians();
            points.push([x, y, rng.random_range(0.0..h)]);
            normals.push([am.cos(), am.sin(), 0.0]);
        } else {
            let k = rng.random_range(0..6);
            let a = (k as f32 * 60.0).to_radians();
            let phi = rng.random_range(0.0f32..std::f32::consts::TAU);
            points.push([
                0.6 * a.cos() + 0.15 * phi.cos(),
                0.6 * a.sin() + 0.15 * phi.sin(),
                h + rng.random_range(0.0..0.1),
            ]);
            normals.push([phi.cos(), phi.sin(), 0.0]);
        }
    }
    let dense = PointCloud {
        points,
        normals: Some(normals),
        labels: None,
        faces: Vec::new(),
    };
    let group = (0..6)
        .map(|k| axis_angle([0.0, 0.0, 1.0], k as f32 * 60.0))
        .collect();
    Part {
        center: [0.0, 0.0, 0.0],
        dense,
        group,
    }
}

fn subsample(pc: &PointCloud, n: usize, rng: &mut impl Rng) -> PointCloud {
    let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..pc.len())).collect();
    pc.select(&idx)
}

fn target_of(part: &Part, cfg: &RegistrationConfig, rng: &mut impl Rng) -> RegistrationTarget {
    let t = subsample(&part.dense, 15_000, rng);
    RegistrationTarget::new(&t.points, t.normals.as_ref().unwrap(), cfg).unwrap()
}

fn moved(points: &[V3], r: &M3, t: V3) -> Vec<V3> {
    points
        .iter()
        .map(|&p| {
            let q = mul(r, p);
            [q[0] + t[0], q[1] + t[1], q[2] + t[2]]
        })
        .collect()
}

/// Part size: twice the largest distance from the centre (the sampled part sits in the
/// unit sphere, so about 2).
fn size_of(part: &Part) -> f32 {
    2.0 * part
        .dense
        .points
        .iter()
        .map(|&p| dist(p, part.center))
        .fold(0.0, f32::max)
}

fn check_poses(part: &Part, partial: bool, seed: u64, trials: usize) {
    let failures = pose_failures(part, partial, seed, trials, &RegistrationConfig::default());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One line per scan (of `trials` random poses) not recovered to 2° and 1 % of the size.
fn pose_failures(
    part: &Part,
    partial: bool,
    seed: u64,
    trials: usize,
    cfg: &RegistrationConfig,
) -> Vec<String> {
    let cfg = cfg.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let target = target_of(part, &cfg, &mut rng);
    let size = size_of(part);
    let mut failures = Vec::new();
    for trial in 0..trials {
        let mut scan = if partial {
            let view = random_view(None, &mut rng);
            partial_scan(&subsample(&part.dense, 25_000, &mut rng), view, 0.012).unwrap()
        } else {
            subsample(&part.dense, 10_000, &mut rng)
        };
        add_noise(&mut scan, 0.002, &mut rng).unwrap();
        let r = random_rotation(&mut rng);
        let t: V3 = std::array::from_fn(|_| rng.random_range(-0.5f32..0.5));
        let input = moved(&scan.points, &r, t);
        let reg = register(&input, &target, &cfg).unwrap();
        let (deg, off) = error_to_equivalent(&reg, part, &r, t, centroid(&input));
        if !(reg.registered && deg <= 2.0 && off <= 0.01 * size) {
            failures.push(format!(
                "trial {trial}: {deg:.2}° {:.4} of size, registered {} fit {:.3} cov {:.3} rmse {:.4}",
                off / size,
                reg.registered,
                reg.fitness,
                reg.coverage,
                reg.inlier_rmse
            ));
        }
    }
    failures
}

#[test]
fn gear_full_scans_in_20_random_poses_are_recovered() {
    let mut rng = ChaCha8Rng::seed_from_u64(26);
    check_poses(&gear(&mut rng), false, 1, 20);
}

#[test]
fn gear_one_sided_scans_in_20_random_poses_are_recovered() {
    let mut rng = ChaCha8Rng::seed_from_u64(26);
    check_poses(&gear(&mut rng), true, 2, 20);
}

#[test]
fn six_fold_part_is_accepted_in_any_equivalent_pose() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let part = hex_part(&mut rng);
    let cfg = RegistrationConfig::default();
    let target = target_of(&part, &cfg, &mut rng);
    let scan = subsample(&part.dense, 10_000, &mut rng);
    // The same pose turned by each of the six symmetries: every one is a right answer.
    let base = random_rotation(&mut rng);
    for k in 0..6 {
        let r = matmul(&base, &part.group[k]);
        let t = [0.2, -0.1, 0.3];
        let input = moved(&scan.points, &r, t);
        let reg = register(&input, &target, &cfg).unwrap();
        assert!(reg.registered, "turn {k}: {reg:?}");
        let (deg, off) = error_to_equivalent(&reg, &part, &r, t, centroid(&input));
        assert!(deg <= 2.0 && off <= 0.02, "turn {k}: {deg}° {off}");
    }
}

#[test]
fn symmetry_detection_finds_the_known_groups() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let hex = hex_part(&mut rng);
    let sym = Symmetry::detect(&target_of(&hex, &cfg, &mut rng), &cfg);
    assert_eq!(sym.order(), 6, "{}", sym.describe());
    assert!(sym.continuous_axis.is_none());
    let g = gear(&mut rng);
    let sym = Symmetry::detect(&target_of(&g, &cfg, &mut rng), &cfg);
    assert_eq!(sym.order(), 28, "{}", sym.describe());
    // Every detected element is one of the known ones (same rotation part).
    for s in &sym.rotations {
        let best = g
            .group
            .iter()
            .map(|k| angle_deg(&matmul(s, &transpose(k))))
            .fold(f32::INFINITY, f32::min);
        assert!(
            best < 1.0,
            "detected rotation {s:?} is {best}° from the known group"
        );
    }
}

/// A torus (tube radius half the ring radius, outer radius 1) about z, sampled at
/// random, stretched by `sx` along x and `sy` along y, with normals of the stretched
/// surface.
fn torus(sx: f32, sy: f32, n: usize, rng: &mut impl Rng) -> PointCloud {
    let (ring, tube) = (2.0 / 3.0, 1.0 / 3.0);
    let mut points = Vec::with_capacity(n);
    let mut normals = Vec::with_capacity(n);
    while points.len() < n {
        let u = rng.random_range(0.0f32..std::f32::consts::TAU);
        let v = rng.random_range(0.0f32..std::f32::consts::TAU);
        // Area-uniform: keep a draw with probability ∝ the local ring radius.
        if rng.random_range(0.0f32..1.0) * (ring + tube) > ring + tube * v.cos() {
            continue;
        }
        let rho = ring + tube * v.cos();
        points.push([sx * rho * u.cos(), sy * rho * u.sin(), tube * v.sin()]);
        // The normal of a stretched surface is the original one divided by the stretch.
        let m = [v.cos() * u.cos() / sx, v.cos() * u.sin() / sy, v.sin()];
        let l = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).sqrt();
        normals.push(m.map(|c| c / l));
    }
    let mut cloud = PointCloud::from_points(points);
    cloud.normals = Some(normals);
    cloud
}

#[test]
fn a_squeezed_torus_keeps_only_the_symmetries_that_compose() {
    // A round torus: every turn about its axis, and the half-turns about the axes in
    // its plane (one discrete element besides the identity, modulo the turns).
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let round = torus(1.0, 1.0, 15_000, &mut rng);
    let target =
        RegistrationTarget::new(&round.points, round.normals.as_ref().unwrap(), &cfg).unwrap();
    let sym = Symmetry::detect(&target, &cfg);
    let axis = sym
        .continuous_axis
        .expect("a round torus turns about its axis");
    assert!(axis[2].abs() > 0.99, "axis {axis:?}");
    assert_eq!(sym.order(), 2, "{}", sym.describe());
    // Squeezed 3 % (as a training template's scale jitter leaves it): small turns about
    // the axis still fit within the tolerance one by one, but their sums do not, so
    // they are no symmetry. What composes is a D2: the half-turn about z and two
    // half-turns about perpendicular axes in the plane. Which two is only known to
    // within the turns the tolerance allows (the principal axes of a nearly round
    // ring are themselves uncertain by degrees), so the test asks for the half-turn
    // about z and for half-turns only, not for the x and y axes.
    let squeezed = torus(0.985, 1.015, 15_000, &mut rng);
    let target =
        RegistrationTarget::new(&squeezed.points, squeezed.normals.as_ref().unwrap(), &cfg)
            .unwrap();
    let sym = Symmetry::detect(&target, &cfg);
    assert!(sym.continuous_axis.is_none(), "{}", sym.describe());
    assert_eq!(sym.order(), 4, "{}", sym.describe());
    let half_turn_z = axis_angle([0.0, 0.0, 1.0], 180.0);
    assert!(
        sym.rotations
            .iter()
            .any(|s| angle_deg(&matmul(s, &transpose(&half_turn_z))) < 1.0),
        "no half-turn about the axis in {:?}",
        sym.rotations
    );
    for s in &sym.rotations[1..] {
        let a = angle_deg(s);
        assert!(
            (a - 180.0).abs() < 1.0,
            "{s:?} turns by {a}°, not a half-turn"
        );
    }
}

#[test]
fn a_bulge_defect_does_not_pull_the_pose() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let part = hex_part(&mut rng);
    let cfg = RegistrationConfig::default();
    let target = target_of(&part, &cfg, &mut rng);
    let scan = subsample(&part.dense, 10_000, &mut rng);
    let size = size_of(&part);
    // A smooth bump on a side face: height 5 % of the size over a patch of radius 0.25.
    let normals = scan.normals.clone().unwrap();
    // The middle of the side face between the corners at 0° and 60°.
    let anchor = [0.75, 0.433, 0.2];
    let height = 0.05 * size;
    let bulged: Vec<V3> = scan
        .points
        .iter()
        .zip(&normals)
        .map(|(&p, n)| {
            let d = dist(p, anchor) / 0.25;
            if d >= 1.0 {
                return p;
            }
            let w = height * (1.0 - d * d) * (1.0 - d * d);
            [p[0] + w * n[0], p[1] + w * n[1], p[2] + w * n[2]]
        })
        .collect();
    let moved_count = bulged
        .iter()
        .zip(&scan.points)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        moved_count > 100,
        "the bulge moved only {moved_count} points"
    );
    let r = random_rotation(&mut rng);
    let t = [0.1, 0.2, -0.3];
    let clean = register(&moved(&scan.points, &r, t), &target, &cfg).unwrap();
    let defect = register(&moved(&bulged, &r, t), &target, &cfg).unwrap();
    assert!(
        clean.registered && defect.registered,
        "{clean:?}\n{defect:?}"
    );
    let at = centroid(&moved(&scan.points, &r, t));
    let (d_clean, _) = error_to_equivalent(&clean, &part, &r, t, at);
    let (d_defect, off) = error_to_equivalent(&defect, &part, &r, t, at);
    assert!(d_clean <= 0.5, "clean scan off by {d_clean}°");
    assert!(
        d_defect <= 0.5,
        "the bulge moved the pose by {d_defect}° ({off})"
    );
}

/// The dev benchmark's real gear mesh (`gears.stl`) is only *nearly* symmetric: turned
/// by some teeth about its axis it lies on itself to within a few per cent of its
/// points, so the features match the wrong teeth about half the time on one-sided
/// views (notes/registration.md, session 9). Its only exact symmetry is the identity, so every view must come
/// back to the pose the test applied.
#[test]
fn a_nearly_symmetric_real_gear_lands_on_its_true_pose_from_one_sided_views() {
    let Some(path) = shared::shared("data/meshes/gears.stl") else {
        return;
    };
    let mut mesh = po3ad_core::io::read(&path).unwrap();
    normalize_unit_sphere(&mut mesh).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(261);
    let dense = sample_surface(&mesh, 60_000, &mut rng).unwrap();
    let part = Part {
        center: centroid(&dense.points),
        dense,
        group: vec![axis_angle([0.0, 0.0, 1.0], 0.0)],
    };
    // With `near_symmetries: false`, 4 of these 8 views land 66–180° off (checked when
    // the test was written); with them, at most one may.
    let failures = pose_failures(&part, true, 262, 8, &RegistrationConfig::default());
    assert!(failures.len() <= 1, "{}", failures.join("\n"));
}

/// Views looking down into the real vase (a hollow turned part). Each feature match is
/// right only up to a turn about the axis, so plain RANSAC rarely draws three matches
/// at one azimuth and found the vase only upside down (3 of these 4 views with
/// `turned_search: false`, checked when the test was written); the turned-part search
/// lets each match turn about the template's axis. Judged about that axis (any turn
/// about it is equivalent): each registered point's radius and height against its
/// true ones.
#[test]
fn views_down_into_a_vase_register() {
    let Some(path) = shared::shared("data/meshes/Vase.stl") else {
        return;
    };
    let mut mesh = po3ad_core::io::read(&path).unwrap();
    normalize_unit_sphere(&mut mesh).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2618);
    let dense = sample_surface(&mesh, 60_000, &mut rng).unwrap();
    let center = centroid(&dense.points);
    let cfg = RegistrationConfig::default();
    let t = subsample(&dense, 15_000, &mut rng);
    let target = RegistrationTarget::new(&t.points, t.normals.as_ref().unwrap(), &cfg).unwrap();
    let size = 2.0
        * dense
            .points
            .iter()
            .map(|&p| dist(p, center))
            .fold(0.0, f32::max);
    // Radius about the vase's axis (z through the centre) and height along it.
    let rz = |p: V3| {
        let d = [p[0] - center[0], p[1] - center[1], p[2] - center[2]];
        ((d[0] * d[0] + d[1] * d[1]).sqrt(), d[2])
    };
    let mut failures = Vec::new();
    for trial in 0..4 {
        // Within ~11° of straight down the axis.
        let tilt = rng.random_range(0.0f32..0.2);
        let phi = rng.random_range(0.0..std::f32::consts::TAU);
        let view = [tilt * phi.cos(), tilt * phi.sin(), 1.0];
        let mut scan = partial_scan(&subsample(&dense, 25_000, &mut rng), view, 0.012).unwrap();
        add_noise(&mut scan, 0.002, &mut rng).unwrap();
        let r = random_rotation(&mut rng);
        let t: V3 = std::array::from_fn(|_| rng.random_range(-0.5f32..0.5));
        let input = moved(&scan.points, &r, t);
        let reg = register(&input, &target, &cfg).unwrap();
        let off = scan
            .points
            .iter()
            .zip(&input)
            .map(|(&truth, &p)| {
                let (r0, z0) = rz(truth);
                let (r1, z1) = rz(reg.apply(p));
                ((r1 - r0).powi(2) + (z1 - z0).powi(2)).sqrt()
            })
            .sum::<f32>()
            / scan.len() as f32;
        if !(reg.registered && off <= 0.01 * size) {
            failures.push(format!(
                "trial {trial}: mean offset {:.4} of size, registered {} fit {:.3} cov {:.3}",
                off / size,
                reg.registered,
                reg.fitness,
                reg.coverage
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A noisy one-sided view of the dev benchmark's gear in a random pose (its hard track:
/// `po3ad synth --layout real3d --partial --pose random --noise 0.002 --severity 0,0.5
/// --seed 1` on `gears.stl`, scan `8_bulge`, the template sampled as `register_eval`
/// samples it). Its global poses all came out off by two of the template's
/// near-symmetries, so the best composition with one of them still lands 147° about
/// the gear's axis from the truth (with `near_symmetry_rounds: 1`, checked when the
/// test was written); only composing again reaches it.
#[test]
fn a_gear_view_two_near_symmetries_off_lands_on_its_true_pose() {
    use po3ad_core::frame::TrainingFrame;
    use po3ad_core::geometry::ensure_normals;
    use po3ad_core::synth::{write_category, SynthConfig, SynthLayout};
    let Some(path) = shared::shared("data/meshes/gears.stl") else {
        return;
    };
    let mesh = po3ad_core::io::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let synth = SynthConfig {
        seed: 1,
        partial: true,
        test_pose_deg: 180.0,
        noise_sigma: 0.002,
        severity: [0.0, 0.5],
        ..SynthConfig::default()
    };
    let man = write_category(&mesh, "gears", dir.path(), SynthLayout::Real3d, &synth).unwrap();
    let template = po3ad_core::io::read(&dir.path().join(&man.templates[0].files[0])).unwrap();
    // register_eval's template: 20k samples, seeded by FNV-1a of "hard/gears".
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "hard/gears".bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut template =
        sample_surface(&template, 20_000, &mut ChaCha8Rng::seed_from_u64(h)).unwrap();
    ensure_normals(&mut template, 10).unwrap();
    let frame = TrainingFrame::from_template(&template).unwrap();
    let cfg = RegistrationConfig::default();
    let target = RegistrationTarget::new(&frame.points, &frame.normals, &cfg).unwrap();
    let test = man
        .tests
        .iter()
        .find(|t| t.file.ends_with("8_bulge.pcd"))
        .unwrap();
    let scan = po3ad_core::io::read(&dir.path().join(&test.file)).unwrap();
    let placed: Vec<V3> = scan.points.iter().map(|&p| frame.to_training(p)).collect();
    let reg = register(&placed, &target, &cfg).unwrap();
    // The truth, from the manifest. The scan's file point f = s·x + o is the canonical
    // part's point c moved by the test pose, f = P·c + u; the template is the part
    // turned and scaled per axis, D·(Rot·c), and its training point is that less o,
    // over s.
    let pose = test.pose.as_ref().unwrap();
    let tm = &man.templates[0];
    let rot = axis_angle(tm.rotation_axis, tm.rotation_deg);
    let (s, o) = (frame.scale, frame.origin);
    let size = po3ad_core::registration::part_size(&target);
    let mut worst = 0.0f32;
    for &x in placed.iter().step_by(50) {
        let f: V3 = std::array::from_fn(|i| s * x[i] + o[i] - pose.translation[i]);
        let turned = mul(&rot, mul(&transpose(&pose.rotation), f));
        let want = std::array::from_fn(|i| (tm.scale[i] * turned[i] - o[i]) / s);
        worst = worst.max(dist(reg.apply(x), want));
    }
    // The template's scale jitter (≤ 2 %) alone leaves about 1 % of the size; 147°
    // about the axis moves the rim by about the part's size.
    assert!(
        reg.registered && worst <= 0.03 * size,
        "worst point off by {:.3} of the size, registered {} fit {:.3} cov {:.3}",
        worst / size,
        reg.registered,
        reg.fitness,
        reg.coverage
    );
}
