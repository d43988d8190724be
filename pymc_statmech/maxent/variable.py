r"""The Family of a maximum-entropy solution and its PyMC random variable.

A solution :math:`p(x) \propto q(x) e^{\lambda\cdot T(x)}` on its measure (nodes
:math:`x_i`, weights :math:`w_i`) is the exponential family with statistics the constraint
functions and :math:`A(\lambda) = \log\sum_i w_i q(x_i) e^{\lambda\cdot T(x_i)}`
(:func:`solution_family`). :func:`solution_variable` makes it a PyMC variable whose density,
draws and family form all come from that Family, with the multipliers of its targets (solved in
the graph when the targets are random).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions import transforms
from pymc.distributions.shape_utils import change_dist_size
from pymc.distributions.transforms import _default_transform
from pytensor.graph.basic import Constant, Variable, equal_computations
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.subtensor import AdvancedSubtensor

from pymc_statmech.expfam.api import FamilyForm, register_family_form
from pymc_statmech.expfam.family import Family
from pymc_statmech.maxent.constraints import InfeasibleConstraintsError
from pymc_statmech.maxent.domains import Circle, HalfLine, Interval
from pymc_statmech.maxent.solve import solve_dual

if TYPE_CHECKING:
    from pymc_statmech.maxent.problem import MaxEntProblem, MaxEntSolution

__all__ = ["solution_family", "solution_variable"]


def solution_family(problem: MaxEntProblem, nodes, T_nodes, logw, logq_nodes, start) -> Family:
    """The solution's exponential family on a measure: statistics = the constraint functions,
    log-partition = the logsumexp over the nodes, mean-to-natural map = the dual Op, and the
    nodes with their probabilities as the family's measure."""
    d = len(problem)
    domain = problem.domain

    def statistics(x):
        return [pt.as_tensor_variable(c.statistic(x)).astype("float64") for c in problem]

    def scores(eta):
        return pt.tensordot(eta, T_nodes, axes=[[-1], [0]]) + logw

    def log_partition(eta):
        return pt.logsumexp(scores(eta), axis=-1)

    def measure(eta):
        return pt.as_tensor_variable(nodes), pt.special.log_softmax(scores(eta), axis=-1)

    def expected_log_base(eta):
        weights = pt.special.softmax(scores(eta), axis=-1)
        # Nodes outside the base's support carry no weight (0 * -inf is not 0 in IEEE).
        return pt.sum(weights * pt.switch(pt.isinf(logq_nodes), 0.0, logq_nodes), axis=-1)

    return Family(
        name="MaxEnt",
        statistics=statistics,
        log_partition=log_partition,
        log_base_measure=lambda x: pt.broadcast_to(problem.log_base(x), x.shape),
        natural_ndims=(1,),
        value_ndim=0,
        natural_domain=lambda eta: [(pt.all(pt.isfinite(eta), axis=-1), "finite multipliers")],
        in_support=domain.contains,
        support=repr(domain),
        discrete=domain.discrete,
        component_sizes=(d,),
        expected_log_base_measure=expected_log_base,
        natural_from_mean_closed=lambda mu: solve_dual(T_nodes, logw, mu, start),
        measure=measure,
        reference="Jaynes (1957); Wainwright and Jordan (2008), section 3.1.",
    )


def solution_variable(solution: MaxEntSolution, *, closed_form: bool = True, **kwargs):
    """The solution as a PyMC distribution (``.dist``): the recognised classical family when
    ``closed_form`` and there is one, else a variable generated from :func:`solution_family`.
    ``kwargs`` (``shape``, ``size``) as for any PyMC distribution."""
    if closed_form and solution.closed_form is not None:
        rv = solution.closed_form.distribution(solution.targets, solution.domain)
        if "shape" in kwargs or "size" in kwargs:
            size = kwargs.get("size") or kwargs["shape"]
            rv = change_dist_size(rv, size, expand=False)
        return rv
    return _generic(solution, **kwargs)


