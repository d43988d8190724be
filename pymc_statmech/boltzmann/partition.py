r"""Log-partition functions of Ising models: exact where possible, approximations labelled.

For spins :math:`s \in \{-1, +1\}^n` with :math:`E(s) = -\sum_e J_e s_i s_j - \sum_i h_i s_i`,

.. math:: \log Z(J, h, \beta) = \log \sum_s e^{-\beta E(s)} = A(\beta h, \beta J),

the log-partition of the exponential family with statistics :math:`(s_i, s_i s_j)` and natural
parameters :math:`\eta = (\beta h, \beta J)`. Its gradient gives the moments,
:math:`\partial \log Z / \partial J_e = \beta \langle s_i s_j \rangle`,
:math:`\partial \log Z / \partial h_i = \beta \langle s_i \rangle` and
:math:`\partial \log Z / \partial \beta = -\langle E \rangle`; its Hessian is the Fisher
information. Every method returns a PyTensor expression that differentiates and compiles on
Numba (the default), C and JAX, and works in log space (no overflow at large :math:`\beta`).

Exact methods:

* ``"enumerate"`` (any graph, :math:`n \le 20`) and ``"transfer_matrix"`` (chains and square
  lattices with rows of at most 16 spins, 12 when both directions are periodic; any boundary,
  per-bond :math:`J`, per-site :math:`h`) are compiled kernels behind two small Ops
  (:mod:`pymc_statmech.boltzmann.logz`): :math:`\log Z` with its gradient (the expected
  statistics, from the same forward-backward sweep), and its Hessian-vector product. A model's
  graph stays a few nodes, and the kernels compile once per machine (Numba's disk cache). The
  transfer matrix adds one site at a time to a register of the last :math:`w` spins
  (:math:`2^{w+1}` additions per site); a lattice periodic in the stacking direction is a
  trace over the :math:`2^w` first rows (:math:`2^{w-1}` when :math:`h = 0`). Memory: the
  forward messages of one sweep, :math:`16 \cdot 2^w` bytes per site; the method refuses
  (with the bytes it would need) beyond ``max_bytes``. Measured
  (``benchmarks/bench_latency.py``): see the Boltzmann page of the documentation.
* ``"kaufman"`` (periodic :math:`L \times W` lattices, uniform :math:`J`, :math:`h = 0`, any size):
  Kaufman's (1949) finite-lattice formula, four products of ``2 cosh`` / ``2 sinh`` of the
  :math:`\gamma_l`, with :math:`\gamma_0 = 2K + \log\tanh K` *signed* (negative above the
  critical temperature; Beale 1996), written in log space without cancellation. An
  antiferromagnet on even sides maps exactly to the ferromagnet.
* the chain closed form (``lattice=(N,)``, uniform :math:`J` and :math:`h`): the eigenvalues
  :math:`\lambda_\pm` of the 2 x 2 transfer matrix, :math:`Z = \lambda_+^N + \lambda_-^N`
  (periodic) or :math:`u^\top T^{N-1} u` (open), in log space.

Approximations (never chosen by ``"auto"``):

* ``"mean_field"``: the naive mean-field (product-distribution) variational bound,
  :math:`\log Z \ge \max_m \sum_e K_e m_i m_j + \sum_i \theta_i m_i + \sum_i H(m_i)` with
  :math:`K = \beta J`, :math:`\theta = \beta h`: a *lower bound* at any :math:`m`. Solved by damped
  block-coordinate ascent over the colour classes (each block update increases the bound).
* ``"bethe"``: loopy belief propagation with damping and the Bethe free energy. Exact on trees;
  a lower bound for ferromagnetic couplings (Ruozzi 2012); neither bound in general.
  Non-convergence is reported (``converged`` in :func:`ising_bethe`; ``NaN`` from
  :func:`ising_log_partition`).

Gradients of the approximations use the stationarity of their variational objectives (the
envelope theorem): at a fixed point, :math:`\partial \log Z_{\rm approx}/\partial K_e` is the
approximate :math:`\langle s_i s_j \rangle`, not a derivative through the iterations.

References
----------
.. [1] Kaufman, B. (1949). Crystal statistics II. Partition function evaluated by spinor
   analysis. Phys. Rev. 76, 1232-1243.
.. [2] Beale, P. D. (1996). Exact distribution of energies in the two-dimensional Ising model.
   Phys. Rev. Lett. 76, 78-81.
.. [3] Onsager, L. (1944). Crystal statistics I. Phys. Rev. 65, 117-149.
.. [4] Baxter, R. J. (1982). Exactly Solved Models in Statistical Mechanics, ch. 2 (chains),
   7 (transfer matrices).
.. [5] Yedidia, J. S., Freeman, W. T. and Weiss, Y. (2005). Constructing free-energy
   approximations and generalized belief propagation algorithms. IEEE Trans. Inf. Theory 51,
   2282-2312.
.. [6] Wainwright, M. J. and Jordan, M. I. (2008). Graphical Models, Exponential Families, and
   Variational Inference, sections 4.1 (Bethe) and 5 (mean field).
.. [7] Ruozzi, N. (2012). The Bethe partition function of log-supermodular graphical models.
   NeurIPS 25.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad
from pytensor.graph.basic import Constant, Variable
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.variable import TensorVariable

from pymc_statmech.boltzmann.lattice import (
    IsingStructure,
    _finite_parameter,
    edge_couplings,
    ising_structure,
    site_fields,
)
from pymc_statmech.boltzmann.logz import enumeration_plan, log_partition, transfer_plan
from pymc_statmech.tensors import as_float_tensor

__all__ = [
    "ENUMERATE_MAX_SPINS",
    "EXACT_SAMPLER_MAX_BYTES",
    "LOG_PARTITION_METHODS",
    "TRACE_MAX_WIDTH",
    "TRANSFER_MATRIX_MAX_BYTES",
    "TRANSFER_MATRIX_MAX_WIDTH",
    "BetheResult",
    "IsingTooLargeError",
    "MeanFieldResult",
    "ising_bethe",
    "ising_log_partition",
    "ising_mean_field",
]

ENUMERATE_MAX_SPINS = 20
#: Widest row of the transfer matrix (2^16 states per row: 16 x 16 open in a fraction of a second).
TRANSFER_MATRIX_MAX_WIDTH = 16
#: Widest row when both directions are periodic: the trace over the first row costs 2^w sweeps.
TRACE_MAX_WIDTH = 12
#: Default peak memory the transfer matrix may plan for (value and gradient).
TRANSFER_MATRIX_MAX_BYTES = 2**30
#: Memory exact draws of a lattice periodic along its rows may hold: one 2^w x 2^w matrix per
#: row (forward filtering, backward sampling; a 12 x 12 torus needs 1.5 GiB).
EXACT_SAMPLER_MAX_BYTES = 2 * 2**30
_TINY = np.float64(1e-300)
#: Methods of :func:`ising_log_partition`: the exact ones, then the two labelled approximations.
LOG_PARTITION_METHODS = (
    "auto",
    "enumerate",
    "transfer_matrix",
    "kaufman",
    "chain",
    "mean_field",
    "bethe",
)
_ALTERNATIVES = (
    "approximations: method='mean_field' (a lower bound on log Z) or method='bethe' (loopy "
    "belief propagation, exact on trees); for observed configurations, the pseudo-likelihood "
    "(psm.Ising(..., method='pseudo_likelihood')) needs no log Z at all"
)


class IsingTooLargeError(ValueError):
    """The system is beyond the limits of the requested (or of every) exact method."""


def _constant_value(x: Any) -> np.ndarray | None:
    """The numeric value of a non-symbolic input, or None."""
    if isinstance(x, Constant):
        return np.asarray(x.data, dtype=float)
    if isinstance(x, Variable):
        return None
    return np.asarray(x, dtype=float)


def _logcosh(x):
    # log cosh x = x + log(1 + e^{-2x}) - log 2: smooth (twice differentiable at 0), no overflow.
    return x + pt.softplus(-2.0 * x) - np.log(2.0)


def _logsumexp(x, axis):
    top = disconnected_grad(pt.max(x, axis=axis, keepdims=True))
    top = pt.switch(pt.isfinite(top), top, 0.0)
    return pt.squeeze(top, axis=axis) + pt.log(pt.sum(pt.exp(x - top), axis=axis))


def _even_abs(x):
    # |x| whose derivatives at 0 are those of the even branch (abs's sgn(0) = 0 would zero
    # the second derivative of an even function at 0).
    return pt.switch(x >= 0, x, -x)


class _Params(NamedTuple):
    K: TensorVariable  # (*batch, E) beta J per bond
    theta: TensorVariable  # (*batch, n) beta h per site
    K_uniform: TensorVariable | None  # (*batch,) when J is uniform
    theta_uniform: TensorVariable | None  # (*batch,) when h is uniform
    h_zero: bool  # h is the constant 0
    K_sign: int | None  # +1 / -1 when beta J is a constant of one sign (0 if all zero)
    sweep_K: TensorVariable  # (*batch, E), or (*batch, 1) when uniform: the Ops spread it
    sweep_theta: TensorVariable  # (*batch, n) or (*batch, 1)


def _prepare(s: IsingStructure, J: Any, h: Any, beta: Any) -> _Params:
    J, h, beta = (_finite_parameter(x, n) for x, n in ((J, "J"), (h, "h"), (beta, "beta")))
    Je = edge_couplings(s, J)
    hs = site_fields(s, h)
    Jv, hv = _constant_value(Je), _constant_value(hs)
    J_uni = h_uni = None
    if Jv is None:
        J_uni = Je if Je.ndim == 0 else None
    elif Jv.ndim == 0:
        J_uni = Jv
    elif Jv.shape[-1] == 0:
        J_uni = np.zeros(Jv.shape[:-1])
    elif np.all(Jv == Jv[..., :1]):
        J_uni = Jv[..., 0]
    if hv is None:
        h_uni = hs if hs.ndim == 0 else None
    elif hv.ndim == 0:
        h_uni = hv
    elif np.all(hv == hv[..., :1]):
        h_uni = hv[..., 0]
    # the sign of the natural parameter beta J, not of J: a negative beta flips it
    K_sign = None
    bv = _constant_value(beta)
    if Jv is not None and bv is not None:
        Kv = np.multiply.outer(bv, Jv) if Jv.ndim else bv * Jv
        K_sign = 1 if np.all(Kv >= 0) else (-1 if np.all(Kv <= 0) else None)
        if np.all(Kv == 0):
            K_sign = 0
    b = as_float_tensor(beta)
    Jt, ht = as_float_tensor(Je), as_float_tensor(hs)
    zero = pt.zeros_like(b)
    zero = zero + (pt.zeros_like(Jt) if Jt.ndim == 0 else pt.zeros_like(Jt[..., 0]))
    zero = zero + (pt.zeros_like(ht) if ht.ndim == 0 else pt.zeros_like(ht[..., 0]))
    E, n = s.n_edges, s.n_spins
    Ju = None if J_uni is None else as_float_tensor(J_uni)
    hu = None if h_uni is None else as_float_tensor(h_uni)
    K_uniform = None if Ju is None else b * Ju + zero
    theta_uniform = None if hu is None else b * hu + zero
    # the sweep Ops take a uniform value as one column and check lengths themselves: an
    # Alloc, or the SpecifyShape that "+ zeros(E)" becomes, compiles seconds of Numba error
    # messages on a new machine
    sweep_K = (b + zero)[..., None] * Jt if K_uniform is None else K_uniform[..., None]
    sweep_th = (b + zero)[..., None] * ht if theta_uniform is None else theta_uniform[..., None]
    K = sweep_K + pt.zeros((E,))
    th = sweep_th + pt.zeros((n,))
    h_zero = hv is not None and bool(np.all(hv == 0))
    return _Params(K, th, K_uniform, theta_uniform, h_zero, K_sign, sweep_K, sweep_th)


# -- enumeration -------------------------------------------------------------------------------
def _enumerate(s: IsingStructure, p: _Params) -> TensorVariable:
    n = s.n_spins
    if n > ENUMERATE_MAX_SPINS:
        raise IsingTooLargeError(
            f"method='enumerate' sums over all 2^n states and is limited to n <= "
            f"{ENUMERATE_MAX_SPINS} spins; the {s.description} has n = {n} (2^{n} states, "
            f"{_bytes(8 * 2**n)} of log-weights). Exact alternatives for lattices: "
            f"'transfer_matrix' (a side <= {TRANSFER_MATRIX_MAX_WIDTH}), 'kaufman' (periodic, "
            f"uniform J, h = 0); {_ALTERNATIVES}."
        )
    return log_partition(enumeration_plan(s), p.sweep_K, p.sweep_theta)


# -- transfer matrix ---------------------------------------------------------------------------
class _TMPlan(NamedTuple):
    transpose: bool  # rows run along axis 0 of the lattice
    width: int  # spins per row
    n_rows: int
    trace: bool  # periodic in the stacking direction
    bytes: float  # planned peak memory of the kernel


def _tm_plan(s: IsingStructure, max_bytes: float) -> tuple[_TMPlan | None, str]:
    """The cheapest orientation, or (None, why) when none fits."""
    if s.shape is None:
        return None, f"the transfer matrix needs a chain or a square lattice, not a {s.description}"
    L, W = (s.shape[0], 1) if len(s.shape) == 1 else s.shape
    periodic = [b == "periodic" for b in s.boundary] + ([False] if len(s.shape) == 1 else [])
    plans = []
    for transpose in (False, True):
        w, ell = (L, W) if transpose else (W, L)
        trace = periodic[1] if transpose else periodic[0]
        if len(s.shape) == 1 and transpose:
            continue
        # the stored forward messages of one sweep (complex for the Hessian); the batch and the
        # first rows of a trace are swept one at a time
        # (beyond 64 spins a row is far over every limit; 2.0**w would overflow a float)
        need = 16.0 * 2**w * (ell * w + 2) if w <= 64 else float("inf")
        cost = 2**w * (2**w if trace else 1) * ell * w
        plans.append((cost, _TMPlan(transpose, w, ell, trace, need)))
    plans.sort(key=lambda c: c[0])

    def limit(plan):
        return TRACE_MAX_WIDTH if plan.trace else TRANSFER_MATRIX_MAX_WIDTH

    fitting = [p for _, p in plans if p.width <= limit(p) and p.bytes <= max_bytes]
    if fitting:
        return fitting[0], ""
    best = min((p for _, p in plans), key=lambda p: p.width)
    if best.width > limit(best):
        return None, (
            f"the transfer matrix of the {s.description} needs rows of min(L, W) = {best.width} "
            f"spins (2^{best.width} states per row); the limit is {limit(best)} spins"
            + (" when the rows are stacked periodically (a trace over the first row)"
               if best.trace else "")
        )  # fmt: skip
    return None, (
        f"the transfer matrix of the {s.description} needs about {_bytes(best.bytes)} for "
        f"the value and gradient, above max_bytes = {_bytes(max_bytes)}"
    )


def _bytes(b: float) -> str:
    if b >= 2**80:  # beyond any machine (and beyond float range for 2^n): a power of two
        return f"2^{int(b).bit_length() - 1} B"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def _transfer_matrix(s: IsingStructure, p: _Params, max_bytes: float) -> TensorVariable:
    plan, why = _tm_plan(s, max_bytes)
    if plan is None:
        raise IsingTooLargeError(
            f"method='transfer_matrix': {why}. Exact alternatives: 'kaufman' (periodic lattice, "
            f"uniform J, h = 0), 'enumerate' (<= {ENUMERATE_MAX_SPINS} spins); {_ALTERNATIVES}."
        )
    return log_partition(transfer_plan(s, plan.transpose), p.sweep_K, p.sweep_theta)


# -- chains ------------------------------------------------------------------------------------
def _chain(N: int, periodic: bool, K: TensorVariable, theta: TensorVariable) -> TensorVariable:
    r"""Uniform chain: with T = [[e^{K+th}, e^{-K}], [e^{-K}, e^{K-th}]],
    lambda_pm = e^K cosh th (1 pm S), S = sqrt(tanh^2 th + e^g), g = -4K - 2 log cosh th."""
    lc = _logcosh(theta)
    tau = pt.tanh(theta)
    # e^g below e^-700 changes log Z by < e^-350 relative; the floor keeps S > 0 (finite grads).
    g = pt.maximum(-4.0 * K - 2.0 * lc, -700.0)
    big = g > 0
    g_lo, g_hi = pt.minimum(g, 0.0), pt.maximum(g, 0.0)
    S_lo = pt.sqrt(tau**2 + pt.exp(g_lo))
    e_hi = pt.exp(-0.5 * g_hi)  # S = e^{g/2} S1 with S1 = sqrt(tau^2 e^{-g} + 1)
    S1 = pt.sqrt(tau**2 * pt.exp(-g_hi) + 1.0)
    log1p_S = pt.switch(big, 0.5 * g_hi + pt.log(e_hi + S1), pt.log1p(S_lo))
    r = pt.switch(big, (e_hi - S1) / (e_hi + S1), (1.0 - S_lo) / (1.0 + S_lo))
    log_lambda = K + lc + log1p_S
    if periodic:
        # log(1 + r^N); for odd N and r near -1 (frustrated antiferromagnetic rings),
        # 1 - |r|^N = -expm1(N log|r|) with log|r| = log1p(-2/(1 + S)) keeps every digit.
        if N % 2:
            near = r < -0.5
            ratio = pt.switch(near, 2.0 * e_hi / (e_hi + S1), 0.5)
            log_abs_r = pt.log1p(-ratio)
            tail = pt.switch(
                near, pt.log(-pt.expm1(N * log_abs_r)), pt.log1p(pt.switch(near, 0.0, r) ** N)
            )
        else:
            tail = pt.log1p(r**N)
        return N * log_lambda + tail
    # Open: Z = u' T^{N-1} u, u = (e^{th/2}, e^{-th/2}); with the eigenvectors of T,
    # Z = lambda_+^{N-1} 2 cosh th (w_+ + w_- r^{N-1}), w_pm = (1 pm rho)/2,
    # rho = (tau^2 + e^{g/2} sech th) / S.
    sech = pt.exp(-lc)
    rho_lo = (tau**2 + pt.exp(0.5 * g_lo) * sech) / S_lo
    rho_hi = (tau**2 * e_hi + sech) / S1
    rho = pt.switch(big, rho_hi, rho_lo)
    return (
        (N - 1) * log_lambda
        + lc
        + np.log(2.0)
        + pt.log(0.5 * (1 + rho) + 0.5 * (1 - rho) * r ** (N - 1))
    )


# -- Kaufman -----------------------------------------------------------------------------------
def _kaufman(m: int, n: int, K: TensorVariable) -> TensorVariable:
    r"""Kaufman's formula for the periodic m x n lattice at coupling K >= 0 (memory O(n)).

    Z = 1/2 (2 sinh 2K)^{mn/2} (Z1 + Z2 + Z3 + Z4), Z1 = prod_{l odd} 2 cosh(m g_l / 2),
    Z2 = prod_{l odd} 2 sinh(m g_l / 2), Z3/Z4 the same over even l in [0, 2n), with
    cosh g_l = cosh 2K coth 2K - cos(pi l / n) and g_0 = 2K + log tanh K (signed).
    Per l != 0, (2 sinh 2K)^{m/2} e^{m g_l / 2} = (2 (A_l + R_l))^{m/2} with
    A_l = cosh^2 2K - sinh 2K cos(pi l/n), R_l = sqrt(A_l^2 - sinh^2 2K), e^{-g_l} = sinh 2K /
    (A_l + R_l); both scaled by cosh^2 2K to avoid overflow. For l = 0 the prefactor and
    2 cosh(m g_0 / 2) combine into m softplus(-2K) + softplus(m g_0), and the sinh term is the
    same times tanh(m g_0 / 2), which carries the sign of g_0.
    """
    Kc = pt.maximum(K, _TINY)[..., None]
    lc2 = _logcosh(2.0 * Kc)
    tu = pt.tanh(2.0 * Kc) * pt.exp(-lc2)  # sinh 2K / cosh^2 2K
    ls = np.arange(1, 2 * n)  # l = 0 is handled on its own below
    A = 1.0 - tu * np.cos(np.pi * ls / n)
    R = pt.sqrt(A**2 - tu**2)  # > 0 for l != 0
    P = 0.5 * m * (2.0 * lc2 + pt.log(2.0 * (A + R)))
    q_m = (tu / (A + R)) ** m
    plus = P + pt.log1p(q_m)
    minus = P + pt.log1p(-q_m)
    odd, even = np.flatnonzero(ls % 2 == 1), np.flatnonzero(ls % 2 == 0)
    K1 = Kc[..., 0]
    log_tanh = pt.log(-pt.expm1(-2.0 * pt.maximum(K1, _TINY))) - pt.softplus(-2.0 * K1)
    g0 = 2.0 * K1 + log_tanh
    zero_term = m * pt.softplus(-2.0 * K1) + pt.softplus(m * g0)
    L1 = pt.sum(plus[..., odd], axis=-1)
    L2 = pt.sum(minus[..., odd], axis=-1)
    L3 = pt.sum(plus[..., even], axis=-1) + zero_term
    L4 = pt.sum(minus[..., even], axis=-1) + zero_term
    top = disconnected_grad(pt.maximum(L1, L3))
    total = (
        pt.exp(L1 - top)
        + pt.exp(L2 - top)
        + pt.exp(L3 - top)
        + pt.tanh(0.5 * m * g0) * pt.exp(L4 - top)
    )
    return top + pt.log(total) - np.log(2.0)


# -- mean field and Bethe ----------------------------------------------------------------------
class MeanFieldResult(NamedTuple):
    """Naive mean field: the lower bound on log Z and the magnetisations that attain it."""

    log_partition: TensorVariable  # (*batch,) a lower bound on log Z
    magnetization: TensorVariable  # (*batch, n) m_i = tanh(phi_i)
    converged: TensorVariable  # (*batch,) bool: the last sweep moved phi by < tol


class BetheResult(NamedTuple):
    """Loopy belief propagation: the Bethe approximation of log Z and the beliefs."""

    log_partition: TensorVariable  # (*batch,) Bethe log Z (NaN-free even if not converged)
    magnetization: TensorVariable  # (*batch, n) <s_i> under the node beliefs
    correlation: TensorVariable  # (*batch, E) <s_i s_j> under the bond beliefs
    converged: TensorVariable  # (*batch,) bool: max message change < tol at the end


def _core_first(x):
    return pt.moveaxis(x, -1, 0)


def _scatter_sum(n: int, index: np.ndarray, values: TensorVariable) -> TensorVariable:
    """out[k] = sum of values[d] over index[d] == k, along the first axis."""
    out = pt.zeros((n, *values.shape[1:]), dtype=values.dtype)
    return pt.inc_subtensor(out[index], values)


def _expand(x: np.ndarray, ndim: int) -> np.ndarray:
    return x.reshape(x.shape + (1,) * (ndim - x.ndim))


def _starts(s: IsingStructure) -> np.ndarray:
    """Initial fields per start, (n, 3): all up, all down, staggered by colour parity."""
    stag = np.where(s.colors % 2 == 0, 1.0, -1.0)
    return np.stack([np.ones(s.n_spins), -np.ones(s.n_spins), stag], axis=1)


def _site_entropy(phi):
    # H of q(s) ~ e^{phi s}: log(2 cosh phi) - phi tanh phi.
    return np.log(2.0) + _logcosh(phi) - phi * pt.tanh(phi)


def _select_best(values, ok, *others):
    """Pick, per batch element, the start (axis 0) with the largest value among the ok ones."""
    score = pt.switch(ok, values, -np.inf)
    score = pt.switch(pt.any(ok, axis=0, keepdims=True), score, values)
    best = pt.argmax(disconnected_grad(score), axis=0)

    def pick(x):
        index = best[None, ...]
        for _ in range(x.ndim - index.ndim):
            index = index[..., None]
        return pt.take_along_axis(x, index, axis=0)[0]

    return pick(values), pt.any(ok, axis=0), *(pick(o) for o in others)


def _mean_field(s, p, damping, max_iter, tol) -> MeanFieldResult:
    n, E = s.n_spins, s.n_edges
    i, j = s.edges[:, 0], s.edges[:, 1]
    K = _core_first(p.K)[:, None]  # (E, 1, *batch)
    th = _core_first(p.theta)[:, None]  # (n, 1, *batch)
    nd = th.ndim
    starts = _expand(_starts(s), nd)
    masks = [_expand((s.colors == k).astype(bool), nd) for k in range(s.n_colors)]
    Kc, thc = disconnected_grad(K), disconnected_grad(th)

    def local(m):
        if E == 0:
            return thc + 0.0 * m
        return thc + _scatter_sum(n, i, Kc * m[j]) + _scatter_sum(n, j, Kc * m[i])

    def sweep(phi):
        for mask in masks:
            phi = pt.switch(mask, damping * phi + (1 - damping) * local(pt.tanh(phi)), phi)
        return phi

    phi0 = thc + starts
    phis = pytensor.scan(sweep, outputs_info=[phi0], n_steps=max_iter, return_updates=False)
    phi = disconnected_grad(phis[-1])
    change = pt.abs(sweep(phi) - phi)
    ok = pt.all(change <= tol * (1 + pt.abs(phi)), axis=0)
    m = pt.tanh(phi)
    bound = pt.sum(th * m, axis=0) + pt.sum(_site_entropy(phi), axis=0)
    if E:
        bound = bound + pt.sum(K * m[i] * m[j], axis=0)
    value, conv, mag = _select_best(bound, ok, pt.moveaxis(m, 0, -1))
    return MeanFieldResult(value, mag, conv)


def _bethe(s, p, damping, max_iter, tol) -> BetheResult:
    n, E = s.n_spins, s.n_edges
    i, j = s.edges[:, 0], s.edges[:, 1]
    src, dst = np.concatenate([i, j]), np.concatenate([j, i])
    rev = np.concatenate([np.arange(E, 2 * E), np.arange(E)])
    K = _core_first(p.K)[:, None]  # (E, 1, *batch)
    th = _core_first(p.theta)[:, None]
    nd = th.ndim
    Kc, thc = disconnected_grad(K), disconnected_grad(th)
    Kd = pt.concatenate([Kc, Kc], axis=0)
    init = np.array([0.0, 0.5, -0.5]).reshape((1, 3) + (1,) * (nd - 2))

    def fields(u):
        return thc + _scatter_sum(n, dst, u)

    def update(u):
        H = fields(u)
        c = H[src] - u[rev]
        # atanh(tanh K tanh c) = (log cosh(c + K) - log cosh(c - K)) / 2, stable at any K, c.
        new = 0.5 * (_logcosh(c + Kd) - _logcosh(c - Kd))
        return damping * u + (1 - damping) * new

    u0 = init + 0.0 * Kd
    if E:
        us = pytensor.scan(update, outputs_info=[u0], n_steps=max_iter, return_updates=False)
        u = disconnected_grad(us[-1])
        ok = pt.all(pt.abs(update(u) - u) <= tol, axis=0)
    else:
        u = u0
        ok = None
    H = disconnected_grad(fields(u))
    m = pt.tanh(H)
    value = pt.sum(th * m, axis=0) - pt.sum(_expand(s.degree - 1.0, nd) * _site_entropy(H), 0)
    corr = pt.zeros_like(m[:0])
    if E:
        c = H[src] - u[rev]
        ci, cj = c[:E], c[E:]
        sgn = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # (s_i, s_j)
        logits = [Kc * a * b + ci * a + cj * b for a, b in sgn]
        logits = pt.stack(logits, axis=0)
        logp = logits - _logsumexp(logits, axis=0)[None]
        prob = disconnected_grad(pt.exp(logp))
        ss = _expand(sgn[:, 0] * sgn[:, 1], nd + 1)
        corr = pt.sum(prob * ss, axis=0)
        entropy = disconnected_grad(-pt.sum(prob * logp, axis=0))
        value = value + pt.sum(K * corr, axis=0) + pt.sum(entropy, axis=0)
    if ok is None:
        ok = pt.ones_like(value, dtype=bool)
    value, conv, mag, cor = _select_best(value, ok, pt.moveaxis(m, 0, -1), pt.moveaxis(corr, 0, -1))
    return BetheResult(value, mag, cor, conv)


# -- public ------------------------------------------------------------------------------------
def _kaufman_bytes(s: IsingStructure) -> int:
    # about 16 float64 arrays of 2 min(L, W) terms (the products run over the shorter side:
    # Z is symmetric in L and W), twice that for the gradient
    return 2 * 16 * 8 * 2 * min(s.shape)


def _kaufman_fits(s: IsingStructure, p: _Params, max_bytes: float) -> str:
    """'' when Kaufman's formula applies, else the reason."""
    if s.shape is None or len(s.shape) != 2 or s.boundary != ("periodic", "periodic"):
        return "Kaufman's formula needs a periodic L x W lattice"
    if _kaufman_bytes(s) > max_bytes:
        return (
            f"Kaufman's formula on the {s.description} needs about "
            f"{_bytes(_kaufman_bytes(s))} for the value and gradient, above max_bytes = "
            f"{_bytes(max_bytes)}"
        )
    if p.K_uniform is None:
        return "Kaufman's formula needs a uniform J"
    if not p.h_zero:
        return "Kaufman's formula needs h = 0 (a constant)"
    even = all(d % 2 == 0 for d in s.shape)
    if not even and p.K_sign is not None and p.K_sign < 0:
        return (
            f"Kaufman's formula covers beta J < 0 only on even sides (frustrated otherwise); "
            f"lattice={s.shape}"
        )
    return ""


