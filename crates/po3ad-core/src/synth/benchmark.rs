//! Writing a synthetic benchmark category: training templates (perturbed, subdivided
//! copies of the normalized mesh) and test clouds (fresh surface samples, some with a
//! defect), in the Anomaly-ShapeNet or Real3D-AD folder layout, plus `manifest.json`
//! and `poses.csv` (every test cloud's true pose, identity when not posed; see
//! [`super::pose::write_poses_csv`]).
//!
//! Determinism: every output file draws from its own ChaCha8 stream keyed by the seed,
//! the category name and the file's index, so the same seed gives identical bytes
//! whatever the thread count.

use super::defects::{apply_defect, sample_defect, Defect, DefectKind};
use super::mesh_check::{edge_report, signed_volume, surface_area, validate_mesh, EdgeReport};
use super::obj::write_obj;
use super::pose::{random_pose, RigidPose};
use super::scan::{add_noise, partial_scan, random_view};
use super::scene::{scan_scene, SceneConfig, SceneEntry};
use super::shapes::{builtin, BUILTIN_SHAPES};
use super::vec3::{normalize_or, rotate, V3};
use crate::geometry::{sample_surface, subdivide_to, vertex_normals};
use crate::io::{self, atomic::write_atomic_with, PcdData};
use crate::{Error, PointCloud, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Fewest labelled points an anomalous test file may have; a defect that ends up
/// (nearly) invisible, e.g. on the far side of a partial scan, is drawn again.
const MIN_ANOMALOUS_POINTS: usize = 10;
/// How often a defect is redrawn before the category is given up.
const DEFECT_TRIES: usize = 20;

/// What to generate. All sizes are in unit-sphere units (the mesh is normalized first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    pub seed: u64,
    /// Training templates written.
    pub n_train: usize,
    /// Templates are midpoint-subdivided until they have at least this many vertices.
    pub template_min_vertices: usize,
    /// Largest random rotation of a template, degrees (templates differ slightly).
    pub template_rotation_deg: f32,
    /// Largest relative per-axis scale change of a template.
    pub template_scale_jitter: f32,
    /// Points sampled per test cloud (before a defect or partial scan removes some).
    pub n_test_points: usize,
    /// Normal test clouds.
    pub n_good: usize,
    /// Anomalous test clouds per defect kind.
    pub n_per_defect: usize,
    pub defects: Vec<DefectKind>,
    /// Severity range `[lo, hi]` within `[0, 1]`, drawn uniformly per defect.
    pub severity: [f32; 2],
    /// Gaussian sensor noise added to test points, per coordinate.
    pub noise_sigma: f32,
    /// One-sided scans from a random viewpoint (Real3D-AD style) instead of the
    /// whole surface.
    pub partial: bool,
    /// Largest rotation of a test cloud (and its GT rows), degrees: 0 keeps the
    /// canonical (training) pose, 180 or more draws uniformly over SO(3). Each test
    /// file has its own pose stream, so the clouds equal the canonical ones up to it.
    pub test_pose_deg: f32,
    /// Largest translation of a test cloud (unit-sphere units) when it is posed.
    pub test_pose_shift: f32,
    /// Scans of the part on a table with a fixture and other objects, in mm, one-sided
    /// and in any pose (`synth::scene`); replaces `partial` and `test_pose_deg`.
    pub scene: Option<SceneConfig>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            n_train: 4,
            template_min_vertices: 12_000,
            template_rotation_deg: 3.0,
            template_scale_jitter: 0.02,
            n_test_points: 16_000,
            n_good: 8,
            n_per_defect: 2,
            defects: DefectKind::ALL.to_vec(),
            severity: [0.0, 1.0],
            noise_sigma: 0.0,
            partial: false,
            test_pose_deg: 0.0,
            test_pose_shift: 0.5,
            scene: None,
        }
    }
}

/// Folder layout of the written benchmark (see the workspace SPEC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SynthLayout {
    /// `obj/<cat>/<cat>_template<i>.obj`, `pcd/<cat>/{train,test,GT}/…`.
    #[serde(rename = "anomaly-shapenet")]
    AnomalyShapeNet,
    /// `Real3D-AD-PLY/<cat>/<cat>_template<i>.ply`, `Real3D-AD-PCD/<cat>/{test,gt}/…`.
    #[serde(rename = "real3d")]
    Real3d,
}

