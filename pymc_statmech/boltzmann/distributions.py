r"""Ising and Boltzmann distributions as PyMC distributions.

An Ising model is an exponential family: statistics :math:`T(s) = (s_i s_j)_{e}, (s_i)_i` and
natural parameters :math:`\eta = (\beta J, \beta h)`, with log-partition
:math:`A(\eta) = \log Z` computed by :func:`~pymc_statmech.boltzmann.ising_log_partition`. The
distribution is declared through :class:`~pymc_statmech.expfam.family.Family`, so its mean
parameters (correlations and magnetisations), Fisher information (the susceptibilities) and
entropy come from :math:`A` by automatic differentiation, as for every family of the library:
``psm.entropy(ising_variable)`` works.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.distributions.distribution import Discrete, _support_point
from pymc.distributions.shape_utils import rv_size_is_none
from pymc.logprob.abstract import _logprob
from pytensor.graph.basic import Constant
from pytensor.tensor.basic import Alloc
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.random.op import RandomVariable

from pymc_statmech._compile import one_shot_function
from pymc_statmech.boltzmann.exact import exact_sampler, exact_sampler_fits
from pymc_statmech.boltzmann.lattice import (
    IsingStructure,
    _finite_parameter,
    edge_couplings,
    ising_structure,
    site_fields,
)
from pymc_statmech.boltzmann.partition import LOG_PARTITION_METHODS, ising_log_partition
from pymc_statmech.boltzmann.pseudolikelihood import (
    neighbourhood_patterns,
    pattern_pseudo_log_likelihood,
)
from pymc_statmech.expfam.api import FamilyForm, register_family_form
from pymc_statmech.expfam.families import categorical
from pymc_statmech.expfam.family import Family
from pymc_statmech.tensors import as_float_tensor

__all__ = ["Boltzmann", "Ising", "IsingRV", "ising_family"]

#: Methods of ``psm.Ising``: the exact or approximate log-partition, or the pseudo-likelihood.
ISING_METHODS = (*LOG_PARTITION_METHODS, "pseudo_likelihood")


def _flat_spins(structure: IsingStructure, value):
    """``(..., n)`` spins from a value shaped ``(..., *structure.shape)`` (or ``(..., n)``)."""
    core = len(structure.shape) if structure.shape is not None else 1
    if core == 2:
        return value.reshape((*value.shape[:-2], structure.n_spins))
    return value


def local_fields(structure: IsingStructure, J, h, spins):
    r"""Local fields :math:`f_i = h_i + \sum_{e = (i, j)} J_e s_j`, shape ``(..., n)``."""
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    spins_first = pt.moveaxis(spins, -1, 0)
    J_first = pt.moveaxis(
        pt.broadcast_to(J, (*spins.shape[:-1], structure.n_edges)) if J.ndim < spins.ndim else J,
        -1,
        0,
    )
    field = pt.zeros_like(spins_first)
    field = pt.inc_subtensor(field[i], J_first * spins_first[j])
    field = pt.inc_subtensor(field[j], J_first * spins_first[i])
    return pt.moveaxis(field, 0, -1) + h


@functools.cache
def ising_family(structure: IsingStructure, method: str = "auto") -> Family:
    r"""The Ising model on ``structure`` as an exponential family in :math:`(\beta J, \beta h)`.

    Its log-partition is ``ising_log_partition(eta_J, eta_h, beta=1, method=method)``: an exact
    method for ``"auto"`` (or an error naming the memory it would need), an approximation only
    when asked for by name.
    """
    core = len(structure.shape) if structure.shape is not None else 1
    i, j = structure.edges[:, 0], structure.edges[:, 1]

    def statistics(x):
        s = pt.cast(_flat_spins(structure, x), "float64")
        return s[..., i] * s[..., j], s

    def log_partition(eta):
        coupling, field = eta
        return ising_log_partition(coupling, field, 1.0, lattice=structure, method=method)

    def in_support(x):
        s = _flat_spins(structure, x)
        return pt.all(pt.eq(pt.abs(s), 1), axis=-1)

    return Family(
        name=f"Ising({structure.description})",
        statistics=statistics,
        log_partition=log_partition,
        log_base_measure=lambda x: pt.zeros_like(
            _flat_spins(structure, x)[..., 0], dtype="float64"
        ),
        natural_ndims=(1, 1),
        value_ndim=core,
        natural_domain=lambda eta: [],
        in_support=in_support,
        support="{-1, +1} per site",
        discrete=True,
        component_sizes=(structure.n_edges, structure.n_spins),
        expected_log_base_measure=lambda eta: pt.zeros_like(eta[0][..., 0] + eta[1][..., 0]),
        reference="Baxter (1982), Exactly Solved Models in Statistical Mechanics, ch. 7.",
    )


class IsingRV(RandomVariable):
    r"""Random-variable op of :class:`Ising`: inputs ``J`` per bond ``(..., n_edges)``, ``h`` per
    site ``(..., n_spins)`` and ``beta`` ``(...)``; draws shaped ``(..., *structure.shape)``
    (``(..., n_spins)`` on a graph), int8 in {-1, +1}.

    Draws are exact (enumeration up to 20 spins, forward-filtering backward-sampling through
    the row transfer matrix of a lattice with a side of at most 12); otherwise they come from a
    Swendsen-Wang / heat-bath Markov chain with burn-in (MCMC, not independent; a warning says
    so).
    """

    name = "ising"
    dtype = "int8"
    _print_name = ("Ising", "\\operatorname{Ising}")
    __props__ = ("name", "signature", "dtype", "inplace", "structure", "method", "uniform")

    def __init__(
        self,
        structure: IsingStructure,
        method: str = "auto",
        uniform: tuple[bool, bool] = (False, False),
        *,
        signature=None,
        **kwargs,
    ):
        self.structure = structure
        self.method = method
        # (J, h) given as one number each: log Z then takes the scalar, so that the uniform-only
        # exact methods (Kaufman, the chain closed form) apply to the per-bond inputs
        self.uniform = tuple(uniform)
        core = "(l,w)" if structure.shape is not None and len(structure.shape) == 2 else "(n)"
        kwargs.pop("dtype", None)
        super().__init__(signature=signature or f"(e),(n),()->{core}", dtype="int8", **kwargs)

    def _supp_shape_from_params(self, dist_params, param_shapes=None):
        if self.structure.shape is not None and len(self.structure.shape) == 2:
            return self.structure.shape
        return (self.structure.n_spins,)

    def rng_fn(self, rng, J, h, beta, size):
        structure = self.structure
        J, h, beta = np.asarray(J, float), np.asarray(h, float), np.asarray(beta, float)
        batch = (
            tuple(size)
            if size is not None
            else np.broadcast_shapes(J.shape[:-1], h.shape[:-1], beta.shape)
        )
        J = np.broadcast_to(J, (*batch, structure.n_edges)).reshape(-1, structure.n_edges)
        h = np.broadcast_to(h, (*batch, structure.n_spins)).reshape(-1, structure.n_spins)
        beta = np.broadcast_to(beta, batch).reshape(-1)
        # one forward pass per distinct parameter set (observed snapshots share theirs)
        table = np.column_stack([J, h, beta])
        unique, inverse = np.unique(table, axis=0, return_inverse=True)
        out = np.empty((len(table), structure.n_spins), dtype=np.int8)
        why = exact_sampler_fits(structure)
        for k, row in enumerate(unique):
            where = np.flatnonzero(inverse.ravel() == k)
            Jk, hk, bk = row[: structure.n_edges], row[structure.n_edges : -1], row[-1]
            if not why:
                out[where] = _exact_sampler(structure, Jk.tobytes(), hk.tobytes(), bk)(
                    len(where), rng
                )
            else:
                out[where] = _mcmc_draws(structure, Jk, hk, bk, len(where), rng, why)
        core = self._supp_shape_from_params(None)
        return out.reshape(*batch, *core)


@functools.lru_cache(maxsize=1)
def _exact_sampler(structure: IsingStructure, J: bytes, h: bytes, beta: float):
    """The exact sampler of the last parameter set (its forward pass is the costly part, and
    successive draws usually share their parameters); one kept, so memory stays that of one."""
    return exact_sampler(structure, np.frombuffer(J), np.frombuffer(h), float(beta))


# Under Numba, Ising draws run the whole batch through the RV's own ``perform`` (exact samplers
# and Markov chains are NumPy and Numba code already): no core Numba implementation is
# registered, so PyTensor calls ``perform`` in object mode. Registering a one-draw core instead
# made PyTensor compile its batching wrapper, 4 s of shape checks and error messages per graph
# that draws (``pm.draw`` of a 4 x 4 lattice in a new process: 5.7 s, now 1.3 s). The object
# mode is deliberate, so PyTensor's warning about it is silenced for this Op only.
warnings.filterwarnings(
    "ignore", message=r"Numba will use object mode to run IsingRV\{", category=UserWarning
)


def _mcmc_draws(structure, J, h, beta, n_draws, rng, why):
    # the Numba spin kernels load only when exact draws do not fit
    from pymc_statmech.boltzmann.kernels import markov_chain_draws

    warnings.warn(
        f"Exact Ising draws are not available ({why}): drawing from a Markov chain "
        "(Swendsen-Wang when all couplings are >= 0, else heat-bath sweeps) after burn-in; "
        "successive draws are correlated.",
        UserWarning,
        stacklevel=4,
    )
    return markov_chain_draws(structure, J, h, beta, n_draws, rng)


def _symbolic_graph(x) -> bool:
    """Whether ``x`` depends on an input other than constants (a model variable, a shared
    variable), so that it cannot be evaluated now."""
    return any(not isinstance(v, Constant) for v in pytensor.graph.traversal.graph_inputs([x]))


def _is_fixed(x) -> bool:
    return not isinstance(x, pt.TensorVariable) or isinstance(x, Constant)


class Ising(Discrete):
    r"""Ising model on a chain, a square lattice or a graph, as a PyMC distribution.

    .. math:: p(s) = \frac{1}{Z}\exp\Big(\beta \sum_{e=(i,j)} J_e s_i s_j
              + \beta \sum_i h_i s_i\Big), \qquad s_i \in \{-1, +1\},

    i.e. energy :math:`E(s) = -\sum_e J_e s_i s_j - \sum_i h_i s_i` at inverse temperature
    :math:`\beta`. The value has shape ``(*batch, *lattice)`` (``(*batch, n_spins)`` on a
    graph): observed data are many snapshots along leading axes.

    Parameters
    ----------
    J : scalar, per-bond array ``(..., n_edges)`` or coupling matrix ``(..., n, n)``
        Couplings (numbers or model variables); the bond order is documented in
        :mod:`pymc_statmech.boltzmann.lattice`.
    h : scalar or per-site array, default 0
        Fields; on a lattice also ``(..., L, W)``.
    beta : scalar or array, default 1
        Inverse temperature. The likelihood depends on :math:`\beta J` and :math:`\beta h` only:
        with both ``J`` and ``beta`` free the data cannot tell them apart (a warning says so).
    lattice : tuple, optional
        ``(N,)`` a chain, ``(L, W)`` a square lattice.
    graph : edge list, coupling matrix or networkx graph, optional
    boundary : {"periodic", "open"} or a tuple per axis, default "periodic"
    method : str, default "auto"
        How :math:`\log Z` is computed: ``"auto"`` (an exact method that fits, else an error
        that names the memory needed and the alternatives), ``"enumerate"``,
        ``"transfer_matrix"``, ``"kaufman"``, ``"chain"``, the approximations ``"mean_field"``
        and ``"bethe"``, or ``"pseudo_likelihood"``: the product of the conditionals
        :math:`\sum_i \log \sigma(2 \beta s_i (h_i + \sum_j J_{ij} s_j))`, which needs no
        :math:`Z` and scales to large systems (inverse Ising from snapshots; a consistent
        estimator, not the likelihood).

    Notes
    -----
    Random draws (prior predictive, ``pm.draw``) are exact whenever an exact sampler covers
    the system (enumeration up to 20 spins; forward-filtering backward-sampling through the row
    transfer matrix when a side is at most 12), else a Markov chain with a warning. Latent
    spins in ``pm.sample`` get :class:`pymc_statmech.step.IsingGibbs` automatically.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> x = psm.Ising.dist(J=1.0, beta=0.4, lattice=(4, 4))
    >>> pm.draw(x, random_seed=1).shape
    (4, 4)
    >>> float(pm.logp(x, pm.math.ones((4, 4), dtype="int8")).eval())  # ground state: 0.4*32 - log Z
    -1.7610...
    """

    rv_type = IsingRV

    def __new__(cls, name, J, h=0.0, beta=1.0, **kwargs):
        observed = kwargs.get("observed")
        if observed is not None:
            values = np.asarray(observed.eval() if hasattr(observed, "eval") else observed)
            bad = ~np.isin(values, (-1, 1))
            if bad.any():
                found = np.unique(values[bad])[:5]
                hint = (
                    " Spins coded 0/1? Convert them with psm.binary_to_spins (s = 2x - 1)."
                    if np.isin(values, (0, 1)).all()
                    else ""
                )
                raise ValueError(
                    f"Ising {name!r}: observed spins must be -1 or +1; found "
                    f"{found.tolist()} at {int(bad.sum())} positions.{hint}"
                )
        if not _is_fixed(J) and not _is_fixed(beta):
            warnings.warn(
                f"Ising {name!r}: J and beta are both random, but the distribution depends on "
                "beta*J and beta*h only, so the data cannot tell J and beta apart (the "
                "posterior is a ridge). Fix one of them, e.g. beta=1.",
                UserWarning,
                stacklevel=2,
            )
        return super().__new__(cls, name, J, h, beta, **kwargs)

    @classmethod
    def dist(
        cls,
        J,
        h=0.0,
        beta=1.0,
        *,
        lattice=None,
        graph=None,
        boundary="periodic",
        method="auto",
        n_spins=None,
        **kwargs,
    ):
        if method not in ISING_METHODS:
            raise ValueError(f"method must be one of {ISING_METHODS}, got {method!r}.")
        structure = ising_structure(lattice, graph, boundary, n_spins)
        J, h, beta = (_finite_parameter(x, n) for x, n in ((J, "J"), (h, "h"), (beta, "beta")))
        couplings = as_float_tensor(edge_couplings(structure, J))
        fields = as_float_tensor(site_fields(structure, h))
        beta = as_float_tensor(beta)
        if method != "pseudo_likelihood":
            # build log Z once now, so that a system too large for the method fails here
            ising_log_partition(couplings, fields, beta, lattice=structure, method=method)
        uniform = (couplings.ndim == 0, fields.ndim == 0)
        if uniform[0]:
            couplings = pt.alloc(couplings, structure.n_edges)
        if uniform[1]:
            fields = pt.alloc(fields, structure.n_spins)
        return super().dist(
            [couplings, fields, beta], structure=structure, method=method, uniform=uniform, **kwargs
        )

    @classmethod
    def rv_op(cls, J, h, beta, *, structure, method, uniform=(False, False), size=None, rng=None):
        rng = pt.random.shared_rng(seed=None) if rng is None else rng
        op = IsingRV(structure, method, uniform)
        return op(J, h, beta, size=size, rng=rng, return_next_rng=True)[1]


def _squeeze_batch(x, core_ndim: int):
    """Drop the length-1 batch axes PyTensor adds to parameters to match ``size``: log Z is then
    computed once and broadcast, not once per snapshot."""
    axes = [i for i in range(x.ndim - core_ndim) if x.type.shape[i] == 1]
    return pt.squeeze(x, axis=axes) if axes else x


def _uniform_value(x):
    """The one value behind a uniform per-bond or per-site input (the scalar ``dist`` spread
    with ``alloc``), so that log Z sees a constant J or h = 0 and can use Kaufman's formula or
    the chain's closed form."""
    source = x
    while source.owner is not None and isinstance(source.owner.op, Alloc | DimShuffle):
        source = source.owner.inputs[0]
    if source.ndim == 0:
        return source
    if isinstance(source, Constant):  # a model constant-folds the alloc
        return pt.constant(np.asarray(source.data)[..., 0])
    return x[..., 0]


