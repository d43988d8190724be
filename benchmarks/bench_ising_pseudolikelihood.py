"""Pseudo-likelihood NUTS on 200 spins x 10,000 snapshots: wall time of ``pm.sample`` (goal < 30 s).

The system is a 10 x 20 periodic lattice (200 spins, 400 bonds) with one coupling per bond,
:math:`J_e \\sim N(0.2, 0.2^2)`, and one field per site, :math:`h_i \\sim N(0, 0.1^2)`, at
:math:`\\beta = 1`. The snapshots are exact, independent draws (``pm.draw`` of ``psm.Ising``:
forward-filtering backward-sampling through the transfer matrix of the 10-spin rows). The model
puts ``Normal(0, 1)`` priors on the 400 couplings and 200 fields and observes the snapshots
through ``psm.Ising(..., method="pseudo_likelihood")``, Besag's
:math:`\\sum_n \\sum_i \\log\\sigma(2 s_i^{(n)} (h_i + \\sum_j J_{ij} s_j^{(n)}))`.

Measured in the same run:

* ``library``: one log-density-and-gradient evaluation of that model (the compiled
  ``logp_dlogp_function`` that NUTS calls), median of ``--reps`` calls, and ``pm.sample`` of
  it: wall time, gradient evaluations per draw (``n_steps``, tuning and draws), the recovery
  error of the couplings (relative L2 norm of posterior mean minus truth, and RMS error in units
  of the posterior standard deviation). The library sums the pseudo-likelihood over the distinct
  neighbourhood patterns of each site (at most :math:`2^5 = 32` on a square lattice: 6,400
  terms instead of 2,000,000; ``pymc_statmech.boltzmann.pseudolikelihood``);
* ``reference``: the same pseudo-likelihood written here as the textbook per-snapshot graph
  (local fields of every snapshot from the dense coupling matrix, a softplus per spin and
  snapshot) in PyTensor: same value (checked to 1e-9 relative at two points); its cost per
  evaluation, and its ``pm.sample`` time projected from the library run's gradient
  evaluations (run in full with ``--full``);
* ConIII's ``Pseudo`` (Aurell-Ekeberg per-spin pseudo-likelihood, all pairs), when
  ``import coniii`` works. It pins numpy < 2 and is never installed into this environment; the
  benchmark prints a skip message otherwise.

Run with ``python benchmarks/bench_ising_pseudolikelihood.py [--snapshots 10000] [--draws 1000]
[--tune 1000] [--chains 2] [--cores N] [--full]``. Chains run as
``pm.sample`` runs them by default (one process per core, ``cpu_count() // 2`` cores: in
sequence on a 2-CPU machine) unless ``--cores`` is given.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from pymc_statmech.boltzmann import ising_structure
from pymc_statmech.boltzmann.distributions import Ising

GOAL_SECONDS = 30.0
SHAPE = (10, 20)


def quiet_sample(**kwargs):
    """``pm.sample`` without progress bars or convergence warnings; (idata, wall seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        idata = pm.sample(progressbar=False, compute_convergence_checks=False, **kwargs)
        return idata, time.perf_counter() - start


def library_model(structure, snapshots):
    with pm.Model() as model:
        J = pm.Normal("J", 0.0, 1.0, shape=structure.n_edges)
        h = pm.Normal("h", 0.0, 1.0, shape=structure.n_spins)
        Ising("s", J=J, h=h, lattice=SHAPE, method="pseudo_likelihood", observed=snapshots)
    return model


def reference_model(structure, snapshots):
    """The per-snapshot pseudo-likelihood: local fields ``s @ C + h`` of every snapshot."""
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    spins = snapshots.reshape(len(snapshots), -1).astype(float)
    with pm.Model() as model:
        J = pm.Normal("J", 0.0, 1.0, shape=structure.n_edges)
        h = pm.Normal("h", 0.0, 1.0, shape=structure.n_spins)
        C = pt.zeros((structure.n_spins, structure.n_spins))
        C = pt.inc_subtensor(pt.inc_subtensor(C[i, j], J)[j, i], J)
        field = spins @ C + h
        pm.Potential("pseudo_likelihood", -pt.softplus(-2.0 * spins * field).sum())
    return model


def evaluation_cost(model, points, reps):
    """(logp values at ``points``, median seconds of one logp-and-gradient call)."""
    fn = model.logp_dlogp_function(ravel_inputs=True)
    fn.set_extra_values({})
    values = [float(fn(x)[0]) for x in points]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(points[0])
        times.append(time.perf_counter() - start)
    return values, float(np.median(times))


def recovery(idata, J_true, h_true):
    """Relative L2 error of the posterior-mean couplings and fields, and their RMS z-scores."""
    post = idata.posterior
    out = {}
    for name, truth in (("J", J_true), ("h", h_true)):
        mean = post[name].mean(("chain", "draw")).values
        sd = post[name].std(("chain", "draw")).values
        out[name] = (
            float(np.linalg.norm(mean - truth) / np.linalg.norm(truth)),
            float(np.sqrt(np.mean(((mean - truth) / sd) ** 2))),
            float(np.mean(sd)),
        )
    return out


def gradient_evaluations(idata):
    """Leapfrog steps (gradient evaluations) per chain in tuning and in draws."""
    draws = idata["sample_stats"]["n_steps"].values
    if "warmup_sample_stats" not in idata.children:
        return np.zeros((draws.shape[0], 0)), draws
    return idata["warmup_sample_stats"]["n_steps"].values, draws


def coniii_comparison(structure, X, J_true):
    try:
        import coniii  # noqa: F401
        from coniii.solvers import Pseudo
    except Exception as err:  # ImportError, or a binary incompatible with numpy >= 2
        print(
            f"ConIII Pseudo: skipped (import coniii failed: {type(err).__name__}: {err}). "
            "ConIII pins numpy < 2 and is never installed into this environment."
        )
        return
    try:
        from scipy.spatial.distance import squareform

        start = time.perf_counter()
        multipliers = Pseudo(X.astype(float)).solve()
        seconds = time.perf_counter() - start
        n = structure.n_spins
        M = squareform(np.asarray(multipliers[n:]))  # ConIII: E = -sum h s - sum J s s, +-1
        J_hat = M[structure.edges[:, 0], structure.edges[:, 1]]
        off = np.ones_like(M, dtype=bool)
        off[structure.edges[:, 0], structure.edges[:, 1]] = False
        off[structure.edges[:, 1], structure.edges[:, 0]] = False
        np.fill_diagonal(off, False)
        print(
            f"ConIII Pseudo (all {n * (n - 1) // 2} pairs, point estimate): {seconds:.1f} s; "
            f"relative L2 error of the lattice couplings "
            f"{np.linalg.norm(J_hat - J_true) / np.linalg.norm(J_true):.4f}; "
            f"RMS of the {int(off.sum() // 2)} non-bond couplings "
            f"{np.sqrt(np.mean(M[off] ** 2)):.4f}"
        )
    except Exception as err:  # an optional comparison never fails the benchmark
        print(f"ConIII Pseudo: failed ({type(err).__name__}: {err}).")


def main(args) -> None:
    rng = np.random.default_rng(args.seed)
    structure = ising_structure(lattice=SHAPE)
    J_true = rng.normal(0.2, 0.2, structure.n_edges)
    h_true = rng.normal(0.0, 0.1, structure.n_spins)
    n_params = structure.n_edges + structure.n_spins
    load = os.getloadavg()
    print(
        f"pseudo-likelihood NUTS: {SHAPE[0]} x {SHAPE[1]} periodic lattice, "
        f"{structure.n_spins} spins, {structure.n_edges} per-bond couplings + "
        f"{structure.n_spins} fields, {args.snapshots} snapshots; pm.sample(draws={args.draws}, "
        f"tune={args.tune}, chains={args.chains}, cores={args.cores or 'default'}); "
        f"{os.cpu_count()} CPUs, load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n"
    )

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba object mode for the draws' Python rng_fn
        snapshots = pm.draw(
            Ising.dist(J=J_true, h=h_true, lattice=SHAPE, size=args.snapshots),
            random_seed=args.seed + 1,
        )
    X = snapshots.reshape(args.snapshots, -1)
    print(
        "exact snapshots (pm.draw, FFBS through the transfer matrix): "
        f"{time.perf_counter() - start:.1f} s"
    )

    points = [np.concatenate([J_true, h_true]), rng.normal(0.0, 0.3, n_params)]
    library = library_model(structure, snapshots)
    reference = reference_model(structure, snapshots)
    lib_values, lib_cost = evaluation_cost(library, points, max(args.reps, 200))
    ref_values, ref_cost = evaluation_cost(reference, points, args.reps)
    agreement = max(abs(a - b) / abs(a) for a, b in zip(lib_values, ref_values, strict=True))
    print(
        f"\nlogp + gradient per evaluation: library {lib_cost * 1e3:.3f} ms, reference "
        f"{ref_cost * 1e3:.2f} ms (reference / library = {ref_cost / lib_cost:.0f}); "
        f"logp values agree to {agreement:.1e} relative"
    )
    assert agreement < 1e-9, (lib_values, ref_values)

    # PyMC's default (cpu_count // 2 without a better guess), unless --cores is given
    cores = args.cores or max(1, min(4, (os.cpu_count() or 2) // 2))
    sample_kwargs = {
        "cores": cores,
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "random_seed": args.seed + 2,
        "discard_tuned_samples": False,
    }
    with library:
        lib_idata, lib_wall = quiet_sample(**sample_kwargs)
    tune_steps, draw_steps = gradient_evaluations(lib_idata)
    per_chain = tune_steps.sum(axis=1) + draw_steps.sum(axis=1)
    lib_sampling = float(lib_idata.sample_stats.attrs["sampling_time"])
    lib_rec = recovery(lib_idata, J_true, h_true)
    print(
        f"\nlibrary pm.sample: wall {lib_wall:.1f} s (sampling loop {lib_sampling:.1f} s); "
        f"gradient evaluations per draw {draw_steps.mean():.1f} (tuning {tune_steps.mean():.1f}); "
        f"{per_chain.mean():.0f} per chain"
    )

    # chains in parallel processes: the slowest sets the loop time; in sequence: their sum
    loop_evals = float(per_chain.max() if cores >= args.chains else per_chain.sum())
    ref_wall, ref_kind = loop_evals * ref_cost + (lib_wall - lib_sampling), "projected"
    if args.full:
        with reference:
            ref_idata, ref_wall = quiet_sample(**sample_kwargs)
        ref_kind = "measured"
        (jr, jz, js), _ = recovery(ref_idata, J_true, h_true).values()
        print(f"reference pm.sample: wall {ref_wall:.1f} s; J recovery {jr:.4f} (RMS z {jz:.2f})")
    else:
        print(
            f"reference pm.sample: projected {ref_wall:.0f} s = {loop_evals:.0f} gradient "
            f"evaluations x {ref_cost * 1e3:.1f} ms + the library run's set-up (--full runs it)"
        )

    (jr, jz, js), (hr, hz, hs) = lib_rec["J"], lib_rec["h"]
    print(
        "\nrecovery (relative L2 error of the posterior mean; RMS z; mean posterior sd): "
        f"J {jr:.4f} (RMS z {jz:.2f}, sd {js:.4f});  h {hr:.4f} (RMS z {hz:.2f}, sd {hs:.4f})\n"
    )
    coniii_comparison(structure, X, J_true)

    print(f"\nsummary (goal: pm.sample < {GOAL_SECONDS:.0f} s):")
    print(
        f"  library   psm.Ising(method='pseudo_likelihood'): {lib_wall:8.1f} s (measured), "
        f"{lib_wall / GOAL_SECONDS:6.2f} x goal, {lib_cost * 1e3:.3f} ms per gradient"
    )
    print(
        f"  reference per-snapshot graph:                   {ref_wall:8.1f} s ({ref_kind}), "
        f"{ref_wall / GOAL_SECONDS:6.2f} x goal, {ref_cost * 1e3:.2f} ms per gradient"
    )
    print(f"  library / reference time: {lib_wall / ref_wall:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
