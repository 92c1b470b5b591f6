//! Fuzzing of ground-truth text (`io::read_gt`): `x,y,z,label` rows as Anomaly-ShapeNet
//! writes them, `x y z label` as Real3D-AD does.
//!
//! Two properties, each through the real entry point (a file on disk):
//! - generated tables (random separators, comments, blank lines, CRLF, an optional
//!   header row, and at most one deliberately bad token) parse to exactly the values
//!   written, or fail when and only when a bad token was planted;
//! - mutated bytes of the committed GT fixtures never panic, and an Ok result is a
//!   consistent labelled cloud.
//!
//! A few hundred cases per run keep CI fast; set `PO3AD_FUZZ_CASES=200000` for a long run.

use po3ad_core::io;
use proptest::prelude::*;
use proptest::sample::Index;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::bytes;

fn cases() -> u32 {
    std::env::var("PO3AD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// Executions so far per property; long runs print progress (`--nocapture`) so a run
/// cut short by a time limit still tells how far it got.
static EXECS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn count(which: usize, name: &str) {
    let n = EXECS[which].fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_multiple_of(50_000) {
        eprintln!("{name}: {n} executions");
    }
}

/// Write `bytes` to a fresh temp file named `*.txt` and read it as ground truth.
fn read_gt_bytes(bytes: &[u8]) -> po3ad_core::Result<po3ad_core::PointCloud> {
    let mut f = tempfile::Builder::new()
        .suffix(".txt")
        .tempfile()
        .expect("temp file");
    f.write_all(bytes).expect("write temp file");
    f.flush().expect("flush temp file");
    io::read_gt(f.path())
}

/// Coordinate tokens and the f32 the reader must produce (parse as f64, round to f32).
const COORDS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1.5",
    "0.96875",
    "1e-3",
    "-2.5E2",
    "123456.789",
    "+4",
    "3.",
    ".25",
    "1e38",
];
/// Label tokens that are valid (integers 0..=255, possibly written as floats).
const LABELS: &[&str] = &["0", "1", "1.000000", "0.0", "255", "-0", "7"];
/// Tokens that must make the whole file fail in a coordinate column.
const BAD_COORDS: &[&str] = &[
    "nan", "NaN", "inf", "-inf", "1e39", "-1e40", "x1", "0x10", "1,5e",
];
/// Tokens that must make the whole file fail in the label column.
const BAD_LABELS: &[&str] = &["-1", "256", "0.5", "nan", "inf", "1e3", "one"];
const SEPS: &[&str] = &[",", " ", "\t", ", ", " ,\t", "  "];

#[derive(Debug, Clone)]
struct Table {
    rows: Vec<[usize; 4]>, // indices into COORDS (x3) and LABELS
    sep: usize,
    crlf: bool,
    header: bool,
    comments: Vec<(Index, bool)>, // (row position, blank instead of comment)
    bad: Option<(Index, usize, usize)>, // (row, column 0..4, token index)
}

fn table() -> impl Strategy<Value = Table> {
    (
        prop::collection::vec(
            (
                0..COORDS.len(),
                0..COORDS.len(),
                0..COORDS.len(),
                0..LABELS.len(),
            )
                .prop_map(|(a, b, c, l)| [a, b, c, l]),
            1..40,
        ),
        0..SEPS.len(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((any::<Index>(), any::<bool>()), 0..4),
        prop::option::of((any::<Index>(), 0usize..4, 0usize..64)),
    )
        .prop_map(|(rows, sep, crlf, header, comments, bad)| Table {
            rows,
            sep,
            crlf,
            header,
            comments,
            bad,
        })
}

impl Table {
    /// The file text and the cell that was made bad, if any.
    fn render(&self) -> (String, Option<(usize, usize)>) {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let sep = SEPS[self.sep];
        let bad = self.bad.map(|(r, c, t)| (r.index(self.rows.len()), c, t));
        let mut lines: Vec<String> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let cell = |c: usize| -> &str {
                match bad {
                    Some((br, bc, t)) if br == i && bc == c => {
                        if c == 3 {
                            BAD_LABELS[t % BAD_LABELS.len()]
                        } else {
                            BAD_COORDS[t % BAD_COORDS.len()]
                        }
                    }
                    _ if c == 3 => LABELS[r[3]],
                    _ => COORDS[r[c]],
                }
            };
            lines.push([cell(0), cell(1), cell(2), cell(3)].join(sep));
        }
        // Comments and blank lines anywhere between rows.
        for (at, blank) in &self.comments {
            let pos = at.index(lines.len() + 1);
            let text = if *blank { "   " } else { "# a comment, 1 2 3" };
            lines.insert(pos, text.to_string());
        }
        if self.header {
            lines.insert(0, ["x", "y", "z", "label"].join(sep));
        }
        let mut s = lines.join(nl);
        s.push_str(nl);
        (s, bad.map(|(r, c, _)| (r, c)))
    }
}

fn f32_of(tok: &str) -> f32 {
    tok.parse::<f64>().expect("valid token") as f32
}

fn gt_fixtures() -> &'static Vec<Vec<u8>> {
    static F: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io");
        ["hand_gt_comma.txt", "hand_gt_space.txt"]
            .iter()
            .map(|n| std::fs::read(dir.join(n)).expect("GT fixture"))
            .collect()
    })
}

