"""Known-answer tests for the Natural* PyMC distributions in ``pymc_statmech.expfam``.

logp/logcdf/icdf are compared with scipy.stats distributions built from the natural parameter,
draws with scipy (KS and chi-square tests, Monte Carlo means of the sufficient statistics),
support points with the documented formulas, and NUTS runs (``slow``) with known truths.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

import arviz as az
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st
import xarray as xr
from pymc.distributions import transforms as tr
from pymc.logprob.utils import ParameterValueError
from pymc.testing import (
    BaseTestDistributionRandom,
    Bool,
    Domain,
    NatSmall,
    R,
    Rminusbig,
    Rplus,
    Rplusbig,
    assert_support_point_is_expected,
    check_logcdf,
    check_logp,
)
from scipy import special as sp

from pymc_statmech.expfam import distributions as D

LOG_2 = math.log(2.0)
# Counts 0..20 with the edges 0 and +inf: check_logp also asserts logp(-1) = -inf.
Count = Domain([0, 0, 1, 2, 5, 20, np.inf], "int64")


# ---------------------------------------------------------------------------------------------
# scipy references from the natural parameters (conventions of DESIGN.md)
# ---------------------------------------------------------------------------------------------
def _softmax(e):
    e = np.asarray(e, dtype=float)
    z = np.exp(e - e.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _normal_ms(e):
    return -e[..., 0] / (2 * e[..., 1]), np.sqrt(-1 / (2 * e[..., 1]))


def _vm_params(e):
    return np.arctan2(e[..., 1], e[..., 0]), np.hypot(e[..., 0], e[..., 1])


def _ig_params(e):
    return np.sqrt(e[..., 1] / e[..., 0]), -2 * e[..., 1]


def _wishart_params(theta, a):
    return 2 * a + theta.shape[-1] + 1, np.linalg.inv(-2 * theta)


class _Categorical:
    """A categorical reference on {0, ..., K-1} from scipy's rv_discrete."""

    def __init__(self, p):
        self.p = p
        self.dist = st.rv_discrete(values=(np.arange(p.size), p))

    def logpmf(self, x):
        return self.dist.logpmf(x)

    def logcdf(self, x):
        return self.dist.logcdf(x)

    def pmf(self, x):
        return self.dist.pmf(x)

    def cdf(self, x):
        return self.dist.cdf(x)

    def ppf(self, q):
        return self.dist.ppf(q)


REFS: dict[str, Callable[..., Any]] = {
    "Bernoulli": lambda eta: st.bernoulli(sp.expit(eta)),
    "Binomial": lambda eta, n: st.binom(n, sp.expit(eta)),
    "Geometric": lambda eta: st.geom(-np.expm1(eta), loc=-1),
    "NegativeBinomial": lambda eta, r: st.nbinom(r, -np.expm1(eta)),
    "Poisson": lambda eta: st.poisson(np.exp(eta)),
    "Categorical": lambda eta: _Categorical(_softmax(eta)),
    "Multinomial": lambda eta, n: st.multinomial(n, _softmax(eta)),
    "Exponential": lambda eta: st.expon(scale=-1 / eta),
    "Normal": lambda eta: st.norm(*_normal_ms(eta)),
    "LogNormal": lambda eta: st.lognorm(_normal_ms(eta)[1], scale=np.exp(_normal_ms(eta)[0])),
    "Gamma": lambda eta: st.gamma(eta[0] + 1, scale=-1 / eta[1]),
    "InverseGamma": lambda eta: st.invgamma(-eta[0] - 1, scale=-eta[1]),
    "Beta": lambda eta: st.beta(eta[0] + 1, eta[1] + 1),
    "Dirichlet": lambda eta: st.dirichlet(eta + 1),
    "VonMises": lambda eta: st.vonmises(_vm_params(eta)[1], loc=_vm_params(eta)[0]),
    "InverseGaussian": lambda eta: st.invgauss(
        _ig_params(eta)[0] / _ig_params(eta)[1], scale=_ig_params(eta)[1]
    ),
    "MvNormal": lambda h, precision: st.multivariate_normal(
        np.linalg.solve(precision, h), np.linalg.inv(precision)
    ),
    "Wishart": lambda eta_matrix, eta_logdet: st.wishart(*_wishart_params(eta_matrix, eta_logdet)),
}


def _spd(seed, k, scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, k))
    return scale * (a @ a.T / k + np.eye(k))


# ---------------------------------------------------------------------------------------------
# Cases: class, fixed parameters, natural-parameter points, values in the support, values
# outside it, an out-of-domain natural parameter, and the documented support point
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DCase:
    id: str
    cls: type
    points: tuple  # each a dict of the varying (natural) parameters
    values: np.ndarray  # (V, *value core shape)
    outside: tuple  # values outside the support (value core shape)
    bad: dict  # an out-of-domain natural parameter (same keys as a point)
    domain_msg: str  # a fragment of the domain description expected in the error
    point: Callable  # documented support point from one (possibly batched) point
    fixed: dict = field(default_factory=dict)

    @property
    def discrete(self) -> bool:
        return issubclass(self.cls, pm.Discrete)

    def ref(self, point):
        return REFS[self.id](**point, **self.fixed)

    def ref_logp(self, point, value):
        ref = self.ref(point)
        if self.discrete:
            return float(ref.logpmf(value))
        return float(ref.logpdf(value))

    def stacked(self):
        return {k: np.stack([p[k] for p in self.points]) for k in self.points[0]}

    def stacked2(self):
        return {k: np.stack([v, v]) for k, v in self.stacked().items()}


def _eta(*values):
    return tuple({"eta": np.asarray(v, dtype=float)} for v in values)


def _pt_gamma(p):
    e = p["eta"]
    return np.where(e[..., 0] > 0, e[..., 0], e[..., 0] + 1) / -e[..., 1]


def _pt_multinomial(p, n):
    prob = _softmax(p["eta"])
    base = np.floor(n * prob)
    rest = n - base.sum(axis=-1)
    # floor of the mean, the remainder going to the most probable category
    top = np.argmax(prob, axis=-1)[..., None]
    np.put_along_axis(base, top, np.take_along_axis(base, top, -1) + rest[..., None], -1)
    return base.astype("int64")


_P = (_spd(1, 3), _spd(2, 3, 0.5), _spd(3, 3, 2.0))
_V = (_spd(4, 2), _spd(5, 2, 0.3), _spd(6, 2, 3.0))