def _observed_patterns(structure: IsingStructure, value, J, h, beta):
    """Neighbourhood patterns of constant, valid observed snapshots with one set of parameters
    for all of them, when summing over patterns costs less than the per-snapshot graph;
    otherwise ``None``."""
    if not isinstance(value, Constant) or (J.ndim, h.ndim, beta.ndim) != (1, 1, 0):
        return None
    spins = _flat_spins(structure, np.asarray(value.data))
    if not np.all(np.abs(spins) == 1):
        return None
    patterns = neighbourhood_patterns(structure, spins)
    per_snapshot_work = spins.size // structure.n_spins * 2 * structure.n_edges
    return patterns if patterns.neighbour.size <= per_snapshot_work else None


@_logprob.register(IsingRV)
def _ising_logp(op: IsingRV, values, rng, size, J, h, beta, **kwargs):
    (value,) = values
    structure = op.structure
    J, h, beta = _squeeze_batch(J, 1), _squeeze_batch(h, 1), _squeeze_batch(beta, 0)
    if op.method == "pseudo_likelihood":
        patterns = _observed_patterns(structure, value, J, h, beta)
        if patterns is not None:
            return pattern_pseudo_log_likelihood(patterns, J, h, beta)
        s = pt.cast(_flat_spins(structure, value), "float64")
        field = local_fields(structure, J, h, s)
        lp = -pt.softplus(-2.0 * s * beta[..., None] * field).sum(axis=-1)
        valid = pt.all(pt.eq(pt.abs(s), 1), axis=-1)
        return pt.switch(valid, lp, -np.inf)
    family = ising_family(structure, op.method)
    eta = (beta[..., None] * J, beta[..., None] * h)
    log_z = ising_log_partition(
        _uniform_value(J) if op.uniform[0] else J,
        _uniform_value(h) if op.uniform[1] else h,
        beta,
        lattice=structure,
        method=op.method,
    )
    lp = family.inner(eta, family.statistics(value)) - log_z
    return pt.switch(family.in_support(value), lp, -np.inf)


