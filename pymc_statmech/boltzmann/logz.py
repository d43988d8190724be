r"""Exact :math:`\log Z` of Ising models and its derivatives as compiled kernels behind small Ops.

The gradient of :math:`A(\eta) = \log Z` in the natural parameters
:math:`\eta = (K, \theta) = (\beta J, \beta h)` is the vector of expected statistics
:math:`(\langle s_i s_j \rangle_e, \langle s_i \rangle_i)` and its Hessian their covariance.
One forward-backward sweep gives the value and all the expected statistics exactly, so a model's
log density needs three small Ops instead of a large ``scan`` graph that every new model would
recompile:

* :class:`IsingLogZ` ``(K, theta) -> log Z``, whose gradient is
* :class:`IsingMeans` ``(K, theta) -> (<s_i s_j>, <s_i>)``, whose gradient (the
  Hessian-vector product :math:`\mathrm{Cov}[T]\,g`) is
* :class:`IsingCovarianceProduct` ``(K, theta, g) -> Cov[T] g``, by complex-step
  differentiation of the same kernel: :math:`\mathrm{Im}\,m(\eta + i\epsilon g)/\epsilon` with
  :math:`\epsilon = 10^{-30}` is the exact directional derivative to rounding (no difference of
  nearby numbers is taken).

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

Scaled linear space (``exp`` of log-messages shifted by their maximum, renormalised every site)
is used for a transfer-matrix sweep when the largest couplings cannot make a discarded
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

from typing import NamedTuple

import numpy as np
import pytensor.tensor as pt
from numba import njit, prange
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import numba_funcify
from pytensor.link.numba.dispatch.basic import numba_njit

from pymc_statmech._backends import JAX_DISPATCH, when_imported
from pymc_statmech.boltzmann.lattice import IsingStructure

__all__ = [
    "IsingCovarianceProduct",
    "IsingLogZ",
    "IsingMeans",
    "SweepPlan",
    "enumeration_plan",
    "transfer_plan",
]

#: Complex step: small enough that every second-order term is below rounding.
_STEP = 1e-30
#: Linear space is used while 2 * (the largest |K| and |theta| sum a message crosses) is below
#: this: discarded terms are then below e^{-708 + 300} of the total.
_LINEAR_SAFE = 300.0


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
        return tuple(
            np.asarray(getattr(self, name), dtype=np.int64)
            for name in (
                "order", "row0_bond", "above", "left", "wrap", "closing", "edges_i", "edges_j"
            )
        )  # fmt: skip

    def bytes_per_sweep(self) -> float:
        """Peak memory of one sweep (the stored forward messages), complex for the Hessian."""
        if self.kind == "enumerate":
            return 16.0 * (self.n_edges + self.n_spins)
        return 16.0 * 2**self.width * (self.n_spins - self.width + 2)


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
# comparison is on real parts, so the complex step rides along
# ---------------------------------------------------------------------------------------------
@njit(inline="always")
def _log_add(a, b):
    """log(e^a + e^b)."""
    if a.real < b.real:
        a, b = b, a
    if b.real == -np.inf:
        return a
    return a + np.log1p(np.exp(b - a))


@njit(inline="always")
def _coupling(K, bond):
    return K[bond] if bond >= 0 else 0.0 * K[0]


@njit(inline="always")
def _sign(bit):
    return 2.0 * bit - 1.0


@njit(inline="always")
def _bits(rest, w):
    """The left neighbour (bit 0) and the row's first spin (bit w - 2) of a register."""
    return rest & 1, ((rest >> (w - 2)) & 1) if w >= 2 else 0


@njit(inline="always")
def _argmax_real(v):
    best = 0
    for x in range(1, len(v)):
        if v[x].real > v[best].real:
            best = x
    return best


