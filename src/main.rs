//! The `po3ad` binary: a thin shell over [`po3ad::cli`].

fn main() -> std::process::ExitCode {
    tune_allocator();
    po3ad::cli::main()
}

/// Keep freed tensor memory in the process. A training step allocates and frees the same
/// multi-megabyte activation, gradient and weight-gradient buffers every step; with glibc's
/// defaults most of them are above its (adaptive) mmap threshold, so each one is a fresh
/// `mmap` whose pages the kernel zero-fills on first touch and `munmap`s on free: ~1.2 M
/// page faults and ~7 % of a MinkUNet34C step's CPU time (notes/train-profile.md). Serving
/// blocks up to 32 MiB from the heap and not trimming it makes later steps reuse the pages.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists, and a rejected value just leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
