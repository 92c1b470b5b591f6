//! Concurrency: writers that share a folder or a file never leave a corrupt file.
//!
//! - Two `po3ad synth` processes writing the same category into the same folder: every
//!   file afterwards is byte-identical to the one a solo run with one of the two seeds
//!   writes (never a mix or a torn file), every cloud parses, the manifest is valid
//!   JSON, and no temporary files are left.
//! - Threads hammering `io::atomic::write_atomic` on one path: every read in between
//!   and the final file is exactly one complete version; no temporary files remain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn synth(out: &Path, seed: u64) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_po3ad"));
    c.args([
        "synth",
        "--builtin",
        "cup",
        "--n-train",
        "2",
        "--n-good",
        "2",
        "--n-per-defect",
        "1",
        "--defects",
        "bulge,hole",
        "--points",
        "3000",
        "--template-vertices",
        "3000",
        "--seed",
    ])
    .arg(seed.to_string())
    .arg("--out")
    .arg(out)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

fn check(c: &mut Command) {
    let o = c.output().expect("run po3ad synth");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every file under `root`, by path relative to it, with its bytes.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn two_synth_processes_into_one_folder_leave_only_whole_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (same, solo1, solo2) = (
        tmp.path().join("same"),
        tmp.path().join("solo1"),
        tmp.path().join("solo2"),
    );
    let mut a = synth(&same, 1).spawn().expect("spawn a");
    let mut b = synth(&same, 2).spawn().expect("spawn b");
    let (sa, sb) = (a.wait().expect("wait a"), b.wait().expect("wait b"));
    assert!(sa.success() && sb.success(), "{sa} / {sb}");
    check(&mut synth(&solo1, 1));
    check(&mut synth(&solo2, 2));

    let (got, one, two) = (files(&same), files(&solo1), files(&solo2));
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        two.keys().collect::<Vec<_>>(),
        "both seeds write the same file names"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        one.keys().collect::<Vec<_>>(),
        "extra or missing files (left-over temp files?)"
    );
    let mut manifests = 0;
    for (rel, bytes) in &got {
        assert!(
            *bytes == one[rel] || *bytes == two[rel],
            "{}: neither run's version (torn or mixed)",
            rel.display()
        );
        let path = same.join(rel);
        if rel.extension().is_some_and(|e| e == "json") {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", rel.display()));
            manifests += 1;
        } else if rel.extension().is_some_and(|e| e == "csv") {
            // poses.csv (the pose each scan was synthesised in): one header, then rows
            // that all have the header's number of fields.
            let text = std::str::from_utf8(bytes)
                .unwrap_or_else(|e| panic!("{}: not UTF-8: {e}", rel.display()));
            let mut lines = text.lines();
            let fields = lines.next().map_or(0, |h| h.split(',').count());
            assert!(fields > 1, "{}: no header", rel.display());
            for line in lines {
                assert_eq!(
                    line.split(',').count(),
                    fields,
                    "{}: torn row {line:?}",
                    rel.display()
                );
            }
        } else {
            po3ad_core::io::read(&path)
                .unwrap_or_else(|e| panic!("{}: does not parse: {e}", rel.display()));
        }
    }
    assert!(manifests >= 1, "a manifest was written");
}

#[test]
fn hammering_write_atomic_on_one_path_keeps_one_whole_version() {
    const WRITERS: usize = 6;
    const ROUNDS: usize = 40;
    const LEN: usize = 64 * 1024;
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("shared.bin");
    // Version (w, r): LEN bytes, all equal to a byte that names the writer and round,
    // so any mix of two versions or a short file is visible.
    let version = |w: usize, r: usize| vec![(w * ROUNDS + r) as u8 % 251 + 1; LEN];
    po3ad_core::io::atomic::write_atomic(&path, &vec![0u8; LEN]).expect("first version");

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0usize;
            while !done.load(Ordering::Relaxed) {
                let b = std::fs::read(&path).expect("the file always exists");
                assert_eq!(b.len(), LEN, "short read of a half-written file");
                assert!(b.iter().all(|&x| x == b[0]), "two versions mixed");
                reads += 1;
            }
            reads
        })
    };
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let path = &path;
            s.spawn(move || {
                for r in 0..ROUNDS {
                    po3ad_core::io::atomic::write_atomic(path, &version(w, r))
                        .expect("atomic write");
                }
            });
        }
    });
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader thread");
    assert!(reads > 0);

    let last = std::fs::read(&path).expect("final file");
    let finals: Vec<Vec<u8>> = (0..WRITERS).map(|w| version(w, ROUNDS - 1)).collect();
    assert!(
        finals.contains(&last),
        "the final file is some writer's last version"
    );
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["shared.bin".to_string()],
        "temp files left behind"
    );
}