@njit(cache=True)
def _row0_log_weights(K, th, order, row0_bond, w):
    """Log-weights of the 2^w first-row states: fields and in-row bonds. Column c is bit
    w - 1 - c of the state (bit set: +1)."""
    out = np.empty(2**w, dtype=K.dtype)
    for x in range(2**w):
        total = 0.0 * K[0]
        for c in range(w):
            s = _sign((x >> (w - 1 - c)) & 1)
            total += th[order[c]] * s
            bond = row0_bond[c]
            if bond >= 0:
                total += K[bond] * s * _sign((x >> (w - 1 - (c + 1) % w)) & 1)
        out[x] = total
    return out


@njit(cache=True)
def _step_exponents(K, th, k, order, above, left, wrap, closing, w, fixed):
    """Exponents s_new (K_above s_top + K_left s_left + K_wrap s_wrap + theta) of the step that
    adds site ``order[k]`` (k >= w), indexed [top, left, wrap, new]; with the first row fixed
    to ``fixed`` (>= 0), the bonds closing onto it add fields to the last row."""
    t = k - w
    ka, kl, kw = _coupling(K, above[t]), _coupling(K, left[t]), _coupling(K, wrap[t])
    field = th[order[k]]
    last_row = len(order) - w
    if fixed >= 0 and k >= last_row:
        c = k - last_row
        field = field + _coupling(K, closing[c]) * _sign((fixed >> (w - 1 - c)) & 1)
    E = np.empty((2, 2, 2, 2), dtype=K.dtype)
    for top in range(2):
        for sl in range(2):
            for sw in range(2):
                local = ka * _sign(top) + kl * _sign(sl) + kw * _sign(sw) + field
                E[top, sl, sw, 0] = -local
                E[top, sl, sw, 1] = local
    return E