impl fmt::Display for SynthLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SynthLayout::AnomalyShapeNet => "anomaly-shapenet",
            SynthLayout::Real3d => "real3d",
        })
    }
}

impl FromStr for SynthLayout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "anomaly-shapenet" | "anomalyshapenet" | "shapenet" => Ok(SynthLayout::AnomalyShapeNet),
            "real3d" | "real3d-ad" | "real3dad" => Ok(SynthLayout::Real3d),
            other => Err(Error::Invalid(format!(
                "unknown layout '{other}' (known: anomaly-shapenet, real3d)"
            ))),
        }
    }
}

/// The input mesh as used: sizes after normalization to the unit sphere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshSummary {
    pub vertices: usize,
    pub faces: usize,
    /// The input's vertex centroid and the distance divided by to normalize it.
    pub centroid: V3,
    pub scale: f32,
    /// Surface area after normalization.
    pub area: f64,
    pub edges: EdgeReport,
    /// The faces were wound inward (negative enclosed volume) and were flipped.
    pub flipped: bool,
    /// Vertices merged into an earlier vertex at exactly the same position (exports
    /// that split vertices per face or per texture seam).
    pub welded_vertices: usize,
    /// Faces dropped because another face had the same three vertices (double-sided
    /// exports list every triangle twice, once per winding).
    pub duplicate_faces: usize,
    /// Vertices dropped because no face uses them (they would have no normal, and
    /// training uses template vertices).
    pub unreferenced_vertices: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateEntry {
    /// Paths relative to the output folder, `/`-separated.
    pub files: Vec<String>,
    pub vertices: usize,
    pub faces: usize,
    pub rotation_axis: V3,
    pub rotation_deg: f32,
    pub scale: V3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestEntry {
    /// The test cloud, relative to the output folder.
    pub file: String,
    /// Its ground truth (anomalous files only).
    pub gt: Option<String>,
    /// `None` for a normal sample.
    pub defect: Option<Defect>,
    /// Camera direction of a partial scan.
    pub view: Option<V3>,
    /// The rigid pose applied to a free-pose test cloud (`p_file = R p + t`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<RigidPose>,
    pub n_points: usize,
    pub n_anomalous: usize,
    /// Points removed by a hole or break, and added on a fracture face.
    pub n_removed: usize,
    pub n_added: usize,
    /// A scene scan: which points are the part, units, the part's pose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<SceneEntry>,
}

/// Everything written for one category; saved as `manifest.json` in the category's
/// test-side folder (`pcd/<cat>/` or `Real3D-AD-PCD/<cat>/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub category: String,
    pub layout: SynthLayout,
    pub seed: u64,
    pub config: SynthConfig,
    pub mesh: MeshSummary,
    pub templates: Vec<TemplateEntry>,
    pub tests: Vec<TestEntry>,
    /// The manifest's own path, relative to the output folder.
    pub manifest: String,
}

/// The RNG for output file `stream` of `category`: independent of every other file.
fn file_rng(seed: u64, category: &str, stream: u64) -> ChaCha8Rng {
    // FNV-1a: a fixed, platform-independent hash of the name (std's hasher is not
    // guaranteed stable across releases).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in category.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ h);
    rng.set_stream(stream);
    rng
}

fn check_config(cfg: &SynthConfig) -> Result<()> {
    let [lo, hi] = cfg.severity;
    if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo > hi {
        return Err(Error::Invalid(format!(
            "severity range [{lo}, {hi}] must lie within [0, 1] with lo <= hi"
        )));
    }
    if !cfg.noise_sigma.is_finite() || cfg.noise_sigma < 0.0 {
        return Err(Error::Invalid(format!(
            "noise sigma must be >= 0, got {}",
            cfg.noise_sigma
        )));
    }
    if !cfg.test_pose_deg.is_finite()
        || cfg.test_pose_deg < 0.0
        || !cfg.test_pose_shift.is_finite()
        || cfg.test_pose_shift < 0.0
    {
        return Err(Error::Invalid(format!(
            "test pose bounds must be finite and >= 0, got {} degrees and shift {}",
            cfg.test_pose_deg, cfg.test_pose_shift
        )));
    }
    if cfg.n_test_points < 100 {
        return Err(Error::Invalid(format!(
            "n_test_points = {} is too few for a test cloud (need >= 100)",
            cfg.n_test_points
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "category name '{name}' is not usable as a folder name"
        )));
    }
    Ok(())
}

