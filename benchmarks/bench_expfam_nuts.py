"""NUTS wall time: natural-parameter likelihoods against PyMC's built-ins.

Two models, each written twice:

(a) a Poisson GLM, ``psm.NaturalPoisson("y", eta=X @ beta)`` against
    ``pm.Poisson("y", mu=pm.math.exp(X @ beta))``;
(b) a Normal model with latent ``mu`` and ``sigma``, ``psm.NaturalNormal`` with
    ``eta = (mu / sigma^2, -1 / (2 sigma^2))`` against ``pm.Normal("y", mu, sigma)``.

Each model is compiled once (one ``pm.NUTS`` step per model, reused by every ``pm.sample``
call, which resets its tuning) and run once, untimed, to pay one-off setup costs; the runs then
alternate natural / built-in with the same
``random_seed`` per pair so that machine load drifts affect both sides alike. The report gives
the median wall time of ``pm.sample`` for each side and their ratio (natural / built-in; below 1
means the natural form is faster), and, because NUTS wall time also depends on the number of
gradient evaluations, the median time of one logp-and-gradient evaluation.

Run with ``python benchmarks/bench_expfam_nuts.py [--reps 5] [--draws 1000] [--quick]``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable

import numpy as np
import pymc as pm
import pytensor.tensor as pt

import pymc_statmech as psm


def poisson_glm(natural: bool, n_obs: int, seed: int = 42) -> pm.Model:
    """Poisson regression with 3 covariates and Normal(0, 1) priors on the coefficients."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3)) / np.sqrt(3)
    y = rng.poisson(np.exp(x @ np.array([0.8, -0.5, 0.3]) + 1.0))
    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, 1.0, shape=3)
        intercept = pm.Normal("intercept", 0.0, 2.0)
        eta = intercept + pt.as_tensor(x) @ beta
        if natural:
            psm.NaturalPoisson("y", eta=eta, observed=y)
        else:
            pm.Poisson("y", mu=pm.math.exp(eta), observed=y)
    return model


def normal_model(natural: bool, n_obs: int, seed: int = 43) -> pm.Model:
    """Normal observations with latent mean and standard deviation."""
    rng = np.random.default_rng(seed)
    y = rng.normal(1.5, 2.0, size=n_obs)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        if natural:
            precision = 1.0 / pt.square(sigma)
            eta = pt.stack([mu * precision, -0.5 * precision])
            psm.NaturalNormal("y", eta=eta, observed=y)
        else:
            pm.Normal("y", mu=mu, sigma=sigma, observed=y)
    return model


def _median_sample_times(
    models: dict[str, pm.Model], reps: int, draws: int, tune: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]]]:
    steps = {label: pm.NUTS(model=model) for label, model in models.items()}
    for label, model in models.items():
        # One untimed short run per side: the first pm.sample call pays one-off setup costs.
        pm.sample(
            draws=20,
            tune=20,
            chains=1,
            cores=1,
            step=steps[label],
            model=model,
            progressbar=False,
            compute_convergence_checks=False,
            random_seed=0,
        )
    times: dict[str, list[float]] = {label: [] for label in models}
    posterior_means: dict[str, dict[str, float]] = {label: {} for label in models}
    for k in range(reps):
        # Alternate which side goes first, so neither always runs on a warmer machine.
        order = list(models) if k % 2 == 0 else list(models)[::-1]
        for label in order:
            start = time.perf_counter()
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=1,
                cores=1,
                step=steps[label],
                model=models[label],
                progressbar=False,
                compute_convergence_checks=False,
                random_seed=k,
            )
            times[label].append(time.perf_counter() - start)
            for name, values in idata.posterior.data_vars.items():
                posterior_means[label].setdefault(name, [])
                posterior_means[label][name].append(np.asarray(values).mean(axis=(0, 1)))
    means = {
        label: {name: np.mean(v, axis=0) for name, v in by_name.items()}
        for label, by_name in posterior_means.items()
    }
    return times, means


def _median_gradient_time(model: pm.Model, calls: int, repeats: int = 5) -> float:
    fn = model.logp_dlogp_function(ravel_inputs=True)
    point = model.initial_point(0)
    x = np.concatenate([np.ravel(point[v.name]) for v in fn._grad_vars]).astype(float)
    fn(x)  # compile / JIT outside the timing
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn(x)
        per_call.append((time.perf_counter() - start) / calls)
    return float(np.median(per_call))


def _gradient_agreement(models: dict[str, pm.Model]) -> float:
    """Max |difference| of logp and gradient between the two forms at a random point."""
    (_, a), (_, b) = models.items()
    fa = a.logp_dlogp_function(ravel_inputs=True)
    fb = b.logp_dlogp_function(ravel_inputs=True)
    size = sum(int(np.prod(a.initial_point(0)[v.name].shape)) for v in fa._grad_vars)
    x = np.random.default_rng(0).normal(scale=0.3, size=size)
    (la, ga), (lb, gb) = fa(x), fb(x)
    return float(max(abs(la - lb), np.max(np.abs(ga - gb))))


def run_case(
    name: str,
    build: Callable[[bool, int], pm.Model],
    n_obs: int,
    reps: int,
    draws: int,
    tune: int,
    grad_calls: int,
) -> dict[str, float]:
    """Time one model in both forms and print the result."""
    models = {"natural": build(True, n_obs), "builtin": build(False, n_obs)}
    diff = _gradient_agreement(models)
    times, means = _median_sample_times(models, reps, draws, tune)
    grad = {label: _median_gradient_time(model, grad_calls) for label, model in models.items()}
    med = {label: float(np.median(t)) for label, t in times.items()}
    print(f"\n({name}) n_obs={n_obs}, draws={draws}, tune={tune}, reps={reps}")
    print(f"  logp and gradient agree to {diff:.1e} at a random point")
    for label in models:
        shown = ", ".join(f"{k}={np.round(v, 3)}" for k, v in means[label].items())
        runs = " ".join(f"{t:.2f}" for t in times[label])
        print(
            f"  {label:8s} pm.sample median {med[label]:7.3f} s  [{runs}]  "
            f"logp+grad {grad[label] * 1e6:8.2f} us/call  posterior means: {shown}"
        )
    ratio = med["natural"] / med["builtin"]
    grad_ratio = grad["natural"] / grad["builtin"]
    print(f"  ratio natural/builtin: NUTS wall time {ratio:.3f}, logp+grad time {grad_ratio:.3f}")
    return {"ratio": ratio, "grad_ratio": grad_ratio}


def main(argv: list[str] | None = None) -> None:
    """Run both benchmarks and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per side (>= 5)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--n-obs", type=int, default=2000)
    parser.add_argument("--grad-calls", type=int, default=2000)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2 reps of 200 draws, 200 calls"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.draws, args.tune, args.grad_calls = 2, 200, 200, 200
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.simplefilter("ignore", RuntimeWarning)
    print(f"pymc {pm.__version__}, pymc_statmech {psm.__version__}")
    results = {
        "poisson_glm": run_case(
            "a: Poisson GLM",
            poisson_glm,
            args.n_obs,
            args.reps,
            args.draws,
            args.tune,
            args.grad_calls,
        ),
        "normal": run_case(
            "b: Normal(mu, sigma)",
            normal_model,
            args.n_obs,
            args.reps,
            args.draws,
            args.tune,
            args.grad_calls,
        ),
    }
    print("\nsummary (natural / builtin; goal <= 1.0):")
    for name, r in results.items():
        print(f"  {name:12s} NUTS {r['ratio']:.3f}   logp+grad {r['grad_ratio']:.3f}")


if __name__ == "__main__":
    main()
