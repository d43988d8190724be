r"""Closed-form maximum-entropy solutions: the classical table, recognised by the span of T.

The maximum-entropy solution depends on the constraints only through the linear span of
:math:`\{1, T_1, \dots, T_d\}` and the targets mapped along with it: ``mean(m)`` with
``moment(2, s)`` and ``expect(lambda x: (x - 2)**2, v)`` with ``mean(m)`` both give a normal.
A problem is matched to a classical family by evaluating its statistics (and the log base
measure) at probe points of the domain and solving for the affine map onto the family's
canonical statistics :math:`S`: :math:`T = M S + b`, and :math:`\log q = \log h + \beta\cdot S
+ \text{const}`. The family's mean parameters are then :math:`E[S] = M^{-1}(c - b)`, a
differentiable function of the targets, and the family member is returned as the PyMC
distribution with that mean.

=====================  ===========================================  ====================
domain                 constraints (span)                           solution
=====================  ===========================================  ====================
finite integers        none                                         DiscreteUniform
Interval(a, b)         none                                         Uniform
Circle                 none                                         Uniform(-pi, pi)
HalfLine(0)            E[x]                                         Exponential
HalfLine(0)            E[x^2]                                       HalfNormal
HalfLine(0)            E[x], E[log x]                               Gamma
HalfLine(0)            E[log x], E[1/x]                             InverseGamma
HalfLine(0)            E[log x], E[(log x)^2]                       LogNormal
HalfLine(m > 0)        E[log x]                                     Pareto
RealLine               E[x], E[x^2]                                 Normal
RealLine               E[|x|]                                       Laplace
Interval(0, 1)         E[log x], E[log(1 - x)]                      Beta
Interval(0, 1)         E[log x]                                     Beta(alpha, 1)
Interval(0, 1)         E[log(1 - x)]                                Beta(1, beta)
Circle                 E[cos x], E[sin x]                           VonMises
{0, 1}                 E[x]                                         Bernoulli
Integers(0, n)         E[x], base binom(n, x)                       Binomial
Integers(0)            E[x], base 1/x!                              Poisson
Integers(1)            E[x]                                         Geometric
Integers(0)            E[x]                                         Geometric on 0, 1, ...
=====================  ===========================================  ====================

References
----------
.. [1] Kagan, A. M., Linnik, Yu. V. and Rao, C. R. (1973). Characterization Problems in
   Mathematical Statistics. Wiley, ch. 13.
.. [2] Park, S. Y. and Bera, A. K. (2009). Maximum entropy autoregressive conditional
   heteroskedasticity model. J. Econometrics 150, 219-230 (Table 1: maximum-entropy
   characterisations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln

from pymc_statmech.expfam import families
from pymc_statmech.expfam.distributions import NaturalGeometric
from pymc_statmech.maxent.domains import Circle, Discrete, HalfLine, Integers, Interval, RealLine
from pymc_statmech.tensors import as_float_tensor

__all__ = ["KNOWN_FORMS", "KnownForm", "KnownMatch", "recognise"]

# Relative least-squares residual below which a statistic lies in the canonical span.
_SPAN_TOL = 1e-9


@dataclass(frozen=True)
class KnownForm:
    """A classical maximum-entropy result: domain, canonical statistics, PyMC builder."""

    name: str
    applies: Callable[[Any], bool]
    statistics: tuple[Callable[[np.ndarray], np.ndarray], ...]
    build: Callable[..., Any]
    log_base: Callable[[np.ndarray], np.ndarray] | None = None


def _finite_integers(domain) -> tuple[int, int] | None:
    if isinstance(domain, Integers) and np.isfinite(domain.upper):
        return int(domain.lower), int(domain.upper)
    if isinstance(domain, Discrete) and domain.integer:
        v = domain.values
        if np.all(np.diff(v) == 1):
            return int(v[0]), int(v[-1])
    return None


def _interval(lower, upper):
    def applies(domain):
        return isinstance(domain, Interval) and (domain.lower, domain.upper) == (lower, upper)

    return applies


def _half_line(domain) -> bool:
    return isinstance(domain, HalfLine) and domain.lower == 0


def _newton(family, E):
    # The family's own mean-to-natural map (closed form or Newton on its dual).
    return family.natural_from_mean(E)


def _gamma(E, domain):
    eta = _newton(families.gamma, E[..., ::-1])  # gamma's statistics are (log x, x)
    return pm.Gamma.dist(alpha=eta[..., 0] + 1, beta=-eta[..., 1])


def _inverse_gamma(E, domain):
    eta = _newton(families.inverse_gamma, E)
    return pm.InverseGamma.dist(alpha=-eta[..., 0] - 1, beta=-eta[..., 1])


def _beta(E, domain):
    eta = _newton(families.beta, E)
    return pm.Beta.dist(alpha=eta[..., 0] + 1, beta=eta[..., 1] + 1)


def _von_mises(E, domain):
    eta = _newton(families.von_mises, E)
    return pm.VonMises.dist(
        mu=pt.arctan2(eta[..., 1], eta[..., 0]), kappa=pt.sqrt(eta[..., 0] ** 2 + eta[..., 1] ** 2)
    )


def _binomial_applies(domain) -> bool:
    return isinstance(domain, Integers) and domain.lower == 0 and np.isfinite(domain.upper)


def _binomial_base(domain):
    n = domain.upper
    return lambda k: gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


KNOWN_FORMS: tuple[KnownForm, ...] = (
    KnownForm(
        "DiscreteUniform",
        lambda d: _finite_integers(d) is not None,
        (),
        lambda E, d: pm.DiscreteUniform.dist(
            *(pt.as_tensor_variable(np.int64(v)) for v in _finite_integers(d))
        ),
    ),
    KnownForm(
        "Uniform",
        lambda d: isinstance(d, Interval),
        (),
        lambda E, d: pm.Uniform.dist(as_float_tensor(d.lower), as_float_tensor(d.upper)),
    ),
    KnownForm(
        "Uniform on the circle",
        lambda d: isinstance(d, Circle),
        (),
        lambda E, d: pm.Uniform.dist(as_float_tensor(-np.pi), as_float_tensor(np.pi)),
    ),
    KnownForm(
        "Exponential",
        _half_line,
        (lambda x: x,),
        lambda E, d: pm.Exponential.dist(lam=1 / E[..., 0]),
    ),
    KnownForm(
        "HalfNormal",
        _half_line,
        (lambda x: x**2,),
        lambda E, d: pm.HalfNormal.dist(sigma=pt.sqrt(E[..., 0])),
    ),
    KnownForm("Gamma", _half_line, (lambda x: x, np.log), _gamma),
    KnownForm("InverseGamma", _half_line, (np.log, lambda x: 1 / x), _inverse_gamma),
    KnownForm(
        "LogNormal",
        _half_line,
        (np.log, lambda x: np.log(x) ** 2),
        lambda E, d: pm.LogNormal.dist(mu=E[..., 0], sigma=pt.sqrt(E[..., 1] - E[..., 0] ** 2)),
    ),
    KnownForm(
        "Pareto",
        lambda d: isinstance(d, HalfLine) and d.lower > 0,
        (np.log,),
        lambda E, d: pm.Pareto.dist(
            alpha=1 / (E[..., 0] - np.log(d.lower)), m=as_float_tensor(d.lower)
        ),
    ),
    KnownForm(
        "Normal",
        lambda d: isinstance(d, RealLine),
        (lambda x: x, lambda x: x**2),
        lambda E, d: pm.Normal.dist(mu=E[..., 0], sigma=pt.sqrt(E[..., 1] - E[..., 0] ** 2)),
    ),
    KnownForm(
        "Laplace",
        lambda d: isinstance(d, RealLine),
        (np.abs,),
        lambda E, d: pm.Laplace.dist(as_float_tensor(0.0), E[..., 0]),
    ),
    KnownForm("Beta", _interval(0.0, 1.0), (np.log, lambda x: np.log1p(-x)), _beta),
    KnownForm(
        "Beta(alpha, 1)",
        _interval(0.0, 1.0),
        (np.log,),
        lambda E, d: pm.Beta.dist(alpha=-1 / E[..., 0], beta=as_float_tensor(1.0)),
    ),
    KnownForm(
        "Beta(1, beta)",
        _interval(0.0, 1.0),
        (lambda x: np.log1p(-x),),
        lambda E, d: pm.Beta.dist(alpha=as_float_tensor(1.0), beta=-1 / E[..., 0]),
    ),
    KnownForm("VonMises", lambda d: isinstance(d, Circle), (np.cos, np.sin), _von_mises),
    KnownForm(
        "Bernoulli",
        lambda d: _finite_integers(d) == (0, 1),
        (lambda x: x,),
        lambda E, d: pm.Bernoulli.dist(p=E[..., 0]),
    ),
    KnownForm(
        "Binomial",
        _binomial_applies,
        (lambda x: x,),
        lambda E, d: pm.Binomial.dist(n=int(d.upper), p=E[..., 0] / d.upper),
        log_base="binomial",
    ),
    KnownForm(
        "Poisson",
        lambda d: isinstance(d, Integers) and d.lower == 0 and not np.isfinite(d.upper),
        (lambda x: x,),
        lambda E, d: pm.Poisson.dist(mu=E[..., 0]),
        log_base=lambda k: -gammaln(k + 1),
    ),
    KnownForm(
        "Geometric",
        lambda d: isinstance(d, Integers) and d.lower == 1 and not np.isfinite(d.upper),
        (lambda x: x,),
        lambda E, d: pm.Geometric.dist(p=1 / E[..., 0]),
    ),
    KnownForm(
        "Geometric on 0, 1, ...",
        lambda d: isinstance(d, Integers) and d.lower == 0 and not np.isfinite(d.upper),
        (lambda x: x,),
        lambda E, d: _natural_geometric(E),
    ),
)


def _natural_geometric(E):
    return NaturalGeometric.dist(eta=pt.log(E[..., 0] / (1 + E[..., 0])))


def _probes(domain) -> np.ndarray:
    # Points of the domain away from its edges, irregularly spaced so no statistic vanishes
    # on all of them by accident.
    u = np.array([0.031, 0.093, 0.17, 0.26, 0.35, 0.41, 0.52, 0.63, 0.71, 0.78, 0.86, 0.94])
    if isinstance(domain, Discrete):
        return domain.values
    if isinstance(domain, Integers):
        top = domain.upper if np.isfinite(domain.upper) else domain.lower + 23
        return np.arange(domain.lower, top + 1)
    if isinstance(domain, Circle):
        return -np.pi + 2 * np.pi * u
    if isinstance(domain, Interval):
        return domain.lower + (domain.upper - domain.lower) * u
    if isinstance(domain, HalfLine):
        return domain.lower + (1 + abs(domain.lower)) * u / (1 - u) * 3
    return np.tan(np.pi * (u - 0.5)) * 2


@dataclass(frozen=True)
class KnownMatch:
    """A recognised closed form: ``E[S] = M^{-1} (c - b)``."""

    form: KnownForm
    inverse: np.ndarray
    offset: np.ndarray

    @property
    def name(self) -> str:
        return self.form.name

    def __repr__(self):
        return f"KnownMatch({self.form.name})"

    def canonical_means(self, targets):
        """:math:`E[S]` from the constraint targets (batch + (d,)), differentiable."""
        targets = pt.as_tensor_variable(targets).astype("float64")
        if not self.inverse.size:
            return targets
        return pt.tensordot(targets - self.offset, self.inverse.T, axes=[[-1], [0]])

    def distribution(self, targets, domain):
        return self.form.build(self.canonical_means(targets), domain)


def recognise(problem) -> KnownMatch | None:
    """The closed form of a problem, or None (statistics or base with random parameters:
    None)."""
    if problem.symbolic_statistics:
        return None
    x = _probes(problem.domain)
    T, logq = problem.statistics_at(x)
    if not (np.all(np.isfinite(T)) and np.all(np.isfinite(logq))):
        return None
    for form in KNOWN_FORMS:
        if not form.applies(problem.domain) or len(form.statistics) != len(problem):
            continue
        match = _match(form, problem.domain, x, T, logq)
        if match is not None:
            return match
    return None


def _match(form, domain, x, T, logq) -> KnownMatch | None:
    with np.errstate(all="ignore"):
        S = np.array([s(x) for s in form.statistics]).reshape(len(form.statistics), x.size)
        if form.log_base == "binomial":
            log_h = _binomial_base(domain)(x)
        else:
            log_h = form.log_base(x) if form.log_base is not None else np.zeros_like(x)
    design = np.column_stack([np.ones_like(x), S.T])
    if len(x) < design.shape[1]:
        return None
    rank = np.linalg.matrix_rank(design)
    if rank < design.shape[1]:
        return None

    def in_span(y):
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = np.abs(design @ coef - y).max()
        return coef, resid <= _SPAN_TOL * (1 + np.abs(y).max())

    _, base_ok = in_span(logq - log_h)
    if not base_ok:
        return None
    if not len(form.statistics):
        return KnownMatch(form, np.zeros((0, 0)), np.zeros(0))
    rows = []
    for t in T:
        coef, ok = in_span(t)
        if not ok:
            return None
        rows.append(coef)
    coef = np.array(rows)  # T = b + M S
    M, b = coef[:, 1:], coef[:, 0]
    if abs(np.linalg.det(M)) < 1e-12 * max(1.0, np.abs(M).max() ** len(M)):
        return None
    return KnownMatch(form, np.linalg.inv(M), b)
