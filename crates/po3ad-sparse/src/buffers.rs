//! Output buffers zeroed inside the parallel loop that fills them.
//!
//! `vec![0f32; n]` zeroes on the calling thread before a kernel's parallel loop starts; for
//! the step's large outputs (a 34k × 96 conv output is 13 MB, a 27 × 256 × 256 weight
//! gradient 7 MB) that serial pass left the other core idle for a few ms per layer (the conv
//! kernels ran at 170–184 % CPU on two threads). Here each chunk is zeroed by the thread
//! that then fills it, while it is about to be in that core's cache anyway.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A `len`-element buffer, cut into `chunk`-element pieces (the last may be shorter); each
/// piece is zeroed and handed to `fill(state, index, piece)` on a rayon thread, with one
/// `init()` state per rayon job (scratch buffers).
pub(crate) fn par_zeroed_chunks<S, I, F>(len: usize, chunk: usize, init: I, fill: F) -> Vec<f32>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, &mut [f32]) + Sync + Send,
{
    let mut v: Vec<f32> = Vec::with_capacity(len);
    if len == 0 {
        return v;
    }
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each_init(init, |state, (i, piece)| {
            piece.fill(MaybeUninit::new(0.0));
            // SAFETY: every element of `piece` was initialised by the fill above, and
            // MaybeUninit<f32> has the layout of f32.
            let piece = unsafe { &mut *(piece as *mut [MaybeUninit<f32>] as *mut [f32]) };
            fill(state, i, piece);
        });
    // SAFETY: the chunks cover 0..len and each was initialised in the loop (a panic in it
    // propagates out of for_each_init before this line, leaving the length 0).
    unsafe { v.set_len(len) };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_zeroed_then_filled_once() {
        for (len, chunk) in [(0, 4), (1, 4), (10, 3), (12, 4), (1000, 7), (5, 0)] {
            let v = par_zeroed_chunks(
                len,
                chunk,
                || (),
                |_, i, piece| {
                    assert!(piece.iter().all(|&x| x == 0.0));
                    for (j, x) in piece.iter_mut().enumerate() {
                        *x = (i * chunk.max(1) + j) as f32;
                    }
                },
            );
            let want: Vec<f32> = (0..len).map(|j| j as f32).collect();
            assert_eq!(v, want, "len {len} chunk {chunk}");
        }
    }
}
