"""Conjugate updates: exact evidence against numerical integration and independent closed forms.

Independent references: the chain rule log p(y) = sum_i log p(y_i | y_<i) with scipy's
predictive distributions (beta-binomial, negative binomial, Lomax, Dirichlet-multinomial), the
Gaussian marginal (scipy multivariate_normal / multivariate_t), and scipy.integrate over the
parameter.
"""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.integrate as si
import scipy.special as sp
import scipy.stats as st
from pymc.logprob.utils import ParameterValueError

from pymc_statmech.expfam import conjugate as cj
from pymc_statmech.expfam.distributions import NaturalBeta, NaturalMvNormal

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py

RTOL = 1e-10
QUAD_RTOL = 1e-9


def value(x):
    return np.asarray(pytensor.function([], x)())


def values(*xs):
    return [np.asarray(v) for v in pytensor.function([], list(xs))()]


def log_quad(log_f, lo, hi, points=None):
    """log of the integral of exp(log_f) over [lo, hi], scaled by its value at the mode."""
    grid = np.linspace(lo, hi, 2001)[1:-1]
    peak = max(log_f(t) for t in grid)
    val, err = si.quad(
        lambda t: np.exp(log_f(t) - peak),
        lo,
        hi,
        points=points,
        epsabs=0,
        epsrel=1e-12,
        limit=500,
    )
    assert err < 1e-10 * val
    return peak + np.log(val)


# ---------------------------------------------------------------------------------------------
# Beta prior
# ---------------------------------------------------------------------------------------------
Y_BIN = np.array([3, 7, 0, 10, 5])
N_BIN = np.array([10, 12, 4, 10, 9])


def test_beta_binomial_chain_rule_and_posterior():
    a, b = 2.5, 1.5
    r = cj.beta_binomial(a, b, Y_BIN, n=N_BIN)
    expected, aa, bb = 0.0, a, b
    for y, n in zip(Y_BIN, N_BIN, strict=True):
        expected += st.betabinom.logpmf(y, n, aa, bb)
        aa, bb = aa + y, bb + n - y
    ev, a_post, b_post = values(
        r.log_evidence, r.posterior_params["alpha"], r.posterior_params["beta"]
    )
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    assert a_post == a + Y_BIN.sum() and b_post == b + (N_BIN - Y_BIN).sum()
    np.testing.assert_allclose(value(r.natural), [a_post - 1, b_post - 1])
    dist = r.posterior
    assert isinstance(dist.owner.op, type(pm.Beta.dist(1.0, 1.0).owner.op))


def test_beta_binomial_quadrature():
    a, b = 0.7, 3.0
    r = cj.beta_binomial(a, b, Y_BIN, n=N_BIN)

    def log_f(p):
        return st.binom.logpmf(Y_BIN, N_BIN, p).sum() + st.beta.logpdf(p, a, b)

    expected = log_quad(log_f, 0.0, 1.0)
    np.testing.assert_allclose(value(r.log_evidence), expected, rtol=QUAD_RTOL)


def test_beta_binomial_single_observation_is_betabinom():
    r = cj.beta_binomial(2.0, 3.0, 4, n=9)
    np.testing.assert_allclose(value(r.log_evidence), st.betabinom.logpmf(4, 9, 2, 3), rtol=1e-13)


def test_beta_bernoulli():
    y = np.array([1, 0, 1, 1, 0, 1, 1])
    r = cj.beta_bernoulli(1.5, 2.0, y)
    k, n = y.sum(), y.size
    expected = sp.betaln(1.5 + k, 2.0 + n - k) - sp.betaln(1.5, 2.0)
    np.testing.assert_allclose(value(r.log_evidence), expected, rtol=1e-13)
    np.testing.assert_allclose(value(r.posterior_params["alpha"]), 1.5 + k)


# ---------------------------------------------------------------------------------------------
# Gamma prior
# ---------------------------------------------------------------------------------------------
Y_POIS = np.array([4, 0, 7, 2, 3, 11])


def test_gamma_poisson_chain_rule_and_quadrature():
    a, b = 2.2, 0.8
    r = cj.gamma_poisson(a, b, Y_POIS)
    expected, aa, bb = 0.0, a, b
    for y in Y_POIS:
        expected += st.nbinom.logpmf(y, aa, bb / (bb + 1))
        aa, bb = aa + y, bb + 1
    ev, a_post, b_post = values(
        r.log_evidence, r.posterior_params["alpha"], r.posterior_params["beta"]
    )
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    assert a_post == a + Y_POIS.sum() and b_post == b + Y_POIS.size

    def log_f(lam):
        return st.poisson.logpmf(Y_POIS, lam).sum() + st.gamma.logpdf(lam, a, scale=1 / b)

    mode = (a_post - 1) / b_post
    quad = log_quad(log_f, 1e-300, mode + 40 * np.sqrt(a_post) / b_post, points=[mode])
    np.testing.assert_allclose(ev, quad, rtol=QUAD_RTOL)