CASES = [
    DCase(
        "Bernoulli",
        D.NaturalBernoulli,
        _eta(-3.0, 0.0, 0.7, 5.0),
        np.array([0, 1]),
        (-1, 2),
        {"eta": np.array(np.nan)},
        "finite",
        lambda p: (p["eta"] >= 0).astype("int64"),
    ),
    DCase(
        "Binomial",
        D.NaturalBinomial,
        _eta(-1.5, 0.2, 2.0),
        np.array([0, 1, 5, 11, 12]),
        (-1, 13),
        {"eta": np.array(np.inf)},
        "finite",
        lambda p: np.floor(12 * sp.expit(p["eta"])).astype("int64"),
        {"n": 12},
    ),
    DCase(
        "Geometric",
        D.NaturalGeometric,
        _eta(-2.0, -0.3, -0.01),
        np.array([0, 1, 3, 20, 400]),
        (-1, -5),
        {"eta": np.array(0.5)},
        "< 0",
        lambda p: np.floor(np.exp(p["eta"]) / -np.expm1(p["eta"])).astype("int64"),
    ),
    DCase(
        "NegativeBinomial",
        D.NaturalNegativeBinomial,
        _eta(-2.0, -0.5, -0.05),
        np.array([0, 1, 4, 30, 200]),
        (-1, -7),
        {"eta": np.array(0.0)},
        "< 0",
        lambda p: np.floor(2.5 * np.exp(p["eta"]) / -np.expm1(p["eta"])).astype("int64"),
        {"r": 2.5},
    ),
    DCase(
        "Poisson",
        D.NaturalPoisson,
        _eta(-2.0, 0.5, 3.0),
        np.array([0, 1, 4, 30]),
        (-1, -3),
        {"eta": np.array(np.inf)},
        "finite",
        lambda p: np.floor(np.exp(p["eta"])).astype("int64"),
    ),
    DCase(
        "Categorical",
        D.NaturalCategorical,
        _eta([0.0, 1.0, -1.0], [2.0, 2.0, 2.0], [-3.0, 0.5, 1.5]),
        np.array([0, 1, 2]),
        (-1,),  # x = K is checked separately (test_categorical_logp_past_last_category)
        {"eta": np.array([0.0, np.inf, 1.0])},
        "finite",
        lambda p: np.argmax(p["eta"], axis=-1),
    ),
    DCase(
        "Multinomial",
        D.NaturalMultinomial,
        _eta([0.0, 1.0, -1.0], [2.0, 2.0, 2.0], [-3.0, 0.5, 1.5]),
        np.array([[7, 0, 0], [2, 3, 2], [0, 1, 6]]),
        (np.array([2, 2, 2]), np.array([8, -1, 0]), np.array([3, 3, 3])),
        {"eta": np.array([0.0, -np.inf, 1.0])},
        "finite",
        lambda p: _pt_multinomial(p, 7),
        {"n": 7},
    ),
    DCase(
        "Exponential",
        D.NaturalExponential,
        _eta(-0.5, -2.0, -10.0),
        np.array([0.0, 0.3, 2.0, 15.0]),
        (-1.0, -1e-9),
        {"eta": np.array(1.0)},
        "rate < 0",
        lambda p: -1 / p["eta"],
    ),
    DCase(
        "Normal",
        D.NaturalNormal,
        _eta([1.0, -0.5], [-3.0, -2.0], [0.2, -0.05]),
        np.array([-3.0, -0.2, 0.0, 1.5, 7.0]),
        (np.inf, -np.inf),
        {"eta": np.array([1.0, 0.5])},
        "< 0",
        lambda p: _normal_ms(p["eta"])[0],
    ),
    DCase(
        "LogNormal",
        D.NaturalLogNormal,
        _eta([1.0, -0.5], [-3.0, -2.0], [0.2, -0.05]),
        np.array([0.01, 0.5, 1.0, 3.0, 40.0]),
        (0.0, -1.0),
        {"eta": np.array([1.0, 0.0])},
        "< 0",
        lambda p: np.exp(_normal_ms(p["eta"])[0]),
    ),
    DCase(
        "Gamma",
        D.NaturalGamma,
        _eta([1.0, -2.0], [-0.5, -0.3], [4.0, -10.0]),
        np.array([0.01, 0.5, 1.0, 3.0, 40.0]),
        (0.0, -1.0),
        {"eta": np.array([-1.5, -1.0])},
        "alpha - 1 > -1",
        _pt_gamma,
    ),
    DCase(
        "InverseGamma",
        D.NaturalInverseGamma,
        _eta([-3.0, -2.0], [-1.5, -0.5], [-6.0, -4.0]),
        np.array([0.01, 0.5, 1.0, 3.0, 40.0]),
        (0.0, -1.0),
        {"eta": np.array([-0.5, -1.0])},
        "alpha - 1 < -1",
        lambda p: p["eta"][..., 1] / p["eta"][..., 0],
    ),
    DCase(
        "Beta",
        D.NaturalBeta,
        _eta([1.0, 2.0], [-0.5, -0.5], [3.0, 0.2]),
        np.array([1e-3, 0.2, 0.5, 0.77, 0.999]),
        (0.0, 1.0, -0.5, 1.5),
        {"eta": np.array([1.0, -1.0])},
        "beta - 1 > -1",
        lambda p: (p["eta"][..., 0] + 1) / (p["eta"].sum(axis=-1) + 2),
    ),
    DCase(
        "Dirichlet",
        D.NaturalDirichlet,
        _eta([0.0, 1.0, 2.0], [-0.5, -0.5, -0.5], [3.0, 0.2, -0.7]),
        np.array([[0.2, 0.3, 0.5], [0.01, 0.01, 0.98], [0.25, 0.25, 0.5]]),
        (np.array([0.5, 0.6, -0.1]), np.array([0.2, 0.2, 0.2]), np.array([0.0, 0.5, 0.5])),
        {"eta": np.array([0.0, -2.0, 1.0])},
        "alpha - 1 > -1",
        lambda p: (p["eta"] + 1) / (p["eta"] + 1).sum(axis=-1, keepdims=True),
    ),
    DCase(
        "VonMises",
        D.NaturalVonMises,
        _eta([1.0, 0.5], [-2.0, 3.0], [0.05, -0.02]),
        np.array([-3.0, -1.0, 0.0, 0.5, 3.1]),
        (4.0, -3.2),
        {"eta": np.array([np.nan, 1.0])},
        "R^2",
        lambda p: _vm_params(p["eta"])[0],
    ),
    DCase(
        "InverseGaussian",
        D.NaturalInverseGaussian,
        _eta([-0.5, -1.0], [-2.0, -0.5], [-0.1, -3.0]),
        np.array([0.05, 0.5, 1.0, 3.0, 20.0]),
        (0.0, -1.0),
        {"eta": np.array([0.5, -1.0])},
        "< 0",
        lambda p: _ig_params(p["eta"])[0],
    ),
    DCase(
        "MvNormal",
        D.NaturalMvNormal,
        (
            {"h": np.array([0.5, -1.0, 2.0]), "precision": _P[0]},
            {"h": np.array([0.0, 0.3, 0.1]), "precision": _P[1]},
            {"h": np.array([-2.0, 1.0, 0.0]), "precision": _P[2]},
        ),
        np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-3.0, 4.0, 1.0]]),
        (np.array([np.inf, 0.0, 0.0]), np.array([0.0, -np.inf, 1.0])),
        {"h": np.zeros(3), "precision": -_P[0]},
        "positive definite",
        lambda p: np.linalg.solve(p["precision"], p["h"][..., None])[..., 0],
    ),
    DCase(
        "Wishart",
        D.NaturalWishart,
        (
            {"eta_matrix": -0.5 * np.linalg.inv(_V[0]), "eta_logdet": np.array(0.5)},
            {"eta_matrix": -0.5 * np.linalg.inv(_V[1]), "eta_logdet": np.array(2.0)},
            {"eta_matrix": -0.5 * np.linalg.inv(_V[2]), "eta_logdet": np.array(-0.3)},
        ),
        np.array([np.eye(2), [[2.0, 0.5], [0.5, 1.0]], [[0.3, -0.2], [-0.2, 5.0]]]),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), -np.eye(2), np.zeros((2, 2))),
        {"eta_matrix": -0.5 * np.linalg.inv(_V[0]), "eta_logdet": np.array(-1.5)},
        "> -1",
        lambda p: (2 * p["eta_logdet"] + 3)[..., None, None] * np.linalg.inv(-2 * p["eta_matrix"]),
    ),
]
BY_ID = {c.id: c for c in CASES}
CONTINUOUS = [c for c in CASES if not c.discrete]
SCALAR_CONTINUOUS = [c for c in CONTINUOUS if c.values.ndim == 1]


