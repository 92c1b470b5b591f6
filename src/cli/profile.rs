//! `po3ad profile`: time training steps on the CPU by phase — data preparation (Norm-AS
//! views: copy, rotation, normalisation, patch split; collation: voxelisation), forward
//! (with the loss), backward, optimiser step — and one checkpoint write, for one or more
//! presets' networks, on a built-in synthetic shape. Needs no files.
//!
//! Each preset runs twice from the same seed: `serial` prepares every batch on the
//! training thread between steps (the loop before batch prefetching), `pipelined` is
//! what `po3ad train` does now (the next batch is prepared on a worker thread during the
//! step). Both see the same batches, so their losses must agree bit for bit; the
//! command checks that and prints the ratio of the two throughputs measured in the
//! same process, which is the robust number on a noisy machine.

use crate::device::CpuTrainBackend;
use crate::model::minkunet::kernel_map_keys;
use crate::model::{offset_loss, ModelConfig, Po3adNet};
use crate::train::checkpoint::CheckpointMeta;
use crate::train::data::prepare_training_cloud;
use crate::train::fit::{BatchSource, Prefetch, PreparedBatch};
use crate::train::{Checkpoint, Preset, TrainSample};
use anyhow::Context;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::{Backend, ElementConversion, Tensor, TensorData};
use po3ad_sparse::CoordinateManager;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad profile                                 # cpu and paper networks, 4 clouds per step
  po3ad profile --preset cpu --steps 8
  RAYON_NUM_THREADS=2 po3ad profile --preset paper --batch-size 4 --points 15000")]
pub struct ProfileArgs {
    /// Presets whose network and data settings to profile (built-in names or TOML files).
    #[arg(long, value_delimiter = ',', default_value = "cpu,paper")]
    pub preset: Vec<String>,
    /// Clouds per step (default 4 for every preset: `paper`'s 32 takes minutes per step
    /// on a CPU).
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Training templates: surface samples of the shape, each drawn afresh.
    #[arg(long, default_value_t = 4)]
    pub samples: usize,
    /// Points per template.
    #[arg(long, default_value_t = 15000)]
    pub points: usize,
    /// Built-in shape (vase, bottle, cup, bowl, plate, gear); `--shape` is the old
    /// spelling.
    #[arg(long = "builtin", alias = "shape", default_value = "vase")]
    pub shape: String,
    /// Timed steps per mode.
    #[arg(long, default_value_t = 4)]
    pub steps: usize,
    /// Untimed steps first (allocator and cache warm-up).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Rounds of the two modes, alternating which goes first (serial, pipelined, then
    /// pipelined, serial, ...) so drift in the machine's load favours neither; the
    /// phase times are summed over rounds.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Skip timing a checkpoint write (it writes the full state to the temp folder).
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Also write the templates' points (of the first preset) as OBJ vertices in the
    /// Anomaly-ShapeNet layout, `DIR/<shape><i>/<shape><i>_template0.obj`, so a peer
    /// implementation (scripts/peers/minkunet_torch.py, `OBJ_DIR=DIR --cats ...`) can
    /// train on the same clouds (scripts/bench-step-vs-torch.sh).
    #[arg(long, value_name = "DIR")]
    pub export_obj: Option<std::path::PathBuf>,
}

/// Writes each sample's points as `v x y z` lines (see `ProfileArgs::export_obj`).
fn export_obj(dir: &std::path::Path, shape: &str, samples: &[TrainSample]) -> anyhow::Result<()> {
    use std::io::Write;
    for (i, s) in samples.iter().enumerate() {
        let cat = format!("{shape}{i}");
        let folder = dir.join(&cat);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let path = folder.join(format!("{cat}_template0.obj"));
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?,
        );
        for p in &s.cloud.points {
            writeln!(out, "v {} {} {}", p[0], p[1], p[2])?;
        }
        out.flush()?;
        println!(
            "exported {} points to {}",
            s.cloud.points.len(),
            path.display()
        );
    }
    Ok(())
}

/// Accumulated phase times of the timed steps of one mode.
#[derive(Debug, Default, Clone)]
struct Phases {
    views: Duration,
    collate: Duration,
    wait: Duration,
    forward: Duration,
    backward: Duration,
    optim: Duration,
    maps: Duration,
    /// Inside po3ad-sparse's kernels, in `po3ad_sparse::Kernel` order: conv forward,
    /// conv input gradient, conv weight gradient, batch norm forward, batch norm backward.
    kernels: [Duration; 5],
    wall: Duration,
    cpu: Option<Duration>,
    steps: usize,
    clouds: usize,
    voxels: usize,
    points: usize,
    losses: Vec<u64>,
}