def _chain_fits(s: IsingStructure, p: _Params) -> str:
    if s.shape is None or len(s.shape) != 1:
        return "the chain closed form needs lattice=(N,)"
    if p.K_uniform is None or p.theta_uniform is None:
        return "the chain closed form needs uniform J and h (use the transfer matrix)"
    return ""


def ising_log_partition(
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
    method: str = "auto",
    *,
    n_spins: int | None = None,
    max_bytes: float = TRANSFER_MATRIX_MAX_BYTES,
    damping: float = 0.5,
    max_iter: int = 500,
    tol: float = 1e-10,
) -> TensorVariable:
    r"""Symbolic :math:`\log Z = \log\sum_s \exp(\beta\sum_e J_e s_i s_j + \beta\sum_i h_i s_i)`.

    Parameters
    ----------
    J : scalar, per-bond array or (n, n) coupling matrix; number or PyTensor/PyMC variable
        Couplings (see :func:`~pymc_statmech.boltzmann.edge_couplings`); leading axes of a
        per-bond array are a batch.
    h : scalar or per-site array (``(..., n)``, or ``(..., L, W)`` on a lattice)
        Fields.
    beta : scalar or array
        Inverse temperature; its axes are batch axes.
    lattice, graph, boundary :
        The structure (see :func:`~pymc_statmech.boltzmann.ising_structure`); ``lattice`` and
        ``graph`` also take an :class:`~pymc_statmech.boltzmann.IsingStructure`.
    method : {"auto", "enumerate", "transfer_matrix", "kaufman", "chain", "mean_field", "bethe"}
        ``"auto"`` takes the first exact method that applies: the chain closed form (uniform
        chain), Kaufman (periodic lattice, uniform J, h = 0, beta J >= 0 unless both sides are
        even), the transfer matrix (rows of at most 16 spins, 12 when periodic both ways,
        within ``max_bytes``), enumeration (at most 20 spins); if none
        fits it raises :class:`IsingTooLargeError` naming the memory the exact method would
        need and the approximations. It never approximates. ``"mean_field"`` returns the naive
        mean-field lower bound; ``"bethe"`` the Bethe approximation, ``NaN`` where belief
        propagation did not converge (see :func:`ising_mean_field`, :func:`ising_bethe`).
    n_spins : int, optional
        Number of sites of an edge-list graph with isolated sites.
    max_bytes : float
        Memory the transfer matrix and Kaufman's formula may plan for (value and gradient),
        default 1 GiB.
    damping, max_iter, tol :
        For ``"mean_field"`` and ``"bethe"`` (see their functions).

    Returns
    -------
    TensorVariable
        :math:`\log Z`, with the broadcast batch shape of ``J``, ``h`` and ``beta``.
        Differentiable in all three: :math:`\partial\log Z/\partial\beta = -\langle E\rangle`.

    Raises
    ------
    IsingTooLargeError
        The system exceeds the requested exact method's limit (or every exact method's, for
        ``"auto"``).
    ValueError
        Invalid structure, couplings, fields or method.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_log_partition
    >>> # log(2 (2 cosh 1)^2), the open chain of three spins
    >>> float(ising_log_partition(1.0, lattice=(3,), boundary="open").eval())
    2.947003...
    >>> beta_c = np.log(1 + np.sqrt(2)) / 2
    >>> lz = ising_log_partition(1.0, beta=beta_c, lattice=(4, 4))  # Kaufman
    >>> round(float(lz.eval()) / 16, 6)
    0.97012
    """
    if method not in LOG_PARTITION_METHODS:
        raise ValueError(f"method must be one of {LOG_PARTITION_METHODS}, got {method!r}.")
    s = ising_structure(lattice, graph, boundary, n_spins)
    p = _prepare(s, J, h, beta)
    if method == "auto":
        return _auto(s, p, max_bytes)
    if method == "mean_field":
        return _mean_field(s, p, damping, max_iter, tol).log_partition
    if method == "bethe":
        res = _bethe(s, p, damping, max_iter, tol)
        return pt.switch(res.converged, res.log_partition, np.nan)
    if method == "enumerate":
        return _enumerate(s, p)
    if method == "transfer_matrix":
        return _transfer_matrix(s, p, max_bytes)
    if method == "kaufman":
        why = _kaufman_fits(s, p, max_bytes)
        if why:
            error = IsingTooLargeError if _kaufman_bytes(s) > max_bytes else ValueError
            raise error(f"method='kaufman': {why}; use method='transfer_matrix' or 'auto'.")
        L, W = sorted(s.shape, reverse=True)
        K = p.K_uniform
        if L % 2 == 0 and W % 2 == 0:
            K = _even_abs(K)  # flipping one sublattice maps J to -J exactly
        else:  # frustrated for beta J < 0: an error when evaluated, never a number (an
            # assertion: PyMC's compilation would turn a parameter check into a -inf K)
            K = CheckAndRaise(
                ValueError,
                f"method='kaufman' needs beta J >= 0 on the {s.description} (an odd side); "
                "use method='transfer_matrix' or 'auto'",
            )(K, pt.all(K >= 0))
        return _kaufman(L, W, K)
    why = _chain_fits(s, p)
    if why:
        raise ValueError(f"method='chain': {why}.")
    return _chain(s.shape[0], s.boundary[0] == "periodic", p.K_uniform, p.theta_uniform)


