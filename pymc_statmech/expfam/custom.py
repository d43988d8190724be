r"""User-defined exponential families: give T, A, log h and a support; everything else follows.

:func:`ExponentialFamily` returns a PyMC distribution class generated exactly like the built-in
Natural* classes, so ``logp``, random draws, ``support_point``, a default transform and every
information quantity (:func:`pymc_statmech.entropy`, ``kl_divergence``, ``fisher_information``,
...) come from the same generic code.

* Finite supports (``support=[v1, v2, ...]``): every quantity is an exact sum and draws are
  exact (categorical over the enumerated probabilities).
* One-dimensional continuous supports (``support=(lower, upper)``, either may be infinite):
  :math:`E[\log h]` is computed by tanh-sinh quadrature on a mapped interval (unless
  ``log h`` does not depend on ``x`` or a closed form is given), and draws use a numerical
  inverse CDF tabulated on a grid (piecewise-linear CDF in the mapped coordinate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pymc.distributions import transforms
from pymc.distributions.distribution import Continuous, Discrete
from pymc.distributions.transforms import _default_transform
from pytensor.graph.traversal import graph_inputs
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.random.basic import categorical as categorical_rv
from pytensor.tensor.random.basic import uniform as uniform_rv

from pymc_statmech.expfam.distributions import NaturalDistribution
from pymc_statmech.expfam.family import Family, NumericalLimitError
from pymc_statmech.quadrature import DE_STEP, tanh_sinh_unit

__all__ = ["ExponentialFamily"]


# Quadrature for E[log h] and grid for the inverse CDF, in the mapped coordinate u in (0, 1).
def _tanh_sinh_on_unit() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes in (0, 1), weights and the nested half rule's weights of the tanh-sinh rule, the
    nodes kept 2^-52 from either end (closer ones round onto it). Half the maxent step: the
    maps of a half-line or the real line onto (0, 1) make the integrand in t less smooth (a
    Rayleigh's E[log x]: 3e-8 off at step 1/16, exact to rounding at 1/32, with 201 nodes)."""
    t_end = float(np.arcsinh(np.log(2.0**52) / np.pi))
    t, offset, log_w, log_coarse = tanh_sinh_unit(t_end, t_end, DE_STEP / 2)
    return np.where(t < 0, offset, 1.0 - offset), np.exp(log_w), np.exp(log_coarse)


# E[log h] by the tanh-sinh rule, checked against its nested half rule; draws from a grid.
_DE_U, _DE_W, _DE_W_COARSE = _tanh_sinh_on_unit()
_GRID_SIZE = 4097
# Largest accepted quadrature error estimate of E[log h] (relative) and of the grid's mass.
_QUADRATURE_TOLERANCE = 1e-6
_GRID_TOLERANCE = 1e-4


class _Mapping:
    """Bijection u in (0, 1) -> x in (lower, upper) with its derivative dx/du."""

    def __init__(self, lower: float, upper: float, loc: float, scale: float):
        self.lower, self.upper, self.loc, self.scale = lower, upper, loc, scale

    def __call__(self, u):
        lo, hi = self.lower, self.upper
        if np.isfinite(lo) and np.isfinite(hi):
            return lo + (hi - lo) * u, (hi - lo) * pt.ones_like(u)
        if np.isfinite(lo):
            return lo + self.scale * u / (1 - u), self.scale / (1 - u) ** 2
        if np.isfinite(hi):
            return hi - self.scale * (1 - u) / u, self.scale / u**2
        return self.loc + self.scale * pt.log(u / (1 - u)), self.scale / (u * (1 - u))


def _expand_eta(eta, nd: int):
    # Insert a grid axis in front of the core axes of eta.
    return eta[..., None] if nd == 0 else eta[..., None, :]


