r"""Maximum-entropy problems: assembly, the adaptive measure, and the solution object.

A problem is a domain, constraints :math:`E[T_k(x)] = c_k` and an optional base measure
:math:`q`. Its solution :math:`p(x) = q(x)\exp(\lambda\cdot T(x) - A(\lambda))` *is* an
exponential family (statistics :math:`T`, natural parameters :math:`\lambda`, base measure
:math:`q`), so it is returned as a :class:`~pymc_statmech.expfam.family.Family` whose
log-partition is the exact sum or the quadrature of the domain and whose mean-to-natural map is
the dual solver :func:`~pymc_statmech.maxent.solve.solve_dual`.

Continuous measures are adapted to the solution: a first solve on the domain's DE grid locates
the mass, and panel edges are then placed at quantiles of the solution (so a narrow peak far
from the origin is resolved) until the multipliers agree between refinements and between the
rule and its nested half rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.distributions.distribution import SymbolicRandomVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.op import RandomVariable
from pytensor.tensor.sharedvar import TensorSharedVariable
from scipy.special import logsumexp

from pymc_statmech._compile import eager_function
from pymc_statmech.maxent.constraints import Constraint, InfeasibleConstraintsError
from pymc_statmech.maxent.domains import Circle, Discrete, Domain, Grid, Integers, RealLine
from pymc_statmech.maxent.known import recognise
from pymc_statmech.maxent.solve import solve_dual, solve_dual_numpy
from pymc_statmech.maxent.variable import solution_family, solution_variable
from pymc_statmech.tensors import widen_constants

__all__ = ["MaxEntProblem", "MaxEntSolution", "maxent_solve"]

# Quantiles of the solution at which the refined measure places panel edges.
_REFINE_QUANTILES = np.array([1e-3, 0.05, 0.5, 0.95, 0.999])
_REFINE_ROUNDS = 6
# Refinement stops when the multipliers move less than this (relative to their scale).
_REFINE_TOL = 1e-11
# Acceptance of a solution on a quadrature or truncated measure (here and in concentration.py):
#: largest disagreement of the moments under the rule and its nested half rule, in standard
#: deviations of the statistic (1e-9 on the hardest tested problem; the full rule is far more
#: accurate than the half rule);
NESTED_TOL = 1e-7
#: mass allowed at the outermost nodes of a truncated measure;
EDGE_MASS_TOL = 1e-12
#: proven tail bound required of a truncated integer support.
TAIL_TOL = 1e-17
_MAX_CUTOFF = 2**22
# Draws of random targets used to place the measure for symbolic problems.
_TYPICAL_DRAWS = 32


def _free_random_variables(outputs: Sequence[Variable], x: Variable) -> list[Variable]:
    """Outermost random-variable outputs in the graphs (the model variables they use)."""
    found, seen, stack = [], {x}, list(outputs)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is None:
            if isinstance(v.type, pt.TensorType) and not isinstance(
                v, Constant | TensorSharedVariable
            ):
                raise ValueError(
                    f"maxent: the input {v} of a target, statistic or base measure has no "
                    "value; use numbers, pm.Data or model variables."
                )
            continue
        if isinstance(v.owner.op, RandomVariable | SymbolicRandomVariable):
            found.append(v)
            continue
        stack.extend(v.owner.inputs)
    return found


@dataclass
class MaxEntProblem:
    r"""A domain, its constraints and a base measure, with the symbolic pieces they imply.

    Attributes
    ----------
    value : TensorVariable
        The symbolic points ``x`` (a vector) of which the graphs below are functions.
    statistic_graphs : list of TensorVariable
        :math:`T_k(x)`, one per constraint, float64.
    log_base_graph : TensorVariable
        :math:`\log q(x)`, float64.
    targets : TensorVariable or None
        The targets stacked on the last axis (``None`` without constraints).
    """

    domain: Domain
    constraints: list[Constraint]
    base: Any = None

    def __post_init__(self):
        if not isinstance(self.domain, Domain):
            raise TypeError(
                f"maxent: domain must be psm.Discrete, psm.Integers, psm.Interval, "
                f"psm.HalfLine, psm.RealLine or psm.Circle, got {self.domain!r}."
            )
        # one constraint alone is a list of one (maxent_solve(die, psm.mean(4.5)))
        if isinstance(self.constraints, Constraint):
            self.constraints = [self.constraints]
        if not np.iterable(self.constraints):
            raise TypeError(
                "maxent: constraints must be a list of psm.mean, psm.moment, psm.expect, "
                f"psm.interval_mass or psm.quantile results, got {self.constraints!r}."
            )
        self.constraints = list(self.constraints)
        for c in self.constraints:
            if not isinstance(c, Constraint):
                raise TypeError(
                    f"maxent: constraints are built by psm.mean, psm.moment, psm.expect, "
                    f"psm.interval_mass or psm.quantile, got {c!r}."
                )
        self.log_base = _log_base(self.base, self.domain)
        x = pt.dvector("x")
        self.value = x
        self.statistic_graphs = [
            pt.as_tensor_variable(c.statistic(x)).astype("float64") for c in self
        ]
        self.statistic_graphs = [
            s if s.ndim == 1 else pt.broadcast_to(s, x.shape) for s in self.statistic_graphs
        ]
        self.log_base_graph = pt.broadcast_to(self.log_base(x), x.shape).astype("float64")
        targets = [pt.as_tensor_variable(c.target).astype("float64") for c in self]
        self.targets = pt.stack(pt.broadcast_arrays(*targets), axis=-1) if targets else None
        outputs = [
            *self.statistic_graphs,
            self.log_base_graph,
            *([self.targets] if self.targets is not None else []),
        ]
        self.free = _free_random_variables(outputs, x)

        # Symbolic when anything but x can change: model variables or shared data.
        def varies(graphs):
            return any(
                not isinstance(v, Constant) and v is not x
                for v in pytensor.graph.traversal.graph_inputs(graphs)
            )

        self.symbolic = varies(outputs)
        self.symbolic_statistics = varies([*self.statistic_graphs, self.log_base_graph])

    def __iter__(self):
        return iter(self.constraints)

    def __len__(self):
        return len(self.constraints)

    @property
    def breakpoints(self) -> list[float]:
        return sorted({b for c in self for b in c.breakpoints})

    # -- numeric evaluation at construction time ---------------------------------------------
    @cached_property
    def _numeric(self):
        # Compiled once per problem: (nodes, *free) -> T, log q, and (*free) -> targets.
        placeholders = [v.type() for v in self.free]
        mapping = dict(zip(self.free, placeholders, strict=True))
        targets = self.targets if self.targets is not None else pt.zeros((0,))
        outs = [*self.statistic_graphs, self.log_base_graph, targets]
        outs = graph_replace(outs, mapping, strict=False) if mapping else outs
        kwargs = {"on_unused_input": "ignore"}
        # The statistics take only the model variables they use (none for fixed statistics).
        used = set(ancestors(outs[:-1]))
        self._statistics_inputs = [i for i, v in enumerate(placeholders) if v in used]
        inputs = [self.value, *(placeholders[i] for i in self._statistics_inputs)]
        statistics = eager_function(inputs, outs[:-1], **kwargs)
        return statistics, eager_function(placeholders, outs[-1], **kwargs)

    def statistics_at(self, nodes, *free_values) -> tuple[np.ndarray, np.ndarray]:
        """``T`` (d, n) and ``log q`` (n,) at the nodes, in NumPy (``free_values``: values of
        the problem's model variables; not needed when the statistics use none)."""
        d = len(self)
        statistics = self._numeric[0]
        used = [free_values[i] for i in self._statistics_inputs] if free_values else []
        values = statistics(np.asarray(nodes, dtype="float64"), *used)
        T = np.array(values[:d]).reshape(d, -1) if d else np.zeros((0, len(nodes)))
        return T, np.asarray(values[d])

    def evaluate(self, nodes, *free_values):
        """``(T (d, n), log q (n,), targets)`` in NumPy for given values of the model variables."""
        T, logq = self.statistics_at(nodes, *free_values)
        return T, logq, np.asarray(self._numeric[1](*free_values))

    def typical_free_values(self, random_seed: int = 0) -> list[list[np.ndarray]]:
        """Prior draws of the model variables used by the problem (one list per draw)."""
        if not self.free:
            return [[]]
        draws = list(pm.draw(list(self.free), draws=_TYPICAL_DRAWS, random_seed=random_seed))
        return [[d[i] for d in draws] for i in range(_TYPICAL_DRAWS)]

    # -- the measure ----------------------------------------------------------------------------
    def measure(self) -> tuple[Grid, np.ndarray]:
        """The discrete measure for this problem and the multipliers at the typical targets."""
        evaluate = self.evaluate
        cases = []
        for free in self.typical_free_values():
            _, _, c = evaluate(np.zeros(1), *free)
            if not len(self):
                cases.append((free, np.zeros(0)))
                break
            for target in np.reshape(c, (-1, len(self))):
                cases.append((free, target))
        order = _representatives(np.array([t for _, t in cases]))
        # A truncated integer support must hold every member of a batch, not only the median.
        self.cutoff_floor = max(
            (
                int(self.domain.lower + 64 * (abs(value) + 1))
                for _, t in cases
                for c, value in zip(self, t, strict=True)
                if _raw_moment(c) and isinstance(self.domain, Integers)
            ),
            default=0,
        )
        breakpoints = set(self.breakpoints)
        # Random targets: the measure resolves the solutions of a few spread prior draws too.
        for index in order[1:]:
            free, target = cases[index]
            g, _ = _adapted_grid(self, evaluate, free, target, breakpoints, strict=False)
            breakpoints |= set(getattr(g, "breakpoints", ()))
        free, target = cases[order[0]]
        return _adapted_grid(self, evaluate, free, target, breakpoints, strict=True)


def _representatives(targets: np.ndarray) -> list[int]:
    # The target vector nearest the componentwise median first, then a few spread ones.
    if len(targets) == 1:
        return [0]
    med = np.median(targets, axis=0)
    spread = np.std(targets, axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    dist = np.sqrt((((targets - med) / spread) ** 2).sum(axis=1))
    ranked = np.argsort(dist, kind="stable")
    picks = [ranked[0]] + [ranked[int(q * (len(ranked) - 1))] for q in (0.5, 0.9, 1.0)]
    return list(dict.fromkeys(int(i) for i in picks))


@dataclass(frozen=True)
class _AdaptedGrid(Grid):
    breakpoints: tuple[float, ...] = field(default=())


def _log_base(base: Any, domain: Domain) -> Callable[[Any], Any]:
    if base is None:
        return lambda x: pt.zeros_like(x)
    if isinstance(base, Variable):
        if base.owner is None or not isinstance(
            base.owner.op, RandomVariable | SymbolicRandomVariable
        ):
            raise TypeError(
                f"maxent: base must be a PyMC distribution (pm.Normal.dist(...)) or a function "
                f"returning log q(x), got {base!r}."
            )
        discrete = base.type.dtype.startswith("int")
        if discrete != domain.discrete:
            kind = "discrete" if discrete else "continuous"
            raise ValueError(
                f"maxent: the base measure is {kind} but the domain {domain!r} is not; use "
                "psm.Integers/psm.Discrete with a discrete base, an interval or line otherwise."
            )
        base64 = widen_constants(base)
        return lambda x: pm.logp(base64, x, warn_rvs=False)
    if callable(base):
        return base
    raise TypeError(f"maxent: base must be a PyMC distribution or a callable, got {base!r}.")


def _initial_location(problem: MaxEntProblem, target: np.ndarray) -> tuple[float, float]:
    """Where the first grid is centred and its scale: from a mean (and second moment) target
    when there is one; the refinement then follows the solution itself."""
    loc, scale, mean = 0.0, 1.0, None
    for c, value in zip(problem, target, strict=True):
        if c.power == (1, 0.0):
            mean = float(value)
    if mean is not None:
        loc = mean
        for c, value in zip(problem, target, strict=True):
            if c.power == (2, 0.0) and value > mean**2:
                scale = float(np.sqrt(value - mean**2))
        if scale == 1.0 and mean != problem.domain.lower and np.isfinite(problem.domain.lower):
            scale = abs(mean - problem.domain.lower)
    if not isinstance(problem.domain, RealLine):
        loc = min(max(loc, problem.domain.lower), problem.domain.upper)
    return loc, scale


def _solve_on(grid_w, T, logq, target, lam0):
    lam, status, _iterations, _residual = solve_dual_numpy(T, grid_w + logq, target, lam0)
    return lam, status


def _feasible(problem: MaxEntProblem, T: np.ndarray, logw: np.ndarray, target, strict) -> bool:
    """Per-constraint range over the support, so an infeasible target is named (if strict)."""
    live = np.isfinite(logw) & np.all(np.isfinite(T), axis=0)
    if not live.any():
        if not strict:
            return False
        _fail(
            problem,
            target,
            "no point of the measure has a finite base density and finite statistics (the "
            "base measure's support misses the domain, or the statistics overflow there).",
        )
    for c, row, value in zip(problem, T, target, strict=True):
        lo, hi = row[live].min(), row[live].max()
        if not lo < value < hi:
            if not strict:
                return False
            raise InfeasibleConstraintsError(
                f"{c.name} = {value:g} is outside the feasible range ({lo:g}, {hi:g}) of the "
                f"statistic on {problem.domain!r}: a target must lie strictly inside it."
            )
    return True


def _fail(problem: MaxEntProblem, target, reason: str):
    listed = ", ".join(f"{c.name} = {v:g}" for c, v in zip(problem, target, strict=True))
    raise InfeasibleConstraintsError(f"maxent on {problem.domain!r} with {listed}: {reason}")


def _log_weights(T, logw, lam) -> np.ndarray:
    s = lam @ T + logw
    return s - logsumexp(s)


def _weights(T, logw, lam):
    return np.exp(_log_weights(T, logw, lam))


def _adapted_grid(problem, evaluate, free, target, breakpoints, strict):
    domain = problem.domain
    d = len(problem)
    if isinstance(domain, Discrete) or (isinstance(domain, Integers) and np.isfinite(domain.upper)):
        grid = domain.grid()
        T, logq, _ = evaluate(grid.nodes, *free)
        logw = grid.log_weights + logq
        if d and not _feasible(problem, T, logw, target, strict):
            return None, None
        lam, status = _solve_on(grid.log_weights, T, logq, target, None)
        if status > 1 and not strict:
            return None, None
        if status > 1:
            _fail(
                problem,
                target,
                "the targets are jointly infeasible (no distribution on "
                "this support has these expectations together).",
            )
        return grid, lam
    if isinstance(domain, Integers):
        return _integer_grid(problem, evaluate, free, target, strict)
    loc, scale = _initial_location(problem, target)
    grid = domain.grid(sorted(breakpoints), loc, scale)
    T, logq, _ = evaluate(grid.nodes, *free)
    lam = _initial_multipliers(domain, grid, T, logq, target, loc, scale)
    previous = None
    for _ in range(_REFINE_ROUNDS + 1):
        T, logq, _ = evaluate(grid.nodes, *free)
        logw = grid.log_weights + logq
        if d and not _feasible(problem, T, logw, target, strict):
            return None, None
        lam, status = _solve_on(grid.log_weights, T, logq, target, lam)
        if not np.all(np.isfinite(lam)):
            break
        p = _weights(T, logw, lam)
        interior = edge_mass(grid.nodes, domain, p) <= EDGE_MASS_TOL
        solved = status <= 1 and interior
        if not interior:
            # The mass sits at the far ends of the domain: not normalisable.
            break
        if (
            solved
            and previous is not None
            and np.all(np.abs(lam - previous) <= _REFINE_TOL * (1 + np.abs(lam)))
        ):
            break
        # Refine around the current iterate, even a failed one: a grid too coarse for a
        # narrow peak still locates it.
        previous = lam.copy() if solved else None
        cuts = _quantiles(grid.nodes, p, _REFINE_QUANTILES)
        span = max(cuts[-1] - cuts[2], cuts[2] - cuts[0], np.finfo(float).tiny)
        grid = domain.grid(sorted(set(breakpoints) | set(cuts.tolist())), cuts[2], span / 3)
        grid = _AdaptedGrid(
            grid.nodes, grid.log_weights, grid.coarse_log_weights, grid.exact, tuple(cuts)
        )
    else:
        solved = False
    if not solved:
        if not strict:
            return None, None
        _fail(problem, target, _non_normalisable_reason(problem, grid, T, logw, target))
    T, logq, _ = evaluate(grid.nodes, *free)
    _check_nested(problem, grid, T, logq, target, lam, strict)
    return grid, lam


def _initial_multipliers(domain, grid, T, logq, target, loc, scale) -> np.ndarray:
    """A starting point for Newton on an unbounded domain, by continuation in the range.

    From zero, Newton fails there: the flat density puts its mass on the farthest nodes,
    where the statistics are huge. The problem is first solved on the nodes within a factor
    ``R = 10`` of ``scale`` (about ``loc`` on the line, from the end of a half-line), where
    flat is a fine start, and ``R`` then grows to the whole grid, each solve starting from
    the previous one (an infeasible truncation still gives a useful last iterate).
    """
    lam = np.zeros(len(T))
    if (np.isfinite(domain.lower) and np.isfinite(domain.upper)) or not len(T):
        return lam
    nodes = grid.nodes
    if np.isfinite(domain.lower):
        with np.errstate(divide="ignore"):
            spread = np.abs(np.log(np.maximum(nodes - domain.lower, 0.0) / scale))
    else:
        spread = np.log1p(np.abs(nodes - loc) / scale)
    for log_range in (np.log(10.0), np.log(1e3), np.log(1e6), np.log(1e12), np.inf):
        logw = np.where(spread <= log_range, grid.log_weights, -np.inf)
        trial, _ = _solve_on(logw, T, logq, target, lam)
        if np.all(np.isfinite(trial)):
            lam = trial
    return lam


def _check_nested(problem, grid, T, logq, target, lam, strict):
    if not len(problem) or grid.exact:
        return
    p = _weights(T, grid.log_weights + logq, lam)
    pc = _weights(T, grid.coarse_log_weights + logq, lam)
    gap = nested_gap(T, p, pc)
    if strict and not np.all(gap <= NESTED_TOL):
        _fail(
            problem,
            target,
            "the quadrature cannot resolve the solution (its nested rules disagree by "
            f"{gap.max():.2g} standard deviations); rescale the variable or add breakpoints.",
        )


def nested_gap(T: np.ndarray, p: np.ndarray, p_coarse: np.ndarray) -> np.ndarray:
    """``|E_coarse T - E T| / sd(T)``: how far the nested half rule's moments are from the
    rule's, in standard deviations. ``T`` is ``(k, nodes)``, the normalised weights ``p`` and
    ``p_coarse`` are ``(..., nodes)``; the result is ``(..., k)``."""
    # Nodes without mass are left out: their statistics may overflow when squared.
    T = np.where(((p > 0) | (p_coarse > 0))[..., None, :], T, 0.0)
    mean = np.einsum("...kn,...n->...k", T, p)
    sd = np.sqrt(np.einsum("...kn,...n->...k", (T - mean[..., None]) ** 2, p))
    gap = np.abs(np.einsum("...kn,...n->...k", T, p_coarse) - mean)
    return gap / np.where(sd > 0, sd, 1.0)


def edge_mass(nodes: np.ndarray, domain: Domain, p: np.ndarray) -> np.ndarray:
    """Mass of the weights ``p`` (``(..., nodes)``) on the two outermost nodes at each infinite
    end of the domain (none on a circle)."""
    order = np.argsort(nodes)
    total = np.zeros(p.shape[:-1])
    if isinstance(domain, Circle):
        return total
    if not np.isfinite(domain.lower):
        total = total + p[..., order[:2]].sum(axis=-1)
    if not np.isfinite(domain.upper):
        total = total + p[..., order[-2:]].sum(axis=-1)
    return total


def _quantiles(nodes, p, qs):
    order = np.argsort(nodes)
    x, w = nodes[order], p[order]
    cdf = np.cumsum(w) - 0.5 * w
    return np.interp(qs, cdf, x)


def _in_hull(T: np.ndarray, logw: np.ndarray, target: np.ndarray) -> bool:
    """Whether the targets are a mixture of the statistics' values on the support (an LP)."""
    from scipy.optimize import linprog

    # Nodes within a wide but sane range of the targets (the far quadrature nodes at
    # |x| ~ 1e30 carry no information about feasibility and wreck the LP's conditioning).
    live = (
        np.isfinite(logw)
        & np.all(np.isfinite(T), axis=0)
        & np.all(np.abs(T - target[:, None]) <= 1e8 * (1 + np.abs(target[:, None])), axis=0)
    )
    # Rows centred at the targets and scaled to unit size, so far quadrature nodes
    # (|x| ~ 1e30) do not wreck the LP's conditioning.
    centred = T[:, live] - target[:, None]
    centred /= np.abs(centred).max(axis=1, keepdims=True)
    A = np.vstack([centred, np.ones(live.sum())])
    b = np.append(np.zeros(len(target)), 1.0)
    result = linprog(np.zeros(live.sum()), A_eq=A, b_eq=b, bounds=(0, None))
    return result.status == 0


def _raw_moment(c: Constraint) -> bool:
    """Whether ``c`` constrains a raw moment :math:`E[x^k]`."""
    return c.power is not None and c.power[1] == 0.0


def _non_normalisable_reason(problem, grid, T, logw, target) -> str:
    domain = problem.domain
    powers = [c.power for c in problem]
    if (1, 0.0) in powers:  # a spread too small for float64 at this location
        m = float(target[powers.index((1, 0.0))])
        centre = (
            f"centre the variable: solve for z = x - {m:.6g} (E[z] = 0 and the spread as E[z^2]) "
            "and shift the draws."
        )
        if (2, 0.0) in powers:
            m2 = float(target[powers.index((2, 0.0))])
            # within a few ulps of zero where an ulp is not negligible: lost, not negative
            if abs(m2 - m * m) <= 8 * np.spacing(m2) and np.spacing(m2) > 1e-12:
                return (
                    f"the implied variance E[x^2] - E[x]^2 = {m2 - m * m:.3g} is below float64's "
                    f"resolution at E[x^2] = {m2:.6g} (spacing {np.spacing(m2):.3g}), so the "
                    f"targets cannot say it; {centre}"
                )
        for power, value in zip(powers, target, strict=True):
            if power is not None and power[0] == 2 and power[1] != 0 and value > 0:
                if abs(m) > 1e6 * np.sqrt(float(value)):
                    return (
                        f"the distribution sits {abs(m) / np.sqrt(float(value)):.3g} standard "
                        f"deviations from 0, beyond what the quadrature can resolve; {centre}"
                    )
    if len(problem) and not _in_hull(T, logw, np.asarray(target, dtype=float)):
        return (
            "the targets are jointly infeasible: no distribution on this support has these "
            "expectations together (e.g. a second moment below the squared mean)."
        )
    if not (np.isfinite(domain.lower) and np.isfinite(domain.upper)):
        return (
            "the entropy's supremum is not attained by a normalisable density: the "
            "maximising sequence's mass escapes to infinity on this unbounded domain. Either no "
            "statistic grows in every unbounded direction (add a second moment, E|x| or "
            "E[log(1 + x^2)], or a base measure), or the targets ask for a heavier tail than "
            "the statistics allow (e.g. on a half-line with E[x] and E[x^2], a coefficient of "
            "variation above 1); or bound the domain."
        )
    return "the targets are jointly infeasible on this support."


def _integer_grid(problem, evaluate, free, target, strict):
    domain = problem.domain
    cutoff = max(domain.cutoff or int(domain.lower) + 64, problem.cutoff_floor)
    for c, value in zip(problem, target, strict=True):
        if _raw_moment(c):
            cutoff = max(cutoff, int(domain.lower + 64 * (abs(value) + 1)))
    if cutoff > _MAX_CUTOFF and strict:
        _fail(
            problem,
            target,
            f"the targets put mass beyond the {_MAX_CUTOFF} terms this solver sums exactly "
            f"(these targets need about {cutoff} terms): rescale the variable, e.g. model it "
            "in thousands, or on a continuous psm.HalfLine.",
        )
    lam = None
    while cutoff <= _MAX_CUTOFF:
        grid = domain.grid(cutoff=cutoff)
        T, logq, _ = evaluate(grid.nodes, *free)
        logw = grid.log_weights + logq
        if len(problem) and not _feasible(problem, T, logw, target, strict):
            return None, None
        lam, status = _solve_on(grid.log_weights, T, logq, target, lam)
        if status <= 1 and tail_bound(_log_weights(T, logw, lam)) <= TAIL_TOL:
            return grid, lam
        cutoff *= 2
    if not strict:
        return None, None
    _fail(
        problem,
        target,
        f"no truncation up to {_MAX_CUTOFF} terms has a provably negligible tail: the targets "
        f"put mass beyond {_MAX_CUTOFF} terms (rescale the variable), or the distribution is "
        "not normalisable with these constraints, or its tail is not log-concave.",
    )


def tail_bound(log_p: np.ndarray) -> np.ndarray:
    """Proven bound on the mass beyond the last of the terms whose normalised log-probabilities
    are ``log_p`` (``(..., terms)``, in order): the geometric bound of the last 16 terms' ratio
    where they are log-concave and decreasing, else ``inf``."""
    tail = log_p[..., -16:]
    steps = np.diff(tail, axis=-1)
    provable = (
        np.all(np.isfinite(steps), axis=-1)
        & (steps[..., -1] < 0)
        & np.all(np.diff(steps, axis=-1) <= 1e-12, axis=-1)
    )
    r = np.exp(np.minimum(np.nan_to_num(steps[..., -1]), 0.0))
    with np.errstate(divide="ignore"):
        return np.where(provable, np.exp(tail[..., -1]) * r / (1 - r), np.inf)


# ---------------------------------------------------------------------------------------------
class MaxEntSolution:
    r"""The maximum-entropy (minimum relative entropy) distribution of a problem.

    Attributes
    ----------
    multipliers : ndarray or TensorVariable
        :math:`\lambda`, the natural parameters (last axis: one per constraint).
    log_partition : float or TensorVariable
        :math:`A(\lambda) = \log \int q(x) e^{\lambda\cdot T(x)}\,dx` (dimensionless).
    entropy : float or TensorVariable
        Shannon entropy (differential on continuous domains) in nats,
        :math:`H = A - \lambda\cdot c - E_p[\log q]`.
    relative_entropy : float or TensorVariable
        :math:`KL(p\,\|\,q) = \lambda\cdot c - A` when a base measure is given.
    moments : ndarray or TensorVariable
        :math:`E_p[T]` on the measure.
    residuals : ndarray or TensorVariable
        ``moments - targets``.
    targets : ndarray or TensorVariable
        :math:`c`, the targets solved for (last axis: one per constraint).
    family : Family
        The solution's exponential family (statistics = constraint functions); its ``measure``
        gives the nodes and their probabilities.
    grid : Grid
        The measure: nodes, log quadrature weights (and those of the nested half rule).
    node_statistics, node_log_base, node_log_weights : TensorVariable
        :math:`T` at the nodes ``(d, n)``, :math:`\log q` at the nodes ``(n,)``, and the log
        weights of the measure, :math:`\log w + \log q` ``(n,)``.
    closed_form : KnownForm or None
        The classical distribution recognised, if any; :meth:`distribution` returns it.

    Values are NumPy when every target, statistic and base parameter is a number, PyTensor
    variables otherwise (random constraints).
    """

    def __init__(self, problem: MaxEntProblem, grid: Grid, lam0: np.ndarray):
        self.problem = problem
        self.grid = grid
        self.domain = problem.domain
        self.constraints = problem.constraints
        self.symbolic = problem.symbolic
        nodes = pt.as_tensor_variable(grid.nodes)
        self.node_statistics = graph_replace(
            pt.stack(problem.statistic_graphs) if len(problem) else pt.zeros((0, 1)),
            {problem.value: nodes},
            strict=False,
        )
        self.node_log_base = graph_replace(
            problem.log_base_graph, {problem.value: nodes}, strict=False
        )
        self.node_log_weights = pt.as_tensor_variable(grid.log_weights) + self.node_log_base
        self.family = solution_family(
            problem,
            grid.nodes,
            self.node_statistics,
            self.node_log_weights,
            self.node_log_base,
            np.asarray(lam0).reshape(-1),
        )
        self.closed_form = recognise(problem)
        # Multipliers at the typical targets, where the measure was built: Newton's start.
        self.start = np.asarray(lam0, dtype="float64").reshape(-1)
        if problem.symbolic:
            targets = problem.targets if problem.targets is not None else pt.zeros((0,))
            self.multipliers = (
                solve_dual(self.node_statistics, self.node_log_weights, targets, self.start)
                if len(problem)
                else targets
            )
            self.targets = targets
        else:
            T, logq = problem.statistics_at(grid.nodes)
            logw = grid.log_weights + logq
            target = np.asarray(problem.targets.eval()) if len(problem) else np.zeros(0)
            lam = np.zeros(target.shape)
            for idx in np.ndindex(target.shape[:-1]) if len(problem) else ():
                lam[idx], status, _, _ = solve_dual_numpy(T, logw, target[idx], lam0)
                if status > 1:
                    _fail(problem, target[idx], "the dual did not converge.")
                # A batch shares the measure of its median member: check it serves each one.
                p = _weights(T, logw, lam[idx])
                if edge_mass(grid.nodes, problem.domain, p) > EDGE_MASS_TOL:
                    _fail(problem, target[idx], "the measure misses this member's mass.")
                if isinstance(problem.domain, Integers) and not grid.exact:
                    if tail_bound(_log_weights(T, logw, lam[idx])) > TAIL_TOL:
                        _fail(problem, target[idx], "the truncation is too short for it.")
                _check_nested(problem, grid, T, logq, target[idx], lam[idx], strict=True)
            self.multipliers = lam
            self.targets = target

    # -- values ---------------------------------------------------------------------------------
    def _value(self, expr):
        return expr if self.symbolic else np.asarray(eager_function([], expr)())

    @property
    def log_partition(self):
        return self._value(self.family.log_partition(pt.as_tensor_variable(self.multipliers)))

    @property
    def moments(self):
        return self._value(self.family.mean_parameters(pt.as_tensor_variable(self.multipliers)))

    @property
    def residuals(self):
        return self._value(
            self.family.mean_parameters(pt.as_tensor_variable(self.multipliers)) - self.targets
        )

    @property
    def entropy(self):
        return self._value(self.family.entropy(pt.as_tensor_variable(self.multipliers)))

    @property
    def relative_entropy(self):
        if self.problem.base is None:
            raise ValueError("relative_entropy needs a base measure; this problem has none.")
        lam = pt.as_tensor_variable(self.multipliers)
        return self._value(pt.sum(lam * self.targets, axis=-1) - self.family.log_partition(lam))

    def logpdf(self, x):
        """Log density (w.r.t. Lebesgue or counting measure) at ``x``; -inf off the domain."""
        lam = pt.as_tensor_variable(self.multipliers)
        xt = pt.as_tensor_variable(
            np.asarray(x, dtype="float64") if not isinstance(x, Variable) else x
        )
        batch = lam.ndim - 1
        value = self.family.logp(pt.shape_padright(xt, batch) if batch else xt, lam)
        if self.symbolic or isinstance(x, Variable):
            return value
        return self._value(value)

    def distribution(self, **kwargs):
        """The solution as a PyMC distribution (``.dist``): the closed form when recognised."""
        return solution_variable(self, **kwargs)

    def __repr__(self):
        listed = "; ".join(repr(c) for c in self.constraints) or "no constraints"
        form = f", closed form {self.closed_form.name}" if self.closed_form else ""
        return f"MaxEntSolution({self.domain!r}: {listed}{form})"


def maxent_solve(domain: Domain, constraints: Sequence[Constraint] = (), base: Any = None):
    r"""Solve a maximum-entropy (or minimum relative entropy) problem exactly.

    .. math:: \max_p H(p) \;\text{s.t.}\; E_p[T_k] = c_k \quad\Longrightarrow\quad
              p(x) = q(x)\exp(\lambda\cdot T(x) - A(\lambda)),

    with :math:`\lambda` minimising the convex dual :math:`A(\lambda) - \lambda\cdot c`
    (damped Newton; its Hessian is :math:`\mathrm{Cov}[T]`). With a base measure :math:`q`
    the solution minimises :math:`KL(p\,\|\,q)` instead (the I-projection of :math:`q`).

    Parameters
    ----------
    domain : Domain
        ``psm.Discrete(values)``, ``psm.Integers(lower)``, ``psm.Interval(a, b)``,
        ``psm.HalfLine(lower)``, ``psm.RealLine()`` or ``psm.Circle()``.
    constraints : list of Constraint
        Built by :func:`psm.mean`, :func:`psm.moment`, :func:`psm.expect`,
        :func:`psm.interval_mass`, :func:`psm.quantile`; targets may be PyTensor variables.
    base : PyMC distribution or callable, optional
        The base measure :math:`q`: a ``pm.X.dist(...)`` or a function ``log q(x)``.

    Returns
    -------
    MaxEntSolution

    Raises
    ------
    InfeasibleConstraintsError
        A target outside the interior of the statistic's range (naming the constraint and the
        range), jointly infeasible targets, or a non-normalisable problem (with the reason).

    References
    ----------
    .. [1] Jaynes, E. T. (1957). Information theory and statistical mechanics.
       Phys. Rev. 106, 620-630.
    .. [2] Csiszar, I. (1975). I-divergence geometry of probability distributions and
       minimization problems. Ann. Probab. 3(1), 146-158.

    Examples
    --------
    Jaynes' Brandeis dice: a die whose mean is 4.5.

    >>> import pymc_statmech as psm
    >>> sol = psm.maxent_solve(psm.Discrete(range(1, 7)), [psm.mean(4.5)])
    >>> round(float(sol.multipliers[0]), 8)
    0.37104894
    >>> [round(float(v), 5) for v in sol.family.logp(range(1, 7), sol.multipliers).exp().eval()]
    [0.05435, 0.07877, 0.11416, 0.16545, 0.23977, 0.3475]
    """
    problem = MaxEntProblem(domain, constraints, base)
    grid, lam = problem.measure()
    return MaxEntSolution(problem, grid, lam)
