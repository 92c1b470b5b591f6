//! Byte-level mutations shared by the fuzz tests: po3ad-core's `io_fuzz` and `io_fuzz_gt`,
//! and the root crate's `fuzz_checkpoint` (which includes this file by path). Each caller
//! keeps its own mutation enum and calls these for the cases they have in common.
//! `b` must not be empty.

use proptest::sample::Index;

/// Overwrite one byte.
pub fn set(b: &mut [u8], at: &Index, value: u8) {
    let i = at.index(b.len());
    b[i] = value;
}

/// Copy up to `len` bytes from `from` and insert them at `to`.
pub fn splice(b: &mut Vec<u8>, from: &Index, to: &Index, len: usize) {
    let f = from.index(b.len());
    let piece: Vec<u8> = b[f..(f + len).min(b.len())].to_vec();
    let t = to.index(b.len());
    b.splice(t..t, piece);
}

/// Remove up to `len` bytes from `at`.
pub fn delete(b: &mut Vec<u8>, at: &Index, len: usize) {
    let a = at.index(b.len());
    b.drain(a..(a + len).min(b.len()));
}