def ExponentialFamily(
    name: str,
    statistics: Callable[[Any], Any],
    log_partition: Callable[[Any], Any],
    support: tuple[float, float] | Sequence[float],
    log_base_measure: Callable[[Any], Any] | None = None,
    *,
    n_statistics: int | None = None,
    natural_domain: Callable[[Any], list] | None = None,
    expected_log_base_measure: Callable[[Any], Any] | None = None,
    loc: float = 0.0,
    scale: float = 1.0,
) -> type[NaturalDistribution]:
    r"""Build a PyMC distribution for a user-defined exponential family.

    .. math:: p(x \mid \eta) = h(x) \exp(\langle \eta, T(x) \rangle - A(\eta))

    Parameters
    ----------
    name : str
        Name of the family (and of the generated class).
    statistics : callable
        ``T(x)``: a tensor with the shape of ``x`` (one statistic) or with a last axis of length
        ``n_statistics`` (``pt.stack([...], axis=-1)``).
    log_partition : callable
        ``A(eta)``: a PyTensor expression, batch-shaped. It must be the exact log-normaliser of
        ``h(x) exp(<eta, T(x)>)`` on the support; mean parameters, Fisher information, KL and
        entropy are derived from it.
    support : tuple (float, float) or list of int
        A tuple ``(lower, upper)`` for a continuous family on an interval (``np.inf`` allowed),
        or a list of integers for a finite support.
    log_base_measure : callable, optional
        ``log h(x)``; zero when omitted.
    n_statistics : int, optional
        Length of the last axis of ``T(x)`` and ``eta``; ``None`` for a scalar statistic.
    natural_domain : callable, optional
        ``natural_domain(eta)`` -> list of ``(condition, description)``; defaults to
        "``eta`` finite and ``A(eta)`` finite".
    expected_log_base_measure : callable, optional
        Closed form of :math:`E_\eta[\log h(x)]`; otherwise computed exactly (finite support) or
        by tanh-sinh quadrature, checked against its nested half rule (continuous support).
    loc, scale : float
        Location and scale of the mass for the quadrature and the inverse-CDF grid on unbounded
        supports (``x = lower + scale * u / (1 - u)`` on a half-line,
        ``x = loc + scale * logit(u)`` on the real line). Set them to the order of the
        distribution's location and spread when it is far from 0 or much wider or narrower
        than 1.

    Returns
    -------
    type
        A PyMC distribution class: use ``Cls("x", eta=...)`` inside a model or
        ``Cls.dist(eta=...)``. Its spec is ``Cls.family``.

    Examples
    --------
    The Rayleigh distribution is an exponential family with :math:`T = x^2`,
    :math:`h(x) = x` and :math:`A(\eta) = -\log(-2\eta)`:

    >>> import numpy as np, pytensor.tensor as pt, pymc_statmech as psm
    >>> Rayleigh = psm.ExponentialFamily(
    ...     "Rayleigh", statistics=lambda x: x**2, log_partition=lambda eta: -pt.log(-2 * eta),
    ...     log_base_measure=lambda x: pt.log(x), support=(0.0, np.inf))
    >>> d = Rayleigh.dist(eta=-0.5)  # sigma = 1
    >>> round(float(psm.entropy(d).eval()), 10)  # 1 + log(1/sqrt 2) + euler_gamma / 2
    0.9420342422
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"name: give a Python identifier for the generated class, not {name!r}.")
    functions = {"statistics": statistics, "log_partition": log_partition}
    functions.update(
        (k, v)
        for k, v in {
            "log_base_measure": log_base_measure,
            "natural_domain": natural_domain,
            "expected_log_base_measure": expected_log_base_measure,
        }.items()
        if v is not None
    )
    for arg, fn in functions.items():
        if not callable(fn):
            raise TypeError(
                f"{arg}: give a function of PyTensor tensors (e.g. lambda x: x**2), not "
                f"{type(fn).__name__} {fn!r}."
            )
    for arg, value in (("loc", loc), ("scale", scale)):
        if not np.isfinite(value) or (arg == "scale" and value <= 0):
            raise ValueError(
                f"{arg}: need a finite{' positive' if arg == 'scale' else ''} "
                f"number, got {value!r}."
            )
    values = None
    if isinstance(support, str) or not np.iterable(support):
        raise TypeError(
            "support: give a tuple (lower, upper) for a continuous family or a list of at least "
            f"two integer values for a discrete one, not {type(support).__name__} {support!r}."
        )
    if isinstance(support, tuple) and len(support) == 2:
        lower, upper = float(support[0]), float(support[1])
        if not lower < upper:  # also refuses NaN
            raise ValueError(f"support: need lower < upper, got {support}.")
    else:
        values = np.asarray(support, dtype="float64")
        if values.ndim != 1 or values.size < 2 or np.any(values != np.round(values)):
            raise ValueError(
                "support: give a tuple (lower, upper) for a continuous family or a list of at "
                f"least two integers for a finite one, got {support!r}."
            )
        lower, upper = float(values.min()), float(values.max())
    nd = 0 if n_statistics is None else 1
    log_h = log_base_measure or (lambda x: pt.zeros_like(x, dtype="float64"))

    def domain(eta):
        if natural_domain is not None:
            return natural_domain(eta)
        finite = pt.isfinite(eta) if nd == 0 else pt.all(pt.isfinite(eta), axis=-1)
        return [(finite & pt.isfinite(log_partition(eta)), "eta finite with A(eta) finite")]

    if values is not None:
        grid = pt.as_tensor_variable(values)

        def in_support(x):
            return pt.any(pt.eq(pt.shape_padright(x, 1), grid), axis=-1)

        def grid_logp(eta):
            return family.logp(grid, _expand_eta(eta, nd))

        def expected(eta):
            lp = grid_logp(eta)
            return pt.sum(pt.exp(lp) * log_h(grid), axis=-1)

        def sampler(rng, size, eta):
            next_rng, idx = categorical_rv(
                pt.exp(grid_logp(eta)), size=size, rng=rng, return_next_rng=True
            )
            return next_rng, grid[idx]

        def point(eta):
            return grid[pt.argmax(grid_logp(eta), axis=-1)]

    else:
        mapping = _Mapping(lower, upper, loc, scale)

        def in_support(x):
            return (x >= lower) & (x <= upper)

        def quadrature(eta, nodes, weights):
            x, dx = mapping(pt.as_tensor_variable(nodes))
            w = pt.as_tensor_variable(weights) * dx * pt.exp(family.logp(x, _expand_eta(eta, nd)))
            mass = pt.sum(w, axis=-1)
            # Self-normalised: the quadrature error of the normaliser cancels to first order.
            return pt.sum(w * log_h(x), axis=-1) / mass, mass

        def expected(eta):
            value, mass = quadrature(eta, _DE_U, _DE_W)
            coarse, _ = quadrature(eta, _DE_U, _DE_W_COARSE)
            # A(eta) is the exact log-normaliser, so the captured mass must be 1; two rules
            # must agree. Otherwise the grid misses the distribution: say so, never guess.
            ok = (pt.abs(mass - 1) <= _QUADRATURE_TOLERANCE) & (
                pt.abs(value - coarse) <= _QUADRATURE_TOLERANCE * (1 + pt.abs(value))
            )
            message = _misplaced_message(name, "E[log h(x)]", loc, scale)
            return CheckAndRaise(NumericalLimitError, message)(value, pt.all(ok))

        u_grid = (np.arange(_GRID_SIZE) + 0.5) / _GRID_SIZE

        def grid_logp(eta):
            x, dx = mapping(pt.as_tensor_variable(u_grid))
            return x, family.logp(x, _expand_eta(eta, nd)), dx

        def sampler(rng, size, eta):
            _, lp, dx = grid_logp(eta)
            mass = pt.sum(pt.exp(lp) * dx, axis=-1) / _GRID_SIZE
            cdf = pt.cumsum(pt.exp(lp - pt.max(lp, axis=-1, keepdims=True)) * dx, axis=-1)
            message = _misplaced_message(name, "the inverse-CDF grid", loc, scale)
            cdf = CheckAndRaise(NumericalLimitError, message)(
                cdf / cdf[..., -1:], pt.all(pt.abs(mass - 1) <= _GRID_TOLERANCE)
            )
            next_rng, q = uniform_rv(0.0, 1.0, size=size, rng=rng, return_next_rng=True)
            # One sorted search over all batch tables: table b is shifted by b (its values lie
            # in [b, b + 1]), and a draw belonging to table b searches for q + b.
            batch_shape = cdf.shape[:-1]
            n_batch = pt.prod(batch_shape)
            offsets = pt.arange(n_batch, dtype="float64").reshape(batch_shape)
            flat = (cdf + offsets[..., None]).ravel()
            pos = pt.searchsorted(flat, q + pt.broadcast_to(offsets, q.shape))
            local = pos - pt.cast(pt.broadcast_to(offsets, q.shape), "int64") * _GRID_SIZE
            idx = pt.clip(local, 0, _GRID_SIZE - 1)
            prev = pt.switch(
                idx > 0, flat[pt.maximum(pos - 1, 0)] - pt.broadcast_to(offsets, q.shape), 0.0
            )
            here = flat[pt.clip(pos, 0, flat.shape[0] - 1)] - pt.broadcast_to(offsets, q.shape)
            frac = pt.clip((q - prev) / pt.maximum(here - prev, 1e-300), 0.0, 1.0)
            u = (pt.cast(idx, "float64") + frac) / _GRID_SIZE
            x, _ = mapping(pt.clip(u, 1e-12, 1 - 1e-12))
            return next_rng, x

        def point(eta):
            x, lp, _ = grid_logp(eta)
            return x[pt.argmax(lp, axis=-1)]

    if expected_log_base_measure is not None:
        expected = expected_log_base_measure
    elif log_base_measure is None or not _depends_on_input(log_h):

        def expected(eta, _c=log_h):
            batch = eta if nd == 0 else eta[..., 0]
            return pt.zeros_like(batch) + _c(pt.as_tensor_variable(0.0))

    family = Family(
        name=name,
        statistics=statistics,
        log_partition=log_partition,
        log_base_measure=log_h,
        natural_ndims=(nd,),
        value_ndim=0,
        component_sizes=(n_statistics,),
        natural_domain=domain,
        in_support=in_support,
        support=f"x in {list(values)}" if values is not None else f"{lower} <= x <= {upper}",
        discrete=values is not None,
        expected_log_base_measure=expected,
        sampler=sampler,
        point=point,
    )
    base = Discrete if values is not None else Continuous
    cls = type(name, (NaturalDistribution, base), {"family": family, "__doc__": _doc(name)})
    if values is None and (np.isfinite(lower) or np.isfinite(upper)):
        bounds = (lower if np.isfinite(lower) else None, upper if np.isfinite(upper) else None)

        @_default_transform.register(cls.rv_type)
        def _transform(op, rv, _b=bounds):
            return transforms.Interval(*_b)

    return cls


def _misplaced_message(name: str, what: str, loc: float, scale: float) -> str:
    return (
        f"ExponentialFamily {name!r}: {what} does not resolve this member's mass on the grid "
        f"placed by loc={loc}, scale={scale}; pass loc and scale of the order of the "
        "distribution's location and spread."
    )


def _depends_on_input(fn: Callable) -> bool:
    x = pt.dscalar("x")
    out = pt.as_tensor_variable(fn(x))
    return x in set(graph_inputs([out]))


def _doc(name: str) -> str:
    return f"User-defined exponential family {name!r} built by pymc_statmech.ExponentialFamily."
