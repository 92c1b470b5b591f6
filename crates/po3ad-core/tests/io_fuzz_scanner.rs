//! Property-based fuzzing of the E57 and LAS/LAZ readers: every scanner fixture,
//! mutated, must give Ok or Err through `read`, `read_scan` and `inspect`, never a
//! panic, and never a huge allocation from a lying count. E57 pages carry a CRC-32C
//! each, so half of the E57 cases recompute them after mutating: otherwise nearly every
//! mutation would stop at the checksum and the XML and binary sections would go
//! untested. LAS headers are binary: a mutation writes lying 32/64-bit counts at random
//! header offsets.
//!
//! A few hundred cases per run keep CI fast; `PO3AD_FUZZ_CASES=1000000` for a long run.

use po3ad_core::io::{self, E57Scans, ScanOptions};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::bytes;

fn fixtures() -> &'static Vec<(PathBuf, Vec<u8>)> {
    static F: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scanner");
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
        .unwrap_or(300)
}

/// Values a lying count or offset might hold.
const WORDS: &[u64] = &[
    0,
    1,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    1 << 31,
    1 << 40,
    u64::MAX,
    u64::MAX / 2,
    1_000_000_000,
];

/// Numbers a lying E57 XML element might carry.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "4294967296",
    "18446744073709551615",
    "1e308",
    "nan",
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Set(Index, u8),
    Splice {
        from: Index,
        to: Index,
        len: usize,
    },
    Delete {
        at: Index,
        len: usize,
    },
    /// A little-endian word of `WORDS[value]` (4 or 8 bytes) at a header offset.
    Word {
        at: Index,
        value: usize,
        wide: bool,
    },
    /// A decimal number anywhere in the file replaced.
    Number {
        nth: Index,
        value: usize,
    },
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
        (any::<Index>(), 0..WORDS.len(), any::<bool>())
            .prop_map(|(at, value, wide)| Mutation::Word { at, value, wide }),
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
        Mutation::Word { at, value, wide } => {
            // LAS 1.4 headers are 375 bytes; E57's file header is 48.
            let head = b.len().min(375);
            let w = WORDS[*value];
            let le: Vec<u8> = if *wide {
                w.to_le_bytes().to_vec()
            } else {
                (w as u32).to_le_bytes().to_vec()
            };
            let a = at.index(head);
            let end = (a + le.len()).min(b.len());
            b[a..end].copy_from_slice(&le[..end - a]);
        }
        Mutation::Number { nth, value } => {
            let mut runs = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i].is_ascii_digit() {
                    let s = i;
                    while i < b.len() && b[i].is_ascii_digit() {
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

/// CRC-32C (Castagnoli), reflected, as E57 pages use it (bitwise: test code only).
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recompute the checksum of every whole 1024-byte E57 page (big-endian, last 4 bytes).
fn fix_e57_pages(b: &mut [u8]) {
    for page in b.chunks_exact_mut(1024) {
        let crc = crc32c(&page[..1020]);
        page[1020..].copy_from_slice(&crc.to_be_bytes());
    }
}

#[test]
fn crc_matches_the_fixtures() {
    for (path, b) in fixtures() {
        if path.extension().is_some_and(|e| e == "e57") {
            let mut c = b.clone();
            fix_e57_pages(&mut c);
            assert_eq!(&c, b, "{}", path.display());
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
    fn mutated_scanner_files_never_panic(
        which in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
        fix_crc in any::<bool>(),
        scan in 0usize..3,
    ) {
        let (path, orig) = &fixtures()[which.index(fixtures().len())];
        let mut b = orig.clone();
        for m in &muts {
            apply(&mut b, m);
        }
        let e57 = path.extension().is_some_and(|e| e == "e57");
        if e57 && fix_crc {
            fix_e57_pages(&mut b);
        }
        match io::parse_bytes(path, &b, io::DEFAULT_MAX_POINTS) {
            Ok(c) => prop_assert!(c.points.iter().flatten().all(|v| v.is_finite())),
            // A panic caught inside a decoder (io::common::guard_decoder) is a finding.
            Err(e) => prop_assert!(!e.to_string().contains("decoder failed"), "{}", e),
        }
        let opts = ScanOptions {
            e57_scans: if scan == 2 { E57Scans::All } else { E57Scans::Index(scan) },
            ..ScanOptions::default()
        };
        if let Ok(s) = io::parse_scan_bytes(path, &b, &opts) {
            prop_assert_eq!(s.dropped.kept.len(), s.cloud.len());
            prop_assert!(s.cloud.points.iter().flatten().all(|v| v.is_finite()));
        }
        // No cap: only the readers' own checks stand between a lying count and memory.
        let _ = io::parse_bytes(path, &b, usize::MAX);
        // Sniffed by signature, as an unknown extension.
        let _ = io::parse_bytes(Path::new("fuzz.bin"), &b, io::DEFAULT_MAX_POINTS);
    }
}
