"""psm.Ising and psm.Boltzmann against exact enumeration.

References are written here with numpy: the log-probabilities of all 2^n states, the exact
moments, and maximum-likelihood fits by scipy on the enumerated likelihood.

Tests of values that are computed once are evaluated with NumPy (the ``numpy_evaluated``
fixture of conftest.py: no JIT compilation); the tests that sample with NUTS run on the
default backend.
"""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.optimize
import scipy.stats
from scipy.special import logsumexp

import pymc_statmech as psm
from pymc_statmech.boltzmann.distributions import Boltzmann, Ising
from pymc_statmech.boltzmann.exact import _transfer_sampler, spin_table
from pymc_statmech.boltzmann.lattice import ising_structure
from pymc_statmech.boltzmann.partition import IsingTooLargeError

RNG = np.random.default_rng(5)


def exact_log_probabilities(structure, J, h, beta):
    """log p(s) of every state (bit c of the index is site c), by enumeration."""
    S = spin_table(structure.n_spins).astype(float)
    i, j = structure.edges.T
    log_weight = beta * (
        (S[:, i] * S[:, j]) @ np.broadcast_to(J, structure.n_edges)
        + S @ np.broadcast_to(h, structure.n_spins)
    )
    return log_weight - logsumexp(log_weight), S


STRUCTURES = [
    ({"lattice": (3, 3)}, "periodic 3x3"),
    ({"lattice": (3, 4), "boundary": "open"}, "open 3x4"),
    ({"lattice": (7,)}, "periodic chain"),
    ({"graph": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (4, 1)]}, "graph"),
]


