//! Fuzzing of what training reads back: checkpoint files and preset TOML.
//!
//! - Any change to a valid checkpoint's bytes (truncation, bit flips, splices, section
//!   lengths set huge) is refused by `Checkpoint::from_bytes`; only the untouched file
//!   loads. The CRC-32 makes this exact for the mutations used here (bursts ≤ 32 bits
//!   are always caught; a random collision of the others has odds 2^-32 per case).
//! - With the CRC recomputed after the damage (a file that *claims* to be intact),
//!   `from_bytes` returns Ok or Err and never panics; so does `restore_model`, which
//!   once panicked inside burn on a corrupt parameter id (kept as a regression input).
//! - A checkpoint whose model section belongs to another network is refused by
//!   `restore_model`.
//! - `Preset::parse` on mutated TOML never panics, and an accepted preset survives a
//!   TOML round trip.
//!
//! A few hundred cases per run keep CI fast; set `PO3AD_FUZZ_CASES=100000` for a long run.

use po3ad::device::CpuBackend;
use po3ad::model::{ModelConfig, Po3adNet};
use po3ad::train::checkpoint::CheckpointMeta;
use po3ad::train::{Checkpoint, CheckpointError, Preset};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[path = "../crates/po3ad-core/tests/common/bytes.rs"]
mod bytes;

type B = CpuBackend;

