//! `po3ad inspect FILE...`: what a file holds (format variant, fields, counts, bbox).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  po3ad inspect scan.pcd part.stl\n  po3ad inspect --json data/*.ply"
)]
pub struct InspectArgs {
    /// Files to inspect (PCD, PLY, OBJ, STL, XYZ/TXT, E57, LAS/LAZ).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in &args.files {
        match po3ad_core::io::inspect(f) {
            Ok(info) if args.json => println!(
                "{}",
                serde_json::to_string(&serde_json::json!({"file": f, "info": info}))?
            ),
            Ok(info) => {
                println!("{}", f.display());
                println!("  format      {}", info.format);
                println!("  fields      {}", info.fields.join(" "));
                println!("  points      {}", info.points);
                println!("  faces       {}", info.faces);
                if info.invalid_points > 0 {
                    println!(
                        "  invalid     {} (NaN / inf / (0, 0, 0) pixels, dropped when scored)",
                        info.invalid_points
                    );
                }
                for (i, (name, n)) in info.scans.iter().enumerate() {
                    println!(
                        "  scan {i}      {n} points{}",
                        name.as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    );
                }
                println!(
                    "  normals     {}",
                    if info.has_normals { "yes" } else { "no" }
                );
                println!(
                    "  labels      {}",
                    if info.has_labels { "yes" } else { "no" }
                );
                if let Some((lo, hi)) = info.bbox {
                    println!(
                        "  bbox        [{:.4}, {:.4}, {:.4}] .. [{:.4}, {:.4}, {:.4}]",
                        lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be read", args.files.len());
    }
    Ok(())
}