@pytest.mark.parametrize(("kwargs", "label"), STRUCTURES, ids=[s[1] for s in STRUCTURES])
@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_logp_matches_enumeration(kwargs, label):
    structure = ising_structure(**{"boundary": "periodic", **kwargs})
    J = RNG.normal(size=structure.n_edges)
    h = RNG.normal(scale=0.5, size=structure.n_spins)
    beta = 0.7
    log_p, S = exact_log_probabilities(structure, J, h, beta)
    x = Ising.dist(J=J, h=h, beta=beta, **kwargs)
    index = RNG.choice(len(S), size=25, replace=False)
    values = S[index].astype(np.int8).reshape(25, *x.type.shape)
    np.testing.assert_allclose(pm.logp(x, values).eval(), log_p[index], rtol=1e-12, atol=1e-12)


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_values_outside_the_spins_have_zero_probability():
    x = Ising.dist(J=1.0, lattice=(2, 3), boundary="open")
    values = np.ones((2, 2, 3), dtype=np.int8)
    values[1, 0, 1] = 0
    logp = pm.logp(x, values).eval()
    assert np.isfinite(logp[0]) and logp[1] == -np.inf


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_pseudo_likelihood_is_the_sum_of_conditionals():
    structure = ising_structure(graph=[(0, 1), (1, 2), (0, 2), (2, 3)])
    J, h, beta = RNG.normal(size=4), RNG.normal(size=4), 0.9
    values = RNG.choice([-1, 1], size=(6, 4)).astype(np.int8)
    x = Ising.dist(J=J, h=h, beta=beta, graph=structure.edges, method="pseudo_likelihood")
    coupling = structure.coupling_matrix(J)
    field = h + values @ coupling
    expected = np.log(scipy.special.expit(2 * beta * values * field)).sum(axis=1)
    np.testing.assert_allclose(pm.logp(x, values).eval(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "layout",
    [{"lattice": (3, 4)}, {"graph": [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (0, 4), (1, 4)]}],
)
def test_pseudo_likelihood_over_neighbourhood_patterns(layout):
    """Observed snapshots go through the pattern sum: per-snapshot values, and gradients of the
    sum and of a weighted sum, equal the Besag formula and its derivatives written in numpy; the
    model's compiled log density contains no per-snapshot work."""
    from pymc_statmech.boltzmann.pseudolikelihood import PatternScatter, PatternTerms

    structure = ising_structure(**layout)
    n, E = structure.n_spins, structure.n_edges
    shape = (20, 25, *(layout.get("lattice") or (n,)))
    data = RNG.choice([-1, 1], size=shape).astype(np.int8)
    J, h, beta = pt.vector("J"), pt.vector("h"), pt.scalar("beta")
    args = (RNG.normal(size=E), RNG.normal(size=n), 0.8)
    layout_kwargs = {"graph": structure.edges} if "graph" in layout else layout
    x = Ising.dist(J=J, h=h, beta=beta, method="pseudo_likelihood", **layout_kwargs)
    logp = pm.logp(x, data)
    weights = RNG.uniform(size=shape[:2])
    assert any(
        isinstance(v.owner.op, PatternTerms) for v in pytensor.graph.ancestors([logp]) if v.owner
    )
    outputs = [logp]
    for total in (logp.sum(), (weights * logp).sum()):
        outputs += pytensor.grad(total, [J, h, beta])
    values = pytensor.function([J, h, beta], outputs)(*args)

    s = data.reshape(-1, n).astype(float)
    Jv, hv, bv = args
    field = hv + s @ structure.coupling_matrix(Jv)
    np.testing.assert_allclose(
        values[0].ravel(), np.log(scipy.special.expit(2 * bv * s * field)).sum(1), rtol=1e-12
    )
    i, j = structure.edges.T
    for w, grads in ((np.ones(s.shape[0]), values[1:4]), (weights.ravel(), values[4:7])):
        site = w[:, None] * scipy.special.expit(-2 * bv * s * field) * 2 * s  # d/d(beta f_i)
        expected = (
            bv * ((site[:, i] * s[:, j]) + (site[:, j] * s[:, i])).sum(0),
            bv * site.sum(0),
            (site * field).sum(),
        )
        for got, want in zip(grads, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)

    with pm.Model() as model:
        Jr = pm.Normal("J", size=E)
        hr = pm.Normal("h", size=n)
        Ising("s", J=Jr, h=hr, method="pseudo_likelihood", observed=data, **layout_kwargs)
    fn = model.logp_dlogp_function(ravel_inputs=True)
    ops = [node.op for node in fn._pytensor_function.maker.fgraph.apply_nodes]
    assert not any(isinstance(op, PatternTerms | PatternScatter) for op in ops)


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_entropy_and_mean_parameters_from_the_family():
    """psm.entropy and psm.mean_parameters of an Ising variable come from A by autodiff."""
    J, h, beta = 0.4, 0.2, 1.0
    # enumeration: A and its derivatives are method-agnostic, and the transfer matrix's scan
    # takes far longer to compile (its gradients are tested in test_ising_partition.py)
    x = Ising.dist(J=J, h=h, beta=beta, lattice=(3, 3), method="enumerate")
    structure = ising_structure(lattice=(3, 3))
    log_p, S = exact_log_probabilities(structure, J, h, beta)
    p = np.exp(log_p)
    assert float(psm.entropy(x).eval()) == pytest.approx(-(p * log_p).sum(), rel=1e-10)
    correlations, magnetisation = psm.mean_parameters(x)
    i, j = structure.edges.T
    np.testing.assert_allclose(correlations.eval(), p @ (S[:, i] * S[:, j]), rtol=1e-10)
    np.testing.assert_allclose(magnetisation.eval(), p @ S, rtol=1e-10)


# -- exact draws -------------------------------------------------------------------------------


TRANSFER_CASES = [
    ((3, 3), "periodic"),
    ((3, 3), "open"),
    ((3, 3), ("open", "periodic")),
    ((2, 4), "periodic"),
    ((4, 2), ("periodic", "open")),
    ((5,), "periodic"),
    ((5,), "open"),
]


@pytest.mark.parametrize(("shape", "boundary"), TRANSFER_CASES)
def test_transfer_matrix_draws_are_exact(shape, boundary):
    """Forward-filtering backward-sampling against the enumerated distribution (chi-square over
    all states; p-value above 1e-4)."""
    structure = ising_structure(lattice=shape, boundary=boundary)
    J = RNG.normal(size=structure.n_edges)
    h = RNG.normal(scale=0.5, size=structure.n_spins)
    log_p, _ = exact_log_probabilities(structure, J, h, 0.8)
    draws = _transfer_sampler(structure, J, h, 0.8)(40000, np.random.default_rng(1))
    index = ((draws > 0) * (1 << np.arange(structure.n_spins))).sum(axis=1)
    observed = np.bincount(index, minlength=len(log_p))
    expected = np.exp(log_p) * len(draws)
    keep = expected > 5  # pool the rare states
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]) + (
        (observed[~keep].sum() - expected[~keep].sum()) ** 2 / max(expected[~keep].sum(), 1e-12)
    )
    assert scipy.stats.chi2.sf(chi2, df=keep.sum()) > 1e-4


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_draws_of_a_30_spin_lattice_reproduce_the_exact_energy_and_magnetisation():
    """5 x 6 periodic lattice (beyond enumeration): the mean energy and magnetisation of exact
    draws match -d log Z / d beta and (1/beta) d log Z / d h from the transfer matrix within 4
    standard errors."""
    beta, field = pt.scalar("beta", dtype="float64"), pt.scalar("h", dtype="float64")
    log_z = psm.boltzmann.ising_log_partition(1.0, field, beta, lattice=(5, 6))
    derivatives = pytensor.function([beta, field], pytensor.grad(log_z, [beta, field]))
    d_beta, d_field = derivatives(0.4, 0.1)
    mean_energy, mean_magnetisation = -d_beta, d_field / 0.4
    x = Ising.dist(J=1.0, h=0.1, beta=0.4, lattice=(5, 6), size=4000)
    draws = pm.draw(x, random_seed=3).reshape(4000, -1).astype(float)
    structure = ising_structure(lattice=(5, 6))
    i, j = structure.edges.T
    energy = -(draws[:, i] * draws[:, j]).sum(axis=1) - 0.1 * draws.sum(axis=1)
    assert abs(energy.mean() - mean_energy) < 4 * energy.std() / np.sqrt(len(energy))
    magnetisation = draws.sum(axis=1)
    assert abs(magnetisation.mean() - mean_magnetisation) < 4 * magnetisation.std() / np.sqrt(
        len(magnetisation)
    )