def _ids(cases):
    return [c.id for c in cases]


def _batched_params(cases):
    return [pytest.param(c, id=c.id) for c in cases]


def _symbols(params):
    return {k: pt.tensor(k, dtype="float64", shape=v.shape) for k, v in params.items()}


@cache
def _single_logp_fn(case_id):
    """logp compiled once with symbolic (unbatched) parameters and value."""
    case = BY_ID[case_id]
    syms = _symbols(case.points[0])
    dist = case.cls.dist(**case.fixed, **syms)
    value = pt.tensor("value", dtype=dist.dtype, shape=case.values.shape[1:])
    fn = pytensor.function([*syms.values(), value], pm.logp(dist, value))
    return lambda point, v: fn(*[point[k] for k in syms], np.asarray(v, dtype=dist.dtype))


# ---------------------------------------------------------------------------------------------
# 1. logp against scipy
# ---------------------------------------------------------------------------------------------
def test_check_logp_bernoulli():
    check_logp(
        D.NaturalBernoulli,
        Bool,
        {"eta": R},
        lambda value, eta: st.bernoulli.logpmf(value, sp.expit(eta)),
        decimal=10,
    )


def test_check_logp_binomial():
    check_logp(
        D.NaturalBinomial,
        Count,
        {"n": NatSmall, "eta": R},
        lambda value, n, eta: st.binom.logpmf(value, n, sp.expit(eta)),
        decimal=10,
    )


def test_check_logp_geometric():
    check_logp(
        D.NaturalGeometric,
        Count,
        {"eta": Rminusbig},
        lambda value, eta: st.geom.logpmf(value + 1, -np.expm1(eta)),
        decimal=10,
    )


def test_check_logp_negative_binomial():
    check_logp(
        D.NaturalNegativeBinomial,
        Count,
        {"r": Rplusbig, "eta": Rminusbig},
        lambda value, r, eta: st.nbinom.logpmf(value, r, -np.expm1(eta)),
        decimal=10,
    )


def test_check_logp_poisson():
    check_logp(
        D.NaturalPoisson,
        Count,
        {"eta": R},
        lambda value, eta: st.poisson.logpmf(value, np.exp(eta)),
        decimal=10,
    )


def test_check_logp_exponential():
    check_logp(
        D.NaturalExponential,
        Rplus,
        {"eta": Rminusbig},
        lambda value, eta: st.expon.logpdf(value, scale=-1 / eta),
        decimal=10,
    )


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize("case", _batched_params(CASES))
def test_logp_grid_batched_matches_scipy(case):
    """logp at every value for every eta, with eta on a (2, m) batch, compiled once."""
    params = case.stacked2()
    syms = _symbols(params)
    dist = case.cls.dist(**case.fixed, **syms)
    n_val, m = len(case.values), len(case.points)
    core = case.values.shape[1:]
    value = pt.tensor("value", dtype=dist.dtype, shape=(n_val, 2, m, *core))
    fn = pytensor.function([*syms.values(), value], pm.logp(dist, value))
    values = np.broadcast_to(case.values.reshape(n_val, 1, 1, *core), (n_val, 2, m, *core)).astype(
        dist.dtype
    )
    got = fn(*params.values(), values)
    assert got.shape == (n_val, 2, m)
    expected = np.array([[case.ref_logp(pt_, v) for pt_ in case.points] for v in case.values])
    for b in range(2):
        np.testing.assert_allclose(got[:, b], expected, rtol=1e-10, atol=1e-12, err_msg=case.id)


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_logp_single_matches_scipy(case):
    fn = _single_logp_fn(case.id)
    for point in case.points:
        for v in case.values:
            np.testing.assert_allclose(
                fn(point, v), case.ref_logp(point, v), rtol=1e-10, atol=1e-12, err_msg=case.id
            )


# ---------------------------------------------------------------------------------------------
# logcdf and icdf
# ---------------------------------------------------------------------------------------------
def test_check_logcdf_scalar_families():
    decimal = 10
    check_logcdf(
        D.NaturalBernoulli,
        Bool,
        {"eta": R},
        lambda value, eta: st.bernoulli.logcdf(value, sp.expit(eta)),
        decimal=decimal,
    )
    check_logcdf(
        D.NaturalBinomial,
        Count,
        {"n": NatSmall, "eta": R},
        lambda value, n, eta: st.binom.logcdf(value, n, sp.expit(eta)),
        decimal=decimal,
    )
    check_logcdf(
        D.NaturalPoisson,
        Count,
        {"eta": R},
        lambda value, eta: st.poisson.logcdf(value, np.exp(eta)),
        decimal=decimal,
    )
    check_logcdf(
        D.NaturalNegativeBinomial,
        Count,
        {"r": Rplusbig, "eta": Rminusbig},
        lambda value, r, eta: st.nbinom.logcdf(value, r, -np.expm1(eta)),
        decimal=decimal,
    )
    check_logcdf(
        D.NaturalExponential,
        Rplus,
        {"eta": Rminusbig},
        lambda value, eta: st.expon.logcdf(value, scale=-1 / eta),
        decimal=decimal,
    )


def test_check_logcdf_geometric():
    check_logcdf(
        D.NaturalGeometric,
        Count,
        {"eta": Rminusbig},
        lambda value, eta: st.geom.logcdf(value + 1, -np.expm1(eta)),
        decimal=10,
    )


def test_geometric_logcdf_out_of_domain_eta():
    eta = pt.dscalar("eta")
    fn = pytensor.function([eta], pm.logcdf(D.NaturalGeometric.dist(eta=eta), 2))
    with pytest.raises(ParameterValueError):
        fn(1.0)