def test_gamma_exponential_chain_rule_and_quadrature():
    y_obs = np.array([0.3, 1.7, 0.05, 2.2])
    a, b = 3.0, 2.0
    r = cj.gamma_exponential(a, b, y_obs)
    expected, aa, bb = 0.0, a, b
    for y in y_obs:
        expected += st.lomax.logpdf(y, aa, scale=bb)
        aa, bb = aa + 1, bb + y
    ev, a_post, b_post = values(
        r.log_evidence, r.posterior_params["alpha"], r.posterior_params["beta"]
    )
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    np.testing.assert_allclose([a_post, b_post], [a + 4, b + y_obs.sum()], rtol=1e-15)

    def log_f(lam):
        return st.expon.logpdf(y_obs, scale=1 / lam).sum() + st.gamma.logpdf(lam, a, scale=1 / b)

    mode = (a_post - 1) / b_post
    quad = log_quad(log_f, 1e-300, mode + 40 * np.sqrt(a_post) / b_post, points=[mode])
    np.testing.assert_allclose(ev, quad, rtol=QUAD_RTOL)


def test_gamma_normal_precision_is_multivariate_t():
    y = np.array([0.4, -1.3, 2.1, 0.9, -0.2])
    mu, a, b = 0.5, 2.5, 1.7
    r = cj.gamma_normal(a, b, y, mu=mu)
    expected = st.multivariate_t(loc=np.full(5, mu), shape=(b / a) * np.eye(5), df=2 * a).logpdf(y)
    ev, a_post, b_post = values(
        r.log_evidence, r.posterior_params["alpha"], r.posterior_params["beta"]
    )
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    np.testing.assert_allclose(
        [a_post, b_post], [a + 2.5, b + 0.5 * ((y - mu) ** 2).sum()], rtol=1e-15
    )

    def log_f(tau):
        return st.norm.logpdf(y, mu, 1 / np.sqrt(tau)).sum() + st.gamma.logpdf(tau, a, scale=1 / b)

    mode = (a_post - 1) / b_post
    quad = log_quad(log_f, 1e-300, mode + 40 * np.sqrt(a_post) / b_post, points=[mode])
    np.testing.assert_allclose(ev, quad, rtol=QUAD_RTOL)


# ---------------------------------------------------------------------------------------------
# Dirichlet prior
# ---------------------------------------------------------------------------------------------
def test_dirichlet_categorical_chain_rule():
    a = np.array([0.5, 2.0, 1.2, 3.0])
    y = np.array([0, 3, 3, 1, 0, 3, 2, 3])
    r = cj.dirichlet_categorical(a, y)
    expected, aa = 0.0, a.copy()
    for label in y:
        expected += np.log(aa[label] / aa.sum())
        aa[label] += 1
    ev, a_post = values(r.log_evidence, r.posterior_params["a"])
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    np.testing.assert_allclose(a_post, aa)


def test_dirichlet_multinomial_chain_rule():
    a = np.array([1.5, 0.4, 2.5])
    y = np.array([[3, 0, 2], [1, 1, 4], [0, 0, 6], [2, 2, 2]])
    r = cj.dirichlet_multinomial(a, y, n=y.sum(-1))
    expected, aa = 0.0, a.copy()
    for row in y:
        expected += st.dirichlet_multinomial.logpmf(row, aa, row.sum())
        aa = aa + row
    ev, a_post = values(r.log_evidence, r.posterior_params["a"])
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    np.testing.assert_allclose(a_post, a + y.sum(0))
    # One count vector (core shape only) is one observation.
    one = cj.dirichlet_multinomial(a, y[0])
    np.testing.assert_allclose(
        value(one.log_evidence), st.dirichlet_multinomial.logpmf(y[0], a, 5), rtol=1e-13
    )