# -- inference ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_nuts_recovers_coupling_and_field_from_snapshots():
    """1000 exact snapshots of a 4x4 periodic lattice: J and h lie inside their central 99%
    posterior intervals (the data identify beta J and beta h; beta is fixed at 1)."""
    snapshots = pm.draw(Ising.dist(J=0.3, h=0.1, lattice=(4, 4), size=1000), random_seed=7)
    with pm.Model():
        J = pm.Normal("J", 0, 1)
        h = pm.Normal("h", 0, 1)
        Ising("s", J=J, h=h, lattice=(4, 4), observed=snapshots)
        idata = pm.sample(
            500,
            tune=500,
            chains=2,
            random_seed=2,
            progressbar=False,
            compute_convergence_checks=False,
        )
    for name, truth in (("J", 0.3), ("h", 0.1)):
        draws = idata["posterior"][name].values.ravel()
        low, high = np.quantile(draws, [0.005, 0.995])
        assert low < truth < high, (name, low, high)


def test_pseudo_likelihood_estimate_is_close_to_the_exact_mle():
    """10 spins, 5000 exact samples: the maximum pseudo-likelihood estimate of (J per bond, h per
    site) lies within 2% (relative norm) of the exact maximum-likelihood estimate."""
    edges = [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 6),
        (6, 7),
        (7, 8),
        (8, 9),
        (9, 0),
        (0, 5),
        (2, 7),
        (1, 8),
    ]
    structure = ising_structure(graph=edges)
    rng = np.random.default_rng(11)
    J_true = rng.uniform(-0.5, 0.5, size=structure.n_edges)
    h_true = rng.uniform(-0.3, 0.3, size=structure.n_spins)
    log_p, S = exact_log_probabilities(structure, J_true, h_true, 1.0)
    data = S[rng.choice(len(S), size=5000, p=np.exp(log_p))].astype(np.int8)

    theta = pt.vector("theta", dtype="float64")
    J, h = theta[: structure.n_edges], theta[structure.n_edges :]

    def fit(method):
        x = Ising.dist(J=J, h=h, graph=edges, method=method)
        objective = -pm.logp(x, data).sum()
        fn = pytensor.function([theta], [objective, pytensor.grad(objective, theta)])
        start = np.zeros(structure.n_edges + structure.n_spins)
        return scipy.optimize.minimize(fn, start, jac=True, method="BFGS", options={"gtol": 1e-9}).x

    mle, mple = fit("enumerate"), fit("pseudo_likelihood")
    assert np.linalg.norm(mple - mle) / np.linalg.norm(mle) < 0.02


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"observed spins must be -1 or \+1.*binary_to_spins"):
        with pm.Model():
            Ising("s", J=1.0, lattice=(2, 2), observed=np.zeros((3, 2, 2)))
    with pytest.raises(IsingTooLargeError, match="mean_field"):
        Ising.dist(J=1.0, lattice=(30, 30), boundary="open")
    with pytest.raises(ValueError, match="method must be one of"):
        Ising.dist(J=1.0, lattice=(3,), method="exact")
    with pytest.warns(UserWarning, match="cannot tell J and beta apart"):
        with pm.Model():
            Ising(
                "s",
                J=pm.Normal("J"),
                beta=pm.HalfNormal("beta"),
                lattice=(3,),
                observed=np.ones((2, 3), dtype=np.int8),
            )