impl Phases {
    fn add(&mut self, o: &Phases) {
        self.views += o.views;
        self.collate += o.collate;
        self.wait += o.wait;
        self.forward += o.forward;
        self.backward += o.backward;
        self.optim += o.optim;
        self.maps += o.maps;
        for (a, b) in self.kernels.iter_mut().zip(&o.kernels) {
            *a += *b;
        }
        self.wall += o.wall;
        self.cpu = match (self.cpu, o.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (None, b) if self.steps == 0 => b,
            _ => None,
        };
        self.steps += o.steps;
        self.clouds += o.clouds;
        self.voxels += o.voxels;
        self.points += o.points;
        if self.losses.is_empty() {
            self.losses = o.losses.clone();
        }
    }
}

/// Process CPU time (user + system) from /proc (Linux); `None` elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux configuration in use.
    Some(Duration::from_millis(ticks * 10))
}

/// Every kernel map the MinkUNet of `cfg` asks for (`model::minkunet::kernel_map_keys`),
/// with the fused kernels' layouts and the transposed maps backward uses, built on a fresh
/// coordinate manager: what `Batch::prebuild_maps` spends, measured apart.
fn build_kernel_maps(cfg: &ModelConfig, coords: &[[i32; 4]]) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let manager = CoordinateManager::new(coords.to_vec())?;
    for key in kernel_map_keys(cfg) {
        manager.kernel_map(key).precompute_layouts();
    }
    Ok(t.elapsed())
}

fn samples_for(args: &ProfileArgs, preset: &Preset) -> anyhow::Result<Vec<TrainSample>> {
    let mesh = po3ad_core::synth::builtin(&args.shape)
        .with_context(|| format!("no built-in shape '{}'", args.shape))?;
    let mut cfg = preset.train.clone();
    // prepare_training_cloud samples the surface (po3ad_core::geometry::sample_surface)
    // with face normals, as `po3ad train` does for the `cpu` preset.
    cfg.surface_points = args.points;
    let mut rng = ChaCha8Rng::seed_from_u64(preset.train.seed);
    (0..args.samples)
        .map(|i| {
            let (cloud, shift) = prepare_training_cloud(mesh.clone(), &cfg, &mut rng)?;
            Ok(TrainSample {
                source: format!("{}#{i}", args.shape).into(),
                cloud,
                shift,
            })
        })
        .collect()
}

fn to_tensor<B: Backend>(rows: &[[f32; 3]], device: &B::Device) -> Tensor<B, 2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), 3]), device)
}

/// A mode's phase times, its trained model, and the encoded optimizer state with the
/// time encoding it took.
type ModeResult = (Phases, Po3adNet<CpuTrainBackend>, (Vec<u8>, Duration));

fn run_mode(
    samples: &Arc<[TrainSample]>,
    preset: &Arc<Preset>,
    warmup: usize,
    steps: usize,
    pipelined: bool,
) -> anyhow::Result<ModeResult> {
    type B = CpuTrainBackend;
    let device = Default::default();
    let t = &preset.train;
    B::seed(&device, t.seed);
    let mut model = Po3adNet::<B>::new(&preset.model, &device);
    let mut optim = AdamConfig::new()
        .with_epsilon(t.adam_epsilon as f32)
        .init::<B, Po3adNet<B>>();
    let source = BatchSource::new(samples.clone(), preset.clone(), 0);
    let mut batches: Box<dyn Iterator<Item = po3ad_core::Result<PreparedBatch>>> = if pipelined {
        Box::new(Prefetch::spawn(source, 1))
    } else {
        Box::new(source)
    };
    let mut p = Phases::default();
    let mut cpu_start = None;
    let mut timed_start = Instant::now();
    for step in 0..warmup + steps {
        if step == warmup {
            // Kernel times of the timed steps only.
            po3ad_sparse::take_kernel_times();
            cpu_start = process_cpu_time();
            timed_start = Instant::now();
        }
        let timed = step >= warmup;
        let t0 = Instant::now();
        let prepared = batches.next().context("the batch source ended early")??;
        let t1 = Instant::now();
        let pred = model.forward(&prepared.batch, &device)?;
        let parts = offset_loss(
            pred,
            to_tensor::<B>(&prepared.targets, &device),
            &preset.loss,
        );
        let value: f64 = parts.total.clone().into_scalar().elem();
        let t2 = Instant::now();
        let grads = GradientsParams::from_grads(parts.total.backward(), &model);
        let t3 = Instant::now();
        model = optim.step(t.lr, model, grads);
        let t4 = Instant::now();
        if timed {
            p.views += prepared.views_time;
            p.collate += prepared.collate_time;
            p.wait += t1 - t0;
            p.forward += t2 - t1;
            p.backward += t3 - t2;
            p.optim += t4 - t3;
            p.steps += 1;
            p.clouds += prepared.batch.counts.len();
            p.voxels += prepared.batch.num_voxels();
            p.points += prepared.batch.num_points();
        }
        p.losses.push(value.to_bits());
    }
    p.wall = timed_start.elapsed();
    for (acc, (_, d)) in p.kernels.iter_mut().zip(po3ad_sparse::take_kernel_times()) {
        *acc += d;
    }
    p.cpu = cpu_start.zip(process_cpu_time()).map(|(a, b)| b - a);
    drop(batches);
    // Kernel maps, measured apart (outside the timed steps) on the serial run's batches.
    if !pipelined {
        let mut source = BatchSource::new(samples.clone(), preset.clone(), 0);
        for _ in 0..warmup {
            source.next();
        }
        for _ in 0..steps {
            let b = source.next().context("batch")??;
            p.maps += build_kernel_maps(&preset.model, &b.batch.coords)?;
        }
    }
    let t = Instant::now();
    let optim_bytes = Checkpoint::encode_optimizer(&optim);
    let optim_encode = t.elapsed();
    Ok((p, model, (optim_bytes, optim_encode)))
}

