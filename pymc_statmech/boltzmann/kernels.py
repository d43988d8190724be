r"""Numba kernels for Ising spins: heat-bath (Gibbs) sweeps, Swendsen-Wang and Wolff clusters.

Conventions are those of :mod:`pymc_statmech.boltzmann.lattice`: spins
:math:`s_i \in \{-1, +1\}` (``int8``), :math:`E(s) = -\sum_e J_e s_i s_j - \sum_i h_i s_i`,
:math:`p(s) \propto e^{-\beta E(s)}`.
The kernels work in natural parameters, the couplings :math:`K_e = \beta J_e` and the site fields

.. math:: a_i = \beta h_i + \phi_i,

where :math:`\phi_i` is an optional *extra* field in natural units (log-odds over two): a step
method puts there the likelihood of the spins' children, :math:`\phi_i = (g_i(+1) - g_i(-1))/2`
for a log-likelihood :math:`\sum_i g_i(s_i)`.

Heat bath
    Each site in turn is drawn from its full conditional,
    :math:`p(s_i = +1 \mid s_{-i}) = 1 / (1 + e^{-2 x_i})` with
    :math:`x_i = \sum_{e = (i, j)} K_e s_j + a_i`. Sites of one colour of the structure's proper
    colouring share no bond, so a sweep updates the colour classes in turn (systematic scan).
    Square lattices with an even number of columns (periodic or open) take a fast path: the two
    checkerboard sublattices are stored as separate contiguous ``(L, W/2)`` ``int8`` arrays, so
    the four neighbours of a row of one colour are three rows of the other colour and a copy of
    one shifted by a site, and the inner loop is branch-free and vectorises. Three variants,
    picked per call:

    * ``"table"``: uniform :math:`K` and :math:`a`. The acceptance probability depends only on the
      neighbour sum :math:`k \in \{-4, \dots, 4\}`; nine 32-bit thresholds
      :math:`\lfloor 2^{32} p_k \rfloor` are compared with 32 random bits (a bias below
      :math:`2^{-32}` per update). No ``exp`` per update.
    * ``"factor"``: uniform :math:`K`, per-site :math:`a_i` (fields, or children's likelihood).
      With :math:`t_k = e^{-2Kk}` and :math:`f_i = e^{-2 a_i}` (``n`` exponentials per call, not
      per update), :math:`s_i = +1` iff :math:`u (1 + t_k f_i) < 1`.
    * ``"general"``: per-bond :math:`K_e` (laid on the sublattices, zero across open edges):
      :math:`s_i = +1` iff :math:`u (1 + e^{-2 x_i}) < 1`.

    Other structures (chains, graphs, lattices with an odd periodic side or odd width) use the
    compressed-sparse-row neighbour lists of :attr:`IsingStructure.adjacency`, colour class by
    colour class, with the general rule.

Swendsen-Wang [1]_
    Every satisfied bond (:math:`s_i = s_j`) is activated with probability
    :math:`1 - e^{-2K_e}`, the clusters of activated bonds are found by union-find (path halving,
    union by size), and each cluster is flipped with probability 1/2. Valid for
    :math:`K_e \ge 0`; negative couplings are refused. Fields are handled exactly by the ghost
    spin [3]_: a site :math:`g` fixed at :math:`+1` bonded to every site with coupling
    :math:`a_i`, activated on sites aligned with their field (:math:`a_i s_i > 0`) with
    probability :math:`1 - e^{-2|a_i|}`; the cluster holding the ghost is never flipped. With
    :math:`a = 0` this is the plain algorithm.

Wolff [2]_
    A uniformly random seed site grows one cluster through satisfied bonds, each added with
    probability :math:`1 - e^{-2K_e}`, and the cluster is flipped. With fields the ghost bonds of
    the members are tried too; a cluster that reaches the ghost is left unflipped (the growth
    stops there: the outcome no longer depends on the rest). Each move preserves the joint
    Fortuin-Kasteleyn distribution of spins and bonds, so the chain is exact for
    :math:`K_e \ge 0`. The number of clusters per call is fixed: stopping when about ``n``
    sites were visited would make the recorded states depend on the stopping rule (bigger
    clusters, fewer moves) and biases them (measured on a 4 x 4 lattice: mean energy -18.9
    against the exact -16.5).

Randomness
    Every kernel takes a :class:`numpy.random.Generator` (numba compiles it natively), so a
    seeded generator reproduces a run. The heat-bath kernels draw one 64-bit key from it per call
    and then use SplitMix64 [4]_ outputs :math:`\mathrm{mix}(\mathrm{key} + i\gamma)` of a running
    counter :math:`i`: the same stream as a SplitMix64 generator seeded with the key, but
    counter-based, so a row of updates has no serial dependence through a generator state and
    vectorises; 32 of its bits decide a table update, 53 an ``exp`` one. The cluster kernels,
    bound by memory access rather than arithmetic, call ``Generator.random()`` directly.

References
----------
.. [1] Swendsen, R. H. and Wang, J.-S. (1987). Nonuniversal critical dynamics in Monte Carlo
   simulations. Phys. Rev. Lett. 58, 86-88.
.. [2] Wolff, U. (1989). Collective Monte Carlo updating for spin systems. Phys. Rev. Lett. 62,
   361-364.
.. [3] Wang, J.-S. and Swendsen, R. H. (1990). Cluster Monte Carlo algorithms. Physica A 167,
   565-579 (fields by a ghost spin).
.. [4] Steele, G. L., Lea, D. and Flood, C. H. (2014). Fast splittable pseudorandom number
   generators. OOPSLA 2014, 453-472.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pymc_statmech.boltzmann.lattice import IsingStructure

__all__ = [
    "HeatBathKernel",
    "SwendsenWangKernel",
    "WolffKernel",
    "from_checkerboard",
    "heat_bath",
    "markov_chain_draws",
    "swendsen_wang",
    "to_checkerboard",
    "wolff",
]

# -- counter-based random bits (SplitMix64) --------------------------------------------------
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31, _S32 = (np.uint64(k) for k in (11, 27, 30, 31, 32))
_TWO_M53 = 2.0**-53
_ONE = np.uint64(1)
# The factor variant multiplies t_k f_i: bounding 2|K| * 4 by 100 and 2|a| by 500 keeps the
# product finite (< e^600) while changing no probability (|x| > 400 saturates in float64).
_FACTOR_MAX_K = 12.5
_FACTOR_MAX_A = 250.0


@njit(inline="always")
def _mix64(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(inline="always")
def _draw_key(rng):
    return _mix64(np.uint64(rng.integers(0, 9223372036854775807)))


@njit(inline="always")
def _u53(key, i):
    return np.float64(_mix64(key + i * _GAMMA) >> _S11) * _TWO_M53


# -- checkerboard layout -----------------------------------------------------------------------
@njit(cache=True)
def to_checkerboard(spins, out):
    r"""Split ``(B, L, W)`` spins into ``(B, 2, L, W/2)`` sublattices (``W`` even).

    ``out[b, q, r, k]`` is site :math:`(r, c)` with :math:`c = 2k + ((r + q) \bmod 2)`: colour
    :math:`q = (r + c) \bmod 2` of the checkerboard.
    """
    B, L, W = spins.shape
    H = W // 2
    for b in range(B):
        for r in range(L):
            p = r & 1
            for k in range(H):
                out[b, 0, r, k] = spins[b, r, 2 * k + p]
                out[b, 1, r, k] = spins[b, r, 2 * k + 1 - p]
    return out


@njit(cache=True)
def from_checkerboard(split, out):
    """Inverse of :func:`to_checkerboard`: ``(B, 2, L, H)`` sublattices to ``(B, L, 2H)``."""
    B, _, L, H = split.shape
    for b in range(B):
        for r in range(L):
            p = r & 1
            for k in range(H):
                out[b, r, 2 * k + p] = split[b, 0, r, k]
                out[b, r, 2 * k + 1 - p] = split[b, 1, r, k]
    return out


@njit(inline="always")
def _rows(S, b, q, r, per0, per1, zero, pad):
    """Rows of the other colour around row r of colour q; pad holds the shifted neighbour.

    The neighbours of (q, r, k) are other[r - 1, k], other[r + 1, k], other[r, k] and
    pad[k + off] = other[r, k - 1] (when q == r mod 2) or other[r, k + 1] (otherwise); zeros
    stand for the missing neighbours of open boundaries.
    """
    L = S.shape[2]
    H = S.shape[3]
    o = 1 - q
    same = S[b, o, r]
    if r > 0:
        up = S[b, o, r - 1]
    elif per0:
        up = S[b, o, L - 1]
    else:
        up = zero
    if r < L - 1:
        dn = S[b, o, r + 1]
    elif per0:
        dn = S[b, o, 0]
    else:
        dn = zero
    if q == (r & 1):
        pad[0] = same[H - 1] if per1 else 0
        for k in range(H):
            pad[k + 1] = same[k]
        off = 0
    else:
        for k in range(H):
            pad[k] = same[k]
        pad[H] = same[0] if per1 else 0
        off = 1
    return S[b, q, r], up, dn, same, off


@njit(inline="always")
def _table_row(a, up, dn, same, shifted, t, base):
    for k in range(a.shape[0]):
        nb = up[k] + dn[k] + same[k] + shifted[k]
        z = _mix64(base + np.uint64(k + 1) * _GAMMA) >> _S32
        a[k] = 1 if z < t[nb + 4] else -1


@njit(cache=True)
def _lattice_table(S, thr, per0, per1, n_sweeps, rng):
    """Uniform K and a: thr[b, k + 4] = floor(2^32 p(+1 | neighbour sum k))."""
    B, _, L, H = S.shape
    zero = np.zeros(H, dtype=np.int8)
    pad = np.zeros(H + 1, dtype=np.int8)
    key = _draw_key(rng)
    ctr = np.uint64(0)
    for b in range(B):
        t = thr[b]
        for _ in range(n_sweeps):
            for q in range(2):
                for r in range(L):
                    a, up, dn, same, off = _rows(S, b, q, r, per0, per1, zero, pad)
                    base = key + ctr * _GAMMA
                    # a constant offset per loop lets LLVM vectorise (30% faster measured)
                    if off == 0:
                        _table_row(a, up, dn, same, pad[:H], t, base)
                    else:
                        _table_row(a, up, dn, same, pad[1:], t, base)
                    ctr += np.uint64(H)


@njit(cache=True)
def _lattice_factor(S, tk, fac, per0, per1, n_sweeps, rng):
    """Uniform K, per-site a: tk[b, k + 4] = exp(-2Kk), fac[b, q, r, k] = exp(-2a)."""
    B, _, L, H = S.shape
    zero = np.zeros(H, dtype=np.int8)
    pad = np.zeros(H + 1, dtype=np.int8)
    key = _draw_key(rng)
    ctr = np.uint64(0)
    for b in range(B):
        t = tk[b]
        for _ in range(n_sweeps):
            for q in range(2):
                for r in range(L):
                    a, up, dn, same, off = _rows(S, b, q, r, per0, per1, zero, pad)
                    f = fac[b, q, r]
                    base = key + ctr * _GAMMA
                    for k in range(H):
                        nb = up[k] + dn[k] + same[k] + pad[k + off]
                        u = _u53(base, np.uint64(k + 1))
                        a[k] = 1 if u * (1.0 + t[nb + 4] * f[k]) < 1.0 else -1
                    ctr += np.uint64(H)


@njit(cache=True)
def _lattice_general(S, Kd, nat, per0, per1, n_sweeps, rng):
    """Per-bond K: Kd[b, q, d, r, k] for d = up, down, same, shifted; nat[b, q, r, k] = a."""
    B, _, L, H = S.shape
    zero = np.zeros(H, dtype=np.int8)
    pad = np.zeros(H + 1, dtype=np.int8)
    key = _draw_key(rng)
    ctr = np.uint64(0)
    for b in range(B):
        for _ in range(n_sweeps):
            for q in range(2):
                for r in range(L):
                    a, up, dn, same, off = _rows(S, b, q, r, per0, per1, zero, pad)
                    k0, k1, k2, k3 = Kd[b, q, 0, r], Kd[b, q, 1, r], Kd[b, q, 2, r], Kd[b, q, 3, r]
                    f = nat[b, q, r]
                    base = key + ctr * _GAMMA
                    for k in range(H):
                        x = f[k] + k0[k] * up[k] + k1[k] * dn[k] + k2[k] * same[k]
                        x += k3[k] * pad[k + off]
                        u = _u53(base, np.uint64(k + 1))
                        a[k] = 1 if u * (1.0 + np.exp(-2.0 * x)) < 1.0 else -1
                    ctr += np.uint64(H)


@njit(cache=True)
def _lattice_bond_sum(S, Jd, uniform, per0, per1):
    """sum over bonds of J_e s_i s_j, each bond once from its colour-0 end; (B,)."""
    B, _, L, H = S.shape
    zero = np.zeros(H, dtype=np.int8)
    pad = np.zeros(H + 1, dtype=np.int8)
    out = np.zeros(B)
    for b in range(B):
        acc = 0.0
        for r in range(L):
            a, up, dn, same, off = _rows(S, b, 0, r, per0, per1, zero, pad)
            if uniform:
                m = 0
                for k in range(H):
                    m += a[k] * (up[k] + dn[k] + same[k] + pad[k + off])
                acc += Jd[b, 0, 0, 0, 0] * m
            else:
                j0, j1, j2, j3 = Jd[b, 0, 0, r], Jd[b, 0, 1, r], Jd[b, 0, 2, r], Jd[b, 0, 3, r]
                for k in range(H):
                    acc += a[k] * (
                        j0[k] * up[k] + j1[k] * dn[k] + j2[k] * same[k] + j3[k] * pad[k + off]
                    )
        out[b] = acc
    return out


# -- general structures (CSR adjacency) ----------------------------------------------------
@njit(cache=True)
def _csr_heat_bath(s, indptr, nbr, edge, order, K, a, n_sweeps, rng):
    """Heat bath on any structure; sites visited in ``order`` (colour class by class)."""
    B, n = s.shape
    key = _draw_key(rng)
    ctr = np.uint64(0)
    for b in range(B):
        for _ in range(n_sweeps):
            for idx in range(n):
                i = order[idx]
                x = a[b, i]
                for p in range(indptr[i], indptr[i + 1]):
                    x += K[b, edge[p]] * s[b, nbr[p]]
                ctr += _ONE
                u = _u53(key, ctr)
                s[b, i] = 1 if u * (1.0 + np.exp(-2.0 * x)) < 1.0 else -1


@njit(cache=True)
def _edge_bond_sum(s, edges, J):
    """sum_e J_e s_i s_j per batch element; (B,)."""
    B = s.shape[0]
    out = np.zeros(B)
    for b in range(B):
        acc = 0.0
        for e in range(edges.shape[0]):
            acc += J[b, e] * s[b, edges[e, 0]] * s[b, edges[e, 1]]
        out[b] = acc
    return out


@njit(cache=True)
def _field_sum(s, h):
    """sum_i h_i s_i per batch element; (B,)."""
    B, n = s.shape
    out = np.zeros(B)
    for b in range(B):
        acc = 0.0
        for i in range(n):
            acc += h[b, i] * s[b, i]
        out[b] = acc
    return out


@njit(cache=True)
def _spin_sum(s):
    """sum_i s_i per batch element; (B,)."""
    B, n = s.shape
    out = np.zeros(B)
    for b in range(B):
        acc = 0
        for i in range(n):
            acc += s[b, i]
        out[b] = acc
    return out


@njit(cache=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@njit(cache=True)
def _union(parent, size, i, j):
    ri = _find(parent, i)
    rj = _find(parent, j)
    if ri == rj:
        return
    if size[ri] < size[rj]:
        ri, rj = rj, ri
    parent[rj] = ri
    size[ri] += size[rj]


@njit(cache=True)
def _swendsen_wang(s, edges, K, a, n_sweeps, rng):
    """Swendsen-Wang sweeps with a ghost spin (index n) for the fields.

    Returns per batch element the mean number of clusters of real sites and the mean size of
    the largest one (as a fraction of n), over the sweeps.
    """
    B, n = s.shape
    E = edges.shape[0]
    parent = np.empty(n + 1, dtype=np.int64)
    size = np.empty(n + 1, dtype=np.int64)
    flip = np.empty(n + 1, dtype=np.int8)
    pb = np.empty(E)
    pg = np.empty(n)
    stats = np.zeros((B, 2))
    for b in range(B):
        for e in range(E):
            pb[e] = -np.expm1(-2.0 * K[b, e])
        for i in range(n):
            pg[i] = -np.expm1(-2.0 * abs(a[b, i]))
        for _ in range(n_sweeps):
            for i in range(n + 1):
                parent[i] = i
                size[i] = 1
            for e in range(E):
                i = edges[e, 0]
                j = edges[e, 1]
                if s[b, i] == s[b, j] and rng.random() < pb[e]:
                    _union(parent, size, i, j)
            for i in range(n):
                if a[b, i] * s[b, i] > 0.0 and rng.random() < pg[i]:
                    _union(parent, size, i, n)
            for i in range(n + 1):
                flip[i] = -1
            g = _find(parent, n)
            flip[g] = 0  # the ghost's cluster keeps its orientation
            n_clusters = 0
            largest = 0
            ghost_seen = False
            for i in range(n):
                r = _find(parent, i)
                if r == g:
                    if not ghost_seen:
                        ghost_seen = True
                        n_clusters += 1
                        largest = max(largest, size[g] - 1)
                elif flip[r] < 0:
                    flip[r] = 1 if rng.random() < 0.5 else 0
                    n_clusters += 1
                    largest = max(largest, size[r])
                if flip[r] == 1:
                    s[b, i] = -s[b, i]
            stats[b, 0] += n_clusters / n_sweeps
            stats[b, 1] += largest / n / n_sweeps
    return stats


@njit(cache=True)
def _wolff(s, indptr, nbr, edge, K, a, n_clusters, rng):
    """Wolff single-cluster moves with a ghost spin for the fields.

    ``n_clusters`` clusters per batch element. Returns per batch element (clusters grown, mean
    size of the flipped ones, fraction left unflipped because they reached the ghost).
    """
    B, n = s.shape
    queue = np.empty(n, dtype=np.int64)
    mark = np.zeros(n, dtype=np.int64)
    padj = np.empty(nbr.shape[0])
    pg = np.empty(n)
    stats = np.zeros((B, 3))
    stamp = 0
    for b in range(B):
        for p in range(nbr.shape[0]):
            padj[p] = -np.expm1(-2.0 * K[b, edge[p]])
        for i in range(n):
            pg[i] = -np.expm1(-2.0 * abs(a[b, i]))
        built = 0
        rejected = 0
        total = 0
        while built < n_clusters:
            stamp += 1
            seed = rng.integers(0, n)
            s0 = s[b, seed]
            queue[0] = seed
            mark[seed] = stamp
            head = 0
            tail = 1
            hit = False
            while head < tail:
                i = queue[head]
                head += 1
                if a[b, i] * s0 > 0.0 and rng.random() < pg[i]:
                    hit = True
                    break
                for p in range(indptr[i], indptr[i + 1]):
                    j = nbr[p]
                    if mark[j] != stamp and s[b, j] == s0 and rng.random() < padj[p]:
                        mark[j] = stamp
                        queue[tail] = j
                        tail += 1
            built += 1
            if hit:
                rejected += 1
            else:
                total += tail
                for m in range(tail):
                    s[b, queue[m]] = -s0
        stats[b, 0] = built
        stats[b, 1] = total / max(built - rejected, 1)
        stats[b, 2] = rejected / built
    return stats


# -- Python side: parameters, layouts, dispatch ------------------------------------------------
def _as_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _checkerboard_fits(structure: IsingStructure) -> bool:
    """Square lattices whose checkerboard splits into two (L, W/2) sublattices."""
    if structure.shape is None or len(structure.shape) != 2:
        return False
    L, W = structure.shape
    return W % 2 == 0 and (L % 2 == 0 or structure.boundary[0] == "open")


def _checkerboard_bonds(structure: IsingStructure) -> np.ndarray:
    """Bond ids around each sublattice site, (2, 4, L, H): up, down, same, shifted; -1 if none."""
    L, W = structure.shape
    H = W // 2
    per0, per1 = (b == "periodic" for b in structure.boundary)
    row, col = structure.bond_grids()
    r = np.arange(L)[:, None]
    k = np.arange(H)[None, :]
    out = np.full((2, 4, L, H), -1, dtype=np.int64)
    for q in range(2):
        c = 2 * k + ((r + q) & 1)
        c = np.broadcast_to(c, (L, H))
        rr = np.broadcast_to(r, (L, H))
        up = col[(rr - 1) % L, c]
        out[q, 0] = np.where((rr > 0) | per0, up, -1)
        out[q, 1] = col[rr, c]
        left = np.where((c > 0) | per1, row[rr, (c - 1) % W], -1)
        right = row[rr, c]
        # the same-index neighbour of the other colour sits right of an even column
        even = c % 2 == 0
        out[q, 2] = np.where(even, right, left)
        out[q, 3] = np.where(even, left, right)
    return out


def _to_batch(x: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Broadcast a numeric parameter to ``shape`` and flatten its batch axes."""
    arr = np.asarray(x, dtype=np.float64)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {arr.shape} does not broadcast to {shape} (batch shape, then "
            "the parameter's core length)."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite, got {arr[~np.isfinite(arr)][:3]}.")
    return arr


class HeatBathKernel:
    r"""Heat-bath (Gibbs) sweeps of Ising spins on one structure, prepared once.

    Parameters
    ----------
    structure : IsingStructure
        Bonds, geometry and colouring (:func:`~pymc_statmech.boltzmann.ising_structure`).
    batch_shape : tuple of int
        Leading axes of the spin arrays; each batch element is an independent system with its
        own parameters.

    Notes
    -----
    Call :meth:`set_parameters` with :math:`J`, :math:`h`, :math:`\beta` and an optional extra
    field (or :meth:`set_extra_field` alone when only that changes), then :meth:`sweep`. The
    variant (``"table"``, ``"factor"``, ``"general"`` or ``"csr"``, see the module docstring) is
    chosen from the structure and the parameters; ``variant`` reports it.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> from pymc_statmech.boltzmann.kernels import HeatBathKernel
    >>> kernel = HeatBathKernel(ising_structure(lattice=(8, 8)))
    >>> kernel.set_parameters(J=1.0, h=0.0, beta=0.3)
    >>> spins = np.ones((8, 8), dtype=np.int8)
    >>> out = kernel.sweep(spins, n_sweeps=10, rng=np.random.default_rng(0))
    >>> kernel.variant, out.dtype, sorted(np.unique(out).tolist())
    ('table', dtype('int8'), [-1, 1])
    """

    def __init__(self, structure: IsingStructure, batch_shape: tuple[int, ...] = ()):
        self.structure = structure
        self.batch_shape = tuple(int(d) for d in batch_shape)
        self.B = int(np.prod(self.batch_shape, dtype=np.int64))
        self.n = structure.n_spins
        self.checkerboard = _checkerboard_fits(structure)
        if self.checkerboard:
            L, W = structure.shape
            self._per = tuple(b == "periodic" for b in structure.boundary)
            self._bonds = _checkerboard_bonds(structure)
            self._site_index = _split_index(L, W)
            self._split = np.empty((self.B, 2, L, W // 2), dtype=np.int8)
        else:
            self._adjacency = structure.adjacency
            self._order = np.concatenate(
                [*structure.color_classes, np.zeros(0, dtype=np.int64)]
            ).astype(np.int64)
        self.variant: str | None = None

    def set_parameters(self, J: Any, h: Any = 0.0, beta: Any = 1.0, extra_field: Any = None):
        r"""Set the couplings, fields, inverse temperature and extra natural field.

        ``J`` is ``(..., n_edges)`` or a scalar, ``h`` and ``extra_field`` ``(..., n_spins)``,
        ``(..., L, W)`` or scalars, ``beta`` ``(...)``; the leading axes broadcast to
        ``batch_shape``.
        """
        s, bs, B = self.structure, self.batch_shape, self.B
        self.J = J = _to_batch(J, (*bs, s.n_edges), "J").reshape(B, s.n_edges)
        self.h = h = _to_batch(_flat_sites(s, h), (*bs, s.n_spins), "h").reshape(B, s.n_spins)
        self.beta = beta = _to_batch(beta, bs, "beta").reshape(B)
        self.K = K = beta[:, None] * J
        self._h_uniform = bool(np.all(h == h[:, :1])) if s.n_spins else True
        self._J_uniform = bool(np.all(J == J[:, :1])) if s.n_edges else True
        self._K_uniform = bool(np.all(K == K[:, :1])) if s.n_edges else True
        self._K0 = K[:, 0].copy() if s.n_edges else np.zeros(B)
        self._Kd = None  # per-direction couplings, built when the general variant needs them
        if self.checkerboard:
            J0 = J[:, :1] if s.n_edges else np.zeros((B, 1))
            if self._J_uniform:
                self._Jd = np.ascontiguousarray(J0.reshape(B, 1, 1, 1, 1))
            else:
                Jpad = np.concatenate([J, np.zeros((B, 1))], axis=1)  # bond -1: no bond
                self._Jd = np.ascontiguousarray(Jpad[:, self._bonds[:1]])
        else:
            self._Kc = np.ascontiguousarray(K)
        self.set_extra_field(extra_field)

    def set_extra_field(self, extra_field: Any = None):
        r"""Replace the extra natural field :math:`\phi` (``None``: zero), keeping the rest."""
        s, bs, B = self.structure, self.batch_shape, self.B
        a = self.beta[:, None] * self.h
        if extra_field is not None:
            extra = _to_batch(_flat_sites(s, extra_field), (*bs, s.n_spins), "extra_field")
            a = a + extra.reshape(B, s.n_spins)
        self.a = a
        if not self.checkerboard:
            self.variant = "csr"
            self._ac = np.ascontiguousarray(a)
            return
        K0 = self._K0
        k = np.arange(-4, 5)
        if self._K_uniform and bool(np.all(a == a[:, :1])):
            self.variant = "table"
            p = 1.0 / (1.0 + np.exp(-2.0 * (K0[:, None] * k + a[:, :1])))
            self._thr = np.minimum(np.floor(p * 2.0**32), 2.0**32).astype(np.uint64)
        elif self._K_uniform and bool(np.all(np.abs(K0) <= _FACTOR_MAX_K)):
            self.variant = "factor"
            self._tk = np.exp(-2.0 * K0[:, None] * k)
            self._fac = np.exp(
                -2.0 * np.clip(a[:, self._site_index], -_FACTOR_MAX_A, _FACTOR_MAX_A)
            )
        else:
            self.variant = "general"
            if self._Kd is None:
                Kpad = np.concatenate([self.K, np.zeros((B, 1))], axis=1)
                self._Kd = np.ascontiguousarray(Kpad[:, self._bonds])
            self._nat = np.ascontiguousarray(a[:, self._site_index])

    def sweep(self, spins: np.ndarray, n_sweeps: int = 1, rng: Any = None) -> np.ndarray:
        """Run ``n_sweeps`` heat-bath sweeps and return the spins.

        ``spins``: values in {-1, +1}, shape ``(*batch_shape, *structure.shape)`` (lattices) or
        ``(*batch_shape, n_spins)``; updated in place when it is a C-contiguous ``int8`` array,
        else converted to one (returned).
        """
        if self.variant is None:
            raise RuntimeError("HeatBathKernel.sweep: call set_parameters(J, h, beta) first.")
        rng = _as_rng(rng)
        n_sweeps = int(n_sweeps)
        spins = np.ascontiguousarray(spins, dtype=np.int8)
        if self.checkerboard:
            L, W = self.structure.shape
            cube = spins.reshape(self.B, L, W)
            S = to_checkerboard(cube, self._split)
            per0, per1 = self._per
            if self.variant == "table":
                _lattice_table(S, self._thr, per0, per1, n_sweeps, rng)
            elif self.variant == "factor":
                _lattice_factor(S, self._tk, self._fac, per0, per1, n_sweeps, rng)
            else:
                _lattice_general(S, self._Kd, self._nat, per0, per1, n_sweeps, rng)
            from_checkerboard(S, cube)
        else:
            flat = spins.reshape(self.B, self.n)
            indptr, nbr, edge = self._adjacency
            _csr_heat_bath(flat, indptr, nbr, edge, self._order, self._Kc, self._ac, n_sweeps, rng)
        return spins

    def energy(self, spins: np.ndarray) -> np.ndarray:
        r"""Energies :math:`E(s)` (of :math:`J` and :math:`h`; no :math:`\beta`, no extra
        field), shape ``batch_shape``."""
        spins = np.ascontiguousarray(spins, dtype=np.int8)
        flat = spins.reshape(self.B, self.n)
        if self.checkerboard:
            L, W = self.structure.shape
            S = to_checkerboard(spins.reshape(self.B, L, W), self._split)
            bonds = _lattice_bond_sum(S, self._Jd, self._J_uniform, *self._per)
        else:
            bonds = _edge_bond_sum(flat, self.structure.edges, self.J)
        return (-bonds - _field_energy(flat, self.h, self._h_uniform)).reshape(self.batch_shape)


def _field_energy(flat: np.ndarray, h: np.ndarray, uniform: bool) -> np.ndarray:
    """sum_i h_i s_i per batch element."""
    if uniform:
        h0 = h[:, 0] if h.shape[1] else np.zeros(h.shape[0])
        if not np.any(h0):
            return np.zeros(h.shape[0])
        return h0 * _spin_sum(flat)
    return _field_sum(flat, h)


def _split_index(L: int, W: int) -> np.ndarray:
    r = np.arange(L)[:, None]
    k = np.arange(W // 2)[None, :]
    return np.stack([r * W + 2 * k + (r & 1), r * W + 2 * k + 1 - (r & 1)])


def _flat_sites(structure: IsingStructure, x: Any) -> np.ndarray:
    """Per-site values given on an (L, W) lattice flattened to (..., n_spins)."""
    arr = np.asarray(x, dtype=np.float64)
    shape = structure.shape
    if shape is not None and len(shape) == 2 and arr.ndim >= 2 and arr.shape[-2:] == shape:
        return arr.reshape(*arr.shape[:-2], structure.n_spins)
    return arr


class _ClusterKernel:
    """Shared parameter handling of the cluster kernels (non-negative natural couplings)."""

    algorithm = ""

    def __init__(self, structure: IsingStructure, batch_shape: tuple[int, ...] = ()):
        self.structure = structure
        self.batch_shape = tuple(int(d) for d in batch_shape)
        self.B = int(np.prod(self.batch_shape, dtype=np.int64))
        self.n = structure.n_spins
        self.K: np.ndarray | None = None

    def set_parameters(self, J: Any, h: Any = 0.0, beta: Any = 1.0, extra_field: Any = None):
        """As :meth:`HeatBathKernel.set_parameters`; ``beta * J`` must be >= 0 on every bond."""
        s, bs, B = self.structure, self.batch_shape, self.B
        J = _to_batch(J, (*bs, s.n_edges), "J").reshape(B, s.n_edges)
        h = _to_batch(_flat_sites(s, h), (*bs, s.n_spins), "h").reshape(B, s.n_spins)
        beta = _to_batch(beta, bs, "beta").reshape(B)
        K = beta[:, None] * J
        if np.any(K < 0):
            b, e = np.argwhere(K < 0)[0]
            i, j = s.edges[e]
            raise ValueError(
                f"{self.algorithm}: needs ferromagnetic couplings, beta * J >= 0 on every bond; "
                f"bond {e} ({i}, {j}) has J = {J[b, e]!r} with beta = {beta[b]!r}. Use the "
                "heat bath (IsingGibbs, heat_bath) for antiferromagnetic or frustrated "
                "couplings."
            )
        self.J, self.h, self.beta = J, h, beta
        self._h_uniform = bool(np.all(h == h[:, :1])) if s.n_spins else True
        self.K = np.ascontiguousarray(K)
        self.set_extra_field(extra_field)

    def set_extra_field(self, extra_field: Any = None):
        r"""Replace the extra natural field :math:`\phi` (``None``: zero), keeping the rest."""
        s, bs, B = self.structure, self.batch_shape, self.B
        a = self.beta[:, None] * self.h
        if extra_field is not None:
            extra = _to_batch(_flat_sites(s, extra_field), (*bs, s.n_spins), "extra_field")
            a = a + extra.reshape(B, s.n_spins)
        self.a = np.ascontiguousarray(a)

    def _check(self):
        if self.K is None:
            raise RuntimeError(f"{type(self).__name__}: call set_parameters(J, h, beta) first.")

    def energy(self, spins: np.ndarray) -> np.ndarray:
        """Energies :math:`E(s)`, shape ``batch_shape``."""
        flat = np.ascontiguousarray(spins, dtype=np.int8).reshape(self.B, self.n)
        bonds = _edge_bond_sum(flat, self.structure.edges, self.J)
        return (-bonds - _field_energy(flat, self.h, self._h_uniform)).reshape(self.batch_shape)


class SwendsenWangKernel(_ClusterKernel):
    """Swendsen-Wang sweeps (ghost spin for fields) on one structure; see the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> from pymc_statmech.boltzmann.kernels import SwendsenWangKernel
    >>> kernel = SwendsenWangKernel(ising_structure(lattice=(8, 8)))
    >>> kernel.set_parameters(J=1.0, beta=0.44)
    >>> spins, stats = kernel.sweep(np.ones((8, 8), np.int8), 5, np.random.default_rng(0))
    >>> sorted(stats)
    ['largest_cluster', 'n_clusters']
    """

    algorithm = "Swendsen-Wang"

    def sweep(self, spins: np.ndarray, n_sweeps: int = 1, rng: Any = None):
        """Run ``n_sweeps`` sweeps in place; return the spins and the mean number of clusters
        and largest-cluster fraction (arrays of ``batch_shape``)."""
        self._check()
        spins = np.ascontiguousarray(spins, dtype=np.int8)
        flat = spins.reshape(self.B, self.n)
        st = _swendsen_wang(flat, self.structure.edges, self.K, self.a, int(n_sweeps), _as_rng(rng))
        bs = self.batch_shape
        return spins, {"n_clusters": st[:, 0].reshape(bs), "largest_cluster": st[:, 1].reshape(bs)}


class WolffKernel(_ClusterKernel):
    """Wolff single-cluster moves (ghost spin for fields) on one structure; see the module
    docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> from pymc_statmech.boltzmann.kernels import WolffKernel
    >>> kernel = WolffKernel(ising_structure(lattice=(8, 8)))
    >>> kernel.set_parameters(J=1.0, beta=0.44)
    >>> spins, stats = kernel.sweep(np.ones((8, 8), np.int8), 3, np.random.default_rng(0))
    >>> sorted(stats)
    ['cluster_size', 'rejected']
    """

    algorithm = "Wolff"

    def sweep(self, spins: np.ndarray, n_clusters: int = 1, rng: Any = None):
        """Grow and flip ``n_clusters`` clusters per batch element in place; return the spins,
        the mean size of the flipped clusters and the fraction left unflipped by the ghost."""
        self._check()
        spins = np.ascontiguousarray(spins, dtype=np.int8)
        flat = spins.reshape(self.B, self.n)
        indptr, nbr, edge = self.structure.adjacency
        nc = int(n_clusters)
        if nc < 1:
            raise ValueError(f"n_clusters: must be a positive integer, got {n_clusters!r}.")
        st = _wolff(flat, indptr, nbr, edge, self.K, self.a, nc, _as_rng(rng))
        bs = self.batch_shape
        return spins, {
            "cluster_size": st[:, 1].reshape(bs),
            "rejected": st[:, 2].reshape(bs),
        }


# -- one-call functions ------------------------------------------------------------------------
def _prepare_spins(structure: IsingStructure, spins: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    arr = np.asarray(spins)
    if not np.all((arr == 1) | (arr == -1)):
        bad = arr[(arr != 1) & (arr != -1)]
        raise ValueError(f"spins: values must be -1 or +1, got {bad.ravel()[:3].tolist()}.")
    core = structure.shape if structure.shape is not None else (structure.n_spins,)
    if arr.shape[arr.ndim - len(core) :] == core:
        batch = arr.shape[: arr.ndim - len(core)]
    elif arr.shape[-1:] == (structure.n_spins,):
        batch = arr.shape[:-1]
    else:
        raise ValueError(
            f"spins: shape {arr.shape} must end with {core} or ({structure.n_spins},) for the "
            f"{structure.description}."
        )
    return np.array(arr, dtype=np.int8, order="C"), batch


def heat_bath(
    spins: Any,
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    *,
    structure: IsingStructure,
    n_sweeps: int = 1,
    rng: Any = None,
    extra_field: Any = None,
) -> np.ndarray:
    r"""Heat-bath sweeps of Ising spins: a new ``int8`` array after ``n_sweeps`` sweeps.

    Parameters
    ----------
    spins : array, shape (..., *structure.shape) or (..., n_spins)
        Values in {-1, +1}; leading axes are independent systems.
    J, h, beta : numbers or arrays
        Per bond ``(..., n_edges)``, per site ``(..., n_spins)`` and per system ``(...)``, or
        scalars; :math:`p(s) \propto \exp(\beta(\sum_e J_e s_i s_j + \sum_i h_i s_i))`.
    structure : IsingStructure
    n_sweeps : int
    rng : Generator or seed
    extra_field : array, optional
        Extra natural field :math:`\phi_i` added to :math:`\beta h_i` (see the module docstring).

    Returns
    -------
    ndarray of int8

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> from pymc_statmech.boltzmann.kernels import heat_bath
    >>> s = ising_structure(lattice=(4, 4))
    >>> out = heat_bath(np.ones((4, 4)), 1.0, beta=10.0, structure=s, n_sweeps=5, rng=1)
    >>> int(out.sum())   # deep in the ordered phase the spins stay aligned
    16
    """
    arr, batch = _prepare_spins(structure, spins)
    kernel = HeatBathKernel(structure, batch)
    kernel.set_parameters(J, h, beta, extra_field)
    return kernel.sweep(arr, n_sweeps, rng)


def swendsen_wang(
    spins: Any,
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    *,
    structure: IsingStructure,
    n_sweeps: int = 1,
    rng: Any = None,
    extra_field: Any = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Swendsen-Wang sweeps; arguments as :func:`heat_bath`; ``beta * J >= 0`` required.

    Returns the new spins and the statistics of :meth:`SwendsenWangKernel.sweep`.
    """
    arr, batch = _prepare_spins(structure, spins)
    kernel = SwendsenWangKernel(structure, batch)
    kernel.set_parameters(J, h, beta, extra_field)
    return kernel.sweep(arr, n_sweeps, rng)


def wolff(
    spins: Any,
    J: Any,
    h: Any = 0.0,
    beta: Any = 1.0,
    *,
    structure: IsingStructure,
    n_clusters: int = 1,
    rng: Any = None,
    extra_field: Any = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Wolff cluster moves; arguments as :func:`heat_bath`; ``beta * J >= 0`` required.

    Returns the new spins and the statistics of :meth:`WolffKernel.sweep`.
    """
    arr, batch = _prepare_spins(structure, spins)
    kernel = WolffKernel(structure, batch)
    kernel.set_parameters(J, h, beta, extra_field)
    return kernel.sweep(arr, n_clusters, rng)


def markov_chain_draws(
    structure: IsingStructure,
    J: Any,
    h: Any,
    beta: Any,
    n_draws: int,
    rng: Any = None,
    *,
    burn_in: int = 1000,
    thin: int = 10,
) -> np.ndarray:
    r"""Approximate Ising draws from one Markov chain: ``(n_draws, n_spins)`` ``int8``.

    Swendsen-Wang sweeps when every :math:`\beta J_e \ge 0` (fields by the ghost spin), else
    heat-bath sweeps; ``burn_in`` sweeps from a random start, then one draw every ``thin``
    sweeps. The draws are correlated MCMC output, not independent samples: a fallback for
    systems no exact sampler covers.

    Examples
    --------
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> from pymc_statmech.boltzmann.kernels import markov_chain_draws
    >>> markov_chain_draws(ising_structure(lattice=(16, 16)), 1.0, 0.0, 0.3, 5, 1).shape
    (5, 256)
    """
    rng = _as_rng(rng)
    n = structure.n_spins
    J = np.broadcast_to(np.asarray(J, dtype=np.float64), (structure.n_edges,))
    beta = float(beta)
    cluster = bool(np.all(beta * J >= 0))
    kernel = SwendsenWangKernel(structure) if cluster else HeatBathKernel(structure)
    kernel.set_parameters(J, h, beta)
    state = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    out = np.empty((int(n_draws), n), dtype=np.int8)

    def run(k):
        nonlocal state
        result = kernel.sweep(state, k, rng)
        state = result[0] if cluster else result

    if burn_in > 0:
        run(int(burn_in))
    for d in range(int(n_draws)):
        run(max(int(thin), 1))
        out[d] = state
    return out
