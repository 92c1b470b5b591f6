// Records the git commit the binary was built from (PO3AD_GIT_COMMIT), so results and
// model folders can say exactly which po3ad made them: `+dirty` after it when tracked
// files differ from that commit (a build of uncommitted edits is not that commit).
// "unknown" outside a git checkout.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let dirty = commit.is_some()
        && git(&["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.trim().is_empty());
    let label = match commit {
        Some(c) if dirty => format!("{c}+dirty"),
        Some(c) => c,
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=PO3AD_GIT_COMMIT={label}");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        let dir = dir.trim();
        if !dir.is_empty() {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            println!("cargo:rerun-if-changed={dir}/refs/heads");
            // Staging or committing an edit changes the index.
            println!("cargo:rerun-if-changed={dir}/index");
        }
    }
    // Any source edit can make the tree dirty (or clean again).
    for path in [
        "src",
        "crates",
        "presets",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