fn ms(d: Duration, steps: usize) -> f64 {
    d.as_secs_f64() * 1e3 / steps.max(1) as f64
}

fn row(d: Option<Duration>, p: &Phases) -> String {
    match d {
        Some(d) => format!(
            "{:>10.1} | {:>5.1} %",
            ms(d, p.steps),
            100.0 * d.as_secs_f64() / p.wall.as_secs_f64().max(1e-12)
        ),
        None => format!("{:>10} | {:>7}", "-", ""),
    }
}

fn report(preset: &Preset, args: &ProfileArgs, serial: &Phases, piped: &Phases) {
    let m = &preset.model;
    println!(
        "\n### {} — {:?} width {} voxel {} (B = {}, {} templates × {} points of '{}'; {} timed steps after {} warm-up; {} rayon threads)\n",
        preset.name,
        m.backbone,
        m.width,
        m.voxel_size,
        args.batch_size,
        args.samples,
        args.points,
        args.shape,
        serial.steps,
        args.warmup,
        rayon::current_num_threads()
    );
    println!(
        "{:.0} voxels and {:.0} points per batch\n",
        serial.voxels as f64 / serial.steps.max(1) as f64,
        serial.points as f64 / serial.steps.max(1) as f64
    );
    println!("| phase (ms per step) | serial ms | share | pipelined ms | share |");
    println!("|---|---:|---:|---:|---:|");
    let line = |label: &str, a: Option<Duration>, b: Option<Duration>| {
        println!("| {label} | {} | {} |", row(a, serial), row(b, piped));
    };
    line(
        "data: Norm-AS views (copy, rotation, normalisation, patches)",
        Some(serial.views),
        None,
    );
    line(
        "data: collate (voxelisation, targets, kernel maps)",
        Some(serial.collate),
        None,
    );
    line(
        "data: prepared on the worker thread (overlapped)",
        None,
        Some(piped.views + piped.collate),
    );
    line(
        "waiting for the batch (incl. serial preparation)",
        Some(serial.wait),
        Some(piped.wait),
    );
    line("forward + loss", Some(serial.forward), Some(piped.forward));
    line(
        "  kernel maps (hash build, measured apart; built with the batch)",
        Some(serial.maps),
        None,
    );
    let kernel =
        |label: &str, i: usize| line(label, Some(serial.kernels[i]), Some(piped.kernels[i]));
    kernel(
        "  of which sparse conv (fused kernel, incl. map regrouping)",
        0,
    );
    kernel("  of which batch norm (+ residual, + ReLU; fused)", 3);
    line("backward", Some(serial.backward), Some(piped.backward));
    kernel("  of which sparse conv input gradient", 1);
    kernel("  of which sparse conv weight gradient", 2);
    kernel("  of which batch norm", 4);
    line(
        "optimiser step (Adam)",
        Some(serial.optim),
        Some(piped.optim),
    );
    line("**step (wall)**", Some(serial.wall), Some(piped.wall));
    let cps = |p: &Phases| p.clouds as f64 / p.wall.as_secs_f64().max(1e-12);
    let cpu = |p: &Phases| {
        p.cpu.map_or("n/a".to_string(), |c| {
            format!("{:.0} %", 100.0 * c.as_secs_f64() / p.wall.as_secs_f64())
        })
    };
    println!("| clouds/s | {:.2} | | {:.2} | |", cps(serial), cps(piped));
    println!(
        "| CPU use (process) | {} | | {} | |",
        cpu(serial),
        cpu(piped)
    );
    println!(
        "\npipelined / serial throughput: {:.2}× (same process, one after the other)",
        cps(piped) / cps(serial).max(1e-12)
    );
}