/// Translate to the vertex centroid and scale so the farthest vertex is at distance 1.
fn normalize(mesh: &PointCloud) -> Result<(PointCloud, V3, f32)> {
    let n = mesh.points.len() as f64;
    let mut c = [0f64; 3];
    for p in &mesh.points {
        for a in 0..3 {
            c[a] += f64::from(p[a]) / n;
        }
    }
    let centroid = c.map(|x| x as f32);
    let scale = mesh
        .points
        .iter()
        .map(|p| super::vec3::norm(super::vec3::sub(*p, centroid)))
        .fold(0.0f32, f32::max);
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(Error::Invalid("mesh has zero extent".into()));
    }
    let points = mesh
        .points
        .iter()
        .map(|p| [0, 1, 2].map(|a| (p[a] - centroid[a]) / scale))
        .collect();
    Ok((
        PointCloud {
            points,
            normals: None,
            labels: None,
            faces: mesh.faces.clone(),
        },
        centroid,
        scale,
    ))
}

/// Merge vertices with bit-identical coordinates into their first occurrence and drop
/// faces that collapse (two equal corners); returns how many vertices were merged.
/// The map is only queried, so the result does not depend on hash order.
fn weld_identical_vertices(mesh: &mut PointCloud) -> usize {
    let mut first: std::collections::HashMap<[u32; 3], u32> =
        std::collections::HashMap::with_capacity(mesh.points.len());
    let remap: Vec<u32> = mesh
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| *first.entry(p.map(f32::to_bits)).or_insert(i as u32))
        .collect();
    let merged = mesh.points.len() - first.len();
    for f in &mut mesh.faces {
        *f = f.map(|v| remap.get(v as usize).copied().unwrap_or(v));
    }
    mesh.faces
        .retain(|f| f[0] != f[1] && f[1] != f[2] && f[0] != f[2]);
    merged
}

/// Drop every face whose vertex set already appeared (in either winding), keeping the
/// first; returns how many were dropped.
fn remove_duplicate_faces(mesh: &mut PointCloud) -> usize {
    let before = mesh.faces.len();
    let mut seen = std::collections::HashSet::with_capacity(before);
    mesh.faces.retain(|f| {
        let mut key = *f;
        key.sort_unstable();
        seen.insert(key)
    });
    before - mesh.faces.len()
}

/// Remove vertices no face refers to, renumbering the faces; returns how many.
fn drop_unreferenced_vertices(mesh: &mut PointCloud) -> usize {
    let mut new_index = vec![u32::MAX; mesh.points.len()];
    for f in &mesh.faces {
        for &v in f {
            new_index[v as usize] = 0;
        }
    }
    let mut points = Vec::with_capacity(mesh.points.len());
    for (i, slot) in new_index.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = points.len() as u32;
            points.push(mesh.points[i]);
        }
    }
    let dropped = mesh.points.len() - points.len();
    for f in &mut mesh.faces {
        *f = f.map(|v| new_index[v as usize]);
    }
    mesh.points = points;
    dropped
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

