r"""``MaxEnt``: a maximum-entropy prior as a PyMC distribution.

When the problem is a classical one (:mod:`pymc_statmech.maxent.known`) the distribution is
that PyMC family, with parameters that are differentiable functions of the targets. Otherwise it
is the solution's exponential family on the problem's measure:

* ``logp(x) = lambda . T(x) + log q(x) - A(lambda)`` with :math:`\lambda` from the dual Op
  (:func:`~pymc_statmech.maxent.solve.solve_dual`), so gradients with respect to random targets,
  base-measure parameters and statistic parameters come from the implicit-function theorem;
  ``-inf`` (with a warning from the Op) when the dual does not converge;
* draws: exact categorical draws on finite and integer supports; on continuous domains the
  inverse CDF of the density interpolated log-linearly between the quadrature nodes;
* ``support_point``: the median node; default transform: interval, log (half-line) or
  circular, matching the domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm

from pymc_statmech.maxent.problem import MaxEntSolution, maxent_solve
from pymc_statmech.maxent.variable import solution_variable

__all__ = ["MaxEnt"]

_REGISTER_KEYS = ("observed", "total_size", "dims", "transform", "default_transform", "initval")


class MaxEnt:
    r"""Maximum-entropy (or minimum relative entropy) prior from constraints, in a PyMC model.

    .. math:: p(x) \propto q(x) \exp(\lambda \cdot T(x)), \qquad E_p[T] = c,

    the distribution of largest entropy (smallest :math:`KL(p\,\|\,q)` with a base measure
    :math:`q`) on the domain satisfying the constraints.

    Parameters
    ----------
    name : str
        Name of the model variable.
    domain : Domain
        ``psm.Discrete``, ``psm.Integers``, ``psm.Interval``, ``psm.HalfLine``,
        ``psm.RealLine`` or ``psm.Circle``.
    constraints : list of Constraint
        From :func:`psm.mean`, :func:`psm.moment`, :func:`psm.expect`,
        :func:`psm.interval_mass`, :func:`psm.quantile`. Targets may be model variables; a
        batch of targets (shape ``batch + ()``) gives a batch of priors.
    base : PyMC distribution or callable, optional
        Base measure :math:`q` (``pm.X.dist(...)`` or ``log q(x)``); its parameters may be
        model variables.
    closed_form : bool
        Return the classical family when recognised (default). ``False`` forces the generic
        solution (useful to compare).
    **kwargs
        ``shape``, ``size``, ``dims``, ``observed``, ``initval``, ``transform``, ... as for
        any PyMC distribution.

    References
    ----------
    .. [1] Jaynes, E. T. (1968). Prior probabilities. IEEE Trans. Syst. Sci. Cybern. 4(3),
       227-241.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> with pm.Model() as model:
    ...     mu = pm.Uniform("mu", 2.0, 5.0)
    ...     die = psm.MaxEnt("die", psm.Discrete(range(1, 7)), [psm.mean(mu)])
    >>> float(model.compile_logp()({"mu_interval__": 0.0, "die": 6}).round(6))  # mu = 3.5
    -3.178054
    """

    def __new__(cls, name: str, domain=None, constraints=(), base=None, **kwargs):
        model = pm.modelcontext(None)
        register = {k: kwargs.pop(k) for k in _REGISTER_KEYS if k in kwargs}
        dims = register.get("dims")
        if dims is not None and "shape" not in kwargs and "size" not in kwargs:
            dims = (dims,) if isinstance(dims, str) else tuple(dims)
            kwargs["shape"] = tuple(model.dim_lengths[d] for d in dims)
        observed = register.get("observed")
        if observed is not None and "shape" not in kwargs and "size" not in kwargs:
            kwargs["shape"] = np.shape(observed)
        rv = cls.dist(domain, constraints, base, **kwargs)
        return model.register_rv(rv, name, **register)

    @classmethod
    def dist(
        cls,
        domain=None,
        constraints=(),
        base: Any = None,
        *,
        closed_form: bool = True,
        solution: MaxEntSolution | None = None,
        **kwargs,
    ):
        """The distribution outside a model (``pm.draw``, ``pm.logp``, ...)."""
        if solution is None:
            solution = maxent_solve(domain, constraints, base)
        return solution_variable(solution, closed_form=closed_form, **kwargs)
