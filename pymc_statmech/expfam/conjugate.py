r"""Conjugate priors: exact posterior updates and exact log evidence, from log-partitions.

One mechanism serves every pair. Write the likelihood of one observation as linear in some
statistics :math:`S(\theta)` of the parameter,

.. math:: p(y_i \mid \theta) = h(y_i) \exp\langle \Delta(y_i), S(\theta) \rangle

(for a likelihood in natural parameters :math:`S(\theta) = (\eta(\theta), -A(\eta(\theta)))` and
:math:`\Delta(y) = (T(y), 1)`). The exponential family with sufficient statistics :math:`S`,

.. math:: p(\theta \mid \chi) = g(\theta) \exp\big(\langle \chi, S(\theta) \rangle
          - A_{\mathrm{prior}}(\chi)\big),

is conjugate: the posterior is the same family with :math:`\chi_{\mathrm{post}} = \chi +
\sum_i \Delta(y_i)`, and since both share the base measure :math:`g`, dividing the joint density
by the posterior leaves the evidence in closed form,

.. math:: \log p(y) = \sum_i \log h(y_i) + A_{\mathrm{prior}}(\chi_{\mathrm{post}})
          - A_{\mathrm{prior}}(\chi).

In the statistical-mechanics reading, :math:`A_{\mathrm{prior}}` is a free energy and the log
evidence is the free-energy difference between the posterior and the prior ensembles. The
prior log-partitions are those of :mod:`pymc_statmech.expfam.families` (Beta, Gamma, Dirichlet,
Normal, MvNormal, and the InverseGamma inside the Normal-InverseGamma), so no pair has its own
evidence formula: a pair only states :math:`\chi`, :math:`\Delta` and :math:`\log h`.

Gaussian location models are evaluated after translating data and prior mean by the posterior
mean (the evidence is exactly translation invariant), so that the quadratic forms inside
:math:`A` stay small and do not cancel; the translation carries no gradient, which is exact
because the evidence does not depend on it.

Data conventions: for every pair except the regression, the **first axis of** ``y`` **indexes
observations** (a ``y`` holding only a single observation's core shape is one observation), and
the remaining axes broadcast against the batch shape of the hyperparameters, as observed data does
in PyMC. Known likelihood parameters (``n``, ``sigma``, ``mu``, ``cov``) broadcast against ``y``,
observation axis included, so they may vary by observation.

References
----------
.. [1] Bernardo, J. M. and Smith, A. F. M. (1994). Bayesian Theory, Wiley, sec. 5.2 and app. A.
.. [2] Murphy, K. P. (2007). Conjugate Bayesian analysis of the Gaussian distribution.
   https://www.cs.ubc.ca/~murphyk/Papers/bayesGauss.pdf
.. [3] Diaconis, P. and Ylvisaker, D. (1979). Conjugate priors for exponential families.
   Annals of Statistics 7(2), 269-281.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.dist_math import check_parameters
from pytensor.gradient import zero_grad
from pytensor.graph.basic import Constant, Variable
from pytensor.tensor.variable import TensorVariable

from pymc_statmech.expfam import families
from pymc_statmech.expfam.api import family_form
from pymc_statmech.expfam.distributions import (
    NaturalBeta,
    NaturalDirichlet,
    NaturalGamma,
    NaturalInverseGamma,
    NaturalMvNormal,
    NaturalNormal,
)
from pymc_statmech.expfam.family import Family
from pymc_statmech.tensors import as_float_tensor

__all__ = [
    "ConjugateResult",
    "RegressionResult",
    "beta_bernoulli",
    "beta_binomial",
    "conjugate_update",
    "dirichlet_categorical",
    "dirichlet_multinomial",
    "gamma_exponential",
    "gamma_normal",
    "gamma_poisson",
    "mvnormal_mvnormal",
    "normal_inverse_gamma_regression",
    "normal_normal",
]

LOG_2PI = float(np.log(2 * np.pi))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ConjugateResult:
    r"""The exact outcome of a conjugate update.

    Attributes
    ----------
    posterior : TensorVariable
        The posterior as a PyMC distribution (created with ``.dist``), e.g. ``pm.Beta.dist``.
    posterior_params : dict of str to TensorVariable
        The posterior's parameters under PyMC's names (``alpha``, ``beta``, ``a``, ``mu``,
        ``sigma``, ``cov``, ...).
    log_evidence : TensorVariable
        The exact log marginal likelihood :math:`\log p(y)` of all the data, batch-shaped.
        When some input is symbolic, its validity is checked when the graph runs
        (``check_parameters``).
    prior_natural, natural : TensorVariable or tuple
        :math:`\chi` and :math:`\chi_{\mathrm{post}} = \chi + \sum_i \Delta(y_i)`, the prior's
        and the posterior's natural parameters in the layout of :attr:`family`.
    family : Family or None
        The prior's exponential family (``None`` for the Normal-InverseGamma, which is not a
        declared family).
    """

    posterior: TensorVariable
    posterior_params: dict[str, TensorVariable]
    log_evidence: TensorVariable
    prior_natural: Any
    natural: Any
    family: Family | None
    _natural_dist: Callable[..., tuple[type, dict[str, Any]]] | None = field(
        default=None, repr=False
    )

    def posterior_natural(self, name: str | None = None, **kwargs) -> TensorVariable:
        """The posterior as a ``Natural*`` distribution of this package.

        Parameters
        ----------
        name : str, optional
            When given, create a model variable ``Natural*(name, ...)`` in the current
            ``pm.Model``; otherwise return ``Natural*.dist(...)``.
        **kwargs
            Passed on (``shape``, ``dims``, ``observed``, ...).

        Returns
        -------
        TensorVariable
            E.g. ``NaturalBeta.dist(eta=natural)`` for a Beta posterior.
        """
        if self._natural_dist is None:
            raise NotImplementedError("This posterior has no Natural* distribution.")
        cls, params = self._natural_dist()
        if name is None:
            return cls.dist(**params, **kwargs)
        return cls(name, **params, **kwargs)


@dataclass(frozen=True, eq=False)
class RegressionResult(ConjugateResult):
    r"""Result of :func:`normal_inverse_gamma_regression`.

    ``posterior`` is the marginal posterior of :math:`\sigma^2`, ``pm.InverseGamma.dist(alpha,
    beta)``; ``posterior_params`` holds ``mu`` and ``V`` (with
    :math:`b \mid \sigma^2, y \sim N(\mu, \sigma^2 V)`), ``alpha`` and ``beta``.
    :meth:`posterior_natural` gives the :math:`\sigma^2` marginal as a ``NaturalInverseGamma``.
    ``natural`` is the Normal-InverseGamma natural parameter ``(h, J, c, d)`` of the module's
    :func:`_nig_log_partition`.
    """

    def coefficients(self, sigma2: Any = None) -> TensorVariable:
        r"""The posterior of the coefficients :math:`b`.

        Parameters
        ----------
        sigma2 : tensor_like, optional
            When given, the conditional :math:`b \mid \sigma^2, y \sim N(\mu, \sigma^2 V)` as
            ``pm.MvNormal.dist``; otherwise the marginal
            :math:`b \mid y \sim t_{2\alpha}(\mu, (\beta/\alpha) V)` as ``pm.MvStudentT.dist``.
        """
        p = self.posterior_params
        if sigma2 is None:
            scale = pt.shape_padright(p["beta"] / p["alpha"], 2) * p["V"]
            return pm.MvStudentT.dist(nu=2 * p["alpha"], mu=p["mu"], scale=scale)
        sigma2 = pt.shape_padright(as_float_tensor(sigma2), 2)
        return pm.MvNormal.dist(mu=p["mu"], cov=sigma2 * p["V"])


# ---------------------------------------------------------------------------------------------
# The one mechanism
# ---------------------------------------------------------------------------------------------
def _add(chi: Any, delta: Any) -> Any:
    if isinstance(chi, tuple):
        return tuple(c + d for c, d in zip(chi, delta, strict=True))
    return chi + delta


def _log_evidence(
    log_partition: Callable[[Any], TensorVariable], chi: Any, delta: Any, log_base: Any
) -> TensorVariable:
    r""":math:`\sum_i \log h(y_i) + A(\chi + \sum_i \Delta(y_i)) - A(\chi)`."""
    return log_base + log_partition(_add(chi, delta)) - log_partition(chi)


# ---------------------------------------------------------------------------------------------
# Input handling and validation
# ---------------------------------------------------------------------------------------------
def _constant(value: Any) -> np.ndarray | None:
    """The numpy value of a non-symbolic input, or None when it is symbolic."""
    if isinstance(value, Constant):
        return np.asarray(value.data)
    if isinstance(value, Variable):
        return None
    return np.asarray(value)


def _preview(values: np.ndarray) -> str:
    flat = np.asarray(values).ravel()
    text = np.array2string(flat[:5], precision=6, separator=", ")
    return text[:-1] + ", ...]" if flat.size > 5 else text


class _Checks:
    """Validates inputs: at once (ValueError) when constant, in the graph when symbolic."""

    def __init__(self, fn: str):
        self.fn = fn
        self.pending: list[tuple[TensorVariable, str]] = []

    def require(self, arg: str, value: Any, valid: str, test: Callable, *others: Any) -> None:
        """Require ``test(xp, value, *others)`` elementwise; ``xp`` is numpy or pytensor."""
        raw = [_constant(v) for v in (value, *others)]
        if all(r is not None for r in raw):
            with np.errstate(invalid="ignore", divide="ignore"):
                ok = np.asarray(test(np, *raw), dtype=bool)
            if not ok.all():
                try:
                    bad = np.broadcast_to(raw[0], ok.shape)[~ok]
                except ValueError:
                    bad = raw[0]
                raise ValueError(f"{self.fn}: `{arg}` must be {valid}; got {arg}={_preview(bad)}.")
        else:
            tensors = [pt.as_tensor_variable(v) for v in (value, *others)]
            cond = pt.all(test(pt, *tensors))
            self.pending.append((cond, f"{self.fn}: `{arg}` must be {valid}"))

    def positive(self, **values: Any) -> None:
        # an infinite hyperparameter is no prior (its evidence would be NaN)
        for arg, value in values.items():
            self.require(arg, value, "> 0 and finite", lambda xp, v: (v > 0) & xp.isfinite(v))

    def apply(self, value: TensorVariable) -> TensorVariable:
        for cond, msg in self.pending:
            value = check_parameters(value, cond, msg=msg)
        return value


def _is_int(xp, v):
    return xp.equal(xp.floor(v), v)


def _is_spd(xp, m):
    if xp is np:
        m = np.asarray(m, dtype=float)
        scale = np.max(np.abs(m), axis=(-2, -1), keepdims=True)
        sym = np.all(np.abs(m - np.swapaxes(m, -1, -2)) <= 1e-10 * scale, axis=(-2, -1))
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            return np.zeros(sym.shape, dtype=bool)
        return sym
    return families._is_spd(pt.cast(pt.as_tensor_variable(m), "float64"))


def _ndim(value: Any) -> int:
    return value.ndim if isinstance(value, Variable) else np.ndim(value)


def _static_shape(value: Any) -> tuple[int | None, ...]:
    if isinstance(value, Variable):
        return tuple(value.type.shape)
    return tuple(np.shape(value))


def _require_ndim(fn: str, arg: str, value: Any, core: int, what: str) -> None:
    if _ndim(value) < core:
        raise ValueError(
            f"{fn}: `{arg}` must have at least {core} dimension(s) ({what}); "
            f"got shape {_static_shape(value)}."
        )


def _require_same(fn: str, what: str, sizes: dict[str, int | None]) -> None:
    known = {k: v for k, v in sizes.items() if v is not None}
    if len(set(known.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in known.items())
        raise ValueError(f"{fn}: {what} must agree; got {listing}.")


def _observations(y: Any, core: int) -> TensorVariable:
    """``y`` as a float tensor with a leading observation axis."""
    y = as_float_tensor(y)
    return y[None] if y.ndim == core else y


def _align(x: TensorVariable, core: int, batch_ndim: int) -> TensorVariable:
    """Insert axes after the observation axis so ``x`` has ``batch_ndim`` batch axes.

    The batch axes of observed data are right-aligned with those of the hyperparameters, so the
    observation axis must be kept apart from them before broadcasting.
    """
    missing = batch_ndim - (x.ndim - 1 - core)
    return pt.expand_dims(x, tuple(range(1, 1 + missing))) if missing > 0 else x


def _batch_ndim(core_and_values: list[tuple[int, Any]]) -> int:
    return max([0] + [v.ndim - c for c, v in core_and_values])


def _stack(*parts: TensorVariable) -> TensorVariable:
    return pt.stack(pt.broadcast_arrays(*parts), axis=-1)


def _spd_inverse(m: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
    """Inverse and log-determinant of symmetric positive definite matrices, by Cholesky."""
    chol = pt.linalg.cholesky(m, lower=True, on_error="nan")
    eye = pt.eye(m.shape[-1], dtype=m.dtype)
    chol_inv = pt.linalg.solve_triangular(chol, eye, lower=True, b_ndim=2)
    logdet = 2 * pt.sum(pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return pt.swapaxes(chol_inv, -1, -2) @ chol_inv, logdet


def _result(
    checks: _Checks,
    family: Family | None,
    natural_cls: type | None,
    chi: Any,
    chi_post: Any,
    log_evidence: TensorVariable,
    posterior: TensorVariable,
    params: dict[str, TensorVariable],
    result_cls: type[ConjugateResult] = ConjugateResult,
    natural_params: Callable[[], dict[str, Any]] | None = None,
) -> ConjugateResult:
    def natural_dist():
        if natural_params is not None:
            return natural_cls, natural_params()
        return natural_cls, {"eta": chi_post}

    for which, value in (("prior", chi), ("posterior", chi_post)):
        for part in value if isinstance(value, tuple) else (value,):
            checks.require(
                f"the {which}'s natural parameters",
                part,
                "finite in float64 (a hyperparameter whose square or inverse square "
                "overflows, such as a scale below 1e-154, is beyond this update)",
                lambda xp, v: xp.isfinite(v),
            )
    return result_cls(
        posterior=posterior,
        posterior_params={name: checks.apply(v) for name, v in params.items()},
        log_evidence=checks.apply(log_evidence),
        prior_natural=chi,
        natural=chi_post,
        family=family,
        _natural_dist=natural_dist if natural_cls is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# Beta prior: Bernoulli and Binomial
# ---------------------------------------------------------------------------------------------
def beta_binomial(alpha: Any, beta: Any, y: Any, *, n: Any) -> ConjugateResult:
    r"""Beta prior on the success probability of Binomial counts.

    With :math:`p \sim \mathrm{Beta}(\alpha, \beta)` and :math:`y_i \mid p \sim
    \mathrm{Binomial}(n_i, p)`, the Beta family in :math:`\eta = (\alpha - 1, \beta - 1)` and
    :math:`T(p) = (\log p, \log(1 - p))` is conjugate with :math:`\Delta(y_i) = (y_i, n_i - y_i)`
    and :math:`\log h(y_i) = \log\binom{n_i}{y_i}`:

    .. math::

        \alpha' = \alpha + \sum_i y_i, \qquad \beta' = \beta + \sum_i (n_i - y_i), \qquad
        \log p(y) = \sum_i \log\binom{n_i}{y_i} + \log B(\alpha', \beta') - \log B(\alpha, \beta).

    For one observation this is the beta-binomial distribution.

    Parameters
    ----------
    alpha, beta : tensor_like
        Prior parameters, > 0 (batch-shaped).
    y : tensor_like
        Success counts in :math:`\{0, \dots, n\}`; the first axis indexes observations (a scalar
        is one observation).
    n : tensor_like
        Numbers of trials, non-negative integers, broadcasting against ``y``.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Beta.dist(alpha', beta')``; ``posterior_natural()`` a
        ``NaturalBeta``.

    References
    ----------
    Bernardo and Smith (1994), Bayesian Theory, app. A.2.

    Examples
    --------
    >>> import pymc_statmech as psm
    >>> r = psm.conjugate.beta_binomial(1.0, 1.0, [3, 5], n=10)
    >>> float(r.log_evidence.eval())  # doctest: +SKIP
    """
    return _beta_update("beta_binomial", alpha, beta, y, n, binomial=True)


def beta_bernoulli(alpha: Any, beta: Any, y: Any) -> ConjugateResult:
    r"""Beta prior on the probability of Bernoulli outcomes :math:`y_i \in \{0, 1\}`.

    The Binomial case with :math:`n_i = 1` (see :func:`beta_binomial`):
    :math:`\alpha' = \alpha + \sum y_i`, :math:`\beta' = \beta + \sum(1 - y_i)`,
    :math:`\log p(y) = \log B(\alpha', \beta') - \log B(\alpha, \beta)`.

    Parameters
    ----------
    alpha, beta : tensor_like
        Prior parameters, > 0.
    y : tensor_like
        Outcomes in {0, 1}; the first axis indexes observations.

    Returns
    -------
    ConjugateResult
    """
    return _beta_update("beta_bernoulli", alpha, beta, y, 1.0, binomial=False)


def _beta_update(fn, alpha, beta, y, n, *, binomial):
    checks = _Checks(fn)
    checks.positive(alpha=alpha, beta=beta)
    if binomial:
        checks.require("n", n, "a non-negative integer", lambda xp, v: (v >= 0) & _is_int(xp, v))
        checks.require(
            "y",
            y,
            "an integer in {0, ..., n}",
            lambda xp, v, m: (v >= 0) & (v <= m) & _is_int(xp, v),
            n,
        )
    else:
        checks.require("y", y, "0 or 1", lambda xp, v: xp.equal(v, 0) | xp.equal(v, 1))
    alpha, beta = as_float_tensor(alpha), as_float_tensor(beta)
    y, n = pt.broadcast_arrays(_observations(y, 0), as_float_tensor(n))
    chi = _stack(alpha - 1, beta - 1)
    delta = _stack(pt.sum(y, axis=0), pt.sum(n - y, axis=0))
    log_base = pt.sum(pt.gammaln(n + 1) - pt.gammaln(y + 1) - pt.gammaln(n - y + 1), axis=0)
    chi_post = chi + delta
    a_post, b_post = chi_post[..., 0] + 1, chi_post[..., 1] + 1
    return _result(
        checks,
        families.beta,
        NaturalBeta,
        chi,
        chi_post,
        _log_evidence(families.beta.log_partition, chi, delta, log_base),
        pm.Beta.dist(alpha=a_post, beta=b_post),
        {"alpha": a_post, "beta": b_post},
    )


# ---------------------------------------------------------------------------------------------
# Gamma prior: Poisson rate, Exponential rate, Normal precision
# ---------------------------------------------------------------------------------------------
def _gamma_update(checks, alpha, beta, delta, log_base):
    alpha, beta = as_float_tensor(alpha), as_float_tensor(beta)
    chi = _stack(alpha - 1, -beta)
    chi_post = chi + delta
    a_post, b_post = chi_post[..., 0] + 1, -chi_post[..., 1]
    return _result(
        checks,
        families.gamma,
        NaturalGamma,
        chi,
        chi_post,
        _log_evidence(families.gamma.log_partition, chi, delta, log_base),
        pm.Gamma.dist(alpha=a_post, beta=b_post),
        {"alpha": a_post, "beta": b_post},
    )


def gamma_poisson(alpha: Any, beta: Any, y: Any) -> ConjugateResult:
    r"""Gamma prior on the rate of Poisson counts.

    With :math:`\lambda \sim \mathrm{Gamma}(\alpha, \beta)` (rate :math:`\beta`) and
    :math:`y_i \mid \lambda \sim \mathrm{Poisson}(\lambda)`, the Gamma family in
    :math:`\eta = (\alpha - 1, -\beta)`, :math:`T(\lambda) = (\log\lambda, \lambda)` is conjugate
    with :math:`\Delta(y_i) = (y_i, -1)` and :math:`\log h(y_i) = -\log y_i!`:

    .. math::

        \alpha' = \alpha + \sum_i y_i, \qquad \beta' = \beta + N, \qquad
        \log p(y) = -\sum_i \log y_i! + \log\Gamma(\alpha') - \alpha'\log\beta'
                    - \log\Gamma(\alpha) + \alpha\log\beta.

    For one observation this is the negative binomial with :math:`r = \alpha`,
    :math:`p = \beta / (\beta + 1)`.

    Parameters
    ----------
    alpha, beta : tensor_like
        Prior shape and rate, > 0.
    y : tensor_like
        Non-negative integer counts; the first axis indexes observations.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Gamma.dist(alpha', beta')``.

    References
    ----------
    Bernardo and Smith (1994), Bayesian Theory, app. A.2.
    """
    checks = _Checks("gamma_poisson")
    checks.positive(alpha=alpha, beta=beta)
    checks.require("y", y, "a non-negative integer", lambda xp, v: (v >= 0) & _is_int(xp, v))
    y = _observations(y, 0)
    delta = _stack(pt.sum(y, axis=0), -pt.sum(pt.ones_like(y), axis=0))
    log_base = -pt.sum(pt.gammaln(y + 1), axis=0)
    return _gamma_update(checks, alpha, beta, delta, log_base)


def gamma_exponential(alpha: Any, beta: Any, y: Any) -> ConjugateResult:
    r"""Gamma prior on the rate of Exponential waiting times.

    With :math:`\lambda \sim \mathrm{Gamma}(\alpha, \beta)` and :math:`y_i \mid \lambda \sim
    \mathrm{Exponential}(\lambda)`: :math:`\Delta(y_i) = (1, -y_i)`, :math:`\log h = 0`,

    .. math::

        \alpha' = \alpha + N, \qquad \beta' = \beta + \sum_i y_i, \qquad
        \log p(y) = \log\Gamma(\alpha') - \alpha'\log\beta' - \log\Gamma(\alpha) + \alpha\log\beta.

    For one observation this is the Lomax (Pareto II) density with shape :math:`\alpha` and
    scale :math:`\beta`.

    Parameters
    ----------
    alpha, beta : tensor_like
        Prior shape and rate, > 0.
    y : tensor_like
        Non-negative values; the first axis indexes observations.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Gamma.dist(alpha', beta')``.
    """
    checks = _Checks("gamma_exponential")
    checks.positive(alpha=alpha, beta=beta)
    checks.require("y", y, ">= 0 and finite", lambda xp, v: (v >= 0) & xp.isfinite(v))
    y = _observations(y, 0)
    delta = _stack(pt.sum(pt.ones_like(y), axis=0), -pt.sum(y, axis=0))
    return _gamma_update(checks, alpha, beta, delta, pt.zeros(()))


def gamma_normal(alpha: Any, beta: Any, y: Any, *, mu: Any) -> ConjugateResult:
    r"""Gamma prior on the precision :math:`\tau` of Normal data with known mean ``mu``.

    With :math:`\tau \sim \mathrm{Gamma}(\alpha, \beta)` and :math:`y_i \mid \tau \sim
    N(\mu_i, 1/\tau)`: :math:`\Delta(y_i) = (\tfrac12, -\tfrac12 (y_i - \mu_i)^2)`,
    :math:`\log h = -\tfrac12 \log 2\pi`,

    .. math::

        \alpha' = \alpha + \frac N2, \qquad \beta' = \beta + \frac12\sum_i (y_i - \mu_i)^2,
        \qquad \log p(y) = -\frac N2 \log 2\pi + \log\Gamma(\alpha') - \alpha'\log\beta'
        - \log\Gamma(\alpha) + \alpha\log\beta,

    the multivariate Student-t density :math:`t_{2\alpha}(y \mid \mu, (\beta/\alpha) I)`.

    Parameters
    ----------
    alpha, beta : tensor_like
        Prior shape and rate of the precision, > 0.
    y : tensor_like
        Real observations; the first axis indexes observations.
    mu : tensor_like
        The known mean, broadcasting against ``y``.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Gamma.dist(alpha', beta')`` over the precision.

    References
    ----------
    Murphy (2007), Conjugate Bayesian analysis of the Gaussian distribution, sec. 4.
    """
    checks = _Checks("gamma_normal")
    checks.positive(alpha=alpha, beta=beta)
    checks.require("y", y, "finite", lambda xp, v: xp.isfinite(v))
    checks.require("mu", mu, "finite", lambda xp, v: xp.isfinite(v))
    y, mu = pt.broadcast_arrays(_observations(y, 0), as_float_tensor(mu))
    count = pt.sum(pt.ones_like(y), axis=0)
    delta = _stack(0.5 * count, -0.5 * pt.sum((y - mu) ** 2, axis=0))
    return _gamma_update(checks, alpha, beta, delta, -0.5 * LOG_2PI * count)


# ---------------------------------------------------------------------------------------------
# Dirichlet prior: Categorical and Multinomial
# ---------------------------------------------------------------------------------------------
def _dirichlet_update(checks, a, counts, log_base):
    chi = a - 1
    chi_post = chi + counts
    a_post = chi_post + 1
    return _result(
        checks,
        families.dirichlet,
        NaturalDirichlet,
        chi,
        chi_post,
        _log_evidence(families.dirichlet.log_partition, chi, counts, log_base),
        pm.Dirichlet.dist(a=a_post),
        {"a": a_post},
    )


def dirichlet_categorical(a: Any, y: Any) -> ConjugateResult:
    r"""Dirichlet prior on the probabilities of Categorical labels :math:`y_i \in \{0..K-1\}`.

    The Dirichlet family in :math:`\eta = a - 1`, :math:`T(p) = \log p` is conjugate with
    :math:`\Delta(y_i) = e_{y_i}` (one-hot) and :math:`\log h = 0`. With counts
    :math:`c_k = \#\{i : y_i = k\}`,

    .. math::

        a' = a + c, \qquad \log p(y) = \log\Gamma(\textstyle\sum_k a_k)
        - \log\Gamma(\textstyle\sum_k a_k + N) + \sum_k \big(\log\Gamma(a_k + c_k)
        - \log\Gamma(a_k)\big).

    Parameters
    ----------
    a : tensor_like
        Prior concentrations, > 0, shape ``(..., K)``.
    y : tensor_like
        Integer labels in :math:`\{0, \dots, K - 1\}`; the first axis indexes observations.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Dirichlet.dist(a')``.
    """
    fn = "dirichlet_categorical"
    _require_ndim(fn, "a", a, 1, "the last axis holds the K concentrations")
    checks = _Checks(fn)
    checks.positive(a=a)
    k_static = _static_shape(a)[-1]
    if k_static is not None:
        checks.require(
            "y",
            y,
            f"an integer label in {{0, ..., {k_static - 1}}}",
            lambda xp, v: (v >= 0) & (v < k_static) & _is_int(xp, v),
        )
    else:
        checks.require(
            "y",
            y,
            "an integer label in {0, ..., K - 1} with K = a.shape[-1]",
            lambda xp, v, aa: (v >= 0) & (v < aa.shape[-1]) & _is_int(xp, v),
            a,
        )
    a = as_float_tensor(a)
    y = _observations(y, 0)
    onehot = pt.eq(y[..., None], pt.arange(a.shape[-1], dtype="float64"))
    counts = pt.sum(pt.cast(onehot, "float64"), axis=0)
    return _dirichlet_update(checks, a, counts, pt.zeros(()))


def dirichlet_multinomial(a: Any, y: Any, *, n: Any = None) -> ConjugateResult:
    r"""Dirichlet prior on the probabilities of Multinomial count vectors.

    With :math:`p \sim \mathrm{Dirichlet}(a)` and :math:`y_i \mid p \sim
    \mathrm{Multinomial}(n_i, p)`: :math:`\Delta(y_i) = y_i`,
    :math:`\log h(y_i) = \log n_i! - \sum_k \log y_{ik}!`,

    .. math::

        a' = a + \sum_i y_i, \qquad \log p(y) = \sum_i \log h(y_i)
        + \log B(a') - \log B(a), \quad
        \log B(a) = \textstyle\sum_k \log\Gamma(a_k) - \log\Gamma(\sum_k a_k).

    For one observation this is the Dirichlet-multinomial distribution.

    Parameters
    ----------
    a : tensor_like
        Prior concentrations, > 0, shape ``(..., K)``.
    y : tensor_like
        Non-negative integer count vectors, shape ``(N, ..., K)`` (or ``(K,)`` for one).
    n : tensor_like, optional
        Totals; when given, every ``y.sum(-1)`` must equal it. Otherwise taken from ``y``.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Dirichlet.dist(a')``.
    """
    fn = "dirichlet_multinomial"
    _require_ndim(fn, "a", a, 1, "the last axis holds the K concentrations")
    _require_ndim(fn, "y", y, 1, "count vectors on the last axis")
    _require_same(
        fn,
        "the number of categories (last axis)",
        {"a": _static_shape(a)[-1], "y": _static_shape(y)[-1]},
    )
    checks = _Checks(fn)
    checks.positive(a=a)
    checks.require("y", y, "a non-negative integer count", lambda xp, v: (v >= 0) & _is_int(xp, v))
    if n is not None:
        checks.require(
            "n",
            n,
            "the total of each count vector y.sum(-1)",
            lambda xp, m, v: xp.equal(m, xp.sum(v, axis=-1)),
            y,
        )
    a = as_float_tensor(a)
    y = _observations(y, 1)
    totals = pt.sum(y, axis=-1)
    log_base = pt.sum(pt.gammaln(totals + 1) - pt.sum(pt.gammaln(y + 1), axis=-1), axis=0)
    return _dirichlet_update(checks, a, pt.sum(y, axis=0), log_base)


# ---------------------------------------------------------------------------------------------
# Gaussian location: Normal and MvNormal means with known (co)variance
# ---------------------------------------------------------------------------------------------
def normal_normal(mu0: Any, sigma0: Any, y: Any, *, sigma: Any) -> ConjugateResult:
    r"""Normal prior on the mean of Normal data with known standard deviation ``sigma``.

    With :math:`\mu \sim N(\mu_0, \sigma_0^2)` and :math:`y_i \mid \mu \sim N(\mu, \sigma_i^2)`,
    the Normal family in :math:`\eta = (\mu_0/\sigma_0^2, -1/(2\sigma_0^2))`,
    :math:`T(\mu) = (\mu, \mu^2)` is conjugate with
    :math:`\Delta(y_i) = (y_i/\sigma_i^2, -1/(2\sigma_i^2))` and
    :math:`\log h(y_i) = -\tfrac12\log(2\pi\sigma_i^2) - y_i^2/(2\sigma_i^2)`:

    .. math::

        \frac1{\sigma_N^2} = \frac1{\sigma_0^2} + \sum_i \frac1{\sigma_i^2}, \qquad
        \mu_N = \sigma_N^2\Big(\frac{\mu_0}{\sigma_0^2} + \sum_i \frac{y_i}{\sigma_i^2}\Big),

    and :math:`\log p(y) = \sum_i \log h(y_i) + A(\eta_N) - A(\eta_0)` with
    :math:`A(\eta) = -\eta_1^2/(4\eta_2) - \tfrac12\log(-2\eta_2)`, i.e. the density of
    :math:`y \sim N(\mu_0 \mathbf 1,
    \mathrm{diag}(\sigma_i^2) + \sigma_0^2 \mathbf 1\mathbf 1^\top)`.

    Parameters
    ----------
    mu0, sigma0 : tensor_like
        Prior mean and standard deviation (> 0) of the unknown mean.
    y : tensor_like
        Real observations; the first axis indexes observations.
    sigma : tensor_like
        Known standard deviation of the data, > 0, broadcasting against ``y``.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.Normal.dist(mu_N, sigma_N)``.

    References
    ----------
    Murphy (2007), Conjugate Bayesian analysis of the Gaussian distribution, sec. 2.
    """
    checks = _Checks("normal_normal")
    checks.require("mu0", mu0, "finite", lambda xp, v: xp.isfinite(v))
    checks.positive(sigma0=sigma0, sigma=sigma)
    checks.require("y", y, "finite", lambda xp, v: xp.isfinite(v))
    mu0, sigma0 = as_float_tensor(mu0), as_float_tensor(sigma0)
    y, sigma = pt.broadcast_arrays(_observations(y, 0), as_float_tensor(sigma))
    batch = _batch_ndim([(0, mu0), (0, sigma0), (1, y)])
    y, w = _align(y, 0, batch), _align(1 / sigma**2, 0, batch)
    lam0 = 1 / sigma0**2

    def chi_of(m):
        return _stack(m * lam0, -0.5 * lam0)

    def delta_of(v):
        return _stack(pt.sum(w * v, axis=0), -0.5 * pt.sum(w, axis=0))

    chi, delta = chi_of(mu0), delta_of(y)
    chi_post = chi + delta
    # The evidence in coordinates centred at the posterior mean (translation invariant).
    centre = zero_grad(-chi_post[..., 0] / (2 * chi_post[..., 1]))
    chi_c, delta_c = chi_of(mu0 - centre), delta_of(y - centre)
    log_base = pt.sum(0.5 * pt.log(w) - 0.5 * LOG_2PI - 0.5 * w * (y - centre) ** 2, axis=0)
    chi_post_c = chi_c + delta_c
    mu_post = centre - chi_post_c[..., 0] / (2 * chi_post_c[..., 1])
    sigma_post = pt.sqrt(-0.5 / chi_post[..., 1])
    return _result(
        checks,
        families.normal,
        NaturalNormal,
        chi,
        chi_post,
        _log_evidence(families.normal.log_partition, chi_c, delta_c, log_base),
        pm.Normal.dist(mu=mu_post, sigma=sigma_post),
        {"mu": mu_post, "sigma": sigma_post},
    )


def mvnormal_mvnormal(mu0: Any, cov0: Any, y: Any, *, cov: Any) -> ConjugateResult:
    r"""MvNormal prior on the mean of MvNormal data with known covariance ``cov``.

    With :math:`m \sim N(\mu_0, \Sigma_0)` and :math:`y_i \mid m \sim N(m, \Sigma_i)`, the MvNormal
    family in information form :math:`(h, J) = (\Lambda_0\mu_0, -\Lambda_0/2)`,
    :math:`\Lambda_0 = \Sigma_0^{-1}`, :math:`T(m) = (m, m m^\top)`, is conjugate with
    :math:`\Delta(y_i) = (\Sigma_i^{-1} y_i, -\Sigma_i^{-1}/2)` and
    :math:`\log h(y_i) = -\tfrac12\log\det(2\pi\Sigma_i) - \tfrac12 y_i^\top\Sigma_i^{-1}y_i`:

    .. math::

        \Lambda_N = \Lambda_0 + \sum_i \Sigma_i^{-1}, \qquad
        \mu_N = \Lambda_N^{-1}\Big(\Lambda_0\mu_0 + \sum_i \Sigma_i^{-1} y_i\Big), \qquad
        \log p(y) = \sum_i \log h(y_i) + A(h_N, J_N) - A(h_0, J_0),

    with :math:`A(h, J) = \tfrac12 h^\top\Lambda^{-1}h - \tfrac12\log\det\Lambda`.

    Parameters
    ----------
    mu0 : tensor_like
        Prior mean, shape ``(..., k)``.
    cov0 : tensor_like
        Prior covariance, symmetric positive definite, shape ``(..., k, k)``.
    y : tensor_like
        Observations, shape ``(N, ..., k)`` (or ``(k,)`` for one).
    cov : tensor_like
        Known covariance of the data, SPD, shape ``(k, k)``, ``(..., k, k)`` or per observation
        ``(N, ..., k, k)``.

    Returns
    -------
    ConjugateResult
        ``posterior`` is ``pm.MvNormal.dist(mu_N, cov=Lambda_N^{-1})``; ``posterior_natural()``
        is ``NaturalMvNormal(h_N, Lambda_N)``.

    References
    ----------
    Murphy (2007), Conjugate Bayesian analysis of the Gaussian distribution, sec. 7 (eq. 250).
    """
    fn = "mvnormal_mvnormal"
    _require_ndim(fn, "mu0", mu0, 1, "a mean vector")
    _require_ndim(fn, "cov0", cov0, 2, "a covariance matrix")
    _require_ndim(fn, "y", y, 1, "vectors on the last axis")
    _require_ndim(fn, "cov", cov, 2, "a covariance matrix")
    _require_same(
        fn,
        "the dimension k",
        {
            "mu0": _static_shape(mu0)[-1],
            "cov0 rows": _static_shape(cov0)[-2],
            "cov0 columns": _static_shape(cov0)[-1],
            "y": _static_shape(y)[-1],
            "cov rows": _static_shape(cov)[-2],
            "cov columns": _static_shape(cov)[-1],
        },
    )
    checks = _Checks(fn)
    checks.require("mu0", mu0, "finite", lambda xp, v: xp.isfinite(v))
    checks.require("cov0", cov0, "symmetric positive definite", _is_spd)
    checks.require("cov", cov, "symmetric positive definite", _is_spd)
    checks.require("y", y, "finite", lambda xp, v: xp.isfinite(v))
    mu0, cov0 = as_float_tensor(mu0), as_float_tensor(cov0)
    y, cov = _observations(y, 1), as_float_tensor(cov)
    lam0, _ = _spd_inverse(cov0)
    prec, logdet_cov = _spd_inverse(cov)
    # Broadcast the data and its precision to the full (observation, batch) shape, then keep
    # the observation axis apart from the batch axes of the prior.
    ones = pt.ones_like((prec @ y[..., None])[..., 0])
    batch = _batch_ndim([(1, mu0), (2, cov0), (2, ones)])
    y = _align(y * ones, 1, batch)
    prec = _align(prec * ones[..., None], 2, batch)
    logdet_cov = _align(logdet_cov * ones[..., 0], 0, batch)
    prec_sum = pt.sum(prec, axis=0)

    def chi_of(m):
        return (_spd_matvec(lam0, m), -0.5 * lam0)

    def delta_of(v):
        return (pt.sum((prec @ v[..., None])[..., 0], axis=0), -0.5 * prec_sum)

    chi, delta = chi_of(mu0), delta_of(y)
    chi_post = _add(chi, delta)
    lam_post = -2 * chi_post[1]
    centre = zero_grad(families._spd_solve(lam_post, chi_post[0]))
    chi_c, delta_c = chi_of(mu0 - centre), delta_of(y - centre)
    resid = y - centre
    quad = pt.sum(resid * (prec @ resid[..., None])[..., 0], axis=-1)
    k = pt.cast(y.shape[-1], "float64")
    log_base = pt.sum(-0.5 * quad - 0.5 * (k * LOG_2PI + logdet_cov), axis=0)
    chi_post_c = _add(chi_c, delta_c)
    mu_post = centre + families._spd_solve(lam_post, chi_post_c[0])
    cov_post, _ = _spd_inverse(lam_post)
    return _result(
        checks,
        families.mvnormal,
        NaturalMvNormal,
        chi,
        chi_post,
        _log_evidence(families.mvnormal.log_partition, chi_c, delta_c, log_base),
        pm.MvNormal.dist(mu=mu_post, cov=cov_post),
        {"mu": mu_post, "cov": cov_post},
        natural_params=lambda: {"h": chi_post[0], "precision": lam_post},
    )


def _spd_matvec(m: TensorVariable, v: TensorVariable) -> TensorVariable:
    return (m @ v[..., None])[..., 0]


# ---------------------------------------------------------------------------------------------
# Normal linear regression with a Normal-InverseGamma prior
# ---------------------------------------------------------------------------------------------
def _nig_log_partition(chi: tuple) -> TensorVariable:
    r"""Log-partition of the Normal-InverseGamma family over :math:`(b, \sigma^2)`.

    Statistics :math:`S(b, \sigma^2) = (b/\sigma^2, b b^\top/\sigma^2, 1/\sigma^2, \log\sigma^2)`,
    natural parameter :math:`\chi = (h, J, c, d)`. Integrating :math:`b` out (a Gaussian
    integral) leaves an inverse gamma in :math:`\sigma^2`:

    .. math::

        A(\chi) = \tfrac p2 \log 2\pi - \tfrac12\log\det\Lambda
        + A_{\mathrm{IG}}\big(d + \tfrac p2,\; c + \tfrac12 h^\top\Lambda^{-1}h\big),
        \qquad \Lambda = -2J,

    where :math:`A_{\mathrm{IG}}(-\alpha - 1, -\beta) = \log\Gamma(\alpha) - \alpha\log\beta` is the
    InverseGamma family's log-partition.
    """
    h, j, c, d = chi
    lam = -2 * j
    chol = pt.linalg.cholesky(lam, lower=True, on_error="nan")
    z = pt.linalg.solve_triangular(chol, h[..., None], lower=True, b_ndim=2)[..., 0]
    logdet = 2 * pt.sum(pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    p = pt.cast(h.shape[-1], "float64")
    ig = _stack(d + 0.5 * p, c + 0.5 * pt.sum(z**2, axis=-1))
    return 0.5 * p * LOG_2PI - 0.5 * logdet + families.inverse_gamma.log_partition(ig)


def normal_inverse_gamma_regression(
    mu0: Any, V0: Any, alpha: Any, beta: Any, y: Any, *, X: Any
) -> RegressionResult:
    r"""Normal linear regression :math:`y = X b + \varepsilon` with a Normal-InverseGamma prior.

    Prior :math:`\sigma^2 \sim \mathrm{InvGamma}(\alpha, \beta)`,
    :math:`b \mid \sigma^2 \sim N(\mu_0, \sigma^2 V_0)`; likelihood
    :math:`y \mid b, \sigma^2 \sim N(X b, \sigma^2 I_n)`. The Normal-InverseGamma family (see
    :func:`_nig_log_partition`) with :math:`\chi = (\Lambda_0\mu_0, -\Lambda_0/2,
    -(\tfrac12\mu_0^\top\Lambda_0\mu_0 + \beta), -(\alpha + 1 + p/2))`,
    :math:`\Lambda_0 = V_0^{-1}`, is conjugate with
    :math:`\Delta = (X^\top y, -X^\top X/2, -y^\top y/2, -n/2)`,
    :math:`\log h = -\tfrac n2\log 2\pi`:

    .. math::

        \Lambda_n = \Lambda_0 + X^\top X, \quad
        \mu_n = \Lambda_n^{-1}(\Lambda_0\mu_0 + X^\top y), \quad
        \alpha_n = \alpha + \tfrac n2, \quad
        \beta_n = \beta + \tfrac12\big(\lVert y - X\mu_n\rVert^2
                  + (\mu_n - \mu_0)^\top\Lambda_0(\mu_n - \mu_0)\big),

    and :math:`\log p(y) = \log h + A(\chi_n) - A(\chi)`, the multivariate Student-t density
    :math:`t_{2\alpha}(y \mid X\mu_0, (\beta/\alpha)(I_n + X V_0 X^\top))`.

    Parameters
    ----------
    mu0 : tensor_like
        Prior mean of the coefficients, shape ``(..., p)``.
    V0 : tensor_like
        Prior covariance of the coefficients in units of :math:`\sigma^2`, SPD, ``(..., p, p)``.
    alpha, beta : tensor_like
        InverseGamma shape and scale of :math:`\sigma^2`, > 0.
    y : tensor_like
        Responses, shape ``(..., n)``: here the **last** axis indexes observations, matching
        the rows of ``X``.
    X : tensor_like
        Design matrix, shape ``(..., n, p)``.

    Returns
    -------
    RegressionResult
        ``posterior`` is ``pm.InverseGamma.dist(alpha_n, beta_n)`` for :math:`\sigma^2`;
        ``posterior_params`` has ``mu``, ``V`` (:math:`\Lambda_n^{-1}`), ``alpha``, ``beta``;
        :meth:`RegressionResult.coefficients` gives :math:`b` given :math:`\sigma^2` or
        marginally.

    References
    ----------
    Murphy (2007), Conjugate Bayesian analysis of the Gaussian distribution, sec. 9 (linear
    regression with an NIG prior); Bernardo and Smith (1994), Bayesian Theory, sec. 5.2.
    """
    fn = "normal_inverse_gamma_regression"
    _require_ndim(fn, "mu0", mu0, 1, "a coefficient vector")
    _require_ndim(fn, "V0", V0, 2, "a p x p matrix")
    _require_ndim(fn, "y", y, 1, "responses on the last axis")
    _require_ndim(fn, "X", X, 2, "an n x p design matrix")
    _require_same(
        fn,
        "the number of coefficients p",
        {
            "mu0": _static_shape(mu0)[-1],
            "V0 rows": _static_shape(V0)[-2],
            "V0 columns": _static_shape(V0)[-1],
            "X columns": _static_shape(X)[-1],
        },
    )
    _require_same(
        fn,
        "the number of observations n",
        {"y": _static_shape(y)[-1], "X rows": _static_shape(X)[-2]},
    )
    checks = _Checks(fn)
    checks.require("mu0", mu0, "finite", lambda xp, v: xp.isfinite(v))
    checks.require("V0", V0, "symmetric positive definite", _is_spd)
    checks.positive(alpha=alpha, beta=beta)
    checks.require("y", y, "finite", lambda xp, v: xp.isfinite(v))
    checks.require("X", X, "finite", lambda xp, v: xp.isfinite(v))
    mu0, V0 = as_float_tensor(mu0), as_float_tensor(V0)
    alpha, beta = as_float_tensor(alpha), as_float_tensor(beta)
    y, X = as_float_tensor(y), as_float_tensor(X)
    lam0, _ = _spd_inverse(V0)
    xtx = X.mT @ X
    n = pt.cast(y.shape[-1], "float64")
    p = pt.cast(mu0.shape[-1], "float64")

    def chi_of(m):
        h = _spd_matvec(lam0, m)
        return (h, -0.5 * lam0, -(0.5 * pt.sum(m * h, axis=-1) + beta), -(alpha + 1 + 0.5 * p))

    def delta_of(v):
        return (_spd_matvec(X.mT, v), -0.5 * xtx, -0.5 * pt.sum(v**2, axis=-1), -0.5 * n)

    chi, delta = chi_of(mu0), delta_of(y)
    chi_post = _add(chi, delta)
    lam_post = -2 * chi_post[1]
    centre = zero_grad(families._spd_solve(lam_post, chi_post[0]))
    chi_c, delta_c = chi_of(mu0 - centre), delta_of(y - _spd_matvec(X, centre))
    chi_post_c = _add(chi_c, delta_c)
    mu_post = centre + families._spd_solve(lam_post, chi_post_c[0])
    v_post, _ = _spd_inverse(lam_post)
    # alpha_n and beta_n from the centred chi, where h_n ~ 0 and beta_n is a sum of squares.
    h_c = chi_post_c[0]
    a_post = -chi_post_c[3] - 1 - 0.5 * p
    b_post = -chi_post_c[2] - 0.5 * pt.sum(h_c * families._spd_solve(lam_post, h_c), axis=-1)
    log_base = -0.5 * n * LOG_2PI
    return _result(
        checks,
        None,
        NaturalInverseGamma,
        chi,
        chi_post,
        _log_evidence(_nig_log_partition, chi_c, delta_c, log_base),
        pm.InverseGamma.dist(alpha=a_post, beta=b_post),
        {"mu": mu_post, "V": v_post, "alpha": a_post, "beta": b_post},
        result_cls=RegressionResult,
        natural_params=lambda: {"eta": _stack(-a_post - 1, -b_post)},
    )


# ---------------------------------------------------------------------------------------------
# Dispatch from PyMC distributions
# ---------------------------------------------------------------------------------------------
def _prior_params(prior: TensorVariable) -> tuple[str, dict[str, TensorVariable]]:
    """Name and classical parameters of a PyMC or ``Natural*`` prior, from its natural form."""
    if getattr(prior, "owner", None) is None:
        raise TypeError(
            "conjugate_update: `prior` must be a PyMC distribution such as "
            f"pm.Beta.dist(1, 1); got {prior!r}."
        )
    try:
        family, eta, _ = family_form(prior)
    except NotImplementedError:
        return type(prior.owner.op).__name__.removesuffix("RV"), {}
    name = family.name
    if name == "Beta":
        return name, {"alpha": eta[..., 0] + 1, "beta": eta[..., 1] + 1}
    if name == "Gamma":
        return name, {"alpha": eta[..., 0] + 1, "beta": -eta[..., 1]}
    if name == "Dirichlet":
        return name, {"a": eta + 1}
    if name == "Normal":
        return name, {
            "mu0": -eta[..., 0] / (2 * eta[..., 1]),
            "sigma0": pt.sqrt(-0.5 / eta[..., 1]),
        }
    if name == "MvNormal":
        precision = -2 * eta[1]
        cov0, _ = _spd_inverse(precision)
        return name, {"mu0": families._spd_solve(precision, eta[0]), "cov0": cov0}
    return name, {}


_PAIRS: dict[tuple[str, str], tuple[Callable[..., ConjugateResult], tuple[str, ...]]] = {
    ("Beta", "Bernoulli"): (beta_bernoulli, ()),
    ("Beta", "Binomial"): (beta_binomial, ("n",)),
    ("Gamma", "Poisson"): (gamma_poisson, ()),
    ("Gamma", "Exponential"): (gamma_exponential, ()),
    ("Gamma", "Normal"): (gamma_normal, ("mu",)),
    ("Dirichlet", "Categorical"): (dirichlet_categorical, ()),
    ("Dirichlet", "Multinomial"): (dirichlet_multinomial, ("n",)),
    ("Normal", "Normal"): (normal_normal, ("sigma",)),
    ("MvNormal", "MvNormal"): (mvnormal_mvnormal, ("cov",)),
}
_OPTIONAL_KNOWN = {("Dirichlet", "Multinomial"): ("n",)}


def conjugate_update(prior: TensorVariable, likelihood: Any, data: Any, **known: Any):
    r"""Exact conjugate update from a PyMC prior and a likelihood class.

    Dispatches to the named function of the pair (:func:`beta_binomial`, :func:`gamma_poisson`,
    ...). Supported pairs, with the known likelihood parameters each needs:

    =============  ============================  ================
    prior          likelihood                    known
    =============  ============================  ================
    Beta           Bernoulli, Binomial           ``n`` (Binomial)
    Gamma          Poisson, Exponential          -
    Gamma          Normal (prior on precision)   ``mu``
    Dirichlet      Categorical, Multinomial      ``n`` (optional)
    Normal         Normal (prior on the mean)    ``sigma``
    MvNormal       MvNormal (prior on the mean)  ``cov``
    =============  ============================  ================

    For the linear regression use :func:`normal_inverse_gamma_regression`.

    Parameters
    ----------
    prior : TensorVariable
        The prior, a PyMC distribution (``pm.Beta.dist(2, 3)``, or a model variable) or a
        ``Natural*`` distribution of this package.
    likelihood : type or str
        The likelihood: a PyMC distribution class (``pm.Binomial``), a ``Natural*`` class or
        its name (``"Binomial"``).
    data : tensor_like
        Observations; the first axis indexes them (see the module notes).
    **known
        Known likelihood parameters (``n``, ``mu``, ``sigma``, ``cov``).

    Returns
    -------
    ConjugateResult

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> r = psm.conjugate_update(pm.Beta.dist(1.0, 1.0), pm.Binomial, [3, 5], n=10)
    >>> float(r.posterior_params["alpha"].eval())
    9.0
    """
    prior_name, params = _prior_params(prior)
    if isinstance(likelihood, str):
        lik_name = likelihood
    elif hasattr(likelihood, "family"):
        lik_name = likelihood.family.name
    else:
        lik_name = getattr(likelihood, "__name__", repr(likelihood))
    lik_name = lik_name.removeprefix("Natural")
    key = (prior_name, lik_name)
    if key not in _PAIRS:
        pairs = ", ".join(f"{p}-{q}" for p, q in _PAIRS)
        raise ValueError(
            f"conjugate_update: no conjugate update for a {prior_name} prior with a {lik_name} "
            f"likelihood; supported (prior-likelihood): {pairs}."
        )
    fn, needed = _PAIRS[key]
    optional = _OPTIONAL_KNOWN.get(key, ())
    unexpected = set(known) - set(needed)
    missing = set(needed) - set(known) - set(optional)
    if unexpected or missing:
        raise TypeError(
            f"conjugate_update: a {prior_name}-{lik_name} update takes the known parameters "
            f"{list(needed) or 'none'}; missing {sorted(missing)}, unexpected {sorted(unexpected)}."
        )
    return fn(*params.values(), data, **known)
