r"""Supports of maximum-entropy problems and the exact or quadrature measures on them.

A domain turns into a discrete measure: points :math:`x_j` with log-weights :math:`\log w_j`.
Finite sets are exact (counting measure). Continuous domains use the double-exponential rules of
:mod:`pymc_statmech.quadrature` (Takahasi and Mori 1974) on panels: tanh-sinh on a finite panel
:math:`[a, b]`, exp-sinh on a half-infinite one, and the periodic trapezoidal rule on the circle,
with a panel edge at every breakpoint (interval-mass and quantile edges, kinks of a statistic).
They converge exponentially even with the endpoint singularities of Beta- or Gamma-like
solutions (:math:`x^{\alpha - 1}` with :math:`\alpha < 1`) and the algebraic tails of power
laws, and each comes with its nested half rule, whose disagreement is the error estimate used to
refine the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pymc_statmech._data import is_whole_number
from pymc_statmech.quadrature import exp_sinh_unit, tanh_sinh_unit

__all__ = ["Circle", "Discrete", "Domain", "HalfLine", "Integers", "Interval", "RealLine"]

# Smallest distance from a finite endpoint that a node may take, relative to the endpoint's
# magnitude (closer nodes round onto the endpoint), and in absolute terms.
_EDGE_RELATIVE = 8.0 * np.finfo("float64").eps
_EDGE_ABSOLUTE = 1e-300
# Farthest node of a half-infinite panel, in units of its scale.
_FAR = 1e30
_INTERIOR_GAP = 1e-17
_CIRCLE_NODES = 256


@dataclass(frozen=True)
class Grid:
    """A discrete measure: points, log-weights, and the nested half rule's log-weights."""

    nodes: np.ndarray
    log_weights: np.ndarray
    coarse_log_weights: np.ndarray
    exact: bool

    @staticmethod
    def concatenate(parts: Sequence[Grid]) -> Grid:
        return Grid(
            np.concatenate([p.nodes for p in parts]),
            np.concatenate([p.log_weights for p in parts]),
            np.concatenate([p.coarse_log_weights for p in parts]),
            all(p.exact for p in parts),
        )


def _edge_distance(endpoint: float, width: float, domain_end: bool) -> float:
    # At a domain end the density may be singular (x^(a - 1)): go as close as float64 can.
    # At an interior breakpoint it is bounded: a width * 1e-17 gap holds no visible mass.
    floor = max(_EDGE_ABSOLUTE, _EDGE_RELATIVE * abs(endpoint))
    return floor if domain_end else max(floor, _INTERIOR_GAP * width)


def _t_for_distance(distance_over_scale: float) -> float:
    # t at which the exp-sinh distance s exp(pi/2 sinh t) equals the given multiple of s.
    return float(np.arcsinh(np.log(distance_over_scale) / (np.pi / 2)))


def tanh_sinh_panel(a: float, b: float, ends: tuple[bool, bool] = (True, True)) -> Grid:
    """DE rule on the finite panel [a, b]; nodes kept clear of rounding onto the endpoints.

    ``ends`` says which endpoints are ends of the domain (where the density may be singular).
    """
    width = b - a
    # Distance from an end is width * sigmoid(-pi sinh|t|) ~ width * exp(-pi sinh|t|).
    t_left = float(np.arcsinh(-np.log(_edge_distance(a, width, ends[0]) / width) / np.pi))
    t_right = float(np.arcsinh(-np.log(_edge_distance(b, width, ends[1]) / width) / np.pi))
    t, offset, log_w, log_coarse = tanh_sinh_unit(t_left, t_right)
    x = np.where(t < 0, a + width * offset, b - width * offset)
    return Grid(x, log_w + np.log(width), log_coarse + np.log(width), exact=False)


def exp_sinh_panel(a: float, scale: float, direction: int = 1, domain_end: bool = True) -> Grid:
    """DE rule on [a, inf) (``direction=1``) or (-inf, a] (``direction=-1``) with a scale."""
    t_low = _t_for_distance(_edge_distance(a, scale, domain_end) / scale)
    _, log_x, log_w, log_coarse = exp_sinh_unit(t_low, _t_for_distance(_FAR))
    x = a + direction * scale * np.exp(log_x)
    return Grid(x, log_w + np.log(scale), log_coarse + np.log(scale), exact=False)


class Domain:
    """Base class of the supports; see the concrete classes."""

    discrete: bool = False
    lower: float = -np.inf
    upper: float = np.inf

    def grid(self, breakpoints: Sequence[float] = (), loc: float = 0.0, scale: float = 1.0):
        raise NotImplementedError

    def contains(self, x):
        """Boolean mask of the points of ``x`` (a PyTensor variable) in the domain."""
        return (x >= self.lower) & (x <= self.upper)

    def _panels(self, breakpoints, scale) -> Grid:
        # Panels between the sorted interior breakpoints; infinite ends get exp-sinh rules.
        interior = {float(b) for b in breakpoints if self.lower < b < self.upper}
        ends = {v for v in (self.lower, self.upper) if np.isfinite(v)}
        edges = sorted(interior | ends)
        parts = []
        if not np.isfinite(self.lower) and edges:
            parts.append(exp_sinh_panel(edges[0], scale, -1, domain_end=edges[0] in ends))
        parts.extend(
            tanh_sinh_panel(a, b, (a in ends, b in ends)) for a, b in itertools.pairwise(edges)
        )
        if not np.isfinite(self.upper) and edges:
            parts.append(exp_sinh_panel(edges[-1], scale, 1, domain_end=edges[-1] in ends))
        return Grid.concatenate(parts)