fn cases(default: u32) -> u32 {
    std::env::var("PO3AD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Executions so far per property; long runs print progress (`--nocapture`) so a run
/// cut short by a time limit still tells how far it got.
static EXECS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn count(which: usize, name: &str) {
    let n = EXECS[which].fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_multiple_of(20_000) {
        eprintln!("{name}: {n} executions");
    }
}

fn tiny() -> Preset {
    Preset::load("tiny").expect("built-in preset")
}

fn meta(preset: Preset) -> CheckpointMeta {
    CheckpointMeta {
        preset,
        epochs_done: 1,
        steps_done: 2,
        epoch_losses: vec![0.5],
        epoch_dist: vec![0.6],
        epoch_dir: vec![-0.1],
        category: "fuzz".into(),
        po3ad_version: "0.1.0".into(),
        sources: vec!["bowl.ply".into()],
        frame: None,
    }
}

fn net(cfg: &ModelConfig) -> Po3adNet<B> {
    Po3adNet::<B>::new(cfg, &Default::default())
}

/// The bytes of a valid tiny-model checkpoint (built once).
fn valid() -> &'static Vec<u8> {
    static V: OnceLock<Vec<u8>> = OnceLock::new();
    V.get_or_init(|| {
        let p = tiny();
        let ckpt = Checkpoint {
            model: Checkpoint::encode_model::<B, _>(&net(&p.model)),
            meta: meta(p),
            optimizer: vec![],
        };
        ckpt.to_bytes()
    })
}

/// Offsets of the three u64 section lengths in `bytes` (a valid checkpoint).
fn length_offsets(bytes: &[u8]) -> [usize; 3] {
    let mut out = [0usize; 3];
    let mut pos = 12;
    for o in &mut out {
        *o = pos;
        let len = u64::from_le_bytes(bytes[pos..pos + 8].try_into().expect("8 bytes"));
        pos += 8 + len as usize;
    }
    out
}

const HUGE: &[u64] = &[
    u64::MAX,
    u64::MAX - 7,
    1 << 63,
    usize::MAX as u64 / 2,
    1 << 40,
    u32::MAX as u64,
    0,
    1,
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
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
    Append(Vec<u8>),
    /// Set section `which` (0 meta, 1 model, 2 optimizer) length to a huge/odd value.
    Length {
        which: usize,
        value: usize,
    },
    /// Add a small delta to a section length (off-by-some).
    Nudge {
        which: usize,
        delta: i64,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<Index>(), 1usize..256)
            .prop_map(|(from, to, len)| Mutation::Splice { from, to, len }),
        (any::<Index>(), 1usize..256).prop_map(|(at, len)| Mutation::Delete { at, len }),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        (0usize..3, 0..HUGE.len()).prop_map(|(which, value)| Mutation::Length { which, value }),
        (0usize..3, -16i64..16).prop_map(|(which, delta)| Mutation::Nudge { which, delta }),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation, lens: &[usize; 3]) {
    if b.is_empty() {
        return;
    }
    match m {
        Mutation::Truncate(i) => b.truncate(i.index(b.len())),
        Mutation::Flip(i, bit) => {
            let i = i.index(b.len());
            b[i] ^= 1 << bit;
        }
        Mutation::Set(i, v) => bytes::set(b, i, *v),
        Mutation::Splice { from, to, len } => bytes::splice(b, from, to, *len),
        Mutation::Delete { at, len } => bytes::delete(b, at, *len),
        Mutation::Append(tail) => b.extend_from_slice(tail),
        Mutation::Length { which, value } => {
            let o = lens[*which];
            if o + 8 <= b.len() {
                b[o..o + 8].copy_from_slice(&HUGE[*value].to_le_bytes());
            }
        }
        Mutation::Nudge { which, delta } => {
            let o = lens[*which];
            if o + 8 <= b.len() {
                let v = u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
                b[o..o + 8].copy_from_slice(&v.wrapping_add_signed(*delta).to_le_bytes());
            }
        }
    }
}

/// Replace the trailing CRC with the correct one for the (damaged) body.
fn fix_crc(b: &mut [u8]) {
    if b.len() < 4 {
        return;
    }
    let n = b.len() - 4;
    let crc = crc32fast::hash(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
}

fn restore(ckpt: &Checkpoint) -> Result<Po3adNet<B>, CheckpointError> {
    let cfg = tiny().model;
    ckpt.restore_model::<B, _>(net(&cfg), &Default::default(), Path::new("fuzz.po3ad"))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn damaged_checkpoints_are_refused(muts in prop::collection::vec(mutation(), 1..4)) {
        count(0, "damaged_checkpoints_are_refused");
        let orig = valid();
        let lens = length_offsets(orig);
        let mut bytes = orig.clone();
        for m in &muts {
            apply(&mut bytes, m, &lens);
        }
        let got = Checkpoint::from_bytes(&bytes, Path::new("fuzz.po3ad"));
        if bytes == *orig {
            prop_assert!(got.is_ok(), "untouched file must load");
        } else {
            prop_assert!(got.is_err(), "damaged file was accepted after {:?}", muts);
            let msg = got.err().map(|e| e.to_string()).unwrap_or_default();
            prop_assert!(msg.contains("fuzz.po3ad"), "error names the file: {}", msg);
        }
    }

    #[test]
    fn damaged_checkpoints_with_a_valid_crc_parse_without_panic(
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        count(1, "damaged_checkpoints_with_a_valid_crc_parse_without_panic");
        let _ = Checkpoint::from_bytes(&crc_fixed(&muts), Path::new("fuzz.po3ad"));
    }

    /// Found by this fuzzer: a corrupt parameter id panics inside burn (see
    /// `a_corrupt_parameter_id_is_an_error_not_a_panic`).
    #[test]
    fn damaged_checkpoints_with_a_valid_crc_restore_without_panic(
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        if let Ok(ckpt) = Checkpoint::from_bytes(&crc_fixed(&muts), Path::new("fuzz.po3ad")) {
            let _ = restore(&ckpt);
        }
    }
}

/// The valid checkpoint after `muts`, with its CRC recomputed (a file that claims to be
/// intact).
fn crc_fixed(muts: &[Mutation]) -> Vec<u8> {
    let orig = valid();
    let lens = length_offsets(orig);
    let mut bytes = orig.clone();
    for m in muts {
        apply(&mut bytes, m, &lens);
    }
    fix_crc(&mut bytes);
    bytes
}

#[test]
fn the_untouched_checkpoint_loads_and_restores() {
    let ckpt = Checkpoint::from_bytes(valid(), Path::new("ok.po3ad")).expect("valid");
    assert_eq!(ckpt.meta.preset, tiny());
    assert!(restore(&ckpt).is_ok());
}

/// A model section written by a different network, under a valid CRC.
fn foreign(model: Vec<u8>) -> Result<Po3adNet<B>, CheckpointError> {
    let ckpt = Checkpoint {
        meta: meta(tiny()),
        model,
        optimizer: vec![],
    };
    let back =
        Checkpoint::from_bytes(&ckpt.to_bytes(), Path::new("foreign.po3ad")).expect("CRC is valid");
    restore(&back)
}

#[test]
fn foreign_model_records_are_refused() {
    let t = tiny().model;
    // Same layers, other channel counts.
    let wider = ModelConfig {
        width: 0.25,
        ..t.clone()
    };
    // Other head size.
    let head = ModelConfig {
        feature_dim: 16,
        ..t.clone()
    };
    // Other depth: more blocks per stage.
    let deeper = ModelConfig {
        backbone: po3ad::model::Backbone::MinkUNet18,
        ..t.clone()
    };
    for (what, cfg) in [
        ("width", wider),
        ("feature_dim", head),
        ("backbone", deeper),
    ] {
        let got = foreign(Checkpoint::encode_model::<B, _>(&net(&cfg)));
        assert!(
            matches!(got, Err(CheckpointError::Record { .. })),
            "a {what} mismatch must be a Record error, got {:?}",
            got.err()
        );
    }
    // Not MessagePack of a model at all.
    for junk in [vec![], vec![0x80], b"{\"a\":1}".to_vec(), vec![0xc1; 64]] {
        assert!(foreign(junk).is_err());
    }
}

/// Regression input: a model section whose first parameter id is not valid base32
/// (one byte changed, CRC recomputed). burn's `ParamId::deserialize` panics
/// ("Invalid id.") inside `Recorder::load`; `restore_model` must turn that into an Err.
#[test]
fn a_corrupt_parameter_id_is_an_error_not_a_panic() {
    let t = tiny().model;
    let mut model = Checkpoint::encode_model::<B, _>(&net(&t));
    // Named MessagePack: the key "id" (fixstr 2) then a 13-character fixstr (0xad).
    let at = model
        .windows(4)
        .position(|w| w == b"\xa2id\xad")
        .expect("an id field");
    model[at + 4] = b'!';
    let got = std::panic::catch_unwind(|| foreign(model).err().map(|e| e.to_string()));
    match got {
        Ok(Some(msg)) => assert!(msg.contains(".po3ad") && msg.contains("weights"), "{msg}"),
        Ok(None) => panic!("a corrupt id was accepted"),
        Err(_) => panic!("restore_model panicked on a corrupt parameter id"),
    }
}

// ---------------------------------------------------------------------------------
// Preset TOML

const TOML_VALUES: &[&str] = &[
    "0",
    "-1",
    "1e30",
    "-1e30",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "0.0",
    "\"x\"",
    "true",
    "[]",
    "{}",
    "1979-05-27",
    "\"minkunet99\"",
];

#[derive(Debug, Clone)]
enum TomlMutation {
    Bytes(Mutation),
    /// Replace the value of the nth `key = value` line.
    Value {
        nth: Index,
        value: usize,
    },
    /// Duplicate or delete the nth line.
    DupLine(Index),
    DelLine(Index),
}

fn toml_mutation() -> impl Strategy<Value = TomlMutation> {
    prop_oneof![
        mutation().prop_map(TomlMutation::Bytes),
        (any::<Index>(), 0..TOML_VALUES.len())
            .prop_map(|(nth, value)| TomlMutation::Value { nth, value }),
        any::<Index>().prop_map(TomlMutation::DupLine),
        any::<Index>().prop_map(TomlMutation::DelLine),
    ]
}

fn apply_toml(text: &mut String, m: &TomlMutation) {
    match m {
        TomlMutation::Bytes(b) => {
            let mut bytes = std::mem::take(text).into_bytes();
            apply(&mut bytes, b, &[0, 0, 0]);
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
        TomlMutation::Value { nth, value } => {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            let kv: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = "))
                .collect();
            if !kv.is_empty() {
                let i = kv[nth.index(kv.len())];
                let key = lines[i].split(" = ").next().unwrap_or("").to_string();
                lines[i] = format!("{key} = {}", TOML_VALUES[*value]);
            }
            *text = lines.join("\n");
        }
        TomlMutation::DupLine(nth) | TomlMutation::DelLine(nth) => {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            if !lines.is_empty() {
                let i = nth.index(lines.len());
                if matches!(m, TomlMutation::DupLine(_)) {
                    lines.insert(i, lines[i].clone());
                } else {
                    lines.remove(i);
                }
            }
            *text = lines.join("\n");
        }
    }
}

/// Full presets (every key written out) make value mutations reach every field.
fn preset_texts() -> &'static Vec<String> {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<String> = po3ad::train::preset::BUILTIN
            .iter()
            .map(|(_, t)| t.to_string())
            .collect();
        v.push(tiny().to_toml());
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_presets_never_panic(
        which in any::<Index>(),
        muts in prop::collection::vec(toml_mutation(), 1..4),
    ) {
        count(2, "mutated_presets_never_panic");
        let texts = preset_texts();
        let mut text = texts[which.index(texts.len())].clone();
        for m in &muts {
            apply_toml(&mut text, m);
        }
        if let Ok(p) = Preset::parse(&text, "fuzz.toml") {
            prop_assert!(p.validate().is_ok());
            // What was accepted can be written and read back to the same text.
            let once = p.to_toml();
            let again = Preset::parse(&once, "round-trip.toml")
                .map_err(|e| TestCaseError::fail(format!("{e}\n{once}")))?;
            prop_assert_eq!(again.to_toml(), once);
        }
    }
}
