"""Known-answer tests for the exponential-family specs in ``pymc_statmech.expfam.families``.

Every derived quantity (entropy, mean parameters, Fisher information, KL, cross-entropy) is
compared with an independent reference: scipy.stats, a closed form, or a direct float64 sum.
The scipy reference of each case is built from the natural parameter with the conventions of
DESIGN.md (e.g. Gamma: eta = (alpha - 1, -beta)).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import special as sp

from pymc_statmech.expfam import families as F
from pymc_statmech.expfam.family import NumericalLimitError

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py

LOG_2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# Reference distributions built from the natural parameter
# ---------------------------------------------------------------------------------------------
def _softmax(e):
    e = np.asarray(e, dtype=float)
    z = np.exp(e - e.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _normal_ms(e):
    e1, e2 = e[..., 0], e[..., 1]
    return -e1 / (2 * e2), np.sqrt(-1 / (2 * e2))


def _ig_params(e):
    """Inverse Gaussian (mu, lambda) from eta = (-lam / (2 mu^2), -lam / 2)."""
    return np.sqrt(e[..., 1] / e[..., 0]), -2 * e[..., 1]


def _vm_params(e):
    return np.arctan2(e[..., 1], e[..., 0]), np.hypot(e[..., 0], e[..., 1])


def _mvn_params(eta):
    h, j = eta
    cov = np.linalg.inv(-2 * j)
    return cov @ h, cov


def _wishart_params(eta):
    theta, a = eta
    k = theta.shape[-1]
    return 2 * a + k + 1, np.linalg.inv(-2 * theta)


def ref_bernoulli(e):
    return st.bernoulli(sp.expit(e))


def ref_binomial(e, n):
    return st.binom(n, sp.expit(e))


def ref_geometric(e):
    # failures before the first success: scipy's geom counts trials, so shift by one
    return st.geom(-np.expm1(e), loc=-1)


def ref_negative_binomial(e, r):
    return st.nbinom(r, -np.expm1(e))


def ref_poisson(e):
    return st.poisson(np.exp(e))


def ref_categorical(e):
    return st.multinomial(1, _softmax(e))


def ref_multinomial(e, n):
    return st.multinomial(n, _softmax(e))


def ref_exponential(e):
    return st.expon(scale=-1 / e)


def ref_normal(e):
    m, s = _normal_ms(e)
    return st.norm(m, s)


def ref_lognormal(e):
    m, s = _normal_ms(e)
    return st.lognorm(s, scale=np.exp(m))


def ref_gamma(e):
    return st.gamma(e[..., 0] + 1, scale=-1 / e[..., 1])


def ref_inverse_gamma(e):
    return st.invgamma(-e[..., 0] - 1, scale=-e[..., 1])


def ref_beta(e):
    return st.beta(e[..., 0] + 1, e[..., 1] + 1)


def ref_dirichlet(e):
    return st.dirichlet(e + 1)


def ref_von_mises(e):
    mu, kappa = _vm_params(e)
    return st.vonmises(kappa, loc=mu)


def ref_inverse_gaussian(e):
    mu, lam = _ig_params(e)
    return st.invgauss(mu / lam, scale=lam)


def ref_mvnormal(eta):
    m, cov = _mvn_params(eta)
    return st.multivariate_normal(m, cov)


def ref_wishart(eta):
    nu, v = _wishart_params(eta)
    return st.wishart(nu, v)


# ---------------------------------------------------------------------------------------------
# Closed-form mean parameters E[T(x)]
# ---------------------------------------------------------------------------------------------
def mean_normal(e):
    m, s = _normal_ms(e)
    return [np.stack([m, m**2 + s**2], axis=-1)]


def mean_gamma(e):
    a, b = e[..., 0] + 1, -e[..., 1]
    return [np.stack([sp.digamma(a) - np.log(b), a / b], axis=-1)]


def mean_inverse_gamma(e):
    a, b = -e[..., 0] - 1, -e[..., 1]
    return [np.stack([np.log(b) - sp.digamma(a), a / b], axis=-1)]


def mean_beta(e):
    a, b = e[..., 0] + 1, e[..., 1] + 1
    return [np.stack([sp.digamma(a) - sp.digamma(a + b), sp.digamma(b) - sp.digamma(a + b)], -1)]


def mean_dirichlet(e):
    alpha = e + 1
    return [sp.digamma(alpha) - sp.digamma(alpha.sum(axis=-1, keepdims=True))]


def mean_von_mises(e):
    mu, kappa = _vm_params(e)
    a1 = sp.i1e(kappa) / sp.i0e(kappa)
    return [np.stack([a1 * np.cos(mu), a1 * np.sin(mu)], axis=-1)]


def mean_inverse_gaussian(e):
    mu, lam = _ig_params(e)
    return [np.stack([mu, 1 / mu + 1 / lam], axis=-1)]


def mean_mvnormal(eta):
    m, cov = _mvn_params(eta)
    return [m, cov + np.outer(m, m)]


def mean_wishart(eta):
    nu, v = _wishart_params(eta)
    k = v.shape[-1]
    e_logdet = sum(sp.digamma((nu - i) / 2) for i in range(k)) + k * LOG_2 + np.linalg.slogdet(v)[1]
    return [nu * v, np.asarray(e_logdet)]


# ---------------------------------------------------------------------------------------------
# The cases: a family, a few natural parameters in its domain, fixed parameters, references
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    family: Any
    etas: tuple
    ref: Callable
    mean: Callable
    fixed: dict = field(default_factory=dict)

    @property
    def multi(self) -> bool:
        return isinstance(self.etas[0], tuple)

    def batched(self):
        """All eta points stacked on a new leading batch axis."""
        if self.multi:
            return tuple(np.stack([e[i] for e in self.etas]) for i in range(len(self.etas[0])))
        return np.stack(self.etas)

    def batched2(self):
        """The points repeated on a (2, m) batch, to exercise more than one batch axis."""
        b = self.batched()
        if self.multi:
            return tuple(np.stack([c, c]) for c in b)
        return np.stack([b, b])


def _spd(seed, k, scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, k))
    return scale * (a @ a.T / k + np.eye(k))


_P1, _P2, _P3 = _spd(1, 3), _spd(2, 3, 0.5), _spd(3, 3, 2.0)
_V1, _V2, _V3 = _spd(4, 3), _spd(5, 3, 0.3), _spd(6, 3, 3.0)

CASES = [
    Case(
        "Bernoulli",
        F.bernoulli,
        tuple(np.array(v) for v in (-3.0, 0.0, 0.7, 5.0)),
        ref_bernoulli,
        lambda e: [sp.expit(e)],
    ),
    Case(
        "Binomial",
        F.binomial,
        tuple(np.array(v) for v in (-1.5, 0.2, 2.0)),
        ref_binomial,
        lambda e, n: [n * sp.expit(e)],
        {"n": 12},
    ),
    Case(
        "Geometric",
        F.geometric,
        tuple(np.array(v) for v in (-2.0, -0.3, -0.01)),
        ref_geometric,
        lambda e: [np.exp(e) / -np.expm1(e)],
    ),
    Case(
        "NegativeBinomial",
        F.negative_binomial,
        tuple(np.array(v) for v in (-2.0, -0.5, -0.05)),
        ref_negative_binomial,
        lambda e, r: [r * np.exp(e) / -np.expm1(e)],
        {"r": 2.5},
    ),
    Case(
        "Poisson",
        F.poisson,
        tuple(np.array(v) for v in (-2.0, 0.5, 3.0)),
        ref_poisson,
        lambda e: [np.exp(e)],
    ),
    Case(
        "Categorical",
        F.categorical,
        (np.array([0.0, 1.0, -1.0]), np.array([2.0, 2.0, 2.0]), np.array([-3.0, 0.5, 1.5])),
        ref_categorical,
        lambda e: [_softmax(e)],
    ),
    Case(
        "Multinomial",
        F.multinomial,
        (np.array([0.0, 1.0, -1.0]), np.array([2.0, 2.0, 2.0]), np.array([-3.0, 0.5, 1.5])),
        ref_multinomial,
        lambda e, n: [n * _softmax(e)],
        {"n": 7},
    ),
    Case(
        "Exponential",
        F.exponential,
        tuple(np.array(v) for v in (-0.5, -2.0, -10.0)),
        ref_exponential,
        lambda e: [-1 / e],
    ),
    Case(
        "Normal",
        F.normal,
        (np.array([1.0, -0.5]), np.array([-3.0, -2.0]), np.array([0.2, -0.05])),
        ref_normal,
        mean_normal,
    ),
    Case(
        "LogNormal",
        F.lognormal,
        (np.array([1.0, -0.5]), np.array([-3.0, -2.0]), np.array([0.2, -0.05])),
        ref_lognormal,
        mean_normal,  # the statistics are (log x, log^2 x)
    ),
    Case(
        "Gamma",
        F.gamma,
        (np.array([1.0, -2.0]), np.array([-0.5, -0.3]), np.array([4.0, -10.0])),
        ref_gamma,
        mean_gamma,
    ),
    Case(
        "InverseGamma",
        F.inverse_gamma,
        (np.array([-3.0, -2.0]), np.array([-1.5, -0.5]), np.array([-6.0, -4.0])),
        ref_inverse_gamma,
        mean_inverse_gamma,
    ),
    Case(
        "Beta",
        F.beta,
        (np.array([1.0, 2.0]), np.array([-0.5, -0.5]), np.array([3.0, 0.2])),
        ref_beta,
        mean_beta,
    ),
    Case(
        "Dirichlet",
        F.dirichlet,
        (np.array([0.0, 1.0, 2.0]), np.array([-0.5, -0.5, -0.5]), np.array([3.0, 0.2, -0.7])),
        ref_dirichlet,
        mean_dirichlet,
    ),
    Case(
        "VonMises",
        F.von_mises,
        (np.array([1.0, 0.5]), np.array([-2.0, 3.0]), np.array([0.05, -0.02])),
        ref_von_mises,
        mean_von_mises,
    ),
    Case(
        "InverseGaussian",
        F.inverse_gaussian,
        (np.array([-0.5, -1.0]), np.array([-2.0, -0.5]), np.array([-0.1, -3.0])),
        ref_inverse_gaussian,
        mean_inverse_gaussian,
    ),
    Case(
        "MvNormal",
        F.mvnormal,
        (
            (np.array([0.5, -1.0, 2.0]), -0.5 * _P1),
            (np.array([0.0, 0.3, 0.1]), -0.5 * _P2),
            (np.array([-2.0, 1.0, 0.0]), -0.5 * _P3),
        ),
        ref_mvnormal,
        mean_mvnormal,
    ),
    Case(
        "Wishart",
        F.wishart,
        (
            (-0.5 * np.linalg.inv(_V1), np.array(0.5)),
            (-0.5 * np.linalg.inv(_V2), np.array(2.0)),
            (-0.5 * np.linalg.inv(_V3), np.array(-0.3)),
        ),
        ref_wishart,
        mean_wishart,
    ),
]
CASE_IDS = [c.id for c in CASES]
BY_ID = {c.id: c for c in CASES}


def batched_cases():
    """CASES as parameters, batched natural parameters included."""
    return [pytest.param(c, id=c.id) for c in CASES]


def _eval(x):
    """Evaluate a PyTensor result (tensor or tuple of tensors) to numpy."""
    if isinstance(x, tuple | list):
        return [np.asarray(v.eval()) for v in x]
    return [np.asarray(x.eval())]


def _symbolic_like(eta):
    """Symbolic float64 inputs with the static shape of ``eta`` (array or tuple of arrays)."""
    if isinstance(eta, tuple):
        syms = tuple(
            pt.tensor(f"eta{i}", dtype="float64", shape=e.shape) for i, e in enumerate(eta)
        )
        return syms, list(syms)
    sym = pt.tensor("eta", dtype="float64", shape=np.shape(eta))
    return sym, [sym]


def _flat(parts):
    return np.concatenate([np.ravel(p) for p in parts])


def _unflat(case, flat):
    """Inverse of ``_flat`` for an eta point of ``case``."""
    template = case.etas[0]
    if not case.multi:
        return flat.reshape(np.shape(template))
    out, i = [], 0
    for comp in template:
        out.append(flat[i : i + comp.size].reshape(comp.shape))
        i += comp.size
    return tuple(out)


def _ref_entropy(case, eta):
    return float(case.ref(eta, **case.fixed).entropy())


# ---------------------------------------------------------------------------------------------
# Mean parameters
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", batched_cases())
def test_mean_parameters_closed_form(case):
    got = _eval(case.family.mean_parameters(case.batched(), **case.fixed))
    for i, eta in enumerate(case.etas):
        expected = case.mean(eta, **case.fixed)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g[i], e, rtol=1e-10, atol=1e-13, err_msg=case.id)


@pytest.mark.parametrize("case", batched_cases())
def test_mean_parameters_two_batch_axes(case):
    got = _eval(case.family.mean_parameters(case.batched2(), **case.fixed))
    for i, eta in enumerate(case.etas):
        expected = case.mean(eta, **case.fixed)
        for g, e in zip(got, expected, strict=True):
            for b in range(2):
                np.testing.assert_allclose(g[b, i], e, rtol=1e-10, atol=1e-13, err_msg=case.id)


@pytest.mark.parametrize("eta", [[5e-5, 0.0], [0.0, 9.9e-5], [2e-4, -1e-4], [0.3, 0.0]])
def test_von_mises_mean_parameters_across_small_kappa_switch(eta):
    # A(eta) switches to an even series for |eta| < 1e-4: both sides must match I1/I0.
    eta = np.array(eta)
    got = _eval(F.von_mises.mean_parameters(eta))[0]
    np.testing.assert_allclose(got, mean_von_mises(eta)[0], rtol=1e-10, atol=1e-15)


def test_von_mises_uniform_limit():
    # eta = 0 is the uniform distribution: E[cos x] = E[sin x] = 0, Cov = I / 2.
    mean = _eval(F.von_mises.mean_parameters(np.zeros(2)))[0]
    fisher = _eval(F.von_mises.fisher_information(np.zeros(2)))[0]
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(fisher))
    np.testing.assert_allclose(mean, [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(fisher, 0.5 * np.eye(2), rtol=1e-12, atol=1e-15)
    entropy = float(F.von_mises.entropy(np.zeros(2)).eval())
    np.testing.assert_allclose(entropy, math.log(2 * math.pi), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Fisher information
# ---------------------------------------------------------------------------------------------
@cache
def _mean_and_fisher_fns(case_id):
    case = BY_ID[case_id]
    sym, inputs = _symbolic_like(case.etas[0])
    mean = case.family.mean_parameters(sym, **case.fixed)
    parts = list(mean) if case.multi else [mean]
    flat_mean = pt.concatenate([pt.flatten(p) for p in parts])
    fisher = case.family.fisher_information(sym, **case.fixed)
    return pytensor.function(inputs, flat_mean), pytensor.function(inputs, fisher)


def _call(fn, case, eta):
    return fn(*eta) if case.multi else fn(eta)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fisher_information_is_jacobian_of_mean_parameters(case):
    mean_fn, fisher_fn = _mean_and_fisher_fns(case.id)
    h = 1e-5
    for eta in case.etas:
        x0 = _flat(eta if case.multi else [eta])
        cols = []
        for j in range(x0.size):
            step = np.zeros_like(x0)
            step[j] = h
            up = _call(mean_fn, case, _unflat(case, x0 + step))
            down = _call(mean_fn, case, _unflat(case, x0 - step))
            cols.append((up - down) / (2 * h))
        fd = np.stack(cols, axis=-1)
        fisher = np.asarray(_call(fisher_fn, case, eta)).reshape(fd.shape)
        scale = np.abs(fd).max()
        # Off-diagonal zeros need an absolute floor: the rounding error of the central
        # difference is ~ eps * |mu| / h, i.e. 1e-11 relative to the largest entry.
        np.testing.assert_allclose(fisher, fd, rtol=1e-6, atol=1e-8 * scale, err_msg=case.id)
        # A covariance matrix: symmetric positive semi-definite.
        np.testing.assert_allclose(fisher, fisher.T, rtol=1e-12, atol=1e-12 * scale)
        assert np.linalg.eigvalsh(np.atleast_2d(fisher)).min() > -1e-9 * scale


def test_fisher_poisson_is_rate():
    eta = np.array([-3.0, 0.0, 2.5, 9.0])
    got = F.poisson.fisher_information(eta).eval()
    np.testing.assert_allclose(got, np.exp(eta), rtol=1e-13)


def test_fisher_bernoulli_binomial_geometric_closed_forms():
    eta = np.array([-4.0, -0.3, 0.0, 2.0])
    p = sp.expit(eta)
    np.testing.assert_allclose(F.bernoulli.fisher_information(eta).eval(), p * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(
        F.binomial.fisher_information(eta, n=9).eval(), 9 * p * (1 - p), rtol=1e-12
    )
    eta_g = np.array([-3.0, -0.5, -0.01])
    q = -np.expm1(eta_g)  # success probability
    np.testing.assert_allclose(
        F.geometric.fisher_information(eta_g).eval(), (1 - q) / q**2, rtol=1e-10
    )


def test_fisher_normal_is_covariance_of_x_and_x2():
    for eta in BY_ID["Normal"].etas:
        m, s = _normal_ms(eta)
        v = s**2
        cov = np.array([[v, 2 * m * v], [2 * m * v, 4 * m**2 * v + 2 * v**2]])
        got = F.normal.fisher_information(eta).eval()
        np.testing.assert_allclose(got, cov, rtol=1e-10)


def test_fisher_gamma_is_covariance_of_logx_and_x():
    for eta in BY_ID["Gamma"].etas:
        a, b = eta[0] + 1, -eta[1]
        cov = np.array([[sp.polygamma(1, a), 1 / b], [1 / b, a / b**2]])
        np.testing.assert_allclose(F.gamma.fisher_information(eta).eval(), cov, rtol=1e-10)


def test_fisher_categorical_and_dirichlet():
    for eta in BY_ID["Categorical"].etas:
        p = _softmax(eta)
        got = F.categorical.fisher_information(eta).eval()
        np.testing.assert_allclose(got, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-15)
    for eta in BY_ID["Dirichlet"].etas:
        alpha = eta + 1
        cov = np.diag(sp.polygamma(1, alpha)) - sp.polygamma(1, alpha.sum())
        np.testing.assert_allclose(F.dirichlet.fisher_information(eta).eval(), cov, rtol=1e-10)


def test_fisher_mvnormal_is_isserlis_covariance():
    # T = (x, vec(x x^T)); Cov by Isserlis' theorem for a Gaussian with mean m, covariance S.
    for eta in BY_ID["MvNormal"].etas:
        m, s = _mvn_params(eta)
        k = m.size
        c_x_xx = np.einsum("j,il->ijl", m, s) + np.einsum("l,ij->ijl", m, s)
        c_xx_xx = (
            np.einsum("il,jm->ijlm", s, s)
            + np.einsum("im,jl->ijlm", s, s)
            + np.einsum("i,l,jm->ijlm", m, m, s)
            + np.einsum("i,m,jl->ijlm", m, m, s)
            + np.einsum("j,l,im->ijlm", m, m, s)
            + np.einsum("j,m,il->ijlm", m, m, s)
        )
        full = np.block(
            [
                [s, c_x_xx.reshape(k, k * k)],
                [c_x_xx.reshape(k, k * k).T, c_xx_xx.reshape(k * k, k * k)],
            ]
        )
        got = F.mvnormal.fisher_information(eta).eval()
        np.testing.assert_allclose(got, full, rtol=1e-9, atol=1e-12 * np.abs(full).max())


def test_fisher_batched_matches_pointwise():
    case = BY_ID["Gamma"]
    got = F.gamma.fisher_information(case.batched2()).eval()
    assert got.shape == (2, len(case.etas), 2, 2)
    for i, eta in enumerate(case.etas):
        np.testing.assert_allclose(got[1, i], F.gamma.fisher_information(eta).eval(), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Entropy
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", batched_cases())
def test_entropy_matches_scipy(case):
    got = case.family.entropy(case.batched(), **case.fixed).eval()
    expected = np.array([_ref_entropy(case, eta) for eta in case.etas])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, err_msg=case.id)


@pytest.mark.parametrize("case", batched_cases())
def test_entropy_two_batch_axes(case):
    got = case.family.entropy(case.batched2(), **case.fixed).eval()
    expected = np.array([_ref_entropy(case, eta) for eta in case.etas])
    assert got.shape == (2, len(case.etas))
    np.testing.assert_allclose(got, np.stack([expected, expected]), rtol=0, atol=1e-9)


def _window(frozen, upper=None):
    """Integers from max(0, mean - 60 sd) to where the pmf has fallen below e^-110."""
    mean, sd = float(frozen.mean()), float(frozen.std())
    lo = max(0.0, math.floor(mean - 60 * sd))
    hi = math.ceil(mean + 60 * sd)
    while frozen.logpmf(hi) > -110 and (upper is None or hi < upper):
        hi = math.ceil(1.5 * hi) + 10
    if upper is not None:
        hi = min(hi, upper)
    assert lo == 0 or frozen.logpmf(lo) < -110
    return np.arange(lo, hi + 1)


def _direct_entropy(frozen, upper=None):
    """-sum p log p in float64 over mean +- 60 sd, widened until the tail is negligible.

    These pmfs decay at least geometrically past the mean, with ratio at most 0.9999 in the
    cases below, so a pmf below e^-110 at both ends leaves less than 1e4 * e^-110 ~ 1e-44 out.
    """
    k = _window(frozen, upper)
    logp = frozen.logpmf(k)
    # scipy's log-pmf carries a common rounding offset at large means (1e-11 at 2e4, 3e-9 at
    # 7e6): check it is small, then remove it by normalising over the window.
    total = math.fsum(np.exp(logp))
    assert abs(total - 1) < 1e-8
    logp = logp - math.log(total)
    p = np.exp(logp)
    return math.fsum(np.where(p > 0, -p * logp, 0.0))


LARGE_DISCRETE = [
    pytest.param(F.poisson, np.log(2e4), {}, ref_poisson, id="Poisson(2e4)"),
    pytest.param(F.poisson, np.log(1e-4), {}, ref_poisson, id="Poisson(1e-4)"),
    pytest.param(F.poisson, np.log(1e6), {}, ref_poisson, id="Poisson(1e6)"),
    pytest.param(F.binomial, sp.logit(0.55), {"n": 100_000}, ref_binomial, id="Binom(1e5,.55)"),
    pytest.param(F.binomial, sp.logit(1e-6), {"n": 100_000}, ref_binomial, id="Binom(1e5,1e-6)"),
    pytest.param(F.binomial, sp.logit(0.999), {"n": 3000}, ref_binomial, id="Binom(3000,.999)"),
    pytest.param(F.binomial, sp.logit(0.3), {"n": 10_000_000}, ref_binomial, id="Binom(1e7,.3)"),
    pytest.param(
        F.negative_binomial, np.log1p(-0.01), {"r": 0.1}, ref_negative_binomial, id="NB(.1,.01)"
    ),
    pytest.param(
        F.negative_binomial, np.log1p(-0.3), {"r": 400.0}, ref_negative_binomial, id="NB(400,.3)"
    ),
    pytest.param(
        F.negative_binomial, np.log1p(-1e-4), {"r": 3.0}, ref_negative_binomial, id="NB(3,1e-4)"
    ),
    pytest.param(
        F.negative_binomial, np.log1p(-1e-5), {"r": 0.5}, ref_negative_binomial, id="NB(.5,1e-5)"
    ),
]


@pytest.mark.parametrize(("family", "eta", "fixed", "ref"), LARGE_DISCRETE)
def test_entropy_large_and_heavy_discrete_by_direct_sum(family, eta, fixed, ref):
    frozen = ref(eta, **fixed)
    expected = _direct_entropy(frozen, upper=fixed.get("n"))
    got = float(family.entropy(np.array(eta), **fixed).eval())
    np.testing.assert_allclose(got, expected, rtol=1e-8)


@pytest.mark.parametrize("rate", [1e3, 2e4, 1e6, 1e8])
def test_entropy_poisson_large_rate_asymptotic_series(rate):
    # Evans and Boersma (1988): the remainder is O(rate^-4), below 1e-15 here.
    expected = (
        0.5 * math.log(2 * math.pi * math.e * rate)
        - 1 / (12 * rate)
        - 1 / (24 * rate**2)
        - 19 / (360 * rate**3)
    )
    got = float(F.poisson.entropy(np.array(np.log(rate))).eval())
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_entropy_too_spread_out_raises_instead_of_exhausting_memory():
    # NegativeBinomial(r=3, p=1e-6) has sd 1.7e6: the exact window would need ~5e7 terms. The
    # library must refuse with a clear error. The address space is capped at +6 GB meanwhile,
    # so that a regression fails this test instead of exhausting the machine's memory.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = vm_kb * 1024 + 6 * 2**30
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        with pytest.raises(NumericalLimitError, match=r"NegativeBinomial.*needs more than"):
            F.negative_binomial.entropy(np.array(np.log1p(-1e-6)), r=3.0).eval()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("p", [1 - 1e-9, 0.5, 1e-3, 1e-7])
def test_entropy_geometric_extremes_closed_form(p):
    # H = (-(1 - p) log(1 - p) - p log p) / p for failures before the first success.
    eta = np.log1p(-p)
    expected = (-(1 - p) * math.log1p(-p) - p * math.log(p)) / p
    got = float(F.geometric.entropy(np.array(eta)).eval())
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_entropy_multinomial_large_n_by_marginal_sums():
    # H = -log n! - n sum p_i log p_i + sum_i E[log x_i!] with x_i ~ Binomial(n, p_i) exactly.
    n, eta = 50_000, np.array([0.3, -1.2, 2.0, 0.0])
    p = _softmax(eta)
    e_log_fact = 0.0
    for pi in p:
        frozen = st.binom(n, pi)
        mean, sd = n * pi, math.sqrt(n * pi * (1 - pi))
        k = np.arange(max(0, math.floor(mean - 60 * sd)), min(n, math.ceil(mean + 60 * sd)) + 1)
        w = frozen.pmf(k)
        assert abs(math.fsum(w) - 1) < 1e-12
        e_log_fact += math.fsum(w * sp.gammaln(k + 1))
    expected = -sp.gammaln(n + 1) - n * np.sum(p * np.log(p)) + e_log_fact
    got = float(F.multinomial.entropy(eta, n=n).eval())
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_entropy_moderate_discrete_agrees_with_direct_sum():
    # Cross-check of the references themselves: scipy's generic sum and a direct sum agree here.
    for case_id in ("Poisson", "NegativeBinomial", "Binomial"):
        case = BY_ID[case_id]
        for eta in case.etas:
            frozen = case.ref(eta, **case.fixed)
            direct = _direct_entropy(frozen, upper=case.fixed.get("n"))
            np.testing.assert_allclose(direct, frozen.entropy(), rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# KL divergence and cross-entropy
# ---------------------------------------------------------------------------------------------
def kl_normal(ep, eq):
    m1, s1 = _normal_ms(ep)
    m2, s2 = _normal_ms(eq)
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def kl_gamma(ep, eq):
    a1, b1 = ep[0] + 1, -ep[1]
    a2, b2 = eq[0] + 1, -eq[1]
    return (
        (a1 - a2) * sp.digamma(a1)
        - sp.gammaln(a1)
        + sp.gammaln(a2)
        + a2 * (np.log(b1) - np.log(b2))
        + a1 * (b2 - b1) / b1
    )


def kl_beta(ep, eq):
    a1, b1 = ep + 1
    a2, b2 = eq + 1
    return (
        sp.betaln(a2, b2)
        - sp.betaln(a1, b1)
        + (a1 - a2) * sp.digamma(a1)
        + (b1 - b2) * sp.digamma(b1)
        + (a2 - a1 + b2 - b1) * sp.digamma(a1 + b1)
    )


def kl_poisson(ep, eq):
    l1, l2 = np.exp(ep), np.exp(eq)
    return l1 * np.log(l1 / l2) + l2 - l1


def kl_dirichlet(ep, eq):
    a, b = ep + 1, eq + 1
    a0, b0 = a.sum(), b.sum()
    return (
        sp.gammaln(a0)
        - sp.gammaln(a).sum()
        - sp.gammaln(b0)
        + sp.gammaln(b).sum()
        + np.sum((a - b) * (sp.digamma(a) - sp.digamma(a0)))
    )


def kl_mvnormal(ep, eq):
    m1, s1 = _mvn_params(ep)
    m2, s2 = _mvn_params(eq)
    k = m1.size
    p2 = np.linalg.inv(s2)
    d = m2 - m1
    return 0.5 * (
        np.trace(p2 @ s1) + d @ p2 @ d - k + np.linalg.slogdet(s2)[1] - np.linalg.slogdet(s1)[1]
    )


def kl_categorical(ep, eq):
    p, q = _softmax(ep), _softmax(eq)
    return np.sum(p * np.log(p / q))


def kl_exponential(ep, eq):
    l1, l2 = -ep, -eq
    return np.log(l1 / l2) + l2 / l1 - 1


KL_CLOSED = [
    ("Normal", kl_normal),
    ("Gamma", kl_gamma),
    ("Beta", kl_beta),
    ("Poisson", kl_poisson),
    ("Dirichlet", kl_dirichlet),
    ("MvNormal", kl_mvnormal),
    ("Categorical", kl_categorical),
    ("Exponential", kl_exponential),
]


@pytest.mark.parametrize(("case_id", "closed"), KL_CLOSED, ids=[k for k, _ in KL_CLOSED])
def test_kl_divergence_closed_forms(case_id, closed):
    case = BY_ID[case_id]
    fam = case.family
    for i, ep in enumerate(case.etas):
        for j, eq in enumerate(case.etas):
            got = float(fam.kl_divergence(ep, eq).eval())
            expected = 0.0 if i == j else float(closed(ep, eq))
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13, err_msg=f"{i},{j}")


def test_kl_divergence_batched():
    case = BY_ID["Gamma"]
    b = case.batched()
    got = F.gamma.kl_divergence(b, b[::-1]).eval()
    expected = [kl_gamma(p, q) for p, q in zip(case.etas, case.etas[::-1], strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("case_id", ["VonMises", "InverseGaussian", "InverseGamma", "Wishart"])
def test_kl_divergence_monte_carlo(case_id):
    case = BY_ID[case_id]
    ep, eq = case.etas[0], case.etas[1]
    p, q = case.ref(ep), case.ref(eq)
    n = 200_000 if case_id != "Wishart" else 40_000
    x = p.rvs(size=n, random_state=np.random.default_rng(20240611))
    if case_id == "Wishart":
        x = np.moveaxis(x, 0, -1)  # scipy's wishart.logpdf wants (k, k, n)
    d = p.logpdf(x) - q.logpdf(x)
    mc, mcse = d.mean(), d.std(ddof=1) / math.sqrt(n)
    got = float(case.family.kl_divergence(ep, eq).eval())
    assert abs(got - mc) < 4 * mcse, (got, mc, mcse)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cross_entropy_is_entropy_plus_kl(case):
    ep, eq = case.etas[0], case.etas[1]
    fam, fixed = case.family, case.fixed
    h = float(fam.entropy(ep, **fixed).eval())
    kl = float(fam.kl_divergence(ep, eq, **fixed).eval())
    ce = float(fam.cross_entropy(ep, eq, **fixed).eval())
    assert kl > 0
    np.testing.assert_allclose(ce, h + kl, rtol=1e-10, atol=1e-10)
    # and H(p, p) = H(p)
    np.testing.assert_allclose(
        float(fam.cross_entropy(ep, ep, **fixed).eval()), h, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("case_id", ["Poisson", "Gamma", "Normal", "Beta", "NegativeBinomial"])
def test_cross_entropy_matches_scipy_expectation(case_id):
    # -E_p[log q(x)] by quadrature/summation with scipy densities.
    case = BY_ID[case_id]
    ep, eq = case.etas[0], case.etas[2]
    p, q = case.ref(ep, **case.fixed), case.ref(eq, **case.fixed)
    if case_id in ("Poisson", "NegativeBinomial"):
        k = _window(p)
        expected = -math.fsum(p.pmf(k) * q.logpmf(k))
    else:
        expected = p.expect(lambda x: -q.logpdf(x), epsabs=1e-13, epsrel=1e-12)
    got = float(case.family.cross_entropy(ep, eq, **case.fixed).eval())
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Property tests (hypothesis); the PyTensor functions are compiled once, outside the bodies
# ---------------------------------------------------------------------------------------------
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)

finite = {"allow_nan": False, "allow_infinity": False}


def _vec2(lo0, hi0, lo1, hi1):
    return hst.tuples(hst.floats(lo0, hi0, **finite), hst.floats(lo1, hi1, **finite)).map(np.array)


PROPERTY_FAMILIES = {
    "Poisson": (F.poisson, hst.floats(-6, 8, **finite).map(np.array), ()),
    "Bernoulli": (F.bernoulli, hst.floats(-15, 15, **finite).map(np.array), ()),
    "NegativeBinomial": (F.negative_binomial, hst.floats(-5, -1e-3, **finite).map(np.array), ()),
    "Gamma": (F.gamma, _vec2(-0.9, 20, -20, -0.05), (2,)),
    "Normal": (F.normal, _vec2(-10, 10, -10, -0.01), (2,)),
    "Beta": (F.beta, _vec2(-0.9, 20, -0.9, 20), (2,)),
    "VonMises": (F.von_mises, _vec2(-20, 20, -20, 20), (2,)),
    "InverseGaussian": (F.inverse_gaussian, _vec2(-10, -0.01, -10, -0.01), (2,)),
    "Dirichlet": (
        F.dirichlet,
        hst.tuples(*[hst.floats(-0.9, 15, **finite)] * 3).map(np.array),
        (3,),
    ),
}


@cache
def _kl_fns(name):
    fam, _, shape = PROPERTY_FAMILIES[name]
    fixed = {"r": 2.0} if name == "NegativeBinomial" else {}
    p = pt.tensor("p", dtype="float64", shape=shape)
    q = pt.tensor("q", dtype="float64", shape=shape)
    return pytensor.function(
        [p, q],
        [
            fam.kl_divergence(p, q, **fixed),
            fam.kl_divergence(p, p, **fixed),
            fam.cross_entropy(p, q, **fixed),
            fam.entropy(p, **fixed),
        ],
    )


@pytest.mark.parametrize("name", list(PROPERTY_FAMILIES))
def test_property_kl_nonnegative_and_zero_on_diagonal(name):
    fn = _kl_fns(name)
    strategy = PROPERTY_FAMILIES[name][1]

    @PROPERTY_SETTINGS
    @given(strategy, strategy)
    def check(ep, eq):
        kl, kl_self, ce, h = (float(v) for v in fn(ep, eq))
        assert np.isfinite(kl) and np.isfinite(ce) and np.isfinite(h)
        assert kl >= 0
        assert abs(kl_self) <= 1e-12
        # Gibbs' inequality on the unclipped quantities: H(p, q) >= H(p), and the identity.
        scale = max(1.0, abs(h), abs(ce))
        assert ce - h >= -1e-11 * scale
        assert abs((ce - h) - kl) <= 1e-9 * scale

    check()


@cache
def _mean_fn(name):
    fam, _, shape = PROPERTY_FAMILIES[name]
    e = pt.tensor("e", dtype="float64", shape=shape)
    return pytensor.function([e], fam.mean_parameters(e))


def test_property_grad_log_partition_is_mean_statistic_poisson():
    fn = _mean_fn("Poisson")
    n = 20_000

    @PROPERTY_SETTINGS
    @given(hst.floats(-3, 6, **finite))
    def check(eta):
        x = np.random.default_rng(7).poisson(np.exp(eta), size=n)
        mcse = x.std(ddof=1) / math.sqrt(n)
        mu = float(fn(np.array(eta)))
        assert abs(x.mean() - mu) < 4 * max(mcse, 1 / n)

    check()


def test_property_grad_log_partition_is_mean_statistic_gamma():
    fn = _mean_fn("Gamma")
    n = 20_000

    @PROPERTY_SETTINGS
    @given(_vec2(-0.5, 15, -10, -0.1))
    def check(eta):
        a, b = eta[0] + 1, -eta[1]
        x = np.random.default_rng(11).gamma(a, 1 / b, size=n)
        t = np.stack([np.log(x), x], axis=-1)
        mcse = t.std(axis=0, ddof=1) / math.sqrt(n)
        mu = fn(eta)
        assert np.all(np.abs(t.mean(axis=0) - mu) < 4 * mcse), (eta, t.mean(axis=0), mu, mcse)

    check()


# ---------------------------------------------------------------------------------------------
# Mean-to-natural map (closed forms and the Newton iteration)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [c for c in CASES if c.id not in ("Wishart",)], ids=lambda c: c.id)
def test_natural_from_mean_inverts_mean_parameters(case):
    for eta in case.etas:
        mu = case.mean(eta, **case.fixed)
        mu = [pt.as_tensor_variable(m) for m in mu]
        mu_arg = tuple(mu) if case.multi else mu[0]
        got = _eval(case.family.natural_from_mean(mu_arg, **case.fixed))
        expected = list(eta) if case.multi else [eta]
        if case.id in ("Categorical", "Multinomial"):
            # overcomplete: natural parameters are defined up to an additive constant
            got = [g - g.mean() for g in got]
            expected = [e - e.mean() for e in expected]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-9, err_msg=case.id)
