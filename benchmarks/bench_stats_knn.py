"""Time and accuracy of the kNN information estimators of ``pymc_statmech.stats``.

Compared, in the same run, on Gaussian draws with closed-form answers:

* entropy: ``psm.stats.entropy(method="knn")`` (Kozachenko-Leonenko, Euclidean, k=4, with its
  jackknife error) against ``infomeasure.entropy(approach="metric", minkowski_p=2, k=4)`` (the
  same estimator, no error) and, in 1-D, ``scipy.stats.differential_entropy`` (spacing
  estimators, no kNN);
* KL: ``psm.stats.kl_divergence(method="knn")`` (Wang-Kulkarni-Verdu, with jackknife error over
  both samples) against ``infomeasure.kld(approach="metric")`` (kNN cross-entropy minus
  entropy);
* mutual information: ``psm.stats.mutual_information(method="knn")`` (KSG algorithm 1) against
  ``infomeasure.mutual_information(approach="ksg")``.

Printed per case: the median wall time of one call (DataTree in, for ours: the full public path),
the mean error against the exact value over the seeds (the bias) with its standard error, and
the time ratio ours / reference. ``infomeasure`` is optional (``pip install infomeasure``; it is
not a dependency of pymc_statmech); missing, its rows are skipped with a message. infomeasure adds
1e-10 noise to the data by default; it is switched off here (``noise_level=0``) so both sides see
the same draws.

Run with ``python benchmarks/bench_stats_knn.py [--seeds 10] [--reps 5] [--sizes 1000 4000]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import xarray as xr
from scipy import stats

from pymc_statmech.stats import entropy, kl_divergence, mutual_information

K = 4

try:
    import infomeasure
except ImportError:  # optional reference
    infomeasure = None


def tree(x, prior=None):
    groups = {"posterior": xr.Dataset({"x": (("chain", "draw", "dim"), x[None])})}
    if prior is not None:
        groups["prior"] = xr.Dataset({"x": (("chain", "draw", "dim"), prior[None])})
    return xr.DataTree.from_dict(groups)


def timed(fn, reps):
    times = []
    value = None
    for _ in range(reps):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return value, float(np.median(times))


def row(case, name, errors, seconds, ours_seconds=None):
    """One estimator; for a reference, the last column is our time over its time."""
    errors = np.asarray(errors)
    bias = errors.mean()
    se = errors.std(ddof=1) / np.sqrt(errors.size) if errors.size > 1 else np.nan
    ratio = "" if ours_seconds is None else f"{ours_seconds / seconds:8.2f}"
    print(f"{case:<28} {name:<36} {1e3 * seconds:9.2f} {bias:+9.4f} {se:8.4f} {ratio}")


def header(title):
    print(f"\n{title}")
    print(f"{'case':<28} {'estimator':<36} {'ms/call':>9} {'bias':>9} {'se':>8} {'ours/ref':>8}")


def bench_entropy(sizes, dims, seeds, reps):
    header("Entropy (nats); bias = mean(estimate - exact) over seeds")
    for d in dims:
        exact = stats.multivariate_normal(np.zeros(d), np.eye(d)).entropy()
        for n in sizes:
            case = f"N(0, I_{d}), n={n}"
            draws = [np.random.default_rng(s).normal(size=(n, d)) for s in range(seeds)]
            ours, t_ours = [], []
            for x in draws:
                data = tree(x)
                value, seconds = timed(lambda data=data: entropy(data, k=K)["x"], reps)
                ours.append(float(value.sel(estimate="value")) - exact)
                t_ours.append(seconds)
            t_ours = float(np.median(t_ours))
            row(case, "psm.stats.entropy knn (+error)", ours, t_ours)
            if infomeasure is None:
                print(f"{case:<28} infomeasure not installed: skipped")
            else:
                ref, t_ref = [], []
                for x in draws:
                    value, seconds = timed(
                        lambda x=x: infomeasure.entropy(
                            x, approach="metric", k=K, minkowski_p=2, noise_level=0
                        ),
                        reps,
                    )
                    ref.append(value - exact)
                    t_ref.append(seconds)
                row(case, "infomeasure metric (KL, p=2)", ref, float(np.median(t_ref)), t_ours)
            if d == 1:
                ref, t_ref = [], []
                for x in draws:
                    value, seconds = timed(lambda x=x: stats.differential_entropy(x[:, 0]), reps)
                    ref.append(value - exact)
                    t_ref.append(seconds)
                row(case, "scipy differential_entropy", ref, float(np.median(t_ref)), t_ours)


def bench_kl(sizes, seeds, reps):
    header("KL(N(0.5, 0.3^2 I_5) || N(0, I_5)) = 4.370 nats (posterior-like), n = m")
    d = 5
    mp, sp = np.full(d, 0.5), 0.09
    exact = 0.5 * (d * sp + mp @ mp - d - d * np.log(sp))
    for n in sizes:
        case = f"d=5, n=m={n}"
        pairs = []
        for s in range(seeds):
            rng = np.random.default_rng(s)
            pairs.append((mp + np.sqrt(sp) * rng.normal(size=(n, d)), rng.normal(size=(n, d))))
        ours, t_ours = [], []
        for p, q in pairs:
            data = tree(p, q)
            value, seconds = timed(lambda data=data: kl_divergence(data, k=K)["x"], reps)
            ours.append(float(value.sel(estimate="value")) - exact)
            t_ours.append(seconds)
        t_ours = float(np.median(t_ours))
        row(case, "psm.stats.kl_divergence knn (+error)", ours, t_ours)
        if infomeasure is None:
            print(f"{case:<28} infomeasure not installed: skipped")
            continue
        ref, t_ref = [], []
        for p, q in pairs:
            value, seconds = timed(
                lambda p=p, q=q: infomeasure.kld(
                    p, q, approach="metric", k=K, minkowski_p=2, noise_level=0
                ),
                reps,
            )
            ref.append(value - exact)
            t_ref.append(seconds)
        row(case, "infomeasure kld metric", ref, float(np.median(t_ref)), t_ours)


def bench_mi(sizes, seeds, reps):
    header("MI of two normals with correlation 0.6 = 0.2231 nats")
    exact = -0.5 * np.log(1 - 0.36)
    for n in sizes:
        case = f"1+1 dims, n={n}"
        draws = [
            np.random.default_rng(s).multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=n)
            for s in range(seeds)
        ]
        ours, t_ours = [], []
        for z in draws:
            data = xr.Dataset(
                {"a": (("chain", "draw"), z[None, :, 0]), "b": (("chain", "draw"), z[None, :, 1])}
            )
            value, seconds = timed(lambda data=data: mutual_information(data, "a", "b", k=K), reps)
            ours.append(float(value.sel(estimate="value")) - exact)
            t_ours.append(seconds)
        t_ours = float(np.median(t_ours))
        row(case, "psm.stats.mutual_information ksg", ours, t_ours)
        if infomeasure is None:
            print(f"{case:<28} infomeasure not installed: skipped")
            continue
        ref, t_ref = [], []
        for z in draws:
            value, seconds = timed(
                lambda z=z: infomeasure.mutual_information(
                    z[:, 0], z[:, 1], approach="ksg", k=K, noise_level=0
                ),
                reps,
            )
            ref.append(value - exact)
            t_ref.append(seconds)
        row(case, "infomeasure ksg", ref, float(np.median(t_ref)), t_ours)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="independent data sets per case")
    parser.add_argument("--reps", type=int, default=3, help="timed calls per data set")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    args = parser.parse_args(argv)
    if infomeasure is None:
        print("infomeasure is not installed: its comparisons are skipped (pip install infomeasure)")
    else:
        print(f"infomeasure {infomeasure.__version__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infomeasure logs/warns about its own settings
        bench_entropy(args.sizes, [1, 5], args.seeds, args.reps)
        bench_kl(args.sizes, args.seeds, args.reps)
        bench_mi(args.sizes, args.seeds, args.reps)


if __name__ == "__main__":
    main()
