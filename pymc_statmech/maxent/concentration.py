r"""Concentration of empirical means: rate functions, tail probabilities, Gibbs conditioning.

Everything here is the maximum-entropy dual of :mod:`pymc_statmech.maxent.problem` read
another way. For a base law :math:`q` and a statistic :math:`T`, the minimum relative entropy
problem :math:`\min_p KL(p\,\|\,q)` subject to :math:`E_p[T] = a` is solved by the exponential
tilt (I-projection) :math:`p_\lambda(x) = q(x)\,e^{\lambda T(x) - \Lambda(\lambda)}` with
:math:`\Lambda(\lambda) = \log E_q e^{\lambda T}` and :math:`\Lambda'(\lambda) = a`, and its
value is Cramér's rate function

.. math:: I(a) = \sup_\lambda\,[\lambda a - \Lambda(\lambda)] = \lambda^* a - \Lambda(\lambda^*)
          = KL(p_{\lambda^*}\,\|\,q) \quad\text{(nats)}.

:func:`maxent_solve` computes :math:`\lambda^*` (the multiplier), :math:`\Lambda` (the
log-partition with the base measure :math:`q`) and :math:`\Lambda'' = \mathrm{Var}_{\lambda^*}[T]`
(the Fisher information of the solution's family); the three public functions here are
built from them:

* :func:`rate_function` -- :math:`I(a)` (Cramér 1938; by Sanov's theorem also the rate of the
  empirical measure's mean, :math:`\min\{KL(\nu\|q) : E_\nu T = a\}`);
* :func:`tail_probability` -- :math:`P(\bar T_n \ge a)`: the Chernoff bound
  :math:`e^{-nI(a)}`, the Bahadur-Rao asymptotics, or the exact value by convolution;
* :func:`gibbs_conditional` -- the limit law of :math:`X_1` given the empirical constraint
  :math:`\bar T_n = a` (the Gibbs conditioning principle), i.e. the I-projection itself as a
  PyMC distribution.

Base laws
---------
The base is a scalar PyMC distribution (``pm.X.dist(...)``, numeric parameters) or a pair
``(values, probs)`` of a finite law; :func:`domain_of` maps it to a maximum-entropy domain:

* finite laws (``(values, probs)``, Bernoulli, Binomial, BetaBinomial, Categorical,
  DiscreteUniform, HyperGeometric): ``Discrete(support)``, the support read from the
  parameters, restricted to points of positive probability;
* other discrete laws: ``Integers(lower)``, ``lower`` the first integer of positive probability
  (probed at -8..8; Poisson and negative binomial 0, geometric 1);
* continuous laws: from PyMC's default transform, which encodes the support: none ->
  ``RealLine()``, log -> ``HalfLine(0)``, log-odds -> ``Interval(0, 1)``, interval
  ``(lower, upper)`` -> ``Interval`` or ``HalfLine(lower)``, circular -> ``Circle()``.

PyMC stores a parameter in the narrowest exact dtype (``3.0`` as float32, ``7`` as int8) and
then rounds its log-density in float32 (``log 3``, ``log 6`` for a die: errors of 1e-8); such
constants are widened to 64 bits, and the widened log-density is handed to
:func:`maxent_solve` as the callable base, so rates are exact to rounding.

References
----------
.. [1] Cramér, H. (1938). Sur un nouveau théorème-limite de la théorie des probabilités.
   Actualités Scientifiques et Industrielles 736, 5-23.
.. [2] Sanov, I. N. (1957). On the probability of large deviations of random variables.
   Mat. Sbornik 42(84), 11-44.
.. [3] Bahadur, R. R. and Ranga Rao, R. (1960). On deviations of the sample mean.
   Ann. Math. Statist. 31(4), 1015-1027.
.. [4] Csiszár, I. (1984). Sanov property, generalized I-projection and a conditional limit
   theorem. Ann. Probab. 12(3), 768-793.
.. [5] Dembo, A. and Zeitouni, O. (1998). Large Deviations Techniques and Applications,
   2nd ed. Springer. Theorem 2.2.3 (Cramér), 2.1.10 (Sanov), 3.7.4 (Bahadur-Rao),
   section 7.3 (Gibbs conditioning).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.discrete import DiscreteUniformRV
from pymc.distributions.distribution import SymbolicRandomVariable
from pymc.distributions.transforms import (
    CircularTransform,
    IntervalTransform,
    LogOddsTransform,
    LogTransform,
    _default_transform,
)
from pytensor.graph.basic import Variable
from pytensor.tensor.random.basic import (
    BernoulliRV,
    BetaBinomialRV,
    BinomialRV,
    CategoricalRV,
    HyperGeometricRV,
)
from pytensor.tensor.random.op import RandomVariable
from scipy.special import logsumexp

from pymc_statmech._compile import EAGER_MODE, eager_function, numpy_evaluation
from pymc_statmech.maxent.constraints import (
    Constraint,
    InfeasibleConstraintsError,
    expect,
    mean,
)
from pymc_statmech.maxent.domains import (
    Circle,
    Discrete,
    Domain,
    HalfLine,
    Integers,
    Interval,
    RealLine,
)
from pymc_statmech.maxent.problem import (
    EDGE_MASS_TOL,
    NESTED_TOL,
    TAIL_TOL,
    edge_mass,
    maxent_solve,
    nested_gap,
    tail_bound,
)
from pymc_statmech.tensors import widen_constants

__all__ = ["domain_of", "gibbs_conditional", "rate_function", "tail_probability"]

_EPS = np.finfo("float64").eps
# |a - E_q T| below this many eps times (|E_q T| + sd) is the mean itself (I = 0 exactly);
# the true rate there is below 1e-27.
_MEAN_SNAP = 64.0
# Draws used only to place the first measure when computing E_q[T] on an infinite support.
_GUESS_DRAWS = 4096
# Lattice detection: largest denominator of a ratio of two atoms' spacings, and agreement.
_LATTICE_DENOMINATOR = 1000
_LATTICE_TOL = 1e-9
# Largest amount of work (log-sum-exp updates) accepted by the exact convolution.
_EXACT_BUDGET = 4e9
# Probe of the statistic's range on an infinite integer support.
_PROBE = 4096

_FINITE_OPS = (
    BernoulliRV,
    BinomialRV,
    BetaBinomialRV,
    CategoricalRV,
    DiscreteUniformRV,
    HyperGeometricRV,
)


# ---------------------------------------------------------------------------------------------
# The base law
# ---------------------------------------------------------------------------------------------
@dataclass
class _Law:
    """A base law ready for :func:`maxent_solve`."""

    domain: Domain
    base: Any  # what maxent_solve receives for rates: a callable log q(x)
    rv: Any = None  # the (widened) PyMC variable, if the base was one
    values: np.ndarray | None = None  # finite support (positive probability), sorted
    log_probs: np.ndarray | None = None


def _numeric(expr) -> np.ndarray:
    return np.asarray(eager_function([], expr)())


def _log_q(rv, values: np.ndarray) -> np.ndarray:
    x = pt.dvector("x")
    fn = eager_function([x], pm.logp(rv, x, warn_rvs=False))
    return np.asarray(fn(np.asarray(values, dtype="float64")), dtype="float64")


def _finite_support(rv) -> np.ndarray:
    op, params = rv.owner.op, rv.owner.inputs[2:]
    if isinstance(op, BernoulliRV):
        return np.array([0.0, 1.0])
    if isinstance(op, BinomialRV | BetaBinomialRV):
        return np.arange(int(_numeric(params[0])) + 1, dtype="float64")
    if isinstance(op, CategoricalRV):
        return np.arange(int(_numeric(params[0].shape[-1])), dtype="float64")
    if isinstance(op, DiscreteUniformRV):
        lower, upper = int(_numeric(params[0])), int(_numeric(params[1]))
        return np.arange(lower, upper + 1, dtype="float64")
    good, bad, draws = (int(_numeric(p)) for p in params)  # HyperGeometric
    return np.arange(max(0, draws - bad), min(draws, good) + 1, dtype="float64")


def _pair_law(values: Any, probs: Any) -> _Law:
    v = np.asarray(values, dtype="float64").ravel()
    p = np.asarray(probs, dtype="float64").ravel()
    if v.shape != p.shape or not np.all(np.isfinite(v)):
        raise ValueError(
            f"base: a finite law is (values, probs) with finite values and one probability per "
            f"value, got {v.size} values and {p.size} probabilities."
        )
    if not np.all(np.isfinite(p) & (p >= 0)) or p.sum() <= 0:
        raise ValueError(
            f"base: probabilities must be finite and >= 0 with a positive sum, got {probs!r}."
        )
    support, index = np.unique(v, return_inverse=True)
    mass = np.bincount(index, weights=p / p.sum(), minlength=support.size)
    keep = mass > 0
    support, log_probs = support[keep], np.log(mass[keep])
    if support.size < 2:
        raise ValueError(
            f"base: the law {values!r}, {probs!r} has fewer than two atoms; its "
            "empirical mean is constant."
        )
    table_x, table_lp = pt.constant(support), pt.constant(log_probs)

    def log_q(x):
        x = pt.as_tensor_variable(x)
        i = pt.clip(pt.extra_ops.searchsorted(table_x, x), 0, support.size - 1)
        return pt.switch(pt.eq(table_x[i], x), table_lp[i], -np.inf)

    return _Law(Discrete(support), log_q, None, support, log_probs)


def _integer_lower(rv) -> int:
    probe = np.arange(-8.0, 9.0)
    live = np.isfinite(_log_q(rv, probe))
    if live[:8].any():
        raise NotImplementedError(
            f"base: {rv} puts mass on negative integers; only supports bounded below are "
            "handled (pass a finite law as (values, probs))."
        )
    if not live.any():
        raise ValueError(f"base: {rv} has no mass on 0..8; cannot locate its support.")
    return int(probe[np.argmax(live)])


def _continuous_domain(rv) -> Domain:
    transform = _default_transform(rv.owner.op, rv)
    if transform is None:
        return RealLine()
    if isinstance(transform, LogTransform):
        return HalfLine(0.0)
    if isinstance(transform, LogOddsTransform):
        return Interval(0.0, 1.0)
    if isinstance(transform, CircularTransform):
        return Circle()
    if isinstance(transform, IntervalTransform):
        lower, upper = transform.args_fn(*rv.owner.inputs)
        lower = None if lower is None else float(_numeric(lower))
        upper = None if upper is None else float(_numeric(upper))
        if lower is not None and upper is not None:
            return Interval(lower, upper)
        if lower is not None:
            return HalfLine(lower)
    raise NotImplementedError(
        f"base: cannot map the support of {rv} (default transform {transform!r}) to a "
        "domain; supported are the real line, [lower, inf), (0, 1), [lower, upper] and the "
        "circle."
    )


def _law(base: Any) -> _Law:
    if isinstance(base, tuple | list) and len(base) == 2:
        return _pair_law(*base)
    if not (
        isinstance(base, Variable)
        and base.owner is not None
        and isinstance(base.owner.op, RandomVariable | SymbolicRandomVariable)
    ):
        raise TypeError(
            "base: expected a PyMC distribution (e.g. pm.Binomial.dist(n=10, p=0.3)) or a "
            f"finite law as a pair (values, probs), got {base!r}."
        )
    if base.type.ndim != 0:
        raise ValueError(
            f"base: a scalar distribution is required, got one with {base.type.ndim} "
            "dimension(s) (a batch of laws is not supported; call once per law)."
        )
    rv = widen_constants(base)
    if not rv.type.dtype.startswith("int"):
        return _Law(_continuous_domain(rv), _log_density(rv), rv)
    if isinstance(rv.owner.op, _FINITE_OPS):
        support = _finite_support(rv)
        log_probs = _log_q(rv, support)
        keep = np.isfinite(log_probs)
        if keep.sum() < 2:
            raise ValueError(f"base: {base} has fewer than two atoms; its mean is constant.")
        support, log_probs = support[keep], log_probs[keep]
        return _Law(Discrete(support), _log_density(rv), rv, support, log_probs)
    return _Law(Integers(_integer_lower(rv)), _log_density(rv), rv)


def _log_density(rv) -> Callable[[Any], Any]:
    # The widened variable's log-density as the callable base of maxent_solve (used as is,
    # whatever maxent_solve does to the parameters of a distribution it is given).
    return lambda x: pm.logp(rv, x, warn_rvs=False)


def domain_of(base: Any) -> Domain:
    r"""The maximum-entropy domain on which a base law lives.

    Parameters
    ----------
    base : PyMC distribution or (values, probs)
        A scalar ``pm.X.dist(...)`` with numeric parameters, or a finite law given by its
        values and probabilities.

    Returns
    -------
    Domain
        ``Discrete(support)`` for finite laws (atoms of positive probability), ``Integers(lower)``
        for other discrete laws, and for continuous laws the domain matching PyMC's default
        transform: none -> ``RealLine()``, log -> ``HalfLine(0)``, log-odds ->
        ``Interval(0, 1)``, interval -> ``Interval(lower, upper)`` or ``HalfLine(lower)``,
        circular -> ``Circle()``.

    Raises
    ------
    NotImplementedError
        For supports outside these (e.g. ``(-inf, upper]``, or integers unbounded below).

    Examples
    --------
    >>> import pymc as pm
    >>> from pymc_statmech.maxent.concentration import domain_of
    >>> domain_of(pm.Binomial.dist(n=3, p=0.5))
    Discrete([0.0, 1.0, 2.0, 3.0])
    >>> domain_of(pm.Geometric.dist(p=0.2)), domain_of(pm.Gamma.dist(2.0, 1.0))
    (Integers(lower=1), HalfLine(lower=0.0))
    >>> domain_of(([1, 2, 3], [0.2, 0.0, 0.8]))
    Discrete([1.0, 3.0])
    """
    return _law(base).domain


# ---------------------------------------------------------------------------------------------
# The statistic under the base law
# ---------------------------------------------------------------------------------------------
@dataclass
class _Problem:
    """The base law and statistic: builds the maxent problem for a batch of levels."""

    law: _Law
    statistic: Callable[[Any], Any] | None  # None: the identity
    evaluate: Callable[[np.ndarray], np.ndarray]  # T on NumPy values

    def constraint(self, a) -> Constraint:
        if self.statistic is None:
            return mean(a)
        return expect(self.statistic, a, name="E[T(x)]")

    def domain_for(self, a: np.ndarray) -> Domain:
        domain = self.law.domain
        if (
            isinstance(domain, Integers)
            and not np.isfinite(domain.upper)
            and self.statistic is None
        ):
            # The cutoff maxent_solve picks for its median target, applied to the largest one.
            top = float(np.max(np.abs(a)))
            return Integers(int(domain.lower), cutoff=int(domain.lower + 64 * (top + 1)))
        return domain


@dataclass
class _Setup:
    """Everything about T(X), X ~ q, that the rate and tail computations need."""

    problem: _Problem
    mean: float
    sd: float
    lower: float  # closed range of T (may be infinite)
    upper: float
    log_mass_lower: float  # log q(T = lower), -inf when T has no atom there
    log_mass_upper: float
    span: float  # lattice span of T(X); 0 when non-lattice
    origin: float  # a lattice point (the smallest atom)
    atoms: np.ndarray | None = None  # finite lattice laws: lattice indices of the atoms of T
    atom_log_probs: np.ndarray | None = None

    @property
    def scale(self) -> float:
        return abs(self.mean) + self.sd


def _evaluator(statistic) -> Callable[[np.ndarray], np.ndarray]:
    if statistic is None:
        return lambda x: np.asarray(x, dtype="float64")
    x = pt.dvector("x")
    out = pt.broadcast_to(pt.as_tensor_variable(statistic(x)).astype("float64"), x.shape)
    fn = eager_function([x], out)
    return lambda v: np.asarray(fn(np.asarray(v, dtype="float64")))


def _lattice(t: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Span d and integer indices k with t = t.min() + d k, or (0, None) if not a lattice."""
    t = np.asarray(t, dtype="float64")
    diffs = t - t.min()
    positive = diffs[diffs > 0]
    if positive.size == 0:
        return 0.0, None
    unit = positive.min()
    ratios = [Fraction(float(r)).limit_denominator(_LATTICE_DENOMINATOR) for r in diffs / unit]
    common = math.lcm(*(r.denominator for r in ratios))
    ints = [int(r * common) for r in ratios]
    g = math.gcd(*ints)
    k = np.array([i // g for i in ints], dtype=np.int64)
    span = unit * g / common
    if not np.allclose(k * span, diffs, rtol=_LATTICE_TOL, atol=_LATTICE_TOL * unit):
        return 0.0, None
    return float(span), k


def _boundary_log_mass(t: np.ndarray, log_q: np.ndarray, value: float) -> float:
    at = t == value
    return float(logsumexp(log_q[at])) if at.any() else -np.inf


def _setup(base: Any, statistic: Callable | None) -> _Setup:
    law = _law(base)
    if statistic is not None and not callable(statistic):
        raise TypeError(f"statistic: expected a callable T(x) or None, got {statistic!r}.")
    evaluate = _evaluator(statistic)
    problem = _Problem(law, statistic, evaluate)
    if law.values is not None:
        t = evaluate(law.values)
        if not np.all(np.isfinite(t)):
            raise ValueError("statistic: T(x) is not finite on the support of the base.")
        q = np.exp(law.log_probs - logsumexp(law.log_probs))
        m = float(q @ t)
        sd = float(np.sqrt(max(q @ (t - m) ** 2, 0.0)))
        lo, hi = float(t.min()), float(t.max())
        found_span, k = _lattice(t)
        setup = _Setup(
            problem,
            m,
            sd,
            lo,
            hi,
            _boundary_log_mass(t, law.log_probs, lo),
            _boundary_log_mass(t, law.log_probs, hi),
            found_span,
            lo,
        )
        if found_span > 0:
            setup.atoms, setup.atom_log_probs = k, law.log_probs
        if lo == hi:
            raise ValueError(
                "statistic: T(x) is constant on the support of the base; its "
                "empirical mean does not deviate."
            )
    else:
        setup = _infinite_setup(problem)
    return setup


def _infinite_setup(problem: _Problem) -> _Setup:
    law, statistic, evaluate = problem.law, problem.statistic, problem.evaluate
    domain = law.domain
    rv = law.rv
    if isinstance(domain, Integers):
        lower = domain.lower
        probe = np.unique(
            np.concatenate(
                [
                    lower + np.arange(_PROBE, dtype="float64"),
                    lower + 2.0 ** np.arange(12, 50),
                ]
            )
        )
        log_q = _log_q(rv, probe)
        live = np.isfinite(log_q)
        t = evaluate(probe)
        live &= np.isfinite(t)
        if statistic is None:
            lo, hi = lower, np.inf
        else:
            lo, hi = float(t[live].min()), float(t[live].max())
            # An extreme still moving at the farthest probe points is taken as unbounded.
            last, before = t[live][-1], t[live][-2]
            if last == hi and last > before:
                hi = np.inf
            if last == lo and last < before:
                lo = -np.inf
        log_lo = _boundary_log_mass(t[live], log_q[live], lo) if np.isfinite(lo) else -np.inf
        log_hi = _boundary_log_mass(t[live], log_q[live], hi) if np.isfinite(hi) else -np.inf
        near = live & (probe < lower + _PROBE)
        found_span, _ = _lattice(t[near]) if near.sum() > 1 else (0.0, None)
        origin = float(t[near].min()) if near.any() else lo
    else:
        if statistic is None:
            lo, hi = domain.lower, domain.upper
        else:
            nodes = domain.grid().nodes
            t = evaluate(nodes)
            ok = np.isfinite(t) & np.isfinite(_log_q(rv, nodes))
            order = np.argsort(nodes[ok])
            ts = t[ok][order]
            lo, hi = float(ts.min()), float(ts.max())
            if not isinstance(domain, Circle):
                # An extreme still moving at the outermost node of an infinite side is
                # taken as unbounded.
                left, right = ~np.isfinite(domain.lower), ~np.isfinite(domain.upper)
                if (right and ts[-1] == hi > ts[-2]) or (left and ts[0] == hi > ts[1]):
                    hi = np.inf
                if (right and ts[-1] == lo < ts[-2]) or (left and ts[0] == lo < ts[1]):
                    lo = -np.inf
        log_lo = log_hi = -np.inf  # a continuous law puts no mass on a level of T
        found_span, origin = 0.0, lo
    m, sd = _base_moments(problem, lo, hi)
    return _Setup(problem, m, sd, lo, hi, log_lo, log_hi, found_span, origin)


def _base_moments(problem: _Problem, lo, hi) -> tuple[float, float]:
    """E_q[T] and sd_q[T] on an infinite support, by quadrature on a solved measure.

    A first solve at the mean of T over a few thousand draws places the measure; E_q[T] and
    Var_q[T] are then the family's mean parameters and Fisher information at lambda = 0 on it
    (the draws only choose where the grid goes, not the values).
    """
    with numpy_evaluation(EAGER_MODE):  # drawn once: NumPy, no rewrites, no compilation
        draws = pm.draw(problem.law.rv, draws=_GUESS_DRAWS, random_seed=0)
    t = problem.evaluate(np.asarray(draws, dtype="float64").ravel())
    t = t[np.isfinite(t)]
    guess = float(np.mean(t)) if t.size else 0.5 * (lo + hi)
    spread = float(np.std(t)) if t.size else 1.0
    if not lo < guess < hi:
        inside = t[(t > lo) & (t < hi)]
        guess = float(np.median(inside)) if inside.size else guess
    m = sd = None
    for _ in range(3):
        try:
            solution = _checked_solve(problem, [guess])
        except InfeasibleConstraintsError as err:
            raise InfeasibleConstraintsError(
                f"cannot compute E_q[T] for this base: {err} (the rate function needs "
                "E_q exp(lambda T) finite near lambda = 0)."
            ) from err
        zero = np.zeros((1, 1))
        fam = solution.family
        m, var = eager_function(
            [], [fam.mean_parameters(zero)[0, 0], fam.fisher_information(zero)[0, 0, 0]]
        )()
        m, sd = float(m), float(np.sqrt(max(float(var), 0.0)))
        if abs(m - guess) <= 0.25 * max(sd, spread, _EPS) or not lo < m < hi:
            break
        guess = m
    return m, sd


# ---------------------------------------------------------------------------------------------
# Solving the dual for many targets at once
# ---------------------------------------------------------------------------------------------
def _unresolved(problem: _Problem, solution, targets: np.ndarray) -> np.ndarray:
    """Targets whose batched solution the shared measure does not resolve."""
    lam = np.asarray(solution.multipliers).reshape(len(targets), -1)
    bad = ~np.all(np.isfinite(lam), axis=1)
    grid = solution.grid
    domain = problem.law.domain
    if grid.exact:
        return bad
    nodes = grid.nodes
    log_p = np.asarray(solution.logpdf(nodes)).reshape(len(nodes), -1).T  # (targets, nodes)
    t = problem.evaluate(nodes)
    t = np.where(np.isfinite(t), t, 0.0)
    if isinstance(domain, Integers):
        return bad | ~(tail_bound(log_p[:, np.argsort(nodes)]) <= TAIL_TOL)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.exp(log_p + grid.log_weights)
        pc = np.exp(log_p + grid.coarse_log_weights)
        pc = pc / pc.sum(axis=1, keepdims=True)
        gap = nested_gap(t[None, :], p, pc)[:, 0]
        m_full = p @ t
        sd = np.sqrt(np.maximum(p @ t**2 - m_full**2, 0.0))
        miss = np.abs(m_full - targets) / np.where(sd > 0, sd, 1.0)
    edge = edge_mass(nodes, domain, p)
    return bad | ~(gap <= NESTED_TOL) | ~(miss <= 1e-8) | ~(edge <= EDGE_MASS_TOL)


def _checked_solve(problem: _Problem, targets: Sequence[float]):
    """One maxent_solve over all targets; targets its measure misses are solved alone."""
    targets = np.asarray(targets, dtype="float64")
    base = problem.law.base
    try:
        solution = maxent_solve(problem.domain_for(targets), [problem.constraint(targets)], base)
        failed = _unresolved(problem, solution, targets)
    except InfeasibleConstraintsError:
        if targets.size == 1:
            raise
        solution, failed = None, np.ones(targets.size, dtype=bool)
    if not failed.any():
        return solution
    if targets.size == 1:
        # maxent_solve's own measure (its cutoff and checks) for this single target.
        return maxent_solve(problem.law.domain, [problem.constraint(targets)], base)
    return _Pieces(problem, targets, solution, failed)


class _Pieces:
    """A batch of solutions assembled from a shared solve and individual re-solves."""

    def __init__(self, problem, targets, shared, failed):
        self.parts = []
        for i, target in enumerate(targets):
            if shared is not None and not failed[i]:
                self.parts.append((shared, i))
            else:
                self.parts.append((_checked_solve(problem, [target]), 0))


def _tilt_values(solution, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lambda*, I = lambda* a - Lambda(lambda*), Var_lambda*[T]) for each target."""
    if isinstance(solution, _Pieces):
        cache: dict[int, tuple] = {}
        out = []
        for part, i in solution.parts:
            key = id(part)
            if key not in cache:
                cache[key] = _tilt_values(part, np.asarray(part.multipliers).reshape(-1).size)
            out.append([v[i] for v in cache[key]])
        return tuple(np.array(v) for v in zip(*out, strict=True))
    lam = np.asarray(solution.multipliers, dtype="float64").reshape(count, 1)
    fisher = eager_function([], solution.family.fisher_information(pt.as_tensor_variable(lam)))()
    rate = np.asarray(solution.relative_entropy, dtype="float64").reshape(count)
    return lam[:, 0], np.maximum(rate, 0.0), np.asarray(fisher).reshape(count)


def _tilt(setup: _Setup, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate, multiplier and tilted variance at each (flat) target, every case handled."""
    a = np.asarray(a, dtype="float64").ravel()
    rate = np.full(a.shape, np.inf)
    lam = np.full(a.shape, np.nan)
    var = np.full(a.shape, np.nan)
    tol = (
        _MEAN_SNAP
        * _EPS
        * (
            setup.scale
            + abs(setup.lower if np.isfinite(setup.lower) else 0)
            + abs(setup.upper if np.isfinite(setup.upper) else 0)
        )
    )
    at_mean = np.abs(a - setup.mean) <= _MEAN_SNAP * _EPS * setup.scale
    at_lower = np.isfinite(setup.lower) & (np.abs(a - setup.lower) <= tol)
    at_upper = np.isfinite(setup.upper) & (np.abs(a - setup.upper) <= tol)
    inside = (a > setup.lower) & (a < setup.upper) & ~at_mean & ~at_lower & ~at_upper
    rate[at_mean], lam[at_mean], var[at_mean] = 0.0, 0.0, setup.sd**2
    rate[at_lower], lam[at_lower], var[at_lower] = -setup.log_mass_lower, -np.inf, 0.0
    rate[at_upper], lam[at_upper], var[at_upper] = -setup.log_mass_upper, np.inf, 0.0
    if inside.any():
        targets, index = np.unique(a[inside], return_inverse=True)
        try:
            solution = _checked_solve(setup.problem, targets)
        except InfeasibleConstraintsError as err:
            raise InfeasibleConstraintsError(
                f"no I-projection of the base onto E[T] = a for some a in {targets.tolist()} "
                f"(E_q T = {setup.mean:.6g}): {err} For a rate function this means Cramér's "
                "condition fails on that side: E_q exp(lambda T) is infinite for lambda of the "
                "sign of a - E_q T (a heavy tail, where the rate is 0 beyond the mean), or the "
                "log-moment generating function is not steep there."
            ) from err
        l_, r_, v_ = _tilt_values(solution, targets.size)
        lam[inside], rate[inside], var[inside] = l_[index], r_[index], v_[index]
    return rate, lam, var


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def rate_function(base: Any, statistic: Callable | None = None, a: Any = None) -> np.ndarray:
    r"""Cramér's rate function of the empirical mean of :math:`T(X)`, :math:`X \sim q`.

    .. math:: I(a) = \sup_{\lambda}\,\big[\lambda a - \log E_q e^{\lambda T(X)}\big]
              = KL\big(p_{\lambda^*}\,\big\|\,q\big),
              \qquad p_{\lambda}(x) \propto q(x)\,e^{\lambda T(x)},

    in nats, where :math:`p_{\lambda^*}` is the I-projection of :math:`q` onto
    :math:`\{p : E_p[T] = a\}`, solved by :func:`~pymc_statmech.maxent.problem.maxent_solve`
    (``relative_entropy`` of its solution). By Cramér's theorem
    :math:`\frac1n \log P(\bar T_n \ge a) \to -I(a)` for :math:`a > E_q T`; by Sanov's
    theorem :math:`I(a)` is also :math:`\min\{KL(\nu\,\|\,q) : E_\nu T = a\}`, the rate of the
    empirical measure.

    Parameters
    ----------
    base : PyMC distribution or (values, probs)
        The law :math:`q` of one observation: a scalar ``pm.X.dist(...)`` with numeric
        parameters (e.g. ``pm.Binomial.dist(...)``, ``pm.Poisson.dist(...)``,
        ``pm.Normal.dist(...)``) or a finite law. Its domain is :func:`domain_of` ``(base)``.
    statistic : callable, optional
        :math:`T`, an elementwise PyTensor function of the value; the identity by default.
    a : float or array_like
        Levels of the empirical mean.

    Returns
    -------
    ndarray
        :math:`I(a)`, same shape as ``a``: exactly 0 at :math:`a = E_q T` (to 64 eps); at an
        end of the closed range of :math:`T` the limit :math:`-\log q(T = a)` (e.g.
        :math:`-\log p` at the top of a Bernoulli(p), :math:`\mu` at 0 for a Poisson(mu),
        :math:`+\infty` for a continuous law); :math:`+\infty` outside the range.

    Notes
    -----
    All interior levels are solved in one batched dual on a shared measure; a level the shared
    measure does not resolve (checked as :func:`maxent_solve` checks its own: nested
    quadrature rules, edge mass, integer tail bound) is solved on its own measure. The base
    must satisfy Cramér's condition on the side of ``a`` (:math:`E_q e^{\lambda T} < \infty`
    up to the needed :math:`\lambda`); otherwise :class:`InfeasibleConstraintsError` is
    raised (e.g. a log-normal above its mean, where the true rate is 0: the heavy tail makes
    large means decay sub-exponentially). The range of a non-identity statistic on an infinite
    support is read on a probe (the first 4096 integers and powers of two; the quadrature nodes
    on a continuum).

    References
    ----------
    Cramér (1938) and Sanov (1957), cited in the module docstring; Dembo, A. and Zeitouni, O.
    (1998). Large Deviations Techniques and Applications, 2nd ed., Theorems 2.2.3 and 2.1.10.

    Examples
    --------
    Bernoulli(0.3): :math:`I(a) = a\log\frac{a}{0.3} + (1-a)\log\frac{1-a}{0.7}`.

    >>> import numpy as np, pymc as pm
    >>> from pymc_statmech.maxent.concentration import rate_function
    >>> rate_function(pm.Bernoulli.dist(p=0.3), None, [0.3, 0.5, 1.0, 1.2]).round(6)
    array([0.      , 0.087177, 1.203973,      inf])

    A fair die and the Brandeis constraint: the rate of a mean of 4.5.

    >>> die = (np.arange(1, 7), np.full(6, 1 / 6))
    >>> float(rate_function(die, None, 4.5).round(8))
    0.17817837
    """
    if a is None:
        raise TypeError("rate_function: the level a is required.")
    a_arr = np.asarray(a, dtype="float64")
    if np.isnan(a_arr).any():
        raise ValueError(f"rate_function: the level a must not be NaN, got {a!r}.")
    setup = _setup(base, statistic)
    rate, _, _ = _tilt(setup, a_arr)
    return rate.reshape(a_arr.shape)


def _round_to_lattice(origin: float, span: float, a: np.ndarray, n: np.ndarray, upper):
    """The level n a moved onto the lattice of sums, inward to the tail event's edge."""
    if span <= 0:
        return a
    x = n * (a - origin) / span
    slack = _LATTICE_TOL * np.maximum(1.0, np.abs(x))
    k = np.where(upper, np.ceil(x - slack), np.floor(x + slack))
    return origin + span * k / n


def _exact_log_tails(setup: _Setup, ns: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """log P(S_n >= origin n + span j) and log P(S_n <= ...) for j = 0..nR, by convolution."""
    k, lq = setup.atoms, setup.atom_log_probs - logsumexp(setup.atom_log_probs)
    width = int(k.max())
    kernel = np.full(width + 1, -np.inf)
    np.logaddexp.at(kernel, k, lq)
    offsets = np.flatnonzero(np.isfinite(kernel))
    top = int(ns.max())
    work = offsets.size * width * top * top / 2.0
    if work > _EXACT_BUDGET:
        raise ValueError(
            f'tail_probability(method="exact"): the convolution needs about {work:.2g} '
            f"updates (n = {top}, lattice width {width}, {offsets.size} atoms); use "
            'method="bahadur_rao" for sample sizes this large.'
        )
    wanted = {int(v) for v in ns.ravel()}
    out = {}
    current = kernel.copy()
    for step in range(1, top + 1):
        if step > 1:
            nxt = np.full(current.size + width, -np.inf)
            for j in offsets:
                segment = nxt[j : j + current.size]
                np.logaddexp(segment, current + kernel[j], out=segment)
            current = nxt
        if step in wanted:
            upper = np.logaddexp.accumulate(current[::-1])[::-1]
            lower = np.logaddexp.accumulate(current)
            out[step] = (upper, lower)
    return out


def tail_probability(
    base: Any,
    statistic: Callable | None = None,
    a: Any = None,
    n: Any = 1,
    method: str = "chernoff",
    *,
    log: bool = False,
    span: float | None = None,
) -> np.ndarray:
    r"""Probability that the mean of ``n`` iid :math:`T(X_i)`, :math:`X_i \sim q`, passes ``a``.

    For :math:`a \ge E_q T` the upper tail :math:`P(\bar T_n \ge a)`; for
    :math:`a < E_q T` the lower tail :math:`P(\bar T_n \le a)`.

    * ``"chernoff"``: :math:`e^{-n I(a)}`, an upper bound for every ``n`` (Chernoff 1952;
      Cramér 1938), with :math:`I` from :func:`rate_function`.
    * ``"bahadur_rao"``: the exact asymptotics (Bahadur and Ranga Rao 1960; Dembo and
      Zeitouni 1998, Theorem 3.7.4). With :math:`\lambda^*` the multiplier of the
      I-projection at :math:`a` and :math:`\sigma^2_{\lambda^*} = \Lambda''(\lambda^*)` the
      tilted variance (the Fisher information of the solution's family),

      .. math:: P(\bar T_n \ge a) \sim \frac{e^{-nI(a)}}
                {|\lambda^*|\,\sigma_{\lambda^*}\sqrt{2\pi n}}
                \quad\text{(non-lattice)},\qquad
                P(\bar T_n \ge a) \sim \frac{e^{-nI(a)}}
                {|\lambda^*|\,\sigma_{\lambda^*}\sqrt{2\pi n}}\cdot
                \frac{|\lambda^*| h}{1 - e^{-|\lambda^*| h}}
                \quad\text{(lattice of span } h),

      with relative error :math:`O(1/n)`. The lattice form, the sum of Petrov's local limit
      theorem :math:`P(S_n = s) \sim h\,e^{-nI(s/n)}/(\sigma\sqrt{2\pi n})` over the lattice
      points of the tail, holds when :math:`n a` is a possible value of the sum; ``a`` is
      therefore first moved to the first lattice point inside the tail event
      (:math:`\lceil\cdot\rceil` for the upper tail), which leaves the event unchanged. At
      :math:`a = E_q T` (where :math:`\lambda^* = 0`) the value is the central limit 1/2.
    * ``"exact"``: finite lattice laws only (finite support; :math:`T` on a lattice, detected
      from the atoms with rational spacings). The law of :math:`S_n` is built by ``n - 1``
      direct convolutions with the pmf of :math:`T` in log space (log-sum-exp, no FFT: every
      lattice point keeps full relative precision, even at :math:`10^{-700}`), and the tail is
      a log-sum-exp of it. Cost :math:`\approx K h_{\rm range} n^2 / 2` updates for
      :math:`K` atoms; a few seconds at :math:`n = 1000` for a die.

    At the ends of the range of :math:`T` every method returns the exact
    :math:`q(T = a)^n` (0 for a continuous law), and 0 beyond.

    Parameters
    ----------
    base : PyMC distribution or (values, probs)
        The law :math:`q`, as in :func:`rate_function`.
    statistic : callable, optional
        :math:`T`; the identity by default.
    a : float or array_like
        Level(s) of the empirical mean; broadcast against ``n``.
    n : int or array_like of int
        Sample size(s), >= 1.
    method : {"chernoff", "bahadur_rao", "exact"}
    log : bool
        Return the natural log of the probability (tails below 1e-308 do not underflow).
    span : float, optional
        Lattice span of :math:`T(X)` used by ``"bahadur_rao"``, overriding detection (0 forces
        the non-lattice form). Detected from the atoms for finite and integer laws (their
        spacings' rational gcd); continuous laws are taken non-lattice.

    Returns
    -------
    ndarray
        Probabilities (or their logs), of the broadcast shape of ``a`` and ``n``.

    Raises
    ------
    ValueError
        ``method="exact"`` with a base that is not a finite lattice law, or an unknown method.

    References
    ----------
    .. [1] Bahadur, R. R. and Ranga Rao, R. (1960). On deviations of the sample mean.
       Ann. Math. Statist. 31(4), 1015-1027.
    .. [2] Dembo, A. and Zeitouni, O. (1998). Large Deviations Techniques and Applications,
       2nd ed., Springer, Theorem 3.7.4.
    .. [3] Petrov, V. V. (1965). On the probabilities of large deviations for sums of
       independent random variables. Theory Probab. Appl. 10(2), 287-298.
    .. [4] Chernoff, H. (1952). A measure of asymptotic efficiency for tests of a hypothesis
       based on the sum of observations. Ann. Math. Statist. 23(4), 493-507.

    Examples
    --------
    At least 60 heads in 100 tosses of a fair coin: the bound, the asymptotics (15% high at
    this small n, error O(1/n)) and the exact 0.028444.

    >>> import pymc as pm
    >>> from pymc_statmech.maxent.concentration import tail_probability
    >>> coin = pm.Bernoulli.dist(p=0.5)
    >>> [round(float(tail_probability(coin, None, 0.6, 100, m)), 6)
    ...  for m in ("chernoff", "bahadur_rao", "exact")]
    [0.133514, 0.032618, 0.028444]
    """
    if method not in ("chernoff", "bahadur_rao", "exact"):
        raise ValueError(
            f'tail_probability: method must be "chernoff", "bahadur_rao" or "exact", got '
            f"{method!r}."
        )
    if a is None:
        raise TypeError("tail_probability: the level a is required.")
    try:
        a_arr, n_arr = np.broadcast_arrays(np.asarray(a, dtype="float64"), np.asarray(n))
    except (TypeError, ValueError):
        raise TypeError(
            f"tail_probability: a and n must be numbers or arrays of numbers that broadcast, got "
            f"a={a!r:.40} and n={n!r:.40}."
        ) from None
    if n_arr.dtype.kind not in "iuf" or not np.all(
        np.isfinite(n_arr) & (n_arr >= 1) & (n_arr == np.round(n_arr))
    ):
        raise ValueError(f"tail_probability: n must be integers >= 1, got {n!r}.")
    n_arr = n_arr.astype(np.int64)
    if np.isnan(a_arr).any():
        raise ValueError(f"tail_probability: the level a must not be NaN, got {a!r}.")
    if span is not None and not (np.isfinite(span) and span >= 0):
        raise ValueError(f"span: expected a lattice span > 0 or 0 (non-lattice), got {span!r}.")
    setup = _setup(base, statistic)
    span = setup.span if span is None else float(span)
    if span > 0 and not np.isfinite(setup.origin):
        raise ValueError(
            f"span: a lattice of span {span} needs a lattice point, but T has no smallest "
            "value on this base; leave span unset (non-lattice) for this law."
        )
    if method == "exact" and setup.atoms is None:
        kind = "a finite law" if setup.problem.law.values is not None else "an infinite support"
        raise ValueError(
            f'tail_probability(method="exact") needs a finite lattice law (a finite support '
            f"and T on a lattice); this base is {kind}"
            + (" with T off any rational lattice" if setup.problem.law.values is not None else "")
            + ': use method="bahadur_rao" or "chernoff".'
        )
    flat_a, flat_n = a_arr.ravel(), n_arr.ravel()
    upper = flat_a >= setup.mean
    if method == "exact":
        tails = _exact_log_tails(setup, flat_n)
        out = np.empty(flat_a.shape)
        for i, (level, size, up) in enumerate(zip(flat_a, flat_n, upper, strict=True)):
            x = size * (level - setup.origin) / setup.span
            slack = _LATTICE_TOL * max(1.0, abs(x))
            hi_tail, lo_tail = tails[int(size)]
            if up:
                j = int(np.ceil(x - slack))
                out[i] = 0.0 if j <= 0 else (hi_tail[j] if j < hi_tail.size else -np.inf)
            else:
                j = int(np.floor(x + slack))
                out[i] = -np.inf if j < 0 else (lo_tail[j] if j < lo_tail.size else 0.0)
        log_p = out
    elif method == "chernoff":
        rate, _, _ = _tilt(setup, flat_a)
        log_p = -flat_n * rate
    else:
        level = _round_to_lattice(setup.origin, span, flat_a, flat_n, upper)
        rate, lam, var = _tilt(setup, level)
        log_p = -flat_n * rate
        eta = np.abs(lam)
        interior = np.isfinite(eta) & (eta > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            prefactor = np.log(eta * np.sqrt(var * 2 * np.pi * flat_n))
            if span > 0:
                h = span
                prefactor -= np.log(eta * h) - np.log(-np.expm1(-eta * h))
        log_p = np.where(interior, log_p - prefactor, log_p)
        log_p = np.where(lam == 0, np.log(0.5), log_p)
    log_p = np.minimum(log_p, 0.0).reshape(a_arr.shape)
    return log_p if log else np.exp(log_p)


def gibbs_conditional(base: Any, constraints: Constraint | Sequence[Constraint], **kwargs):
    r"""Limit law of one observation given an empirical constraint (Gibbs conditioning).

    For :math:`X_1, \dots, X_n` iid :math:`q` conditioned on the empirical averages
    :math:`\frac1n\sum_i T_k(X_i) = a_k` (or lying in a closed convex set whose I-projection is
    there), the law of :math:`X_1` converges as :math:`n \to \infty` to the I-projection

    .. math:: p^*(x) = q(x)\,\exp\big(\lambda^*\cdot T(x) - \Lambda(\lambda^*)\big),
              \qquad E_{p^*}[T] = a,

    the minimiser of :math:`KL(p\,\|\,q)` under the constraints (Csiszár 1984). With a uniform
    ``q`` this is Jaynes' maximum-entropy law: conditioning many fair dice on a mean of 4.5
    makes one die follow :math:`p_k \propto e^{0.371049 k}`.

    Parameters
    ----------
    base : PyMC distribution or (values, probs)
        The law :math:`q` of one observation; its domain is :func:`domain_of` ``(base)``.
    constraints : Constraint or list of Constraint
        From :func:`~pymc_statmech.maxent.constraints.mean`, ``moment``, ``expect``, ...
    **kwargs
        Passed to :meth:`MaxEntSolution.distribution` (e.g. ``size``).

    Returns
    -------
    TensorVariable
        The I-projection as a PyMC distribution (unnamed, ``.dist`` style): the solution's
        :meth:`~pymc_statmech.maxent.problem.MaxEntSolution.distribution`.

    References
    ----------
    .. [1] Csiszár, I. (1984). Sanov property, generalized I-projection and a conditional
       limit theorem. Ann. Probab. 12(3), 768-793.
    .. [2] Dembo, A. and Zeitouni, O. (1998). Large Deviations Techniques and Applications,
       2nd ed., section 7.3.
    .. [3] Jaynes, E. T. (1957). Information theory and statistical mechanics.
       Phys. Rev. 106, 620-630.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pymc_statmech.maxent.concentration import gibbs_conditional
    >>> from pymc_statmech.maxent.constraints import mean
    >>> die = gibbs_conditional((np.arange(1, 7), np.full(6, 1 / 6)), [mean(4.5)])
    >>> np.exp(pm.logp(die, np.arange(1, 7)).eval()).round(5)
    array([0.05435, 0.07877, 0.11416, 0.16545, 0.23977, 0.34749])
    """
    if isinstance(constraints, Constraint):
        constraints = [constraints]
    law = _law(base)
    # A PyMC base is passed as a distribution, so a classical solution keeps its closed form.
    solution = maxent_solve(
        law.domain, list(constraints), law.rv if law.rv is not None else law.base
    )
    return solution.distribution(**kwargs)