def _indexed_targets(problem):
    """``(table, index)`` when every target is ``base_k[index]`` with one shared index.

    Hierarchical models write ``psm.mean(mu[group])``: one dual per observation, although only
    ``len(mu)`` are distinct. The distribution then solves the table and indexes the
    multipliers instead.
    """
    bases, index = [], None
    for c in problem:
        t = c.target
        if not (isinstance(t, Variable) and t.owner is not None):
            return None
        if not isinstance(t.owner.op, AdvancedSubtensor):
            return None
        if len(t.owner.inputs) != 2:
            return None
        base, idx = t.owner.inputs
        if base.ndim != 1 or idx.ndim != 1 or not idx.dtype.startswith("int"):
            return None
        if index is not None and not equal_computations([idx], [index]):
            return None
        index = idx
        bases.append(base.astype("float64"))
    if not bases:
        return None
    return pt.stack(bases, axis=-1), index


def _generic(solution: MaxEntSolution, **kwargs):
    problem = solution.problem
    d = len(problem)
    lifted = [
        v
        for v in problem.free
        if _in_graphs(v, [*problem.statistic_graphs, problem.log_base_graph])
    ]
    targets = pt.as_tensor_variable(solution.targets).astype("float64")
    if d == 0:
        targets = pt.zeros((0,))
    indexed = _indexed_targets(problem) if d else None
    target_params = [targets] if indexed is None else list(indexed)
    n_target_params = len(target_params)
    start = solution.start
    nodes = np.asarray(solution.grid.nodes)
    order = np.argsort(nodes)
    discrete = problem.domain.discrete
    T_nodes, logq_nodes = solution.node_statistics, solution.node_log_base
    log_weights = pt.as_tensor_variable(solution.grid.log_weights)

    def rebuild(args):
        targets_in, params = args[:n_target_params], args[n_target_params:]
        mapping = dict(zip(lifted, params, strict=True))
        T, logq = (
            graph_replace([T_nodes, logq_nodes], mapping, strict=False)
            if mapping
            else (T_nodes, logq_nodes)
        )
        if not d:
            lam = pt.zeros_like(targets_in[0])
        elif indexed is None and not mapping and _solved_targets(solution, targets_in[0]):
            # the targets the solution was built for: its multipliers, not a Newton solve in
            # the graph (3 s of compilation on a new machine, and a solve per evaluation)
            lam = pt.as_tensor_variable(np.asarray(solution.multipliers, dtype="float64"))
        elif indexed is None:
            lam = solve_dual(T, log_weights + logq, targets_in[0], start)
        else:
            table, index = targets_in
            lam = solve_dual(T, log_weights + logq, table, start)[index]
        return T, logq, lam, mapping

    def scores(T, logq, lam):
        return (
            pt.tensordot(lam, T, axes=[[-1], [0]]) + logq
            if d
            else pt.shape_padleft(logq, lam.ndim - 1) + pt.zeros((*lam.shape[:-1], logq.shape[0]))
        )

    def logp(value, *args):
        T, logq, lam, mapping = rebuild(args)
        family = solution_family(problem, nodes, T, log_weights + logq, logq, start)
        lp = family.logp(pt.as_tensor_variable(value).astype("float64"), lam)
        if mapping:
            # Statistics and base at the value may use the lifted model variables too.
            lp = graph_replace(lp, mapping, strict=False)
        return pt.switch(pt.all(pt.isfinite(lam), axis=-1), lp, -np.inf)

    def random(*args_and_size):
        *args, size = args_and_size
        T, logq, lam, _ = rebuild(args)
        # no multipliers (a target not finite or not strictly inside its statistic's range,
        # or a dual that did not converge): an error, not draws from NaN probabilities
        lam = _no_multipliers(lam, pt.all(pt.isfinite(lam)))
        s = scores(T, logq, lam)
        if discrete or solution.grid.exact:
            idx = pm.Categorical.dist(logit_p=s + log_weights, size=size)
            draws = pt.as_tensor_variable(nodes)[idx]
            return pt.cast(draws, "int64") if problem.domain.integer else draws
        return _log_linear_draws(s[..., order], nodes[order], size)

    def support_point(rv, size, *args):
        T, logq, lam, _ = rebuild(args)
        p = pt.special.softmax(scores(T, logq, lam) + log_weights, axis=-1)[..., order]
        median = pt.argmax(pt.cumsum(p, axis=-1) >= 0.5, axis=-1)
        point = pt.as_tensor_variable(nodes[order])[median]
        return pt.cast(pt.broadcast_to(point, rv.shape), rv.dtype)

    lifted_sig = [f"({','.join(f'p{i}_{j}' for j in range(v.ndim))})" for i, v in enumerate(lifted)]
    target_sig = "(g,d),()" if indexed is not None else f"({'d' if d else 'z'})"
    signature = f"{target_sig}{''.join(',' + s for s in lifted_sig)}->()"
    rv = pm.CustomDist.dist(
        *target_params,
        *lifted,
        dist=random,
        logp=logp,
        support_point=support_point,
        signature=signature,
        dtype="int64" if discrete and problem.domain.integer else "float64",
        class_name="MaxEnt",
        **kwargs,
    )
    transform = _transform(problem.domain)
    if transform is not None:
        _default_transform.register(type(rv.owner.op))(lambda op, rv, _t=transform: _t)

    @register_family_form(type(rv.owner.op))
    def _form(op, rv, *args):
        # the solution's family at the multipliers of these targets: entropy, KL, mean
        # parameters and Fisher information of a MaxEnt variable come from it
        T, logq, lam, _ = rebuild(args)
        return FamilyForm(
            solution_family(problem, nodes, T, log_weights + logq, logq, start), lam, {}
        )

    return rv


