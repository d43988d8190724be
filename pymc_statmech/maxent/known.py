r"""Closed-form maximum-entropy solutions: the classical table, recognised by the span of T.

The maximum-entropy solution depends on the constraints only through the linear span of
:math:`\{1, T_1, \dots, T_d\}` and the targets mapped along with it: ``mean(m)`` with
``moment(2, s)`` and ``expect(lambda x: (x - 2)**2, v)`` with ``mean(m)`` both give a normal.
A problem is matched to a classical family by evaluating its statistics (and the log base
measure) at probe points of the domain and solving for the affine map onto the family's
canonical statistics :math:`S`: :math:`T = M S + b`, and :math:`\log q = \log h + \beta\cdot S
+ \text{const}`. The family's mean parameters are then :math:`E[S] = M^{-1}(c - b)`, a
differentiable function of the targets, and the family member is returned as the PyMC
distribution with that mean. The canonical statistics, base measures and distributions are
those declared in :mod:`pymc_statmech.expfam.families`; this module only says on which domains
each family is the maximum-entropy solution.

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

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from pymc_statmech._compile import eager_function
from pymc_statmech.expfam import families
from pymc_statmech.expfam.distributions import NATURAL_DISTRIBUTIONS
from pymc_statmech.expfam.family import Family
from pymc_statmech.maxent.domains import Circle, Discrete, HalfLine, Integers, Interval, RealLine
from pymc_statmech.tensors import as_float_tensor

__all__ = ["KNOWN_FORMS", "KnownForm", "KnownMatch", "recognise"]

# Relative least-squares residual below which a statistic lies in the canonical span.
_SPAN_TOL = 1e-9


@dataclass(frozen=True)
class KnownForm:
    """A classical maximum-entropy result: the domains where it applies and the family it is.

    The canonical statistics, the base measure and the PyMC distribution all come from the
    ``family``'s declaration in :mod:`pymc_statmech.expfam.families` (its fixed parameters read
    from the domain by ``fixed``). ``components`` picks a sub-family of the declared one (the
    other natural components 0), which then needs its own ``build``; a form with no family (the
    uniform laws, no constraints) is its ``build`` alone.
    """

    name: str
    applies: Callable[[Any], bool]
    family: Family | None = None
    fixed: Callable[[Any], dict[str, float]] = field(default=lambda domain: {})
    components: tuple[int, ...] | None = None
    build: Callable[..., Any] | None = None

    def canonical(self, x: np.ndarray, domain) -> tuple[np.ndarray, np.ndarray]:
        """The family's statistics ``(k, len(x))`` and log base measure at the points ``x``."""
        if self.family is None:
            return np.zeros((0, x.size)), np.zeros(x.size)
        values = _canonical_function(self, tuple(sorted(self.fixed(domain).items())))(x)
        return np.array(values[:-1]).reshape(len(values) - 1, x.size), np.asarray(values[-1])

    def distribution(self, means, domain):
        """The PyMC distribution whose expected canonical statistics are ``means`` (batch +
        (k,)): the family's own builder, else ``builtin`` at ``natural_from_mean(means)``,
        else the family's ``Natural*`` distribution."""
        if self.build is not None:
            return self.build(means, domain)
        # a count (the binomial's n) stays an integer, as PyMC's distributions take it
        fixed = {
            k: pt.as_tensor_variable(np.int64(v)) if isinstance(v, int) else as_float_tensor(v)
            for k, v in self.fixed(domain).items()
        }
        scalar = self.family.natural_ndims == (0,)
        eta = self.family.natural_from_mean(means[..., 0] if scalar else means, **fixed)
        if self.family.builtin is not None:
            return self.family.builtin(eta, **fixed)
        return _natural_distribution(self.family).dist(eta=eta, **fixed)


@functools.lru_cache(maxsize=64)
def _canonical_function(form: KnownForm, fixed: tuple[tuple[str, float], ...]):
    """``x -> [*S(x), log h(x)]`` of a form's family with its fixed parameters, built once (the
    recognition runs for every solve)."""
    points = pt.dvector("x")
    values = {k: as_float_tensor(v) for k, v in fixed}
    stats = form.family.statistics(points, **values)
    stats = list(stats) if isinstance(stats, list | tuple) else [stats]
    if form.components is not None:
        stats = [stats[k] for k in form.components]
    return eager_function([points], [*stats, form.family.log_base_measure(points, **values)])


