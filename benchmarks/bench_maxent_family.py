"""Warm time and accuracy of ``maxent_family`` against PreliZ and a SciPy SLSQP baseline.

The problem: the gamma distribution of largest entropy with 90% of its mass in [1, 10]. The
reference answer solves the same KKT system with mpmath at 50 digits. Three solvers are timed in
the same run, each on warm state (one untimed call first, which for ``maxent_family`` compiles
and caches its residual and Jacobian):

- ``maxent_family(pm.Gamma, 1, 10, 0.9)``: Newton on the KKT system;
- ``scipy.optimize.minimize(method="SLSQP")`` on ``scipy.stats.gamma`` entropy and CDF, with the
  mass as an equality constraint (no penalty), parameters on the log scale;
- ``preliz.maxent(preliz.Gamma(), 1, 10, 0.9)`` when PreliZ is importable (an optional extra:
  the comparison is skipped, and says so, without it).

The report gives the median wall time per call, the largest relative parameter error against
the reference, and each baseline's time divided by ``maxent_family``'s (above 1: slower).

Run with ``python benchmarks/bench_maxent_family.py [--calls 300]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import mpmath as mp
import numpy as np
import pymc as pm
from scipy import optimize, special, stats

from pymc_statmech.maxent.elicit import maxent_family

LOWER, UPPER, MASS = 1.0, 10.0, 0.9


def reference() -> np.ndarray:
    """(alpha, beta) from the KKT system at 50 digits: stationarity of H - nu g, and g = 0."""
    mp.mp.dps = 50
    lower, upper, mass = mp.mpf(LOWER), mp.mpf(UPPER), mp.mpf("0.9")

    def g(a, b):
        return mp.gammainc(a, b * lower, b * upper, regularized=True) - mass

    def equations(a, b, nu):
        dh_da = 1 + (1 - a) * mp.polygamma(1, a)  # H = a - log b + lgamma(a) + (1 - a) psi(a)
        return [
            dh_da - nu * mp.diff(lambda x: g(x, b), a),
            -1 / b - nu * mp.diff(lambda y: g(a, y), b),
            g(a, b),
        ]

    a, b, _ = mp.findroot(equations, (mp.mpf(3), mp.mpf("0.6"), mp.mpf(-3)))
    return np.array([float(a), float(b)])


def solve_psm() -> np.ndarray:
    prior = maxent_family(pm.Gamma, LOWER, UPPER, MASS)
    return np.array([prior.params["alpha"], prior.params["beta"]])


def solve_slsqp() -> np.ndarray:
    def frozen(t):
        return stats.gamma(np.exp(t[0]), scale=np.exp(-t[1]))

    # the same moment-matching start as maxent_family's
    mean = (LOWER + UPPER) / 2
    std = (UPPER - LOWER) / (2 * special.ndtri((1 + MASS) / 2))
    start = np.log([(mean / std) ** 2, mean / std**2])
    result = optimize.minimize(
        lambda t: -frozen(t).entropy(),
        start,
        method="SLSQP",
        constraints={
            "type": "eq",
            "fun": lambda t: frozen(t).cdf(UPPER) - frozen(t).cdf(LOWER) - MASS,
        },
        options={"ftol": 1e-12, "maxiter": 200},
    )
    return np.exp(result.x)


def solve_preliz(pz) -> np.ndarray:
    dist = pz.Gamma()
    pz.maxent(dist, LOWER, UPPER, MASS, plot=False)
    return np.array([dist.alpha, dist.beta])


def median_time(solve, calls: int) -> tuple[float, np.ndarray]:
    """Median seconds per call after one untimed warm-up call, and the last result."""
    result = solve()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        result = solve()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per solver")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Numba will use object mode")

    ref = reference()
    print(f"Gamma with {MASS:.0%} of its mass in [{LOWER:g}, {UPPER:g}]")
    print(f"  reference (mpmath, 50 digits): alpha={ref[0]:.15g}, beta={ref[1]:.15g}")

    def error(params):
        return np.max(np.abs(params / ref - 1))

    start = time.perf_counter()
    solve_psm()
    print(f"  maxent_family first call (builds and compiles): {time.perf_counter() - start:.2f} s")
    rows = []
    t_psm, params = median_time(solve_psm, args.calls)
    rows.append(("maxent_family (KKT Newton)", t_psm, error(params)))
    slsqp_calls = max(args.calls // 10, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t_slsqp, params = median_time(solve_slsqp, slsqp_calls)
    rows.append(("scipy SLSQP on scipy.stats.gamma", t_slsqp, error(params)))
    try:
        import preliz as pz
    except ImportError:
        pz = None
    if pz is not None:
        t_preliz, params = median_time(lambda: solve_preliz(pz), slsqp_calls)
        rows.append(("preliz.maxent", t_preliz, error(params)))

    print(f"  {'solver':34s} {'median/call':>12s} {'rel. error':>11s} {'time ratio':>11s}")
    for name, seconds, err in rows:
        print(f"  {name:34s} {seconds * 1e3:9.3f} ms {err:11.1e} {seconds / t_psm:10.1f}x")
    if pz is None:
        print(
            "  preliz.maxent: skipped (PreliZ is not importable; `pip install preliz` to compare)"
        )


if __name__ == "__main__":
    main()
