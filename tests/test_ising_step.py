"""Ising step methods and kernels against exact answers.

References are computed here with numpy, independently of the library's log-partition code:
the 8 x 8 periodic lattice by its row transfer matrix (256 row states, the first two beta
derivatives of log Z by central differences), small systems by enumerating all 2^n states.
Monte Carlo comparisons allow 4 Monte Carlo standard errors, the MCSE from the effective
sample size (ArviZ's "mean" ESS over several chains) or from independent chains.
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy.special import logsumexp

from pymc_statmech._data import effective_sample_size
from pymc_statmech.boltzmann.distributions import Ising
from pymc_statmech.boltzmann.kernels import (
    HeatBathKernel,
    SwendsenWangKernel,
    WolffKernel,
    heat_bath,
    markov_chain_draws,
    swendsen_wang,
    wolff,
)
from pymc_statmech.boltzmann.lattice import ising_structure
from pymc_statmech.boltzmann.step import IsingGibbs, SwendsenWang, Wolff

BETA_C = np.log(1 + np.sqrt(2)) / 2


def ising(name, J, h=0.0, beta=1.0, method="auto", **structure_kwargs):
    """A model Ising variable (``method="enumerate"`` where its log Z is compiled: fast)."""
    return Ising(name, J=J, h=h, beta=beta, method=method, **structure_kwargs)


# -- exact references ------------------------------------------------------------------------------
def spin_table(n):
    """All 2^n configurations, bit c of the row index is site c (1 -> +1)."""
    return (((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1).astype(np.int8)


def square_lattice_exact(L, beta, step=2e-4):
    """Energy and specific heat per spin of the L x L periodic lattice (J = 1, h = 0).

    Row transfer matrix T_ab = exp(beta (r_a / 2 + r_b / 2 + a.b)), with r the bonds inside
    a row, so Z = tr T^L = sum_k lambda_k^L; <E> = -d log Z / d beta and
    Var E = d^2 log Z / d beta^2 by central differences (error ~ step^2).
    """
    S = spin_table(L).astype(float)
    row = (S * np.roll(S, -1, axis=1)).sum(1)
    inter = S @ S.T

    def log_z(b):
        log_t = b * (row[:, None] / 2 + row[None, :] / 2 + inter)
        shift = log_t.max()
        lam = np.linalg.eigvalsh(np.exp(log_t - shift))
        return L * shift + np.log(np.sum(lam**L))

    lo, mid, hi = log_z(beta - step), log_z(beta), log_z(beta + step)
    n = L * L
    energy = -(hi - lo) / (2 * step) / n
    specific_heat = beta**2 * (hi - 2 * mid + lo) / step**2 / n
    return energy, specific_heat


def enumerate_moments(structure, J, h, beta, extra=0.0):
    """Exact <s_i>, <s_i s_j> on the bonds and <E> of p(s) ~ exp(-beta E(s) + extra . s)."""
    S = spin_table(structure.n_spins).astype(float)
    i, j = structure.edges.T
    pair = S[:, i] * S[:, j]
    energy = -pair @ np.broadcast_to(J, structure.n_edges) - S @ np.broadcast_to(
        h, structure.n_spins
    )
    log_w = -beta * energy + S @ np.broadcast_to(extra, structure.n_spins)
    w = np.exp(log_w - logsumexp(log_w))
    return w @ S, w @ pair, w @ energy


def mcse_z(x, chains, reference):
    """(mean - reference) / MCSE for a chain-major series of ``chains`` chains."""
    x = np.asarray(x, dtype=float).ravel()
    ess = effective_sample_size(x, chains)
    return (x.mean() - reference) / (x.std(ddof=1) / np.sqrt(ess))


def run_step(step, point, draws, chains, burn, seed):
    """Drive a step method like pm.sample does; the energies and spins of each chain."""
    energies, spins = [], []
    for c in range(chains):
        step.setup_chain(np.random.default_rng([seed, c]), burn, draws)
        if hasattr(step, "reset_tuning"):
            step.reset_tuning()
        p = dict(point)
        e, s = [], []
        for it in range(burn + draws):
            if it == burn:
                step.stop_tuning()
            p, stats = step.step(p)
            if it >= burn:
                e.append(stats[0]["ising_energy"])
                s.append(p[step.vars[0].name].ravel().copy())
        energies.append(e)
        spins.append(s)
    return np.array(energies), np.array(spins, dtype=float)


# -- kernels: every variant against enumeration, with independent chains as the batch ---------
KERNEL_CASES = [
    ((4, 4), "periodic", "uniform"),  # table
    ((4, 4), "periodic", "field"),  # factor
    ((3, 4), "open", "bonds"),  # general
    ((4, 2), "periodic", "bonds"),  # double bonds of a periodic side of length 2
    ((2, 4), ("periodic", "open"), "field"),
    ((3, 3), "periodic", "bonds"),  # odd periodic side: three colours, CSR path
    ((7,), "periodic", "field"),  # chain: CSR path
]


def _case_parameters(structure, kind, rng, ferro=False):
    if kind == "bonds":
        J = rng.normal(0.3, 0.8, structure.n_edges)
        J = np.abs(J) if ferro else J
    else:
        J = 0.7
    h = 0.0 if kind == "uniform" else rng.normal(0, 0.5, structure.n_spins)
    extra = rng.normal(0, 0.3, structure.n_spins) if kind == "field" else None
    return J, h, extra


@pytest.mark.parametrize(("shape", "boundary", "kind"), KERNEL_CASES)
def test_heat_bath_kernel_matches_enumeration(shape, boundary, kind):
    rng = np.random.default_rng(11)
    structure = ising_structure(lattice=shape, boundary=boundary)
    J, h, extra = _case_parameters(structure, kind, rng)
    beta, chains = 0.6, 24
    m, _, e = enumerate_moments(structure, J, h, beta, 0.0 if extra is None else extra)
    kernel = HeatBathKernel(structure, (chains,))
    kernel.set_parameters(J, h, beta, extra)
    spins = np.ones((chains, *structure.shape), np.int8)
    kernel.sweep(spins, 20, rng)
    energy, mag = np.zeros(chains), np.zeros((chains, structure.n_spins))
    for _ in range(600):
        kernel.sweep(spins, 1, rng)
        energy += kernel.energy(spins) / 600
        mag += spins.reshape(chains, -1) / 600
    z_e = (energy.mean() - e) / (energy.std(ddof=1) / np.sqrt(chains))
    z_m = (mag.mean(0) - m) / (mag.std(0, ddof=1) / np.sqrt(chains))
    assert abs(z_e) < 4, (kernel.variant, energy.mean(), e)
    assert np.all(np.abs(z_m) < 4.5), (kernel.variant, z_m)  # 4.5: a maximum over the sites


@pytest.mark.parametrize("kernel_class", [SwendsenWangKernel, WolffKernel])
@pytest.mark.parametrize(
    ("shape", "kind"), [((4, 4), "uniform"), ((4, 4), "field"), ((3, 3), "bonds"), ((6,), "field")]
)
def test_cluster_kernels_match_enumeration(kernel_class, shape, kind):
    rng = np.random.default_rng(12)
    structure = ising_structure(lattice=shape)
    J, h, extra = _case_parameters(structure, kind, rng, ferro=True)
    beta, chains = 0.6, 24
    m, _, e = enumerate_moments(structure, J, h, beta, 0.0 if extra is None else extra)
    kernel = kernel_class(structure, (chains,))
    kernel.set_parameters(J, h, beta, extra)
    spins = np.ones((chains, *structure.shape), np.int8)
    moves = 1 if kernel_class is SwendsenWangKernel else 4
    kernel.sweep(spins, moves, rng)
    energy, mag = np.zeros(chains), np.zeros((chains, structure.n_spins))
    for _ in range(600):
        spins, _ = kernel.sweep(spins, moves, rng)
        energy += kernel.energy(spins) / 600
        mag += spins.reshape(chains, -1) / 600
    z_e = (energy.mean() - e) / (energy.std(ddof=1) / np.sqrt(chains))
    z_m = (mag.mean(0) - m) / (mag.std(0, ddof=1) / np.sqrt(chains))
    assert abs(z_e) < 4, (energy.mean(), e)
    assert np.all(np.abs(z_m) < 4.5), z_m


def test_kernels_are_reproducible_and_keep_spins_valid():
    structure = ising_structure(lattice=(6, 6))
    start = np.ones((6, 6))
    a = heat_bath(start, 1.0, beta=0.4, structure=structure, n_sweeps=3, rng=5)
    b = heat_bath(start, 1.0, beta=0.4, structure=structure, n_sweeps=3, rng=5)
    c = heat_bath(start, 1.0, beta=0.4, structure=structure, n_sweeps=3, rng=6)
    assert a.dtype == np.int8 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert set(np.unique(a)) <= {-1, 1}
    sw, _ = swendsen_wang(start, 1.0, beta=0.4, structure=structure, n_sweeps=2, rng=5)
    wo, _ = wolff(start, 1.0, beta=0.4, structure=structure, n_clusters=3, rng=5)
    assert set(np.unique(sw)) <= {-1, 1} and set(np.unique(wo)) <= {-1, 1}
    draws = markov_chain_draws(structure, 1.0, 0.0, 0.3, 4, 1, burn_in=10, thin=2)
    assert draws.shape == (4, 36) and draws.dtype == np.int8


def test_kernel_bad_input_is_named():
    structure = ising_structure(lattice=(4, 4))
    J = np.ones(structure.n_edges)
    J[5] = -0.5
    with pytest.raises(ValueError, match=r"Swendsen-Wang: needs ferromagnetic.*bond 5"):
        swendsen_wang(np.ones((4, 4)), J, structure=structure)
    with pytest.raises(ValueError, match="Wolff: needs ferromagnetic"):
        wolff(np.ones((4, 4)), 1.0, beta=-1.0, structure=structure)
    with pytest.raises(ValueError, match="spins: values must be -1 or"):
        heat_bath(np.zeros((4, 4)), 1.0, structure=structure)
    with pytest.raises(ValueError, match="J: shape"):
        heat_bath(np.ones((4, 4)), np.ones(7), structure=structure)
    with pytest.raises(ValueError, match="n_clusters: must be a positive"):
        wolff(np.ones((4, 4)), 1.0, structure=structure, n_clusters=0)


# -- step methods: the 2D Ising model at the critical point --------------------------------------
@pytest.mark.parametrize(
    ("step_class", "kwargs", "draws"),
    [(IsingGibbs, {"sweeps": 2}, 6000), (SwendsenWang, {}, 4000), (Wolff, {}, 4000)],
    ids=["IsingGibbs", "SwendsenWang", "Wolff"],
)
def test_step_reproduces_exact_energy_and_specific_heat_at_beta_c(step_class, kwargs, draws):
    e_exact, c_exact = square_lattice_exact(8, BETA_C)
    with pm.Model() as model:
        s = ising("s", J=1.0, beta=BETA_C, lattice=(8, 8))
        step = step_class([s], **kwargs)
    chains = 4
    energies, _ = run_step(step, model.initial_point(), draws, chains, 300, seed=3)
    e = energies / 64
    z_energy = mcse_z(e, chains, e_exact)
    # C = beta^2 Var(E) / N: the mean of (E - <E>)^2, with its own ESS
    dev2 = (energies - energies.mean()) ** 2 * BETA_C**2 / 64
    z_heat = mcse_z(dev2, chains, c_exact)
    assert abs(z_energy) < 4, (e.mean(), e_exact, z_energy)
    assert abs(z_heat) < 4, (dev2.mean(), c_exact, z_heat)


def test_exact_reference_of_the_8x8_lattice():
    # the transfer-matrix reference against enumeration on 4 x 4 (2^16 states)
    structure = ising_structure(lattice=(4, 4))
    S = spin_table(16).astype(float)
    E = -(S[:, structure.edges[:, 0]] * S[:, structure.edges[:, 1]]).sum(1)
    w = np.exp(-BETA_C * E - logsumexp(-BETA_C * E))
    e4, c4 = square_lattice_exact(4, BETA_C)
    np.testing.assert_allclose(e4, w @ E / 16, rtol=1e-6)
    np.testing.assert_allclose(c4, BETA_C**2 * (w @ E**2 - (w @ E) ** 2) / 16, rtol=1e-5)


# -- IsingGibbs with frustrated couplings and fields on a graph and a chain ---------------------
@pytest.mark.parametrize(
    "structure_kwargs",
    [
        {"graph": [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 2), (1, 6), (6, 4)]},
        {"lattice": (8,), "boundary": "open"},
    ],
    ids=["graph", "open chain"],
)
def test_gibbs_marginals_and_correlations_match_enumeration(structure_kwargs):
    rng = np.random.default_rng(21)
    structure = ising_structure(**structure_kwargs)
    J = rng.normal(0.0, 1.0, structure.n_edges)
    J[0] = -abs(J[0])  # an antiferromagnetic bond at least
    h = rng.normal(0.0, 0.5, structure.n_spins)
    beta = 0.8
    m, corr, _ = enumerate_moments(structure, J, h, beta)
    with pm.Model() as model:
        s = ising("s", J=J, h=h, beta=beta, **structure_kwargs)
        step = IsingGibbs([s])
    chains = 4
    _, spins = run_step(step, model.initial_point(), 3000, chains, 100, seed=4)
    spins = spins.reshape(-1, structure.n_spins)
    pairs = spins[:, structure.edges[:, 0]] * spins[:, structure.edges[:, 1]]
    z_m = [mcse_z(spins[:, k], chains, m[k]) for k in range(structure.n_spins)]
    z_c = [mcse_z(pairs[:, e], chains, corr[e]) for e in range(structure.n_edges)]
    assert np.all(np.abs(z_m) < 4), z_m
    assert np.all(np.abs(z_c) < 4), z_c


def test_batched_variable_with_one_beta_per_system():
    """Two systems in one variable (value (2, 3, 3)), each at its own beta."""
    structure = ising_structure(lattice=(3, 3))
    betas = np.array([0.2, 0.6])
    with pm.Model() as model:
        s = ising("s", J=1.0, beta=betas, lattice=(3, 3), method="enumerate")
        step = IsingGibbs([s])
    assert step.batch_shape == (2,)
    chains = 4
    _, spins = run_step(step, model.initial_point(), 2000, chains, 50, seed=6)
    spins = spins.reshape(chains, -1, 2, 9)
    pair = spins[..., structure.edges[:, 0]] * spins[..., structure.edges[:, 1]]
    for b, beta in enumerate(betas):
        _, _, e = enumerate_moments(structure, 1.0, 0.0, beta)
        z = mcse_z(-pair[:, :, b].sum(-1), chains, e)
        assert abs(z) < 4, (beta, z)


def test_step_without_vars_takes_the_ising_variable_and_pickles():
    import cloudpickle

    with pm.Model() as model:
        mu = pm.Normal("mu")
        s = ising("s", J=0.5, lattice=(3, 3), boundary="open", method="enumerate")
        pm.Normal("y", mu=mu * s, sigma=1.0, observed=np.ones((3, 3)))
        step = IsingGibbs()
    assert step.vars == [model.rvs_to_values[s]]
    clone = cloudpickle.loads(cloudpickle.dumps(step))
    point = model.initial_point()
    a, _ = step.step(point)
    b, _ = clone.step(point)
    assert a["s"].shape == (3, 3) and b["s"].shape == (3, 3)
    with pm.Model(), pytest.raises(ValueError, match="the model has no free Ising variable"):
        pm.Normal("x")
        IsingGibbs()


# -- inside pm.sample --------------------------------------------------------------------------
def _denoising_model(y, mu, sigma, J):
    with pm.Model() as model:
        s = ising("s", J=J, beta=1.0, lattice=(3, 3), boundary="open", method="enumerate")
        pm.Normal("y", mu=mu * s, sigma=sigma, observed=y)
    return model, s


@pytest.mark.parametrize(
    ("step_class", "stat"),
    [(None, "magnetization"), (SwendsenWang, "largest_cluster"), (Wolff, "cluster_size")],
    ids=["IsingGibbs (assigned)", "SwendsenWang", "Wolff"],
)
def test_pm_sample_denoises_exactly(step_class, stat):
    """Latent spins with Normal children: the children's field (and, for the cluster methods,
    the ghost spin carrying it) against the exact posterior of the 2^9 states."""
    rng = np.random.default_rng(31)
    structure = ising_structure(lattice=(3, 3), boundary="open")
    truth = np.array([[1, 1, -1], [1, 1, -1], [1, -1, -1]])
    mu, sigma, J = 1.0, 1.2, 0.5
    y = mu * truth + rng.normal(0, sigma, (3, 3))
    model, s = _denoising_model(y, mu, sigma, J)
    # exact posterior: p(s | y) ~ exp(J sum s_i s_j + sum_i s_i mu y_i / sigma^2)
    m, _, _ = enumerate_moments(structure, J, 0.0, 1.0, extra=(mu * y / sigma**2).ravel())
    with model:
        step = None if step_class is None else step_class([s])
        idata = pm.sample(
            draws=2500,
            tune=200,
            chains=2,
            step=step,
            random_seed=7,
            progressbar=False,
            compute_convergence_checks=False,
        )
    assert "ising_energy" in idata.sample_stats and stat in idata.sample_stats
    post = idata.posterior["s"].values.reshape(2, -1, 9).astype(float)
    z = [mcse_z(post[:, :, k], 2, m[k]) for k in range(9)]
    assert np.all(np.abs(z) < 4), z
    assert idata.posterior["s"].dtype == np.int8


def test_assignment_and_reproducibility():
    from pymc.sampling.mcmc import assign_step_methods

    y = np.array([[0.9, -1.2, 0.3], [1.1, 0.2, -0.8], [0.5, -0.4, 1.4]])
    model, _ = _denoising_model(y, 1.0, 1.0, 0.4)
    _, selected = assign_step_methods(model)
    assert list(selected) == [IsingGibbs]
    kwargs = {
        "draws": 30,
        "tune": 5,
        "chains": 2,
        "progressbar": False,
        "compute_convergence_checks": False,
    }
    with model:
        a = pm.sample(random_seed=3, **kwargs).posterior["s"].values
        b = pm.sample(random_seed=3, **kwargs).posterior["s"].values
        c = pm.sample(random_seed=4, **kwargs).posterior["s"].values
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # random initial states: the chains' first draws differ from the all-+1 start point
    assert not np.all(a[:, 0] == 1)


def test_hierarchical_coupling_with_noisy_children_matches_exact_posterior():
    """J ~ Normal(0.4, 0.3) (uniform coupling, random); s | J ~ Ising(J) on a 3 x 3 open lattice;
    y ~ Normal(s, 1). The exact posterior of J and of the spins: a grid over J times the 512
    states. NUTS moves J (log Z(J) in its density), IsingGibbs the spins."""
    rng = np.random.default_rng(41)
    structure = ising_structure(lattice=(3, 3), boundary="open")
    y = np.where(rng.random((3, 3)) < 0.7, 1.0, -1.0) + rng.normal(0, 1.0, (3, 3))
    S = spin_table(9).astype(float)
    pair = (S[:, structure.edges[:, 0]] * S[:, structure.edges[:, 1]]).sum(1)
    grid = np.linspace(-1.5, 2.5, 4001)
    log_joint = grid[:, None] * pair[None, :] + (S @ y.ravel())[None, :]  # + y log-lik in s
    log_z = logsumexp(grid[:, None] * pair[None, :], axis=1)
    log_prior = -0.5 * ((grid - 0.4) / 0.3) ** 2
    log_post = log_joint - log_z[:, None] + log_prior[:, None]
    w = np.exp(log_post - logsumexp(log_post))
    J_mean = w.sum(1) @ grid
    m = w.sum(0) @ S
    with pm.Model():
        J = pm.Normal("J", 0.4, 0.3)
        s = ising("s", J=J, beta=1.0, lattice=(3, 3), boundary="open", method="enumerate")
        pm.Normal("y", mu=s, sigma=1.0, observed=y)
        idata = pm.sample(
            draws=1500,
            tune=500,
            chains=2,
            random_seed=8,
            progressbar=False,
            compute_convergence_checks=False,
        )
    z_J = mcse_z(idata.posterior["J"].values, 2, J_mean)
    post = idata.posterior["s"].values.reshape(2, -1, 9).astype(float)
    z_m = [mcse_z(post[:, :, k], 2, m[k]) for k in range(9)]
    assert abs(z_J) < 4, (idata.posterior["J"].values.mean(), J_mean)
    assert np.all(np.abs(z_m) < 4), z_m


def test_random_beta_prior_mean_energy():
    """beta ~ Uniform(0.1, 0.9) with no data: E[E(s)] = int <E>_beta d beta / 0.8."""
    structure = ising_structure(lattice=(3, 3))
    grid = np.linspace(0.1, 0.9, 801)
    S = spin_table(9).astype(float)
    E = -(S[:, structure.edges[:, 0]] * S[:, structure.edges[:, 1]]).sum(1)
    lw = -grid[:, None] * E[None, :]
    lw = lw - logsumexp(lw, axis=1, keepdims=True)
    e_exact = np.trapezoid(np.exp(lw) @ E, grid) / 0.8
    with pm.Model():
        beta = pm.Uniform("beta", 0.1, 0.9)
        ising("s", J=1.0, beta=beta, lattice=(3, 3), method="enumerate")
        idata = pm.sample(
            draws=1500,
            tune=300,
            chains=2,
            random_seed=9,
            progressbar=False,
            compute_convergence_checks=False,
        )
    energy = idata.sample_stats["ising_energy"].values
    assert abs(mcse_z(energy, 2, e_exact)) < 4, (energy.mean(), e_exact)


# -- bad input -------------------------------------------------------------------------------------
def test_step_bad_input_is_named():
    J = np.ones(ising_structure(lattice=(3, 3)).n_edges)
    J[2] = -1.0
    with pm.Model():
        s = ising("s", J=J, lattice=(3, 3))
        x = pm.Normal("x")
        with pytest.raises(ValueError, match="Swendsen-Wang: needs ferromagnetic"):
            SwendsenWang([s])
        with pytest.raises(ValueError, match="Wolff: needs ferromagnetic"):
            Wolff([s])
        with pytest.raises(ValueError, match="'x' is not an Ising variable"):
            IsingGibbs([x])
        with pytest.raises(ValueError, match="sweeps must be a positive integer, got 0"):
            IsingGibbs([s], sweeps=0)
        with pytest.raises(ValueError, match="init must be 'random' or 'point'"):
            IsingGibbs([s], init="zeros")


def test_non_separable_children_are_refused():
    with pm.Model():
        s = ising("s", J=0.5, lattice=(3, 3), boundary="open")
        pm.Normal("y", mu=s + pt.roll(s, 1, axis=1), sigma=1.0, observed=np.zeros((3, 3)))
        with pytest.raises(ValueError, match="'y' is not site-separable"):
            IsingGibbs([s])
    with pm.Model():
        s = ising("s", J=0.5, lattice=(3, 3), boundary="open")
        pm.Normal("total", mu=s.sum(), sigma=1.0, observed=2.0)
        with pytest.raises(ValueError, match=r"'total'.*does not align with the sites"):
            IsingGibbs([s])


def test_pseudo_likelihood_latent_spins_are_refused():
    with pm.Model():
        s = Ising("s", J=0.5, lattice=(3, 3), method="pseudo_likelihood")
        with pytest.raises(ValueError, match="method='pseudo_likelihood'"):
            IsingGibbs([s])
