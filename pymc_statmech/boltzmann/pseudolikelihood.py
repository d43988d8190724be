r"""Besag's pseudo-likelihood of observed Ising snapshots, summed over neighbourhood patterns.

The conditional of spin :math:`i` given the rest,

.. math::
    \log p(s_i \mid s_{-i}) = -\log\bigl(1 + e^{-2 \beta s_i (h_i + \sum_j J_{ij} s_j)}\bigr),

depends on a snapshot only through the pattern :math:`(s_i, s_{\partial i})` of the site and
its neighbours. On observed data (a constant) the distinct patterns of every site and the
snapshots they occur in are found once, in NumPy, when the graph is built. The per-snapshot
log-pseudo-likelihood is then a gather of per-pattern terms, and its sum over snapshots, the
term ``pm.sample`` differentiates, is a count-weighted sum over the patterns: on a square
lattice at most :math:`2^5 = 32` patterns per site, whatever the number of snapshots.

Two graph rewrites make that sum cheap without changing any value. ``Sum`` over all snapshots
of :class:`PatternTerms` becomes the count-weighted dot product, and the gradient's scatter of
a constant output gradient back onto the patterns (:class:`PatternScatter`) becomes the counts
times that constant. Per-snapshot values, which pointwise log-likelihoods need, stay exact.

References
----------
Besag, J. (1975). Statistical analysis of non-lattice data. *The Statistician* 24, 179-195.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import disconnected_type
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.scalar.basic import Second
from pytensor.tensor.basic import Alloc
from pytensor.tensor.elemwise import DimShuffle, Elemwise
from pytensor.tensor.math import Sum
from pytensor.tensor.rewriting.basic import register_canonicalize, register_specialize

from pymc_statmech.boltzmann.lattice import IsingStructure

__all__ = ["NeighbourhoodPatterns", "neighbourhood_patterns", "pattern_pseudo_log_likelihood"]


class NeighbourhoodPatterns:
    """The distinct (own spin, neighbour spins) patterns of every site in a set of snapshots.

    Attributes
    ----------
    site : ndarray, shape (P,)
        Site of each pattern.
    own : ndarray, shape (P,)
        The site's spin in the pattern, +-1.
    neighbour : ndarray, shape (P, D)
        The neighbours' spins, padded with 0 to the largest degree ``D``.
    bond : ndarray, shape (P, D)
        The bond joining the site to each neighbour, padded with 0 (its padded spin is 0).
    index : ndarray, shape (..., n_spins)
        Pattern of every site in every snapshot.
    counts : ndarray, shape (P,)
        Number of (snapshot, site) occurrences of each pattern.
    """

    def __init__(self, site, own, neighbour, bond, index):
        self.site, self.own, self.neighbour, self.bond, self.index = (
            site,
            own,
            neighbour,
            bond,
            index,
        )
        self.counts = np.bincount(index.ravel(), minlength=len(site)).astype(np.float64)

    @property
    def n_patterns(self) -> int:
        return len(self.site)


def neighbourhood_patterns(structure: IsingStructure, spins: np.ndarray) -> NeighbourhoodPatterns:
    """Find the distinct neighbourhood patterns of ``spins`` (shape ``(..., n_spins)``, +-1)."""
    indptr, neighbour, bond = structure.adjacency
    degree = np.diff(indptr)
    width = int(degree.max(initial=0))
    flat = np.asarray(spins).reshape(-1, structure.n_spins)
    index = np.empty(flat.shape, dtype=np.int64)
    parts: dict[str, list] = {"site": [], "own": [], "neighbour": [], "bond": []}
    offset = 0
    for i in range(structure.n_spins):
        k = slice(indptr[i], indptr[i + 1])
        columns = flat[:, np.concatenate([[i], neighbour[k]])]
        if columns.shape[1] <= 62:  # one integer code per row: np.unique on codes is fast
            codes = (columns > 0).astype(np.int64) @ (1 << np.arange(columns.shape[1]))
            _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
            rows = columns[first]
        else:
            rows, inverse = np.unique(columns, axis=0, return_inverse=True)
        index[:, i] = offset + inverse.ravel()
        offset += len(rows)
        padded = np.zeros((len(rows), width))
        padded[:, : degree[i]] = rows[:, 1:]
        ids = np.zeros((len(rows), width), dtype=np.int64)
        ids[:, : degree[i]] = bond[k]
        parts["site"].append(np.full(len(rows), i, dtype=np.int64))
        parts["own"].append(rows[:, 0].astype(np.float64))
        parts["neighbour"].append(padded)
        parts["bond"].append(ids)
    joined = {key: np.concatenate(value) for key, value in parts.items()}
    return NeighbourhoodPatterns(**joined, index=index.reshape(np.shape(spins)))


class PatternScatter(OpFromGraph):
    """The pullback of :class:`PatternTerms`: scatter-add of per-snapshot output gradients
    onto the patterns they use."""


class PatternTerms(OpFromGraph):
    """Per-snapshot sums of per-pattern terms, ``out[...] = sum_i terms[index[..., i]]``."""

    def pullback(self, inputs, outputs, output_grads):
        _, index = inputs
        return [self.scatter(output_grads[0], index), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def _pattern_terms(patterns: NeighbourhoodPatterns, terms):
    t = pt.vector("terms", dtype="float64")
    index = pt.tensor("index", dtype="int64", shape=(None,) * patterns.index.ndim)
    g = pt.tensor("output_gradient", dtype="float64", shape=(None,) * (patterns.index.ndim - 1))
    scattered = pt.inc_subtensor(
        pt.zeros(patterns.n_patterns)[index], pt.broadcast_to(g[..., None], index.shape)
    )
    op = PatternTerms([t, index], [t[index].sum(axis=-1)], name="pattern_terms")
    op.scatter = PatternScatter([g, index], [scattered], name="pattern_scatter")
    op.counts = op.scatter.counts = patterns.counts
    return op(terms, pt.constant(patterns.index))


@register_canonicalize
@register_specialize
@node_rewriter([Sum])
def local_sum_of_pattern_terms(fgraph, node):
    """``sum(PatternTerms(t))`` over every snapshot -> ``counts @ t``."""
    (x,) = node.inputs
    if x.owner is None or not isinstance(x.owner.op, PatternTerms):
        return None
    if node.op.axis is not None and len(node.op.axis) != x.ndim:
        return None
    terms, _ = x.owner.inputs
    return [pt.dot(pt.constant(x.owner.op.counts), terms).astype(node.outputs[0].dtype)]


def _constant_value(g):
    """The scalar behind a tensor that repeats one value (an alloc or fill of a scalar), else
    ``None``."""
    node = g.owner
    if node is None:
        return None
    if isinstance(node.op, Alloc) and node.inputs[0].ndim == 0:
        return node.inputs[0]
    if isinstance(node.op, Alloc | DimShuffle) and all(node.inputs[0].type.broadcastable):
        return node.inputs[0].squeeze()
    if (
        isinstance(node.op, Elemwise)
        and isinstance(node.op.scalar_op, Second)
        and all(node.inputs[1].type.broadcastable)
    ):
        return node.inputs[1].squeeze()
    return None


@register_canonicalize
@register_specialize
@node_rewriter([PatternScatter])
def local_constant_pattern_scatter(fgraph, node):
    """``PatternScatter(c * ones)`` -> ``counts * c``: the gradient of the summed terms."""
    value = _constant_value(node.inputs[0])
    if value is None:
        return None
    return [pt.constant(node.op.counts) * value]


def pattern_pseudo_log_likelihood(patterns: NeighbourhoodPatterns, J, h, beta):
    r"""Per-snapshot log-pseudo-likelihood :math:`\sum_i \log p(s_i \mid s_{-i})` from the
    neighbourhood patterns, shape ``patterns.index.shape[:-1]``.

    ``J`` per bond ``(n_edges,)``, ``h`` per site ``(n_spins,)``, ``beta`` a scalar. The sum
    over snapshots costs one term per pattern (see the module docstring).
    """
    field = h[patterns.site] + (J[patterns.bond] * patterns.neighbour).sum(axis=-1)
    terms = -pt.softplus(-2.0 * beta * patterns.own * field)
    return _pattern_terms(patterns, pt.cast(terms, "float64"))