def _auto(s: IsingStructure, p: _Params, max_bytes: float) -> TensorVariable:
    if not _chain_fits(s, p):
        return _chain(s.shape[0], s.boundary[0] == "periodic", p.K_uniform, p.theta_uniform)
    kaufman_why = _kaufman_fits(s, p, max_bytes)
    even = s.shape is not None and all(d % 2 == 0 for d in s.shape)
    # on an odd side the formula needs beta J >= 0, known when the graph is built
    if not kaufman_why and (even or (p.K_sign is not None and p.K_sign >= 0)):
        K = _even_abs(p.K_uniform) if even else p.K_uniform
        return _kaufman(*sorted(s.shape, reverse=True), K)
    plan, tm_why = _tm_plan(s, max_bytes)
    if plan is not None:
        return _transfer_matrix(s, p, max_bytes)
    if s.n_spins <= ENUMERATE_MAX_SPINS:
        return _enumerate(s, p)
    n = s.n_spins
    raise IsingTooLargeError(
        f"method='auto': no exact method fits the {s.description}: {tm_why}; enumeration "
        f"needs 2^{n} states ({_bytes(8 * 2**n)} of log-weights; limit "
        f"{ENUMERATE_MAX_SPINS} spins); {kaufman_why or 'Kaufman does not apply'}. "
        f"Choose explicitly among the {_ALTERNATIVES}."
    )