# ---------------------------------------------------------------------------------------------
# Gaussian location
# ---------------------------------------------------------------------------------------------
def test_normal_normal_marginal_quadrature_and_posterior():
    y = np.array([0.3, 1.2, -0.5, 2.0])
    sigma = np.array([0.7, 1.0, 0.5, 2.0])  # heteroscedastic, per observation
    mu0, s0 = 1.0, 2.0
    r = cj.normal_normal(mu0, s0, y, sigma=sigma)
    cov = np.diag(sigma**2) + s0**2
    expected = st.multivariate_normal(np.full(4, mu0), cov).logpdf(y)
    ev, mu_n, s_n = values(r.log_evidence, r.posterior_params["mu"], r.posterior_params["sigma"])
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    prec = 1 / s0**2 + (1 / sigma**2).sum()
    np.testing.assert_allclose(s_n, prec**-0.5, rtol=1e-14)
    np.testing.assert_allclose(mu_n, (mu0 / s0**2 + (y / sigma**2).sum()) / prec, rtol=1e-14)

    def log_f(m):
        return st.norm.logpdf(y, m, sigma).sum() + st.norm.logpdf(m, mu0, s0)

    quad = log_quad(log_f, mu_n - 40 * s_n, mu_n + 40 * s_n, points=[mu_n])
    np.testing.assert_allclose(ev, quad, rtol=QUAD_RTOL)


def test_normal_normal_far_from_origin_is_stable():
    # Data and prior near 1e8: the raw natural-parameter quadratic forms are ~1e16 and would
    # cancel; the centred evaluation keeps full precision.
    rng = np.random.default_rng(1)
    y = 1e8 + rng.normal(size=50)
    r = cj.normal_normal(1e8 + 0.5, 1.0, y, sigma=1.0)
    expected = st.multivariate_normal(np.full(50, 1e8 + 0.5), np.eye(50) + 1.0).logpdf(y)
    np.testing.assert_allclose(value(r.log_evidence), expected, rtol=1e-10)


def _stacked_mvn(mu0, cov0, cov, n):
    mean = np.tile(mu0, n)
    big = np.kron(np.eye(n), cov) + np.kron(np.ones((n, n)), cov0)
    return st.multivariate_normal(mean, big)


def test_mvnormal_mvnormal_marginal_and_posterior():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(5, 3)) + np.array([1.0, -2.0, 0.5])
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, -0.4], [0.0, -0.4, 0.8]])
    cov0 = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.0], [0.1, 0.0, 3.0]])
    mu0 = np.array([0.1, -0.2, 0.3])
    r = cj.mvnormal_mvnormal(mu0, cov0, y, cov=cov)
    expected = _stacked_mvn(mu0, cov0, cov, 5).logpdf(y.ravel())
    ev, mu_n, cov_n = values(r.log_evidence, r.posterior_params["mu"], r.posterior_params["cov"])
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    lam_n = np.linalg.inv(cov0) + 5 * np.linalg.inv(cov)
    np.testing.assert_allclose(cov_n, np.linalg.inv(lam_n), rtol=1e-12)
    h_n = np.linalg.solve(cov0, mu0) + np.linalg.solve(cov, y.sum(0))
    np.testing.assert_allclose(mu_n, np.linalg.solve(lam_n, h_n), rtol=1e-12)
    # Natural parameters and the NaturalMvNormal posterior agree with pm.MvNormal.
    h, j = values(*r.natural)
    np.testing.assert_allclose(h, h_n, rtol=1e-12)
    np.testing.assert_allclose(-2 * j, lam_n, rtol=1e-12)
    nat = r.posterior_natural()
    assert isinstance(nat.owner.op, NaturalMvNormal.rv_type)
    x = np.array([0.2, 0.1, -0.3])
    np.testing.assert_allclose(value(pm.logp(nat, x)), value(pm.logp(r.posterior, x)), rtol=1e-12)


