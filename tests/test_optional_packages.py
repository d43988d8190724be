"""The core install works without any optional package (jax, numpyro, nutpie, dask, tfp).

Each pillar's default path runs in a subprocess in which those packages cannot be imported, and
its numbers are checked against known answers. The path finder is replaced by one that does not
see those packages, so that ``import jax`` fails and ``importlib.util.find_spec("jax")`` is
``None``, exactly as when they are not installed. The shorter ``sys.modules[name] = None`` is not
the same thing: scipy's array-API helpers read ``sys.modules["jax"]`` and fail on ``None``.

The package itself loads lazily; its public names must match what each subpackage exports.
"""

import importlib
import subprocess
import sys
import textwrap

import pytest

import pymc_statmech as psm

OPTIONAL = ("jax", "jaxlib", "numpyro", "nutpie", "dask", "distributed", "tensorflow_probability")

PILLARS = textwrap.dedent(
    """
    import sys
    from importlib.machinery import PathFinder

    class WithoutOptional(PathFinder):
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in {optional!r}:
                return None
            return super().find_spec(name, path, target)

    sys.meta_path[:] = [WithoutOptional if f is PathFinder else f for f in sys.meta_path]

    import numpy as np
    import pymc as pm
    import xarray as xr
    from scipy import stats

    import pymc_statmech as psm

    # 1. exponential families: H(N(1, 2^2)) = 0.5 log(2 pi e 4)
    h = float(psm.entropy(psm.NaturalNormal.dist(eta=[0.25, -0.125])).eval())
    assert abs(h - 0.5 * np.log(2 * np.pi * np.e * 4.0)) < 1e-12, h

    # 2. maximum entropy: Jaynes' dice, and the dual Op compiled inside a logp (Numba)
    sol = psm.maxent_solve(psm.Discrete(range(1, 7)), [psm.mean(4.5)])
    assert abs(float(sol.multipliers[0]) - 0.371049) < 1e-6, sol.multipliers
    with pm.Model() as model:
        mu = pm.Uniform("mu", 2.0, 5.0)
        psm.MaxEnt("die", psm.Discrete(range(1, 7)), [psm.mean(mu)])
    logp = float(model.compile_logp()({{"mu_interval__": 0.0, "die": 6}}))
    # mu = 3.5: the uniform die, and the uniform prior's density with its log-Jacobian
    assert abs(logp - (np.log(1 / 6) + np.log(1 / 3) + np.log(0.25 * 3))) < 1e-9, logp

    # 3. Ising: log Z of a 3 x 3 torus by brute force, and exact draws
    states = np.array(np.meshgrid(*[[-1, 1]] * 9)).reshape(9, -1).T.reshape(-1, 3, 3)
    bonds = sum((states * np.roll(states, 1, axis)).sum((1, 2)) for axis in (1, 2))
    exact = np.log(np.exp(0.3 * bonds).sum())
    log_z = float(psm.ising_log_partition(1.0, beta=0.3, lattice=(3, 3), method="enumerate").eval())
    assert abs(log_z - exact) < 1e-10, (log_z, exact)
    draws = pm.draw(psm.Ising.dist(J=0.3, lattice=(3, 3), size=20), random_seed=1)
    assert draws.shape == (20, 3, 3) and set(np.unique(draws)) <= {{-1, 1}}

    # 4. information on ArviZ data: kNN entropy of N(0, 1) draws
    rng = np.random.default_rng(0)
    data = xr.Dataset({{"x": (("chain", "draw"), rng.normal(size=(2, 2000)))}})
    value, error = psm.stats.entropy(data, method="knn")["x"].values
    assert abs(value - 0.5 * np.log(2 * np.pi * np.e)) < 5 * error + 0.02, (value, error)

    # 5. evidence: bridge sampling on a normal mean with known noise (exact log Z)
    y = rng.normal(0.7, 1.0, size=20)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        pm.Normal("y", mu, 1.0, observed=y)
        idata = pm.sample(
            draws=500, tune=500, chains=2, cores=1, random_seed=1, progressbar=False,
            compute_convergence_checks=False,
        )
    cov = 4.0 * np.ones((20, 20)) + np.eye(20)
    exact = stats.multivariate_normal(np.zeros(20), cov).logpdf(y)
    result = psm.free_energy(idata, model)
    assert abs(result.log_evidence - exact) < 4 * result.error + 0.01, (result, exact)

    loaded = [name for name in {optional!r} if name in sys.modules]
    assert not loaded, loaded
    print("ok")
    """
).format(optional=OPTIONAL)


@pytest.mark.slow
def test_every_pillar_runs_without_optional_packages(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", PILLARS],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")


def test_import_loads_no_pillar():
    code = (
        "import sys, pymc_statmech; "
        "print(sorted(m for m in sys.modules if m.startswith(('pymc', 'pytensor', 'arviz'))))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['pymc_statmech']"


@pytest.mark.parametrize("module", sorted(psm._PUBLIC))
def test_lazy_names_are_what_each_subpackage_exports(module):
    exported = set(importlib.import_module(module).__all__)
    if module == "pymc_statmech.boltzmann":  # the lattice helpers stay in psm.boltzmann
        assert set(psm._PUBLIC[module]) <= exported
    else:
        assert set(psm._PUBLIC[module]) == exported


def test_every_public_name_resolves():
    for name in psm.__all__:
        assert getattr(psm, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'NaturalBanana'"):
        psm.NaturalBanana  # noqa: B018