/// One checkpoint of the run's state, written as `fit` writes it; returns its cost.
fn time_checkpoint(
    preset: &Preset,
    model: &Po3adNet<CpuTrainBackend>,
    (optimizer, optim_encode): (Vec<u8>, Duration),
) -> anyhow::Result<Duration> {
    let dir = std::env::temp_dir().join(format!("po3ad-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("checkpoint.po3ad");
    let t0 = Instant::now();
    let ckpt = Checkpoint {
        meta: CheckpointMeta {
            preset: preset.clone(),
            epochs_done: 1,
            steps_done: 1,
            epoch_losses: vec![0.0],
            epoch_dist: vec![0.0],
            epoch_dir: vec![0.0],
            category: "profile".into(),
            po3ad_version: env!("CARGO_PKG_VERSION").into(),
            sources: Vec::new(),
            frame: None,
        },
        model: Checkpoint::encode_model::<CpuTrainBackend, _>(model),
        optimizer,
    };
    let encoded = t0.elapsed() + optim_encode;
    let t1 = Instant::now();
    let result = ckpt.save(&path);
    let written = t1.elapsed();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!(
        "checkpoint: {:.1} MB; encoding weights + Adam state {:.0} ms, atomic write {:.0} ms",
        bytes as f64 / 1e6,
        encoded.as_secs_f64() * 1e3,
        written.as_secs_f64() * 1e3
    );
    Ok(encoded + written)
}

pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.steps > 0 && args.batch_size > 0 && args.samples > 0,
        "--steps, --batch-size and --samples must be > 0"
    );
    for name in &args.preset {
        let mut preset = Preset::load(name)?;
        let t = &mut preset.train;
        t.batch_size = args.batch_size;
        // One epoch long enough for every step of a mode.
        let needed = (args.warmup + args.steps) * args.batch_size;
        t.repeat = needed.div_ceil(args.samples);
        t.epochs = t.epochs.max(1);
        preset.validate().map_err(anyhow::Error::msg)?;
        let samples: Arc<[TrainSample]> = samples_for(&args, &preset)?.into();
        if let (Some(dir), Some(first)) = (&args.export_obj, args.preset.first()) {
            if first == name {
                export_obj(dir, &args.shape, &samples)?;
            }
        }
        let preset = Arc::new(preset);
        let (mut serial, mut piped) = (Phases::default(), Phases::default());
        let mut last = None;
        for round in 0..args.rounds.max(1) {
            for pipelined in [round % 2 == 1, round % 2 == 0] {
                let (p, model, optim) =
                    run_mode(&samples, &preset, args.warmup, args.steps, pipelined)?;
                if pipelined { &mut piped } else { &mut serial }.add(&p);
                last = Some((model, optim));
            }
        }
        anyhow::ensure!(
            serial.losses == piped.losses,
            "serial and pipelined losses differ: {:?} vs {:?}",
            serial
                .losses
                .iter()
                .map(|b| f64::from_bits(*b))
                .collect::<Vec<_>>(),
            piped
                .losses
                .iter()
                .map(|b| f64::from_bits(*b))
                .collect::<Vec<_>>()
        );
        report(&preset, &args, &serial, &piped);
        println!(
            "losses of the {} steps identical in both modes (last {:.6})",
            serial.losses.len(),
            serial
                .losses
                .last()
                .map_or(f64::NAN, |b| f64::from_bits(*b))
        );
        if let (false, Some((model, optim))) = (args.no_checkpoint, last) {
            let cost = time_checkpoint(&preset, &model, optim)?;
            // What `checkpoint_every = 1` (the old default) cost per step with this
            // preset's epoch: its samples × repeat at the profiled batch size.
            let original = Preset::load(name)?;
            let epoch_steps =
                (args.samples * original.train.repeat / args.batch_size).max(1) as f64;
            let step_ms = ms(piped.wall, piped.steps);
            let per_step = cost.as_secs_f64() * 1e3 / epoch_steps;
            println!(
                "a checkpoint after every epoch ({epoch_steps:.0} steps of this size; the old \
                 default) adds {per_step:.1} ms per step ({:.1} % of the pipelined step); \
                 checkpoint_minutes = 5 adds {:.2} %",
                100.0 * per_step / step_ms,
                100.0 * cost.as_secs_f64() / 300.0
            );
        }
    }
    Ok(())
}
