"""Pseudo-likelihood NUTS on 200 spins x 10,000 snapshots: wall time of ``pm.sample`` (goal < 30 s).

The system is a 10 x 20 periodic lattice (200 spins, 400 bonds) with one coupling per bond,
:math:`J_e \\sim N(0.2, 0.2^2)`, and one field per site, :math:`h_i \\sim N(0, 0.1^2)`, at
:math:`\\beta = 1`. The snapshots are exact, independent draws (``pm.draw`` of ``psm.Ising``:
forward-filtering backward-sampling through the transfer matrix of the 10-spin rows). The model
puts ``Normal(0, 1)`` priors on the 400 couplings and 200 fields and observes the snapshots
through ``psm.Ising(..., method="pseudo_likelihood")``, Besag's
:math:`\\sum_n \\sum_i \\log\\sigma(2 s_i^{(n)} (h_i + \\sum_j J_{ij} s_j^{(n)}))`.

Measured in the same run:

* ``library``: the cost of one log-density-and-gradient evaluation of that model (the compiled
  ``logp_dlogp_function`` that NUTS calls), median of ``--reps`` calls;
* ``reference``: the same pseudo-likelihood written here in PyTensor on *neighbourhood-pattern
  counts*. The conditional of site :math:`i` depends on the snapshot only through
  :math:`(s_i, s_{\\partial i})`, so the sum over 10,000 snapshots is a sum over the distinct
  patterns of each site weighted by their counts (at most :math:`2^{d_i + 1} = 32` per site on
  a square lattice: 6,400 terms instead of 2,000,000). Same value (checked to 1e-9 relative at
  two points), same gradient, same posterior;
* ``pm.sample`` of the reference model: wall time, gradient evaluations per draw
  (``n_steps``, tuning and draws), the recovery error of the couplings (relative L2 norm of
  posterior mean minus truth, and RMS error in units of the posterior standard deviation);
* ``pm.sample`` of the library model: run in full only when its projected time (the reference
  run's gradient evaluations times the library's cost per evaluation) is within ``--budget``
  seconds or with ``--full``; otherwise a short run (``--short`` tuning and ``--short`` draws,
  one chain) checks that the cost per gradient evaluation inside ``pm.sample`` matches the
  projection, and the full time is reported as a projection;
* ConIII's ``Pseudo`` (Aurell-Ekeberg per-spin pseudo-likelihood, all pairs), when
  ``import coniii`` works. It pins numpy < 2 and is never installed into this environment; the
  benchmark prints a skip message otherwise.

Run with ``python benchmarks/bench_ising_pseudolikelihood.py [--snapshots 10000] [--draws 1000]
[--tune 1000] [--chains 2] [--cores N] [--budget 300] [--short 10] [--full]``. Chains run as
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


def neighbourhood_patterns(structure, spins):
    """Distinct (own spin, neighbour spins) patterns of every site and their counts.

    Returns flat arrays over all (site, pattern) pairs: ``site``, ``count``, ``own`` spin,
    ``neighbour`` spins ``(P, D)`` and ``bond`` ids ``(P, D)`` (padded with ``n_edges``, the
    index of an extra zero coupling), ``D`` the largest degree.
    """
    indptr, neighbour, bond = structure.adjacency
    degree = np.diff(indptr)
    D = int(degree.max())
    parts = {"site": [], "count": [], "own": [], "neighbour": [], "bond": []}
    for i in range(structure.n_spins):
        k = slice(indptr[i], indptr[i + 1])
        rows, counts = np.unique(
            spins[:, np.concatenate([[i], neighbour[k]])], axis=0, return_counts=True
        )
        nb = np.zeros((len(rows), D))
        nb[:, : degree[i]] = rows[:, 1:]
        ids = np.full((len(rows), D), structure.n_edges)
        ids[:, : degree[i]] = bond[k]
        parts["site"].append(np.full(len(rows), i))
        parts["count"].append(counts.astype(float))
        parts["own"].append(rows[:, 0].astype(float))
        parts["neighbour"].append(nb)
        parts["bond"].append(ids)
    return {key: np.concatenate(value) for key, value in parts.items()}


def library_model(structure, snapshots):
    with pm.Model() as model:
        J = pm.Normal("J", 0.0, 1.0, shape=structure.n_edges)
        h = pm.Normal("h", 0.0, 1.0, shape=structure.n_spins)
        Ising("s", J=J, h=h, lattice=SHAPE, method="pseudo_likelihood", observed=snapshots)
    return model


def reference_model(structure, patterns):
    with pm.Model() as model:
        J = pm.Normal("J", 0.0, 1.0, shape=structure.n_edges)
        h = pm.Normal("h", 0.0, 1.0, shape=structure.n_spins)
        J_padded = pt.concatenate([J, pt.zeros(1)])
        field = h[patterns["site"]] + (J_padded[patterns["bond"]] * patterns["neighbour"]).sum(-1)
        pm.Potential(
            "pseudo_likelihood",
            -(patterns["count"] * pt.softplus(-2.0 * patterns["own"] * field)).sum(),
        )
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

    start = time.perf_counter()
    patterns = neighbourhood_patterns(structure, X)
    print(
        f"neighbourhood patterns: {len(patterns['site'])} (site, pattern) terms instead of "
        f"{X.size} (site, snapshot) terms, {time.perf_counter() - start:.1f} s"
    )

    points = [np.concatenate([J_true, h_true]), rng.normal(0.0, 0.3, n_params)]
    library = library_model(structure, snapshots)
    reference = reference_model(structure, patterns)
    lib_values, lib_cost = evaluation_cost(library, points, args.reps)
    ref_values, ref_cost = evaluation_cost(reference, points, max(args.reps, 200))
    agreement = max(abs(a - b) / abs(a) for a, b in zip(lib_values, ref_values, strict=True))
    print(
        f"\nlogp + gradient per evaluation: library {lib_cost * 1e3:.2f} ms, reference "
        f"{ref_cost * 1e3:.3f} ms (x{lib_cost / ref_cost:.0f}); logp values agree to "
        f"{agreement:.1e} relative"
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
    with reference:
        ref_idata, ref_wall = quiet_sample(**sample_kwargs)
    tune_steps, draw_steps = gradient_evaluations(ref_idata)
    per_chain = tune_steps.sum(axis=1) + draw_steps.sum(axis=1)
    ref_sampling = float(ref_idata.sample_stats.attrs["sampling_time"])
    ref_rec = recovery(ref_idata, J_true, h_true)
    print(
        f"\nreference pm.sample: wall {ref_wall:.1f} s (sampling loop {ref_sampling:.1f} s); "
        f"gradient evaluations per draw {draw_steps.mean():.1f} (tuning {tune_steps.mean():.1f}); "
        f"{per_chain.mean():.0f} per chain"
    )

    # chains in parallel processes: the slowest sets the loop time; in sequence: their sum
    loop_evals = float(per_chain.max() if cores >= args.chains else per_chain.sum())
    projected = loop_evals * lib_cost + (ref_wall - ref_sampling)
    lib_wall, lib_rec, measured = projected, None, False
    if args.full or projected <= args.budget:
        with library:
            lib_idata, lib_wall = quiet_sample(**sample_kwargs)
        lib_rec, measured = recovery(lib_idata, J_true, h_true), True
        lt, ld = gradient_evaluations(lib_idata)
        print(
            f"library pm.sample: wall {lib_wall:.1f} s; gradient evaluations per draw "
            f"{ld.mean():.1f} (tuning {lt.mean():.1f})"
        )
    else:
        with library:
            short, short_wall = quiet_sample(
                draws=args.short,
                tune=args.short,
                chains=1,
                random_seed=args.seed + 2,
                discard_tuned_samples=False,
            )
        st, sd = gradient_evaluations(short)
        evals = float(st.sum() + sd.sum())
        loop = float(short.sample_stats.attrs["sampling_time"])
        print(
            f"library pm.sample: projected {projected:.0f} s = {loop_evals:.0f} gradient "
            f"evaluations x {lib_cost * 1e3:.1f} ms ({args.chains} chains on {cores} "
            f"core{'s' if cores > 1 else ''}) + "
            f"{ref_wall - ref_sampling:.1f} s set-up; not run (above --budget {args.budget:.0f} s; "
            f"--full runs it).\n  short check, pm.sample(tune={args.short}, draws={args.short}, "
            f"chains=1): {evals:.0f} gradient evaluations in a {loop:.1f} s sampling loop = "
            f"{loop / evals * 1e3:.1f} ms each inside pm.sample (wall {short_wall:.1f} s)"
        )

    print(
        "\ncoupling recovery (relative L2 error of the posterior mean; RMS z; mean posterior sd):"
    )
    for label, rec in (("reference", ref_rec), ("library", lib_rec)):
        if rec is None:
            print(f"  {label:>9}: same posterior as the reference (identical log-density)")
            continue
        (jr, jz, js), (hr, hz, hs) = rec["J"], rec["h"]
        print(
            f"  {label:>9}: J {jr:.4f} (RMS z {jz:.2f}, sd {js:.4f});  "
            f"h {hr:.4f} (RMS z {hz:.2f}, sd {hs:.4f})"
        )
    print()
    coniii_comparison(structure, X, J_true)

    kind = "measured" if measured else "projected"
    print(f"\nsummary (goal: pm.sample < {GOAL_SECONDS:.0f} s):")
    print(
        f"  library   psm.Ising(method='pseudo_likelihood'): {lib_wall:10.1f} s ({kind}), "
        f"{lib_wall / GOAL_SECONDS:8.2f} x goal, {lib_cost * 1e3:.2f} ms per gradient"
    )
    print(
        f"  reference pattern-count pseudo-likelihood:      {ref_wall:10.1f} s (measured), "
        f"{ref_wall / GOAL_SECONDS:8.2f} x goal, {ref_cost * 1e3:.3f} ms per gradient"
    )
    print(f"  coupling recovery (relative L2): {ref_rec['J'][0]:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
