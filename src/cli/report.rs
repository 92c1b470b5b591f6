//! `po3ad report`: (re)build `report.html` from a results folder that `po3ad test` or
//! `po3ad benchmark` wrote; all the work is in `po3ad_core::report::html`.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad report results/ashtray0     # a `po3ad test --out` folder: results/ashtray0/report.html
  po3ad report bench/               # a `po3ad benchmark --out` folder: one page per category + summary")]
pub struct ReportArgs {
    /// The results folder (`--out` of po3ad test, benchmark or predict).
    pub results_dir: PathBuf,
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let path = po3ad_core::report::write_report(&args.results_dir)?;
    println!("report: {}", path.display());
    Ok(())
}
