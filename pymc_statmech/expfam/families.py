r"""The canonical exponential families, one declaration each.

Each declaration states only what cannot be derived (see :mod:`pymc_statmech.expfam.family`):
statistics :math:`T`, log-partition :math:`A`, log base measure :math:`\log h`, natural domain,
support, :math:`E[\log h]` and, where closed, the mean-to-natural map. The natural parameter
order follows the project's public contract (``DESIGN.md``).

References
----------
.. [1] Nielsen, F. and Garcia, V. (2009). Statistical exponential families: a digest with flash
   cards. arXiv:0911.4863.
.. [2] Wainwright, M. J. and Jordan, M. I. (2008). Graphical Models, Exponential Families, and
   Variational Inference, ch. 3.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.random.basic import (
    beta as beta_rv,
)
from pytensor.tensor.random.basic import (
    binomial as binomial_rv,
)
from pytensor.tensor.random.basic import (
    categorical as categorical_rv,
)
from pytensor.tensor.random.basic import (
    dirichlet as dirichlet_rv,
)
from pytensor.tensor.random.basic import (
    gamma as gamma_rv,
)
from pytensor.tensor.random.basic import (
    multinomial as multinomial_rv,
)
from pytensor.tensor.random.basic import (
    negative_binomial as negative_binomial_rv,
)
from pytensor.tensor.random.basic import (
    normal as normal_rv,
)
from pytensor.tensor.random.basic import (
    poisson as poisson_rv,
)
from pytensor.tensor.random.basic import (
    uniform as uniform_rv,
)
from pytensor.tensor.random.basic import (
    vonmises as vonmises_rv,
)
from pytensor.tensor.random.basic import (
    wald as wald_rv,
)

from pymc_statmech.expfam.family import Family, NumericalLimitError, count_series_expectation

__all__ = [
    "bernoulli",
    "beta",
    "binomial",
    "categorical",
    "dirichlet",
    "exponential",
    "gamma",
    "geometric",
    "geometric_trials",
    "half_normal",
    "inverse_gamma",
    "inverse_gaussian",
    "laplace",
    "lognormal",
    "multinomial",
    "mvnormal",
    "negative_binomial",
    "normal",
    "pareto",
    "poisson",
    "von_mises",
    "weibull",
    "wishart",
]

LOG_2PI = float(np.log(2 * np.pi))
# Newton starts for shape parameters stay this far inside the bound eta > -1.
_INSIDE = -1 + 1e-3


def _rv(op, rng, size, *params):
    return op(*params, size=size, rng=rng, return_next_rng=True)


#: numpy's Poisson sampler counts in int64 and refuses rates above this.
_POISSON_DRAW_MAX_RATE = 9.2e18


def _poisson_draw_rate(eta):
    rate = pt.exp(eta)
    message = (
        f"Poisson: draws need rate = exp(eta) <= {_POISSON_DRAW_MAX_RATE:.3g} (eta <= "
        f"{np.log(_POISSON_DRAW_MAX_RATE):.2f}): the counts would not fit in int64."
    )
    return CheckAndRaise(NumericalLimitError, message)(rate, pt.all(rate <= _POISSON_DRAW_MAX_RATE))


def _nonneg_int(x):
    return (x >= 0) & pt.eq(x, pt.floor(x))


# ---------------------------------------------------------------------------------------------
# Discrete, scalar natural parameter, T(x) = x
# ---------------------------------------------------------------------------------------------
bernoulli = Family(
    name="Bernoulli",
    notation=("logit p", "x", "log(1 + e^eta)"),
    statistics=lambda x: x,
    log_partition=lambda eta: pt.softplus(eta),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(pt.isfinite(eta), "eta = logit(p) finite")],
    in_support=lambda x: pt.eq(x, 0) | pt.eq(x, 1),
    support="x in {0, 1}",
    discrete=True,
    expected_log_base_measure=lambda eta: pt.zeros_like(eta),
    # softplus(-|eta|) + |eta| sigmoid(-|eta|): the Legendre form cancels to 0 for |eta| > 37.
    entropy_closed=lambda eta: pt.softplus(-pt.abs(eta)) + pt.abs(eta) * pt.sigmoid(-pt.abs(eta)),
    natural_from_mean_closed=lambda mu: pt.special.logit(mu),
    sampler=lambda rng, size, eta: _rv(
        binomial_rv, rng, size, pt.ones_like(eta, dtype="int64"), pt.sigmoid(eta)
    ),
    point=lambda eta: pt.cast(eta >= 0, "int64"),
    builtin=lambda eta: pm.Bernoulli.dist(logit_p=eta),
    reference="p(x) = exp(eta x - log(1 + e^eta))",
)


def _binomial_log_h(x, n):
    return pt.gammaln(n + 1) - pt.gammaln(x + 1) - pt.gammaln(n - x + 1)


binomial = Family(
    name="Binomial",
    notation=("logit p", "x", "n log(1 + e^eta)"),
    statistics=lambda x, n: x,
    log_partition=lambda eta, n: n * pt.softplus(eta),
    log_base_measure=lambda x, n: _binomial_log_h(pt.clip(x, 0, n), n),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta, n: [
        (pt.isfinite(eta), "eta = logit(p) finite"),
        (_nonneg_int(n), "n in {0, 1, 2, ...}"),
    ],
    in_support=lambda x, n: _nonneg_int(x) & (x <= n),
    support="x in {0, 1, ..., n}",
    discrete=True,
    fixed=("n",),
    support_upper=lambda n: pt.as_tensor_variable(n, dtype="float64"),
    log_base_measure_step=lambda k, n: pt.log(n - k) - pt.log1p(k),
    expected_log_base_measure=lambda eta, n: count_series_expectation(
        binomial,
        lambda k: _binomial_log_h(k, n),
        lambda k: pt.log(pt.as_tensor_variable(n)[..., None] - k) - pt.log1p(k),
        eta,
        n=n,
    ),
    natural_from_mean_closed=lambda mu, n: pt.special.logit(mu / n),
    sampler=lambda rng, size, eta, n: _rv(binomial_rv, rng, size, n, pt.sigmoid(eta)),
    point=lambda eta, n: pt.cast(pt.floor(n * pt.sigmoid(eta)), "int64"),
    builtin=lambda eta, n: pm.Binomial.dist(n=n, logit_p=eta),
)

poisson = Family(
    name="Poisson",
    notation=("log rate", "x", "e^eta"),
    statistics=lambda x: x,
    log_partition=lambda eta: pt.exp(eta),
    log_base_measure=lambda x: -pt.gammaln(pt.maximum(x, 0) + 1),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(pt.isfinite(eta), "eta = log(rate) finite")],
    in_support=_nonneg_int,
    support="x in {0, 1, 2, ...}",
    discrete=True,
    log_base_measure_step=lambda k: -pt.log1p(k),
    expected_log_base_measure=lambda eta: (
        -count_series_expectation(poisson, lambda k: pt.gammaln(k + 1), pt.log1p, eta)
    ),
    natural_from_mean_closed=lambda mu: pt.log(mu),
    sampler=lambda rng, size, eta: _rv(poisson_rv, rng, size, _poisson_draw_rate(eta)),
    point=lambda eta: pt.cast(pt.floor(pt.exp(eta)), "int64"),
    builtin=lambda eta: pm.Poisson.dist(mu=pt.exp(eta)),
)

geometric = Family(
    name="Geometric",
    notation=("log(1 - p) < 0", "x", "-log(1 - e^eta)"),
    statistics=lambda x: x,
    log_partition=lambda eta: -pt.log1mexp(eta),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(eta < 0, "eta = log(1 - p) < 0")],
    in_support=_nonneg_int,
    support="x in {0, 1, 2, ...} (failures before the first success)",
    discrete=True,
    natural_upper=0.0,
    expected_log_base_measure=lambda eta: pt.zeros_like(eta),
    natural_from_mean_closed=lambda mu: pt.log(mu / (1 + mu)),
    # Failures before the first success by inversion: floor(log U / log(1 - p)).
    sampler=lambda rng, size, eta: _geometric_draw(rng, size, eta),
    # P(X <= x) = 1 - (1 - p)^(floor(x) + 1).
    logcdf=lambda x, eta: pt.switch(x < 0, -np.inf, pt.log1mexp((pt.floor(x) + 1) * eta)),
    icdf=lambda q, eta: pt.cast(pt.maximum(pt.ceil(pt.log1p(-q) / eta - 1), 0), "int64"),
    point=lambda eta: pt.cast(pt.floor(pt.exp(eta - pt.log1mexp(eta))), "int64"),
    builtin=None,
)


def _geometric_draw(rng, size, eta):
    next_rng, u = _rv(uniform_rv, rng, size, 0.0, 1.0)
    return next_rng, pt.cast(pt.floor(pt.log1p(-u) / eta), "int64")


def _negbin_log_h(x, r):
    return pt.gammaln(x + r) - pt.gammaln(r) - pt.gammaln(x + 1)


negative_binomial = Family(
    name="NegativeBinomial",
    notation=("log(1 - p) < 0", "x", "-r log(1 - e^eta)"),
    statistics=lambda x, r: x,
    log_partition=lambda eta, r: -r * pt.log1mexp(eta),
    log_base_measure=lambda x, r: _negbin_log_h(pt.maximum(x, 0), r),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta, r: [
        (eta < 0, "eta = log(1 - p) < 0"),
        (r > 0, "r > 0"),
    ],
    in_support=lambda x, r: _nonneg_int(x),
    support="x in {0, 1, 2, ...} (failures before the r-th success)",
    discrete=True,
    fixed=("r",),
    natural_upper=0.0,
    log_base_measure_step=lambda k, r: pt.log(k + r) - pt.log1p(k),
    expected_log_base_measure=lambda eta, r: count_series_expectation(
        negative_binomial,
        lambda k: _negbin_log_h(k, r),
        lambda k: pt.log(k + pt.as_tensor_variable(r)[..., None]) - pt.log1p(k),
        eta,
        r=r,
    ),
    natural_from_mean_closed=lambda mu, r: pt.log(mu / (r + mu)),
    sampler=lambda rng, size, eta, r: _rv(negative_binomial_rv, rng, size, r, -pt.expm1(eta)),
    point=lambda eta, r: pt.cast(pt.floor(r * pt.exp(eta - pt.log1mexp(eta))), "int64"),
    builtin=lambda eta, r: pm.NegativeBinomial.dist(n=r, p=-pt.expm1(eta)),
)


# ---------------------------------------------------------------------------------------------
# Discrete, vector natural parameter
# ---------------------------------------------------------------------------------------------
def _take_last(eta, x):
    # <eta, onehot(x)> = eta[x]; x >= K is off the support (in_support checks x >= 0).
    k = eta.shape[-1]
    idx = pt.clip(pt.cast(x, "int64"), 0, k - 1)
    eta_b, idx_b = pt.broadcast_arrays(eta, pt.shape_padright(idx, 1))
    picked = pt.take_along_axis(eta_b, idx_b[..., :1], axis=-1)[..., 0]
    return pt.switch(pt.lt(x, k), picked, -np.inf)


def _softmax_entropy(eta):
    # -sum p log p from log_softmax: A(eta) - <eta, mu> cancels terms of size max(eta) (the
    # logits are defined up to a constant; 1e300 is as valid as 0)
    log_p = pt.special.log_softmax(eta, axis=-1)
    p = pt.exp(log_p)
    return -pt.sum(pt.switch(p > 0, p * log_p, 0.0), axis=-1)


def _softmax_kl(eta_p, eta_q):
    log_p = pt.special.log_softmax(eta_p, axis=-1)
    log_q = pt.special.log_softmax(eta_q, axis=-1)
    p = pt.exp(log_p)
    return pt.sum(pt.switch(p > 0, p * (log_p - log_q), 0.0), axis=-1)


categorical = Family(
    name="Categorical",
    notation=("K logits", "onehot(x)", "logsumexp(eta)"),
    statistics=None,
    dot_statistics=lambda eta, x: _take_last(eta, x),
    log_partition=lambda eta: pt.logsumexp(eta, axis=-1),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    natural_domain=lambda eta: [(pt.all(pt.isfinite(eta), axis=-1), "eta: K finite logits")],
    in_support=_nonneg_int,
    support="x in {0, 1, ..., K - 1}",
    discrete=True,
    expected_log_base_measure=lambda eta: pt.zeros(eta.shape[:-1]),
    natural_from_mean_closed=lambda mu: pt.log(mu),
    sampler=lambda rng, size, eta: _rv(categorical_rv, rng, size, pt.special.softmax(eta, axis=-1)),
    point=lambda eta: pt.argmax(eta, axis=-1),
    entropy_closed=_softmax_entropy,
    kl_closed=_softmax_kl,
    builtin=lambda eta: pm.Categorical.dist(logit_p=eta),
)


def _multinomial_log_h(x, n):
    return pt.gammaln(n + 1) - pt.sum(pt.gammaln(x + 1), axis=-1)


def _multinomial_expected_log_h(eta, n):
    # Each count is marginally Binomial(n, p_i) with logit(p_i) = eta_i - logsumexp(eta_{-i}).
    n = pt.as_tensor_variable(n)
    log_p = pt.special.log_softmax(eta, axis=-1)
    logit = log_p - pt.log1mexp(pt.minimum(log_p, -1e-300))
    n_b = pt.shape_padright(n, 1)
    e_log_fact = count_series_expectation(
        binomial, lambda k: pt.gammaln(k + 1), pt.log1p, logit, n=n_b
    )
    return pt.gammaln(n + 1) - pt.sum(e_log_fact, axis=-1)


multinomial = Family(
    name="Multinomial",
    notation=("K logits", "x", "n logsumexp(eta)"),
    statistics=lambda x, n: x,
    log_partition=lambda eta, n: n * pt.logsumexp(eta, axis=-1),
    log_base_measure=lambda x, n: _multinomial_log_h(pt.maximum(x, 0), n),
    natural_ndims=(1,),
    value_ndim=1,
    natural_domain=lambda eta, n: [
        (pt.all(pt.isfinite(eta), axis=-1), "eta: K finite logits"),
        (_nonneg_int(n), "n in {0, 1, 2, ...}"),
    ],
    in_support=lambda x, n: pt.all(_nonneg_int(x), axis=-1) & pt.eq(pt.sum(x, axis=-1), n),
    support="x in {0, 1, ...}^K with sum(x) = n",
    discrete=True,
    fixed=("n",),
    expected_log_base_measure=_multinomial_expected_log_h,
    natural_from_mean_closed=lambda mu, n: pt.log(mu / pt.shape_padright(n, 1)),
    sampler=lambda rng, size, eta, n: _rv(
        multinomial_rv, rng, size, n, pt.special.softmax(eta, axis=-1)
    ),
    point=lambda eta, n: _multinomial_point(eta, n),
    entropy_closed=lambda eta, n: n * _softmax_entropy(eta) - _multinomial_expected_log_h(eta, n),
    kl_closed=lambda eta_p, eta_q, n: n * _softmax_kl(eta_p, eta_q),
    builtin=None,
)


def _multinomial_point(eta, n):
    # Floor of the mean, with the remainder added to the most probable category.
    p = pt.special.softmax(eta, axis=-1)
    n = pt.shape_padright(pt.as_tensor_variable(n), 1)
    base = pt.floor(n * p)
    rest = n[..., 0] - pt.sum(base, axis=-1)
    top = pt.eq(pt.arange(eta.shape[-1]), pt.shape_padright(pt.argmax(p, axis=-1), 1))
    return pt.cast(base + top * pt.shape_padright(rest, 1), "int64")


# ---------------------------------------------------------------------------------------------
# Continuous, scalar natural parameter
# ---------------------------------------------------------------------------------------------
exponential = Family(
    name="Exponential",
    notation=("-rate < 0", "x", "-log(-eta)"),
    statistics=lambda x: x,
    log_partition=lambda eta: -pt.log(-eta),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(eta < 0, "eta = -rate < 0")],
    in_support=lambda x: x >= 0,
    support="x >= 0",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta),
    natural_from_mean_closed=lambda mu: -1.0 / mu,
    sampler=lambda rng, size, eta: _exponential_draw(rng, size, eta),
    point=lambda eta: -1.0 / eta,
    builtin=lambda eta: pm.Exponential.dist(lam=-eta),
)


def _exponential_draw(rng, size, eta):
    next_rng, u = _rv(uniform_rv, rng, size, 0.0, 1.0)
    return next_rng, pt.log1p(-u) / eta


# ---------------------------------------------------------------------------------------------
# Continuous, vector natural parameter
# ---------------------------------------------------------------------------------------------
def _normal_A(eta):
    e1, e2 = eta[..., 0], eta[..., 1]
    return -(e1**2) / (4 * e2) - 0.5 * pt.log(-2 * e2)


def _normal_moments(eta):
    e1, e2 = eta[..., 0], eta[..., 1]
    return -e1 / (2 * e2), pt.sqrt(-1 / (2 * e2))


def _normal_entropy(eta):
    # 0.5 log(2 pi e sigma^2) with sigma^2 = -1 / (2 eta[1]): free of the mu^2 / sigma^2 terms.
    return 0.5 * (1 + LOG_2PI) - 0.5 * pt.log(-2 * eta[..., 1])


def _normal_kl(eta_p, eta_q):
    (mp, sp_), (mq, sq) = _normal_moments(eta_p), _normal_moments(eta_q)
    return pt.log(sq / sp_) + (sp_**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5


def _gaussian_natural(mu):
    m, m2 = mu[..., 0], mu[..., 1]
    var = m2 - m**2
    return pt.stack([m / var, -1 / (2 * var)], axis=-1)


def _squares(x):
    return [x, x**2]


normal = Family(
    name="Normal",
    notation=("(mu/s2, -1/(2 s2))", "(x, x^2)", "-eta1^2/(4 eta2) - log(-2 eta2)/2"),
    statistics=_squares,
    log_partition=_normal_A,
    log_base_measure=lambda x: pt.full_like(x, -0.5 * LOG_2PI, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [
        (pt.isfinite(eta[..., 0]), "eta[0] = mu / sigma^2 finite"),
        (eta[..., 1] < 0, "eta[1] = -1 / (2 sigma^2) < 0"),
    ],
    in_support=lambda x: pt.isfinite(x),
    support="x real",
    expected_log_base_measure=lambda eta: pt.full_like(eta[..., 0], -0.5 * LOG_2PI),
    entropy_closed=_normal_entropy,
    kl_closed=_normal_kl,
    natural_from_mean_closed=_gaussian_natural,
    sampler=lambda rng, size, eta: _rv(normal_rv, rng, size, *_normal_moments(eta)),
    point=lambda eta: _normal_moments(eta)[0],
    builtin=lambda eta: pm.Normal.dist(*_normal_moments(eta)),
)


def _lognormal_draw(rng, size, eta):
    next_rng, z = _rv(normal_rv, rng, size, *_normal_moments(eta))
    return next_rng, pt.exp(z)


def _safe_log(x):
    return pt.log(pt.switch(x > 0, x, 1.0))


lognormal = Family(
    name="LogNormal",
    notation=("(mu/s2, -1/(2 s2))", "(log x, log^2 x)", "-eta1^2/(4 eta2) - log(-2 eta2)/2"),
    statistics=lambda x: _squares(_safe_log(x)),
    log_partition=_normal_A,
    log_base_measure=lambda x: -0.5 * LOG_2PI - _safe_log(x),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=normal.natural_domain,
    in_support=lambda x: x > 0,
    support="x > 0",
    expected_log_base_measure=lambda eta: -0.5 * LOG_2PI - _normal_moments(eta)[0],
    # The entropy of exp(Z) is H(Z) + E[Z]; the KL is that of the Normals on log x.
    entropy_closed=lambda eta: _normal_entropy(eta) + _normal_moments(eta)[0],
    kl_closed=_normal_kl,
    natural_from_mean_closed=_gaussian_natural,
    sampler=_lognormal_draw,
    point=lambda eta: pt.exp(_normal_moments(eta)[0]),
    builtin=lambda eta: pm.LogNormal.dist(*_normal_moments(eta)),
)


def _gamma_params(eta):
    return eta[..., 0] + 1, -eta[..., 1]


def _gamma_draw(rng, size, eta):
    alpha, beta = _gamma_params(eta)
    return gamma_rv(alpha, scale=1.0 / beta, size=size, rng=rng, return_next_rng=True)


gamma = Family(
    name="Gamma",
    notation=("(alpha - 1, -beta)", "(log x, x)", "lgamma(eta1 + 1) - (eta1 + 1) log(-eta2)"),
    statistics=lambda x: [_safe_log(x), x],
    log_partition=lambda eta: (
        pt.gammaln(eta[..., 0] + 1) - (eta[..., 0] + 1) * pt.log(-eta[..., 1])
    ),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [
        (eta[..., 0] > -1, "eta[0] = alpha - 1 > -1"),
        (eta[..., 1] < 0, "eta[1] = -beta < 0"),
    ],
    in_support=lambda x: x > 0,
    support="x > 0",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[..., 0]),
    entropy_closed=lambda eta: _gamma_entropy(eta),
    # Minka's start for the shape: alpha ~ 0.5 / (log E[x] - E[log x]).
    initial_natural=lambda mu: _gamma_start(mu),
    sampler=_gamma_draw,
    # The mode (alpha - 1) / beta when alpha > 1, else the mean alpha / beta.
    point=lambda eta: pt.switch(eta[..., 0] > 0, eta[..., 0], eta[..., 0] + 1) / -eta[..., 1],
    builtin=lambda eta: pm.Gamma.dist(*_gamma_params(eta)),
)


def _stirling_remainders(a):
    r"""The remainders :math:`R_1(a) = \log\Gamma(a) - [(a - \tfrac12)\log a - a +
    \tfrac12\log 2\pi]` and :math:`R_2(a) = \psi(a) - \log a + 1/(2a)`, to float64.

    Directly for :math:`a < 10` (no cancellation there); for :math:`a \ge 10` by their
    Bernoulli-number series, whose truncation after seven terms is below :math:`10^{-17}`
    (Abramowitz and Stegun 6.1.41 and 6.3.18).
    """
    small = a < 10
    a_small = pt.switch(small, a, 10.0)
    a_large = pt.switch(small, 10.0, a)
    r1_small = pt.gammaln(a_small) - ((a_small - 0.5) * pt.log(a_small) - a_small + 0.5 * LOG_2PI)
    r2_small = pt.psi(a_small) - pt.log(a_small) + 0.5 / a_small
    inv2 = 1 / a_large**2
    r1_coefs = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156]
    r2_coefs = [-1 / 12, 1 / 120, -1 / 252, 1 / 240, -1 / 132, 691 / 32760, -1 / 12]
    r1_large = sum(c * inv2**k for k, c in enumerate(r1_coefs)) / a_large
    r2_large = sum(c * inv2 ** (k + 1) for k, c in enumerate(r2_coefs))
    return pt.switch(small, r1_small, r1_large), pt.switch(small, r2_small, r2_large)


def _gamma_entropy(eta):
    # lgamma(a) + (1 - a) psi(a) + a with the O(a log a) parts cancelled analytically.
    a, b = _gamma_params(eta)
    r1, r2 = _stirling_remainders(a)
    return r1 + (1 - a) * r2 + 0.5 * pt.log(2 * np.pi * a) - (1 - a) / (2 * a) - pt.log(b)


def _inverse_gamma_entropy(eta):
    # a + log b + lgamma(a) - (1 + a) psi(a), rewritten the same way.
    a, b = _inverse_gamma_params(eta)
    r1, r2 = _stirling_remainders(a)
    return (
        r1
        - (1 + a) * r2
        + 0.5 * pt.log(2 * np.pi)
        - 1.5 * pt.log(a)
        + (1 + a) / (2 * a)
        + pt.log(b)
    )


def _dirichlet_entropy_from_alpha(alpha):
    r"""Dirichlet entropy :math:`\log B(\alpha) + (\alpha_0 - K)\psi(\alpha_0)
    - \sum_j (\alpha_j - 1)\psi(\alpha_j)` without cancellation.

    Each term :math:`\log\Gamma(a) - (a - c)\psi(a)` is written with the remainders
    :math:`R_1, R_2`; its :math:`-a` parts cancel exactly between the components and
    :math:`\alpha_0 = \sum_j \alpha_j`, so only terms of order :math:`\log a` are summed.
    """
    k = pt.cast(alpha.shape[-1], "float64")

    def term(a, c):
        r1, r2 = _stirling_remainders(a)
        return r1 - (a - c) * r2 + (c - 0.5) * pt.log(a) + 0.5 * LOG_2PI + 0.5 - c / (2 * a)

    total = pt.sum(alpha, axis=-1)
    return pt.sum(term(alpha, 1.0), axis=-1) - term(total, k)


def _gamma_start(mu):
    gap = pt.maximum(pt.log(mu[..., 1]) - mu[..., 0], 1e-12)
    alpha = 0.5 / gap
    return pt.stack([alpha - 1, -alpha / mu[..., 1]], axis=-1)


def _inverse_gamma_params(eta):
    return -eta[..., 0] - 1, -eta[..., 1]


def _inverse_gamma_draw(rng, size, eta):
    alpha, beta = _inverse_gamma_params(eta)
    next_rng, g = gamma_rv(alpha, scale=1.0, size=size, rng=rng, return_next_rng=True)
    return next_rng, beta / g


inverse_gamma = Family(
    name="InverseGamma",
    notation=("(-alpha - 1, -beta)", "(log x, 1/x)", "lgamma(-eta1 - 1) + (eta1 + 1) log(-eta2)"),
    statistics=lambda x: [_safe_log(x), 1 / pt.switch(x > 0, x, 1.0)],
    log_partition=lambda eta: (
        pt.gammaln(-eta[..., 0] - 1) - (-eta[..., 0] - 1) * pt.log(-eta[..., 1])
    ),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [
        (eta[..., 0] < -1, "eta[0] = -alpha - 1 < -1"),
        (eta[..., 1] < 0, "eta[1] = -beta < 0"),
    ],
    in_support=lambda x: x > 0,
    support="x > 0",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[..., 0]),
    entropy_closed=lambda eta: _inverse_gamma_entropy(eta),
    initial_natural=lambda mu: _inverse_gamma_start(mu),
    sampler=_inverse_gamma_draw,
    point=lambda eta: -eta[..., 1] / (-eta[..., 0]),  # the mode beta / (alpha + 1)
    builtin=lambda eta: pm.InverseGamma.dist(*_inverse_gamma_params(eta)),
)


def _inverse_gamma_start(mu):
    # 1/x is Gamma(alpha, beta): reuse the gamma start on (E[log 1/x], E[1/x]).
    g = _gamma_start(pt.stack([-mu[..., 0], mu[..., 1]], axis=-1))
    return pt.stack([-(g[..., 0] + 1) - 1, g[..., 1]], axis=-1)


def _beta_A(eta):
    a, b = eta[..., 0] + 1, eta[..., 1] + 1
    return pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)


def _beta_draw(rng, size, eta):
    return _rv(beta_rv, rng, size, eta[..., 0] + 1, eta[..., 1] + 1)


def _beta_start(mu):
    # Moment-free start from E[log x], E[log(1-x)]: a / (a + b) ~ exp(E log x), a + b ~ 2.
    m = pt.exp(mu[..., 0]) / (pt.exp(mu[..., 0]) + pt.exp(mu[..., 1]))
    return pt.maximum(pt.stack([2 * m - 1, 2 * (1 - m) - 1], axis=-1), _INSIDE)


beta = Family(
    name="Beta",
    notation=("(alpha - 1, beta - 1)", "(log x, log(1 - x))", "log B(eta1 + 1, eta2 + 1)"),
    statistics=lambda x: [_safe_log(x), _safe_log(1 - x)],
    log_partition=_beta_A,
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [
        (eta[..., 0] > -1, "eta[0] = alpha - 1 > -1"),
        (eta[..., 1] > -1, "eta[1] = beta - 1 > -1"),
    ],
    in_support=lambda x: (x > 0) & (x < 1),
    support="0 < x < 1",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[..., 0]),
    entropy_closed=lambda eta: _dirichlet_entropy_from_alpha(eta + 1),
    initial_natural=_beta_start,
    sampler=_beta_draw,
    point=lambda eta: (eta[..., 0] + 1) / (eta[..., 0] + eta[..., 1] + 2),
    builtin=lambda eta: pm.Beta.dist(eta[..., 0] + 1, eta[..., 1] + 1),
)


def _dirichlet_A(eta):
    alpha = eta + 1
    return pt.sum(pt.gammaln(alpha), axis=-1) - pt.gammaln(pt.sum(alpha, axis=-1))


dirichlet = Family(
    name="Dirichlet",
    notation=("alpha - 1", "log x", "sum lgamma(alpha_i) - lgamma(sum alpha_i)"),
    statistics=lambda x: _safe_log(x),
    log_partition=_dirichlet_A,
    log_base_measure=lambda x: pt.zeros_like(x[..., 0], dtype="float64"),
    natural_ndims=(1,),
    value_ndim=1,
    natural_domain=lambda eta: [(pt.all(eta > -1, axis=-1), "eta = alpha - 1 > -1")],
    in_support=lambda x: (
        pt.all(x > 0, axis=-1)
        & (pt.abs(pt.sum(x, axis=-1) - 1) < (1e-5 if x.dtype == "float32" else 1e-9))
    ),
    support="x in the open simplex",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[..., 0]),
    entropy_closed=lambda eta: _dirichlet_entropy_from_alpha(eta + 1),
    initial_natural=lambda mu: _dirichlet_start(mu),
    sampler=lambda rng, size, eta: _rv(dirichlet_rv, rng, size, eta + 1),
    point=lambda eta: (eta + 1) / pt.sum(eta + 1, axis=-1, keepdims=True),
    builtin=lambda eta: pm.Dirichlet.dist(eta + 1),
)


def _dirichlet_start(mu):
    # Proportions from exp(E[log x]); total concentration K (every alpha_i near 1).
    share = pt.special.softmax(mu, axis=-1)
    return pt.maximum(share * pt.cast(mu.shape[-1], "float64") - 1, _INSIDE)


# ---------------------------------------------------------------------------------------------
# Von Mises and inverse Gaussian
# ---------------------------------------------------------------------------------------------
_VM_SMALL = 1e-8


def _von_mises_kappa(eta):
    # |eta| without overflowing eta^2 (a natural parameter may be as large as 1e308); the
    # scale carries no gradient, so d kappa / d eta = eta / kappa exactly
    top = pt.max(pt.abs(eta), axis=-1)
    scale = disconnected_grad(pt.switch(top > 0, top, 1.0))
    return scale * pt.sqrt(pt.sum((eta / scale[..., None]) ** 2, axis=-1))


#: Past this kappa the Bessel functions are taken from their asymptotic series (scipy's ive
#: loses digits in i0e - i1e from here and returns NaN past 2^30).
_VM_ASYMPTOTIC = 1e3


def _log_i0e(kappa):
    """log(I0(k) e^{-k}); Abramowitz and Stegun 9.7.1 past k = 1e3 (exact to 3e-16 there). Each
    branch sees only arguments in its range, so the unused one has a finite gradient."""
    near = pt.log(pt.ive(0, pt.minimum(kappa, _VM_ASYMPTOTIC)))
    k = pt.maximum(kappa, _VM_ASYMPTOTIC)
    u = 1 / k  # powers of 1/k, not of k: k^4 overflows (and its gradient with it) past 1e77
    series = 1 + u / 8 + 9 * u**2 / 128 + 225 * u**3 / 3072 + 11025 * u**4 / 98304
    far = -0.5 * pt.log(2 * np.pi * k) + pt.log(series)
    return pt.switch(kappa < _VM_ASYMPTOTIC, near, far)


def _von_mises_A(eta):
    # A = log(2 pi I0(kappa)) with kappa = |eta|; an even series in kappa near 0 keeps every
    # derivative finite at eta = 0 (the uniform distribution). Each branch sees only inputs
    # in its range, so the unused one's gradient stays finite.
    s = pt.sum(eta**2, axis=-1)
    small = s < _VM_SMALL
    kappa = _von_mises_kappa(pt.switch(small[..., None], 1.0, eta))
    s = pt.switch(small, s, 0.0)
    series = s / 4 - s**2 / 64
    return LOG_2PI + pt.switch(small, series, _log_i0e(kappa) + kappa)


def _von_mises_entropy(eta):
    # H = log(2 pi I0(k)) - k A1(k) = log 2 pi + log i0e(k) + k (1 - A1(k)): the last term
    # tends to 1/2, while A - <eta, mu> subtracts two numbers of size k. Past k = 1e3 it is
    # taken from the asymptotic series of A1 (A and S 9.7.1), exact to 2e-15 there.
    kappa = _von_mises_kappa(eta)
    near = pt.minimum(kappa, _VM_ASYMPTOTIC)
    i0e, i1e = pt.ive(0, near), pt.ive(1, near)
    u = 1 / pt.maximum(kappa, _VM_ASYMPTOTIC)
    series = 0.5 + u / 8 + u**2 / 8 + 25 * u**3 / 128 + 13 * u**4 / 32
    tail = pt.switch(kappa < _VM_ASYMPTOTIC, near * (i0e - i1e) / i0e, series)
    return LOG_2PI + _log_i0e(kappa) + tail


def _von_mises_params(eta):
    return pt.arctan2(eta[..., 1], eta[..., 0]), _von_mises_kappa(eta)


von_mises = Family(
    name="VonMises",
    notation=("kappa (cos mu, sin mu)", "(cos x, sin x)", "log(2 pi I0(|eta|))"),
    statistics=lambda x: [pt.cos(x), pt.sin(x)],
    log_partition=_von_mises_A,
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [(pt.all(pt.isfinite(eta), axis=-1), "eta in R^2")],
    in_support=lambda x: (x >= -np.pi) & (x <= np.pi),
    support="-pi <= x <= pi",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[..., 0]),
    initial_natural=lambda mu: mu * 2.0,
    entropy_closed=_von_mises_entropy,
    sampler=lambda rng, size, eta: _rv(vonmises_rv, rng, size, *_von_mises_params(eta)),
    point=lambda eta: _von_mises_params(eta)[0],
    builtin=lambda eta: pm.VonMises.dist(*_von_mises_params(eta)),
)


def exp_e1(z):
    r""":math:`e^z E_1(z)` for :math:`z > 0`, to float64 accuracy, from PyTensor ops.

    Power series :math:`E_1(z) = -\gamma - \log z - \sum_{k\ge1} (-z)^k / (k\,k!)` for
    :math:`z < 1` (30 terms), and the Euler continued fraction
    :math:`e^z E_1(z) = 1/(z + 1 - 1/(z + 3 - 4/(z + 5 - \dots)))` evaluated backwards
    (80 levels) for :math:`z \ge 1` (Abramowitz and Stegun 5.1.11 and 5.1.22).
    """
    small = z < 1
    zs = pt.switch(small, z, 0.5)
    term = -zs
    total = term
    for k in range(2, 31):
        term = term * (-zs) * (k - 1) / (k * k)
        total = total + term
    series = pt.exp(zs) * (-np.euler_gamma - pt.log(zs) - total)
    zl = pt.switch(small, 1.0, z)
    cf = zl + (2 * 80 + 1)
    for k in range(80, 0, -1):
        cf = zl + (2 * k - 1) - k**2 / cf
    return pt.switch(small, series, 1 / cf)


def _inverse_gaussian_params(eta):
    lam = -2 * eta[..., 1]
    mu = pt.sqrt(eta[..., 1] / eta[..., 0])
    return mu, lam


def _inverse_gaussian_expected_log_x(eta):
    mu, lam = _inverse_gaussian_params(eta)
    return pt.log(mu) - exp_e1(2 * lam / mu)


inverse_gaussian = Family(
    name="InverseGaussian",
    notation=("(-lam/(2 mu^2), -lam/2)", "(x, 1/x)", "-2 sqrt(eta1 eta2) - log(-2 eta2)/2"),
    statistics=lambda x: [x, 1 / pt.switch(x > 0, x, 1.0)],
    log_partition=lambda eta: (
        -2 * pt.sqrt(eta[..., 0] * eta[..., 1]) - 0.5 * pt.log(-2 * eta[..., 1])
    ),
    log_base_measure=lambda x: -0.5 * LOG_2PI - 1.5 * _safe_log(x),
    natural_ndims=(1,),
    value_ndim=0,
    component_sizes=(2,),
    natural_domain=lambda eta: [
        (eta[..., 0] < 0, "eta[0] = -lambda / (2 mu^2) < 0"),
        (eta[..., 1] < 0, "eta[1] = -lambda / 2 < 0"),
    ],
    in_support=lambda x: x > 0,
    support="x > 0",
    expected_log_base_measure=lambda eta: (
        -0.5 * LOG_2PI - 1.5 * _inverse_gaussian_expected_log_x(eta)
    ),
    # E[x] = mu and E[1/x] = 1/mu + 1/lambda.
    natural_from_mean_closed=lambda m: _inverse_gaussian_natural(m),
    sampler=lambda rng, size, eta: _rv(wald_rv, rng, size, *_inverse_gaussian_params(eta)),
    point=lambda eta: _inverse_gaussian_params(eta)[0],
    builtin=lambda eta: pm.Wald.dist(*_inverse_gaussian_params(eta)),
)


def _inverse_gaussian_natural(m):
    mu = m[..., 0]
    lam = 1 / (m[..., 1] - 1 / mu)
    return pt.stack([-lam / (2 * mu**2), -lam / 2], axis=-1)


# ---------------------------------------------------------------------------------------------
# Matrix families: MvNormal (information form) and Wishart
# ---------------------------------------------------------------------------------------------
def _logdet_pd(m):
    chol = pt.linalg.cholesky(m, lower=True, on_error="nan")
    return 2 * pt.sum(pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def _is_pd(m):
    chol = pt.linalg.cholesky(m, lower=True, on_error="nan")
    return pt.all(pt.isfinite(chol), axis=(-2, -1))


def _is_spd(m):
    """Symmetric (to 1e-10 of its largest entry) and positive definite."""
    scale = pt.max(pt.abs(m), axis=(-2, -1), keepdims=True)
    symmetric = pt.all(pt.abs(m - pt.swapaxes(m, -1, -2)) <= 1e-10 * scale, axis=(-2, -1))
    return symmetric & _is_pd(m)


def _spd_solve(m, b):
    """Solve m x = b for symmetric positive definite m, b a batch of vectors."""
    return pt.linalg.solve(m, b[..., None], assume_a="pos", b_ndim=2)[..., 0]


def _sym(m):
    return 0.5 * (m + pt.swapaxes(m, -1, -2))


def _mvnormal_A(eta):
    h, j = eta
    precision = -2 * _sym(j)
    mean = _spd_solve(precision, h)
    return 0.5 * pt.sum(h * mean, axis=-1) - 0.5 * _logdet_pd(precision)


def _mvnormal_mean(eta):
    h, j = eta
    return _spd_solve(-2 * _sym(j), h)


def _mvnormal_draw(rng, size, eta):
    h, j = eta
    precision = -2 * _sym(j)
    chol = pt.linalg.cholesky(precision, lower=True)
    k = h.shape[-1]
    next_rng, z = normal_rv(
        0.0, 1.0, size=pt.concatenate([size, k[None]]), rng=rng, return_next_rng=True
    )
    # x = mu + L^{-T} z has covariance (L L^T)^{-1} = precision^{-1}.
    offset = pt.linalg.solve_triangular(
        pt.swapaxes(chol, -1, -2), z[..., None], lower=False, b_ndim=2
    )[..., 0]
    return next_rng, _mvnormal_mean(eta) + offset


def _mvnormal_entropy(eta):
    precision = -2 * _sym(eta[1])
    k = pt.cast(eta[0].shape[-1], "float64")
    return 0.5 * k * (1 + LOG_2PI) - 0.5 * _logdet_pd(precision)


def _mvnormal_kl(eta_p, eta_q):
    # 0.5 [tr(L_q S_p) + d' L_q d - k + log det L_p - log det L_q], with d = mu_q - mu_p.
    prec_p, prec_q = -2 * _sym(eta_p[1]), -2 * _sym(eta_q[1])
    k = pt.cast(eta_p[0].shape[-1], "float64")
    cov_p = pt.linalg.inv(prec_p)
    d = _mvnormal_mean(eta_q) - _mvnormal_mean(eta_p)
    quad = pt.sum(d * (prec_q @ d[..., None])[..., 0], axis=-1)
    trace = pt.sum(prec_q * pt.swapaxes(cov_p, -1, -2), axis=(-2, -1))
    return 0.5 * (trace + quad - k + _logdet_pd(prec_p) - _logdet_pd(prec_q))


def _mvnormal_natural(mu):
    m, second = mu
    cov = second - m[..., :, None] * m[..., None, :]
    precision = pt.linalg.inv(cov)
    return (
        _spd_solve(cov, m),
        -0.5 * precision,
    )


mvnormal = Family(
    name="MvNormal",
    notation=("(h, -P/2), h = P mu", "(x, x x^T)", "h^T P^-1 h / 2 - log det P / 2"),
    statistics=lambda x: (x, x[..., :, None] * x[..., None, :]),
    log_partition=_mvnormal_A,
    log_base_measure=lambda x: pt.full_like(
        x[..., 0], -0.5 * LOG_2PI * pt.cast(x.shape[-1], "float64"), dtype="float64"
    ),
    natural_ndims=(1, 2),
    value_ndim=1,
    component_sizes=(None, None),
    natural_domain=lambda eta: [
        (pt.all(pt.isfinite(eta[0]), axis=-1), "h finite"),
        (_is_pd(-2 * _sym(eta[1])), "precision = -2 eta[1] symmetric positive definite"),
    ],
    in_support=lambda x: pt.all(pt.isfinite(x), axis=-1),
    support="x in R^k",
    expected_log_base_measure=lambda eta: pt.full_like(
        eta[0][..., 0], -0.5 * LOG_2PI * pt.cast(eta[0].shape[-1], "float64")
    ),
    entropy_closed=_mvnormal_entropy,
    kl_closed=_mvnormal_kl,
    natural_from_mean_closed=_mvnormal_natural,
    sampler=_mvnormal_draw,
    point=_mvnormal_mean,
    builtin=None,
)


def _multigammaln(a, k):
    r"""Batched log multivariate gamma, summed over a trailing axis.

    :math:`\log\Gamma_k(a) = \frac{k(k-1)}{4}\log\pi + \sum_{j=1}^k \log\Gamma(a + (1-j)/2)`.
    """
    j = pt.arange(k, dtype="float64")
    k = pt.cast(k, "float64")
    return k * (k - 1) / 4 * np.log(np.pi) + pt.sum(pt.gammaln(a[..., None] - j / 2), axis=-1)


def _wishart_nu(eta):
    theta, a = eta
    return 2 * a + pt.cast(theta.shape[-1], "float64") + 1


def _wishart_A(eta):
    theta, _ = eta
    nu = _wishart_nu(eta)
    k = theta.shape[-1]
    return -0.5 * nu * _logdet_pd(-_sym(theta)) + _multigammaln(0.5 * nu, k)


def _wishart_draw(rng, size, eta):
    # Bartlett decomposition: X = L B B^T L^T with B lower triangular, B_ii^2 ~ chi2(nu - i),
    # B_ij ~ N(0, 1) below the diagonal, and L the Cholesky factor of V = (-2 theta)^{-1}.
    theta, _ = eta
    nu = _wishart_nu(eta)
    k = theta.shape[-1]
    scale = pt.linalg.inv(-2 * _sym(theta))
    chol = pt.linalg.cholesky(scale, lower=True)
    batch_k = pt.concatenate([size, k[None]])
    shape = pt.shape_padright(nu, 1) - pt.arange(k)
    next_rng, g = gamma_rv(shape / 2, scale=2.0, size=batch_k, rng=rng, return_next_rng=True)
    next_rng, z = normal_rv(
        0.0, 1.0, size=pt.concatenate([batch_k, k[None]]), rng=next_rng, return_next_rng=True
    )
    bartlett = pt.tril(z, -1) + pt.eye(k) * pt.shape_padright(pt.sqrt(g), 1)
    lb = chol @ bartlett
    return next_rng, lb @ pt.swapaxes(lb, -1, -2)


wishart = Family(
    name="Wishart",
    notation=(
        "(-V^-1/2, (nu - k - 1)/2)",
        "(X, log det X)",
        "-nu/2 log det(-Theta) + log Gamma_k(nu/2)",
    ),
    statistics=lambda x: (x, _logdet_pd(x)),
    log_partition=_wishart_A,
    log_base_measure=lambda x: pt.zeros_like(x[..., 0, 0], dtype="float64"),
    natural_ndims=(2, 0),
    value_ndim=2,
    component_sizes=(None, None),
    natural_domain=lambda eta: [
        (_is_pd(-_sym(eta[0])), "eta[0] = -V^{-1} / 2 negative definite"),
        (eta[1] > -1, "eta[1] = (nu - k - 1) / 2 > -1"),
    ],
    in_support=_is_spd,
    support="x symmetric positive definite",
    expected_log_base_measure=lambda eta: pt.zeros_like(eta[1]),
    natural_from_mean_closed=None,
    sampler=_wishart_draw,
    point=lambda eta: pt.shape_padright(_wishart_nu(eta), 2) * pt.linalg.inv(-2 * _sym(eta[0])),
    builtin=None,
)


# ---------------------------------------------------------------------------------------------
# Families that PyMC built-ins take: used to give pm.HalfNormal, pm.Geometric, pm.Weibull,
# pm.Pareto and pm.Laplace their exponential-family form (no Natural* class of their own).
# ---------------------------------------------------------------------------------------------
half_normal = Family(
    name="HalfNormal",
    statistics=lambda x: x**2,
    log_partition=lambda eta: -0.5 * pt.log(-2 * eta),
    log_base_measure=lambda x: pt.full_like(x, 0.5 * np.log(2 / np.pi), dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(eta < 0, "eta = -1 / (2 sigma^2) < 0")],
    in_support=lambda x: x >= 0,
    support="x >= 0",
    expected_log_base_measure=lambda eta: pt.full_like(eta, 0.5 * np.log(2 / np.pi)),
    natural_from_mean_closed=lambda mu: -1 / (2 * mu),
    point=lambda eta: pt.sqrt(-1 / (2 * eta)),
    builtin=lambda eta: pm.HalfNormal.dist(sigma=pt.sqrt(-0.5 / eta)),
)

geometric_trials = Family(
    name="Geometric (trials)",
    statistics=lambda x: x,
    log_partition=lambda eta: eta - pt.log1mexp(eta),
    log_base_measure=lambda x: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta: [(eta < 0, "eta = log(1 - p) < 0")],
    in_support=lambda x: _nonneg_int(x) & (x >= 1),
    support="x in {1, 2, 3, ...} (trials up to the first success)",
    discrete=True,
    natural_upper=0.0,
    expected_log_base_measure=lambda eta: pt.zeros_like(eta),
    natural_from_mean_closed=lambda mu: pt.log1p(-1 / mu),
    builtin=lambda eta: pm.Geometric.dist(p=-pt.expm1(eta)),
    point=lambda eta: pt.cast(pt.floor(1 / -pt.expm1(eta)), "int64"),
)

weibull = Family(
    name="Weibull (shape fixed)",
    statistics=lambda x, alpha: pt.maximum(x, 0) ** alpha,
    log_partition=lambda eta, alpha: -pt.log(-eta),
    log_base_measure=lambda x, alpha: pt.log(alpha) + (alpha - 1) * _safe_log(x),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta, alpha: [
        (eta < 0, "eta = -beta^(-alpha) < 0"),
        (alpha > 0, "alpha > 0"),
    ],
    in_support=lambda x, alpha: x > 0,
    support="x > 0",
    fixed=("alpha",),
    # x^alpha is Exponential(-eta), so E[log x] = (-log(-eta) - Euler gamma) / alpha.
    expected_log_base_measure=lambda eta, alpha: (
        pt.log(alpha) + (alpha - 1) * (-pt.log(-eta) - np.euler_gamma) / alpha
    ),
    natural_from_mean_closed=lambda mu, alpha: -1 / mu,
    point=lambda eta, alpha: (-1 / eta) ** (1 / alpha),
)

pareto = Family(
    name="Pareto (scale fixed)",
    statistics=lambda x, m: _safe_log(x),
    log_partition=lambda eta, m: -pt.log(-eta - 1) + (eta + 1) * pt.log(m),
    log_base_measure=lambda x, m: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta, m: [(eta < -1, "eta = -(alpha + 1) < -1"), (m > 0, "m > 0")],
    in_support=lambda x, m: x >= m,
    support="x >= m",
    fixed=("m",),
    expected_log_base_measure=lambda eta, m: pt.zeros_like(eta),
    natural_from_mean_closed=lambda mu, m: -1 - 1 / (mu - pt.log(m)),
    builtin=lambda eta, m: pm.Pareto.dist(alpha=-eta - 1, m=m),
    point=lambda eta, m: m * 2 ** (1 / (-eta - 1)),
)

laplace = Family(
    name="Laplace (location fixed)",
    statistics=lambda x, mu: pt.abs(x - mu),
    log_partition=lambda eta, mu: np.log(2) - pt.log(-eta),
    log_base_measure=lambda x, mu: pt.zeros_like(x, dtype="float64"),
    natural_ndims=(0,),
    value_ndim=0,
    natural_domain=lambda eta, mu: [(eta < 0, "eta = -1 / b < 0")],
    in_support=lambda x, mu: pt.isfinite(x),
    support="x real",
    fixed=("mu",),
    expected_log_base_measure=lambda eta, mu: pt.zeros_like(eta),
    natural_from_mean_closed=lambda m, mu: -1 / m,
    builtin=lambda eta, mu: pm.Laplace.dist(mu=mu, b=-1 / eta),
    point=lambda eta, mu: mu + pt.zeros_like(eta),
)
