"""User-defined exponential families: every derived quantity against scipy."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import scipy.stats as st

import pymc_statmech as psm


@pytest.fixture(scope="module")
def rayleigh():
    return psm.ExponentialFamily(
        "Rayleigh",
        statistics=lambda x: x**2,
        log_partition=lambda eta: -pt.log(-2 * eta),
        log_base_measure=lambda x: pt.log(x),
        support=(0.0, np.inf),
        natural_domain=lambda eta: [(eta < 0, "eta = -1 / (2 sigma^2) < 0")],
    )


def test_rayleigh_quantities(rayleigh):
    sigma = 1.7
    d = rayleigh.dist(eta=-0.5 / sigma**2)
    ref = st.rayleigh(scale=sigma)
    assert float(psm.entropy(d).eval()) == pytest.approx(ref.entropy(), abs=1e-9)
    assert float(psm.mean_parameters(d).eval()) == pytest.approx(2 * sigma**2, rel=1e-13)
    # Var[x^2] = 4 sigma^4 (x^2 is exponential with mean 2 sigma^2).
    assert float(psm.fisher_information(d).eval()) == pytest.approx(4 * sigma**4, rel=1e-12)
    assert float(pm.logp(d, 1.3).eval()) == pytest.approx(ref.logpdf(1.3), rel=1e-13)
    other = rayleigh.dist(eta=-0.5)
    kl = float(psm.kl_divergence(d, other).eval())
    # KL between Rayleighs: log(s2^2/s1^2) + s1^2/s2^2 - 1.
    assert kl == pytest.approx(np.log(1 / sigma**2) + sigma**2 - 1, rel=1e-12)


def test_rayleigh_draws_follow_the_law(rayleigh):
    draws = pm.draw(rayleigh.dist(eta=[-0.5, -2.0]), draws=20000, random_seed=11)
    assert draws.shape == (20000, 2)
    assert st.kstest(draws[:, 0], st.rayleigh(scale=1.0).cdf).pvalue > 1e-3
    assert st.kstest(draws[:, 1], st.rayleigh(scale=0.5).cdf).pvalue > 1e-3


def test_default_transform_and_bad_domain(rayleigh):
    with pm.Model() as model:
        rayleigh("r", eta=-0.5)
    assert isinstance(model.rvs_to_transforms[model["r"]], pm.distributions.transforms.Interval)
    with pytest.raises(ValueError, match="Rayleigh"):
        rayleigh.dist(eta=0.5)


def test_finite_family_is_exact():
    values = np.arange(6)
    fam = psm.ExponentialFamily(
        "Tilted6",
        statistics=lambda x: x,
        log_partition=lambda eta: pt.logsumexp(eta[..., None] * values, axis=-1),
        support=list(values),
    )
    eta = 0.3
    p = np.exp(eta * values)
    p /= p.sum()
    d = fam.dist(eta=eta)
    assert float(psm.entropy(d).eval()) == pytest.approx(-(p * np.log(p)).sum(), abs=1e-13)
    assert float(psm.mean_parameters(d).eval()) == pytest.approx(p @ values, rel=1e-13)
    draws = pm.draw(d, draws=40000, random_seed=5)
    assert draws.dtype.kind == "i"
    counts = np.bincount(draws, minlength=6)
    assert st.chisquare(counts, 40000 * p).pvalue > 1e-3


def test_vector_statistics_on_the_real_line():
    # The Normal written as a user family, with the grid centred on its mass.
    fam = psm.ExponentialFamily(
        "UserNormal",
        statistics=lambda x: pt.stack([x, x**2], axis=-1),
        log_partition=lambda e: -(e[..., 0] ** 2) / (4 * e[..., 1]) - 0.5 * pt.log(-2 * e[..., 1]),
        log_base_measure=lambda x: -0.5 * np.log(2 * np.pi) + 0 * x,
        support=(-np.inf, np.inf),
        n_statistics=2,
        loc=3.0,
        scale=0.5,
    )
    d = fam.dist(eta=[3 / 0.25, -1 / (2 * 0.25)])
    assert float(psm.entropy(d).eval()) == pytest.approx(st.norm(3, 0.5).entropy(), abs=1e-12)
    draws = pm.draw(d, draws=20000, random_seed=6)
    assert st.kstest(draws, st.norm(3, 0.5).cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match="length 2"):
        fam.dist(eta=[1.0, -1.0, 0.0])


def test_bad_support_is_refused():
    with pytest.raises(ValueError, match="lower < upper"):
        psm.ExponentialFamily("Bad", lambda x: x, lambda e: e, support=(1.0, 0.0))
    with pytest.raises(ValueError, match="integers"):
        psm.ExponentialFamily("Bad", lambda x: x, lambda e: e, support=[0.5, 1.5, 2.5])


def test_a_misplaced_grid_is_reported_not_silently_wrong(rayleigh):
    # sigma = 1000 with the default scale 1: the quadrature cannot resolve the mass.
    far = rayleigh.dist(eta=-0.5 / 1000.0**2)
    with pytest.raises(psm.NumericalLimitError, match="pass loc and scale"):
        psm.entropy(far).eval()
    with pytest.raises(psm.NumericalLimitError, match="inverse-CDF grid"):
        pm.draw(far, draws=10, random_seed=1)
    placed = psm.ExponentialFamily(
        "Rayleigh1000",
        statistics=lambda x: x**2,
        log_partition=lambda eta: -pt.log(-2 * eta),
        log_base_measure=lambda x: pt.log(x),
        support=(0.0, np.inf),
        scale=1000.0,
    )
    got = float(psm.entropy(placed.dist(eta=-0.5 / 1000.0**2)).eval())
    assert got == pytest.approx(st.rayleigh(scale=1000.0).entropy(), abs=1e-9)