def ising_mean_field(
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
    *,
    n_spins: int | None = None,
    damping: float = 0.5,
    max_iter: int = 500,
    tol: float = 1e-10,
) -> MeanFieldResult:
    r"""Naive mean field: the best product distribution's lower bound on :math:`\log Z`.

    For :math:`q(s) = \prod_i e^{\phi_i s_i} / (2\cosh\phi_i)` with :math:`m_i = \tanh\phi_i`,

    .. math:: \log Z \ge \sum_e K_e m_i m_j + \sum_i \theta_i m_i + \sum_i H(\phi_i), \qquad
              H(\phi) = \log(2\cosh\phi) - \phi\tanh\phi,

    (:math:`K = \beta J`, :math:`\theta = \beta h`) at *any* :math:`\phi`, with equality only for
    independent spins. The self-consistent fields :math:`\phi_i = \theta_i + \sum_j K_{ij} m_j`
    are found by damped block-coordinate ascent: the sites of one colour (no bond between them)
    move together to ``damping * phi + (1 - damping) * target``, which increases the bound at
    every step. Three starts (all up, all down, staggered by colour) run in parallel and the
    largest bound is kept, so a ferromagnet below :math:`T_c` does not stop at :math:`m = 0`.
    The gradient is that of the bound at fixed :math:`m` (exact at a fixed point, where the
    bound is stationary in :math:`m`).

    Parameters
    ----------
    J, h, beta, lattice, graph, boundary, n_spins :
        As in :func:`ising_log_partition`.
    damping : float in [0, 1)
        Weight of the previous field in each update.
    max_iter : int
        Sweeps (each updates every colour class once).
    tol : float
        ``converged`` when the last sweep moved every :math:`\phi_i` by at most
        ``tol * (1 + |phi_i|)``.

    Returns
    -------
    MeanFieldResult
        ``log_partition`` (a lower bound), ``magnetization``, ``converged``.

    Examples
    --------
    >>> from pymc_statmech.boltzmann import ising_mean_field
    >>> res = ising_mean_field(0.2, lattice=(4, 4))
    >>> round(float(res.log_partition.eval()), 6), bool(res.converged.eval())  # 16 log 2
    (11.090355, True)
    """
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping!r}.")
    s = ising_structure(lattice, graph, boundary, n_spins)
    return _mean_field(s, _prepare(s, J, h, beta), damping, int(max_iter), tol)


