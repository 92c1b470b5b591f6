//! Command-line interface: one file per subcommand; this file only dispatches.

pub mod benchmark;
pub mod benchmark_merge;
pub mod calibrate;
pub mod common;
pub mod demo;
pub mod inspect;
pub mod predict;
pub mod profile;
pub mod pseudo;
pub mod report;
pub mod serve;
pub mod synth;
pub mod test;
pub mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "po3ad",
    version,
    about = "PO3AD point-cloud anomaly detection: train on normal parts, score new scans point by point",
    after_help = "Examples:
  po3ad demo                                   # everything on built-in parts, no files needed
  po3ad synth --mesh part.stl --out data/      # a defect benchmark from your CAD mesh
  po3ad train --train part.stl --out runs/part # train on a mesh (or a folder of normal scans)
  po3ad predict --model runs/part scan.pcd --out pred/
  po3ad serve --model runs/part                # HTTP scoring service on 127.0.0.1:8080
  po3ad benchmark --layout anomaly-shapenet --root data --out bench/"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build synthetic categories from built-in parts, train, test, print the table.
    Demo(demo::DemoArgs),
    /// Train a model on the normal samples of one part.
    #[command(alias = "fit")]
    Train(train::TrainArgs),
    /// Score a labelled test set: object/point AUROC and AP, per-sample scores.
    Test(test::TestArgs),
    /// Score new scans: verdicts, anomalous regions, heatmaps (PLY, PNG), JSON.
    Predict(predict::PredictArgs),
    /// Score scans over HTTP: POST /v1/score, GET /healthz, GET /metrics.
    Serve(serve::ServeArgs),
    /// Choose a saved detector's verdict thresholds from normal scans.
    Calibrate(calibrate::CalibrateArgs),
    /// Train and test many categories; one table with the mean.
    Benchmark(benchmark::BenchmarkArgs),
    /// Join the results of `benchmark --shard I/N` runs into one table.
    BenchmarkMerge(benchmark_merge::BenchmarkMergeArgs),
    /// Write a synthetic defect benchmark from a mesh or a built-in shape.
    Synth(synth::SynthArgs),
    /// Write one Norm-AS pseudo anomaly, coloured by offset.
    Pseudo(pseudo::PseudoArgs),
    /// Write report.html (curves, gallery, 3D view) for a test, benchmark or predict results folder.
    Report(report::ReportArgs),
    /// Show what a point-cloud or mesh file holds.
    Inspect(inspect::InspectArgs),
    /// Time training steps by phase on a built-in shape (CPU): where a step's time goes.
    Profile(profile::ProfileArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Train(a) => train::run(a),
        Command::Test(a) => test::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Benchmark(a) => benchmark::run(a),
        Command::BenchmarkMerge(a) => benchmark_merge::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Pseudo(a) => pseudo::run(a),
        Command::Report(a) => report::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Profile(a) => profile::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<predict::UnregisteredScans>() {
            Some(u) => {
                eprintln!("warning: {u}");
                ExitCode::from(predict::EXIT_UNREGISTERED)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
