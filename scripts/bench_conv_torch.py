#!/usr/bin/env python3
"""PyTorch (CPU) reference timing of the 3x3x3 submanifold sparse conv benchmarked by
`cargo bench -p po3ad-sparse --bench conv`, on the same voxel coordinates (written by that bench
to /tmp/po3ad_conv_bench_{big,small}.txt).

Three PyTorch formulations, best one reported:
  per_offset : for each offset k: out.index_add_(0, out_k, x[in_k] @ W[k])
  gather_all : one gather x[in_all], per-offset mm on slices, one index_add_
  im2col     : zero-padded neighbour table [N, 27] -> x[nbr].view(N, 27*C) @ W.view(27*C, C)
                (one big GEMM, but ~27/occupied more FLOPs)

Usage: python3 scripts/bench_conv_torch.py [--single-thread]   (pip install torch numpy; run right
after the Rust bench on the same machine). --single-thread: 1 thread, timed by thread CPU time
(matches the bench's "1-thread CPU-time" rows; robust when other jobs load the machine).
"""
import statistics
import sys
import time

import numpy as np
import torch


def load(path):
    c = np.loadtxt(path, dtype=np.int64).reshape(-1, 4)
    return c


def kernel_map(coords, k=3):
    """Pairs (in_rows, out_rows) per offset, same offset order as the Rust crate."""
    r = (k - 1) // 2
    lo = coords.min(0) - r
    span = coords.max(0) + r - lo + 1

    def key(c):
        c = c - lo
        return ((c[:, 0] * span[1] + c[:, 1]) * span[2] + c[:, 2]) * span[3] + c[:, 3]

    keys = key(coords)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    pairs = []
    for dx in range(k):
        for dy in range(k):
            for dz in range(k):
                d = np.array([0, dx - r, dy - r, dz - r])
                q = key(coords + d)
                pos = np.searchsorted(sorted_keys, q).clip(0, len(keys) - 1)
                hit = sorted_keys[pos] == q
                out_rows = np.nonzero(hit)[0]
                in_rows = order[pos[hit]]
                pairs.append((torch.from_numpy(in_rows), torch.from_numpy(out_rows)))
    return pairs


def per_offset(x, w, pairs, n):
    out = x.new_zeros(n, w.shape[2])
    for k, (i, o) in enumerate(pairs):
        if len(i):
            out = out.index_add(0, o, x[i] @ w[k])
    return out


def gather_all(x, w, cat_in, cat_out, lens):
    g = x[cat_in]
    parts = []
    s = 0
    for k, l in enumerate(lens):
        if l:
            parts.append(g[s : s + l] @ w[k])
        s += l
    y = torch.cat(parts, 0)
    return x.new_zeros(x.shape[0], w.shape[2]).index_add(0, cat_out, y)


def im2col(x, w, nbr):
    xpad = torch.cat([x, x.new_zeros(1, x.shape[1])], 0)
    return xpad[nbr].reshape(x.shape[0], -1) @ w.reshape(-1, w.shape[2])


CLOCK = time.perf_counter


def median_ms(f, reps=11):
    f()
    ts = []
    for _ in range(reps):
        t = CLOCK()
        f()
        ts.append((CLOCK() - t) * 1e3)
    return statistics.median(ts)


def bench(label, c):
    coords = load(f"/tmp/po3ad_conv_bench_{label}.txt")
    n = len(coords)
    t = time.perf_counter()
    pairs = kernel_map(coords)
    map_ms = (time.perf_counter() - t) * 1e3
    n_pairs = sum(len(i) for i, _ in pairs)
    flop = n_pairs * c * c * 2
    print(f"# {label}: N = {n}, pairs = {n_pairs}, C = {c}, numpy map build {map_ms:.1f} ms")
    cat_in = torch.cat([i for i, _ in pairs])
    cat_out = torch.cat([o for _, o in pairs])
    lens = [len(i) for i, _ in pairs]
    nbr = torch.full((n, 27), n, dtype=torch.int64)
    for k, (i, o) in enumerate(pairs):
        nbr[o, k] = i
    torch.manual_seed(0)
    x0 = torch.randn(n, c)
    w = (torch.randn(27, c, c) * (2.0 / (27 * c)) ** 0.5).requires_grad_()
    variants = {
        "per_offset": lambda x: per_offset(x, w, pairs, n),
        "gather_all": lambda x: gather_all(x, w, cat_in, cat_out, lens),
        "im2col": lambda x: im2col(x, w, nbr),
    }
    ref = None
    rows = []
    for name, f in variants.items():
        with torch.no_grad():
            y = f(x0)
            if ref is None:
                ref = y
            assert torch.allclose(y, ref, atol=1e-4, rtol=1e-4), name

            def fwd():
                f(x0)

            ms_f = median_ms(fwd)

        def fwd_bwd():
            x = x0.clone().requires_grad_()
            w.grad = None
            f(x).sum().backward()

        ms_fb = median_ms(fwd_bwd)
        rows.append((f"{label} torch {name} fwd", ms_f, flop / ms_f / 1e6))
        rows.append((f"{label} torch {name} fwd+bwd", ms_fb, 3 * flop / ms_fb / 1e6))
    best = min(r[1] for r in rows if r[0].endswith("fwd+bwd"))
    return rows, best


def main():
    global CLOCK
    prefix = ""
    size = 2048
    if "--single-thread" in sys.argv:
        # One intra-op thread, timed by this thread's CPU clock: insensitive to other jobs.
        torch.set_num_threads(1)
        CLOCK = time.thread_time
        prefix = "1-thread CPU-time "
        size = 1024
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    ms = median_ms(lambda: a @ b, reps=5)
    rows.append((f"{prefix}SGEMM {size}^3 (torch)", ms, 2 * size**3 / ms / 1e6))
    bests = {}
    for label, c in (("big", 32), ("small", 128)):
        r, best = bench(label, c)
        rows += [(prefix + n, ms, g) for n, ms, g in r]
        bests[label] = best
    print("| measurement | median ms | useful GFLOP/s |")
    print("|---|---:|---:|")
    for name, ms, g in rows:
        print(f"| {name} | {ms:.2f} | {g:.1f} |")
    for label, best in bests.items():
        print(f"# {label}: best torch fwd+bwd {best:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
