r"""Expectation constraints :math:`E[T(x)] = c` and the helpers that build them.

A constraint is a statistic (any PyTensor-expressible function of the value, applied
elementwise) and a target, a number or a PyTensor variable such as a model's random variable.
Statistics that jump or kink (an interval indicator, :math:`|x - m|`) declare breakpoints, where
the quadrature places a panel edge.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from pymc_statmech._data import is_whole_number

__all__ = [
    "Constraint",
    "InfeasibleConstraintsError",
    "expect",
    "interval_mass",
    "mean",
    "moment",
    "quantile",
]


class InfeasibleConstraintsError(ValueError):
    """No distribution on the domain satisfies the constraints (or none is normalisable)."""


@dataclass(frozen=True)
class Constraint:
    r"""The constraint :math:`E[T(x)] = c`.

    Parameters
    ----------
    statistic : callable
        ``T(x)``, elementwise on a PyTensor variable.
    target : float or TensorVariable
        ``c``; a tensor with batch dimensions solves one problem per element.
    name : str
        Shown in errors and reports, e.g. ``"E[x]"``.
    breakpoints : tuple of float
        Points where ``T`` jumps or kinks.
    power : tuple of (int, float), optional
        ``(k, a)`` when :math:`T(x) = (x - a)^k` (from :func:`mean` and :func:`moment`). The
        solver reads the raw mean and second moment to place its first measure, and the raw
        moments to size a truncated integer support.
    """

    statistic: Callable[[Any], Any]
    target: Any
    name: str
    breakpoints: tuple[float, ...] = ()
    power: tuple[int, float] | None = None

    @property
    def symbolic(self) -> bool:
        """Whether the target is a PyTensor variable (possibly random)."""
        return isinstance(self.target, Variable)

    def __repr__(self):
        target = "<symbolic>" if self.symbolic else repr(np.asarray(self.target).tolist())
        return f"{self.name} = {target}"


def _target(value: Any, name: str) -> Any:
    if isinstance(value, Variable):
        return pt.as_tensor_variable(value).astype("float64")
    array = np.asarray(value, dtype="float64")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: the target must be finite, got {value!r}.")
    return array


def mean(value: Any) -> Constraint:
    r"""The constraint :math:`E[x] = v`."""
    return Constraint(lambda x: x, _target(value, "mean"), "E[x]", power=(1, 0.0))


def _number(x: Any, name: str) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r:.60}.")
    return float(x)


def moment(k: int, value: Any, about: float = 0.0) -> Constraint:
    r"""The constraint :math:`E[(x - a)^k] = v` (raw moment by default, ``about=a``).

    A variance is ``moment(2, s2, about=m)`` together with ``mean(m)``.
    """
    if not is_whole_number(k) or k < 1:
        raise ValueError(f"moment: k must be a positive integer, got {k!r}.")
    k, about = int(k), _number(about, "moment: about")
    name = f"E[x^{k}]" if about == 0 else f"E[(x - {about:g})^{k}]"
    if k % 2 == 0 and not isinstance(value, Variable) and np.any(np.asarray(value) <= 0):
        raise InfeasibleConstraintsError(f"{name}: an even moment must be positive, got {value!r}.")
    return Constraint(lambda x: (x - about) ** k, _target(value, name), name, power=(k, about))


def expect(
    fn: Callable[[Any], Any],
    value: Any,
    name: str | None = None,
    breakpoints: Sequence[float] = (),
) -> Constraint:
    r"""The constraint :math:`E[f(x)] = v` for any PyTensor-expressible ``f``.

    Parameters
    ----------
    fn : callable
        Elementwise function of a PyTensor variable, e.g. ``pt.log`` or
        ``lambda x: pt.cos(x)``. It may use model variables (random statistic parameters).
    value : float or TensorVariable
        The target.
    name : str, optional
        Label for messages; defaults to ``E[<fn name>(x)]``.
    breakpoints : sequence of float
        Points where ``fn`` is not smooth (e.g. ``[0]`` for ``pt.abs``).
    """
    if not callable(fn):
        raise TypeError(
            f"expect: fn must be a function of a PyTensor variable (e.g. pt.log or lambda x: "
            f"x**2), not {type(fn).__name__} {fn!r:.60}."
        )
    # PyTensor's elementwise ops (pt.log) have no __name__; their scalar op has a name.
    fn_name = getattr(fn, "__name__", None) or getattr(getattr(fn, "scalar_op", None), "name", "f")
    label = name or f"E[{'f' if fn_name == '<lambda>' else fn_name}(x)]"
    return Constraint(fn, _target(value, label), label, tuple(float(b) for b in breakpoints))


def interval_mass(lower: float, upper: float, p: Any) -> Constraint:
    r"""The constraint :math:`P(\text{lower} \le x \le \text{upper}) = p`.

    The statistic is the indicator of the interval; its finite edges become quadrature
    breakpoints, so the mass is integrated exactly panel by panel.
    """
    lower, upper = _number(lower, "interval_mass: lower"), _number(upper, "interval_mass: upper")
    if not lower < upper:
        raise ValueError(f"interval_mass: need lower < upper, got ({lower}, {upper}).")
    name = f"P({lower:g} <= x <= {upper:g})"
    if not isinstance(p, Variable) and not np.all((np.asarray(p) > 0) & (np.asarray(p) < 1)):
        raise InfeasibleConstraintsError(
            f"{name}: a probability target must lie strictly between 0 and 1, got {p!r}."
        )

    def indicator(x):
        return pt.cast((x >= lower) & (x <= upper), "float64")

    edges = tuple(b for b in (lower, upper) if np.isfinite(b))
    return Constraint(indicator, _target(p, name), name, edges)


def quantile(q: Any, x: float) -> Constraint:
    r"""The constraint that ``x`` is the ``q``-quantile: :math:`P(X \le x) = q`."""
    if not np.isfinite(_number(x, "quantile: x")):
        raise ValueError(f"quantile: x must be finite (P(X <= inf) is 1), got {x!r}.")
    constraint = interval_mass(-np.inf, x, q)
    return Constraint(
        constraint.statistic, constraint.target, f"P(x <= {float(x):g})", constraint.breakpoints
    )
