r"""Exact draws from Ising models: enumeration and forward-filtering backward-sampling.

Both draw independent configurations from :math:`p(s) = e^{-\beta E(s)}/Z` exactly (no Markov
chain): enumeration over all :math:`2^n` states for small graphs, and forward-filtering
backward-sampling (FFBS) through the row transfer matrix of a lattice whose shorter side is at
most ``TRACE_MAX_WIDTH`` = 12 (a chain is a lattice of rows of one spin), within
``EXACT_SAMPLER_MAX_BYTES`` (both limits are declared in :mod:`.partition` with the
log-partition's). The forward pass is done once per parameter set; each further draw costs
:math:`O(L\,2^w)`.

References
----------
.. [1] Baxter, R. J. (1982). Exactly Solved Models in Statistical Mechanics, ch. 2 (transfer
   matrices).
.. [2] Carter, C. K. and Kohn, R. (1994). On Gibbs sampling for state space models. Biometrika
   81, 541-553 (forward-filtering backward-sampling).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from pymc_statmech.boltzmann.lattice import IsingStructure
from pymc_statmech.boltzmann.partition import (
    ENUMERATE_MAX_SPINS,
    EXACT_SAMPLER_MAX_BYTES,
    TRACE_MAX_WIDTH,
)

__all__ = ["exact_sampler", "exact_sampler_fits", "spin_table"]

_CHUNK = 2**16


def spin_table(n: int, index: np.ndarray | None = None) -> np.ndarray:
    """The spins of states ``index`` (all ``2^n`` when None): bit ``c`` of the index is site
    ``c``, 1 -> +1 and 0 -> -1. Shape ``(len(index), n)``, int8."""
    index = np.arange(2**n) if index is None else np.asarray(index)
    return (((index[:, None] >> np.arange(n)) & 1) * 2 - 1).astype(np.int8)


def exact_sampler_fits(structure: IsingStructure) -> str:
    """``""`` when exact draws are available for ``structure``, else the reason they are not."""
    if structure.n_spins <= ENUMERATE_MAX_SPINS:
        return ""
    if structure.shape is None:
        return f"a graph of {structure.n_spins} spins (enumeration stops at {ENUMERATE_MAX_SPINS})"
    rows, width, *_, periodic = _row_geometry(structure)
    # the sampler holds 2^w x 2^w matrices, as the periodic trace of the log-partition does
    if width > TRACE_MAX_WIDTH:
        return (
            f"the lattice's shorter side is {width} (the transfer-matrix sampler stops at "
            f"{TRACE_MAX_WIDTH})"
        )
    need = 8.0 * rows * 4.0**width
    if periodic and need > EXACT_SAMPLER_MAX_BYTES:
        return (
            f"exact draws of a lattice periodic along its longer side need "
            f"{need / 2**30:.1f} GiB (limit {EXACT_SAMPLER_MAX_BYTES / 2**30:.0f} GiB)"
        )
    return ""


def exact_sampler(
    structure: IsingStructure, J: np.ndarray, h: np.ndarray, beta: float
) -> Callable[[int, np.random.Generator], np.ndarray]:
    """The forward pass for one parameter set, done once: returns ``draw(n_draws, rng)``, which
    gives ``n_draws`` independent configurations ``(n_draws, n_spins)``, int8, at the cost of
    the backward pass only.

    ``J`` is per bond ``(n_edges,)``, ``h`` per site ``(n_spins,)``.
    """
    if structure.n_spins <= ENUMERATE_MAX_SPINS:
        return _enumeration_sampler(structure, J, h, beta)
    return _transfer_sampler(structure, J, h, beta)


def _enumeration_sampler(structure, J, h, beta):
    n = structure.n_spins
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    log_weight = np.empty(2**n)
    for start in range(0, 2**n, _CHUNK):
        s = spin_table(n, np.arange(start, min(start + _CHUNK, 2**n))).astype(float)
        log_weight[start : start + len(s)] = beta * ((s[:, i] * s[:, j]) @ J + s @ h)
    probability = np.exp(log_weight - logsumexp(log_weight))
    probability /= probability.sum()

    def draw(n_draws, rng):
        return spin_table(n, rng.choice(2**n, size=n_draws, p=probability))

    return draw


def _row_geometry(structure: IsingStructure):
    """Rows along the shorter side: ``(rows, width, row_bond, column_bond, site, periodic)``.

    ``site[r, c]`` is the structure's index of row ``r``, column ``c``; ``row_bond`` joins
    ``(r, c)``-``(r, c + 1 mod w)`` and ``column_bond`` joins ``(r, c)``-``(r + 1 mod L, c)``
    (``-1``: no bond). ``periodic`` says whether the last row bonds back to the first.
    """
    row_bond, column_bond = structure.bond_grids()
    if len(structure.shape) == 1:
        site = np.arange(structure.shape[0])[:, None]
        return (
            structure.shape[0],
            1,
            row_bond,
            column_bond,
            site,
            structure.boundary[0] == "periodic",
        )
    L, W = structure.shape
    site = np.arange(L * W).reshape(L, W)
    if W <= L:
        return L, W, row_bond, column_bond, site, structure.boundary[0] == "periodic"
    return W, L, column_bond.T, row_bond.T, site.T, structure.boundary[1] == "periodic"


def _transfer_sampler(structure, J, h, beta):
    rows, width, row_bond, column_bond, site, periodic = _row_geometry(structure)
    S = spin_table(width).astype(float)  # (2^w, w)
    right = np.roll(S, -1, axis=1)

    def within(r):  # log-weight of the bonds and fields inside row r, (2^w,)
        coupling = np.where(row_bond[r] >= 0, J[np.maximum(row_bond[r], 0)], 0.0)
        return beta * ((S * right) @ coupling + S @ h[site[r]])

    def between(r):  # (w,) couplings from row r to row r + 1 (mod rows)
        return beta * np.where(column_bond[r] >= 0, J[np.maximum(column_bond[r], 0)], 0.0)

    def log_transfer(r):  # (2^w, 2^w): x in row r, y in row r + 1
        return (S * between(r)) @ S.T

    if not periodic:
        log_alpha = [within(0)]
        for r in range(rows - 1):
            log_alpha.append(within(r + 1) + _log_matvec(log_alpha[-1], log_transfer(r)))

        def backward(n_draws, rng):
            draws = np.empty((n_draws, rows), dtype=np.int64)
            draws[:, -1] = _categorical(np.broadcast_to(log_alpha[-1], (n_draws, 2**width)), rng)
            for r in range(rows - 2, -1, -1):
                # log T_r(x, x_{r+1}) for every draw: (n_draws, 2^w)
                logits = log_alpha[r] + (S[draws[:, r + 1]] * between(r)) @ S.T
                draws[:, r] = _categorical(logits, rng)
            return draws

    else:
        # G_r(x0, x): forward weights of row r given the first row, each x0-row scaled to max 1
        G = [np.diag(np.ones(2**width))]
        log_scale = [within(0)]
        for r in range(rows - 1):
            T = np.exp(log_transfer(r) - log_transfer(r).max()) * np.exp(
                within(r + 1) - within(r + 1).max()
            )
            nxt = G[-1] @ T
            peak = nxt.max(axis=1, keepdims=True)
            G.append(nxt / peak)
            log_scale.append(log_scale[-1] + np.log(peak[:, 0]))
        closing = log_transfer(rows - 1)  # last row back to the first, (x_{L-1}, x0)
        closing_exp = np.exp(closing - closing.max())
        log_marginal = log_scale[-1] + np.log(np.einsum("ax,xa->a", G[-1], closing_exp))

        def backward(n_draws, rng):
            draws = np.empty((n_draws, rows), dtype=np.int64)
            first = _categorical(np.broadcast_to(log_marginal, (n_draws, 2**width)), rng)
            draws[:, 0] = first
            with np.errstate(divide="ignore"):
                draws[:, -1] = _categorical(np.log(G[-1][first]) + closing[:, first].T, rng)
                for r in range(rows - 2, 0, -1):
                    logits = np.log(G[r][first]) + (S[draws[:, r + 1]] * between(r)) @ S.T
                    draws[:, r] = _categorical(logits, rng)
            return draws

    def draw(n_draws, rng):
        spins = np.empty((n_draws, structure.n_spins), dtype=np.int8)
        spins[:, site.ravel()] = S[backward(n_draws, rng)].reshape(n_draws, -1).astype(np.int8)
        return spins

    return draw


def _log_matvec(log_vector: np.ndarray, log_matrix: np.ndarray) -> np.ndarray:
    """``log sum_x exp(log_vector[x] + log_matrix[x, y])`` for every ``y``, via one scaled
    matrix product (entries below the scale underflow to 0, which they are relative to it)."""
    v_max, m_max = log_vector.max(), log_matrix.max()
    with np.errstate(divide="ignore"):
        return v_max + m_max + np.log(np.exp(log_vector - v_max) @ np.exp(log_matrix - m_max))


def _categorical(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``logits`` (unnormalised log-probabilities), by inverse CDF."""
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(logits)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), logits.shape[1] - 1)
