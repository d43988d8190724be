"""Cost of ``psm.summary`` against the ``pm.sample`` run it describes (issue 19).

For each model: ``pm.sample`` (4 chains x 1000 draws after 1000 tuning steps, both cores) is
timed, then ``psm.summary`` on its output (bridge-sampling evidence with its checks, the
posterior entropy, heat capacity, WAIC penalty and the per-variable information gains from a
prior group), cold (first call on the model: compiles the model's terms) and warm (a second call).
The ratio summary / sample is printed for both; the goal is a summary that costs less than the
sampling it summarises once warm (ratio < 1), measured in the same run.

Models: the normal mean (one parameter), a three-coefficient Gaussian regression, and the
non-centred eight schools (Rubin 1981; ten parameters, a hierarchical prior).

Run: ``.venv/bin/python benchmarks/bench_summary.py``.
"""

from __future__ import annotations

import pathlib
import sys
import time
import warnings

import numpy as np
import pymc as pm

import pymc_statmech as psm

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from bench_evidence_real import schools  # noqa: E402
from test_evidence import normal_model, regression_model  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    models = {
        "normal mean": normal_model()[0],
        "regression (3 coefficients)": regression_model()[0],
        "eight schools, non-centred": schools(centred=False)[0],
    }
    print(
        f"{'model':30s} {'sample':>8s} {'summary cold':>13s} {'warm':>7s} {'ratio cold':>11s} "
        f"{'warm':>6s}"
    )
    for name, model in models.items():
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata, t_sample = timed(
                lambda: pm.sample(
                    1000, tune=1000, chains=4, random_seed=1, progressbar=False,
                    target_accept=0.95,
                )
            )  # fmt: skip
            pm.compute_log_likelihood(idata, progressbar=False)
            idata["prior"] = pm.sample_prior_predictive(2000, random_seed=2)["prior"]
            run = lambda data=idata, m=model: psm.summary(data, m, random_seed=3)  # noqa: E731
            table, t_cold = timed(run)
            _, t_warm = timed(run)
        print(
            f"{name:30s} {t_sample:7.1f}s {t_cold:12.1f}s {t_warm:6.1f}s {t_warm / t_sample:6.2f}"
        )
        gains = [row for row in table.index if row.startswith("information_gain")]
        print("    " + ", ".join(f"{row} = {table.loc[row, 'value']:.3f}" for row in gains))
    print(
        "ratio = summary / pm.sample; goal < 1 cold and warm (the summary costs less than the "
        "draws it describes)."
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