CDF_CASES = [pytest.param(c, id=c.id) for c in CASES if "logcdf" in c.cls.__dict__]


def test_cdfs_are_defined_only_where_a_closed_form_exists():
    # PyMC has no logcdf for VonMises or Dirichlet and no icdf for Wald (the inverse Gaussian):
    # the Natural* classes do not pretend to have one.
    for name in ("VonMises", "Dirichlet"):
        assert "logcdf" not in BY_ID[name].cls.__dict__
    for name in ("VonMises", "Dirichlet", "InverseGaussian"):
        assert "icdf" not in BY_ID[name].cls.__dict__


PYMC_ERFC_LOGCDF = ("Normal", "LogNormal", "InverseGaussian")


@pytest.mark.parametrize("case", CDF_CASES)
def test_logcdf_matches_scipy(case):
    """Every class that defines logcdf: pm.logcdf against scipy on the value grid."""
    assert "logcdf" in case.cls.__dict__
    syms = _symbols(case.points[0])
    dist = case.cls.dist(**case.fixed, **syms)
    value = pt.tensor("value", dtype=dist.dtype, shape=case.values.shape[1:])
    fn = pytensor.function([*syms.values(), value], pm.logcdf(dist, value))
    # Normal, LogNormal and InverseGaussian reuse PyMC's erfc/erfcx-based logcdfs, which are
    # themselves only ~1e-7-accurate against scipy: pm.logcdf(pm.Normal.dist(0, 1), -1.5) is
    # -2.70594441209 vs scipy's -2.70594440082 (4e-9), and 4e-7 relative in the upper tail
    # (logcdf ~ -3e-6). The others are exact closed forms (or PyMC's gammainc/betainc ones).
    rtol, atol = (1e-6, 1e-10) if case.id in PYMC_ERFC_LOGCDF else (1e-9, 1e-12)
    for point in case.points:
        ref = case.ref(point)
        for v in case.values:
            np.testing.assert_allclose(
                fn(*point.values(), v), ref.logcdf(v), rtol=rtol, atol=atol, err_msg=case.id
            )


ICDF_CASES = [pytest.param(c, id=c.id) for c in CASES if "icdf" in c.cls.__dict__]


@pytest.mark.parametrize("case", ICDF_CASES)
def test_icdf_matches_scipy(case):
    assert "icdf" in case.cls.__dict__
    syms = _symbols(case.points[0])
    dist = case.cls.dist(**case.fixed, **syms)
    q = pt.dscalar("q")
    fn = pytensor.function([*syms.values(), q], pm.icdf(dist, q))
    for point in case.points:
        ref = case.ref(point)
        for qv in (0.01, 0.3, 0.5, 0.77, 0.999):
            np.testing.assert_allclose(
                fn(*point.values(), qv), ref.ppf(qv), rtol=1e-9, atol=1e-12, err_msg=case.id
            )


# ---------------------------------------------------------------------------------------------
# Values outside the support, out-of-domain parameters, bad shapes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_logp_outside_support_is_minus_inf(case):
    fn = _single_logp_fn(case.id)
    for point in case.points:
        for v in case.outside:
            got = fn(point, v)
            assert not np.isnan(got), (case.id, v)
            assert got == -np.inf, (case.id, v, got)


def test_family_logp_non_integer_counts_are_minus_inf():
    # pm.logp casts values to the variable's int64 dtype, so non-integers are checked on the
    # family's own logp.
    for cls, kwargs in [
        (D.NaturalPoisson, {"eta": 0.3}),
        (D.NaturalGeometric, {"eta": -0.3}),
        (D.NaturalBinomial, {"eta": 0.3, "n": 5}),
        (D.NaturalNegativeBinomial, {"eta": -0.3, "r": 2.0}),
    ]:
        fam = cls.family
        fixed = {k: kwargs[k] for k in fam.fixed}
        got = fam.logp(np.array([1.5, 2.25]), np.array(kwargs["eta"]), **fixed).eval()
        np.testing.assert_array_equal(got, [-np.inf, -np.inf])


def test_categorical_logp_past_last_category():
    got = pm.logp(D.NaturalCategorical.dist(eta=[0.0, 1.0, 2.0]), 3).eval()
    assert got == -np.inf


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_symbolic_out_of_domain_eta_raises_parameter_value_error(case):
    # PyMC compiles check_parameters into an assertion by default: evaluation raises.
    fn = _single_logp_fn(case.id)
    with pytest.raises(ParameterValueError, match=case.cls.family.name):
        fn(case.bad, case.values[0])


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_constant_out_of_domain_eta_raises_value_error(case):
    with pytest.raises(ValueError, match=case.cls.family.name) as info:
        case.cls.dist(**case.fixed, **case.bad)
    msg = str(info.value)
    assert "domain" in msg and case.domain_msg in msg, msg


def test_constant_out_of_domain_fixed_parameters_raise_value_error():
    with pytest.raises(ValueError, match=r"NegativeBinomial.*r > 0"):
        D.NaturalNegativeBinomial.dist(r=-1.0, eta=-0.5)
    with pytest.raises(ValueError, match=r"Binomial.*n in \{0, 1, 2, \.\.\.\}"):
        D.NaturalBinomial.dist(n=-3, eta=0.0)
    with pytest.raises(ValueError, match=r"Multinomial.*n in \{0, 1, 2, \.\.\.\}"):
        D.NaturalMultinomial.dist(n=-3, eta=[0.0, 1.0])


@pytest.mark.parametrize(
    ("cls", "eta"),
    [
        (D.NaturalNormal, [1.0, 2.0, 3.0]),
        (D.NaturalGamma, [1.0, -2.0, 3.0]),
        (D.NaturalBeta, [1.0]),
        (D.NaturalVonMises, np.zeros((4, 3))),
        (D.NaturalInverseGaussian, [-1.0, -1.0, -1.0]),
        (D.NaturalLogNormal, [[1.0, -1.0, 0.0]]),
        (D.NaturalInverseGamma, [-3.0]),
    ],
)
def test_wrong_last_axis_length_raises_value_error(cls, eta):
    with pytest.raises(ValueError, match=rf"{cls.family.name}.*last axis of length 2"):
        cls.dist(eta=eta)


def test_mvnormal_mismatched_h_and_precision_raise_value_error():
    with pytest.raises(ValueError):
        D.NaturalMvNormal.dist(h=np.zeros(2), precision=np.eye(3))