@njit(cache=True)
def _sweep(K, th, order, row0_bond, above, left, wrap, closing, w, fixed, linear, mK, mth):
    """One exact sweep: returns log Z (of the first row fixed to ``fixed`` when >= 0) and adds
    the expected statistics (conditional on the fixed row) to ``mK`` and ``mth``.

    Messages before step t are stored: in linear space as mantissas with a log scale per step
    (``linear``), else as logs. The backward message is carried from the last step to the first
    and combined with the stored forward ones into the marginals of each step's statistics.
    """
    n, H = len(order), 2 ** (w - 1)
    T = n - w
    msg = np.empty((T + 1, 2 * H), dtype=K.dtype)
    scale = np.zeros(T + 1, dtype=K.dtype)
    first = _row0_log_weights(K, th, order, row0_bond, w)
    if fixed >= 0:
        for x in range(2 * H):
            if x != fixed:
                first[x] = -np.inf
    if linear:
        scale[0] = first[_argmax_real(first)]
        msg[0] = np.exp(first - scale[0])
    else:
        msg[0] = first
    Es = np.empty((max(T, 1), 2, 2, 2, 2), dtype=K.dtype)
    shifts = np.zeros(max(T, 1), dtype=K.dtype)
    for t in range(T):
        Es[t] = _step_exponents(K, th, t + w, order, above, left, wrap, closing, w, fixed)
        state, new = msg[t], msg[t + 1]
        if linear:
            flat = Es[t].ravel()
            shifts[t] = flat[_argmax_real(flat)]
            W = np.exp(Es[t] - shifts[t])
            for rest in range(H):
                sl, sw = _bits(rest, w)
                a0, a1 = state[rest], state[H + rest]
                new[2 * rest] = a0 * W[0, sl, sw, 0] + a1 * W[1, sl, sw, 0]
                new[2 * rest + 1] = a0 * W[0, sl, sw, 1] + a1 * W[1, sl, sw, 1]
            top = new[_argmax_real(new)]
            msg[t + 1] = new / top
            scale[t + 1] = scale[t] + shifts[t] + np.log(top)
        else:
            for rest in range(H):
                sl, sw = _bits(rest, w)
                for b in range(2):
                    new[2 * rest + b] = _log_add(
                        state[rest] + Es[t, 0, sl, sw, b], state[H + rest] + Es[t, 1, sl, sw, b]
                    )
    last = msg[T]
    if linear:
        log_z = scale[T] + np.log(np.sum(last))
    else:
        top = last[_argmax_real(last)]
        log_z = top + np.log(np.sum(np.exp(last - top)))

    # Backward: after step t, back[y] is the (scaled) weight of everything after it given the
    # register y; the joint of step t's (x, new spin) is msg[t][x] W back[y] / Z.
    back = np.zeros(2 * H, dtype=K.dtype) if not linear else np.ones(2 * H, dtype=K.dtype)
    prev = np.empty(2 * H, dtype=K.dtype)
    joint = np.empty((2, H, 2), dtype=K.dtype)
    for t in range(T - 1, -1, -1):
        state = msg[t]
        if linear:
            W = np.exp(Es[t] - shifts[t])
            for rest in range(H):
                sl, sw = _bits(rest, w)
                for top in range(2):
                    for b in range(2):
                        joint[top, rest, b] = (
                            state[top * H + rest] * W[top, sl, sw, b] * back[2 * rest + b]
                        )
            total = np.sum(joint)
            joint /= total
        else:
            for rest in range(H):
                sl, sw = _bits(rest, w)
                for top in range(2):
                    for b in range(2):
                        joint[top, rest, b] = (
                            state[top * H + rest] + Es[t, top, sl, sw, b] + back[2 * rest + b]
                        )
            flat = joint.ravel()
            peak = flat[_argmax_real(flat)]
            for i in range(flat.size):
                flat[i] = np.exp(flat[i] - peak)
            joint /= np.sum(joint)
        _add_step_statistics(joint, t, w, order, above, left, wrap, closing, fixed, mK, mth)
        # back before step t: sum over the new spin
        for rest in range(H):
            sl, sw = _bits(rest, w)
            for top in range(2):
                if linear:
                    v = W[top, sl, sw, 0] * back[2 * rest] + W[top, sl, sw, 1] * back[2 * rest + 1]
                else:
                    v = _log_add(
                        Es[t, top, sl, sw, 0] + back[2 * rest],
                        Es[t, top, sl, sw, 1] + back[2 * rest + 1],
                    )
                prev[top * H + rest] = v
        if linear:
            prev /= prev[_argmax_real(prev)]
        back, prev = prev, back
    # the first row's statistics
    p = np.empty(2 * H, dtype=K.dtype)
    if linear:
        p[:] = msg[0] * back
    else:
        p[:] = msg[0] + back
        peak = p[_argmax_real(p)]
        p[:] = np.exp(p - peak)
    p /= np.sum(p)
    for x in range(2 * H):
        if p[x].real == 0.0:
            continue
        for c in range(w):
            s = _sign((x >> (w - 1 - c)) & 1)
            mth[order[c]] += p[x] * s
            bond = row0_bond[c]
            if bond >= 0:
                mK[bond] += p[x] * s * _sign((x >> (w - 1 - (c + 1) % w)) & 1)
    return log_z


@njit(cache=True)
def _add_step_statistics(joint, t, w, order, above, left, wrap, closing, fixed, mK, mth):
    """Expected statistics of step t from its normalised joint [top, rest, new]."""
    H = joint.shape[1]
    k = t + w
    last_row = len(order) - w
    s_above = s_left = s_wrap = s_new = 0.0 * joint[0, 0, 0]
    for top in range(2):
        for rest in range(H):
            sl, sw = _bits(rest, w)
            for b in range(2):
                q = joint[top, rest, b] * _sign(b)
                s_new += q
                s_above += q * _sign(top)
                s_left += q * _sign(sl)
                s_wrap += q * _sign(sw)
    mth[order[k]] += s_new
    if above[t] >= 0:
        mK[above[t]] += s_above
    if left[t] >= 0:
        mK[left[t]] += s_left
    if wrap[t] >= 0:
        mK[wrap[t]] += s_wrap
    if fixed >= 0 and k >= last_row:
        c = k - last_row
        if closing[c] >= 0:
            mK[closing[c]] += s_new * _sign((fixed >> (w - 1 - c)) & 1)


