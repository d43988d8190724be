"""Evidence on real-world-shaped models: each estimator's error in units of its stated error.

Every model has a reference evidence from an independent route written here: a closed form, a
2-D Gauss-Legendre quadrature after integrating out the conjugate parts, or long importance
sampling with a heavy-tailed (Student-t, 5 degrees of freedom) proposal at the mode, whose own
error is printed and is far below the estimators'.

- cars regression: R's ``cars`` data (Ezekiel 1930; stopping distance on speed, 50 cars), a
  conjugate Normal-InverseGamma regression: closed form.
- eight schools, centred and non-centred (Rubin 1981; the same evidence): quadrature over
  (mu, tau) with the school effects integrated out.
- two-component mixture with exchangeable means, and the same with ordered means (whose prior
  keeps half the mass: evidence minus log 2): quadrature over the two means.
- logistic regression and a Poisson GLM on simulated covariates: importance sampling.
- a model whose likelihood is a ``pm.Potential``: closed form.

Methods: bridge (``pm.sample`` 4 x 1000), stepping-stone and TI on one ladder
(``psm.sample_power_posteriors``, 16 rungs x 2 chains x 500 draws). The coverage line asks that
``|error| <= 2 x stated error`` in at least 90% of (model, method, seed) cases, and prints the
warnings of every miss: each must name the miss's cause. Run:
``.venv/bin/python benchmarks/bench_evidence_real.py [--quick]`` (quick: one seed, bridge only). The
eight-schools and mixture models and their references come from tests/test_evidence.py.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np
import pymc as pm
import scipy.stats as st
from scipy.special import gammaln, logsumexp

import pymc_statmech as psm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
# the references the tests check against, stated once
from test_evidence import (
    SCHOOLS_SIGMA,
    SCHOOLS_Y,
    eight_schools_evidence,
    exchangeable_mixture_model,
)

QUIET = {"progressbar": False, "compute_convergence_checks": False}

# R's `cars` (Ezekiel 1930): speed (mph) and stopping distance (ft) of 50 cars
CARS_SPEED = np.array(
    [4, 4, 7, 7, 8, 9, 10, 10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15,
     15, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20, 20, 20, 22, 23, 24, 24, 24,
     24, 25],
    dtype=float,
)  # fmt: skip
CARS_DIST = np.array(
    [2, 10, 4, 22, 16, 10, 18, 26, 34, 17, 28, 14, 20, 24, 28, 26, 34, 34, 46, 26, 36, 60, 80, 20,
     26, 54, 32, 40, 32, 40, 50, 42, 56, 76, 84, 36, 46, 68, 32, 48, 52, 56, 64, 66, 54, 70, 92,
     93, 120, 85],
    dtype=float,
)  # fmt: skip


def cars_regression():
    """dist = w0 + w1 (speed - 15) + noise; w | s2 ~ N(0, s2 V0), s2 ~ InvGamma(a0, b0)."""
    x = np.column_stack([np.ones_like(CARS_SPEED), CARS_SPEED - 15.0])
    y = CARS_DIST
    v0 = np.diag([100.0, 10.0])
    a0, b0 = 2.0, 200.0
    with pm.Model() as model:
        s2 = pm.InverseGamma("s2", a0, b0)
        w = pm.Normal("w", 0.0, pm.math.sqrt(s2 * np.diag(v0)), shape=2)
        pm.Normal("y", pm.math.dot(x, w), pm.math.sqrt(s2), observed=y)
    precision = np.linalg.inv(v0) + x.T @ x
    mean = np.linalg.solve(precision, x.T @ y)
    a_n = a0 + y.size / 2
    b_n = b0 + 0.5 * (y @ y - mean @ precision @ mean)
    exact = (
        gammaln(a_n)
        - gammaln(a0)
        + a0 * np.log(b0)
        - a_n * np.log(b_n)
        - 0.5 * (np.linalg.slogdet(precision)[1] + np.linalg.slogdet(v0)[1])
        - 0.5 * y.size * np.log(2 * np.pi)
    )
    return model, float(exact), "closed form"


def schools(centred: bool):
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        if centred:
            theta = pm.Normal("theta", mu, tau, shape=8)
        else:
            theta = mu + tau * pm.Normal("z", 0, 1, shape=8)
        pm.Normal("y", theta, SCHOOLS_SIGMA, observed=SCHOOLS_Y)
    return model, eight_schools_evidence(), "quadrature"


def _importance_reference(model, n=400_000, seed=0):
    """log Z by importance sampling from a Student-t (5 dof) at the Laplace fit, unconstrained."""
    from pymc_statmech.model_terms import ModelTerms

    terms = ModelTerms(model)
    laplace = psm.free_energy(None, model, method="laplace")
    mode = laplace.diagnostics["mode"]
    rng = np.random.default_rng(seed)
    step = 1e-4  # central differences for the Hessian at the mode
    dim = terms.dim

    def log_q(theta):
        prior, like = terms.log_terms(theta)
        return prior + like

    hessian = np.zeros((dim, dim))
    for i in range(dim):
        for j in range(dim):
            e_i, e_j = np.eye(dim)[i] * step, np.eye(dim)[j] * step
            points = np.array(
                [mode + e_i + e_j, mode + e_i - e_j, mode - e_i + e_j, mode - e_i - e_j]
            )
            values = log_q(points)
            hessian[i, j] = (values[0] - values[1] - values[2] + values[3]) / (4 * step**2)
    cov = np.linalg.inv(-hessian) * 1.5
    proposal = st.multivariate_t(mode, cov, df=5)
    draws = proposal.rvs(size=n, random_state=rng)
    log_w = log_q(draws.reshape(n, dim)) - proposal.logpdf(draws)
    log_z = float(logsumexp(log_w) - np.log(n))
    w = np.exp(log_w - log_w.max())
    error = float(w.std() / (w.mean() * np.sqrt(n)))
    return log_z, error


def logistic_regression():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 3))
    y = rng.random(200) < 1 / (1 + np.exp(-(x @ np.array([1.0, -0.5, 0.25]) - 0.3)))
    with pm.Model() as model:
        b0 = pm.Normal("b0", 0, 2.5)
        b = pm.Normal("b", 0, 2.5, shape=3)
        pm.Bernoulli("y", logit_p=b0 + pm.math.dot(x, b), observed=y.astype(int))
    log_z, error = _importance_reference(model)
    return model, log_z, f"importance sampling (+/- {error:.4f})"


def poisson_glm():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(150, 2))
    y = rng.poisson(np.exp(0.5 + x @ np.array([0.4, -0.3])))
    with pm.Model() as model:
        b0 = pm.Normal("b0", 0, 2)
        b = pm.Normal("b", 0, 1, shape=2)
        pm.Poisson("y", pm.math.exp(b0 + pm.math.dot(x, b)), observed=y)
    log_z, error = _importance_reference(model)
    return model, log_z, f"importance sampling (+/- {error:.4f})"


def potential_likelihood():
    """A normal mean whose likelihood is written as a pm.Potential."""
    y = np.random.default_rng(13).normal(0.7, 1.0, 25)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        pm.Potential("likelihood", pm.logp(pm.Normal.dist(mu, 1.0), y).sum())
    cov = np.eye(y.size) + 4.0
    exact = float(st.multivariate_normal(np.zeros(y.size), cov).logpdf(y))
    return model, exact, "closed form"


MODELS = {
    "cars regression (NIG)": cars_regression,
    "eight schools, centred": lambda: schools(True),
    "eight schools, non-centred": lambda: schools(False),
    "mixture, exchangeable": lambda: (*exchangeable_mixture_model(), "quadrature"),
    "mixture, ordered": lambda: (*exchangeable_mixture_model(ordered=True), "quadrature"),
    "logistic regression": logistic_regression,
    "Poisson GLM": poisson_glm,
    "Potential likelihood": potential_likelihood,
}


def estimates(model, methods, seed):
    """(method, result, warnings, seconds) for each method on one seed."""
    out = []
    if "bridge" in methods:
        start = time.perf_counter()
        with model:
            idata = pm.sample(1000, tune=1000, chains=4, random_seed=seed, **QUIET)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            result = psm.free_energy(idata, model, random_seed=seed)
        out.append(("bridge", result, record, time.perf_counter() - start))
    ladder_methods = [m for m in methods if m in ("stepping_stone", "ti")]
    if ladder_methods:
        start = time.perf_counter()
        tree = psm.sample_power_posteriors(
            model, betas=16, draws=500, tune=500, random_seed=seed, progressbar=False
        )
        sampled = time.perf_counter() - start
        for method in ladder_methods:
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                result = psm.free_energy(tree, model, method=method)
            out.append((method, result, record, sampled))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, bridge only")
    args = parser.parse_args()
    seeds = [1] if args.quick else [1, 2]
    methods = ["bridge"] if args.quick else ["bridge", "stepping_stone", "ti"]
    cases, hits, misses = 0, 0, []
    print(f"{'model':28s} {'method':15s} {'seed':>4s} {'error/stated':>12s} {'time':>7s}  warned")
    for name, build in MODELS.items():
        model, exact, route = build()
        print(f"# {name}: reference log Z = {exact:.4f} ({route})")
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the samplers' own chatter
                rows = estimates(model, methods, seed)
            for method, result, record, seconds in rows:
                messages = [str(w.message) for w in record]
                z = (result.log_evidence - exact) / result.error
                cases += 1
                ok = abs(z) <= 2
                hits += ok
                if not ok:
                    misses.append((name, method, seed, z, messages))
                print(
                    f"{name:28s} {method:15s} {seed:4d} {z:12.2f} {seconds:6.1f}s  {len(messages)}"
                )
    print(f"\ncoverage: {hits}/{cases} = {hits / cases:.0%} within 2 stated errors (goal >= 90%)")
    for name, method, seed, z, messages in misses:
        print(f"miss: {name}, {method}, seed {seed}: {z:.1f} errors off; warnings:")
        for message in messages or ["(none: a silent miss)"]:
            print(f"   - {message[:200]}")


if __name__ == "__main__":
    main()