def _natural_distribution(family: Family):
    """The ``Natural*`` distribution declared with ``family``."""
    for cls in NATURAL_DISTRIBUTIONS:
        if cls.family is family:
            return cls
    raise LookupError(f"{family.name} has neither a PyMC built-in nor a Natural* distribution.")


def _finite_integers(domain) -> tuple[int, int] | None:
    if isinstance(domain, Integers) and np.isfinite(domain.upper):
        return int(domain.lower), int(domain.upper)
    if isinstance(domain, Discrete) and domain.integer:
        v = domain.values
        if np.all(np.diff(v) == 1):
            return int(v[0]), int(v[-1])
    return None


def _unit_interval(domain) -> bool:
    return isinstance(domain, Interval) and (domain.lower, domain.upper) == (0.0, 1.0)


def _half_line(domain) -> bool:
    return isinstance(domain, HalfLine) and domain.lower == 0


def _integers_from(lower: int) -> Callable[[Any], bool]:
    def applies(domain):
        return (
            isinstance(domain, Integers) and domain.lower == lower and not np.isfinite(domain.upper)
        )

    return applies


def _real_line(domain) -> bool:
    return isinstance(domain, RealLine)


def _circle(domain) -> bool:
    return isinstance(domain, Circle)


KNOWN_FORMS: tuple[KnownForm, ...] = (
    KnownForm(
        "DiscreteUniform",
        lambda d: _finite_integers(d) is not None,
        build=lambda E, d: pm.DiscreteUniform.dist(
            *(pt.as_tensor_variable(np.int64(v)) for v in _finite_integers(d))
        ),
    ),
    KnownForm(
        "Uniform",
        lambda d: isinstance(d, Interval),
        build=lambda E, d: pm.Uniform.dist(as_float_tensor(d.lower), as_float_tensor(d.upper)),
    ),
    KnownForm(
        "Uniform on the circle",
        _circle,
        build=lambda E, d: pm.Uniform.dist(as_float_tensor(-np.pi), as_float_tensor(np.pi)),
    ),
    KnownForm("Exponential", _half_line, families.exponential),
    KnownForm("HalfNormal", _half_line, families.half_normal),
    KnownForm("Gamma", _half_line, families.gamma),
    KnownForm("InverseGamma", _half_line, families.inverse_gamma),
    KnownForm("LogNormal", _half_line, families.lognormal),
    KnownForm(
        "Pareto",
        lambda d: isinstance(d, HalfLine) and d.lower > 0,
        families.pareto,
        fixed=lambda d: {"m": d.lower},
    ),
    KnownForm("Normal", _real_line, families.normal),
    KnownForm("Laplace", _real_line, families.laplace, fixed=lambda d: {"mu": 0.0}),
    KnownForm("Beta", _unit_interval, families.beta),
    # the sub-families with beta = 1 or alpha = 1: E[log x] = -1/alpha, E[log(1 - x)] = -1/beta
    KnownForm(
        "Beta(alpha, 1)",
        _unit_interval,
        families.beta,
        components=(0,),
        build=lambda E, d: pm.Beta.dist(alpha=-1 / E[..., 0], beta=as_float_tensor(1.0)),
    ),
    KnownForm(
        "Beta(1, beta)",
        _unit_interval,
        families.beta,
        components=(1,),
        build=lambda E, d: pm.Beta.dist(alpha=as_float_tensor(1.0), beta=-1 / E[..., 0]),
    ),
    KnownForm("VonMises", _circle, families.von_mises),
    KnownForm("Bernoulli", lambda d: _finite_integers(d) == (0, 1), families.bernoulli),
    KnownForm(
        "Binomial",
        lambda d: isinstance(d, Integers) and d.lower == 0 and np.isfinite(d.upper),
        families.binomial,
        fixed=lambda d: {"n": int(d.upper)},
    ),
    KnownForm("Poisson", _integers_from(0), families.poisson),
    KnownForm("Geometric", _integers_from(1), families.geometric_trials),
    KnownForm("Geometric on 0, 1, ...", _integers_from(0), families.geometric),
)


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
        return self.form.distribution(self.canonical_means(targets), domain)


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
        if not form.applies(problem.domain):
            continue
        S, log_h = form.canonical(x, problem.domain)
        if len(S) != len(problem):
            continue
        match = _match(form, x, S, log_h, T, logq)
        if match is not None:
            return match
    return None


def _match(form, x, S, log_h, T, logq) -> KnownMatch | None:
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
    if not len(S):
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