@njit(cache=True)
def _linear_is_exact(K, th, w):
    """Whether scaled linear space is exact to rounding (see the module notes)."""
    sigma = 0.0
    for v in K:
        sigma = max(sigma, abs(v.real))
    tau = 0.0
    for v in th:
        tau = max(tau, abs(v.real))
    return 2.0 * ((w + 2) * sigma + 2.0 * tau) < 300.0


@njit(cache=True, parallel=True)
def _transfer(K, th, order, row0_bond, above, left, wrap, closing, w, trace, mK, mth):
    """log Z and the expected statistics (added to ``mK``, ``mth``) of one parameter set."""
    linear = _linear_is_exact(K, th, w)
    if not trace:
        return _sweep(K, th, order, row0_bond, above, left, wrap, closing, w, -1, linear, mK, mth)
    symmetric = True  # h = 0: the first rows b and -b contribute equally
    for v in th:
        if v != 0.0:
            symmetric = False
    n_fixed = 2 ** (w - 1) if symmetric else 2**w
    log_zb = np.empty(n_fixed, dtype=K.dtype)
    part_K = np.zeros((n_fixed, len(mK)), dtype=K.dtype)
    part_th = np.zeros((n_fixed, len(mth)), dtype=K.dtype)
    for b in prange(n_fixed):
        log_zb[b] = _sweep(
            K, th, order, row0_bond, above, left, wrap, closing, w, b, linear,
            part_K[b], part_th[b],
        )  # fmt: skip
    peak = log_zb[_argmax_real(log_zb)]
    weight = np.exp(log_zb - peak)
    total = np.sum(weight)
    weight /= total
    for b in range(n_fixed):
        mK += weight[b] * part_K[b]
        if not symmetric:
            mth += weight[b] * part_th[b]
    return peak + np.log(total) + (np.log(2.0) if symmetric else 0.0)


@njit(cache=True)
def _enumerate(K, th, edges_i, edges_j, mK, mth):
    """log Z and the expected statistics over all 2^n states."""
    n = len(th)
    energies = np.empty(2**n, dtype=K.dtype)
    for x in range(2**n):
        e = 0.0 * K[0]
        for i in range(n):
            e += th[i] * _sign((x >> i) & 1)
        for b in range(len(edges_i)):
            e += K[b] * _sign((x >> edges_i[b]) & 1) * _sign((x >> edges_j[b]) & 1)
        energies[x] = e
    peak = energies[_argmax_real(energies)]
    weights = np.exp(energies - peak)
    total = np.sum(weights)
    for x in range(2**n):
        p = weights[x] / total
        if p.real == 0.0:
            continue
        for i in range(n):
            mth[i] += p * _sign((x >> i) & 1)
        for b in range(len(edges_i)):
            mK[b] += p * _sign((x >> edges_i[b]) & 1) * _sign((x >> edges_j[b]) & 1)
    return peak + np.log(total)


@njit(cache=True)
def _batch(kind, K, th, order, row0_bond, above, left, wrap, closing, edges_i, edges_j, w, trace):
    """log Z ``(B,)`` and expected statistics ``(B, E)``, ``(B, n)`` of a batch."""
    B = K.shape[0]
    log_z = np.empty(B, dtype=K.dtype)
    mK = np.zeros(K.shape, dtype=K.dtype)
    mth = np.zeros(th.shape, dtype=K.dtype)
    for i in range(B):
        if kind == 0:
            log_z[i] = _transfer(
                K[i], th[i], order, row0_bond, above, left, wrap, closing, w, trace,
                mK[i], mth[i],
            )  # fmt: skip
        else:
            log_z[i] = _enumerate(K[i], th[i], edges_i, edges_j, mK[i], mth[i])
    return log_z, mK, mth


