"""Time to first result: cold compilation against warm, for the calls of issue 17.

Each case runs in a fresh subprocess with empty compile caches (a new temporary PyTensor
``base_compiledir`` and Numba ``NUMBA_CACHE_DIR``): its first call is the *cold* time a user
meets on a new machine or after changing a model's structure; the same call repeated in that
process is the *warm* time. Printed per case: cold, warm, the goal, and the baseline the issue
measured before the exact Ising kernels (same machine kind, 2 cores).

Cases:

* ``readme_nuts``: the README's inverse Ising, ``psm.Ising("s", J=J, h=h, lattice=(4, 4),
  observed=snapshots)`` with 500 exact snapshots, ``pm.sample`` 2 chains x (300 + 300); and the
  same model with 300 snapshots in the same process ("other data": no recompilation of the
  kernels, only of the small model graph);
* ``open_12``: 12 x 12 open lattice with per-bond J and per-site h, log Z and its gradient;
* ``periodic_12``: 12 x 12 periodic with a field, log Z and its gradient;
* ``open_16``: 16 x 16 open, per-bond J and per-site h: log Z, the mean parameters and the
  Fisher information (736 x 736);
* ``demo``: the main job, ``run_demo`` (``pymc-statmech demo``), writing its report to a
  temporary folder.

Run with ``python benchmarks/bench_latency.py [--cases readme_nuts,open_12,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

#: (goal in seconds for the cold call, the issue's baseline cold time or None)
GOALS = {
    "readme_nuts": (15.0, 75.8),
    "readme_nuts other data": (None, None),
    "open_12": (5.0, None),
    "periodic_12": (10.0, 80.0),
    "open_16": (60.0, None),
    "demo": (45.0, None),
}

CASES = {
    "readme_nuts": """
        import pymc as pm, pymc_statmech as psm
        snapshots = pm.draw(psm.Ising.dist(J=0.3, h=0.1, lattice=(4, 4), size=500), random_seed=1)

        def run(data):
            with pm.Model():
                J, h = pm.Normal("J", 0, 1), pm.Normal("h", 0, 1)
                psm.Ising("s", J=J, h=h, lattice=(4, 4), observed=data)
                return pm.sample(draws=300, tune=300, chains=2, progressbar=False,
                                 random_seed=1, compute_convergence_checks=False)

        cold = timed(run, snapshots)
        warm = timed(run, snapshots)
        other = timed(run, snapshots[:300])
        report("readme_nuts", cold, warm)
        report("readme_nuts other data", other, warm)
    """,
    "open_12": """
        lattice_gradient((12, 12), "open", "open_12")
    """,
    "periodic_12": """
        lattice_gradient((12, 12), "periodic", "periodic_12")
    """,
    "open_16": """
        import numpy as np, pymc_statmech as psm
        s = psm.ising_structure(lattice=(16, 16), boundary="open")
        rng = np.random.default_rng(0)
        J, h = 0.3 * rng.normal(size=s.n_edges), 0.1 * rng.normal(size=s.n_spins)

        def run():
            d = psm.Ising.dist(J=J, h=h, lattice=s)
            log_z = psm.log_partition(d).eval()
            means = [np.asarray(v.eval()) for v in psm.mean_parameters(d)]
            return log_z, means, psm.fisher_information(d).eval()

        report("open_16", timed(run), timed(run))
    """,
    "demo": """
        import tempfile
        from pymc_statmech.demo import run_demo

        def run():
            with tempfile.TemporaryDirectory() as folder:
                run_demo(out=folder + "/report")

        report("demo", timed(run), timed(run))
    """,
}

PRELUDE = """
import json, time
import numpy as np

def timed(f, *args):
    start = time.perf_counter()
    f(*args)
    return time.perf_counter() - start

def report(name, cold, warm):
    print("RESULT " + json.dumps({"case": name, "cold": cold, "warm": warm}))

def lattice_gradient(lattice, boundary, name):
    import pytensor, pytensor.tensor as pt, pymc_statmech as psm
    s = psm.ising_structure(lattice=lattice, boundary=boundary)
    J, h = pt.vector("J"), pt.vector("h")
    log_z = psm.ising_log_partition(J, h, 1.0, lattice=s)
    rng = np.random.default_rng(0)
    values = 0.3 * rng.normal(size=s.n_edges), 0.1 * rng.normal(size=s.n_spins)

    def run():
        f = pytensor.function([J, h], [log_z, *pytensor.grad(log_z, [J, h])])
        return f(*values)

    report(name, timed(run), timed(run))
"""


def run_case(name: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as pytensor_dir, tempfile.TemporaryDirectory() as nb_dir:
        env = {
            **os.environ,
            "PYTENSOR_FLAGS": f"base_compiledir={pytensor_dir}",
            "NUMBA_CACHE_DIR": nb_dir,
        }
        code = PRELUDE + textwrap.dedent(CASES[name])
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
    if out.returncode:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-2000:]}")
    return [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    names = parser.parse_args().cases.split(",")
    print(f"{'case':<26}{'cold s':>9}{'warm s':>9}{'goal s':>9}{'baseline s':>12}  met")
    ok = True
    for name in names:
        for row in run_case(name):
            goal, baseline = GOALS[row["case"]]
            if row["case"].endswith("other data"):  # no recompilation: close to warm
                goal = 2.0 * row["warm"] + 2.0
            met = row["cold"] <= goal
            ok &= met
            base = f"{baseline:12.1f}" if baseline else f"{'':>12}"
            print(
                f"{row['case']:<26}{row['cold']:9.1f}{row['warm']:9.2f}{goal:9.1f}{base}  "
                f"{'yes' if met else 'NO'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
