"""Cost of the maximum-entropy dual Op: one solve, and NUTS on a random-constraint model.

(i) One solve with its gradient, for d <= 4 constraints, compiled with ``pytensor.function``
    on the default (Numba) linker. The graph is what a NUTS step evaluates for one
    observation: :math:`\\ell(c) = \\lambda^*(c)\\cdot T(x_0) - A(\\lambda^*(c))` and
    :math:`\\partial\\ell/\\partial c` (the implicit-function gradient of the Op), with
    :math:`\\lambda^*` from :func:`pymc_statmech.maxent.solve.solve_dual` on the measure of the
    problem's solution. The problems:

    * ``dice d=1``: ``Discrete(range(1, 7))`` with ``mean(4.5)`` (6 exact points);
    * ``dice d=2``: the same die with ``mean(4.5)`` and ``moment(2, 23.0)``;
    * ``gamma d=2``: ``HalfLine()`` with ``mean(2.0)`` and ``E[log x] = 0.3`` on the adapted
      double-exponential quadrature grid (the Gamma closed form is bypassed: this is the
      generic path a problem without a closed form takes).

    Each call moves the targets slightly (as NUTS does between gradient evaluations), so the
    Op's warm start is exercised. The cost is printed in microseconds per call against the
    20 us goal, next to the same-run cost of a trivial ``pytensor.function`` of the same
    signature (vector in; scalar and vector out), and of the Numba Newton kernel alone.

(ii) NUTS on ``mu ~ Uniform(1.5, 5.5)``, 200 rolls observed from
    ``psm.MaxEnt("rolls", Discrete(range(1, 7)), [psm.mean(mu)])``, against the same model
    with the multiplier found in the graph by ``pytensor.tensor.optimize.root_scalar``
    (Newton with the derivative, implicit gradient) and the rolls as
    ``pm.Categorical(logits=lam * values)``. One chain, same seeds, models compiled and run
    once untimed before the timed runs; the runs alternate between the two models. Printed:
    the median sampling time per 1000 NUTS iterations (tuning + draws) and the ratio
    MaxEnt / root_scalar (goal <= 1/5).

Run with ``python benchmarks/bench_maxent_solve.py [--calls 20000] [--reps 3] [--draws 1000]``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace
from pytensor.tensor.optimize import root_scalar

import pymc_statmech as psm
from pymc_statmech.maxent.solve import newton_dual, solve_dual

GOAL_US = 20.0
RATIO_GOAL = 1 / 5
DIE = np.arange(1.0, 7.0)


# --- (i) one solve ----------------------------------------------------------------------------
def _problems():
    """(label, solution, targets, observed point x0)."""
    return [
        ("dice d=1", psm.maxent_solve(psm.Discrete(DIE), [psm.mean(4.5)]), [4.5], 5.0),
        (
            "dice d=2",
            psm.maxent_solve(psm.Discrete(DIE), [psm.mean(4.5), psm.moment(2, 23.0)]),
            [4.5, 23.0],
            5.0,
        ),
        (
            "gamma d=2",
            psm.maxent_solve(
                psm.HalfLine(), [psm.mean(2.0), psm.expect(pt.log, 0.3, name="E[log x]")]
            ),
            [2.0, 0.3],
            1.5,
        ),
    ]


def _compiled(solution, x0):
    """``f(c) -> (l, dl/dc)`` through the dual Op, and the measure as NumPy arrays."""
    T = np.asarray(solution.node_statistics.eval(), dtype="float64")
    logw = np.asarray(solution.node_log_weights.eval(), dtype="float64")
    stats_x0 = np.array(
        [float(pt.as_tensor(c.statistic(pt.as_tensor(x0))).eval()) for c in solution.constraints]
    )
    c = pt.dvector("c")
    lam = solve_dual(T, logw, c, solution.start)
    log_partition = pt.logsumexp(lam @ T + logw)
    value = lam @ stats_x0 - log_partition
    f = pytensor.function([c], [value, pt.grad(value, c)])
    return f, T, logw


def _trivial(d):
    c = pt.dvector("c")
    value = pt.sum(c)
    return pytensor.function([c], [value, pt.grad(value, c)])


def _per_call_us(fn, targets) -> float:
    for row in targets[:200]:  # warm up: caches, branch predictors
        fn(row)
    start = time.perf_counter()
    for row in targets:
        fn(row)
    return (time.perf_counter() - start) / len(targets) * 1e6


def bench_solve(calls: int, seed: int = 0) -> None:
    print(f"(i) one solve + gradient, {calls} calls each, targets moving slightly per call")
    linker = type(pytensor.compile.mode.get_default_mode().linker).__name__
    print(f"    default linker: {linker}")
    header = (
        f"{'problem':<10} {'nodes':>6} {'Op us/call':>11} {'trivial us':>11} "
        f"{'ratio':>6} {'kernel us':>10} {'goal':>9}"
    )
    print(header)
    rng = np.random.default_rng(seed)
    for label, solution, target, x0 in _problems():
        f, T, logw = _compiled(solution, x0)
        target = np.asarray(target, dtype="float64")
        # A slow random walk of relative size 1e-3 per step around the base targets.
        steps = rng.normal(scale=1e-3, size=(calls, target.size)).cumsum(axis=0)
        targets = target * (1 + 0.02 * np.tanh(steps))
        value, grad = f(targets[0])
        assert np.isfinite(value) and np.all(np.isfinite(grad)), label
        op_us = _per_call_us(f, targets)
        trivial_us = _per_call_us(_trivial(target.size), targets)
        # The Newton kernel alone, warm-started from the previous solution.
        lam = np.asarray(solution.start, dtype="float64")
        for row in targets[:200]:
            lam = newton_dual(T, logw, row, lam, 200)[0]
        start = time.perf_counter()
        for row in targets:
            lam = newton_dual(T, logw, row, lam, 200)[0]
        kernel_us = (time.perf_counter() - start) / calls * 1e6
        verdict = "met" if op_us <= GOAL_US else "missed"
        print(
            f"{label:<10} {T.shape[1]:>6d} {op_us:>11.1f} {trivial_us:>11.1f} "
            f"{op_us / trivial_us:>6.1f} {kernel_us:>10.1f} {verdict:>6} {GOAL_US:.0f}"
        )


# --- (ii) NUTS ---------------------------------------------------------------------------------
def _rolls(n: int, seed: int = 7) -> np.ndarray:
    sol = psm.maxent_solve(psm.Discrete(DIE), [psm.mean(4.5)])
    p = np.exp(sol.logpdf(DIE))
    return np.random.default_rng(seed).choice(DIE.astype(int), size=n, p=p / p.sum())


def maxent_model(rolls) -> pm.Model:
    with pm.Model() as model:
        mu = pm.Uniform("mu", 1.5, 5.5)
        psm.MaxEnt("rolls", psm.Discrete(DIE), [psm.mean(mu)], observed=rolls)
    return model


def root_scalar_model(rolls) -> pm.Model:
    values = pt.as_tensor(DIE)
    with pm.Model() as model:
        mu = pm.Uniform("mu", 1.5, 5.5)
        lam0 = pt.dscalar("lam0")
        mean = pt.sum(values * pt.special.softmax(lam0 * values))
        lam, _ = root_scalar(mean - mu, lam0, method="newton", jac=True)
        # root_scalar starts from the value of its variable: start every solve at 0.
        lam = graph_replace(lam, {lam0: pt.constant(0.0, dtype="float64")}, strict=False)
        pm.Deterministic("lam", lam)
        pm.Categorical("rolls", logit_p=lam * values, observed=np.asarray(rolls) - 1)
    return model


def bench_nuts(reps: int, draws: int, n_rolls: int) -> None:
    rolls = _rolls(n_rolls)
    models = {"MaxEnt": maxent_model(rolls), "root_scalar": root_scalar_model(rolls)}
    # Same model? Same logp at a few points.
    for mu in (2.0, 3.5, 5.0):
        point = {"mu_interval__": np.log((mu - 1.5) / (5.5 - mu))}
        a, b = (float(m.compile_logp()(point)) for m in models.values())
        assert abs(a - b) < 1e-8 * abs(a), (mu, a, b)
    steps = {k: pm.NUTS(model=m) for k, m in models.items()}
    for label, model in models.items():
        pm.sample(
            draws=20, tune=20, chains=1, step=steps[label], model=model,
            random_seed=0, progressbar=False, compute_convergence_checks=False,
        )  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in models}
    means: dict[str, list[float]] = {k: [] for k in models}
    for rep in range(reps):
        for label, model in models.items():
            idata = pm.sample(
                draws=draws, tune=draws, chains=1, step=steps[label], model=model,
                random_seed=100 + rep, progressbar=False, compute_convergence_checks=False,
            )  # fmt: skip
            times[label].append(idata.sample_stats.attrs["sampling_time"])
            means[label].append(float(idata.posterior["mu"].mean()))
    print(
        f"\n(ii) NUTS, 1 chain, {draws} tune + {draws} draws, {n_rolls} rolls, "
        f"median of {reps} runs"
    )
    per = {k: float(np.median(v)) / (2 * draws) * 1000 for k, v in times.items()}
    for label in models:
        print(
            f"{label:<12} {per[label]:8.3f} s per 1000 iterations   "
            f"(runs: {', '.join(f'{t:.2f}' for t in times[label])} s; "
            f"posterior mean of mu {np.mean(means[label]):.3f})"
        )
    ratio = per["MaxEnt"] / per["root_scalar"]
    verdict = "met" if ratio <= RATIO_GOAL else "missed"
    print(f"ratio MaxEnt / root_scalar = {ratio:.3f} (goal <= {RATIO_GOAL:.2f}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--rolls", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    bench_solve(args.calls)
    bench_nuts(args.reps, args.draws, args.rolls)


if __name__ == "__main__":
    main()