def evaluate(plan: SweepPlan, K: np.ndarray, th: np.ndarray):
    """``(log Z, <s_i s_j>, <s_i>)`` of a batch ``K (B, E)``, ``th (B, n)``, float or complex."""
    dtype = np.result_type(K, th, np.float64)
    K = np.ascontiguousarray(K, dtype=dtype)
    th = np.ascontiguousarray(th, dtype=dtype)
    if plan.n_edges == 0:  # a kernel needs one coupling to take its dtype from
        K = np.zeros((K.shape[0], 1), dtype=dtype)
    kind = 0 if plan.kind == "transfer_matrix" else 1
    log_z, mK, mth = _batch(kind, K, th, *plan.arrays(), plan.width, plan.trace)
    return log_z, mK[:, : plan.n_edges], mth


def covariance_product(plan: SweepPlan, K, th, gK, gth):
    """``Cov[T] g`` per batch element: the directional derivative of the expected statistics,
    by the complex step."""
    _, mK, mth = evaluate(plan, K + 1j * _STEP * gK, th + 1j * _STEP * gth)
    return mK.imag / _STEP, mth.imag / _STEP


# ---------------------------------------------------------------------------------------------
# the Ops
# ---------------------------------------------------------------------------------------------
class _SweepOp(Op):
    """Inputs ``K (B, E)`` and ``theta (B, n)`` (float64), and for the covariance product the
    direction ``(gK (B, E), gtheta (B, n))``."""

    __props__ = ("plan",)

    def __init__(self, plan: SweepPlan):
        self.plan = plan

    def _inputs(self, *inputs):
        return [pt.as_tensor_variable(x, dtype="float64") for x in inputs]


class IsingLogZ(_SweepOp):
    """``log Z`` ``(B,)`` of each row of ``(K, theta)``; its gradient is :class:`IsingMeans`."""

    def make_node(self, K, th):
        K, th = self._inputs(K, th)
        return Apply(self, [K, th], [pt.vector(dtype="float64")])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = evaluate(self.plan, *inputs)[0]

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0],)]

    def pullback(self, inputs, outputs, output_grads):
        (g,) = output_grads
        mK, mth = IsingMeans(self.plan)(*inputs)
        return [g[:, None] * mK, g[:, None] * mth]


class IsingMeans(_SweepOp):
    """``(<s_i s_j>, <s_i>)`` per row: the gradient of ``log Z`` in ``(K, theta)``; its
    gradient is the covariance of the statistics (:class:`IsingCovarianceProduct`)."""

    def make_node(self, K, th):
        K, th = self._inputs(K, th)
        return Apply(self, [K, th], [pt.matrix(dtype="float64"), pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        _, mK, mth = evaluate(self.plan, *inputs)
        outputs[0][0], outputs[1][0] = mK, mth

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0], shapes[1]]

    def pullback(self, inputs, outputs, output_grads):
        gK, gth = (
            pt.zeros_like(x) if isinstance(g.type, DisconnectedType) else g
            for g, x in zip(output_grads, outputs, strict=True)
        )
        return list(IsingCovarianceProduct(self.plan)(*inputs, gK, gth))


class IsingCovarianceProduct(_SweepOp):
    """``Cov[T] g`` per row, for a direction ``g = (gK, gtheta)``: a Hessian-vector product of
    ``log Z``. Third derivatives are not provided."""

    def make_node(self, K, th, gK, gth):
        inputs = self._inputs(K, th, gK, gth)
        return Apply(self, inputs, [pt.matrix(dtype="float64"), pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        hK, hth = covariance_product(self.plan, *inputs)
        outputs[0][0], outputs[1][0] = hK, hth

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0], shapes[1]]

    def pullback(self, inputs, outputs, output_grads):
        return [
            grad_not_implemented(self, i, x, "third derivatives of the exact Ising log Z")
            for i, x in enumerate(inputs)
        ]


