"""Spin-flip attempts per second of ``IsingGibbs`` on a 256 x 256 periodic lattice at beta_c.

Measured in the same run, on the ferromagnet J = 1, h = 0 at beta_c = log(1 + sqrt 2) / 2:

* ``reference``: a plain single-threaded Numba checkerboard written here: ``int8`` spins in the
  lattice layout, neighbours by modular indices, the nine acceptance probabilities of the
  neighbour sums in a table, numba's built-in ``np.random.random()``; many sweeps per call;
* ``kernel``: :class:`~pymc_statmech.boltzmann.kernels.HeatBathKernel` ``.sweep`` with many
  sweeps per call (the stand-alone rate; goal >= 1e8 attempts/s);
* ``kernel, 1 sweep/call``: the same, one sweep per call (layout conversion and call overhead
  included);
* ``IsingGibbs.step``: the step method called in a Python loop, one sweep per draw (parameters,
  energy and magnetisation statistics included);
* ``pm.sample``: ``pm.sample(draws, tune=0, chains=1)`` with ``IsingGibbs`` assigned
  automatically, one sweep per draw; the rate from the sampling time PyMC reports (the loop:
  step, trace, statistics) and, separately, from the wall time of the whole call (model
  compilation included). Goal: >= 0.5 of the reference.

Each rate is the best of ``--reps`` repetitions (the machine may be shared; the load average is
printed). Ratios are against the reference measured in this run.

Run with ``python benchmarks/bench_ising_gibbs.py [--size 256] [--draws 2000] [--reps 5]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pymc as pm
from numba import njit

from pymc_statmech.boltzmann.distributions import Ising
from pymc_statmech.boltzmann.kernels import HeatBathKernel
from pymc_statmech.boltzmann.lattice import ising_structure
from pymc_statmech.boltzmann.step import IsingGibbs

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)


@njit(cache=True)
def plain_checkerboard(spins, beta, n_sweeps, seed):
    """The reference: a straightforward checkerboard heat bath with a lookup table."""
    np.random.seed(seed)  # noqa: NPY002 - numba's built-in generator, the plain choice
    L, W = spins.shape
    table = np.empty(9)
    for k in range(9):
        table[k] = 1.0 / (1.0 + np.exp(-2.0 * beta * (k - 4)))
    for _ in range(n_sweeps):
        for color in range(2):
            for r in range(L):
                up = (r - 1) % L
                down = (r + 1) % L
                for c in range((r + color) % 2, W, 2):
                    nb = spins[up, c] + spins[down, c] + spins[r, (c - 1) % W]
                    nb += spins[r, (c + 1) % W]
                    spins[r, c] = 1 if np.random.random() < table[nb + 4] else -1  # noqa: NPY002


def best_rate(fn, attempts, reps):
    """Best (and median) attempts per second over ``reps`` calls of ``fn``."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return attempts / min(times), attempts / float(np.median(times))


def ising_model(size):
    """A model with one Ising variable on the size x size periodic lattice, or None."""
    for method in ("auto", "mean_field"):
        try:
            with pm.Model() as model:
                Ising("s", J=1.0, beta=BETA_C, lattice=(size, size), method=method)
            if method != "auto":
                print(
                    f"note: psm.Ising(method='auto') failed for {size} x {size}; using "
                    f"method={method!r} (log Z is not used by the spin updates)."
                )
            return model, method
        except Exception as err:  # report it and try the next method
            print(f"psm.Ising(method={method!r}) on {size} x {size}: {type(err).__name__}: {err}")
    return None, None


def main(size: int, draws: int, reps: int) -> None:
    n = size * size
    rng = np.random.default_rng(0)
    start = np.where(rng.random((size, size)) < 0.5, 1, -1).astype(np.int8)
    sweeps = max(20, 5_000_000 // n)
    rows = []

    spins = start.copy()
    plain_checkerboard(spins, BETA_C, 1, 0)  # compile
    ref, ref_median = best_rate(
        lambda: plain_checkerboard(spins, BETA_C, sweeps, 1), n * sweeps, reps
    )
    rows.append(("reference (plain numba checkerboard)", ref, ref_median))

    structure = ising_structure(lattice=(size, size))
    kernel = HeatBathKernel(structure)
    kernel.set_parameters(1.0, 0.0, BETA_C)
    spins = start.copy()
    kernel.sweep(spins, 1, rng)
    rows.append(
        (
            "kernel (HeatBathKernel.sweep)",
            *best_rate(lambda: kernel.sweep(spins, sweeps, rng), n * sweeps, reps),
        )
    )

    def one_sweep_calls():
        for _ in range(sweeps):
            kernel.sweep(spins, 1, rng)

    rows.append(("kernel, 1 sweep/call", *best_rate(one_sweep_calls, n * sweeps, reps)))

    model, method = ising_model(size)
    if model is not None:
        with model:
            step = IsingGibbs()
            point = model.initial_point()

            def step_loop():
                p = point
                for _ in range(sweeps):
                    p, _ = step.step(p)

            rows.append(("IsingGibbs.step loop", *best_rate(step_loop, n * sweeps, reps)))
            loop_rates, wall_rates = [], []
            for rep in range(reps):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    idata = pm.sample(
                        draws=draws,
                        tune=0,
                        chains=1,
                        random_seed=rep,
                        progressbar=False,
                        compute_convergence_checks=False,
                    )
                    wall = time.perf_counter() - t0
                sampling = float(idata.sample_stats.attrs["sampling_time"])
                loop_rates.append(n * draws / sampling)
                wall_rates.append(n * draws / wall)
            rows.append(("pm.sample (sampling loop)", max(loop_rates), np.median(loop_rates)))
            rows.append(("pm.sample (whole call)", max(wall_rates), np.median(wall_rates)))

    load = os.getloadavg()
    print(
        f"\nIsingGibbs on a {size} x {size} periodic lattice at beta_c = {BETA_C:.6f}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )
    print(f"{'':40s} {'best Mflips/s':>14s} {'median':>10s} {'/ reference':>12s}")
    for label, best, median in rows:
        print(f"{label:40s} {best / 1e6:14.1f} {median / 1e6:10.1f} {best / ref:12.2f}")
    print(
        "\ngoals: kernel >= 100 Mflips/s stand-alone; pm.sample >= 0.5 x reference. "
        f"Kernel variant: {kernel.variant}" + (f"; model log Z: {method}" if method else "")
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    main(args.size, args.draws, args.reps)
