//! `po3ad serve --model DIR`: load a detector once and score scans over HTTP
//! ([`crate::service`]). Prints `listening on http://ADDR` once it accepts requests
//! (with `--addr 127.0.0.1:0` the OS picks the port, and that line says which).

use super::common::{FrameArgs, IntakeArgs};
use crate::detector::{Detector, KindSpec, LoadOptions, Scorer};
use crate::device::DeviceArg;
use crate::service::{serve, shutdown_signal, DetectorPool, PoolLimits, RequestLimits};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad serve --model runs/part                        # http://127.0.0.1:8080
  curl --data-binary @scan.pcd -H 'Content-Type: application/x-pcd' \\
       http://127.0.0.1:8080/v1/score
  curl --data-binary @scan.ply 'http://127.0.0.1:8080/v1/score?format=ply&point_scores=true'
  curl --data-binary @cell.e57 'http://127.0.0.1:8080/v1/score?format=e57&units=auto&background=on'
  curl http://127.0.0.1:8080/metrics
  po3ad serve --model runs/part --addr 0.0.0.0:9000 --workers 4 --queue 64

Answers: 200 with the same JSON `po3ad predict` writes per scan; 400 unreadable scan,
408 body too slow, 413 body too large or too many points, 415 not a point-cloud content
type, 422 a scan that cannot be scored, 503 (Retry-After: 1) when every worker and queue
place is taken or scoring ran past --score-timeout.
SIGTERM or Ctrl-C: stop accepting, finish the requests in flight, exit 0.")]
pub struct ServeArgs {
    /// Model folder written by `po3ad train --out` (or its model.po3ad / nearest.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Which of the folder's detectors to serve (default: the one it was trained as).
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Scans scored at once (each worker holds its own copy of the model). Default:
    /// the number of CPUs, at most 4.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Scans that may wait for a worker; more are refused with 503.
    #[arg(long, default_value_t = 32)]
    pub queue: usize,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 256)]
    pub max_body_mib: usize,
    /// Most points in one scan.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_points: usize,
    /// Seconds allowed to receive a whole body.
    #[arg(long, default_value_t = 30.0)]
    pub read_timeout: f64,
    /// Seconds one scan may be scored; longer is answered 503 and its worker is freed
    /// for the next scan while the late one finishes on a spare copy of the model.
    #[arg(long, default_value_t = 60.0)]
    pub score_timeout: f64,
    /// Late scans (past --score-timeout) that may finish on spare copies of the model
    /// (each one more copy in memory); a late scan beyond them keeps its worker.
    #[arg(long, default_value_t = 1)]
    pub max_overrun: usize,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// How scans are made ready (defaults for every request; a request's `?units=` and
    /// `?background=` override them).
    #[command(flatten)]
    pub intake: IntakeArgs,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4)
    });
    anyhow::ensure!(workers >= 1, "--workers must be at least 1");
    for (flag, secs) in [
        ("--read-timeout", args.read_timeout),
        ("--score-timeout", args.score_timeout),
    ] {
        anyhow::ensure!(
            secs.is_finite() && secs > 0.0 && secs < 1e9,
            "{flag} must be a positive number of seconds"
        );
    }
    let pool = load_pool(&args, workers)?;
    let limits = RequestLimits {
        max_body_bytes: args.max_body_mib.saturating_mul(1 << 20),
        max_points: args.max_points,
        read_timeout: Duration::from_secs_f64(args.read_timeout),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let local = listener.local_addr()?;
        println!(
            "listening on http://{local} ({} detector, {workers} workers, queue {})",
            pool.detector, args.queue
        );
        // Tests and scripts wait for that line: make sure it leaves the buffer.
        std::io::stdout().flush()?;
        serve(listener, pool, limits, shutdown_signal()).await?;
        eprintln!("stopped: requests in flight were answered");
        anyhow::Ok(())
    })
}

/// `workers` copies of the detector at `args.model`, with its placement and calibration.
fn load_pool(args: &ServeArgs, workers: usize) -> anyhow::Result<DetectorPool> {
    let copies = workers + args.max_overrun;
    let mut scorers: Vec<Box<dyn Scorer + Send>> = Vec::with_capacity(copies);
    let mut first = None;
    for i in 0..copies {
        let detector = Detector::load(
            &args.model,
            &LoadOptions {
                device: args.device,
                frame: args.frame.frame,
                kind: args.detector,
                // Looked up (and any note printed) once.
                calibration: i == 0,
                ..LoadOptions::default()
            },
        )?;
        let (name, template) = (detector.name(), detector.template());
        let (scorer, placement, calibration) = detector.into_parts();
        scorers.push(scorer);
        if first.is_none() {
            first = Some((name, template, placement, calibration));
        }
    }
    let (name, template, placement, calibration) = first.context("no workers")?;
    Ok(DetectorPool::new(
        scorers,
        placement,
        calibration,
        name,
        args.model.display().to_string(),
        PoolLimits {
            workers,
            queue: args.queue,
            overrun: args.max_overrun,
            score_timeout: Duration::from_secs_f64(args.score_timeout),
        },
    )
    .with_intake(template, args.intake.options()))
}