def log_partition(plan: SweepPlan, K, th):
    """Symbolic ``log Z`` with the batch shape of ``K (..., E)`` and ``theta (..., n)`` (which
    share their batch shape)."""
    batch = K.shape[:-1]
    flat_K = K.reshape((-1, plan.n_edges))
    flat_th = th.reshape((-1, plan.n_spins))
    return IsingLogZ(plan)(flat_K, flat_th).reshape(batch)


# ---------------------------------------------------------------------------------------------
# backends: Numba calls the kernels directly; JAX gets the same sweep written with jax.lax
# ---------------------------------------------------------------------------------------------
def _numba_kernel(plan: SweepPlan, complex_step: bool):
    """An njit function ``(K, th, gK, gth) -> (log Z, <s_i s_j>, <s_i>)`` with the plan frozen
    in; with ``complex_step`` it evaluates at ``(K, th) + i eps (gK, gth)``."""
    kind = 0 if plan.kind == "transfer_matrix" else 1
    order, row0_bond, above, left, wrap, closing, edges_i, edges_j = plan.arrays()
    w, trace, n_edges = plan.width, plan.trace, plan.n_edges
    step = 1j * _STEP if complex_step else 0.0

    @numba_njit
    def kernel(K, th, gK, gth):
        Kc, thc = K + step * gK, th + step * gth
        if n_edges == 0:  # the kernels take their dtype from a coupling
            Kc = np.zeros((K.shape[0], 1), dtype=thc.dtype)
        log_z, mK, mth = _batch(
            kind, Kc, thc, order, row0_bond, above, left, wrap, closing, edges_i, edges_j,
            w, trace,
        )  # fmt: skip
        return log_z, np.ascontiguousarray(mK[:, :n_edges]), mth

    return kernel


@numba_funcify.register(IsingLogZ)
def _numba_log_z(op, node=None, **kwargs):
    kernel = _numba_kernel(op.plan, complex_step=False)

    @numba_njit
    def log_z(K, th):
        return kernel(K, th, K, th)[0]

    return log_z


@numba_funcify.register(IsingMeans)
def _numba_means(op, node=None, **kwargs):
    kernel = _numba_kernel(op.plan, complex_step=False)

    @numba_njit
    def means(K, th):
        _, mK, mth = kernel(K, th, K, th)
        return mK, mth

    return means


@numba_funcify.register(IsingCovarianceProduct)
def _numba_covariance_product(op, node=None, **kwargs):
    kernel = _numba_kernel(op.plan, complex_step=True)

    @numba_njit
    def covariance_product(K, th, gK, gth):
        _, mK, mth = kernel(K, th, gK, gth)
        return np.ascontiguousarray(mK.imag) / _STEP, np.ascontiguousarray(mth.imag) / _STEP

    return covariance_product


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

    @dispatch.jax_funcify.register(IsingLogZ)
    def _jax_log_z(op, node=None, **kwargs):
        return jax.vmap(_jax_log_z_function(op.plan))

    @dispatch.jax_funcify.register(IsingMeans)
    def _jax_means(op, node=None, **kwargs):
        return jax.vmap(jax.grad(_jax_log_z_function(op.plan), argnums=(0, 1)))

    @dispatch.jax_funcify.register(IsingCovarianceProduct)
    def _jax_covariance_product(op, node=None, **kwargs):
        means = jax.grad(_jax_log_z_function(op.plan), argnums=(0, 1))

        def product(K, th, gK, gth):
            return jax.jvp(means, (K, th), (gK, gth))[1]

        return jax.vmap(product)


# Registered when PyTensor loads its JAX backend, so JAX stays optional.
when_imported(JAX_DISPATCH, _register_jax)
