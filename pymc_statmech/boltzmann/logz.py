r"""Exact :math:`\log Z` of Ising models and its derivatives as compiled kernels behind small Ops.

The gradient of :math:`A(\eta) = \log Z` in the natural parameters
:math:`\eta = (K, \theta) = (\beta J, \beta h)` is the vector of expected statistics
:math:`(\langle s_i s_j \rangle_e, \langle s_i \rangle_i)` and its Hessian their covariance.
One forward-backward sweep gives the value and all the expected statistics exactly, so a model's
log density needs two small Ops instead of a large ``scan`` graph that every new model would
recompile:

* :class:`IsingLogZ` ``(K, theta) -> (log Z, <s_i s_j>, <s_i>)``: the value and its gradient,
  the expected statistics, from one sweep; the gradient of the statistics (the
  Hessian-vector product :math:`\mathrm{Cov}[T]\,g`) is
* :class:`IsingCovarianceProduct` ``(K, theta, g) -> Cov[T] g``. A few directions are
  complex-step sweeps of the same kernel: :math:`\mathrm{Im}\,m(\eta + i\epsilon g)/\epsilon`
  with :math:`\epsilon = 10^{-30}` is the exact directional derivative to rounding (no
  difference of nearby numbers is taken). Many directions at one parameter set (a Fisher
  information) multiply the full covariance of an open sweep, computed exactly from its
  forward and backward messages by propagating each centred statistic forward (about a tenth
  of a complex-step sweep per statistic).

Both Ops take any batch shape (their jacobians vectorise into it), and large sweeps run on all
available cores in threads: the rows of a batch, or the first rows of a trace.

The kernels (Numba, cached on disk, so they compile once per machine) work in log space
throughout, with a scaled linear-space fast path where it is provably as accurate (below):

``"transfer_matrix"``
    Rows of :math:`w` spins are added one site at a time (the helical shift register: a state is
    the last :math:`w` spins, :math:`2^{w+1}` log-additions per site). A lattice periodic in
    the stacking direction is a trace: the first row is fixed to each of its :math:`2^w`
    states in turn and the bonds that close onto it act as fields on the last row
    (:math:`2^{w-1}` states when :math:`h = 0`, by the spin-flip symmetry). Expected statistics
    come from the stored forward messages and one backward sweep.
``"enumerate"``
    Every one of the :math:`2^n` states, for any graph of at most 20 spins.

Scaled linear space (``exp`` of log-weights shifted by their maximum; each message scaled by
the largest entry of the one before, folded into the next step's weights) is used for a
transfer-matrix sweep when the largest couplings cannot make a discarded
(underflowed, below :math:`e^{-708}` of the largest) term matter: a term's later weight relative
to the largest is bounded by :math:`e^{2\Sigma}`, with :math:`\Sigma` the largest sum of
:math:`|K|` and :math:`|\theta|` over the bonds and sites a message crosses, so linear space is
exact to rounding when :math:`2\Sigma < 300`; otherwise (e.g. :math:`\beta J = 1000`) the sweep
runs in log space. Both give the same numbers to rounding where both apply.

References
----------
.. [1] Baxter, R. J. (1982). Exactly Solved Models in Statistical Mechanics, ch. 7 (transfer
   matrices).
.. [2] Squire, W. and Trapp, G. (1998). Using complex variables to estimate derivatives of real
   functions. SIAM Review 40(1), 110-112 (the complex step).
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from typing import NamedTuple

import numba
import numpy as np
import pytensor.tensor as pt
from numba import njit
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.replace import _vectorize_node
from pytensor.link.numba.dispatch import numba_funcify
from pytensor.link.numba.dispatch.basic import numba_njit

from pymc_statmech._backends import JAX_DISPATCH, when_imported
from pymc_statmech.boltzmann.lattice import IsingStructure

__all__ = [
    "IsingCovarianceProduct",
    "IsingLogZ",
    "SweepPlan",
    "enumeration_plan",
    "transfer_plan",
]

#: Complex step: small enough that every second-order term is below rounding.
_STEP = 1e-30
#: Linear space is used while 2 * (the largest |K| and |theta| sum a message crosses) is below
#: this: discarded terms are then below e^{-708 + 300} of the total.
_LINEAR_SAFE = 300.0
#: Forward messages held at once per thread (bytes): a trace sweeps its first rows in chunks.
_CHUNK_BYTES = 2**25
#: Forward and backward messages a full covariance may hold (bytes).
_COVARIANCE_BYTES = 2**30
#: A trace with at least this many state updates is split over the available cores.
_PARALLEL_WORK = 2**24
_WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SweepPlan(NamedTuple):
    """The static description of one exact sweep (hashable, the Ops' only property).

    ``kind`` is ``"transfer_matrix"`` or ``"enumerate"``. For the transfer matrix, sites are
    added in the order ``order`` (row by row along the stacking direction, rows of ``width``
    spins); per added site ``k >= width`` the bonds to the spin above, to the left neighbour and
    the one closing a periodic row (``-1``: none); ``row0_bond[c]`` joins ``(0, c)`` and
    ``(0, c + 1 mod width)``; ``closing[c]`` joins ``(L - 1, c)`` and ``(0, c)`` when the
    stacking direction is periodic (``trace``). For enumeration, ``order`` is ``range(n)`` and
    the bonds are the structure's edges ``(i, j)``.
    """

    kind: str
    n_spins: int
    n_edges: int
    width: int
    trace: bool
    order: tuple[int, ...]
    row0_bond: tuple[int, ...]
    above: tuple[int, ...]
    left: tuple[int, ...]
    wrap: tuple[int, ...]
    closing: tuple[int, ...]
    edges_i: tuple[int, ...]
    edges_j: tuple[int, ...]

    def arrays(self):
        """The plan as int64 arrays, in the kernels' argument order."""
        return _plan_arrays(self)


@functools.lru_cache(maxsize=64)
def _plan_arrays(plan: SweepPlan) -> tuple[np.ndarray, ...]:
    """The plan's index tuples as int64 arrays, made once per plan."""
    names = ("order", "row0_bond", "above", "left", "wrap", "closing", "edges_i", "edges_j")
    return tuple(np.asarray(getattr(plan, name), dtype=np.int64) for name in names)


def transfer_plan(structure: IsingStructure, transpose: bool) -> SweepPlan:
    """The transfer-matrix sweep of a chain or lattice, rows along axis 1 (``transpose``: 0)."""
    row_bond, col_bond = structure.bond_grids()
    site = np.arange(structure.n_spins).reshape(
        structure.shape if len(structure.shape) == 2 else (-1, 1)
    )
    if transpose:
        row_bond, col_bond, site = col_bond.T, row_bond.T, site.T
    L, w = row_bond.shape
    periodic_rows = len(structure.shape) == 2 and structure.boundary[0 if transpose else 1] == (
        "periodic"
    )
    stack_axis = 1 if transpose else 0
    trace = structure.boundary[stack_axis] == "periodic"
    above = col_bond[:-1].ravel()
    left = np.concatenate([np.full((L - 1, 1), -1), row_bond[1:, :-1]], axis=1).ravel()
    wrap = np.full((L - 1, w), -1)
    if w > 1 and periodic_rows:
        wrap[:, -1] = row_bond[1:, -1]
    closing = col_bond[-1] if trace else np.full(w, -1)
    return SweepPlan(
        "transfer_matrix",
        structure.n_spins,
        structure.n_edges,
        w,
        bool(trace),
        tuple(site.ravel().tolist()),
        tuple(row_bond[0].tolist()),
        tuple(above.tolist()),
        tuple(left.tolist()),
        tuple(wrap.ravel().tolist()),
        tuple(np.asarray(closing).tolist()),
        (),
        (),
    )


def enumeration_plan(structure: IsingStructure) -> SweepPlan:
    """Enumeration of the ``2^n`` states of any structure."""
    return SweepPlan(
        "enumerate",
        structure.n_spins,
        structure.n_edges,
        structure.n_spins,
        False,
        tuple(range(structure.n_spins)),
        (),
        (),
        (),
        (),
        (),
        tuple(structure.edges[:, 0].tolist()),
        tuple(structure.edges[:, 1].tolist()),
    )


# ---------------------------------------------------------------------------------------------
# kernels: generic in the dtype (float64 for values, complex128 for the complex step); every
# comparison is on real parts, so the complex step rides along. The sweeps are driven from
# Python, one kernel call per chunk of first rows: a kernel that calls a large kernel
# re-optimises the callee's code with its own (measured: 2.9 s more for one level of nesting).
# ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _log_add(a, b):
    """log(e^a + e^b)."""
    if a.real < b.real:
        a, b = b, a
    if b.real == -np.inf:
        return a
    return a + np.log1p(np.exp(b - a))


@njit(cache=True)
def _coupling(K, bond):
    return K[bond] if bond >= 0 else 0.0 * K[0]


@njit(cache=True)
def _sign(bit):
    return 2.0 * bit - 1.0


@njit(cache=True)
def _max_real(v, count):
    """The entry of largest real part among v[:count]."""
    top = v[0]
    for x in range(1, count):
        if v[x].real > top.real:
            top = v[x]
    return top


@njit(cache=True, nogil=True)
def _first_rows(K, th, order, row0_bond, w, rows, msg):
    """Log-weights of the 2^w first-row states (fields and in-row bonds) into ``msg[k, 0]``;
    when ``rows[k] >= 0`` only that state keeps its weight. Column c is bit w - 1 - c of a
    state (set: +1)."""
    for k in range(len(rows)):
        for x in range(2**w):
            total = 0.0 * K[0]
            for c in range(w):
                s = _sign((x >> (w - 1 - c)) & 1)
                total += th[order[c]] * s
                bond = row0_bond[c]
                if bond >= 0:
                    total += K[bond] * s * _sign((x >> (w - 1 - (c + 1) % w)) & 1)
            free = rows[k] < 0 or x == rows[k]
            msg[k, 0, x] = total if free else -np.inf + 0.0 * total


@njit(cache=True, nogil=True)
def _step_exponents(K, th, order, above, left, wrap, closing, w, rows, E):
    """Per first row k and step t (adding site order[t + w]), the 16 exponents
    s_new (K_above s_top + K_left s_left + K_wrap s_wrap + theta) at E[k, t, 8 top + 4 left +
    2 wrap + new]; with the first row fixed to ``rows[k]`` (>= 0), the bonds closing onto it
    are fields on the last row."""
    n = len(order)
    for k in range(len(rows)):
        fixed = rows[k]
        for t in range(n - w):
            step = t + w
            ka, kl, kw = _coupling(K, above[t]), _coupling(K, left[t]), _coupling(K, wrap[t])
            field = th[order[step]]
            if fixed >= 0 and step >= n - w:
                c = step - (n - w)
                field = field + _coupling(K, closing[c]) * _sign((fixed >> (w - 1 - c)) & 1)
            for i in range(8):
                local = ka * _sign(i >> 2) + kl * _sign((i >> 1) & 1) + kw * _sign(i & 1) + field
                E[k, t, 2 * i] = -local
                E[k, t, 2 * i + 1] = local


@njit(cache=True)
def _weight_index(rest, w):
    """4 left + 2 wrap of a register's lower w - 1 bits (left: the newest spin, wrap: the
    first of the current row)."""
    return 4 * (rest & 1) + 2 * (((rest >> (w - 2)) & 1) if w >= 2 else 0)


@njit(cache=True, nogil=True)
def _forward_linear(E, w, msg, log_z):
    """Forward messages msg[k, t] before step t from msg[k, 0] (first-row log-weights,
    overwritten by mantissas); log Z per first row. Each message is scaled by the largest
    entry of the one before (folded into the step's weights, so a step is one pass)."""
    H, T = 2 ** (w - 1), E.shape[1]
    W = np.empty(16, dtype=E.dtype)
    for k in range(E.shape[0]):
        M = msg[k]
        scale = _max_real(M[0], 2 * H)
        for x in range(2 * H):
            M[0, x] = np.exp(M[0, x] - scale)
        top = 1.0 + 0.0 * scale  # the largest entry of M[t]
        for t in range(T):
            shift = _max_real(E[k, t], 16)
            for i in range(16):
                W[i] = np.exp(E[k, t, i] - shift) / top
            scale = scale + shift + np.log(top)
            top = 0.0 * top
            for rest in range(H):
                lw = _weight_index(rest, w)
                a0, a1 = M[t, rest], M[t, H + rest]
                m0 = a0 * W[lw] + a1 * W[8 + lw]
                m1 = a0 * W[lw + 1] + a1 * W[9 + lw]
                M[t + 1, 2 * rest], M[t + 1, 2 * rest + 1] = m0, m1
                top = m0 if m0.real > top.real else top
                top = m1 if m1.real > top.real else top
        total = 0.0 * M[T, 0]
        for x in range(2 * H):
            total += M[T, x]
        log_z[k] = scale + np.log(total)


@njit(cache=True, nogil=True)
def _forward_log(E, w, msg, log_z):
    """As :func:`_forward_linear`, with every message kept as a logarithm."""
    H, T = 2 ** (w - 1), E.shape[1]
    for k in range(E.shape[0]):
        M = msg[k]
        for t in range(T):
            for rest in range(H):
                lw = _weight_index(rest, w)
                a0, a1 = M[t, rest], M[t, H + rest]
                for b in range(2):
                    M[t + 1, 2 * rest + b] = _log_add(
                        a0 + E[k, t, lw + b], a1 + E[k, t, 8 + lw + b]
                    )
        top = _max_real(M[T], 2 * H)
        total = 0.0 * top
        for x in range(2 * H):
            total += np.exp(M[T, x] - top)
        log_z[k] = top + np.log(total)


@njit(cache=True)
def _add_step_statistics(bins, step, order, above, left, wrap, closing, w, fixed, mK, mth):
    """A step's four expected statistics from the joint weights of (top, left, wrap, new)."""
    n = len(order)
    t = step - w
    total = 0.0 * bins[0]
    for i in range(16):
        total += bins[i]
    s_new = s_above = s_left = s_wrap = 0.0 * total
    for i in range(16):
        q = bins[i] * _sign(i & 1) / total
        s_new += q
        s_above += q * _sign(i >> 3)
        s_left += q * _sign((i >> 2) & 1)
        s_wrap += q * _sign((i >> 1) & 1)
    mth[order[step]] += s_new
    if above[t] >= 0:
        mK[above[t]] += s_above
    if left[t] >= 0:
        mK[left[t]] += s_left
    if wrap[t] >= 0:
        mK[wrap[t]] += s_wrap
    if fixed >= 0 and step >= n - w and closing[step - (n - w)] >= 0:
        c = step - (n - w)
        mK[closing[c]] += s_new * _sign((fixed >> (w - 1 - c)) & 1)


@njit(cache=True)
def _add_first_row_statistics(weights, order, row0_bond, w, mK, mth):
    """The first row's expected statistics from the (unnormalised) weights of its states."""
    total = 0.0 * weights[0]
    for x in range(2**w):
        total += weights[x]
    for x in range(2**w):
        p = weights[x] / total
        if p.real == 0.0:
            continue
        for c in range(w):
            s = _sign((x >> (w - 1 - c)) & 1)
            mth[order[c]] += p * s
            bond = row0_bond[c]
            if bond >= 0:
                mK[bond] += p * s * _sign((x >> (w - 1 - (c + 1) % w)) & 1)


@njit(cache=True)
def _backward_step_linear(W, w, forward, back, prev, bins):
    """One linear backward step: ``prev`` (unnormalised) from the step's weights and ``back``,
    and the 16 bins of forward x weight x backward by (top, left, wrap, new); returns the
    largest entry of ``prev``. From width 3 the registers are visited bin by bin (the middle
    bits innermost), so each bin is a running sum in a register rather than in memory."""
    H = 2 ** (w - 1)
    largest = 0.0 * W[0]
    if w < 3:  # the left and wrap spins are not distinct bits of the register
        bins[:] = 0.0
        for top in range(2):
            for rest in range(H):
                lw = 8 * top + _weight_index(rest, w)
                u0 = W[lw] * back[2 * rest]
                u1 = W[lw + 1] * back[2 * rest + 1]
                a = forward[top * H + rest]
                bins[lw] += a * u0
                bins[lw + 1] += a * u1
                prev[top * H + rest] = u0 + u1
                largest = u0 + u1 if (u0 + u1).real > largest.real else largest
        return largest
    Q = H // 2
    for top in range(2):
        for wrap in range(2):
            for left in range(2):
                lw = 8 * top + 4 * left + 2 * wrap
                w0, w1 = W[lw], W[lw + 1]
                sum0 = sum1 = 0.0 * w0
                for middle in range(Q // 2):
                    rest = wrap * Q + 2 * middle + left
                    u0 = w0 * back[2 * rest]
                    u1 = w1 * back[2 * rest + 1]
                    a = forward[top * H + rest]
                    sum0 += a * u0
                    sum1 += a * u1
                    value = u0 + u1
                    prev[top * H + rest] = value
                    largest = value if value.real > largest.real else largest
                bins[lw], bins[lw + 1] = sum0, sum1
    return largest


@njit(cache=True, nogil=True)
def _backward_linear(E, w, msg, order, row0_bond, above, left, wrap, closing, rows, mK, mth):
    """Backward sweep over the linear forward messages, adding the expected statistics of first
    row k to ``mK[k]`` and ``mth[k]``: the joint weight of a step's register and new spin is
    forward x weight x backward, summed into 16 bins by (top, left, wrap, new). Each backward
    message is scaled by the largest entry of the one after (folded into the weights)."""
    H, T = 2 ** (w - 1), E.shape[1]
    back = np.empty(2 * H, dtype=E.dtype)
    prev = np.empty(2 * H, dtype=E.dtype)
    W = np.empty(16, dtype=E.dtype)
    bins = np.empty(16, dtype=E.dtype)
    for k in range(E.shape[0]):
        M = msg[k]
        back[:] = 1.0
        largest = 1.0 + 0.0 * M[0, 0]
        for t in range(T - 1, -1, -1):
            shift = _max_real(E[k, t], 16)
            for i in range(16):
                W[i] = np.exp(E[k, t, i] - shift) / largest
            largest = _backward_step_linear(W, w, M[t], back, prev, bins)
            back, prev = prev, back
            _add_step_statistics(bins, t + w, order, above, left, wrap, closing, w, rows[k],
                                 mK[k], mth[k])  # fmt: skip
        for x in range(2 * H):
            prev[x] = M[0, x] * back[x]
        _add_first_row_statistics(prev, order, row0_bond, w, mK[k], mth[k])


@njit(cache=True, nogil=True)
def _backward_messages(W, w, msg, backs, bins):
    """Every backward message ``backs[t]`` (t = 0..T, each scaled to largest 1) and every
    step's bins ``bins[t]``, of one open sweep with linear step weights ``W (T, 16)``."""
    H, T = 2 ** (w - 1), W.shape[0]
    prev = np.empty(2 * H, dtype=W.dtype)
    backs[T, :] = 1.0
    for t in range(T - 1, -1, -1):
        largest = _backward_step_linear(W[t], w, msg[t], backs[t + 1], prev, bins[t])
        for x in range(2 * H):
            backs[t, x] = prev[x] / largest


@njit(cache=True, nogil=True)
def _second_moments(msg, backs, W, bins, w, position, signs, step_stats, row_signs, row_stats,
                    sources, M2):  # fmt: skip
    """``M2[a, c] = E[T_a T_c]`` for each source statistic ``a`` and every statistic ``c``
    introduced at the same step as ``a`` or later, in one open linear sweep (given centred
    statistics, the covariance).

    ``position[a]`` is the step that introduces statistic ``a`` (-1: the first row) and
    ``signs[a]`` its value as a function of that step's 16 bins; ``step_stats[t]`` lists the
    statistics of step t (-1: none). The first row's statistics ``row_stats[r]`` have values
    ``row_signs[r]`` over the 2^w states (``position[a] = -1 - r``). The message with
    ``T_a`` inserted is propagated forward with the forward messages' own scaling, and
    contracted with each later step's backward message; the normaliser of step t, its bins'
    total, is ``Z`` in the same scaling.
    """
    H, T = 2 ** (w - 1), W.shape[0]
    g = np.empty(2 * H, dtype=W.dtype)
    nxt = np.empty(2 * H, dtype=W.dtype)
    tangent_bins = np.empty(16, dtype=W.dtype)
    totals = np.empty(T, dtype=W.dtype)
    tops = np.empty(T, dtype=W.dtype)  # msg[t + 1] = (msg[t] stepped) / tops[t]
    for t in range(T):
        totals[t] = 0.0
        for i in range(16):
            totals[t] += bins[t, i]
        norm = 0.0
        for x in range(2 * H):
            norm += msg[t + 1, x] * backs[t + 1, x]
        tops[t] = totals[t] / norm
    first_total = 0.0
    for x in range(2 * H):
        first_total += msg[0, x] * backs[0, x]
    for a in sources:
        p = position[a]
        if p < 0:
            r = -1 - p
            for x in range(2 * H):
                g[x] = msg[0, x] * row_signs[r, x]
            for rc in range(len(row_stats)):
                pair = 0.0
                for x in range(2 * H):
                    pair += msg[0, x] * backs[0, x] * row_signs[r, x] * row_signs[rc, x]
                M2[a, row_stats[rc]] = pair / first_total
            start = 0
        else:
            for j in range(step_stats.shape[1]):
                c = step_stats[p, j]
                if c >= 0:
                    pair = 0.0
                    for i in range(16):
                        pair += bins[p, i] * signs[a, i] * signs[c, i]
                    M2[a, c] = pair / totals[p]
            nxt[:] = 0.0
            for top in range(2):
                for rest in range(H):
                    lw = 8 * top + _weight_index(rest, w)
                    value = msg[p, top * H + rest]
                    nxt[2 * rest] += value * W[p, lw] * signs[a, lw]
                    nxt[2 * rest + 1] += value * W[p, lw + 1] * signs[a, lw + 1]
            for x in range(2 * H):
                g[x] = nxt[x] / tops[p]
            start = p + 1
        for q in range(start, T):
            nxt[:] = 0.0
            tangent_bins[:] = 0.0
            for top in range(2):
                for rest in range(H):
                    lw = 8 * top + _weight_index(rest, w)
                    u0 = g[top * H + rest] * W[q, lw]
                    u1 = g[top * H + rest] * W[q, lw + 1]
                    nxt[2 * rest] += u0
                    nxt[2 * rest + 1] += u1
                    tangent_bins[lw] += u0 * backs[q + 1, 2 * rest]
                    tangent_bins[lw + 1] += u1 * backs[q + 1, 2 * rest + 1]
            for j in range(step_stats.shape[1]):
                c = step_stats[q, j]
                if c >= 0:
                    pair = 0.0
                    for i in range(16):
                        pair += tangent_bins[i] * signs[c, i]
                    M2[a, c] = pair / totals[q]
            for x in range(2 * H):
                g[x] = nxt[x] / tops[q]


@njit(cache=True, nogil=True)
def _backward_log(E, w, msg, order, row0_bond, above, left, wrap, closing, rows, mK, mth):
    """As :func:`_backward_linear`, over log forward messages with log backward messages."""
    H, T = 2 ** (w - 1), E.shape[1]
    back = np.empty(2 * H, dtype=E.dtype)
    prev = np.empty(2 * H, dtype=E.dtype)
    joint = np.empty(4 * H, dtype=E.dtype)  # [top, rest, new]
    bins = np.empty(16, dtype=E.dtype)
    for k in range(E.shape[0]):
        M = msg[k]
        back[:] = 0.0
        for t in range(T - 1, -1, -1):
            for top in range(2):
                for rest in range(H):
                    lw = 8 * top + _weight_index(rest, w)
                    u0 = E[k, t, lw] + back[2 * rest]
                    u1 = E[k, t, lw + 1] + back[2 * rest + 1]
                    a = M[t, top * H + rest]
                    joint[2 * (top * H + rest)] = a + u0
                    joint[2 * (top * H + rest) + 1] = a + u1
                    prev[top * H + rest] = _log_add(u0, u1)
            peak = _max_real(joint, 4 * H)
            bins[:] = 0.0
            for top in range(2):
                for rest in range(H):
                    lw = 8 * top + _weight_index(rest, w)
                    j = 2 * (top * H + rest)
                    bins[lw] += np.exp(joint[j] - peak)
                    bins[lw + 1] += np.exp(joint[j + 1] - peak)
            back, prev = prev, back
            _add_step_statistics(bins, t + w, order, above, left, wrap, closing, w, rows[k],
                                 mK[k], mth[k])  # fmt: skip
        for x in range(2 * H):
            prev[x] = M[0, x] + back[x]
        peak = _max_real(prev, 2 * H)
        for x in range(2 * H):
            prev[x] = np.exp(prev[x] - peak)
        _add_first_row_statistics(prev, order, row0_bond, w, mK[k], mth[k])


@njit(cache=True, nogil=True)
def _enumerate(K, th, edges_i, edges_j, log_z, mK, mth):
    """log Z and the expected statistics over all 2^n states, per row of ``K``, ``th``."""
    n = th.shape[1]
    energies = np.empty(2**n, dtype=K.dtype)
    for r in range(K.shape[0]):
        for x in range(2**n):
            e = 0.0 * K[r, 0]
            for i in range(n):
                e += th[r, i] * _sign((x >> i) & 1)
            for b in range(len(edges_i)):
                e += K[r, b] * _sign((x >> edges_i[b]) & 1) * _sign((x >> edges_j[b]) & 1)
            energies[x] = e
        peak = _max_real(energies, 2**n)
        total = 0.0 * peak
        for x in range(2**n):
            energies[x] = np.exp(energies[x] - peak)
            total += energies[x]
        for x in range(2**n):
            p = energies[x] / total
            if p.real == 0.0:
                continue
            for i in range(n):
                mth[r, i] += p * _sign((x >> i) & 1)
            for b in range(len(edges_i)):
                mK[r, b] += p * _sign((x >> edges_i[b]) & 1) * _sign((x >> edges_j[b]) & 1)
        log_z[r] = peak + np.log(total)


# ---------------------------------------------------------------------------------------------
# the drivers
# ---------------------------------------------------------------------------------------------
def _linear_is_exact(K: np.ndarray, th: np.ndarray, w: int) -> bool:
    """Whether scaled linear space is exact to rounding (see the module notes)."""
    sigma = np.max(np.abs(K.real), initial=0.0)
    tau = np.max(np.abs(th.real), initial=0.0)
    return bool(2.0 * ((w + 2) * sigma + 2.0 * tau) < _LINEAR_SAFE)


def _message_bytes(plan: SweepPlan, itemsize: int = 8) -> int:
    """Bytes of one sweep's forward messages (the backward ones of a full covariance as many)."""
    return (plan.n_spins - plan.width + 1) * 2**plan.width * itemsize


def _sweep_rows(plan: SweepPlan, K: np.ndarray, th: np.ndarray, rows: np.ndarray):
    """``(log Z_b (m,), <s_i s_j>_b (m, E), <s_i>_b (m, n))`` with the first row fixed to each
    of ``rows`` (``-1``: free), swept in chunks of as many rows as fit in :data:`_CHUNK_BYTES`
    of forward messages (one row at least)."""
    order, row0_bond, above, left, wrap, closing = plan.arrays()[:6]
    w, T = plan.width, plan.n_spins - plan.width
    chunk = int(max(1, min(len(rows), _CHUNK_BYTES // _message_bytes(plan, K.itemsize))))
    msg = np.empty((chunk, T + 1, 2**w), dtype=K.dtype)
    E = np.empty((chunk, T, 16), dtype=K.dtype)
    log_z = np.empty(len(rows), dtype=K.dtype)
    mK = np.zeros((len(rows), len(K)), dtype=K.dtype)
    mth = np.zeros((len(rows), len(th)), dtype=K.dtype)
    linear = _linear_is_exact(K, th, w)
    forward = _forward_linear if linear else _forward_log
    backward = _backward_linear if linear else _backward_log
    for start in range(0, len(rows), chunk):
        part = slice(start, min(start + chunk, len(rows)))
        fixed = rows[part]
        m = len(fixed)
        _first_rows(K, th, order, row0_bond, w, fixed, msg[:m])
        _step_exponents(K, th, order, above, left, wrap, closing, w, fixed, E[:m])
        forward(E[:m], w, msg[:m], log_z[part])
        backward(E[:m], w, msg[:m], order, row0_bond, above, left, wrap, closing, fixed,
                 mK[part], mth[part])  # fmt: skip
    return log_z, mK, mth


def _in_threads(function, blocks: list) -> list:
    """``[function(b) for b in blocks]``, one thread per block (the kernels release the GIL)."""
    results: list = [None] * len(blocks)
    errors: list = []

    def run(i):
        try:
            results[i] = function(blocks[i])
        except BaseException as error:  # re-raised in the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(blocks))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@functools.lru_cache(maxsize=64)
def _first_rows_of(plan: SweepPlan, symmetric: bool) -> np.ndarray:
    """The first rows a trace sums over (half of them when h = 0); ``[-1]`` without a trace."""
    if not plan.trace:
        return np.array([-1])
    return np.arange(2 ** (plan.width - 1) if symmetric else 2**plan.width)


def _transfer(plan: SweepPlan, K: np.ndarray, th: np.ndarray, workers: int):
    """log Z and the expected statistics of one parameter set by the transfer matrix."""
    symmetric = plan.trace and not th.any()  # h = 0: the first rows b and -b contribute equally
    rows = _first_rows_of(plan, symmetric)
    if workers > 1 and len(rows) > 1:
        parts = _in_threads(
            lambda block: _sweep_rows(plan, K, th, block),
            np.array_split(rows, min(workers, len(rows))),
        )
        log_zb, mK, mth = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:
        log_zb, mK, mth = _sweep_rows(plan, K, th, rows)
    if not plan.trace:
        return log_zb[0], mK[0], mth[0]
    peak = log_zb[np.argmax(log_zb.real)]
    weights = np.exp(log_zb - peak)
    total = weights.sum()
    log_z = peak + np.log(total)
    if symmetric:
        return log_z + np.log(2.0), weights @ mK / total, np.zeros_like(th)
    return log_z, weights @ mK / total, weights @ mth / total


def _work(plan: SweepPlan, n_rows: int) -> int:
    """State updates of ``n_rows`` parameter sets (the scale of a sweep's run time)."""
    if plan.kind == "enumerate":
        return n_rows * 2**plan.n_spins * (plan.n_spins + plan.n_edges)
    first_rows = 2**plan.width if plan.trace else 1
    return n_rows * first_rows * (plan.n_spins + 1) * 2**plan.width


def evaluate(plan: SweepPlan, K: np.ndarray, th: np.ndarray):
    """``(log Z, <s_i s_j>, <s_i>)`` of a batch ``K (B, E)``, ``th (B, n)``, float or complex.

    Sweeps with at least :data:`_PARALLEL_WORK` state updates run on all available cores: the
    batch's rows are split between threads, or a single trace's first rows are.
    """
    dtype = np.result_type(K, th, np.float64)
    K = np.ascontiguousarray(K, dtype=dtype)
    th = np.ascontiguousarray(th, dtype=dtype)
    if plan.n_edges == 0:  # a kernel needs one coupling to take its dtype from
        K = np.zeros((K.shape[0], 1), dtype=dtype)
    log_z = np.empty(K.shape[0], dtype=dtype)
    mK, mth = np.zeros(K.shape, dtype=dtype), np.zeros(th.shape, dtype=dtype)
    if K.shape[0] == 0:
        return log_z, mK[:, : plan.n_edges], mth
    # each thread holds at least one row's forward messages: threads only for small rows
    small = _message_bytes(plan, K.itemsize) <= _CHUNK_BYTES
    big = _work(plan, K.shape[0]) >= _PARALLEL_WORK
    workers = _WORKERS if big and (small or plan.kind == "enumerate") else 1
    row_workers = min(workers, K.shape[0])
    edges_i, edges_j = plan.arrays()[6:]

    def sweep(rows):
        if plan.kind == "enumerate":
            _enumerate(K[rows], th[rows], edges_i, edges_j, log_z[rows], mK[rows], mth[rows])
            return
        for r in range(rows.start, rows.stop):
            log_z[r], mK[r], mth[r] = _transfer(plan, K[r], th[r], workers // row_workers)

    if row_workers == 1:
        sweep(slice(0, K.shape[0]))
    else:
        bounds = np.linspace(0, K.shape[0], row_workers + 1).astype(int)
        _in_threads(sweep, [slice(a, b) for a, b in itertools.pairwise(bounds)])
    return log_z, mK[:, : plan.n_edges], mth


@functools.lru_cache(maxsize=4)
def _statistic_layout(plan: SweepPlan):
    """Where an open sweep introduces each of its ``E + n`` statistics (bonds, then sites):
    the arguments ``position, signs, step_stats, row_signs, row_stats`` of
    :func:`_second_moments`."""
    order, row0_bond, above, left, wrap, _ = plan.arrays()[:6]
    E, n, w = plan.n_edges, plan.n_spins, plan.width
    position = np.full(E + n, np.iinfo(np.int64).min)
    signs = np.zeros((E + n, 16))
    bit = np.arange(16)[None, :] >> np.array([0, 3, 2, 1])[:, None] & 1
    new, top, lft, wrp = 2.0 * bit - 1.0  # the spins of a bin (new, above, left, wrap)
    step_stats = np.stack([E + order[w:], above, left, wrap], axis=1)
    for t, row in enumerate(step_stats):
        for index, values in zip(row, (new, new * top, new * lft, new * wrp), strict=True):
            if index >= 0:
                position[index], signs[index] = t, values
    states = np.arange(2**w)
    column = 2.0 * ((states[None, :] >> (w - 1 - np.arange(w))[:, None]) & 1) - 1.0
    row_stats = [E + order[c] for c in range(w)]
    row_signs = list(column)
    for c in np.flatnonzero(row0_bond >= 0):
        row_stats.append(row0_bond[c])
        row_signs.append(column[c] * column[(c + 1) % w])
    position[row_stats] = -1 - np.arange(len(row_stats))
    assert position.min() > np.iinfo(np.int64).min, "a statistic no step introduces"
    return position, signs, step_stats, np.array(row_signs), np.array(row_stats)


def _full_covariance_fits(plan: SweepPlan, K: np.ndarray, th: np.ndarray) -> bool:
    """Whether :func:`_full_covariance` applies: an open transfer-matrix sweep in linear space
    whose forward and backward messages take at most :data:`_COVARIANCE_BYTES`."""
    return (
        plan.kind == "transfer_matrix"
        and not plan.trace
        and plan.n_edges > 0
        and np.isrealobj(K)
        and _linear_is_exact(K, th, plan.width)
        and 2 * _message_bytes(plan) <= _COVARIANCE_BYTES
    )


def _full_covariance(plan: SweepPlan, K: np.ndarray, th: np.ndarray) -> np.ndarray:
    """``Cov[T]`` ``(E + n, E + n)`` of one open sweep, exactly: the means from the bins, then
    the second moments of the centred statistics by forward propagation of each
    (:func:`_second_moments`, sources split over the cores), about a tenth of a complex-step
    sweep per statistic."""
    order, row0_bond, above, left, wrap, closing = plan.arrays()[:6]
    w, T = plan.width, plan.n_spins - plan.width
    free = np.array([-1])
    msg, E = np.empty((1, T + 1, 2**w)), np.empty((1, T, 16))
    _first_rows(K, th, order, row0_bond, w, free, msg)
    _step_exponents(K, th, order, above, left, wrap, closing, w, free, E)
    _forward_linear(E, w, msg, np.empty(1))
    W = np.exp(E[0] - E[0].max(axis=1, keepdims=True))
    backs, bins = np.empty((T + 1, 2**w)), np.empty((T, 16))
    _backward_messages(W, w, msg[0], backs, bins)
    position, signs, step_stats, row_signs, row_stats = _statistic_layout(plan)
    D = len(position)
    first_row = position < 0
    steps = ~first_row
    mean = np.empty(D)
    totals = bins.sum(axis=1)
    mean[steps] = (
        np.einsum("ci,ci->c", bins[position[steps]], signs[steps]) / totals[position[steps]]
    )
    first = msg[0, 0] * backs[0]
    mean[row_stats] = row_signs @ first / first.sum()
    # centred statistics: a variance of 1e-9 is not the difference of two numbers near 1
    centred = signs - mean[:, None]
    row_centred = row_signs - mean[row_stats][:, None]
    cov = np.zeros((D, D))
    sources = np.argsort(position, kind="stable")  # early sources cost most: deal them out
    workers = _WORKERS if D * T * 2**w >= _PARALLEL_WORK else 1
    args = (msg[0], backs, W, bins, w, position, centred, step_stats, row_centred, row_stats)
    _in_threads(
        lambda block: _second_moments(*args, block, cov),
        [sources[i::workers] for i in range(workers)],
    )
    filled = (position[None, :] >= position[:, None]) | (first_row[:, None] & first_row[None, :])
    return np.where(filled, cov, cov.T)


def _same_rows(x: np.ndarray) -> bool:
    return bool(np.all(x == x[:1]))


def covariance_product(plan: SweepPlan, K, th, gK, gth):
    """``Cov[T] g`` per batch element: the directional derivative of the expected statistics.

    Many directions at one parameter set (a Fisher information, a Jacobian of the mean
    parameters) multiply the full covariance of an open sweep (:func:`_full_covariance`);
    otherwise each direction is a complex-step sweep.
    """
    D = plan.n_edges + plan.n_spins
    if (
        16 * len(gK) >= D
        and _same_rows(K)
        and _same_rows(th)
        and _full_covariance_fits(plan, K[0], th[0])
    ):
        product = np.concatenate([gK, gth], axis=1) @ _full_covariance(plan, K[0], th[0])
        return product[:, : plan.n_edges], product[:, plan.n_edges :]
    _, mK, mth = evaluate(plan, K + 1j * _STEP * gK, th + 1j * _STEP * gth)
    return mK.imag / _STEP, mth.imag / _STEP


# ---------------------------------------------------------------------------------------------
# the Ops
# ---------------------------------------------------------------------------------------------
class _SweepOp(Op):
    """Inputs ``K (..., E)`` and ``theta (..., n)`` (float64), and for the covariance product
    the direction ``(gK (..., E), gtheta (..., n))``; their batch dimensions broadcast where the
    graph says they do, and a last axis of 1 is one value for every bond or site. The batch and
    the spreading are done inside the Op, so a model's graph holds no reshapes or allocations
    around it (each costs seconds of Numba compilation)."""

    __props__ = ("plan",)

    def __init__(self, plan: SweepPlan):
        self.plan = plan

    def _inputs(self, *inputs):
        inputs = [pt.cast(pt.as_tensor_variable(x), "float64") for x in inputs]
        if inputs[0].ndim < 1 or any(x.ndim != inputs[0].ndim for x in inputs):
            raise ValueError(
                "the Ising sweep takes K (..., E) and theta (..., n) with as many batch "
                f"dimensions; got ndims {[x.ndim for x in inputs]}"
            )
        cores = [self.plan.n_edges, self.plan.n_spins] * (len(inputs) // 2)
        for x, core, name in zip(inputs, cores, _INPUT_NAMES, strict=False):
            _check_core_length(x.type.shape[-1], core, name)
        return inputs

    @staticmethod
    def _check_broadcast(node, inputs) -> None:
        """Batch dimensions of size 1 broadcast only where the graph says they may: gradients
        are summed over those alone."""
        batch = np.broadcast_shapes(*(x.shape[:-1] for x in inputs))
        for j, (var, x) in enumerate(zip(node.inputs, inputs, strict=True)):
            for i, (size, target) in enumerate(zip(x.shape[:-1], batch, strict=True)):
                if size != target and not var.type.broadcastable[i]:
                    raise ValueError(
                        f"Ising sweep input {j} has batch dimension {i} of size {size} where "
                        f"the batch has {target}; broadcasting it at run time is not supported: "
                        "give it a broadcastable dimension (a static shape of 1)."
                    )

    @staticmethod
    def _batch_shape(inputs) -> tuple:
        """The static batch shape the inputs broadcast to."""
        shape = []
        for dims in zip(*(x.type.shape[:-1] for x in inputs), strict=True):
            known = [d for d in dims if d not in (None, 1)]
            shape.append(known[0] if known else (None if None in dims else 1))
        return tuple(shape)


def _summed_to(x, grad):
    """``grad`` summed over the dimensions along which ``x`` was broadcast: batch dimensions,
    and the last one for a uniform coupling or field."""
    axes = [i for i, b in enumerate(x.type.broadcastable) if b]
    return grad.sum(axis=axes, keepdims=True) if axes else grad


@_vectorize_node.register(_SweepOp)
def _vectorize_sweep(op, node, *batched_inputs):
    # new leading batch dimensions are batch dimensions of the Op itself: one call sweeps
    # them all (in threads), where a Blockwise loop would call it once per element
    ndim = max(x.ndim for x in batched_inputs)
    return op.make_node(*(pt.shape_padleft(x, ndim - x.ndim) for x in batched_inputs))


_INPUT_NAMES = ("couplings K = beta J", "fields theta = beta h", "direction gK", "direction gtheta")


def _check_core_length(length, core: int, name: str) -> None:
    if length is not None and length not in (1, core):
        raise ValueError(
            f"the Ising sweep got {length} {name} on the last axis; the structure has {core} "
            "(or give 1, one value for all)"
        )


def _batched(function, plan: SweepPlan, *arrays):
    """``function(plan, *rows)`` on ``(K, theta, ...)`` pairs flattened to rows of their common
    batch shape (a uniform coupling or field, a last axis of 1, spread over every bond or
    site), with the results given that batch shape back."""
    cores = [plan.n_edges, plan.n_spins] * (len(arrays) // 2)
    for x, core, name in zip(arrays, cores, _INPUT_NAMES, strict=False):
        _check_core_length(x.shape[-1], core, name)
    batch = np.broadcast_shapes(*(x.shape[:-1] for x in arrays))
    size = int(np.prod(batch))  # not -1: a graph may have no bonds
    rows = [
        np.broadcast_to(x, (*batch, core)).reshape(size, core)
        for x, core in zip(arrays, cores, strict=True)
    ]
    return [r.reshape(batch + r.shape[1:]) for r in function(plan, *rows)]


class IsingLogZ(_SweepOp):
    """``(log Z (...), <s_i s_j> (..., E), <s_i> (..., n))`` per batch element of
    ``(K, theta)``: one sweep gives the value and its gradient, the expected statistics, so a
    log density and its gradient cost one sweep. The gradient of the statistics is
    :class:`IsingCovarianceProduct`.
    """

    def make_node(self, K, th):
        K, th = self._inputs(K, th)
        batch = self._batch_shape([K, th])
        outputs = [
            pt.tensor(dtype="float64", shape=batch),
            pt.tensor(dtype="float64", shape=(*batch, self.plan.n_edges)),
            pt.tensor(dtype="float64", shape=(*batch, self.plan.n_spins)),
        ]
        return Apply(self, [K, th], outputs)

    def perform(self, node, inputs, outputs):
        self._check_broadcast(node, inputs)
        for storage, value in zip(outputs, _batched(evaluate, self.plan, *inputs), strict=True):
            storage[0] = value

    def infer_shape(self, node, shapes):
        batch = pt.broadcast_shape(*(shape[:-1] for shape in shapes), arrays_are_shapes=True)
        return [batch, (*batch, self.plan.n_edges), (*batch, self.plan.n_spins)]

    def pullback(self, inputs, outputs, output_grads):
        _, mK, mth = outputs
        g, gK, gth = output_grads
        grads = [pt.zeros_like(inputs[0]), pt.zeros_like(inputs[1])]
        if not isinstance(g.type, DisconnectedType):
            grads = [grads[0] + g[..., None] * mK, grads[1] + g[..., None] * mth]
        if not (isinstance(gK.type, DisconnectedType) and isinstance(gth.type, DisconnectedType)):
            gK = pt.zeros_like(mK) if isinstance(gK.type, DisconnectedType) else gK
            gth = pt.zeros_like(mth) if isinstance(gth.type, DisconnectedType) else gth
            hK, hth = IsingCovarianceProduct(self.plan)(*inputs, gK, gth)
            grads = [grads[0] + hK, grads[1] + hth]
        return [_summed_to(x, g) for x, g in zip(inputs, grads, strict=True)]


class IsingCovarianceProduct(_SweepOp):
    """``Cov[T] g`` per batch element, for a direction ``g = (gK, gtheta)``: a Hessian-vector
    product of ``log Z``. Third derivatives are not provided."""

    def make_node(self, K, th, gK, gth):
        inputs = self._inputs(K, th, gK, gth)
        batch = self._batch_shape(inputs)
        outputs = [
            pt.tensor(dtype="float64", shape=(*batch, core))
            for core in (self.plan.n_edges, self.plan.n_spins)
        ]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        self._check_broadcast(node, inputs)
        hK, hth = _batched(covariance_product, self.plan, *inputs)
        outputs[0][0], outputs[1][0] = hK, hth

    def infer_shape(self, node, shapes):
        batch = pt.broadcast_shape(*(shape[:-1] for shape in shapes), arrays_are_shapes=True)
        return [(*batch, self.plan.n_edges), (*batch, self.plan.n_spins)]

    def pullback(self, inputs, outputs, output_grads):
        return [
            grad_not_implemented(self, i, x, "third derivatives of the exact Ising log Z")
            for i, x in enumerate(inputs)
        ]


def log_partition(plan: SweepPlan, K, th):
    """Symbolic ``log Z`` with the batch shape of ``K (..., E)`` and ``theta (..., n)`` (which
    share their batch shape)."""
    return IsingLogZ(plan)(K, th)[0]


# ---------------------------------------------------------------------------------------------
# backends: Numba calls the kernels directly; JAX gets the same sweep written with jax.lax
# ---------------------------------------------------------------------------------------------
# The Numba implementations call the cached kernels through object mode. Linking the kernels
# into every graph's compiled function instead re-optimises them with it: 3.7 s per compiled
# PyTensor function (measured on a 4 x 4 lattice), against a few microseconds per call here.
def _contiguous(arrays):
    return [np.ascontiguousarray(x) for x in arrays]


def _numba_types(node):
    """Object mode's output types: C-contiguous float64 arrays of the outputs' ndims."""
    return [numba.types.Array(numba.float64, out.ndim, "C") for out in node.outputs]


@numba_funcify.register(IsingLogZ)
def _numba_log_z(op, node, **kwargs):
    plan = op.plan
    type0, type1, type2 = _numba_types(node)

    @numba_njit
    def sweep(K, th):
        with numba.objmode(out0=type0, out1=type1, out2=type2):
            _SweepOp._check_broadcast(node, [K, th])
            out0, out1, out2 = _contiguous(_batched(evaluate, plan, K, th))
        return out0, out1, out2

    return sweep


@numba_funcify.register(IsingCovarianceProduct)
def _numba_covariance_product(op, node, **kwargs):
    plan = op.plan
    type0, type1 = _numba_types(node)

    @numba_njit
    def product(K, th, gK, gth):
        with numba.objmode(out0=type0, out1=type1):
            _SweepOp._check_broadcast(node, [K, th, gK, gth])
            out0, out1 = _contiguous(_batched(covariance_product, plan, K, th, gK, gth))
        return out0, out1

    return product


def _jax_log_z_function(plan: SweepPlan):
    """``log Z(K, theta)`` of one parameter set in ``jax.numpy`` (log space, ``lax.scan``)."""
    import jax
    import jax.numpy as jnp

    order, row0_bond, above, left, wrap, closing, edges_i, edges_j = plan.arrays()
    if plan.kind == "enumerate":
        n = plan.n_spins
        S = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
        pairs = S[:, edges_i] * S[:, edges_j]
        return lambda K, th: jax.scipy.special.logsumexp(S @ th + pairs @ K)

    w, n = plan.width, plan.n_spins
    H = 2 ** (w - 1)
    T = n - w
    states = np.arange(2**w)
    row_signs = ((states[:, None] >> (w - 1 - np.arange(w))) & 1) * 2.0 - 1.0  # (2^w, w)
    rest = np.arange(H)
    s_left = (rest & 1) * 2.0 - 1.0
    s_wrap = ((rest >> max(w - 2, 0)) & 1) * 2.0 - 1.0 if w >= 2 else -np.ones(H)
    last_row = np.arange(n - w, n) - w  # the steps that add the last row

    def coupling(K, bonds):
        return jnp.where(bonds >= 0, K[np.maximum(bonds, 0)], 0.0)

    def first_row(K, th):
        right = np.roll(row_signs, -1, axis=1)
        return row_signs @ th[order[:w]] + (row_signs * right) @ coupling(K, row0_bond)

    def sweep(K, th, start, extra_field):
        ka, kl, kw = coupling(K, above), coupling(K, left), coupling(K, wrap)
        field = th[order[w:]] + extra_field

        def step(state, params):
            a, lft, wr, f = params
            local_down = -a + lft * s_left + wr * s_wrap + f  # the spin above is -1
            local_up = a + lft * s_left + wr * s_wrap + f
            down, up = state[:H], state[H:]
            new = jnp.stack(
                [
                    jnp.logaddexp(down - local_down, up - local_up),
                    jnp.logaddexp(down + local_down, up + local_up),
                ],
                axis=-1,
            ).reshape(2 * H)
            return new, None

        final, _ = jax.lax.scan(step, start, (ka, kl, kw, field))
        return jax.scipy.special.logsumexp(final)

    def log_z(K, th):
        first = first_row(K, th)
        if not plan.trace or T == 0:
            return sweep(K, th, first, jnp.zeros(T))

        def fixed(b):
            # a finite "log 0": gradients of logaddexp at -inf, -inf are NaN
            start = jnp.where(states == b, first, -1e300)
            extra = jnp.zeros(T).at[last_row].set(coupling(K, closing) * jnp.asarray(row_signs)[b])
            return sweep(K, th, start, extra)

        return jax.scipy.special.logsumexp(jax.vmap(fixed)(states))

    return log_z


def _register_jax(dispatch) -> None:
    import jax
    import jax.numpy as jnp

    def spread(plan, vectorised):
        # a uniform coupling or field (a last axis of 1) over every bond or site, as in Numba
        def call(*arrays):
            cores = [plan.n_edges, plan.n_spins] * (len(arrays) // 2)
            pairs = zip(arrays, cores, strict=True)
            return vectorised(*(jnp.broadcast_to(x, (*x.shape[:-1], c)) for x, c in pairs))

        return call

    @dispatch.jax_funcify.register(IsingLogZ)
    def _jax_log_z(op, node=None, **kwargs):
        value_and_grad = jax.value_and_grad(_jax_log_z_function(op.plan), argnums=(0, 1))

        def sweep(K, th):
            log_z, (mK, mth) = value_and_grad(K, th)
            return log_z, mK, mth

        return spread(op.plan, jnp.vectorize(sweep, signature="(e),(n)->(),(e),(n)"))

    @dispatch.jax_funcify.register(IsingCovarianceProduct)
    def _jax_covariance_product(op, node=None, **kwargs):
        means = jax.grad(_jax_log_z_function(op.plan), argnums=(0, 1))

        def product(K, th, gK, gth):
            return jax.jvp(means, (K, th), (gK, gth))[1]

        return spread(op.plan, jnp.vectorize(product, signature="(e),(n),(e),(n)->(e),(n)"))


# Registered when PyTensor loads its JAX backend, so JAX stays optional.
when_imported(JAX_DISPATCH, _register_jax)