def test_mvnormal_per_observation_covariance():
    y = np.array([[0.5, 1.0], [-0.3, 0.2]])
    covs = np.array([[[1.0, 0.2], [0.2, 1.5]], [[0.5, 0.0], [0.0, 0.7]]])
    cov0, mu0 = np.eye(2) * 2.0, np.zeros(2)
    r = cj.mvnormal_mvnormal(mu0, cov0, y, cov=covs)
    big = np.kron(np.ones((2, 2)), cov0)
    big[:2, :2] += covs[0]
    big[2:, 2:] += covs[1]
    expected = st.multivariate_normal(np.zeros(4), big).logpdf(y.ravel())
    np.testing.assert_allclose(value(r.log_evidence), expected, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# Normal-InverseGamma regression
# ---------------------------------------------------------------------------------------------
def test_regression_is_multivariate_t_and_textbook_posterior():
    rng = np.random.default_rng(3)
    n, p = 8, 3
    X = rng.normal(size=(n, p))
    y = X @ np.array([1.0, -0.5, 2.0]) + 0.3 * rng.normal(size=n)
    mu0 = np.array([0.2, 0.0, 1.0])
    V0 = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 2.0]])
    a0, b0 = 3.0, 2.0
    r = cj.normal_inverse_gamma_regression(mu0, V0, a0, b0, y, X=X)
    cov = (b0 / a0) * (np.eye(n) + X @ V0 @ X.T)
    expected = st.multivariate_t(X @ mu0, cov, df=2 * a0).logpdf(y)
    out = values(
        r.log_evidence,
        *(r.posterior_params[k] for k in ("mu", "V", "alpha", "beta")),
    )
    ev, mu_n, v_n, a_n, b_n = out
    np.testing.assert_allclose(ev, expected, rtol=RTOL)
    lam0 = np.linalg.inv(V0)
    lam_n = lam0 + X.T @ X
    mu_ref = np.linalg.solve(lam_n, lam0 @ mu0 + X.T @ y)
    np.testing.assert_allclose(mu_n, mu_ref, rtol=1e-12)
    np.testing.assert_allclose(v_n, np.linalg.inv(lam_n), rtol=1e-12)
    assert a_n == a0 + n / 2
    b_ref = b0 + 0.5 * (y @ y + mu0 @ lam0 @ mu0 - mu_ref @ lam_n @ mu_ref)
    np.testing.assert_allclose(b_n, b_ref, rtol=1e-12)
    # The sigma^2 marginal, the conditional and the marginal of b.
    assert isinstance(r.posterior.owner.op, type(pm.InverseGamma.dist(1.0, 1.0).owner.op))
    np.testing.assert_allclose(
        value(pm.logp(r.posterior_natural(), 0.7)), st.invgamma.logpdf(0.7, a_n, scale=b_n)
    )
    b = np.array([1.0, -0.4, 1.9])
    np.testing.assert_allclose(
        value(pm.logp(r.coefficients(0.3), b)),
        st.multivariate_normal(mu_ref, 0.3 * v_n).logpdf(b),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        value(pm.logp(r.coefficients(), b)),
        st.multivariate_t(mu_ref, (b_n / a_n) * v_n, df=2 * a_n).logpdf(b),
        rtol=1e-10,
    )


