r"""Maximum-entropy elicitation of a PyMC family from an interval: PreliZ's ``maxent``, exact.

:func:`maxent_family` finds the member of a parametric family (``pm.Gamma``, ``pm.Beta``,
``pm.Poisson``, ...) with the largest entropy among those that put a given probability in an
interval, optionally with fixed parameters and fixed summaries (mean, median, standard
deviation). It solves the Karush-Kuhn-Tucker system of that problem by Newton's method, with
every derivative taken by PyTensor, instead of minimising a penalised objective.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.logprob.utils import ParameterValueError
from pymc.pytensorf import rewrite_graph
from pytensor.gradient import NullTypeGradError
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors
from pytensor.graph.utils import MethodNotDefined
from pytensor.scalar.math import TriGamma
from scipy import optimize, special

from pymc_statmech._compile import LIGHT_NUMBA_MODE
from pymc_statmech.expfam import entropy as _exact_entropy
from pymc_statmech.quadrature import exp_sinh_unit, tanh_sinh_unit, trapezoid_in_t

__all__ = ["ElicitedPrior", "maxent_family"]

_SUMMARIES = ("mean", "median", "std")


# --- Parameter tables ---------------------------------------------------------------------------
# Domains: "real" (identity), "positive" (log), "unit" (logit); "count" parameters must be fixed.
_TO_FREE = {"real": lambda v: v, "positive": math.log, "unit": lambda v: math.log(v / (1 - v))}
_FROM_FREE = {"real": lambda t: t, "positive": pt.exp, "unit": pt.sigmoid}
_FROM_FREE_NP = {"real": float, "positive": math.exp, "unit": lambda t: float(special.expit(t))}


@dataclass(frozen=True)
class _Spec:
    """What the solver needs to know about a family beyond its PyMC class."""

    params: dict[str, str]  # name -> domain
    support: tuple[float | str, float | str]  # a bound may name a (fixed) count parameter
    start: Callable[[float, float, Mapping[str, float]], dict[str, float]]  # (mean, std, fixed)
    moments: Callable[[Mapping[str, Any]], tuple[Any, Any]] | None = None  # -> (mean, variance)
    discrete: bool = False


def _beta_start(m, s, fixed):
    m = min(max(m, 0.02), 0.98)
    k = max(m * (1 - m) / s**2 - 1, 1.0)
    return {"alpha": m * k, "beta": (1 - m) * k}


def _weibull_start(m, s, fixed):
    alpha = max((m / s) ** 1.086, 0.2)  # Justus' approximation of the shape from the CV
    return {"alpha": alpha, "beta": m / math.gamma(1 + 1 / alpha)}


def _lognormal_start(m, s, fixed):
    var = math.log1p((s / m) ** 2)
    return {"mu": math.log(m) - var / 2, "sigma": math.sqrt(var)}


def _binomial_p(m, fixed):
    return min(max(m / fixed["n"], 0.01), 0.99)


def _beta_binomial_start(m, s, fixed):
    n, p = fixed["n"], _binomial_p(m, fixed)
    ratio = s**2 / (n * p * (1 - p))  # variance inflation (k + n) / (k + 1), k = alpha + beta
    k = (n - ratio) / (ratio - 1) if 1 < ratio < n else 10.0
    return {"alpha": p * k, "beta": (1 - p) * k}


_FAMILIES: dict[type, _Spec] = {
    pm.Normal: _Spec(
        {"mu": "real", "sigma": "positive"},
        (-math.inf, math.inf),
        lambda m, s, f: {"mu": m, "sigma": s},
        lambda p: (p["mu"], p["sigma"] ** 2),
    ),
    pm.StudentT: _Spec(
        {"nu": "positive", "mu": "real", "sigma": "positive"},
        (-math.inf, math.inf),
        lambda m, s, f: {"nu": 4.0, "mu": m, "sigma": s},
        lambda p: (p["mu"], p["sigma"] ** 2 * p["nu"] / (p["nu"] - 2)),
    ),
    pm.Logistic: _Spec(
        {"mu": "real", "s": "positive"},
        (-math.inf, math.inf),
        lambda m, s, f: {"mu": m, "s": s * math.sqrt(3) / math.pi},
        lambda p: (p["mu"], (math.pi * p["s"]) ** 2 / 3),
    ),
    pm.HalfNormal: _Spec(
        {"sigma": "positive"},
        (0.0, math.inf),
        lambda m, s, f: {"sigma": m * math.sqrt(math.pi / 2)},
        lambda p: (p["sigma"] * math.sqrt(2 / math.pi), p["sigma"] ** 2 * (1 - 2 / math.pi)),
    ),
    pm.Exponential: _Spec(
        {"lam": "positive"},
        (0.0, math.inf),
        lambda m, s, f: {"lam": 1 / m},
        lambda p: (1 / p["lam"], p["lam"] ** -2),
    ),
    pm.Gamma: _Spec(
        {"alpha": "positive", "beta": "positive"},
        (0.0, math.inf),
        lambda m, s, f: {"alpha": (m / s) ** 2, "beta": m / s**2},
        lambda p: (p["alpha"] / p["beta"], p["alpha"] / p["beta"] ** 2),
    ),
    pm.InverseGamma: _Spec(
        {"alpha": "positive", "beta": "positive"},
        (0.0, math.inf),
        lambda m, s, f: {"alpha": (m / s) ** 2 + 2, "beta": m * ((m / s) ** 2 + 1)},
        lambda p: (
            p["beta"] / (p["alpha"] - 1),
            p["beta"] ** 2 / ((p["alpha"] - 1) ** 2 * (p["alpha"] - 2)),
        ),
    ),
    pm.LogNormal: _Spec(
        {"mu": "real", "sigma": "positive"},
        (0.0, math.inf),
        _lognormal_start,
        lambda p: (
            pt.exp(p["mu"] + p["sigma"] ** 2 / 2),
            pt.expm1(p["sigma"] ** 2) * pt.exp(2 * p["mu"] + p["sigma"] ** 2),
        ),
    ),
    pm.Weibull: _Spec(
        {"alpha": "positive", "beta": "positive"},
        (0.0, math.inf),
        _weibull_start,
        lambda p: (
            p["beta"] * pt.gamma(1 + 1 / p["alpha"]),
            p["beta"] ** 2 * (pt.gamma(1 + 2 / p["alpha"]) - pt.gamma(1 + 1 / p["alpha"]) ** 2),
        ),
    ),
    pm.Beta: _Spec(
        {"alpha": "positive", "beta": "positive"},
        (0.0, 1.0),
        _beta_start,
        lambda p: (
            p["alpha"] / (p["alpha"] + p["beta"]),
            p["alpha"] * p["beta"] / ((p["alpha"] + p["beta"]) ** 2 * (p["alpha"] + p["beta"] + 1)),
        ),
    ),
    pm.Kumaraswamy: _Spec(
        {"a": "positive", "b": "positive"},
        (0.0, 1.0),
        # a = 2 and the b that puts the median at m
        lambda m, s, f: {"a": 2.0, "b": -math.log(2) / math.log1p(-(min(max(m, 0.02), 0.98) ** 2))},
    ),
    pm.Poisson: _Spec(
        {"mu": "positive"},
        (0, math.inf),
        lambda m, s, f: {"mu": m},
        lambda p: (p["mu"], p["mu"]),
        discrete=True,
    ),
    pm.NegativeBinomial: _Spec(
        {"mu": "positive", "alpha": "positive"},
        (0, math.inf),
        lambda m, s, f: {"mu": m, "alpha": m**2 / max(s**2 - m, 0.1 * m)},
        lambda p: (p["mu"], p["mu"] + p["mu"] ** 2 / p["alpha"]),
        discrete=True,
    ),
    pm.Geometric: _Spec(
        {"p": "unit"},
        (1, math.inf),
        lambda m, s, f: {"p": 1 / max(m, 1.01)},
        lambda p: (1 / p["p"], (1 - p["p"]) / p["p"] ** 2),
        discrete=True,
    ),
    pm.Binomial: _Spec(
        {"n": "count", "p": "unit"},
        (0, "n"),
        lambda m, s, f: {"p": _binomial_p(m, f)},
        lambda p: (p["n"] * p["p"], p["n"] * p["p"] * (1 - p["p"])),
        discrete=True,
    ),
    pm.BetaBinomial: _Spec(
        {"alpha": "positive", "beta": "positive", "n": "count"},
        (0, "n"),
        _beta_binomial_start,
        discrete=True,
    ),
}


# --- Quadrature ---------------------------------------------------------------------------------
# Double-exponential rules (Takahasi and Mori 1974) built from PyTensor ops, so that the KKT
# derivatives of an integral are the quadrature of the derivatives. Nodes depend on the bounds
# only, never on the parameters. The truncations keep every node finite and strictly inside
# the support, and keep products of log-densities and their derivatives far from overflow.
_HALF_PI = math.pi / 2


def _t(v: float) -> float:
    # The DE variable t at which (pi/2) sinh t = v.
    return math.asinh(v / _HALF_PI)


def _tanh_sinh_rule(v_left: float, v_right: float, h: float):
    """Offsets d in (0, 1/2] from the nearer end of [0, 1] (left-end nodes first), fine and
    coarse weights, and the number of left-end nodes (the shared tanh-sinh rule of
    :mod:`pymc_statmech.maxent.domains`)."""
    t, d, log_w, log_coarse = tanh_sinh_unit(_t(v_left), _t(v_right), h)
    order = np.argsort(t > 0, kind="stable")
    return d[order], np.exp(log_w)[order], np.exp(log_coarse)[order], int(np.sum(t <= 0))


def _infinite_rule(v_min: float, v_max: float, h: float, half_line: bool):
    """Unit nodes and fine and coarse weights of exp-sinh (``x = e^v``) or sinh-sinh
    (``x = sinh v``), v = (pi/2) sinh t."""
    if half_line:
        _, log_x, log_w, log_coarse = exp_sinh_unit(_t(v_min), _t(v_max), h)
        return np.exp(log_x), np.exp(log_w), np.exp(log_coarse)
    t, coarse = trapezoid_in_t(_t(v_min), _t(v_max), h)
    v = _HALF_PI * np.sinh(t)
    w = h * np.cosh(v) * _HALF_PI * np.cosh(t)
    return np.sinh(v), w, w * np.exp(coarse)


# Interval rule: the left end may be singular (a support edge; offsets down to e^-300), the
# right end is regular (offsets down to 1e-17, below one ulp). h = 1/16 integrates the
# densities met here to about 1e-16 (h = 1/8 leaves 1e-9 for a Student t); the step-1/8 rule
# on the same nodes gives an error estimate.
_TS = _tanh_sinh_rule(150.0, 19.5, 1 / 16)
# Whole finite support: both ends may be singular; the right offsets stop at 2^-52 so that the
# nodes stay below the upper edge in floating point.
_TS_BOTH = _tanh_sinh_rule(150.0, 18.0, 1 / 16)
_ES = _infinite_rule(-300.0, 80.0, 1 / 16, half_line=True)  # x - a = s e^v, v <= 80
_SS = _infinite_rule(-80.0, 80.0, 1 / 16, half_line=False)


def _tanh_sinh(a, b, rule=_TS):
    """Nodes, weights and coarse weights on [a, b]."""
    d, w, coarse, n_left = rule
    x = pt.concatenate([a + (b - a) * d[:n_left], b - (b - a) * d[n_left:]])
    return x, (b - a) * w, (b - a) * coarse


def _exp_sinh(a, scale, sign=1.0):
    """Nodes and weights on [a, inf) (sign=1) or (-inf, a] (sign=-1)."""
    x, w, coarse = _ES
    return a + sign * scale * x, scale * w, scale * coarse


def _sinh_sinh(center, scale):
    x, w, coarse = _SS
    return center + scale * x, scale * w, scale * coarse


# Raised when psm.entropy has no form for a family or PyTensor cannot differentiate it twice:
# the build then falls back to the quadrature entropy.
_NOT_TWICE_DIFFERENTIABLE = (NotImplementedError, NullTypeGradError, MethodNotDefined)


def _trigamma(x):
    """psi'(x) for x > 0 from elementary ops: 12 recurrence steps, then the asymptotic series
    (next term below 4e-18 relative)."""
    y = x + 12
    shifts = pt.sum(1 / (pt.shape_padright(x) + np.arange(12.0)) ** 2, axis=-1)
    u = 1 / y**2
    bernoulli = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6]
    tail = bernoulli[-1]
    for b in bernoulli[-2::-1]:
        tail = b + u * tail
    return shifts + 1 / y + u / 2 + tail * u / y


def _native_trigamma(graph: list):
    """``graph`` (a list of outputs) with PyTensor's trigamma replaced by :func:`_trigamma`.

    Numba runs trigamma and its derivative (polygamma) in object mode, which keeps the whole
    compiled function out of Numba's on-disk cache and costs seconds per process.
    """
    found = {
        v: _trigamma(v.owner.inputs[0])
        for v in ancestors(graph)
        if v.owner is not None and isinstance(getattr(v.owner.op, "scalar_op", None), TriGamma)
    }
    return graph_replace(graph, found, strict=False) if found else graph


class _Quantities:
    """Symbolic probabilities, entropy and moments of one family member."""

    def __init__(self, dist, spec, params, lower, upper):
        self.dist, self.spec, self.params = dist, spec, params
        self.lo, self.hi = spec.support
        self.lower, self.upper = lower, upper

    def density(self, x):
        return pt.exp(pm.logp(self.dist, x))

    def probability(self, a, b):
        """P(a <= X <= b) and the same by the rule of twice the step (an error estimate).

        ``None`` stands for the lower or upper edge of the support.
        """
        if self.spec.discrete:
            k = pt.arange(pt.ceil(a), pt.floor(b) + 1).astype("int64")
            exact = pt.sum(self.density(k))
            return exact, exact
        if b is None:  # the pdf may be singular at a finite upper edge: integrate below a
            below, coarse = self.probability(None, a)
            return 1.0 - below, 1.0 - coarse
        if a is None and np.isinf(self.lo):
            x, w, coarse = _exp_sinh(b, self.upper - self.lower, sign=-1.0)
        elif a is None:
            x, w, coarse = _tanh_sinh(np.float64(self.lo), b)
        elif self.lo == 0.0:  # positive support: integrate in log x, where densities are smooth
            y, w, coarse = _tanh_sinh(pt.log(a), pt.log(b))
            x = pt.exp(y)
            w, coarse = w * x, coarse * x
        else:
            x, w, coarse = _tanh_sinh(a, b)
        p = self.density(x)
        return pt.sum(w * p), pt.sum(coarse * p)

    def _nodes(self):
        """Nodes and weights covering the whole support (every point of a finite count support).

        Unbounded count families all have exact entropies and moments, so only a finite count
        support (``0..n``) is ever summed.
        """
        lo, hi = self.lo, self.hi
        if self.spec.discrete:
            k = pt.arange(lo, self.params[hi] + 1).astype("int64")
            return k, pt.ones(k.shape, dtype="float64")
        if np.isinf(lo):
            x, w, _ = _sinh_sinh((self.lower + self.upper) / 2, (self.upper - self.lower) / 2)
        elif np.isinf(hi):
            x, w, _ = _exp_sinh(np.float64(lo), (self.lower + self.upper) / 2 - lo)
        else:
            x, w, _ = _tanh_sinh(np.float64(lo), pt.constant(hi, dtype="float64"), _TS_BOTH)
        return x, w

    def expectations(self):
        """(normalisation, E[x], E[x^2] about the mean, -E[log p]) by quadrature or windowed sum."""
        x, w = self._nodes()
        logp = pm.logp(self.dist, x)
        p = w * pt.exp(logp)
        total = pt.sum(p)
        mean = pt.sum(p * x) / total
        return total, mean, pt.sum(p * (x - mean) ** 2) / total, -pt.sum(p * logp)


# (family, free, fixed names, summaries, edges) -> compiled function
# (*theta, *nu, lower, upper, mass, fixed values, targets)
#   -> (r, J, entropy, mass, mass error estimate, whole-support normalisation)
_CACHE: dict[tuple, Any] = {}


def _compile(family, spec, free, fixed_names, summaries, edges):
    key = (family, free, fixed_names, summaries, edges)
    if key not in _CACHE:
        try:
            _CACHE[key] = _build(family, spec, free, fixed_names, summaries, edges, True)
        except _NOT_TWICE_DIFFERENTIABLE:  # no usable closed-form entropy: quadrature
            _CACHE[key] = _build(family, spec, free, fixed_names, summaries, edges, False)
    return _CACHE[key]


def _build(family, spec, free, fixed_names, summaries, edges, exact_entropy):
    # One scalar input per unknown: derivatives of indexed vector elements would fill the
    # graph with increments of zero vectors, which triples the rewriting time.
    theta = [pt.dscalar(f"theta_{name}") for name in free]
    nu = [pt.dscalar(f"nu_{k}") for k in range(1 + len(summaries))]
    lower, upper, mass = pt.dscalars("lower", "upper", "mass")
    fixed_values, targets = pt.dvector("fixed_values"), pt.dvector("targets")
    params = {name: _FROM_FREE[spec.params[name]](t) for name, t in zip(free, theta, strict=True)}
    for j, name in enumerate(fixed_names):
        value = fixed_values[j]
        params[name] = pt.round(value).astype("int64") if spec.params[name] == "count" else value
    dist = family.dist(**params)
    q = _Quantities(dist, spec, params, lower, upper)

    needs_moments = spec.moments is None and bool({"mean", "std"} & set(summaries))
    quad = q.expectations() if needs_moments or not exact_entropy else None
    entropy = _exact_entropy(dist) if exact_entropy else quad[3]
    lower_edge, upper_edge = edges
    mass_achieved, mass_coarse = q.probability(
        None if lower_edge else lower, None if upper_edge else upper
    )
    width = upper - lower
    constraints = [mass_achieved - mass]
    moments = spec.moments(params) if spec.moments is not None else None
    for i, name in enumerate(summaries):
        if name == "median":
            constraints.append(q.probability(None, targets[i])[0] - 0.5)
            continue
        mean, var = moments if moments is not None else quad[1:3]
        value = mean if name == "mean" else pt.sqrt(var)
        constraints.append((value - targets[i]) / width)
    # Simplify before differentiating, dropping PyMC's parameter checks (they hold by
    # construction): the derivative graphs, hence compile times, shrink by a third.
    entropy, *constraints = rewrite_graph(
        [entropy, *constraints],
        include=("canonicalize", "stabilize", "local_remove_check_parameter"),
    )
    lagrangian = entropy - sum(v * c for v, c in zip(nu, constraints, strict=True))
    r = _native_trigamma([*pt.grad(lagrangian, theta), *constraints])
    rows = [
        pt.grad(ri, theta + nu, disconnected_inputs="ignore", return_disconnected="zero")
        for ri in r
    ]
    outputs = [
        pt.stack(r),
        _native_trigamma([pt.stack([pt.stack(row) for row in rows])])[0],
        entropy,
        mass_achieved,
        pt.abs(mass_achieved - mass_coarse),
        pt.constant(1.0, dtype="float64") if quad is None else quad[0],
    ]
    fn = pytensor.function(
        [*theta, *nu, lower, upper, mass, fixed_values, targets],
        outputs,
        mode=LIGHT_NUMBA_MODE,
        on_unused_input="ignore",
    )
    fn.trust_input = True
    return fn


# --- Newton on the KKT system -------------------------------------------------------------------
_MAX_STEP = 2.0  # largest change of an unconstrained parameter per step (a factor e^2 in scale)


def _newton(evaluate, z, out, n, tol, max_iter=100):
    """Damped Newton on r(z) = 0 with backtracking on |r|^2; returns (z, out, iterations)."""
    for iteration in range(max_iter):
        r, jac = out[0], out[1]
        err = np.max(np.abs(r))
        if err <= 1e-3 * tol:
            return z, out, iteration
        try:
            step = np.linalg.solve(jac, -r)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(jac, -r)[0]
        largest = np.max(np.abs(step[:n]))
        if largest > _MAX_STEP:
            step *= _MAX_STEP / largest
        phi, t = r @ r, 1.0
        while t > 1e-10:
            trial = evaluate(z + t * step)
            if trial is not None and trial[0] @ trial[0] <= (1 - 1e-4 * t) * phi:
                break
            if t == 1.0 and err <= tol:  # at the rounding floor: a full step cannot improve
                return z, out, iteration
            t /= 2
        else:
            return z, out, iteration
        z, out = z + t * step, trial
    return z, out, max_iter


def _multipliers(out, n):
    """Least-squares multipliers from stationarity, grad H = J^T nu, at the current point."""
    grad_h, jac_g = out[0][:n], out[1][n:, :n]  # r[:n] = grad H when nu = 0
    return np.linalg.lstsq(jac_g.T, grad_h)[0]


def _scan_roots(evaluate, theta0, domain, scale):
    """All roots of the mass constraint along one free parameter, and the largest mass seen."""
    grid = {
        "positive": theta0 + np.linspace(-12.0, 12.0, 97),
        "unit": np.linspace(-20.0, 20.0, 81),
        "real": theta0 + scale * np.linspace(-10.0, 10.0, 81),
    }[domain]

    def g(t):
        out = evaluate(np.array([t, 0.0]))
        return np.nan if out is None else out[0][1]

    values = np.array([g(t) for t in grid])
    ok = np.isfinite(values)
    roots = [
        optimize.brentq(g, a, b, xtol=1e-14, rtol=8.9e-16)
        for a, b, ga, gb, oka, okb in zip(
            grid[:-1], grid[1:], values[:-1], values[1:], ok[:-1], ok[1:], strict=True
        )
        if oka and okb and ga * gb <= 0
    ]
    return roots, np.nanmax(values) if ok.any() else np.nan


# --- Public API ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ElicitedPrior:
    """The maximum-entropy member of a family under interval-mass and summary constraints.

    Attributes
    ----------
    family : type
        The PyMC distribution class.
    params : dict
        Parameter name -> value (floats; a fixed count such as Binomial ``n`` stays an int).
    distribution : TensorVariable
        ``family.dist(**params)``.
    entropy : float
        Entropy of the member in nats (differential entropy for continuous families).
    mass : float
        Achieved ``P(lower <= X <= upper)``.
    lower, upper : float
        The interval.
    residuals : numpy.ndarray
        KKT residuals: the stationarity rows (one per free parameter, unconstrained scale), then
        the constraints (mass, then the fixed summaries in the order mean, median, std).
    multipliers : numpy.ndarray
        Lagrange multipliers of the constraints, same order.
    iterations : int
        Newton iterations.
    """

    family: type
    params: dict[str, float]
    distribution: Any
    entropy: float
    mass: float
    lower: float
    upper: float
    residuals: np.ndarray
    multipliers: np.ndarray
    iterations: int

    def to_model(self, name: str, **kwargs):
        """``family(name, **params, **kwargs)``: the elicited prior as a variable of the model
        in context."""
        return self.family(name, **self.params, **kwargs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return (
            f"ElicitedPrior({self.family.__name__}({args}), "
            f"P({self.lower:g} <= X <= {self.upper:g}) = {self.mass:.6g}, "
            f"entropy={self.entropy:.6g} nats, "
            f"max|KKT residual|={np.max(np.abs(self.residuals)):.1e}, "
            f"iterations={self.iterations})"
        )


def _finite_float(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"maxent_family: {name} must be a number, got {value!r}.") from None
    if not math.isfinite(value):
        raise ValueError(f"maxent_family: {name} must be finite, got {value}.")
    return value


def _check_param(family_name: str, name: str, domain: str, value: float, what: str) -> None:
    valid = {
        "positive": (value > 0, "> 0"),
        "unit": (0 < value < 1, "in (0, 1)"),
        "count": (value >= 0 and value == int(value), "a non-negative integer"),
        "real": (True, ""),
    }[domain]
    if not valid[0]:
        raise ValueError(
            f"maxent_family: {what}[{name!r}] = {value} is invalid for {family_name}: "
            f"it must be {valid[1]}."
        )


def maxent_family(
    family: type,
    lower: float,
    upper: float,
    mass: float = 0.9,
    fixed: Mapping[str, float] | None = None,
    *,
    initial: Mapping[str, float] | None = None,
    tol: float = 1e-10,
) -> ElicitedPrior:
    r"""The maximum-entropy member of a PyMC family with probability ``mass`` in an interval.

    Family elicitation as PreliZ's ``maxent`` [1]_ does it, solved exactly: among the members
    :math:`p_\theta` of ``family`` (optionally with some parameters or summaries fixed), return
    the one of largest entropy :math:`H(\theta) = -E_\theta[\log p_\theta(X)]` (in nats) subject
    to :math:`g_1(\theta) = F_\theta(u) - F_\theta(l) - m = 0` and, for each fixed summary,
    :math:`g_k(\theta) = 0` [2]_. The answer solves the Karush-Kuhn-Tucker system

    .. math::

        \nabla_\theta H(\theta) - \sum_k \nu_k \nabla_\theta g_k(\theta) = 0, \qquad
        g_k(\theta) = 0,

    in :math:`(\theta, \nu)`, with :math:`\theta` unconstrained (log of positive parameters,
    logit of probabilities). It is solved by damped Newton steps whose Jacobian comes from
    PyTensor; the compiled residual and Jacobian are cached per family, fixed keys and kind
    of interval, so only the first call compiles. With one free parameter and the mass
    constraint only, the feasible set is a finite set of points: all of them are found along
    that parameter and the one of largest entropy is returned.

    Entropies are exact where the family is an exponential family known to
    :func:`pymc_statmech.entropy`, else a double-exponential quadrature of
    :math:`-E[\log p]` (Takahasi and Mori [3]_). Means and standard deviations come from
    closed forms, else the same quadrature. For continuous families :math:`F` is a tanh-sinh
    quadrature of ``pm.logp`` (in :math:`\log x` for positive families), checked at the
    solution against the rule of twice the step; PyMC's ``logcdf`` is not used because
    several lack second derivatives (``gammainc``, ``betainc``) or are approximations (the
    normal's is accurate to about 1e-8). For discrete families
    :math:`F_\theta(u) - F_\theta(l)` is the exact sum :math:`P(l \le X \le u)`, endpoints
    included.

    Parameters
    ----------
    family : type
        A PyMC distribution class: ``pm.Normal``, ``pm.StudentT``, ``pm.Logistic``,
        ``pm.HalfNormal``, ``pm.Exponential``, ``pm.Gamma``, ``pm.InverseGamma``,
        ``pm.LogNormal``, ``pm.Weibull``, ``pm.Beta``, ``pm.Kumaraswamy``, ``pm.Poisson``,
        ``pm.NegativeBinomial``, ``pm.Geometric``, ``pm.Binomial``, ``pm.BetaBinomial``.
        Parameters are those of PyMC's first parametrisation
        (``Gamma(alpha, beta)``, ``NegativeBinomial(mu, alpha)``, ...).
    lower, upper : float
        Finite interval inside the support; an end may sit on the edge of the support.
    mass : float, default 0.9
        Probability of ``[lower, upper]``, in (0, 1).
    fixed : dict, optional
        Parameter names fix that parameter (``{"nu": 4}`` for StudentT; counts such as
        Binomial's ``n`` must be fixed). The keys ``"mean"``, ``"median"`` and ``"std"`` add the
        constraint that this summary equals the value: mean and standard deviation enter as
        :math:`(\text{value} - \text{target}) / (u - l)`, the median as
        :math:`F_\theta(\text{target}) - 1/2` (continuous families only).
    initial : dict, optional
        Starting values of free parameters, overriding the moment-matching guess (mean at the
        interval's midpoint, standard deviation from the normal quantile of ``mass``).
    tol : float, default 1e-10
        Largest accepted absolute KKT residual.

    Returns
    -------
    ElicitedPrior
        ``.distribution``, ``.params``, ``.entropy`` (nats), ``.mass``, ``.residuals``,
        ``.multipliers``, ``.iterations`` and ``.to_model(name, **kwargs)``.

    Raises
    ------
    ValueError
        For an unsupported family, a mass outside (0, 1), ``lower >= upper``, bounds outside the
        support, unknown or invalid ``fixed`` keys, fewer free parameters than constraints, or
        when the KKT residual stays above ``tol`` (the constraints are then usually infeasible
        for the family); the message says what to change.

    References
    ----------
    .. [1] Icazatti, A., Abril-Pla, O., Klami, A. and Martin, O. A. (2023). PreliZ: A toolbox
       for prior elicitation. Journal of Open Source Software, 8(89), 5499.
    .. [2] Jaynes, E. T. (1957). Information theory and statistical mechanics. Physical
       Review, 106(4), 620-630.
    .. [3] Takahasi, H. and Mori, M. (1974). Double exponential formulas for numerical
       integration. Publications of the RIMS, Kyoto University, 9(3), 721-741.

    Examples
    --------
    The gamma distribution of largest entropy with 90% of its mass in [1, 10]:

    >>> import pymc as pm
    >>> from pymc_statmech.maxent.elicit import maxent_family
    >>> prior = maxent_family(pm.Gamma, 1, 10, mass=0.9)
    >>> {k: round(v, 6) for k, v in prior.params.items()}
    {'alpha': 3.334339, 'beta': 0.597915}
    >>> round(prior.mass, 12), round(prior.entropy, 6)
    (0.9, 2.427693)
    >>> with pm.Model():
    ...     x = prior.to_model("x")
    """
    spec = _FAMILIES.get(family)
    name = getattr(family, "__name__", repr(family))
    if spec is None:
        supported = ", ".join(sorted(f"pm.{f.__name__}" for f in _FAMILIES))
        raise ValueError(
            f"maxent_family: no parameter table for family={name}; supported: {supported}."
        )
    lower, upper = _finite_float("lower", lower), _finite_float("upper", upper)
    mass, tol = _finite_float("mass", mass), _finite_float("tol", tol)
    if not 0 < mass < 1:
        raise ValueError(f"maxent_family: mass must be in (0, 1), got {mass}.")
    if lower >= upper:
        raise ValueError(f"maxent_family: lower must be < upper, got lower={lower}, upper={upper}.")
    if tol <= 0:
        raise ValueError(f"maxent_family: tol must be > 0, got {tol}.")

    fixed = {k: _finite_float(f"fixed[{k!r}]", v) for k, v in (fixed or {}).items()}
    unknown = set(fixed) - set(spec.params) - set(_SUMMARIES)
    if unknown:
        raise ValueError(
            f"maxent_family: unknown fixed key(s) {sorted(unknown)} for {name}; valid keys are "
            f"its parameters {list(spec.params)} and the summaries {list(_SUMMARIES)}."
        )
    fixed_params = {k: fixed[k] for k in spec.params if k in fixed}  # in the family's order
    for k, v in fixed_params.items():
        _check_param(name, k, spec.params[k], v, "fixed")
        if spec.params[k] == "count":
            fixed_params[k] = int(v)
    summaries = tuple(s for s in _SUMMARIES if s in fixed)
    free = tuple(p for p in spec.params if p not in fixed_params)
    for p in free:
        if spec.params[p] == "count":
            raise ValueError(
                f"maxent_family: {name}'s parameter {p!r} is a count, not a free parameter: "
                f"fix it, e.g. fixed={{{p!r}: 10}}."
            )

    lo, hi = (fixed_params[b] if isinstance(b, str) else b for b in spec.support)
    if lower < lo or upper > hi:
        raise ValueError(
            f"maxent_family: [lower, upper] = [{lower:g}, {upper:g}] is not inside the support "
            f"[{lo:g}, {hi:g}] of {name}; choose bounds inside it."
        )
    if lower == lo and upper == hi:
        raise ValueError(
            f"maxent_family: [{lower:g}, {upper:g}] is the whole support of {name}, whose "
            f"mass is 1, not {mass}; narrow the interval."
        )
    if spec.discrete and math.ceil(lower) > math.floor(upper):
        raise ValueError(
            f"maxent_family: [{lower:g}, {upper:g}] contains no integer, so {name} gives it "
            "mass 0; widen the interval."
        )
    for s in summaries:
        v = fixed[s]
        if s == "median" and spec.discrete:
            raise ValueError(
                f"maxent_family: fixed['median'] needs a continuous family: the median of "
                f"{name} is a step function of its parameters. Fix the mean instead."
            )
        if s == "std" and v <= 0:
            raise ValueError(f"maxent_family: fixed['std'] must be > 0, got {v}.")
        if s != "std" and not lo < v < hi:
            raise ValueError(
                f"maxent_family: fixed[{s!r}] = {v} must lie inside the support "
                f"({lo:g}, {hi:g}) of {name}."
            )
    n, m = len(free), 1 + len(summaries)
    if n < m:
        raise ValueError(
            f"maxent_family: {name} has {n} free parameter(s) {list(free)} but {m} equality "
            f"constraint(s) (the mass{''.join(', ' + s for s in summaries)}); "
            "fix fewer parameters or summaries."
        )

    initial = dict(initial or {})
    bad = set(initial) - set(free)
    if bad:
        raise ValueError(
            f"maxent_family: initial has key(s) {sorted(bad)}; the free parameters of {name} "
            f"here are {list(free)}."
        )
    center = fixed.get("mean", fixed.get("median", (lower + upper) / 2))
    spread = fixed.get("std", (upper - lower) / (2 * special.ndtri((1 + mass) / 2)))
    for p, v in initial.items():
        _check_param(name, p, spec.params[p], v, "initial")
    start = {**spec.start(center, spread, fixed_params), **initial}
    theta0 = np.array([_TO_FREE[spec.params[p]](start[p]) for p in free])

    edges = (False, False) if spec.discrete else (lower == lo, upper == hi)
    fn = _compile(family, spec, free, tuple(fixed_params), summaries, edges)
    args = (
        np.asarray(lower),
        np.asarray(upper),
        np.asarray(mass),
        np.array(list(fixed_params.values()), dtype="float64"),
        np.array([fixed[s] for s in summaries], dtype="float64"),
    )

    def evaluate(z):
        try:
            out = fn(*(np.asarray(v) for v in z), *args)
        except (ParameterValueError, FloatingPointError, OverflowError):
            return None
        finite = np.all(np.isfinite(out[0])) and np.all(np.isfinite(out[1]))
        return out if finite else None

    problem = f"{name} with mass {mass} in [{lower:g}, {upper:g}]" + (
        f" and fixed={fixed | fixed_params}" if fixed else ""
    )
    if n == m == 1:
        roots, largest = _scan_roots(evaluate, theta0[0], spec.params[free[0]], upper - lower)
        if not roots:
            raise ValueError(
                f"maxent_family: no member of {problem}: the largest mass in the interval on a "
                f"scan of {free[0]!r} is about {largest + mass:.6g}. Lower the mass or change the "
                "interval."
            )

        def entropy_at(t):
            out = evaluate(np.array([t, 0.0]))
            return -np.inf if out is None else out[2]

        theta0 = np.array([max(roots, key=entropy_at)])
    out = evaluate(np.concatenate([theta0, np.zeros(m)]))
    if out is not None:
        z = np.concatenate([theta0, _multipliers(out, n)])
        out = evaluate(z)
    if out is None:
        shown = {p: _FROM_FREE_NP[spec.params[p]](t) for p, t in zip(free, theta0, strict=True)}
        raise ValueError(
            f"maxent_family: the KKT system of {problem} cannot be evaluated at the starting "
            f"point {shown}; pass initial= with other parameter values."
        )
    z, out, iterations = _newton(evaluate, z, out, n, tol)

    r, jac, entropy, mass_achieved, mass_error, total = out
    residuals = np.array(r, copy=True)
    worst = np.max(np.abs(residuals))
    if not worst <= tol:
        raise ValueError(
            f"maxent_family: no KKT point of {problem}: the largest KKT residual is "
            f"{worst:.2e} > tol={tol:g} after {iterations} Newton iterations. The constraints "
            "may be infeasible for this family: lower the mass, widen the interval, change "
            "the fixed values, or pass initial= closer to the answer."
        )
    # Double-exponential rules converge like exp(-c/h): the step-h error is about the square of
    # the step-2h error, so a difference below 1e-6 leaves the mass accurate to ~1e-12.
    if mass_error > 1e-6 or abs(total - 1) > 1e-12:
        raise ValueError(
            f"maxent_family: the quadrature for {problem} is not resolved at the solution "
            f"(interval-mass error estimate {mass_error:.1e}, whole-support mass "
            f"{float(total)!r}); this family and interval are beyond the built-in rules."
        )
    if n > m:  # second-order condition: H must curve down along the constraint surface
        tangent = np.linalg.svd(jac[n:, :n])[2][m:].T
        curvature = np.linalg.eigvalsh(tangent.T @ jac[:n, :n] @ tangent)
        if curvature.max() >= 0:
            raise ValueError(
                f"maxent_family: Newton found a KKT point of {problem} that is not an entropy "
                f"maximum (curvature {curvature.max():.2e} >= 0 along the constraints); "
                "pass initial= closer to the expected answer."
            )

    values = {p: _FROM_FREE_NP[spec.params[p]](z[i]) for i, p in enumerate(free)}
    params = {p: fixed_params[p] if p in fixed_params else values[p] for p in spec.params}
    return ElicitedPrior(
        family=family,
        params=params,
        distribution=family.dist(**params),
        entropy=float(entropy),
        mass=float(mass_achieved),
        lower=lower,
        upper=upper,
        residuals=residuals,
        multipliers=z[n:].copy(),
        iterations=iterations,
    )