@_support_point.register(IsingRV)
def _ising_support_point(op: IsingRV, rv, rng, size, J, h, beta):
    # all spins up, shaped from the inputs (pt.ones_like(rv) would draw from the variable)
    core = op._supp_shape_from_params(None)
    if rv_size_is_none(size):
        batch = pt.broadcast_shape(J[..., 0], h[..., 0], beta, arrays_are_shapes=False)
    else:
        batch = tuple(size[i] for i in range(rv.ndim - len(core)))
    return pt.ones((*batch, *core), dtype="int8")


@register_family_form(IsingRV)
def _ising_form(op: IsingRV, rv, J, h, beta) -> FamilyForm:
    family = ising_family(op.structure, op.method if op.method != "pseudo_likelihood" else "auto")
    return FamilyForm(family, (beta[..., None] * J, beta[..., None] * h), {})


class BoltzmannRV(RandomVariable):
    """Random-variable op of :class:`Boltzmann`: input the energies ``(..., S)`` of the states
    and ``beta``; draws are rows of ``states``, exactly."""

    name = "boltzmann"
    _print_name = ("Boltzmann", "\\operatorname{Boltzmann}")
    __props__ = ("name", "signature", "dtype", "inplace", "states")

    def __init__(self, states, *, signature=None, **kwargs):
        # a tuple of rows: hashable, so equal state spaces give equal ops
        self.states = tuple(map(tuple, np.asarray(states).tolist()))
        self.state_array = np.asarray(self.states)
        kwargs.pop("dtype", None)
        super().__init__(
            signature=signature or "(k),()->(d)", dtype=str(self.state_array.dtype), **kwargs
        )

    def _supp_shape_from_params(self, dist_params, param_shapes=None):
        return (self.state_array.shape[1],)

    def rng_fn(self, rng, energy, beta, size):
        energy, beta = np.asarray(energy, float), np.asarray(beta, float)
        logits = -beta[..., None] * energy
        batch = tuple(size) if size is not None else logits.shape[:-1]
        logits = np.broadcast_to(logits, (*batch, logits.shape[-1])).reshape(-1, logits.shape[-1])
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        cumulative = np.cumsum(weights, axis=1)
        u = rng.random(len(weights)) * cumulative[:, -1]
        index = np.minimum((cumulative < u[:, None]).sum(axis=1), weights.shape[1] - 1)
        return self.state_array[index].reshape(*batch, self.state_array.shape[1])


