//! Property-based fuzzing of the readers: every committed fixture, mutated (truncated,
//! bytes overwritten, pieces spliced, deleted or repeated, header numbers replaced by
//! huge or negative ones), must parse to Ok or Err, never panic, and an Ok cloud must
//! be consistent (finite points, normals/labels one per point, faces in range).
//!
//! A few hundred cases per run keep CI fast; set `PO3AD_FUZZ_CASES=200000` for a long run.

use po3ad_core::io;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::bytes;

fn fixtures() -> &'static Vec<(PathBuf, Vec<u8>)> {
    static F: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io");
        let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e != "json"))
            .map(|p| {
                let b = std::fs::read(&p).expect("fixture");
                (p, b)
            })
            .collect();
        v.sort();
        v
    })
}

fn cases() -> u32 {
    std::env::var("PO3AD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400)
}

/// Numbers a lying header might carry.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "255",
    "65536",
    "4294967295",
    "4294967296",
    "1000000000",
    "18446744073709551615",
    "99999999999999999999999",
    "nan",
    "inf",
    "1e40",
    "-0",
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Set(Index, u8),
    Splice { from: Index, to: Index, len: usize },
    Delete { at: Index, len: usize },
    Repeat { at: Index, len: usize },
    Number { nth: Index, value: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<Index>(), 1usize..64).prop_map(|(from, to, len)| Mutation::Splice {
            from,
            to,
            len
        }),
        (any::<Index>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<Index>(), 1usize..256).prop_map(|(at, len)| Mutation::Repeat { at, len }),
        (any::<Index>(), 0..NUMBERS.len()).prop_map(|(nth, value)| Mutation::Number { nth, value }),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    if b.is_empty() {
        return;
    }
    match m {
        Mutation::Truncate(i) => b.truncate(i.index(b.len())),
        Mutation::Set(i, v) => bytes::set(b, i, *v),
        Mutation::Splice { from, to, len } => bytes::splice(b, from, to, *len),
        Mutation::Delete { at, len } => bytes::delete(b, at, *len),
        Mutation::Repeat { at, len } => {
            let a = at.index(b.len());
            let piece: Vec<u8> = b[a..(a + 8).min(b.len())].to_vec();
            for _ in 0..*len {
                b.splice(a..a, piece.iter().copied());
            }
        }
        Mutation::Number { nth, value } => {
            // Digit runs in the first KiB, where headers live.
            let head = b.len().min(1024);
            let mut runs = Vec::new();
            let mut i = 0;
            while i < head {
                if b[i].is_ascii_digit() {
                    let s = i;
                    while i < head && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    runs.push((s, i));
                } else {
                    i += 1;
                }
            }
            if !runs.is_empty() {
                let (s, e) = runs[nth.index(runs.len())];
                b.splice(s..e, NUMBERS[*value].bytes());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let (path, orig) = &fixtures()[which.index(fixtures().len())];
        let mut bytes = orig.clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        // Same extension as the fixture, so the same reader runs.
        if let Ok(c) = io::parse_bytes(path, &bytes, io::DEFAULT_MAX_POINTS) {
            prop_assert!(c.points.iter().flatten().all(|v| v.is_finite()));
            prop_assert!(c.normals.as_ref().is_none_or(|n| n.len() == c.len()));
            prop_assert!(c.labels.as_ref().is_none_or(|l| l.len() == c.len()));
            prop_assert!(c.faces.iter().flatten().all(|&v| (v as usize) < c.len()));
        }
        // Without the point cap only the data-length checks stand between a lying
        // header and a huge allocation (which would abort the run).
        let _ = io::parse_bytes(path, &bytes, usize::MAX);
        // And through content sniffing, as a `.txt` file.
        let _ = io::parse_bytes(Path::new("fuzz.txt"), &bytes, io::DEFAULT_MAX_POINTS);
    }
}
