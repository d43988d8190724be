r"""Double-exponential (DE) quadrature rules on the unit interval and the half-line.

The trapezoidal rule in a variable :math:`t` after the substitution

* tanh-sinh on :math:`[0, 1]`: :math:`u = \sigma(\pi\sinh t)`;
* exp-sinh on :math:`[0, \infty)`: :math:`u = e^{\frac{\pi}{2}\sinh t}`,

makes an integrand decay double-exponentially in :math:`t`, so the rule converges exponentially
even with endpoint singularities (:math:`u^{\alpha - 1}`, :math:`\alpha < 1`) and algebraic
tails. Each rule comes with its nested half rule (every other node), whose disagreement is an
error estimate. These are the package's one quadrature provider: the maximum-entropy measures
(:mod:`pymc_statmech.maxent.domains`), the elicitation's graphs and the expectations of a
user's exponential family (:mod:`pymc_statmech.expfam.custom`) are built on them.

References
----------
.. [1] Takahasi, H. and Mori, M. (1974). Double exponential formulas for numerical integration.
   Publ. RIMS Kyoto Univ. 9, 721-741.
.. [2] Trefethen, L. N. and Weideman, J. A. C. (2014). The exponentially convergent trapezoidal
   rule. SIAM Review 56(3), 385-458.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["DE_STEP", "exp_sinh_unit", "tanh_sinh_unit", "trapezoid_in_t"]

#: Step of the DE trapezoidal rule in t; the nested check rule uses twice this step. (1/8
#: loses 1e-8 on panels next to a near-singular end, e.g. Beta(0.4, 3) near 0.)
DE_STEP = 1.0 / 16.0


def trapezoid_in_t(t_min: float, t_max: float, step: float = DE_STEP) -> tuple[np.ndarray, ...]:
    """Nodes ``t = k h`` in [t_min, t_max] and the half rule's log weight factor (log 2 on
    even ``k``, -inf on odd)."""
    k = np.arange(np.ceil(t_min / step), np.floor(t_max / step) + 1).astype(int)
    coarse = np.where(k % 2 == 0, np.log(2.0), -np.inf)
    return k * step, coarse


def tanh_sinh_unit(t_left: float, t_right: float, step: float = DE_STEP):
    """The tanh-sinh rule on [0, 1] for ``t`` in [-t_left, t_right].

    Returns ``t``, the offset of each node from the nearer end (exact, so nodes next to a
    singular end keep full relative precision; the node is the offset for ``t < 0`` and one
    minus it otherwise), and the fine and nested half rules' log weights.
    """
    t, coarse = trapezoid_in_t(-t_left, t_right, step)
    u = np.pi * np.sinh(t)
    offset = expit(-np.abs(u))
    log_w = np.log(np.pi * np.cosh(t)) - np.logaddexp(0, u) - np.logaddexp(0, -u) + np.log(step)
    return t, offset, log_w, log_w + coarse


def exp_sinh_unit(t_low: float, t_high: float, step: float = DE_STEP):
    r"""The exp-sinh rule on [0, inf): ``t``, log node :math:`\frac{\pi}{2}\sinh t`, and the
    fine and nested half rules' log weights."""
    t, coarse = trapezoid_in_t(t_low, t_high, step)
    log_x = (np.pi / 2) * np.sinh(t)
    log_w = log_x + np.log(np.pi / 2 * np.cosh(t)) + np.log(step)
    return t, log_x, log_w, log_w + coarse