fn rel(out: &Path, path: &Path) -> String {
    let r = path.strip_prefix(out).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Folders of one category in one layout.
struct Folders {
    /// Training files: `obj/<cat>` or `Real3D-AD-PLY/<cat>`.
    templates: PathBuf,
    /// `pcd/<cat>/train` (Anomaly-ShapeNet only).
    train: Option<PathBuf>,
    test: PathBuf,
    gt: PathBuf,
    /// Where `manifest.json` goes.
    category: PathBuf,
}

impl Folders {
    fn new(out: &Path, name: &str, layout: SynthLayout) -> Self {
        match layout {
            SynthLayout::AnomalyShapeNet => {
                let cat = out.join("pcd").join(name);
                Folders {
                    templates: out.join("obj").join(name),
                    train: Some(cat.join("train")),
                    test: cat.join("test"),
                    gt: cat.join("GT"),
                    category: cat,
                }
            }
            SynthLayout::Real3d => {
                let cat = out.join("Real3D-AD-PCD").join(name);
                Folders {
                    templates: out.join("Real3D-AD-PLY").join(name),
                    train: None,
                    test: cat.join("test"),
                    gt: cat.join("gt"),
                    category: cat,
                }
            }
        }
    }
}

/// Write one benchmark category made from `mesh` under `out` in `layout`.
///
/// The mesh is rejected (with the reason) when it has no faces, fewer than 4
/// vertices, non-finite coordinates, out-of-range face indices or (near) zero area.
pub fn write_category(
    mesh: &PointCloud,
    name: &str,
    out: &Path,
    layout: SynthLayout,
    cfg: &SynthConfig,
) -> Result<Manifest> {
    check_name(name)?;
    check_config(cfg)?;
    validate_mesh(mesh).map_err(|e| Error::Invalid(format!("mesh '{name}' rejected: {e}")))?;
    let mut clean = mesh.clone();
    let welded_vertices = weld_identical_vertices(&mut clean);
    let duplicate_faces = remove_duplicate_faces(&mut clean);
    let unreferenced_vertices = drop_unreferenced_vertices(&mut clean);
    let (mut base, centroid, scale) = normalize(&clean)?;
    // Files from the wild are sometimes wound inside out; normals (and so bulges and
    // scan visibility) must point outward.
    let flipped = signed_volume(&base) < 0.0;
    if flipped {
        for f in &mut base.faces {
            f.swap(1, 2);
        }
    }
    let edges = edge_report(&base);
    let area = surface_area(&base);
    let folders = Folders::new(out, name, layout);
    for dir in [
        &folders.templates,
        &folders.test,
        &folders.gt,
        &folders.category,
    ] {
        create_dir(dir)?;
    }
    if let Some(train) = &folders.train {
        create_dir(train)?;
    }

    let templates = (0..cfg.n_train)
        .into_par_iter()
        .map(|i| write_template(&base, name, i, out, &folders, layout, cfg))
        .collect::<Result<Vec<_>>>()?;

    // Anomaly-ShapeNet names tests `<cat>_positive<i>` / `<cat>_<defect><i>`; Real3D-AD
    // numbers them across the category, `<n>_good` / `<n>_<defect>`.
    let mut kinds: Vec<Option<DefectKind>> = vec![None; cfg.n_good];
    for &kind in &cfg.defects {
        kinds.extend(std::iter::repeat_n(Some(kind), cfg.n_per_defect));
    }
    let mut per_kind: std::collections::BTreeMap<Option<DefectKind>, usize> = Default::default();
    let jobs: Vec<(String, Option<DefectKind>)> = kinds
        .iter()
        .enumerate()
        .map(|(n, &kind)| {
            let word = kind.map_or(
                match layout {
                    SynthLayout::AnomalyShapeNet => "positive",
                    SynthLayout::Real3d => "good",
                },
                DefectKind::name,
            );
            let i = per_kind.entry(kind).or_default();
            let stem = match layout {
                SynthLayout::AnomalyShapeNet => format!("{name}_{word}{i}"),
                SynthLayout::Real3d => format!("{n}_{word}"),
            };
            *i += 1;
            (stem, kind)
        })
        .collect();
    // A closed mesh lets a break show its fracture face; an open one cannot say
    // where its inside is.
    let fill_mesh = edges.is_closed().then_some(&base);
    let spacing = (area / cfg.n_test_points as f64).sqrt() as f32;
    let tests = jobs
        .par_iter()
        .enumerate()
        .map(|(j, (stem, kind))| {
            let mut rng = file_rng(cfg.seed, name, (1 << 32) + j as u64);
            let mut test = make_test(&base, fill_mesh, *kind, spacing, cfg, &mut rng)
                .map_err(|e| Error::Invalid(format!("{name}: {stem}: {e}")))?;
            if cfg.test_pose_deg > 0.0 && cfg.scene.is_none() {
                // A stream of its own: the posed cloud is the canonical one, moved.
                let mut pose_rng = file_rng(cfg.seed, name, (2 << 32) + j as u64);
                let pose = random_pose(cfg.test_pose_deg, cfg.test_pose_shift, &mut pose_rng);
                for p in &mut test.cloud.points {
                    *p = pose.apply(*p);
                }
                test.pose = Some(pose);
            }
            write_test(test, stem, out, &folders, layout)
        })
        .collect::<Result<Vec<_>>>()?;

    super::pose::write_poses_csv(
        &folders.category.join(super::pose::POSES_CSV),
        tests
            .iter()
            .map(|t| (t.file.as_str(), t.pose.unwrap_or_else(RigidPose::identity))),
    )?;
    let manifest_path = folders.category.join("manifest.json");
    let manifest = Manifest {
        category: name.to_string(),
        layout,
        seed: cfg.seed,
        config: cfg.clone(),
        mesh: MeshSummary {
            vertices: mesh.points.len(),
            faces: mesh.faces.len(),
            centroid,
            scale,
            area,
            edges,
            flipped,
            welded_vertices,
            duplicate_faces,
            unreferenced_vertices,
        },
        templates,
        tests,
        manifest: rel(out, &manifest_path),
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
    io::atomic::write_atomic(&manifest_path, &json)?;
    Ok(manifest)
}

fn write_template(
    base: &PointCloud,
    name: &str,
    i: usize,
    out: &Path,
    folders: &Folders,
    layout: SynthLayout,
    cfg: &SynthConfig,
) -> Result<TemplateEntry> {
    let mut rng = file_rng(cfg.seed, name, i as u64);
    let axis = normalize_or(
        [0, 1, 2].map(|_| rng.random_range(-1.0f32..1.0)),
        [0.0, 0.0, 1.0],
    );
    let max_deg = cfg.template_rotation_deg.abs();
    let deg = if max_deg > 0.0 {
        rng.random_range(-max_deg..=max_deg)
    } else {
        0.0
    };
    let jitter = cfg.template_scale_jitter.abs();
    let scale = [0, 1, 2].map(|_| {
        if jitter > 0.0 {
            1.0 + rng.random_range(-jitter..=jitter)
        } else {
            1.0
        }
    });
    let mut mesh = base.clone();
    for p in &mut mesh.points {
        let r = rotate(*p, axis, deg.to_radians());
        *p = [r[0] * scale[0], r[1] * scale[1], r[2] * scale[2]];
    }
    let mut mesh = subdivide_to(&mesh, cfg.template_min_vertices);
    let stem = format!("{name}_template{i}");
    let mut files = Vec::new();
    match layout {
        SynthLayout::AnomalyShapeNet => {
            let obj = folders.templates.join(format!("{stem}.obj"));
            write_obj(&obj, &mesh)?;
            files.push(rel(out, &obj));
            if let Some(train) = &folders.train {
                let pcd = train.join(format!("{stem}.pcd"));
                io::write_pcd(
                    &pcd,
                    &PointCloud::from_points(mesh.points.clone()),
                    PcdData::Ascii,
                )?;
                files.push(rel(out, &pcd));
            }
        }
        SynthLayout::Real3d => {
            mesh.normals = Some(vertex_normals(&mesh.points, &mesh.faces));
            let ply = folders.templates.join(format!("{stem}.ply"));
            io::write_ply(&ply, &mesh, None, true)?;
            files.push(rel(out, &ply));
        }
    }
    Ok(TemplateEntry {
        files,
        vertices: mesh.points.len(),
        faces: mesh.faces.len(),
        rotation_axis: axis,
        rotation_deg: deg,
        scale,
    })
}

/// A generated test cloud before it is written.
struct TestCloud {
    cloud: PointCloud,
    defect: Option<Defect>,
    view: Option<V3>,
    pose: Option<RigidPose>,
    n_removed: usize,
    n_added: usize,
    scene: Option<SceneEntry>,
}

fn make_test<R: Rng>(
    base: &PointCloud,
    fill_mesh: Option<&PointCloud>,
    kind: Option<DefectKind>,
    spacing: f32,
    cfg: &SynthConfig,
    rng: &mut R,
) -> Result<TestCloud> {
    let sampled = sample_surface(base, cfg.n_test_points, rng)?;
    let mut last_count = 0;
    for _ in 0..DEFECT_TRIES {
        let mut test = match kind {
            None => {
                let mut cloud = sampled.clone();
                cloud.labels = Some(vec![0; cloud.points.len()]);
                TestCloud {
                    cloud,
                    defect: None,
                    view: None,
                    pose: None,
                    n_removed: 0,
                    n_added: 0,
                    scene: None,
                }
            }
            Some(kind) => {
                let [lo, hi] = cfg.severity;
                let severity = if hi > lo {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                };
                let defect = sample_defect(kind, severity, &sampled, rng)?;
                let outcome = apply_defect(&defect.shape, &sampled, fill_mesh)?;
                TestCloud {
                    cloud: outcome.cloud,
                    defect: Some(defect),
                    view: None,
                    pose: None,
                    n_removed: outcome.n_removed,
                    n_added: outcome.n_added,
                    scene: None,
                }
            }
        };
        if let Some(scene_cfg) = &cfg.scene {
            let anchor = test.defect.as_ref().map(|d| d.anchor_normal);
            let (cloud, entry) = scan_scene(
                &test.cloud,
                anchor,
                spacing,
                cfg.noise_sigma,
                scene_cfg,
                rng,
            )?;
            test.cloud = cloud;
            test.view = Some(entry.view);
            test.scene = Some(entry);
            let anomalous = count_anomalous(&test.cloud);
            if kind.is_none() || anomalous >= MIN_ANOMALOUS_POINTS {
                return Ok(test);
            }
            last_count = anomalous;
            continue;
        }
        if cfg.partial {
            let target = test.defect.as_ref().map(|d| d.anchor_normal);
            let view = random_view(target, rng);
            test.cloud = partial_scan(&test.cloud, view, spacing)?;
            test.view = Some(view);
        }
        let anomalous = count_anomalous(&test.cloud);
        if kind.is_none() || anomalous >= MIN_ANOMALOUS_POINTS {
            add_noise(&mut test.cloud, cfg.noise_sigma, rng)?;
            return Ok(test);
        }
        last_count = anomalous;
    }
    Err(Error::Invalid(format!(
        "no defect with at least {MIN_ANOMALOUS_POINTS} labelled points in {DEFECT_TRIES} tries \
         (last had {last_count}); the mesh may be too thin or n_test_points too small"
    )))
}

fn count_anomalous(cloud: &PointCloud) -> usize {
    cloud
        .labels
        .as_ref()
        .map_or(0, |l| l.iter().filter(|&&x| x == 1).count())
}

fn write_test(
    test: TestCloud,
    stem: &str,
    out: &Path,
    folders: &Folders,
    layout: SynthLayout,
) -> Result<TestEntry> {
    // Test files hold coordinates only, as the benchmarks ship them; labels live in GT.
    let xyz = PointCloud::from_points(test.cloud.points.clone());
    let pcd = folders.test.join(format!("{stem}.pcd"));
    let gt_path = folders.gt.join(format!("{stem}.txt"));
    let anomalous = test.defect.is_some();
    match layout {
        SynthLayout::AnomalyShapeNet => {
            io::write_pcd(&pcd, &xyz, PcdData::Ascii)?;
            if anomalous {
                io::write_gt(&gt_path, &test.cloud)?;
            }
        }
        SynthLayout::Real3d => {
            io::write_pcd(&pcd, &xyz, PcdData::Binary)?;
            if anomalous {
                write_gt_spaces(&gt_path, &test.cloud)?;
            }
        }
    }
    Ok(TestEntry {
        file: rel(out, &pcd),
        gt: anomalous.then(|| rel(out, &gt_path)),
        n_points: test.cloud.points.len(),
        n_anomalous: count_anomalous(&test.cloud),
        n_removed: test.n_removed,
        n_added: test.n_added,
        defect: test.defect,
        view: test.view,
        pose: test.pose,
        scene: test.scene,
    })
}

/// Real3D-AD ground truth: whitespace-separated `x y z label` rows.
fn write_gt_spaces(path: &Path, cloud: &PointCloud) -> Result<()> {
    write_atomic_with(path, |w| {
        for (i, p) in cloud.points.iter().enumerate() {
            let l = cloud.labels.as_ref().map_or(0, |l| l[i]);
            writeln!(w, "{} {} {} {}", p[0], p[1], p[2], l)?;
        }
        Ok(())
    })
}

/// Write one category per built-in shape (all of [`BUILTIN_SHAPES`] when `shapes` is
/// empty), named after the shape.
pub fn write_builtin_benchmark(
    out: &Path,
    layout: SynthLayout,
    cfg: &SynthConfig,
    shapes: &[&str],
) -> Result<Vec<Manifest>> {
    let names: Vec<&str> = if shapes.is_empty() {
        BUILTIN_SHAPES.to_vec()
    } else {
        shapes.to_vec()
    };
    names
        .iter()
        .map(|&name| {
            let mesh = builtin(name).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown built-in shape '{name}' (known: {})",
                    BUILTIN_SHAPES.join(", ")
                ))
            })?;
            write_category(&mesh, name, out, layout, cfg)
        })
        .collect()
}