/// Byte- and token-level damage to a GT file.
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
    /// Replace the nth separator-delimited token with a nasty one.
    Token {
        nth: Index,
        value: usize,
    },
    /// Duplicate a whole line (including its newline) `times` times.
    Lines {
        nth: Index,
        times: usize,
    },
}

const NASTY: &[&str] = &[
    "",
    "nan",
    "-inf",
    "1e309",
    "-1",
    "256",
    "18446744073709551616",
    "0.5",
    "#",
    "x",
    "1 2",
    ",",
    "\u{feff}1",
    "\u{0}",
    "1e-400",
    "4294967295",
    "\r",
];

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
        (any::<Index>(), 0..NASTY.len()).prop_map(|(nth, value)| Mutation::Token { nth, value }),
        (any::<Index>(), 1usize..2000).prop_map(|(nth, times)| Mutation::Lines { nth, times }),
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
        Mutation::Token { nth, value } => {
            let is_sep = |c: u8| c == b',' || c.is_ascii_whitespace();
            let mut toks = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if is_sep(b[i]) {
                    i += 1;
                    continue;
                }
                let s = i;
                while i < b.len() && !is_sep(b[i]) {
                    i += 1;
                }
                toks.push((s, i));
            }
            if !toks.is_empty() {
                let (s, e) = toks[nth.index(toks.len())];
                b.splice(s..e, NASTY[*value].bytes());
            }
        }
        Mutation::Lines { nth, times } => {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(
                    b.iter()
                        .enumerate()
                        .filter(|(_, &c)| c == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .filter(|&i| i < b.len())
                .collect();
            let s = starts[nth.index(starts.len())];
            let e = b[s..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| s + p + 1);
            let line = b[s..e].to_vec();
            for _ in 0..*times {
                b.splice(s..s, line.iter().copied());
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
    fn generated_gt_tables_parse_exactly(t in table()) {
        count(0, "generated_gt_tables_parse_exactly");
        let (text, bad) = t.render();
        let got = read_gt_bytes(text.as_bytes());
        match bad {
            Some((r, c)) => {
                let e = got.expect_err("a planted bad token must fail the file");
                let msg = e.to_string();
                prop_assert!(msg.contains(".txt"), "error must name the file: {msg}");
                // Coordinates fail by line number (unparsable) or point index
                // (non-finite); labels by point index.
                let line_or_point = msg.contains(&format!("point {r} "))
                    || msg.contains("line ");
                prop_assert!(line_or_point, "cell ({r},{c}): {msg}");
            }
            None => {
                let c = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(c.len(), t.rows.len());
                let labels = c.labels.as_ref().expect("GT has labels");
                prop_assert!(c.normals.is_none() && c.faces.is_empty());
                for (i, r) in t.rows.iter().enumerate() {
                    let want = [f32_of(COORDS[r[0]]), f32_of(COORDS[r[1]]), f32_of(COORDS[r[2]])];
                    prop_assert_eq!(c.points[i].map(f32::to_bits), want.map(f32::to_bits), "row {}", i);
                    prop_assert_eq!(labels[i] as f64, LABELS[r[3]].parse::<f64>().expect("label"));
                }
            }
        }
    }

    #[test]
    fn mutated_gt_fixtures_never_panic(
        which in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        count(1, "mutated_gt_fixtures_never_panic");
        let fx = gt_fixtures();
        let mut bytes = fx[which.index(fx.len())].clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        match read_gt_bytes(&bytes) {
            Ok(c) => {
                let labels = c.labels.as_ref().expect("read_gt Ok always has labels");
                prop_assert_eq!(labels.len(), c.len());
                prop_assert!(!c.is_empty());
                prop_assert!(c.points.iter().flatten().all(|v| v.is_finite()));
                prop_assert!(c.normals.as_ref().is_none_or(|n| n.len() == c.len()));
                prop_assert!(c.faces.is_empty());
            }
            Err(e) => prop_assert!(e.to_string().contains(".txt"), "error names the file: {}", e),
        }
    }
}

#[test]
fn gt_without_label_column_is_refused() {
    let e = read_gt_bytes(b"0 0 0\n1 1 1\n").expect_err("3 columns is not GT");
    assert!(e.to_string().contains("label"), "{e}");
    let e = read_gt_bytes(b"0 0 0 0 0 1\n").expect_err("6 columns is not GT");
    assert!(e.to_string().contains("label"), "{e}");
}