def ising_bethe(
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
    *,
    n_spins: int | None = None,
    damping: float = 0.5,
    max_iter: int = 500,
    tol: float = 1e-10,
) -> BetheResult:
    r"""The Bethe approximation of :math:`\log Z` by damped loopy belief propagation.

    Messages are cavity fields :math:`u_{i\to j} = \operatorname{atanh}(\tanh K_{ij}
    \tanh c_{i\to j})` with :math:`c_{i\to j} = \theta_i + \sum_{k \ne j} u_{k\to i}`, updated in
    parallel as ``damping * u + (1 - damping) * u_new``. At the end the beliefs give

    .. math:: \log Z_{\rm Bethe} = \sum_e \big(K_e\langle s_i s_j\rangle_{b_e} + H(b_e)\big)
              + \sum_i \big(\theta_i \langle s_i\rangle_{b_i} - (d_i - 1) H(b_i)\big),

    the negative Bethe free energy. It is exact on trees (and forests); for ferromagnetic
    couplings it is a lower bound (Ruozzi 2012); in general it is neither a lower nor an upper
    bound. Three message starts (zero, +0.5, -0.5) run in parallel; among the converged ones the
    largest :math:`\log Z_{\rm Bethe}` (the lowest Bethe free energy) is kept. The gradient is the
    Bethe moments (the Bethe free energy is stationary at a fixed point).

    Parameters
    ----------
    J, h, beta, lattice, graph, boundary, n_spins :
        As in :func:`ising_log_partition`.
    damping : float in [0, 1)
        Weight of the previous message.
    max_iter : int
        Parallel message updates.
    tol : float
        ``converged`` when the last update changed every message by at most ``tol``.

    Returns
    -------
    BetheResult
        ``log_partition``, ``magnetization``, ``correlation`` (per bond), ``converged``. The value
        is returned even when not converged; check ``converged`` (``ising_log_partition``
        returns ``NaN`` then).

    Examples
    --------
    >>> from pymc_statmech.boltzmann import ising_bethe
    >>> res = ising_bethe(0.7, 0.1, lattice=(5,), boundary="open")  # a tree: exact
    >>> round(float(res.log_partition.eval()), 8), bool(res.converged.eval())
    (4.43972878, True)
    """
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping!r}.")
    s = ising_structure(lattice, graph, boundary, n_spins)
    return _bethe(s, _prepare(s, J, h, beta), damping, int(max_iter), tol)