def test_regression_double_quadrature():
    X = np.array([[1.0], [0.5], [-1.2], [2.0]])
    y = np.array([0.8, 0.2, -1.5, 2.3])
    mu0, V0, a0, b0 = np.array([0.5]), np.array([[2.0]]), 2.0, 1.0
    r = cj.normal_inverse_gamma_regression(mu0, V0, a0, b0, y, X=X)
    ev, mu_n, v_n, a_n, b_n = values(
        r.log_evidence, *(r.posterior_params[k] for k in ("mu", "V", "alpha", "beta"))
    )

    # Plain float arithmetic: scipy.stats calls are too slow inside a double quadrature.
    x, n = X[:, 0], y.size
    const = a0 * np.log(b0) - sp.gammaln(a0) - 0.5 * (n + 1) * np.log(2 * np.pi * 1.0)
    const -= 0.5 * np.log(V0[0, 0])
    yy, xy, xx = y @ y, x @ y, x @ x

    def log_joint(b, log_s2):
        # log N(y | x b, s2 I) + log N(b | mu0, s2 V0) + log IG(s2 | a0, b0) + log s2 (Jacobian)
        rss = yy - 2 * b * xy + b * b * xx
        quad = rss + (b - mu0[0]) ** 2 / V0[0, 0]
        return const - (0.5 * (n + 1) + a0) * log_s2 - (0.5 * quad + b0) * np.exp(-log_s2)

    peak = log_joint(mu_n[0], np.log(b_n / (a_n + 1.5)))
    sd_b = np.sqrt(b_n / (a_n - 1) * v_n[0, 0])
    val, _ = si.dblquad(
        lambda b, t: np.exp(log_joint(b, t) - peak),
        np.log(b_n / a_n) - 12,
        np.log(b_n / a_n) + 8,
        mu_n[0] - 40 * sd_b,
        mu_n[0] + 40 * sd_b,
        epsabs=0,
        epsrel=1e-12,
    )
    np.testing.assert_allclose(ev, peak + np.log(val), rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Batching, empty data, gradients
# ---------------------------------------------------------------------------------------------
def test_batched_hyperparameters_match_loops():
    alpha = np.array([0.5, 1.0, 4.0])
    beta = np.array([2.0, 1.0, 0.3])
    r = cj.gamma_poisson(alpha, beta, Y_POIS)
    loops = [
        value(cj.gamma_poisson(a, b, Y_POIS).log_evidence) for a, b in zip(alpha, beta, strict=True)
    ]
    np.testing.assert_allclose(value(r.log_evidence), loops, rtol=1e-14)

    y = np.array([0.3, 1.2, -0.5])
    mu0 = np.array([-1.0, 0.0, 2.0])
    r = cj.normal_normal(mu0, 2.0, y, sigma=0.7)
    loops = [value(cj.normal_normal(m, 2.0, y, sigma=0.7).log_evidence) for m in mu0]
    assert r.log_evidence.type.shape == (3,)
    np.testing.assert_allclose(value(r.log_evidence), loops, rtol=1e-13)

    # Data with its own batch axis (N, batch): one data set per prior.
    yb = np.array([[0.1, 0.5, 2.0], [0.4, -0.1, 1.0]])
    r = cj.normal_normal(mu0, 2.0, yb, sigma=0.7)
    loops = [
        value(cj.normal_normal(m, 2.0, yb[:, i], sigma=0.7).log_evidence) for i, m in enumerate(mu0)
    ]
    np.testing.assert_allclose(value(r.log_evidence), loops, rtol=1e-13)

    cov0 = np.stack([np.eye(2), 2 * np.eye(2)])
    ym = np.array([[0.5, 1.0], [-0.3, 0.2], [1.1, 0.0]])
    r = cj.mvnormal_mvnormal(np.zeros(2), cov0, ym, cov=np.eye(2))
    loops = [
        value(cj.mvnormal_mvnormal(np.zeros(2), c, ym, cov=np.eye(2)).log_evidence) for c in cov0
    ]
    np.testing.assert_allclose(value(r.log_evidence), loops, rtol=1e-13)


def test_no_data_gives_prior_and_zero_evidence():
    r = cj.beta_binomial(2.0, 3.0, np.zeros(0, dtype=int), n=5)
    ev, a, b = values(r.log_evidence, r.posterior_params["alpha"], r.posterior_params["beta"])
    assert ev == 0.0 and a == 2.0 and b == 3.0


def test_gradients_of_centred_gaussian_evidence():
    # The centring point carries no gradient; the gradient must still be the exact one.
    mu0, y = pt.dscalar("mu0"), pt.dvector("y")
    r = cj.normal_normal(mu0, 2.0, y, sigma=0.7)
    grads = pytensor.function([mu0, y], pytensor.grad(r.log_evidence, [mu0, y]))
    y0 = np.array([0.3, 1.2, -0.5])
    cov = 0.49 * np.eye(3) + 4.0
    g_mu0, g_y = grads(1.0, y0)
    resid = np.linalg.solve(cov, y0 - 1.0)
    np.testing.assert_allclose(g_y, -resid, rtol=1e-12)
    np.testing.assert_allclose(g_mu0, resid.sum(), rtol=1e-12)

    X = np.array([[1.0, 0.3], [0.5, -1.0], [-1.2, 0.2], [2.0, 1.0]])
    m0 = pt.dvector("m0")
    r = cj.normal_inverse_gamma_regression(m0, np.eye(2), 2.0, 1.0, y, X=X)
    f = pytensor.function([m0, y], r.log_evidence)
    g = pytensor.function([m0, y], pytensor.grad(r.log_evidence, m0))
    m_val, y_val = np.array([0.2, -0.1]), np.array([0.8, 0.2, -1.5, 2.3])
    eps = 1e-6
    fd = [(f(m_val + eps * e, y_val) - f(m_val - eps * e, y_val)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(g(m_val, y_val), fd, rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# Dispatch and Natural* posteriors
# ---------------------------------------------------------------------------------------------
def test_conjugate_update_dispatch():
    r = cj.conjugate_update(pm.Beta.dist(2.5, 1.5), pm.Binomial, Y_BIN, n=N_BIN)
    direct = cj.beta_binomial(2.5, 1.5, Y_BIN, n=N_BIN)
    np.testing.assert_allclose(value(r.log_evidence), value(direct.log_evidence), rtol=1e-15)
    # pm.Gamma stores a float32 scale 1/beta; the rate itself is recovered exactly.
    r = cj.conjugate_update(pm.Gamma.dist(2.0, 3.0), pm.Poisson, Y_POIS)
    direct = cj.gamma_poisson(2.0, 3.0, Y_POIS)
    np.testing.assert_allclose(value(r.log_evidence), value(direct.log_evidence), rtol=1e-15)
    r = cj.conjugate_update(NaturalBeta.dist(eta=[1.5, 0.5]), "Binomial", Y_BIN, n=N_BIN)
    direct = cj.beta_binomial(2.5, 1.5, Y_BIN, n=N_BIN)
    np.testing.assert_allclose(value(r.log_evidence), value(direct.log_evidence), rtol=1e-14)
    r = cj.conjugate_update(pm.Normal.dist(1.0, 2.0), pm.Normal, [0.3, 1.2], sigma=0.7)
    direct = cj.normal_normal(1.0, 2.0, [0.3, 1.2], sigma=0.7)
    np.testing.assert_allclose(value(r.log_evidence), value(direct.log_evidence), rtol=1e-15)
    with pytest.raises(ValueError, match="no conjugate update for a Beta prior with a Poisson"):
        cj.conjugate_update(pm.Beta.dist(1.0, 1.0), pm.Poisson, Y_POIS)
    with pytest.raises(TypeError, match="missing \\['n'\\]"):
        cj.conjugate_update(pm.Beta.dist(1.0, 1.0), pm.Binomial, Y_BIN)


def test_posterior_natural_matches_posterior():
    r = cj.beta_binomial(2.0, 3.0, Y_BIN, n=N_BIN)
    nat = r.posterior_natural()
    assert isinstance(nat.owner.op, NaturalBeta.rv_type)
    np.testing.assert_allclose(
        value(pm.logp(nat, 0.4)), value(pm.logp(r.posterior, 0.4)), rtol=1e-12
    )
    with pm.Model() as model:
        r.posterior_natural("p")
    assert "p" in model.named_vars


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: cj.beta_binomial(1.0, 1.0, [3, 11], n=10),
            r"`y` must be an integer in \{0, ..., n\}; got y=\[11",
        ),
        (lambda: cj.beta_binomial(1.0, 1.0, [-1, 2], n=10), "`y` must be an integer"),
        (lambda: cj.beta_binomial(1.0, 1.0, [1.5], n=10), "`y` must be an integer"),
        (
            lambda: cj.beta_binomial(-1.0, 1.0, [1], n=10),
            r"`alpha` must be > 0 and finite; got alpha=\[-1",
        ),
        (lambda: cj.beta_bernoulli(1.0, 1.0, [0, 2]), "`y` must be 0 or 1"),
        (lambda: cj.gamma_poisson(1.0, 1.0, [1, -3]), "`y` must be a non-negative integer"),
        (lambda: cj.gamma_exponential(1.0, 0.0, [1.0]), "`beta` must be > 0"),
        (lambda: cj.dirichlet_categorical([1.0, 1.0, 1.0], [0, 3]), r"label in \{0, ..., 2\}"),
        (
            lambda: cj.dirichlet_multinomial([1.0, 1.0], [[1, 2, 0]]),
            "number of categories .* a: 2, y: 3",
        ),
        (lambda: cj.dirichlet_multinomial([1.0, 1.0], [[1, 2]], n=4), "`n` must be the total"),
        (
            lambda: cj.mvnormal_mvnormal(np.zeros(2), -np.eye(2), np.zeros((1, 2)), cov=np.eye(2)),
            "`cov0` must be symmetric positive definite",
        ),
        (
            lambda: cj.mvnormal_mvnormal(np.zeros(2), np.eye(2), np.zeros((1, 3)), cov=np.eye(2)),
            "the dimension k must agree",
        ),
        (
            lambda: cj.normal_inverse_gamma_regression(
                np.zeros(2), np.eye(2), 1.0, 1.0, np.zeros(4), X=np.ones((3, 2))
            ),
            "the number of observations n must agree; got y: 4, X rows: 3",
        ),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_symbolic_input_checked_at_run_time():
    y = pt.dvector("y")
    r = cj.gamma_poisson(2.0, 1.0, y)
    f = pytensor.function([y], r.log_evidence)
    np.testing.assert_allclose(
        f(np.array([1.0, 2.0])), value(cj.gamma_poisson(2.0, 1.0, [1, 2]).log_evidence)
    )
    with pytest.raises(ParameterValueError, match="`y` must be a non-negative integer"):
        f(np.array([1.0, -2.0]))