# -- Boltzmann ---------------------------------------------------------------------------------


def test_boltzmann_over_a_finite_state_space():
    """A 3-unit Boltzmann machine with 0/1 units: logp by logsumexp over the 8 states, and exact
    draws (chi-square)."""
    states = ((spin_table(3) + 1) // 2).astype(np.int64)  # 0/1 coding
    W = np.array([[0, 1.2, -0.7], [1.2, 0, 0.4], [-0.7, 0.4, 0]])
    b = np.array([0.3, -0.2, 0.1])

    def energy(s):
        s = pt.cast(s, "float64")
        return -0.5 * ((s @ W) * s).sum(axis=-1) - s @ b

    x = Boltzmann.dist(energy, states, beta=1.3)
    e = -0.5 * np.einsum("si,ij,sj->s", states, W, states) - states @ b
    log_p = -1.3 * e - logsumexp(-1.3 * e)
    np.testing.assert_allclose(pm.logp(x, states).eval(), log_p, rtol=1e-12)
    assert pm.logp(x, [2, 0, 1]).eval() == -np.inf
    value = pt.lmatrix("value")  # a symbolic value compares with every state in the graph
    symbolic = pytensor.function([value], pm.logp(x, value))
    np.testing.assert_allclose(symbolic(states), log_p, rtol=1e-12)
    assert symbolic(np.array([[2, 0, 1]]))[0] == -np.inf
    draws = pm.draw(Boltzmann.dist(energy, states, beta=1.3, size=20000), random_seed=4)
    index = (draws * (1 << np.arange(3))).sum(axis=1)
    observed = np.bincount(index, minlength=8)
    order = (states * (1 << np.arange(3))).sum(axis=1)
    expected = np.empty(8)
    expected[order] = np.exp(log_p) * 20000
    assert scipy.stats.chisquare(observed, expected).pvalue > 1e-4
    with pytest.raises(ValueError, match="distinct rows"):
        Boltzmann.dist(energy, np.vstack([states, states[:1]]))
    assert pm.draw(x, random_seed=1).shape == (3,)


def test_uniform_couplings_on_a_large_periodic_lattice_use_kaufman():
    """A scalar J and h = 0 reach log Z as constants, so a 64 x 64 lattice (far beyond the
    transfer matrix) gets Kaufman's formula; the ground state has logp = beta * 2 * 4096 - log Z.
    The support point is built from the shapes, without drawing from the variable."""
    x = Ising.dist(J=1.0, beta=0.44, lattice=(64, 64))
    log_z = psm.boltzmann.ising_log_partition(1.0, 0.0, 0.44, lattice=(64, 64), method="kaufman")
    ground = np.ones((64, 64), dtype=np.int8)
    assert float(pm.logp(x, ground).eval()) == pytest.approx(0.88 * 4096 - float(log_z.eval()))
    with pm.Model() as model:
        Ising("s", J=1.0, beta=0.44, lattice=(64, 64))
    np.testing.assert_array_equal(model.initial_point()["s"], ground)


def test_boltzmann_information_quantities_are_those_of_its_states():
    """A Boltzmann law on S states is the categorical family over them with logits -beta E:
    entropy, mean parameters (the state probabilities), log Z and KL against direct sums, also
    at a large beta (a point mass) and for a batch of temperatures."""
    import pytensor.tensor as pt

    energy = np.array([0.0, 1.0, 2.5])
    states = [[0, 0], [1, 0], [1, 1]]

    def dist(beta):
        return psm.Boltzmann.dist(
            energy=lambda x: pt.as_tensor_variable(energy), states=states, beta=beta
        )

    def probabilities(beta):
        log_w = -beta * energy
        w = np.exp(log_w - log_w.max())
        return w / w.sum()

    for beta in (0.7, -3.0, 1e300):
        p = probabilities(beta)
        entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
        assert float(psm.entropy(dist(beta)).eval()) == pytest.approx(entropy, abs=1e-12)
        np.testing.assert_allclose(psm.mean_parameters(dist(beta)).eval(), p, atol=1e-15)
    log_z = np.log(np.sum(np.exp(-0.7 * energy)))
    assert float(psm.log_partition(dist(0.7)).eval()) == pytest.approx(log_z, rel=1e-14)
    p, q = probabilities(0.7), probabilities(0.0)
    kl = float(psm.kl_divergence(dist(0.7), dist(0.0)).eval())
    assert kl == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-12)
    assert psm.entropy(dist([0.7, -3.0])).eval().shape == (2,)