def test_von_mises_at_zero_is_uniform():
    d = D.NaturalVonMises.dist(eta=[0.0, 0.0])
    x = np.array([-3.0, -1.0, 0.0, 2.0, np.pi])
    np.testing.assert_allclose(pm.logp(d, x).eval(), np.full(5, -math.log(2 * math.pi)))
    draws = pm.draw(D.NaturalVonMises.dist(eta=[0.0, 0.0], size=4000), random_seed=3)
    assert st.kstest(draws, st.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# 2. Random draws
# ---------------------------------------------------------------------------------------------
def _draw_native(dist, seed):
    """pm.draw, asserting that nothing compiled in Numba object mode."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draws = pm.draw(dist, random_seed=seed)
    modes = [str(w.message) for w in caught if "object mode" in str(w.message)]
    assert not modes, modes
    return draws


def test_object_mode_detector_detects_object_mode():
    # The guard above must be able to fail: a RandomVariable with a Python rng_fn does.
    from pytensor.tensor.random.op import RandomVariable

    class PythonRV(RandomVariable):
        name = "python_rv"
        signature = "()->()"
        dtype = "floatX"

        @classmethod
        def rng_fn(cls, rng, loc, size):
            return loc + rng.standard_normal(size)

    _, rv = PythonRV()(
        0.0, size=3, rng=pytensor.shared(np.random.default_rng(0)), return_next_rng=True
    )
    with pytest.raises(AssertionError, match="object mode"):
        _draw_native(rv, 1)


def _batched_draws(case, n, seed):
    params = case.stacked()
    m = len(case.points)
    dist = case.cls.dist(**case.fixed, **params, size=(n, m))
    return _draw_native(dist, seed)


@pytest.mark.parametrize("case", SCALAR_CONTINUOUS, ids=_ids(SCALAR_CONTINUOUS))
def test_draws_ks_against_scipy(case):
    n = 3000
    draws = _batched_draws(case, n, seed=20240611)
    assert draws.shape == (n, len(case.points))
    for i, point in enumerate(case.points):
        ref = case.ref(point)
        x = draws[:, i]
        if case.id == "VonMises":
            # compare the angle relative to mu, wrapped to [-pi, pi), with a loc-0 von Mises
            mu, kappa = _vm_params(point["eta"])
            assert np.all(np.abs(x) <= np.pi)
            x = np.mod(x - mu + np.pi, 2 * np.pi) - np.pi
            ref = st.vonmises(kappa)
        pvalue = st.kstest(x, ref.cdf).pvalue
        assert pvalue > 1e-3, (case.id, point, pvalue)


def _chisquare_pvalue(x, ref, lo, hi):
    """Chi-square goodness of fit on {lo..hi}, tails folded in, bins merged to >= 5 expected."""
    ks = np.arange(lo, hi + 1)
    probs = ref.pmf(ks)
    probs[0] += ref.cdf(lo - 1) if lo > 0 else 0.0
    probs[-1] += 1 - ref.cdf(hi)
    counts = np.array([(np.clip(x, lo, hi) == k).sum() for k in ks])
    expected = probs * x.size
    obs_bins, exp_bins, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(counts, expected, strict=True):
        o_acc, e_acc = o_acc + o, e_acc + e
        if e_acc >= 5:
            obs_bins.append(o_acc)
            exp_bins.append(e_acc)
            o_acc = e_acc = 0.0
    obs_bins[-1] += o_acc
    exp_bins[-1] += e_acc
    exp_bins = np.array(exp_bins) * x.size / np.sum(exp_bins)
    assert len(obs_bins) >= 2
    return st.chisquare(obs_bins, exp_bins).pvalue


DISCRETE_SCALAR = [c for c in CASES if c.discrete and c.values.ndim == 1]


@pytest.mark.parametrize("case", DISCRETE_SCALAR, ids=_ids(DISCRETE_SCALAR))
def test_draws_chisquare_and_mean_against_scipy(case):
    n = 5000
    draws = _batched_draws(case, n, seed=7)
    assert draws.dtype == np.int64
    for i, point in enumerate(case.points):
        ref = case.ref(point)
        x = draws[:, i]
        lo, hi = int(ref.ppf(1e-6)), int(ref.ppf(1 - 1e-6))
        pvalue = _chisquare_pvalue(x, ref, max(lo, 0), hi)
        assert pvalue > 1e-3, (case.id, point, pvalue)
        if case.id != "Categorical":
            # exact first moment, within 4 Monte Carlo standard errors
            assert abs(x.mean() - ref.mean()) < 4 * ref.std() / math.sqrt(n)


def _assert_mean_within_mcse(samples, expected, label):
    """Sample mean over axis 0 within 4 Monte Carlo standard errors of ``expected``."""
    n = samples.shape[0]
    mean = samples.mean(axis=0)
    mcse = samples.std(axis=0, ddof=1) / math.sqrt(n)
    ok = np.abs(mean - expected) <= 4 * mcse + 1e-12
    assert np.all(ok), (label, mean, expected, mcse)


def test_draws_multinomial():
    case = BY_ID["Multinomial"]
    n = 4000
    draws = _batched_draws(case, n, seed=1)
    assert draws.dtype == np.int64 and draws.shape == (n, 3, 3)
    assert np.all(draws >= 0) and np.all(draws.sum(axis=-1) == 7)
    for i, point in enumerate(case.points):
        _assert_mean_within_mcse(draws[:, i], 7 * _softmax(point["eta"]), "Multinomial")


def test_draws_dirichlet():
    case = BY_ID["Dirichlet"]
    n = 4000
    draws = _batched_draws(case, n, seed=2)
    assert draws.shape == (n, 3, 3)
    np.testing.assert_allclose(draws.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(draws > 0)
    for i, point in enumerate(case.points):
        alpha = point["eta"] + 1
        # T(x) = log x, E[T] = digamma(alpha) - digamma(alpha_0); and E[x] = alpha / alpha_0
        _assert_mean_within_mcse(
            np.log(draws[:, i]), sp.digamma(alpha) - sp.digamma(alpha.sum()), "Dirichlet log"
        )
        _assert_mean_within_mcse(draws[:, i], alpha / alpha.sum(), "Dirichlet")


def test_draws_mvnormal():
    case = BY_ID["MvNormal"]
    n = 4000
    draws = _batched_draws(case, n, seed=3)
    assert draws.shape == (n, 3, 3)
    for i, point in enumerate(case.points):
        cov = np.linalg.inv(point["precision"])
        mean = cov @ point["h"]
        x = draws[:, i]
        _assert_mean_within_mcse(x, mean, "MvNormal x")
        xx = (x[:, :, None] * x[:, None, :]).reshape(n, -1)
        _assert_mean_within_mcse(xx, (cov + np.outer(mean, mean)).ravel(), "MvNormal xx^T")


def test_draws_wishart_batched():
    case = BY_ID["Wishart"]
    n = 4000
    draws = _batched_draws(case, n, seed=4)
    assert draws.shape == (n, 3, 2, 2)
    for i, point in enumerate(case.points):
        nu, v = _wishart_params(point["eta_matrix"], point["eta_logdet"])
        _assert_mean_within_mcse(draws[:, i].reshape(n, -1), (nu * v).ravel(), "Wishart")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_draws_wishart(index):
    point = BY_ID["Wishart"].points[index]
    n = 4000
    draws = _draw_native(D.NaturalWishart.dist(**point, size=n), seed=5 + index)
    assert draws.shape == (n, 2, 2)
    np.testing.assert_allclose(draws, np.swapaxes(draws, -1, -2), rtol=1e-12, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(draws) > 0)
    nu, v = _wishart_params(point["eta_matrix"], point["eta_logdet"])
    k = v.shape[-1]
    # T(X) = (X, log det X): E[X] = nu V, E[log det X] = sum_i digamma((nu - i)/2) + k log 2
    # + log det V.
    _assert_mean_within_mcse(draws.reshape(n, -1), (nu * v).ravel(), "Wishart X")
    e_logdet = sum(sp.digamma((nu - i) / 2) for i in range(k)) + k * LOG_2 + np.linalg.slogdet(v)[1]
    _assert_mean_within_mcse(np.linalg.slogdet(draws)[1], e_logdet, "Wishart log det")
    # and against scipy's own sampler for the variance of the diagonal
    ref = st.wishart(nu, v).rvs(size=n, random_state=np.random.default_rng(9))
    assert st.ks_2samp(draws[:, 0, 0], ref[:, 0, 0]).pvalue > 1e-3
    assert st.ks_2samp(draws[:, 1, 1], ref[:, 1, 1]).pvalue > 1e-3


def test_categorical_draws_object_mode_free_and_in_range():
    draws = _draw_native(D.NaturalCategorical.dist(eta=[0.0, 1.0, -1.0], size=100), 3)
    assert draws.dtype == np.int64 and set(np.unique(draws)) <= {0, 1, 2}


class TestNaturalPoissonRandom(BaseTestDistributionRandom):
    pymc_dist = D.NaturalPoisson
    pymc_dist_params: ClassVar[dict] = {"eta": 1.3}
    expected_rv_op_params: ClassVar[dict] = {"eta": 1.3}
    checks_to_run: ClassVar[list] = ["check_pymc_params_match_rv_op", "check_rv_size"]


class TestNaturalGammaRandom(BaseTestDistributionRandom):
    pymc_dist = D.NaturalGamma
    pymc_dist_params: ClassVar[dict] = {"eta": np.array([1.0, -2.0])}
    expected_rv_op_params: ClassVar[dict] = {"eta": np.array([1.0, -2.0])}
    checks_to_run: ClassVar[list] = ["check_pymc_params_match_rv_op", "check_rv_size"]


class TestNaturalDirichletRandom(BaseTestDistributionRandom):
    pymc_dist = D.NaturalDirichlet
    pymc_dist_params: ClassVar[dict] = {"eta": np.array([0.0, 1.0, 2.0])}
    expected_rv_op_params: ClassVar[dict] = {"eta": np.array([0.0, 1.0, 2.0])}
    sizes_to_check: ClassVar[list] = [None, 1, (4, 5)]
    sizes_expected: ClassVar[list] = [(3,), (1, 3), (4, 5, 3)]
    checks_to_run: ClassVar[list] = ["check_pymc_params_match_rv_op", "check_rv_size"]


class TestNaturalBinomialRandom(BaseTestDistributionRandom):
    pymc_dist = D.NaturalBinomial
    pymc_dist_params: ClassVar[dict] = {"n": 7, "eta": -0.4}
    expected_rv_op_params: ClassVar[dict] = {"n": 7, "eta": -0.4}
    checks_to_run: ClassVar[list] = ["check_pymc_params_match_rv_op", "check_rv_size"]


# ---------------------------------------------------------------------------------------------
# 3. Support points
# ---------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_support_point_scalar_params(case):
    point = case.points[0]
    with pm.Model() as model:
        case.cls("x", **case.fixed, **point)
    assert_support_point_is_expected(model, case.point(point))


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize("case", _batched_params(CASES))
def test_support_point_batched_params_and_size(case):
    params = case.stacked()
    m = len(case.points)
    expected = case.point(params)
    core = np.shape(expected)[1:]
    with pm.Model() as model:
        case.cls("x", **case.fixed, **params, size=(2, m))
    assert_support_point_is_expected(model, np.broadcast_to(expected, (2, m, *core)))


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_support_point_scalar_params_with_size(case):
    point = case.points[1]
    expected = np.asarray(case.point(point))
    with pm.Model() as model:
        case.cls("x", **case.fixed, **point, size=4)
    assert_support_point_is_expected(model, np.broadcast_to(expected, (4, *expected.shape)))


# ---------------------------------------------------------------------------------------------
# 4. Default transforms
# ---------------------------------------------------------------------------------------------
EXPECTED_TRANSFORM = {
    "Exponential": tr.LogTransform,
    "Gamma": tr.LogTransform,
    "LogNormal": tr.LogTransform,
    "InverseGamma": tr.LogTransform,
    "InverseGaussian": tr.LogTransform,
    "Beta": tr.LogOddsTransform,
    "Dirichlet": tr.SimplexTransform,
    "VonMises": tr.CircularTransform,
    "Wishart": tr.CholeskyCovTransform,
    "Normal": None,
    "MvNormal": None,
    "Bernoulli": None,
    "Binomial": None,
    "Geometric": None,
    "NegativeBinomial": None,
    "Poisson": None,
    "Categorical": None,
    "Multinomial": None,
}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_default_transform(case):
    with pm.Model() as model:
        x = case.cls("x", **case.fixed, **case.points[0])
    transform = model.rvs_to_transforms[x]
    expected = EXPECTED_TRANSFORM[case.id]
    if expected is None:
        assert transform is None
    else:
        assert isinstance(transform, expected), transform


def test_wishart_transform_round_trip():
    # The Cholesky transform must map the support point back to itself and give a finite
    # log-Jacobian.
    point = BY_ID["Wishart"].points[0]
    with pm.Model() as model:
        D.NaturalWishart("x", **point)
    ip = model.initial_point()
    value = model.rvs_to_values[model["x"]]
    transform = model.rvs_to_transforms[model["x"]]
    back = transform.backward(pt.as_tensor(ip[value.name]), *model["x"].owner.inputs).eval()
    nu, v = _wishart_params(point["eta_matrix"], point["eta_logdet"])
    np.testing.assert_allclose(back, nu * v, rtol=1e-10)
    assert np.isfinite(model.compile_logp()(ip))


# ---------------------------------------------------------------------------------------------
# 11. NUTS with known truths (slow)
# ---------------------------------------------------------------------------------------------
def _sample(model, seed):
    with model:
        return pm.sample(
            draws=1000,
            tune=1000,
            chains=2,
            cores=1,
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )


def _assert_rhat(idata, names, false_alarm=1e-3):
    """Rank-normalised split R-hat (bulk and folded) within what chance allows for converged chains.

    With m split chains whose means each rest on n effective draws, converged chains give
    R-hat^2 - 1 <~ chi2_{m-1} / ((m - 1) n): the variance between the chain means over the
    variance within them (Vehtari et al. 2021, Bayesian Analysis 16(2), sec. 4). The bulk R-hat is
    paired with the bulk ESS and the folded (scale) R-hat with the folded ESS; the bound is taken
    at a family-wise false-alarm rate over every checked component and both kinds. Fewer than 100
    effective draws per split chain fail by themselves. The fixed 1.01 rule of thumb is not a
    test tolerance: over 20 components of 2 x 1000 draws a folded R-hat of 1.014 (Wishart shape,
    folded ESS per split chain ~300) happened by chance on one machine and not on another.
    """
    m = 2 * idata.posterior.sizes["chain"]
    pairs = {"bulk": ("z_scale", "bulk"), "folded": ("folded", "folded")}
    k = 2 * sum(int(idata.posterior[name].isel(chain=0, draw=0).size) for name in names)
    quantile = st.chi2.ppf(1 - false_alarm / k, m - 1) / (m - 1)
    excess = {}
    for kind, (rhat_method, ess_method) in pairs.items():
        rhat = az.rhat(idata, var_names=names, method=rhat_method)
        ess = az.ess(idata, var_names=names, method=ess_method)
        for name in names:
            n_per_chain = ess[name].values / m
            assert np.min(n_per_chain) >= 100, (name, kind, n_per_chain)
            crit = np.sqrt(1 + quantile / n_per_chain)
            excess[name, kind] = float(np.max(rhat[name].values - crit))
    assert max(excess.values()) < 0, sorted(excess.items(), key=lambda kv: -kv[1])


def _assert_mean_within_4_mcse(samples, truth, label):
    """samples: (chain, draw, ...) posterior draws; truth broadcastable to the event shape."""
    da = xr.DataArray(samples, dims=("chain", "draw", *[f"d{i}" for i in range(samples.ndim - 2)]))
    mcse = np.asarray(az.mcse(da).values)
    mean = samples.mean(axis=(0, 1))
    err = np.abs(mean - truth)
    assert np.all(err < 4 * mcse), (label, mean, truth, mcse)


def _assert_truth_covered(samples, truth, label):
    """A known truth within 5 posterior standard deviations of the posterior mean."""
    mean = samples.mean(axis=(0, 1))
    sd = samples.std(axis=(0, 1))
    assert np.all(np.abs(mean - truth) < 5 * sd), (label, mean, truth, sd)


@pytest.mark.slow
def test_nuts_continuous_natural_latents():
    """Every continuous Natural* family but von Mises (see below) as a latent variable of one
    model, with known E[x]."""
    ig_mu, ig_lam = 1.5, 4.0
    p2 = np.array([[2.0, 0.6], [0.6, 1.0]])
    v2 = np.array([[1.0, 0.3], [0.3, 0.5]])
    m_ln, s_ln = _normal_ms(np.array([0.5, -2.0]))
    with pm.Model() as model:
        D.NaturalExponential("exp", eta=-2.0)
        D.NaturalNormal("norm", eta=[1.0, -0.5])
        D.NaturalLogNormal("lognorm", eta=[0.5, -2.0])
        D.NaturalGamma("gamma", eta=[2.0, -1.5])
        D.NaturalInverseGamma("invgamma", eta=[-5.0, -3.0])
        D.NaturalBeta("beta", eta=[1.0, 2.0])
        D.NaturalDirichlet("dirichlet", eta=[1.0, 2.0, 0.5])
        D.NaturalInverseGaussian("invgauss", eta=[-ig_lam / (2 * ig_mu**2), -ig_lam / 2])
        D.NaturalMvNormal("mvnormal", h=p2 @ np.array([1.0, -1.0]), precision=p2)
        D.NaturalWishart("wishart", eta_matrix=-0.5 * np.linalg.inv(v2), eta_logdet=1.5)
    idata = _sample(model, seed=123)
    names = [rv.name for rv in model.free_RVs]
    _assert_rhat(idata, names)

    truths = {  # E[x] in closed form
        "exp": 0.5,
        "norm": 1.0,
        "lognorm": math.exp(m_ln + s_ln**2 / 2),
        "gamma": 3.0 / 1.5,  # alpha = 3, beta = 1.5
        "invgamma": 3.0 / 3.0,  # alpha = 4, beta = 3: beta / (alpha - 1)
        "beta": 2.0 / 5.0,
        "dirichlet": np.array([2.0, 3.0, 1.5]) / 6.5,
        "invgauss": ig_mu,
        "mvnormal": np.array([1.0, -1.0]),
        "wishart": (2 * 1.5 + 2 + 1) * v2,  # nu = 2 a + k + 1
    }
    post = idata.posterior
    for name, truth in truths.items():
        _assert_mean_within_4_mcse(post[name].values, truth, name)


@pytest.mark.slow
@pytest.mark.xfail(
    reason=(
        "NaturalVonMises as a NUTS latent: its default circular transform (as for pm.VonMises) "
        "makes the unconstrained density periodic, hence improper. With eta = 2 (cos .5, "
        "sin .5) next to three N(0, 1) latents, seed 123, 1000 + 1000 draws x 2 chains: step "
        "sizes 8e-3 and 3e-3, 50 divergences, rhat of the normals 1.11 (pm.VonMises(0.5, 2): "
        "139 divergences, rhat 2.0; 4 of 5 seeds diverge for either)"
    ),
    raises=AssertionError,
    strict=True,
)
def test_nuts_von_mises_latent():
    vm_mu, vm_kappa = 0.5, 2.0
    with pm.Model() as model:
        D.NaturalVonMises("vonmises", eta=vm_kappa * np.array([math.cos(vm_mu), math.sin(vm_mu)]))
        pm.Normal("z", 0.0, 1.0, shape=3)
    idata = _sample(model, seed=123)
    vm = idata.posterior["vonmises"].values
    assert np.all(np.abs(vm) <= np.pi)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    _assert_rhat(idata, ["vonmises", "z"])
    a1 = sp.i1e(vm_kappa) / sp.i0e(vm_kappa)  # E[cos(x - mu)]
    _assert_mean_within_4_mcse(np.cos(vm), a1 * math.cos(vm_mu), "E[cos x]")
    _assert_mean_within_4_mcse(np.sin(vm), a1 * math.sin(vm_mu), "E[sin x]")
    _assert_mean_within_4_mcse(idata.posterior["z"].values, 0.0, "z")


@pytest.mark.slow
def test_nuts_natural_parameters_as_latents_with_observed_data():
    """Natural parameters of every family as latent variables, observed data from a truth."""
    rng = np.random.default_rng(2024)
    n = 300
    truth = {
        "eta_poisson": math.log(3.0),
        "eta_binomial": sp.logit(0.3),
        "eta_bernoulli": sp.logit(0.7),
        "eta_geometric": math.log(1 - 0.25),
        "eta_negbin": math.log(1 - 0.4),
        "eta_categorical": np.array([0.5, -1.0]),  # logits relative to category 0
        "eta_multinomial": np.array([1.0, 0.2]),
        "rate_exp": 2.0,
        "eta_normal": np.array([1.0 / 0.5, -1 / (2 * 0.5)]),  # mu = 1, sigma^2 = 0.5
        "mu_lognormal": 0.3,
        "alpha_gamma": 3.0,
        "beta_gamma": 2.0,
        "alpha_invgamma": 4.0,
        "alpha_beta": np.array([2.0, 5.0]),
        "alpha_dirichlet": np.array([2.0, 3.0, 1.5]),
        "eta_vonmises": 2.0 * np.array([math.cos(0.5), math.sin(0.5)]),
        "lam_invgauss": 4.0,
        "mean_mvnormal": np.array([1.0, -1.0]),
        "a_wishart": 1.5,
    }
    cat_p = _softmax(np.r_[0.0, truth["eta_categorical"]])
    mult_p = _softmax(np.r_[0.0, truth["eta_multinomial"]])
    p2 = np.array([[2.0, 0.6], [0.6, 1.0]])
    v2 = np.array([[1.0, 0.3], [0.3, 0.5]])
    data = {
        "poisson": rng.poisson(3.0, n),
        "binomial": rng.binomial(10, 0.3, n),
        "bernoulli": rng.binomial(1, 0.7, n),
        "geometric": rng.geometric(0.25, n) - 1,
        "negbin": rng.negative_binomial(3.0, 0.4, n),
        "categorical": rng.choice(3, size=n, p=cat_p),
        "multinomial": rng.multinomial(20, mult_p, size=n // 3),
        "exp": rng.exponential(0.5, n),
        "normal": rng.normal(1.0, math.sqrt(0.5), n),
        "lognormal": rng.lognormal(0.3, 0.7, n),
        "gamma": rng.gamma(3.0, 1 / 2.0, n),
        "invgamma": 2.0 / rng.gamma(4.0, 1.0, n),
        "beta": rng.beta(2.0, 5.0, n),
        "dirichlet": rng.dirichlet([2.0, 3.0, 1.5], n // 3),
        "vonmises": rng.vonmises(0.5, 2.0, n),
        "invgauss": rng.wald(1.5, 4.0, n),
        "mvnormal": rng.multivariate_normal([1.0, -1.0], np.linalg.inv(p2), n // 3),
        "wishart": st.wishart(2 * 1.5 + 3, v2).rvs(size=n // 10, random_state=rng),
    }
    with pm.Model() as model:
        eta_poisson = pm.Normal("eta_poisson", 0.0, 3.0)
        D.NaturalPoisson("y_poisson", eta=eta_poisson, observed=data["poisson"])
        eta_binomial = pm.Normal("eta_binomial", 0.0, 3.0)
        D.NaturalBinomial("y_binomial", n=10, eta=eta_binomial, observed=data["binomial"])
        eta_bernoulli = pm.Normal("eta_bernoulli", 0.0, 3.0)
        D.NaturalBernoulli("y_bernoulli", eta=eta_bernoulli, observed=data["bernoulli"])
        # eta < 0 for the geometric and negative binomial: eta = -exp(z)
        eta_geometric = pm.Deterministic(
            "eta_geometric", -pt.exp(pm.Normal("z_geometric", 0.0, 2.0))
        )
        D.NaturalGeometric("y_geometric", eta=eta_geometric, observed=data["geometric"])
        eta_negbin = pm.Deterministic("eta_negbin", -pt.exp(pm.Normal("z_negbin", 0.0, 2.0)))
        D.NaturalNegativeBinomial("y_negbin", r=3.0, eta=eta_negbin, observed=data["negbin"])
        # overcomplete logits: pin category 0 at 0 for identifiability
        eta_cat = pm.Normal("eta_categorical", 0.0, 3.0, shape=2)
        D.NaturalCategorical(
            "y_categorical", eta=pt.concatenate([[0.0], eta_cat]), observed=data["categorical"]
        )
        eta_mult = pm.Normal("eta_multinomial", 0.0, 3.0, shape=2)
        D.NaturalMultinomial(
            "y_multinomial",
            n=20,
            eta=pt.concatenate([[0.0], eta_mult]),
            observed=data["multinomial"],
        )
        rate_exp = pm.LogNormal("rate_exp", 0.0, 2.0)
        D.NaturalExponential("y_exp", eta=-rate_exp, observed=data["exp"])
        e1 = pm.Normal("e1_normal", 0.0, 5.0)
        e2 = -pm.LogNormal("m2_normal", 0.0, 2.0)
        eta_normal = pm.Deterministic("eta_normal", pt.stack([e1, e2]))
        D.NaturalNormal("y_normal", eta=eta_normal, observed=data["normal"])
        mu_ln = pm.Normal("mu_lognormal", 0.0, 3.0)
        D.NaturalLogNormal(
            "y_lognormal", eta=pt.stack([mu_ln / 0.49, -1 / (2 * 0.49)]), observed=data["lognormal"]
        )
        a_g = pm.LogNormal("alpha_gamma", 0.0, 2.0)
        b_g = pm.LogNormal("beta_gamma", 0.0, 2.0)
        D.NaturalGamma("y_gamma", eta=pt.stack([a_g - 1, -b_g]), observed=data["gamma"])
        a_ig = pm.LogNormal("alpha_invgamma", 0.0, 2.0)
        D.NaturalInverseGamma(
            "y_invgamma", eta=pt.stack([-a_ig - 1, -2.0]), observed=data["invgamma"]
        )
        ab = pm.LogNormal("alpha_beta", 0.0, 2.0, shape=2)
        D.NaturalBeta("y_beta", eta=ab - 1, observed=data["beta"])
        ad = pm.LogNormal("alpha_dirichlet", 0.0, 2.0, shape=3)
        D.NaturalDirichlet("y_dirichlet", eta=ad - 1, observed=data["dirichlet"])
        eta_vm = pm.Normal("eta_vonmises", 0.0, 3.0, shape=2)
        D.NaturalVonMises("y_vonmises", eta=eta_vm, observed=data["vonmises"])
        lam = pm.LogNormal("lam_invgauss", 0.0, 2.0)
        D.NaturalInverseGaussian(
            "y_invgauss", eta=pt.stack([-lam / (2 * 1.5**2), -lam / 2]), observed=data["invgauss"]
        )
        mean_mvn = pm.Normal("mean_mvnormal", 0.0, 5.0, shape=2)
        D.NaturalMvNormal(
            "y_mvnormal", h=pt.dot(p2, mean_mvn), precision=p2, observed=data["mvnormal"]
        )
        a_w = pm.Deterministic("a_wishart", pm.LogNormal("ap1_wishart", 0.0, 2.0) - 1)
        D.NaturalWishart(
            "y_wishart",
            eta_matrix=-0.5 * np.linalg.inv(v2),
            eta_logdet=a_w,
            observed=data["wishart"],
        )
    idata = _sample(model, seed=321)
    _assert_rhat(idata, [rv.name for rv in model.free_RVs])
    post = idata.posterior
    for name, value in truth.items():
        _assert_truth_covered(post[name].values, value, name)
