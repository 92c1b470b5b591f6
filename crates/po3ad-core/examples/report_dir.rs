//! `po3ad report` without building the root crate (burn): write report.html for a
//! results folder of `po3ad test` or `po3ad benchmark`.
//!
//!     cargo run -p po3ad-core --example report_dir -- RESULTS_DIR

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: report_dir RESULTS_DIR")?;
    let path = po3ad_core::report::write_report(std::path::Path::new(&dir))?;
    println!("report: {}", path.display());
    Ok(())
}
