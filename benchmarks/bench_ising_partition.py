"""Transfer-matrix log Z value and gradient on an L x L lattice (default 12 x 12).

For ``boundary="open"`` and ``"periodic"``, per-bond couplings J and per-site fields h near the
critical point, this times ``ising_log_partition(..., method="transfer_matrix")`` compiled with
the default (Numba) linker: the value alone, and the value with its gradient in J, h and beta
(median of ``--reps`` calls after a warm-up call that also compiles). The peak memory of each
call is the largest resident-set size seen by a 1 ms sampler thread, minus the size before the
call (glibc reuses freed pages, so small arrays show as 0; the planned peak the method
checks against ``max_bytes`` is printed beside it). References measured in the same run:

* open: a plain NumPy log-space transfer matrix written here (the same helical site-by-site
  update with ``np.logaddexp``), value only;
* periodic: Kaufman's exact formula on the same torus (uniform J, h = 0: value and gradient),
  and the transfer matrix on that uniform case, whose values must agree to 1e-10.

The periodic transfer matrix fixes the first row to each of its 2^L states (the trace), so it
costs 2^L times the open lattice: about 4^L * L^2 additions. The value and the gradient come
from one sweep of the kernel (:mod:`pymc_statmech.boltzmann.logz`), so the two timings are
close.

Run with ``python benchmarks/bench_ising_partition.py [--size 12] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from pymc_statmech.boltzmann import ising_log_partition, ising_structure
from pymc_statmech.boltzmann.partition import _tm_plan

BETA_C = np.log(1 + np.sqrt(2)) / 2
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def measure(fn, *args, reps=3):
    """(median seconds, peak extra RSS bytes, result) over reps calls."""
    fn(*args)
    times, peaks, out = [], [], None
    for _ in range(reps):
        base, peak, stop = _rss(), [0], threading.Event()

        def sample(base=base, peak=peak, stop=stop):
            while not stop.is_set():
                peak[0] = max(peak[0], _rss() - base)
                time.sleep(0.001)

        t = threading.Thread(target=sample)
        t.start()
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
        stop.set()
        t.join()
        peaks.append(peak[0])
    return float(np.median(times)), max(peaks), out


def numpy_open_tm(L, W, Jh, Jv, h, beta):
    """Log Z of the open L x W lattice by the helical log-space transfer matrix in NumPy.

    Jh[r, c] joins (r, c)-(r, c+1), Jv[r, c] joins (r, c)-(r+1, c), h[r, c] the fields.
    """
    bits = ((np.arange(2**W)[:, None] >> np.arange(W)) & 1) * 2.0 - 1.0
    K, Kv, th = beta * Jh, beta * Jv, beta * h

    def diag(r):
        out = bits @ th[r]
        out += (bits[:, :-1] * bits[:, 1:]) @ K[r, : W - 1]
        return out

    state = diag(0)
    for r in range(1, L):
        for c in range(W):
            X = state.reshape(2 ** (W - 1 - c), 2, 2**c)
            a, b = X[:, 0, :], X[:, 1, :]
            k = Kv[r - 1, c]
            state = np.stack([np.logaddexp(a + k, b - k), np.logaddexp(a - k, b + k)], 1)
            state = state.reshape(-1)
        state = state + diag(r)
    top = state.max()
    return top + np.log(np.exp(state - top).sum())


def _fmt_bytes(b):
    return f"{b / 2**20:8.1f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=12)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    L = args.size
    rng = np.random.default_rng(0)
    print(f"transfer-matrix log Z on {L} x {L}, beta = beta_c, Numba linker\n")
    rows = []
    for boundary in ("open", "periodic"):
        s = ising_structure(lattice=(L, L), boundary=boundary)
        J, h, b = pt.vector("J"), pt.vector("h"), pt.scalar("b")
        lz = ising_log_partition(J, h, b, lattice=s, method="transfer_matrix")
        t0 = time.perf_counter()
        f_val = pytensor.function([J, h, b], lz)
        f_grad = pytensor.function([J, h, b], [lz, *pytensor.grad(lz, [J, h, b])])
        build = time.perf_counter() - t0
        Jv = 1.0 + 0.1 * rng.normal(size=s.n_edges)
        hv = 0.05 * rng.normal(size=s.n_spins)
        reps = args.reps if boundary == "open" else 1
        tv, mv, value = measure(f_val, Jv, hv, BETA_C, reps=reps)
        tg, mg, _ = measure(f_grad, Jv, hv, BETA_C, reps=reps)
        rows.append((boundary, tv, mv, tg, mg, build))
        plan, _ = _tm_plan(s, float("inf"))
        print(f"{boundary:>8}: log Z = {value:.10f}  (graph build {build:.1f} s)")
        print(
            f"          plan: rows of {plan.width}, {plan.n_rows} rows, trace={plan.trace}, "
            f"planned peak {_fmt_bytes(plan.bytes)}"
        )
        print(f"          value     {tv * 1e3:10.1f} ms  peak {_fmt_bytes(mv)}")
        print(f"          gradient  {tg * 1e3:10.1f} ms  peak {_fmt_bytes(mg)}")
        if boundary == "open":
            row, col = s.bond_grids()
            Jh = np.where(row >= 0, Jv[row], 0.0)
            Jvg = np.where(col >= 0, Jv[col], 0.0)
            tn, mn, ref = measure(
                numpy_open_tm, L, L, Jh, Jvg, hv.reshape(L, L), BETA_C, reps=args.reps
            )
            print(
                f"          NumPy reference value {tn * 1e3:8.1f} ms  peak {_fmt_bytes(mn)}; "
                f"|difference| = {abs(ref - value):.1e}; value time ratio TM/NumPy "
                f"= {tv / tn:.3f}"
            )
        else:
            Ju = pt.scalar("Ju")
            lk = ising_log_partition(Ju, 0.0, b, lattice=s, method="kaufman")
            f_k = pytensor.function([Ju, b], [lk, *pytensor.grad(lk, [Ju, b])])
            tk, mk, (vk, *_) = measure(f_k, 1.0, BETA_C, reps=args.reps)
            tu, _, (vu, *_) = measure(f_grad, np.ones(s.n_edges), np.zeros(s.n_spins), BETA_C,
                                      reps=1)  # fmt: skip
            print(
                f"          Kaufman value+gradient {tk * 1e3:8.3f} ms  peak {_fmt_bytes(mk)}; "
                f"uniform case TM {vu:.12f} vs Kaufman {vk:.12f} (|diff| {abs(vu - vk):.1e}); "
                f"time ratio TM/Kaufman = {tu / tk:.3g}"
            )
    print("\nsummary (value ms, gradient ms, gradient/value):")
    for boundary, tv, _mv, tg, _mg, _ in rows:
        print(f"  {boundary:>8}: {tv * 1e3:10.1f} {tg * 1e3:10.1f} {tg / tv:6.2f}")


if __name__ == "__main__":
    main()