class Boltzmann(Discrete):
    r"""Boltzmann distribution over a finite set of states.

    .. math:: p(x) = e^{-\beta E(x)} / Z, \qquad Z = \sum_{k=1}^{S} e^{-\beta E(x_k)},

    with :math:`\log Z` by logsumexp over the ``S`` states and exact draws.

    Parameters
    ----------
    energy : callable
        ``energy(states)`` -> ``(S,)``: a PyTensor function of the ``(S, d)`` states tensor; it
        may use model variables (e.g. the weights of a Boltzmann machine).
    states : array_like, shape (S, d)
        The state space, one state per row (distinct rows, integer or float).
    beta : scalar or model variable, default 1

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_statmech as psm
    >>> states = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> x = psm.Boltzmann.dist(lambda s: -1.5 * s[:, 0] * s[:, 1], states)
    >>> round(float(np.exp(pm.logp(x, [1, 1]).eval())), 4)  # e^1.5 / (3 + e^1.5)
    0.599
    """

    rv_type = BoltzmannRV

    @classmethod
    def dist(cls, energy, states, beta=1.0, **kwargs):
        if not callable(energy):
            raise TypeError(
                "energy: give a function of the (S, d) states returning their S energies "
                f"(e.g. lambda x: -x.sum(axis=-1)), not {type(energy).__name__}."
            )
        _finite_parameter(states, "states")
        beta = _finite_parameter(beta, "beta")
        states = np.asarray(states)
        if states.ndim != 2 or len(states) == 0:
            raise ValueError(
                f"states must be an (S, d) array with S >= 1, got shape {states.shape}."
            )
        if len(np.unique(states, axis=0)) != len(states):
            raise ValueError(
                "states must be distinct rows (a repeated state would be counted twice)."
            )
        energies = as_float_tensor(energy(pt.as_tensor_variable(states)))
        if not _symbolic_graph(energies):
            _finite_parameter(one_shot_function([], energies)(), "energy(states)")
        if energies.type.shape[-1:] not in ((len(states),), (None,)):
            raise ValueError(
                f"energy(states) must return one energy per state, shape "
                f"({len(states)},), got {energies.type.shape}."
            )
        return super().dist([energies, as_float_tensor(beta)], states=states, **kwargs)

    @classmethod
    def rv_op(cls, energy, beta, *, states, size=None, rng=None):
        rng = pt.random.shared_rng(seed=None) if rng is None else rng
        return BoltzmannRV(states)(energy, beta, size=size, rng=rng, return_next_rng=True)[1]