class Discrete(Domain):
    """A finite set of real values with the counting measure (exact sums).

    Parameters
    ----------
    values : sequence of float
        The distinct support points, e.g. ``range(1, 7)`` for a die.
    """

    discrete = True

    def __init__(self, values: Sequence[float]):
        v = np.unique(np.asarray(values, dtype="float64").ravel())
        if v.size < 2 or not np.all(np.isfinite(v)):
            raise ValueError(f"Discrete: need at least two finite values, got {values!r}.")
        self.values = v
        self.lower, self.upper = float(v[0]), float(v[-1])
        self.integer = bool(np.all(v == np.round(v)))

    def grid(self, breakpoints=(), loc=0.0, scale=1.0) -> Grid:
        zeros = np.zeros(self.values.size)
        return Grid(self.values, zeros, zeros, exact=True)

    def contains(self, x):
        import pytensor.tensor as pt

        return pt.any(pt.eq(pt.shape_padright(x, 1), self.values), axis=-1)

    def __repr__(self):
        return f"Discrete({self.values.tolist()})"


class Integers(Domain):
    r"""The integers ``lower, lower + 1, ...`` (countably infinite unless ``upper`` is given).

    Infinite supports are summed exactly up to a cutoff chosen so that a proven tail bound puts
    the remaining mass below float64 resolution: beyond the cutoff the log-terms
    :math:`\ell_k + \lambda \cdot T(k)` must have non-increasing increments :math:`\delta`
    (log-concave terms, true for mean and moment constraints with the counting, Poisson
    :math:`1/k!` and negative-binomial base measures), and then the tail is at most
    :math:`p_K e^{\delta}/(1 - e^{\delta})`. The cutoff doubles until the bound holds.

    Parameters
    ----------
    lower : int
        Smallest value (default 0).
    upper : int, optional
        Largest value; ``None`` for an infinite support.
    cutoff : int, optional
        First truncation point to try (default: from the targets).
    """

    discrete = True

    def __init__(self, lower: int = 0, upper: int | None = None, cutoff: int | None = None):
        if not is_whole_number(lower) or (
            upper is not None and (not is_whole_number(upper) or upper <= lower)
        ):
            raise ValueError(
                f"Integers: lower and upper must be integers with lower < upper, got "
                f"lower={lower!r}, upper={upper!r}."
            )
        self.lower = float(lower)
        self.upper = float(upper) if upper is not None else np.inf
        self.cutoff = cutoff
        self.integer = True

    def grid(self, breakpoints=(), loc=0.0, scale=1.0, cutoff: int | None = None) -> Grid:
        top = self.upper if np.isfinite(self.upper) else float(cutoff)
        values = np.arange(self.lower, top + 1.0)
        zeros = np.zeros(values.size)
        return Grid(values, zeros, zeros, exact=np.isfinite(self.upper))

    def contains(self, x):
        import pytensor.tensor as pt

        return (x >= self.lower) & (x <= self.upper) & pt.eq(x, pt.round(x))

    def __repr__(self):
        up = "" if not np.isfinite(self.upper) else f", upper={int(self.upper)}"
        return f"Integers(lower={int(self.lower)}{up})"


class Interval(Domain):
    """The interval ``[lower, upper]`` with Lebesgue measure (tanh-sinh panels)."""

    def __init__(self, lower: float, upper: float):
        lower, upper = float(lower), float(upper)
        if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
            raise ValueError(
                f"Interval: need finite lower < upper, got ({lower}, {upper}); use HalfLine or "
                "RealLine for unbounded supports."
            )
        self.lower, self.upper = lower, upper

    def grid(self, breakpoints=(), loc=0.0, scale=1.0) -> Grid:
        return self._panels(breakpoints, scale)

    def __repr__(self):
        return f"Interval({self.lower}, {self.upper})"


class HalfLine(Domain):
    """The half-line ``[lower, inf)`` with Lebesgue measure (tanh-sinh and exp-sinh panels)."""

    def __init__(self, lower: float = 0.0):
        lower = float(lower)
        if not np.isfinite(lower):
            raise ValueError(f"HalfLine: lower must be finite, got {lower}.")
        self.lower = lower

    def grid(self, breakpoints=(), loc=0.0, scale=1.0) -> Grid:
        return self._panels(breakpoints, scale)

    def __repr__(self):
        return f"HalfLine(lower={self.lower})"


class RealLine(Domain):
    """The real line with Lebesgue measure (exp-sinh panels on both sides of ``loc``)."""

    def grid(self, breakpoints=(), loc=0.0, scale=1.0) -> Grid:
        return self._panels([*breakpoints, loc] if not len(breakpoints) else breakpoints, scale)

    def __repr__(self):
        return "RealLine()"


class Circle(Domain):
    r"""Angles in :math:`[-\pi, \pi)` with Lebesgue measure.

    Without breakpoints the periodic trapezoidal rule (256 nodes; exponentially accurate for
    smooth periodic densities); with breakpoints, tanh-sinh panels between them.
    """

    lower, upper = -np.pi, np.pi

    def grid(self, breakpoints=(), loc=0.0, scale=1.0) -> Grid:
        inner = [b for b in breakpoints if -np.pi < b < np.pi]
        if inner:
            return self._panels(inner, scale)
        n = _CIRCLE_NODES
        x = -np.pi + 2 * np.pi * np.arange(n) / n
        log_w = np.full(n, np.log(2 * np.pi / n))
        coarse = np.where(np.arange(n) % 2 == 0, log_w + np.log(2.0), -np.inf)
        return Grid(x, log_w, coarse, exact=False)

    def contains(self, x):
        return (x >= -np.pi) & (x <= np.pi)

    def __repr__(self):
        return "Circle()"