_no_multipliers = CheckAndRaise(
    InfeasibleConstraintsError,
    "MaxEnt draws: the constraints have no maximum-entropy solution at these targets (a target "
    "not finite, or on or beyond the boundary of what the domain can reach, or a dual that did "
    "not converge); keep random targets strictly inside the feasible range",
)


def _solved_targets(solution: MaxEntSolution, targets) -> bool:
    """Whether ``targets`` are constants equal to those ``solution`` was solved for."""
    if solution.problem.symbolic or not isinstance(targets, Constant):
        return False
    known = np.asarray(solution.targets, dtype="float64")
    return targets.data.shape == known.shape and bool(np.all(targets.data == known))


def _in_graphs(var, graphs) -> bool:
    return var in set(ancestors(graphs))


def _transform(domain):
    if isinstance(domain, Interval):
        return transforms.Interval(domain.lower, domain.upper)
    if isinstance(domain, HalfLine):
        return transforms.Interval(domain.lower, None)
    if isinstance(domain, Circle):
        return transforms.circular
    return None


def _log_linear_draws(log_density, x, size):
    """Inverse-CDF draws from the density interpolated log-linearly between sorted nodes."""
    width = pt.as_tensor_variable(np.diff(x))
    left, right = log_density[..., :-1], log_density[..., 1:]
    delta = right - left
    small = pt.abs(delta) < 1e-8
    safe = pt.switch(small, 1.0, delta)
    # log of (exp(delta) - 1) / delta, without overflow for large delta.
    log_ratio = pt.switch(
        small,
        delta / 2,
        pt.switch(
            delta > 0,
            delta + pt.log(-pt.expm1(-safe)) - pt.log(safe),
            pt.log(pt.expm1(safe) / safe),
        ),
    )
    log_mass = pt.log(width) + left + log_ratio
    cell = pm.Categorical.dist(logit_p=log_mass, size=size)
    u = pm.Uniform.dist(0.0, 1.0, size=cell.shape)
    d = pt.take_along_axis(
        pt.broadcast_to(delta, (*cell.shape, delta.shape[-1])), cell[..., None], axis=-1
    )[..., 0]
    small_d = pt.abs(d) < 1e-8
    safe_d = pt.switch(small_d, 1.0, d)
    fraction = pt.switch(
        small_d,
        u,
        pt.switch(
            d > 0,
            1 + pt.log(u + (1 - u) * pt.exp(-safe_d)) / safe_d,
            pt.log1p(u * pt.expm1(safe_d)) / safe_d,
        ),
    )
    x = pt.as_tensor_variable(x)
    return x[cell] + pt.clip(fraction, 0.0, 1.0) * width[cell]
