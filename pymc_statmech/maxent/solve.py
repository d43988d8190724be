r"""The convex dual of maximum entropy, solved by damped Newton, as one PyTensor Op.

On a discrete measure (an exact finite support, or the nodes and weights of a quadrature rule)
with points :math:`x_j`, log-weights :math:`\ell_j` (counting or quadrature weight plus the log
base density) and statistics :math:`T_{kj} = T_k(x_j)`, the maximum-entropy (minimum relative
entropy) distribution under :math:`E[T] = c` is :math:`p_j \propto \exp(\ell_j + \lambda \cdot T_j)`
with :math:`\lambda` minimising the convex dual

.. math:: D(\lambda) = A(\lambda) - \lambda \cdot c, \qquad
          A(\lambda) = \log \sum_j \exp(\ell_j + \lambda \cdot T_j),

whose gradient is :math:`E_\lambda[T] - c` and whose Hessian is :math:`\mathrm{Cov}_\lambda[T]`.

:class:`MaxEntDual` returns :math:`\lambda^*(T, \ell, c)`. Its forward pass is a damped Newton
iteration (Armijo backtracking on :math:`D`, Jacobi-scaled Cholesky solves) compiled with Numba,
the default PyTensor linker, and written again with ``jax.lax`` loops for the JAX backend
(registered when PyTensor loads that backend: JAX is optional); no scipy. Its gradient is the
implicit-function theorem applied to :math:`E_\lambda[T] = c`:

.. math:: \frac{\partial\lambda}{\partial c} = \mathrm{Cov}_\lambda[T]^{-1},\quad
          \frac{\partial\lambda}{\partial\ell_j} = -\mathrm{Cov}^{-1} p_j (T_j - c),\quad
          \frac{\partial\lambda}{\partial T_{mj}} = -\mathrm{Cov}^{-1}
          p_j\big(e_m + (T_j - c)\lambda_m\big),

built from standard PyTensor ops, never by differentiating through the iterations. A call starts
from the previous call's solution (a warm start: NUTS moves the targets a little per leapfrog
step). When the iteration does not converge the Op returns NaN and warns; for a target that is
not finite or not strictly inside the range of its statistic it returns NaN without warning (no
multipliers exist there: a point mass on the boundary, nothing outside). The graphs that use it
turn NaN into a log-density of ``-inf``, never a silently wrong value.

References
----------
.. [1] Jaynes, E. T. (1957). Information theory and statistical mechanics. Phys. Rev. 106, 620.
.. [2] Boyd, S. and Vandenberghe, L. (2004). Convex Optimization, sections 5.2 and 9.5
   (the dual of maximum entropy; Newton's method with backtracking).
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytensor.tensor as pt
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import numba_funcify
from pytensor.link.numba.dispatch.basic import numba_njit
from pytensor.tensor.blockwise import Blockwise

from pymc_statmech._backends import JAX_DISPATCH, when_imported

__all__ = ["MaxEntDual", "NonConvergenceWarning", "solve_dual", "solve_dual_numpy"]

# Status codes of the Newton kernel.
CONVERGED, ROUNDING, MAX_ITER, NOT_FINITE = 0, 1, 2, 3
_EPS = np.finfo("float64").eps
# Newton decrement g' Cov^-1 g at which the dual is solved to rounding (|g| ~ 1e-14 sd).
_DECREMENT_TOL = 1e-28
# Warm-start storage: slot 0 holds d, slots 1..d the last solution.
_WARM_SLOTS = 64


class NonConvergenceWarning(RuntimeWarning):
    """The maximum-entropy dual did not converge; the log-density was set to -inf."""


_FAILURE_MESSAGE = (
    "pymc_statmech.maxent: the maximum-entropy dual did not converge for these constraint "
    "targets (they lie at or beyond the edge of what the support allows, or the quadrature "
    "grid misses the distribution); the log-density is -inf at this point."
)


@numba.njit(cache=True)
def _evaluate(T, logw, lam, mean, cov, with_cov):
    """log-partition A(lam); fills E[T] and, on request, Cov[T] (two-pass, centred)."""
    d, n = T.shape
    s = np.empty(n)
    top = -np.inf
    for j in range(n):
        v = logw[j]
        for k in range(d):
            v += lam[k] * T[k, j]
        s[j] = v
        if v > top:
            top = v
    if not np.isfinite(top):
        return np.nan
    total = 0.0
    for j in range(n):
        w = np.exp(s[j] - top)
        s[j] = w
        total += w
    for k in range(d):
        mean[k] = 0.0
    for j in range(n):
        p = s[j] / total
        s[j] = p
        for k in range(d):
            mean[k] += p * T[k, j]
    if with_cov:
        for a in range(d):
            for b in range(d):
                cov[a, b] = 0.0
        for j in range(n):
            p = s[j]
            if p == 0.0:
                continue
            for a in range(d):
                da = T[a, j] - mean[a]
                for b in range(a + 1):
                    cov[a, b] += p * da * (T[b, j] - mean[b])
        for a in range(d):
            for b in range(a):
                cov[b, a] = cov[a, b]
    return top + np.log(total)


@numba.njit(cache=True)
def _newton_direction(cov, g, out):
    """Solve Cov x = g by a Jacobi-scaled Cholesky factorisation; ridge when singular."""
    d = g.shape[0]
    scale = np.empty(d)
    for k in range(d):
        scale[k] = np.sqrt(cov[k, k]) if cov[k, k] > 0.0 else 1.0
    ridge = 0.0
    L = np.empty((d, d))
    for _ in range(8):
        ok = True
        for a in range(d):
            for b in range(a + 1):
                v = cov[a, b] / (scale[a] * scale[b])
                if a == b:
                    v += ridge
                for k in range(b):
                    v -= L[a, k] * L[b, k]
                if a == b:
                    if not v > 0.0:
                        ok = False
                        break
                    L[a, a] = np.sqrt(v)
                else:
                    L[a, b] = v / L[b, b]
            if not ok:
                break
        if ok:
            break
        ridge = 1e-13 if ridge == 0.0 else ridge * 100.0
    else:
        return False
    # Forward and back substitution on the scaled system.
    y = np.empty(d)
    for a in range(d):
        v = g[a] / scale[a]
        for k in range(a):
            v -= L[a, k] * y[k]
        y[a] = v / L[a, a]
    for a in range(d - 1, -1, -1):
        v = y[a]
        for k in range(a + 1, d):
            v -= L[k, a] * out[k]
        out[a] = v / L[a, a]
    for a in range(d):
        out[a] /= scale[a]
    return True


@numba.njit(cache=True)
def newton_dual(T, logw, c, lam0, max_iter):
    """Minimise A(lam) - lam . c from lam0; returns (lam, status, iterations, max |g|/sd)."""
    d = T.shape[0]
    lam = lam0.copy()
    mean = np.empty(d)
    cov = np.empty((d, d))
    g = np.empty(d)
    step = np.empty(d)
    trial = np.empty(d)
    trial_mean = np.empty(d)
    trial_cov = np.empty((d, d))
    value = _evaluate(T, logw, lam, mean, cov, True)
    if not np.isfinite(value):
        lam[:] = 0.0
        value = _evaluate(T, logw, lam, mean, cov, True)
        if not np.isfinite(value):
            return lam, NOT_FINITE, 0, np.inf
    dual = value
    for k in range(d):
        dual -= lam[k] * c[k]
    for it in range(max_iter):
        for k in range(d):
            g[k] = mean[k] - c[k]
        if _at_rounding(g, mean, c):
            return lam, ROUNDING, it, _scaled_residual(g, cov)
        if not _newton_direction(cov, g, step):
            return lam, NOT_FINITE, it, np.inf
        decrement = 0.0
        for k in range(d):
            decrement += g[k] * step[k]
        if decrement <= _DECREMENT_TOL:
            residual = _scaled_residual(g, cov)
            # A safety net against a singular covariance passing the decrement test.
            status = CONVERGED if residual <= 1e-7 or _at_rounding(g, mean, c) else MAX_ITER
            return lam, status, it, residual
        # Armijo backtracking; within rounding of the optimum a tie is a success.
        slack = 16.0 * _EPS * (1.0 + abs(dual))
        t = 1.0
        accepted = False
        for _ in range(60):
            for k in range(d):
                trial[k] = lam[k] - t * step[k]
            # With the covariance: the accepted trial is the next iterate (one pass of exps).
            v = _evaluate(T, logw, trial, trial_mean, trial_cov, True)
            if np.isfinite(v):
                trial_dual = v
                for k in range(d):
                    trial_dual -= trial[k] * c[k]
                if trial_dual <= dual - 1e-4 * t * decrement + slack:
                    accepted = True
                    break
            t *= 0.5
        if not accepted:
            # No decrease representable: solved to rounding if the residual is tiny.
            residual = _scaled_residual(g, cov)
            status = ROUNDING if _at_rounding(g, mean, c) else MAX_ITER
            return lam, status, it, residual
        # swap the buffers: an array copy would compile Numba's shape-mismatch error messages
        # (4 s of the solver's cold compilation)
        lam, trial = trial, lam
        dual = trial_dual
        mean, trial_mean = trial_mean, mean
        cov, trial_cov = trial_cov, cov
    for k in range(d):
        g[k] = mean[k] - c[k]
    return lam, MAX_ITER, max_iter, _scaled_residual(g, cov)


@numba.njit(cache=True)
def _scaled_residual(g, cov):
    worst = 0.0
    for k in range(g.shape[0]):
        sd = np.sqrt(cov[k, k]) if cov[k, k] > 0.0 else 1.0
        worst = max(worst, abs(g[k]) / sd)
    return worst


@numba.njit(cache=True)
def _at_rounding(g, mean, c):
    # |E[T] - c| within a few hundred ulps of the magnitudes summed to form E[T].
    for k in range(g.shape[0]):
        if abs(g[k]) > 256.0 * _EPS * (1.0 + abs(c[k]) + abs(mean[k])):
            return False
    return True


@intrinsic
def _void_pointer(typingctx, address):
    # The warm-start buffer is an array owned by the Op instance; compiled code reaches it by
    # address (numba freezes global arrays as read-only constants).
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@numba.njit(cache=True)
def _solve_warm(T, logw, c, start, warm, max_iter):
    # From the previous solution when there is one, else (or if that fails) from `start`.
    # A target that is not finite, or not strictly inside the range of its statistic over the
    # measure, has no multipliers (on the boundary the solution is a point mass, lambda
    # infinite): NaN, never the warm start's old answer, and not a convergence failure.
    d = c.shape[0]
    for k in range(d):
        low, high = np.inf, -np.inf
        for j in range(T.shape[1]):
            if logw[j] > -np.inf:
                low, high = min(low, T[k, j]), max(high, T[k, j])
        if not (low < c[k] < high):
            lam = np.full(d, np.nan)
            return lam, True
    status = MAX_ITER
    if d < warm.shape[0] and warm[0] == d and np.all(np.isfinite(warm[1 : d + 1])):
        lam, status, _, _ = newton_dual(T, logw, c, warm[1 : d + 1].copy(), max_iter)
    if status > ROUNDING:
        lam, status, _, _ = newton_dual(T, logw, c, start.copy(), max_iter)
    if status <= ROUNDING:
        if d < warm.shape[0]:
            warm[0] = d
            for k in range(d):  # element by element: see newton_dual's buffer swap
                warm[1 + k] = lam[k]
        return lam, True
    lam[:] = np.nan
    return lam, False


def solve_dual_numpy(T, logw, c, lam0=None, max_iter: int = 200):
    """Solve the dual with NumPy inputs (construction time and tests).

    Returns
    -------
    lam : ndarray
        The multipliers.
    status : int
        0 converged, 1 converged to rounding, 2 iteration limit, 3 non-finite.
    iterations : int
    residual : float
        Largest :math:`|E[T_k] - c_k| / \\mathrm{sd}(T_k)`.
    """
    T = np.ascontiguousarray(T, dtype="float64")
    logw = np.ascontiguousarray(logw, dtype="float64")
    c = np.ascontiguousarray(c, dtype="float64")
    lam0 = np.zeros(c.shape[0]) if lam0 is None else np.asarray(lam0, dtype="float64")
    lam, status, iterations, residual = newton_dual(T, logw, c, lam0, max_iter)
    return lam, int(status), int(iterations), float(residual)


class MaxEntDual(Op):
    r"""The multipliers :math:`\lambda^*(T, \ell, c)` of the maximum-entropy dual.

    Inputs ``T`` (d, n), ``logw`` (n,), ``c`` (d,) and a starting point (d,) used when there
    is no previous solution to start from; output :math:`\lambda` (d,), NaN (with a
    :class:`NonConvergenceWarning`) when the Newton iteration fails. Use :func:`solve_dual`,
    which also broadcasts over leading dimensions of ``c``.
    """

    __props__ = ("max_iter",)

    def __init__(self, max_iter: int = 200):
        self.max_iter = int(max_iter)
        self._warm = np.zeros(_WARM_SLOTS)
        self._buffers: list[np.ndarray] = []

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_buffers"] = []
        return state

    def make_node(self, T, logw, c, start):
        T, logw, c, start = (
            pt.as_tensor_variable(v).astype("float64") for v in (T, logw, c, start)
        )
        if (T.ndim, logw.ndim, c.ndim, start.ndim) != (2, 1, 1, 1):
            raise ValueError("MaxEntDual needs T (d, n), logw (n,), c (d,) and start (d,).")
        out = pt.tensor(dtype="float64", shape=(T.type.shape[0],))
        return Apply(self, [T, logw, c, start], [out])

    def infer_shape(self, node, shapes):
        return [(shapes[0][0],)]

    def perform(self, node, inputs, outputs):
        T, logw, c, start = (np.ascontiguousarray(v, dtype="float64") for v in inputs)
        lam, ok = _solve_warm(T, logw, c, start, self._warm, self.max_iter)
        if not ok:
            warnings.warn(_FAILURE_MESSAGE, NonConvergenceWarning, stacklevel=2)
        outputs[0][0] = lam

    def pullback(self, inputs, outputs, output_grads):
        T, logw, _c, start = inputs
        (lam,) = outputs
        (g_lam,) = output_grads
        p = pt.special.softmax(lam @ T + logw, axis=-1)
        centred = T - (T @ p)[:, None]
        cov = (centred * p) @ centred.T
        if T.type.shape[0] == 1:
            # One constraint (the common case): a division, no LAPACK call per batch element.
            v = g_lam / cov[0]
        else:
            v = pt.linalg.solve(cov, g_lam, assume_a="pos")
        weighted = p * (v @ centred)
        grad_T = -(pt.outer(v, p) + pt.outer(lam, weighted))
        grad_logw = -weighted
        return [grad_T, grad_logw, v, pt.zeros_like(start)]


_CORE = MaxEntDual()


def solve_dual(T, logw, c, start=None):
    r"""Symbolic multipliers :math:`\lambda^*` for targets ``c`` of shape ``batch + (d,)``.

    ``T`` (d, n) and ``logw`` (n,) describe the support measure; non-finite statistics mark
    a node as outside the support (weight zero). ``start`` (d,) is where Newton starts when no
    earlier solution is at hand (default zero; on unbounded domains give multipliers that
    confine the mass).
    """
    T = pt.as_tensor_variable(T).astype("float64")
    logw = pt.as_tensor_variable(logw).astype("float64")
    finite = pt.all(pt.isfinite(T), axis=0)
    T = pt.switch(pt.isfinite(T), T, 0.0)
    logw = pt.switch(finite, logw, -np.inf)
    c = pt.as_tensor_variable(c).astype("float64")
    start = pt.zeros(c.shape[-1:]) if start is None else pt.as_tensor_variable(start)
    return Blockwise(_CORE, signature="(d,n),(n),(d),(d)->(d)")(T, logw, c, start)


@numba_funcify.register(MaxEntDual)
def _numba_maxent_dual(op, node=None, **kwargs):
    buffer = np.zeros(_WARM_SLOTS)
    # Kept alive with the Op; the compiled function is never cached to disk (no cache key),
    # so the address never outlives this process.
    op._buffers.append(buffer)
    address = buffer.ctypes.data
    max_iter = op.max_iter
    slots = _WARM_SLOTS

    @numba_njit
    def maxent_dual(T, logw, c, start):
        warm = numba.carray(_void_pointer(address), (slots,), np.float64)
        lam, ok = _solve_warm(
            np.ascontiguousarray(T),
            np.ascontiguousarray(logw),
            np.ascontiguousarray(c),
            np.ascontiguousarray(start),
            warm,
            max_iter,
        )
        if not ok:
            with numba.objmode():
                warnings.warn(_FAILURE_MESSAGE, NonConvergenceWarning, stacklevel=2)
        return lam

    return maxent_dual


def _jax_maxent_dual(op, node=None, **kwargs):
    import jax
    import jax.numpy as jnp

    max_iter = op.max_iter

    def evaluate(T, logw, c, lam):
        s = lam @ T + logw
        value = jax.scipy.special.logsumexp(s)
        p = jax.nn.softmax(s)
        mean = T @ p
        centred = T - mean[:, None]
        cov = (centred * p) @ centred.T
        return value - lam @ c, mean, cov

    def direction(cov, g):
        scale = jnp.sqrt(jnp.where(jnp.diag(cov) > 0, jnp.diag(cov), 1.0))
        scaled = cov / jnp.outer(scale, scale) + 1e-13 * jnp.eye(cov.shape[0])
        return jnp.linalg.solve(scaled, g / scale) / scale

    def maxent_dual(T, logw, c, start):
        lam0 = start
        dual0, mean0, cov0 = evaluate(T, logw, c, lam0)

        def cond(state):
            it, _, _, _, _, done, _ = state
            return (it < max_iter) & ~done

        def body(state):
            it, lam, dual, mean, cov, _, _ = state
            g = mean - c
            step = direction(cov, g)
            decrement = g @ step
            slack = 16 * jnp.finfo(jnp.float64).eps * (1 + jnp.abs(dual))

            def search_cond(s):
                _t, k, ok = s
                return (~ok) & (k < 60)

            def search_body(s):
                t, k, _ = s
                trial = lam - t * step
                new, _, _ = evaluate(T, logw, c, trial)
                ok = jnp.isfinite(new) & (new <= dual - 1e-4 * t * decrement + slack)
                return jnp.where(ok, t, 0.5 * t), k + 1, ok

            t, _, ok = jax.lax.while_loop(search_cond, search_body, (1.0, 0, False))
            # A negative decrement means the covariance is numerically singular: not a success.
            converged = (decrement >= 0) & (decrement <= _DECREMENT_TOL)
            new_lam = jnp.where(ok & ~converged, lam - t * step, lam)
            new_dual, new_mean, new_cov = evaluate(T, logw, c, new_lam)
            rounding = ~ok & jnp.all(
                jnp.abs(g) <= 256 * jnp.finfo(jnp.float64).eps * (1 + jnp.abs(c) + jnp.abs(mean))
            )
            success = converged | rounding
            done = success | ~ok | ~jnp.isfinite(new_dual) | (decrement < 0)
            return it + 1, new_lam, new_dual, new_mean, new_cov, done, success

        state = (0, lam0, dual0, mean0, cov0, ~jnp.isfinite(dual0), False)
        _, lam, _, mean, cov, _, success = jax.lax.while_loop(cond, body, state)
        # A safety net against a singular covariance passing the decrement test.
        eps = jnp.finfo(jnp.float64).eps
        close = jnp.abs(mean - c) <= 1e-7 * jnp.sqrt(
            jnp.maximum(jnp.diag(cov), 0.0)
        ) + 256 * eps * (1 + jnp.abs(c) + jnp.abs(mean))
        return jnp.where(success & jnp.all(close), lam, jnp.nan)

    return maxent_dual


# Registered when PyTensor loads its JAX backend, so JAX stays optional.
when_imported(
    JAX_DISPATCH, lambda dispatch: dispatch.jax_funcify.register(MaxEntDual)(_jax_maxent_dual)
)
