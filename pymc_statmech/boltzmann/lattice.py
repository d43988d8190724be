r"""Ising structures: chains, square lattices and graphs, their bonds, colourings and conventions.

An Ising model on :math:`n` spins :math:`s_i \in \{-1, +1\}` with bonds :math:`e = (i, j)` has

.. math:: E(s) = -\sum_e J_e\, s_i s_j - \sum_i h_i s_i, \qquad p(s) = e^{-\beta E(s)} / Z,

an exponential family with statistics :math:`(s_i s_j, s_i)` and natural parameters
:math:`(\beta J, \beta h)`. :class:`IsingStructure` is the one normalised description of the bonds
that every log-partition method, distribution and sampler reads: the number of spins, the edge
array in a documented order, the lattice geometry when there is one, and a proper colouring of
the sites (sites of one colour share no bond, so a heat-bath sampler may update them together).

Site and bond order (stable; parameters given per bond follow it):

* chain ``lattice=(N,)``: site :math:`i`; bond :math:`i` joins :math:`i` and :math:`i + 1`
  (:math:`i < N - 1`), and with ``boundary="periodic"`` bond :math:`N - 1` joins :math:`N - 1`
  and :math:`0`.
* square lattice ``lattice=(L, W)`` (:math:`L` rows, :math:`W` columns): site :math:`(r, c)` is
  :math:`rW + c` (row-major). First the *row bonds* (along axis 1), row by row: bond
  :math:`r W_1 + c` joins :math:`(r, c)` and :math:`(r, c + 1 \bmod W)`, :math:`c < W_1`, with
  :math:`W_1 = W` when axis 1 is periodic and :math:`W - 1` when open. Then the *column bonds*
  (along axis 0): bond :math:`n_1 + rW + c` (:math:`n_1 = L W_1` row bonds before them) joins
  :math:`(r, c)` and :math:`(r + 1 \bmod L, c)`, :math:`r < L_0`, with :math:`L_0 = L` or
  :math:`L - 1`.
* graph: the bonds in the order given (an edge list), the upper triangle read row by row (a
  coupling matrix), or ``G.edges`` order with the sites numbered in ``G.nodes`` order (a
  networkx graph, or any object with ``nodes`` and ``edges``; networkx is never required).

Periodic sides of length 2 follow the standard convention of the periodic lattice (the one the
transfer matrix and Kaufman's formula use): every site has four bonds, so the two sites of a
periodic side of length 2 are joined by *two* bonds, each with its own entry in the edge order.
A coupling matrix, which can only hold their total, is split equally between them. A periodic
side of length 1 would bond a site to itself and is refused.

Conventions for the two codings. With :math:`x = (s + 1)/2 \in \{0, 1\}` (Boltzmann machines,
lattice gases), :math:`s_i s_j = 4 x_i x_j - 2 x_i - 2 x_j + 1`, so the 0/1 energy
:math:`E_b(x) = -\sum_e W_e x_i x_j - \sum_i b_i x_i` is an Ising energy up to a constant:

.. math:: J_e = W_e / 4, \quad h_i = b_i / 2 + \tfrac14 \sum_{e \ni i} W_e, \quad
          E_b(x) = E(s) + c, \quad c = -\tfrac14\sum_e W_e - \tfrac12 \sum_i b_i,

and :math:`\log Z_b = \log Z - \beta c` (:func:`binary_to_ising`, :func:`ising_to_binary`).

References
----------
.. [1] Baxter, R. J. (1982). Exactly Solved Models in Statistical Mechanics, ch. 2 and 7.
.. [2] Nguyen, H. C., Zecchina, R. and Berg, J. (2017). Inverse statistical problems: from the
   inverse Ising problem to data science. Advances in Physics 66(3), 197-261 (the 0/1 and
   +-1 conventions, section 2).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Constant, Variable

__all__ = [
    "IsingStructure",
    "binary_to_ising",
    "binary_to_spins",
    "edge_couplings",
    "ising_energy",
    "ising_structure",
    "ising_to_binary",
    "site_fields",
    "spins_to_binary",
    "validate_coupling_matrix",
]

_BOUNDARIES = ("periodic", "open")
#: Most sites of a lattice: log Z ~ n, so float64 rounds it by ~ n x 2.2e-16, 1e-3 at 2^42.
MAX_SITES = 2**42


@dataclass(frozen=True, eq=False)
class IsingStructure:
    r"""The bonds of an Ising model: sites, edges in a stable order, geometry and a colouring.

    Build it with :func:`ising_structure`; the constructor does not validate. A lattice's edge
    array and colouring are built on first use (Kaufman's formula and the chain closed form
    never need them, so a 8192 x 8192 lattice costs nothing until a method reads its bonds).

    Parameters
    ----------
    n_spins : int
        Number of sites.
    shape : tuple of int or None
        ``(N,)`` for a chain, ``(L, W)`` for a square lattice, ``None`` for a graph.
    boundary : tuple of str or None
        Per lattice axis, ``"periodic"`` or ``"open"``; ``None`` for a graph.
    graph_edges, graph_colors : ndarray of int, optional
        A graph's bonds and colouring (``None`` for a lattice, which derives its own).

    Attributes
    ----------
    edges : ndarray of int, shape (n_edges, 2)
        Bond :math:`e` joins ``edges[e, 0] < edges[e, 1]`` (in the order of the module
        docstring). A pair may appear twice only on a periodic side of length 2.
    colors : ndarray of int, shape (n_spins,)
        A proper colouring: no bond joins two sites of the same colour. The checkerboard
        :math:`(r + c) \bmod 2` on bipartite lattices, three colours on lattices with an odd
        periodic side; on graphs a 2-colouring when bipartite, else greedy (largest degree
        first).
    """

    n_spins: int
    shape: tuple[int, ...] | None = None
    boundary: tuple[str, ...] | None = None
    graph_edges: np.ndarray | None = None
    graph_colors: np.ndarray | None = None

    @cached_property
    def edges(self) -> np.ndarray:
        if self.shape is None:
            return self.graph_edges
        return _read_only(_lattice_edges(self.shape, self.boundary))

    @cached_property
    def colors(self) -> np.ndarray:
        if self.shape is None:
            return self.graph_colors
        return _read_only(_lattice_colors(self.shape, self.boundary))

    @property
    def n_edges(self) -> int:
        if self.shape is None:
            return int(self.graph_edges.shape[0])
        return sum(_bond_counts(self.shape, self.boundary))

    @property
    def is_lattice(self) -> bool:
        return self.shape is not None

    @property
    def n_colors(self) -> int:
        if not self.n_spins:
            return 0
        if self.shape is None:
            return int(self.graph_colors.max()) + 1
        return 2 if _bipartite_lattice(self.shape, self.boundary) else 3

    @cached_property
    def color_classes(self) -> tuple[np.ndarray, ...]:
        """Site indices of each colour, in increasing order."""
        return tuple(np.flatnonzero(self.colors == k) for k in range(self.n_colors))

    @cached_property
    def degree(self) -> np.ndarray:
        """Number of bonds at each site (a double bond counts twice)."""
        return np.bincount(self.edges.ravel(), minlength=self.n_spins)

    @cached_property
    def multiplicity(self) -> np.ndarray:
        """For each bond, how many bonds join the same pair (2 on periodic sides of length 2)."""
        if self.n_edges == 0:
            return np.zeros(0, dtype=np.int64)
        key = self.edges[:, 0] * self.n_spins + self.edges[:, 1]
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        return counts[inverse]

    @cached_property
    def adjacency(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR neighbour lists ``(indptr, neighbor, edge)``: the bonds of site ``i`` are
        ``edge[indptr[i]:indptr[i + 1]]``, joining it to ``neighbor[...]``."""
        src = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        dst = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
        eid = np.concatenate([np.arange(self.n_edges)] * 2)
        order = np.lexsort((eid, src))
        indptr = np.zeros(self.n_spins + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=self.n_spins), out=indptr[1:])
        return indptr, dst[order].astype(np.int64), eid[order].astype(np.int64)

    @property
    def description(self) -> str:
        if self.shape is None:
            return f"graph with {self.n_spins} spins and {self.n_edges} bonds"
        dims = " x ".join(str(d) for d in self.shape)
        kind = "chain" if len(self.shape) == 1 else "lattice"
        bnd = "/".join(dict.fromkeys(self.boundary))
        return f"{dims} {bnd} {kind}"

    def __repr__(self) -> str:
        return f"IsingStructure({self.description}, {self.n_colors} colours)"

    def bond_grids(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Bond indices laid on the lattice, for transfer matrices and samplers.

        Returns
        -------
        row_bond, column_bond : ndarray of int, shape (L, W)
            ``row_bond[r, c]`` is the bond joining :math:`(r, c)` and :math:`(r, c + 1 \bmod W)`
            and ``column_bond[r, c]`` the one joining :math:`(r, c)` and
            :math:`(r + 1 \bmod L, c)`; ``-1`` where an open boundary has none. A chain
            ``(N,)`` is an ``(N, 1)`` lattice whose bonds are all column bonds.
        """
        if self.shape is None:
            raise ValueError(f"bond_grids: the {self.description} has no lattice geometry.")
        if len(self.shape) == 1:
            (N,) = self.shape
            col = np.full((N, 1), -1, dtype=np.int64)
            nb = N if self.boundary[0] == "periodic" else N - 1
            col[:nb, 0] = np.arange(nb)
            return np.full((N, 1), -1, dtype=np.int64), col
        L, W = self.shape
        W1 = W if self.boundary[1] == "periodic" else W - 1
        L0 = L if self.boundary[0] == "periodic" else L - 1
        row = np.full((L, W), -1, dtype=np.int64)
        row[:, :W1] = np.arange(L * W1).reshape(L, W1)
        col = np.full((L, W), -1, dtype=np.int64)
        col[:L0, :] = L * W1 + np.arange(L0 * W).reshape(L0, W)
        return row, col

    def coupling_matrix(self, J: Any) -> np.ndarray:
        """The dense symmetric ``(..., n, n)`` coupling matrix of numeric per-bond couplings
        (double bonds summed). The inverse of reading a matrix with :func:`edge_couplings`."""
        Je = np.asarray(edge_couplings(self, np.asarray(J, dtype=float)), dtype=float)
        Je = np.broadcast_to(Je, (*Je.shape[:-1], self.n_edges)) if Je.ndim else Je
        Je = np.broadcast_to(Je, (self.n_edges,)) if Je.ndim == 0 else Je
        out = np.zeros((*Je.shape[:-1], self.n_spins, self.n_spins))
        i, j = self.edges[:, 0], self.edges[:, 1]
        np.add.at(out, (..., i, j), Je)
        return out + np.swapaxes(out, -1, -2)

    def energy(self, spins: Any, J: Any, h: Any = 0.0) -> Any:
        """Ising energy of ``spins``; see :func:`ising_energy`."""
        return ising_energy(spins, J, h, structure=self)


# -- construction ------------------------------------------------------------------------------
def ising_structure(
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
    n_spins: int | None = None,
) -> IsingStructure:
    """Build the :class:`IsingStructure` of a chain, a square lattice or a graph.

    Parameters
    ----------
    lattice : tuple of int or IsingStructure, optional
        ``(N,)`` for a chain of ``N >= 2`` spins, ``(L, W)`` for an ``L x W`` square lattice.
        An :class:`IsingStructure` is returned unchanged.
    graph : edge list, coupling matrix, networkx graph or IsingStructure, optional
        An ``(E, 2)`` sequence of site pairs; an ``(n, n)`` symmetric matrix with zero diagonal
        whose non-zero entries are the bonds (a ``(2, 2)`` array of integer dtype is read as an
        edge list, of float or bool dtype as a matrix); or an object with ``nodes`` and
        ``edges`` (networkx). Exactly one of ``lattice`` and ``graph``.
    boundary : {"periodic", "open"} or tuple of them
        Lattice boundary, one for all axes or one per axis (``("open", "periodic")`` is a
        cylinder periodic along the rows). Ignored for graphs.
    n_spins : int, optional
        Number of sites of an edge list (default: largest index + 1), so isolated sites can
        exist.

    Returns
    -------
    IsingStructure

    Raises
    ------
    ValueError
        For a lattice side below 2 (or 1 with ``"periodic"``), an unknown boundary, self-loops
        or repeated bonds in a graph, or an invalid coupling matrix.

    Examples
    --------
    >>> from pymc_statmech.boltzmann import ising_structure
    >>> s = ising_structure(lattice=(3, 4), boundary="open")
    >>> s.n_spins, s.n_edges, s.n_colors
    (12, 17, 2)
    >>> s.edges[:2].tolist(), s.edges[9].tolist()   # row bonds first, then column bonds
    ([[0, 1], [1, 2]], [0, 4])
    """
    if isinstance(lattice, IsingStructure):
        return lattice
    if isinstance(graph, IsingStructure):
        return graph
    if (lattice is None) == (graph is None):
        raise ValueError(
            "ising_structure: give exactly one of lattice=(N,) or (L, W) and graph=(edge list, "
            f"coupling matrix or networkx graph); got lattice={lattice!r} and "
            f"graph={'None' if graph is None else type(graph).__name__}."
        )
    if lattice is not None:
        return _lattice_structure(lattice, boundary)
    return _graph_structure(graph, n_spins)


def _lattice_structure(lattice: Any, boundary: Any) -> IsingStructure:
    try:
        shape = tuple(int(d) for d in lattice)
        if any(d != v for d, v in zip(shape, lattice, strict=True)):
            raise TypeError
    except TypeError:
        raise ValueError(
            f"ising_structure: lattice must be (N,) or (L, W) of integers, got {lattice!r}."
        ) from None
    if len(shape) not in (1, 2):
        raise ValueError(
            f"ising_structure: lattice must be (N,) for a chain or (L, W) for a square lattice, "
            f"got {len(shape)} dimensions {shape}."
        )
    bnd = (boundary,) * len(shape) if isinstance(boundary, str) else tuple(boundary)
    if len(bnd) != len(shape) or any(b not in _BOUNDARIES for b in bnd):
        raise ValueError(
            f"ising_structure: boundary must be 'periodic' or 'open' (or one per axis, "
            f"{len(shape)} here), got {boundary!r}."
        )
    for axis, (d, b) in enumerate(zip(shape, bnd, strict=True)):
        if d < 1 or (len(shape) == 1 and d < 2):
            raise ValueError(
                f"ising_structure: lattice side {axis} has length {d}; a chain needs N >= 2 "
                "and a lattice side at least 1."
            )
        if d == 1 and b == "periodic":
            raise ValueError(
                f"ising_structure: lattice={shape} with a periodic side of length 1 would bond "
                f"each site to itself; use boundary='open' for that axis (an (N, 1) open "
                f"lattice is an open chain) or lattice=({max(shape)},) for a ring."
            )
    n = int(np.prod(shape))
    if n > MAX_SITES:
        raise ValueError(
            f"ising_structure: lattice={shape} has {n:.3g} sites, beyond what float64 resolves: "
            f"log Z grows like the number of sites and its rounding error like {n:.3g} x 2.2e-16, "
            f"above 1e-3 past 2^42 = {MAX_SITES:.3g} sites. Use a smaller lattice: log Z / n "
            "reaches the thermodynamic limit long before this size."
        )
    return IsingStructure(n, shape, bnd)


def _bond_counts(shape: tuple[int, ...], bnd: tuple[str, ...]) -> tuple[int, int]:
    """Numbers of row bonds (along axis 1) and column bonds (along axis 0; a chain's bonds)."""
    if len(shape) == 1:
        return 0, shape[0] if bnd[0] == "periodic" else shape[0] - 1
    L, W = shape
    W1 = W if bnd[1] == "periodic" else W - 1
    L0 = L if bnd[0] == "periodic" else L - 1
    return L * W1, L0 * W


def _lattice_edges(shape: tuple[int, ...], bnd: tuple[str, ...]) -> np.ndarray:
    if len(shape) == 1:
        (N,) = shape
        i = np.arange(_bond_counts(shape, bnd)[1])
        edges = np.stack([i, (i + 1) % N], axis=1)
    else:
        L, W = shape
        W1 = W if bnd[1] == "periodic" else W - 1
        L0 = L if bnd[0] == "periodic" else L - 1
        r, c = np.meshgrid(np.arange(L), np.arange(W1), indexing="ij")
        row = np.stack([r * W + c, r * W + (c + 1) % W], axis=-1).reshape(-1, 2)
        r, c = np.meshgrid(np.arange(L0), np.arange(W), indexing="ij")
        col = np.stack([r * W + c, ((r + 1) % L) * W + c], axis=-1).reshape(-1, 2)
        edges = np.concatenate([row, col]).reshape(-1, 2)
    return np.sort(edges, axis=1).astype(np.int64)


def _bipartite_lattice(shape: tuple[int, ...], bnd: tuple[str, ...]) -> bool:
    return all(b == "open" or d % 2 == 0 for d, b in zip(shape, bnd, strict=True))


def _lattice_colors(shape: tuple[int, ...], bnd: tuple[str, ...]) -> np.ndarray:
    if len(shape) == 1:
        return _axis_coloring(shape[0], bnd[0]).astype(np.int64)
    L, W = shape
    rr, cc = np.divmod(np.arange(L * W), W)
    if _bipartite_lattice(shape, bnd):
        return ((rr + cc) % 2).astype(np.int64)
    # (p0(r) + p1(c)) mod 3 is proper whenever p0, p1 properly colour the two axes.
    p0, p1 = _axis_coloring(L, bnd[0]), _axis_coloring(W, bnd[1])
    return ((p0[rr] + p1[cc]) % 3).astype(np.int64)


def _graph_structure(graph: Any, n_spins: int | None) -> IsingStructure:
    if hasattr(graph, "nodes") and hasattr(graph, "edges"):
        nodes = list(graph.nodes)
        index = {v: k for k, v in enumerate(nodes)}
        pairs = np.array([(index[u], index[v]) for u, v, *_ in graph.edges], dtype=np.int64)
        n = len(nodes)
        edges = _check_edge_list(pairs.reshape(-1, 2), n, "graph")
    else:
        arr = np.asarray(graph)
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(
                "ising_structure: graph must be an (E, 2) edge list, an (n, n) coupling matrix "
                f"or a networkx graph, got an array of shape {arr.shape}."
            )
        is_matrix = arr.shape[0] == arr.shape[1] and (
            arr.shape[0] != 2 or not np.issubdtype(arr.dtype, np.integer)
        )
        if is_matrix:
            arr = validate_coupling_matrix(arr, "graph")
            i, j = np.nonzero(np.triu(arr, 1))
            n = arr.shape[0]
            edges = np.stack([i, j], axis=1).astype(np.int64)
        elif arr.shape[1] == 2:
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise ValueError(f"ising_structure: graph edge list has non-integer sites {arr}.")
            pairs = arr.astype(np.int64)
            n = int(pairs.max()) + 1 if n_spins is None else int(n_spins)
            edges = _check_edge_list(pairs, n, "graph")
        else:
            raise ValueError(
                "ising_structure: graph must be an (E, 2) edge list or an (n, n) coupling "
                f"matrix, got shape {arr.shape}."
            )
    if n_spins is not None and int(n_spins) != n:
        raise ValueError(f"ising_structure: n_spins={n_spins} but the graph has {n} sites.")
    colors = _bipartite_coloring(n, edges)
    if colors is None:
        colors = _greedy_coloring(n, edges)
    return IsingStructure(n, None, None, _read_only(edges), _read_only(colors))


def _check_edge_list(pairs: np.ndarray, n: int, name: str) -> np.ndarray:
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(
            f"ising_structure: {name} has sites outside 0..{n - 1}: "
            f"{pairs[(pairs < 0).any(1) | (pairs >= n).any(1)][:3].tolist()}."
        )
    loops = pairs[:, 0] == pairs[:, 1]
    if loops.any():
        raise ValueError(
            f"ising_structure: {name} has self-loops {pairs[loops][:3].tolist()}; s_i s_i = 1 "
            "is a constant, not a bond. Remove them."
        )
    edges = np.sort(pairs, axis=1)
    _, first, counts = np.unique(edges, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = edges[first[counts > 1]][:3].tolist()
        raise ValueError(
            f"ising_structure: {name} repeats the bonds {dup}; give each pair once with the "
            "total coupling."
        )
    return edges.astype(np.int64)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _axis_coloring(d: int, boundary: str) -> np.ndarray:
    """Parity along a path or even cycle; an odd cycle ends on a third colour."""
    p = np.arange(d) % 2
    if boundary == "periodic" and d % 2 == 1:
        p[-1] = 2
    return p


def _bipartite_coloring(n: int, edges: np.ndarray) -> np.ndarray | None:
    """A 2-colouring by breadth-first search, or None when the graph has an odd cycle."""
    colors = np.full(n, -1, dtype=np.int64)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges.tolist():
        nbrs[i].append(j)
        nbrs[j].append(i)
    for root in range(n):
        if colors[root] >= 0:
            continue
        colors[root] = 0
        queue = deque([root])
        while queue:
            i = queue.popleft()
            for j in nbrs[i]:
                if colors[j] < 0:
                    colors[j] = 1 - colors[i]
                    queue.append(j)
                elif colors[j] == colors[i]:
                    return None
    return colors


def _greedy_coloring(n: int, edges: np.ndarray) -> np.ndarray:
    """Welsh-Powell: sites by decreasing degree take the smallest colour free among neighbours."""
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges.tolist():
        nbrs[i].add(j)
        nbrs[j].add(i)
    colors = np.full(n, -1, dtype=np.int64)
    for i in sorted(range(n), key=lambda k: (-len(nbrs[k]), k)):
        used = {int(colors[j]) for j in nbrs[i]}
        colors[i] = next(k for k in range(len(used) + 1) if k not in used)
    return colors


# -- parameters --------------------------------------------------------------------------------
def _symbolic(*xs: Any) -> bool:
    return any(isinstance(x, Variable) for x in xs)


def _finite_parameter(x: Any, name: str) -> Any:
    """A numeric coupling, field, temperature or weight as a float array, refused by name when
    it is not a number or not finite; symbolic inputs are returned as they are."""
    if _symbolic(x):
        return x
    try:
        value = np.asarray(x.data if isinstance(x, Constant) else x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: give a number or an array of numbers (or a PyTensor/PyMC variable), not "
            f"{type(x).__name__} {x!r:.80}."
        ) from None
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite; got {name}={value.ravel()[:5].tolist()}.")
    return value


def _static_shape(x: Any) -> tuple[int | None, ...]:
    return tuple(x.type.shape) if isinstance(x, Variable) else np.shape(x)


def validate_coupling_matrix(M: Any, name: str = "J") -> Any:
    """Check that a numeric coupling matrix is square, symmetric and has a zero diagonal.

    Symmetry is checked to 1e-12 of the largest entry (so ``(A + A.T) / 2`` passes); the
    diagonal must be exactly zero. A symbolic matrix is returned unchecked.

    Raises
    ------
    ValueError
        Naming the argument and the offending entries.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import validate_coupling_matrix
    >>> validate_coupling_matrix(np.array([[0.0, 1.0], [1.0, 0.0]])).shape
    (2, 2)
    """
    if isinstance(M, Variable) and not isinstance(M, Constant):
        return M
    A = np.asarray(M.data if isinstance(M, Constant) else M, dtype=float)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            f"{name}: a coupling matrix must be square (..., n, n), got shape {A.shape}."
        )
    scale = np.max(np.abs(A), initial=0.0)
    asym = np.abs(A - np.swapaxes(A, -1, -2))
    if np.any(asym > 1e-12 * scale):
        i, j = np.unravel_index(np.argmax(asym), asym.shape)[-2:]
        raise ValueError(
            f"{name}: the coupling matrix must be symmetric; entry ({i}, {j}) is "
            f"{float(A[..., i, j].ravel()[0])} but ({j}, {i}) is {float(A[..., j, i].ravel()[0])}."
        )
    diag = np.diagonal(A, axis1=-2, axis2=-1)
    if np.any(diag != 0):
        k = int(np.argmax(np.any(diag.reshape(-1, A.shape[-1]) != 0, axis=0)))
        raise ValueError(
            f"{name}: the coupling matrix must have a zero diagonal (s_i s_i = 1 is not a "
            f"bond), got {name}[{k}, {k}] = {float(diag[..., k].ravel()[0])}."
        )
    return A


def _is_matrix(structure: IsingStructure, J: Any) -> bool:
    shape = _static_shape(J)
    n = structure.n_spins
    return len(shape) >= 2 and shape[-2:] == (n, n)


def edge_couplings(structure: IsingStructure, J: Any) -> Any:
    r"""Couplings in the structure's bond order, ``(..., n_edges)`` or a scalar.

    Parameters
    ----------
    structure : IsingStructure
    J : scalar, array or PyTensor variable
        A scalar (uniform: returned as is), a per-bond array whose last axis has length
        ``n_edges`` (leading axes are a batch), or an ``(..., n, n)`` coupling matrix. An array
        whose last two axes are ``(n, n)`` is read as a matrix. A numeric matrix must be
        symmetric with zero diagonal and zero off the structure's bonds; the entry of a double
        bond is split equally between its two bonds.

    Returns
    -------
    ndarray or TensorVariable
        NumPy for NumPy input, PyTensor for symbolic input.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import edge_couplings, ising_structure
    >>> s = ising_structure(graph=[(0, 1), (1, 2)])
    >>> edge_couplings(s, np.array([[0, 1.5, 0], [1.5, 0, -2], [0, -2, 0]])).tolist()
    [1.5, -2.0]
    """
    E = structure.n_edges
    shape = _static_shape(J)
    if len(shape) == 0:
        return J
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    if _is_matrix(structure, J):
        if not _symbolic(J) or isinstance(J, Constant):
            A = validate_coupling_matrix(J, "J")
            mask = np.zeros(A.shape[-2:], dtype=bool)
            mask[i, j] = mask[j, i] = True
            off = np.any(A != 0, axis=tuple(range(A.ndim - 2))) & ~mask
            if off.any():
                a, b = np.argwhere(off)[0]
                raise ValueError(
                    f"J: the coupling matrix has J[{a}, {b}] = {float(A[..., a, b].ravel()[0])} "
                    f"but sites {a} and {b} are not bonded in the {structure.description}."
                )
            return A[..., i, j] / structure.multiplicity
        return J[..., i, j] / structure.multiplicity
    if shape[-1] is not None and shape[-1] != E:
        raise ValueError(
            f"J: per-bond couplings need a last axis of length n_edges = {E} (the bond order "
            f"of the {structure.description}) or an ({structure.n_spins}, {structure.n_spins}) "
            f"matrix, got shape {shape}."
        )
    return J


def site_fields(structure: IsingStructure, h: Any) -> Any:
    """Fields per site, ``(..., n_spins)``, or a scalar.

    ``h`` is a scalar, an array with last axis ``n_spins``, or for an ``(L, W)`` lattice an
    array with last axes ``(L, W)`` (flattened row-major).

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_structure, site_fields
    >>> site_fields(ising_structure(lattice=(2, 2)), np.arange(4.0).reshape(2, 2)).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    shape = _static_shape(h)
    n = structure.n_spins
    if len(shape) == 0:
        return h
    if (
        structure.shape is not None
        and len(structure.shape) == 2
        and len(shape) >= 2
        and shape[-2:] == structure.shape
        and shape[-1] != n
    ):
        return h.reshape((*h.shape[:-2], n))
    if shape[-1] is not None and shape[-1] != n:
        raise ValueError(
            f"h: per-site fields need a last axis of length n_spins = {n} "
            f"({structure.description}), got shape {shape}."
        )
    return h


def ising_energy(
    spins: Any,
    J: Any,
    h: Any = 0.0,
    *,
    structure: IsingStructure | None = None,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
) -> Any:
    r"""Energy :math:`E(s) = -\sum_e J_e s_i s_j - \sum_i h_i s_i` of spin configurations.

    Parameters
    ----------
    spins : array or TensorVariable, shape (..., n_spins) or (..., L, W)
        Spins in :math:`\{-1, +1\}`; leading axes are configurations (vectorised).
    J, h : see :func:`edge_couplings` and :func:`site_fields`
        Their batch axes broadcast against the configuration axes.
    structure, lattice, graph, boundary :
        The bonds (see :func:`ising_structure`).

    Returns
    -------
    ndarray or TensorVariable, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_energy
    >>> float(ising_energy(np.ones(9), 1.0, lattice=(3, 3)))   # 18 satisfied bonds
    -18.0
    """
    s = structure if structure is not None else ising_structure(lattice, graph, boundary)
    symbolic = _symbolic(spins, J, h)
    xp = pt if symbolic else np
    if symbolic:
        spins = pt.as_tensor_variable(spins)
    else:
        spins = np.asarray(spins, dtype=float)
    shape = _static_shape(spins)
    if s.shape is not None and len(s.shape) == 2 and tuple(shape[-2:]) == s.shape:
        spins = spins.reshape((*spins.shape[:-2], s.n_spins))
    Je = edge_couplings(s, J)
    hi = site_fields(s, h)
    if symbolic:
        Je, hi = pt.as_tensor_variable(Je), pt.as_tensor_variable(hi)
    else:
        Je, hi = np.asarray(Je, dtype=float), np.asarray(hi, dtype=float)
    pair = spins[..., s.edges[:, 0]] * spins[..., s.edges[:, 1]]
    coupling = xp.sum(pair, axis=-1) * Je if Je.ndim == 0 else xp.sum(pair * Je, axis=-1)
    field = xp.sum(spins, axis=-1) * hi if hi.ndim == 0 else xp.sum(spins * hi, axis=-1)
    return -coupling - field


# -- codings -----------------------------------------------------------------------------------
def spins_to_binary(spins: Any) -> Any:
    """Map spins :math:`s \\in \\{-1, +1\\}` to :math:`x = (s + 1)/2 \\in \\{0, 1\\}`.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import spins_to_binary
    >>> spins_to_binary(np.array([-1, 1, 1])).tolist()
    [0, 1, 1]
    """
    _require_values(spins, (-1, 1), "spins")
    return (spins + 1) // 2


def binary_to_spins(x: Any) -> Any:
    """Map :math:`x \\in \\{0, 1\\}` to spins :math:`s = 2x - 1 \\in \\{-1, +1\\}`.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import binary_to_spins
    >>> binary_to_spins(np.array([0, 1, 1])).tolist()
    [-1, 1, 1]
    """
    _require_values(x, (0, 1), "x")
    return 2 * x - 1


def _require_values(x: Any, allowed: tuple[int, int], name: str) -> None:
    """Numeric input must hold only the two codes (symbolic input is converted as it is)."""
    if _symbolic(x):
        return
    values = np.asarray(x)
    try:
        bad = ~np.isin(values, allowed)
    except TypeError:
        bad = np.ones(values.shape, dtype=bool)
    if bad.any():
        found = values[bad].ravel()[:5].tolist()
        raise ValueError(f"{name} must hold only {allowed[0]} and {allowed[1]}; found {found}.")


def _neighbor_sum(structure: IsingStructure, Je: Any, symbolic: bool) -> Any:
    """sum_{e containing i} J_e for each site i, (..., n)."""
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    n = structure.n_spins
    if symbolic:
        Je = pt.as_tensor_variable(Je)
        Je = pt.broadcast_to(Je, (structure.n_edges,)) if Je.ndim == 0 else Je
        core_first = pt.moveaxis(Je, -1, 0)
        out = pt.zeros((n, *core_first.shape[1:]), dtype=Je.dtype)
        out = pt.inc_subtensor(out[i], core_first)
        out = pt.inc_subtensor(out[j], core_first)
        return pt.moveaxis(out, 0, -1)
    Je = np.asarray(Je, dtype=float)
    Je = np.broadcast_to(Je, (structure.n_edges,)) if Je.ndim == 0 else Je
    out = np.zeros((*Je.shape[:-1], n))
    np.add.at(out, (..., i), Je)
    np.add.at(out, (..., j), Je)
    return out


def _resolve(structure, lattice, graph, boundary):
    if structure is not None or lattice is not None or graph is not None:
        return ising_structure(lattice if structure is None else structure, graph, boundary)
    return None


def binary_to_ising(
    W: Any,
    b: Any = 0.0,
    *,
    structure: IsingStructure | None = None,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
) -> tuple[Any, Any, Any]:
    r"""Ising parameters of a 0/1 energy :math:`E_b(x) = -\sum_e W_e x_i x_j - \sum_i b_i x_i`.

    With :math:`s = 2x - 1`, :math:`E_b(x) = E(s) + c` exactly, where

    .. math:: J = W/4, \quad h_i = b_i/2 + \tfrac14\sum_{e \ni i} W_e, \quad
              c = -\tfrac14 \sum_e W_e - \tfrac12 \sum_i b_i,

    so :math:`\log Z_b(\beta) = \log Z(\beta) - \beta c` (the log-partitions differ by
    :math:`\beta c`, and a fit in one convention is the other's up to this map).

    Parameters
    ----------
    W : scalar, per-bond array or (..., n, n) matrix
        0/1 couplings. With a matrix and no structure, the matrix is the structure
        (:math:`E_b = -\tfrac12 x^\top W x - b^\top x`).
    b : scalar or (..., n) array
        0/1 biases.
    structure, lattice, graph, boundary :
        The bonds (see :func:`ising_structure`); optional for a matrix ``W``.

    Returns
    -------
    J, h, c
        ``J`` in ``W``'s layout (scalar, per bond or matrix), ``h`` per site, the constant
        ``c`` with :math:`E_b(x) = E(2x - 1) + c`.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import binary_to_ising
    >>> J, h, c = binary_to_ising(np.array([[0, 4.0], [4.0, 0]]), np.array([2.0, 0.0]))
    >>> J.tolist(), h.tolist(), float(c)
    ([[0.0, 1.0], [1.0, 0.0]], [2.0, 1.0], -2.0)
    """
    return _convert(W, b, structure, lattice, graph, boundary, to_ising=True)


def ising_to_binary(
    J: Any,
    h: Any = 0.0,
    *,
    structure: IsingStructure | None = None,
    lattice: Any = None,
    graph: Any = None,
    boundary: str | tuple[str, ...] = "periodic",
) -> tuple[Any, Any, Any]:
    r"""0/1 parameters of an Ising energy: the inverse of :func:`binary_to_ising`.

    With :math:`x = (s + 1)/2`, :math:`E(s) = E_b(x) + c'` exactly, where

    .. math:: W = 4J, \quad b_i = 2h_i - 2\sum_{e \ni i} J_e, \quad
              c' = \sum_i h_i - \sum_e J_e = -c,

    so :math:`\log Z(\beta) = \log Z_b(\beta) - \beta c'`.

    Returns
    -------
    W, b, c
        ``W`` in ``J``'s layout, ``b`` per site, the constant ``c'``.

    Examples
    --------
    >>> from pymc_statmech.boltzmann import ising_to_binary
    >>> W, b, c = ising_to_binary(1.0, 0.5, lattice=(3,), boundary="open")
    >>> float(W), b.tolist(), float(c)
    (4.0, [-1.0, -3.0, -1.0], -0.5)
    """
    return _convert(J, h, structure, lattice, graph, boundary, to_ising=False)


def _convert(A, v, structure, lattice, graph, boundary, to_ising):
    A = _finite_parameter(A, "W" if to_ising else "J")
    v = _finite_parameter(v, "b" if to_ising else "h")
    symbolic = _symbolic(A, v)
    xp = pt if symbolic else np
    A = pt.as_tensor_variable(A) if symbolic else np.asarray(A, dtype=float)
    v = pt.as_tensor_variable(v) if symbolic else np.asarray(v, dtype=float)
    s = _resolve(structure, lattice, graph, boundary)
    name = "W" if to_ising else "J"
    shape = _static_shape(A)
    if s is None:
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(
                f"{name}: without a structure (lattice= or graph=) the couplings must be an "
                f"(n, n) matrix, got shape {shape}."
            )
        if not symbolic:
            validate_coupling_matrix(A, name)
        n = shape[-1]
        nsum = xp.sum(A, axis=-1)  # sum_j A_ij: each pair once per endpoint
        pair_total = xp.sum(nsum, axis=-1) / 2
    else:
        n = s.n_spins
        if len(shape) >= 2 and _is_matrix(s, A):
            Ae = edge_couplings(s, A)
            nsum = _neighbor_sum(s, Ae, symbolic)
            pair_total = xp.sum(Ae, axis=-1)
        else:
            Ae = edge_couplings(s, A)
            nsum = _neighbor_sum(s, Ae, symbolic)
            pair_total = A * s.n_edges if len(shape) == 0 else xp.sum(A, axis=-1)
    v_full = v + xp.zeros(nsum.shape) if symbolic else np.broadcast_to(v, np.shape(nsum)) * 1.0
    v_total = xp.sum(v_full, axis=-1)
    if n == 0:
        raise ValueError(f"{name}: the structure has no spins.")
    if to_ising:
        return A / 4, v_full / 2 + nsum / 4, -pair_total / 4 - v_total / 2
    return 4 * A, 2 * v_full - 2 * nsum, v_total - pair_total
