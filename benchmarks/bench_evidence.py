"""Evidence estimators: accuracy against time, next to ``pm.sample_smc`` on the same models.

Models with analytic evidence (those of tests/test_evidence.py): normal mean with known sigma,
Bayesian linear regression with known noise, beta-binomial, a correlated 10-d Gaussian.

- bridge: ``pm.sample`` (4 chains x 500 draws, 500 tune: enough for 0.01 nats) +
  ``psm.free_energy`` (total wall time, compilation included);
- SMC: ``pm.sample_smc`` with 4 chains at increasing draws, until its error is <= 0.01 nats;
- ladders: ``psm.sample_power_posteriors`` (32 rungs x 2 chains x 1000 draws) + stepping-stone
  and corrected TI.

Goals (issue 4): bridge <= 0.01 nats in <= 1/2 of the time SMC needs for 0.01 nats; ladder methods
<= 0.05 nats. Errors are |estimate - exact| averaged over seeds. Run:
``.venv/bin/python benchmarks/bench_evidence.py [--quick]``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np
import pymc as pm

import pymc_statmech as psm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from test_evidence import MODELS  # the analytic models and their exact evidence

QUIET = {"progressbar": False, "compute_convergence_checks": False}


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bridge_run(model, seed):
    def run():
        with model:
            idata = pm.sample(500, tune=500, chains=4, random_seed=seed, **QUIET)
        return psm.free_energy(idata, model, random_seed=seed)

    return timed(run)


def smc_run(model, draws, seed):
    def run():
        with model:
            smc = pm.sample_smc(draws, chains=4, random_seed=seed, progressbar=False)
        return psm.free_energy(smc, model)

    return timed(run)


def ladder_run(model, seed):
    return timed(
        lambda: psm.sample_power_posteriors(
            model, betas=32, draws=1000, tune=500, chains=2, random_seed=seed, progressbar=False
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, no ladders")
    parser.add_argument("--no-ladders", action="store_true", help="bridge and SMC only")
    args = parser.parse_args()
    seeds = [1] if args.quick else [1, 2, 3]
    warnings.simplefilter("ignore")
    print(f"{'model':14s} {'method':16s} {'|error| nats':>13s} {'reported':>9s} {'time s':>8s}")
    ratios, bridge_errors, ladder_errors = [], [], []
    for name, build in MODELS.items():
        model, exact = build()
        bridge_run(model, 0)  # compile once so both methods are timed warm
        runs = [bridge_run(model, seed) for seed in seeds]
        error = np.mean([abs(r.log_evidence - exact) for r, _ in runs])
        bridge_time = np.mean([t for _, t in runs])
        bridge_errors.append(error)
        print(
            f"{name:14s} {'bridge':16s} {error:13.4f} {np.mean([r.error for r, _ in runs]):9.4f} "
            f"{bridge_time:8.2f}"
        )
        smc_run(model, 200, 0)
        for draws in (2000, 8000, 32000):
            runs = [smc_run(model, draws, seed) for seed in seeds]
            smc_error = np.mean([abs(r.log_evidence - exact) for r, _ in runs])
            smc_time = np.mean([t for _, t in runs])
            print(
                f"{'':14s} {f'smc {draws}':16s} {smc_error:13.4f} "
                f"{np.mean([r.error for r, _ in runs]):9.4f} {smc_time:8.2f}"
            )
            if max(smc_error, np.mean([r.error for r, _ in runs])) <= 0.01:
                break
        ratios.append(bridge_time / smc_time)
        print(f"{'':14s} bridge time / SMC time at its best accuracy: {ratios[-1]:.2f}")
        if not (args.quick or args.no_ladders):
            tree, ladder_time = ladder_run(model, 1)
            for method in ("stepping_stone", "ti"):
                result, estimate_time = timed(lambda m=method, t=tree: psm.free_energy(t, method=m))
                ladder_errors.append(abs(result.log_evidence - exact))
                print(
                    f"{'':14s} {method:16s} {ladder_errors[-1]:13.4f} {result.error:9.4f} "
                    f"{ladder_time + estimate_time:8.2f}"
                )
    print()
    print(
        f"bridge: worst mean |error| {max(bridge_errors):.4f} nats (goal <= 0.01), "
        f"time ratio to SMC {max(ratios):.2f} at worst (goal <= 0.5)"
    )
    if ladder_errors:
        print(f"ladders: worst |error| {max(ladder_errors):.4f} nats (goal <= 0.05)")


if __name__ == "__main__":
    main()