#: The categorical family over the rows of ``states``: its value is a state (one core axis).
_STATE_CATEGORICAL = dataclasses.replace(categorical, name="Boltzmann", value_ndim=1)


@register_family_form(BoltzmannRV)
def _boltzmann_form(op: BoltzmannRV, rv, energy, beta) -> FamilyForm:
    # a Boltzmann law on S states is the categorical family over them with logits -beta E:
    # A = logsumexp(-beta E), the mean parameters are the state probabilities
    return FamilyForm(_STATE_CATEGORICAL, -beta[..., None] * energy, {})


@_logprob.register(BoltzmannRV)
def _boltzmann_logp(op: BoltzmannRV, values, rng, size, energy, beta, **kwargs):
    (value,) = values
    energy, beta = _squeeze_batch(energy, 1), _squeeze_batch(beta, 0)
    log_weight = -beta[..., None] * energy
    log_z = pt.logsumexp(log_weight, axis=-1)
    if isinstance(value, Constant) and log_weight.ndim == 1:
        # observed states: look each one up once, in numpy, instead of comparing it with every
        # state in the graph
        data = np.asarray(value.data)
        lookup = {row: k for k, row in enumerate(op.states)}
        rows = data.reshape(-1, data.shape[-1]).tolist()
        index = np.array([lookup.get(tuple(row), -1) for row in rows]).reshape(data.shape[:-1])
        lp = log_weight[np.maximum(index, 0)] - log_z
        return pt.switch(index >= 0, lp, -np.inf)
    states = pt.as_tensor_variable(op.state_array)
    match = pt.all(pt.eq(value[..., None, :], states), axis=-1)  # (..., S)
    return pt.max(pt.switch(match, log_weight, -np.inf), axis=-1) - log_z


@_support_point.register(BoltzmannRV)
def _boltzmann_support_point(op: BoltzmannRV, rv, rng, size, energy, beta):
    # the lowest-energy state: the mode at any beta > 0
    index = pt.argmin(energy, axis=-1)
    return pt.as_tensor_variable(op.state_array)[index]
