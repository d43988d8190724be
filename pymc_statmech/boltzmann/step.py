r"""PyMC step methods for Ising spins: :class:`IsingGibbs`, :class:`SwendsenWang`, :class:`Wolff`.

Each samples one Ising variable (``psm.Ising``, or any random variable whose op carries an
:class:`~pymc_statmech.boltzmann.IsingStructure` as ``op.structure`` and whose inputs are
``(rng, size, J, h, beta)``) from its full conditional given the rest of the model, with the
Numba kernels of :mod:`pymc_statmech.boltzmann.kernels`:

.. math:: p(s \mid \cdot) \propto \exp\Big(\beta \sum_e J_e s_i s_j + \beta \sum_i h_i s_i\Big)
          \prod_c p(y_c \mid s, \cdot).

``J``, ``h`` and ``beta`` may depend on other model variables (random couplings, fields,
temperature): one compiled function of the model point gives their current values (once, when
they are constants). The children :math:`c` of the spins (noisy observations
``y ~ Normal(mu * s, sigma)``, latent variables, potentials) enter through an extra natural
field when their log-density is *site-separable*, a sum of per-site terms
:math:`\sum_i g_i(s_i)`: then

.. math:: \prod_c p(y_c \mid s) \propto \exp\Big(\sum_i \phi_i s_i\Big), \qquad
          \phi_i = \tfrac12\,(g_i(+1) - g_i(-1)),

and the conditional is again an Ising model with fields :math:`\beta h_i + \phi_i`. The step
evaluates the children's elementwise log-density once at :math:`s = +1` and once at
:math:`s = -1` everywhere (one compiled, vectorised call per draw), with each child's terms
aligned to the sites (leading axes summed, e.g. repeated observations of each site, or a
reshape of the same number of terms). Separability is verified numerically at construction,
on random configurations and single flips at the initial point; a child that fails is
refused with an error naming it.

:class:`IsingGibbs` is registered in PyMC's list of step methods when this module is imported
(loading :mod:`pymc_statmech.boltzmann`, e.g. by the first use of ``psm.Ising``, does it), so
``pm.sample`` assigns it to Ising variables on its own.
The cluster methods are chosen explicitly (``pm.sample(step=psm.step.SwendsenWang([s]))``).

References
----------
.. [1] Geman, S. and Geman, D. (1984). Stochastic relaxation, Gibbs distributions, and the
   Bayesian restoration of images. IEEE Trans. PAMI 6, 721-741.
.. [2] Swendsen, R. H. and Wang, J.-S. (1987). Nonuniversal critical dynamics in Monte Carlo
   simulations. Phys. Rev. Lett. 58, 86-88.
.. [3] Wolff, U. (1989). Collective Monte Carlo updating for spin systems. Phys. Rev. Lett. 62,
   361-364.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytensor.tensor as pt
from pymc.model import modelcontext
from pymc.step_methods import STEP_METHODS
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.step_methods.state import dataclass_state
from pymc.util import get_random_generator, get_value_vars_from_user_vars
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import ancestors, graph_inputs
from pytensor.tensor.random.op import RandomVariable

from pymc_statmech.boltzmann.kernels import HeatBathKernel, SwendsenWangKernel, WolffKernel
from pymc_statmech.boltzmann.lattice import IsingStructure

__all__ = ["IsingGibbs", "SwendsenWang", "Wolff", "is_ising_variable"]

# A child's log-density may be -inf at one spin value (a hard constraint): the field is then
# clipped, far beyond where a float64 probability is already exactly 0 or 1.
_FIELD_CLIP = 1e4
_SEPARABILITY_CHECKS = 4


def is_ising_variable(var: Any) -> bool:
    """Whether ``var`` is an Ising random variable: its op carries an ``IsingStructure`` as
    ``op.structure`` and takes ``(rng, size, J, h, beta)``."""
    op = getattr(getattr(var, "owner", None), "op", None)
    return (
        isinstance(op, RandomVariable)
        and isinstance(getattr(op, "structure", None), IsingStructure)
        and len(var.owner.inputs) == 5
    )


@dataclass_state
class IsingStepState(StepMethodState):
    pending_init: bool


@dataclass_state
class WolffState(IsingStepState):
    clusters: int
    tune: bool
    size_sum: float
    size_count: int


class _IsingStep(BlockedStep):
    """Shared machinery: parameters from the model point, the children's field, the state."""

    name = ""
    default_blocked = False
    _state_class = IsingStepState
    _kernel_class: type = HeatBathKernel
    stats_dtypes_shapes: ClassVar[dict] = {
        "ising_energy": (np.float64, []),
        "magnetization": (np.float64, []),
    }

    def __new__(cls, *args, **kwargs):
        # without vars, PyMC's BlockedStep would take every model variable: take the Ising ones
        if not args and kwargs.get("vars") is None:
            model = modelcontext(kwargs.get("model"))
            found = [v for v in model.value_vars if is_ising_variable(model.values_to_rvs[v])]
            if not found:
                raise ValueError(f"{cls.__name__}: the model has no free Ising variable.")
            kwargs["vars"] = found
        return super().__new__(cls, *args, **kwargs)

    def __init__(
        self,
        vars=None,
        *,
        init: str = "random",
        model=None,
        rng=None,
        initial_point: dict | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = False,
    ):
        cls = type(self).__name__
        model = modelcontext(model)
        if vars is None:
            vars = [v for v in model.value_vars if is_ising_variable(model.values_to_rvs[v])]
        vars = get_value_vars_from_user_vars(vars, model)
        if len(vars) != 1:
            names = [v.name for v in vars]
            raise ValueError(
                f"{cls}: samples one Ising variable per step method, got {len(vars)}: {names}. "
                "Give them one at a time, or blocked=False to get one step method each."
            )
        value = vars[0]
        rv = model.values_to_rvs[value]
        if not is_ising_variable(rv):
            op = getattr(rv.owner, "op", None)
            raise ValueError(
                f"{cls}: variable {value.name!r} is not an Ising variable (its op is "
                f"{type(op).__name__}); {cls} samples psm.Ising spins only."
            )
        if getattr(rv.owner.op, "method", None) == "pseudo_likelihood":
            raise ValueError(
                f"{cls}: {value.name!r} has method='pseudo_likelihood', a product of "
                "conditionals meant for observed snapshots, not the Ising distribution; the "
                "spin updates sample the Ising conditional, so give latent spins any other "
                "method (exact, or 'mean_field' / 'bethe' when log Z only matters for the "
                "other variables)."
            )
        if init not in ("random", "point"):
            raise ValueError(f"{cls}: init must be 'random' or 'point', got {init!r}.")
        self.vars = vars
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.init = init
        self.pending_init = init == "random"
        self._name = value.name
        self.structure: IsingStructure = rv.owner.op.structure
        compile_kwargs = dict(compile_kwargs or {})
        compile_kwargs.setdefault("on_unused_input", "ignore")
        point = model.initial_point() if initial_point is None else initial_point
        shape = tuple(np.shape(point[value.name]))
        core = self.structure.shape if self.structure.shape is not None else None
        core = core or (self.structure.n_spins,)
        if shape[len(shape) - len(core) :] != tuple(core):
            raise ValueError(
                f"{cls}: the value of {value.name!r} has shape {shape}, which does not end "
                f"with the {self.structure.description}'s shape {tuple(core)}."
            )
        self.shape = shape
        self.batch_shape = shape[: len(shape) - len(core)]
        self.kernel = self._kernel_class(self.structure, self.batch_shape)
        self._params_fn, self._params_inputs, constant = self._compile_parameters(
            model, rv, compile_kwargs
        )
        self._field_fn, self._field_inputs = self._compile_children(
            model, value, rv, point, compile_kwargs
        )
        self._constant = constant
        if constant:
            self.kernel.set_parameters(*self._params_fn())

    # compilation -----------------------------------------------------------------------------
    def _compile_parameters(self, model, rv, compile_kwargs):
        graphs = model.replace_rvs_by_values(list(rv.owner.inputs[2:5]))
        graphs = [pt.cast(g, "float64") for g in graphs]
        roots = set(graph_inputs(graphs))
        inputs = [v for v in model.value_vars if v in roots]
        shared = any(isinstance(r, SharedVariable) for r in roots)
        fn = model.compile_fn(graphs, inputs=inputs, point_fn=False, **compile_kwargs)
        return fn, [v.name for v in inputs], not inputs and not shared

    def _compile_children(self, model, value, rv, point, compile_kwargs):
        others = [v for v in model.basic_RVs if v is not rv] + list(model.potentials)
        if not others:
            return None, []
        logps = model.logp(vars=others, sum=False, jacobian=False)
        children = [
            (var, lp)
            for var, lp in zip(others, logps, strict=True)
            if any(a is value for a in ancestors([lp]))
        ]
        if not children:
            return None, []
        names = [getattr(var, "name", None) or str(var) for var, _ in children]
        terms = [pt.cast(lp, "float64") for _, lp in children]
        roots = set(graph_inputs(terms))
        others_in = [v for v in model.value_vars if v in roots and v is not value]
        inputs = [value, *others_in]
        shape_fn = model.compile_fn(terms, inputs=inputs, point_fn=False, **compile_kwargs)
        args = [np.asarray(point[v.name]) for v in others_in]
        V = self.shape
        ones = np.ones(V, dtype=np.int8)
        aligned = []
        for name, term, val in zip(names, terms, shape_fn(ones, *args), strict=True):
            aligned.append(self._align(name, term, np.shape(val), V))
        check_fn = model.compile_fn(aligned, inputs=inputs, point_fn=False, **compile_kwargs)
        self._check_separable(names, check_fn, args, V)
        total = aligned[0] if len(aligned) == 1 else pt.add(*aligned)
        plus = value.type()
        (up,) = clone_replace([total], {value: plus})
        (down,) = clone_replace([total], {value: -plus})
        field = pt.clip((up - down) / 2.0, -_FIELD_CLIP, _FIELD_CLIP)  # NaN stays NaN
        fn = model.compile_fn(field, inputs=[plus, *others_in], point_fn=False, **compile_kwargs)
        self._children = names
        return fn, [v.name for v in others_in]

    def _align(self, name, term, shape, V):
        """The child's elementwise terms as one term per site, shape V."""
        cls = type(self).__name__
        shape = tuple(shape)
        lead = len(shape) - len(V)
        if lead >= 0 and shape[lead:] == V:
            return term.sum(axis=tuple(range(lead))) if lead else term
        if len(shape) > 0 and int(np.prod(shape)) == int(np.prod(V)):
            return term.reshape(V)
        raise ValueError(
            f"{cls}: the log-density of {name!r} depends on the spins {self._name!r} "
            f"{V} but its elementwise terms have shape {shape}, which does not align with the "
            "sites (supported: children whose log-density has one term per site depending "
            "only on that spin, shaped like the spins, possibly with extra leading axes, or "
            "with as many terms as sites). Sum the child's terms per site, or sample the "
            "spins with a general-purpose method."
        )

    def _check_separable(self, names, check_fn, args, V):
        cls = type(self).__name__
        rng = np.random.default_rng(20240601)
        ones = np.ones(V, dtype=np.int8)
        t_plus = check_fn(ones, *args)
        t_minus = check_fn(-ones, *args)
        configs = []
        for _ in range(_SEPARABILITY_CHECKS):
            s = np.where(rng.random(V) < 0.5, 1, -1).astype(np.int8)
            configs.append(s)
            flipped = s.copy().reshape(-1)
            flipped[rng.integers(flipped.size)] *= -1
            configs.append(flipped.reshape(V))
        for s in configs:
            for name, tp, tm, ts in zip(names, t_plus, t_minus, check_fn(s, *args), strict=True):
                expected = np.where(s == 1, tp, tm)
                finite = np.isfinite(expected)
                scale = 1.0 + np.max(np.abs(expected[finite]), initial=0.0)
                with np.errstate(invalid="ignore"):
                    same = np.where(finite, np.abs(ts - expected) <= 1e-7 * scale, ts == expected)
                if not np.all(same):
                    site = np.unravel_index(int(np.argmin(same)), V)
                    raise ValueError(
                        f"{cls}: the log-density of {name!r} is not site-separable in the "
                        f"spins {self._name!r}: at a random configuration its term at site "
                        f"{tuple(int(i) for i in site)} is {float(ts[site])!r}, but one "
                        "depending only on that site's spin would be "
                        f"{float(expected[site])!r}. Supported children have a log-density "
                        "sum_i g_i(s_i) (e.g. y ~ Normal(mu * s, sigma) shaped like s); for "
                        "couplings between spins put them into the Ising J instead."
                    )

    # sampling -----------------------------------------------------------------------------------
    def setup_chain(self, rng, tune: int, draws: int) -> None:
        super().setup_chain(rng, tune, draws)
        self.pending_init = self.init == "random"

    def _current(self, point) -> np.ndarray:
        if self.pending_init:
            self.pending_init = False
            return np.where(self.rng.random(self.shape) < 0.5, 1, -1).astype(np.int8)
        return np.array(point[self._name], dtype=np.int8, order="C")

    def _set_parameters(self, point) -> None:
        field = None
        if self._field_fn is not None:
            field = self._field_fn(np.ones(self.shape, np.int8), *self._field_args(point))
            if np.isnan(field).any():
                raise ValueError(
                    f"{type(self).__name__}: the children {self._children} of "
                    f"{self._name!r} give a NaN log-odds (their log-density is -inf at both "
                    "spin values of some site, or NaN): the model point is impossible."
                )
        if self._constant:
            if field is not None:
                self.kernel.set_extra_field(field)
            return
        params = self._params_fn(*[point[n] for n in self._params_inputs])
        self.kernel.set_parameters(*params, extra_field=field)

    def _field_args(self, point):
        return [point[n] for n in self._field_inputs]

    def step(self, point):
        spins = self._current(point)
        self._set_parameters(point)
        spins, stats = self._move(spins)
        new = dict(point)
        new[self._name] = spins.reshape(self.shape)
        stats["ising_energy"] = float(self.kernel.energy(spins).sum())
        stats["magnetization"] = float(spins.sum(dtype=np.int64)) / spins.size
        return new, [stats]

    def _move(self, spins: np.ndarray) -> tuple[np.ndarray, dict]:
        """The step's kernel moves on the current spins: ``(new spins, statistics)``."""
        raise NotImplementedError

    @staticmethod
    def competence(var, has_grad=None):
        """COMPATIBLE for Ising variables (chosen explicitly), INCOMPATIBLE otherwise."""
        return Competence.COMPATIBLE if is_ising_variable(var) else Competence.INCOMPATIBLE


class _SweepStep(_IsingStep):
    """A step of ``sweeps`` whole sweeps of its kernel per draw."""

    def __init__(self, vars=None, *, sweeps: int = 1, **kwargs):
        self.sweeps = _positive_int(sweeps, "sweeps", type(self).__name__)
        super().__init__(vars, **kwargs)


class IsingGibbs(_SweepStep):
    r"""Heat-bath (Gibbs) sweeps for Ising spins in ``pm.sample``.

    Each site is drawn from its full conditional,
    :math:`p(s_i = +1 \mid \cdot) = 1/(1 + e^{-2 x_i})` with the local natural field
    :math:`x_i = \beta (h_i + \sum_{e = (i, j)} J_e s_j) + \phi_i`, where :math:`\phi_i` is the
    half log-odds contributed by the spins' site-separable children (see the module docstring).
    Sites of one colour share no bond and are updated together (checkerboard on square
    lattices, a proper colouring on graphs); any couplings (ferro- and antiferromagnetic,
    frustrated) and fields. Square lattices of even width run the vectorised checkerboard kernel
    (above 10^8 updates per second on one core).

    PyMC's :class:`~pymc.step_methods.BinaryGibbsMetropolis` is no substitute: it evaluates the
    whole model's log-density for every proposed flip (about 47 thousand updates per second
    measured on these systems, against hundreds of millions here), and it codes binary values as
    0/1 (the proposal is ``1 - x``), which sends a spin of -1 to 2, outside {-1, +1}.

    Parameters
    ----------
    vars : list of one variable, optional
        The Ising variable (default: the model's only Ising variable).
    sweeps : int, default 1
        Heat-bath sweeps per draw.
    init : {"random", "point"}, default "random"
        Start each chain from independent fair spins drawn from the step's generator, or from
        the chain's start point.
    model, rng, initial_point, compile_kwargs, blocked :
        As for PyMC's step methods.

    Notes
    -----
    Statistics per draw: ``ising_energy`` (:math:`E(s)` with the current :math:`J` and
    :math:`h`, summed over batch axes) and ``magnetization`` (mean spin).

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> with pm.Model():  # doctest: +SKIP
    ...     s = psm.Ising("s", J=1.0, beta=0.44, lattice=(16, 16))
    ...     idata = pm.sample(draws=200, tune=50, chains=1)  # IsingGibbs assigned
    """

    name = "ising_gibbs"

    def _move(self, spins):
        return self.kernel.sweep(spins, self.sweeps, self.rng), {}

    @staticmethod
    def competence(var, has_grad=None):
        """IDEAL for Ising variables, INCOMPATIBLE otherwise."""
        return Competence.IDEAL if is_ising_variable(var) else Competence.INCOMPATIBLE


class SwendsenWang(_SweepStep):
    r"""Swendsen-Wang cluster sweeps for ferromagnetic Ising spins in ``pm.sample``.

    Satisfied bonds are activated with probability :math:`1 - e^{-2\beta J_e}`, the clusters
    (union-find) flip with probability 1/2 each [1]_; fields and the children's field
    :math:`\phi` enter exactly through a ghost spin (bonds :math:`\beta h_i + \phi_i` to a fixed
    site; its cluster never flips). Near the critical point this decorrelates the energy and
    magnetisation far faster than the heat bath. Needs :math:`\beta J_e \ge 0` on every bond
    (uniform or not); antiferromagnetic or frustrated couplings are refused (use
    :class:`IsingGibbs`).

    Parameters
    ----------
    vars : list of one variable, optional
    sweeps : int, default 1
        Cluster sweeps per draw.
    init, model, rng, initial_point, compile_kwargs, blocked :
        As for :class:`IsingGibbs`.

    Notes
    -----
    Statistics: ``ising_energy``, ``magnetization``, ``n_clusters`` (clusters of the last
    sweeps, mean over sweeps and batch) and ``largest_cluster`` (fraction of the sites).

    References
    ----------
    .. [1] Swendsen, R. H. and Wang, J.-S. (1987). Nonuniversal critical dynamics in Monte
       Carlo simulations. Phys. Rev. Lett. 58, 86-88.
    """

    name = "swendsen_wang"
    _kernel_class = SwendsenWangKernel
    stats_dtypes_shapes: ClassVar[dict] = {
        **_IsingStep.stats_dtypes_shapes,
        "n_clusters": (np.float64, []),
        "largest_cluster": (np.float64, []),
    }

    def _move(self, spins):
        spins, st = self.kernel.sweep(spins, self.sweeps, self.rng)
        return spins, {k: float(np.mean(v)) for k, v in st.items()}


class Wolff(_IsingStep):
    r"""Wolff single-cluster moves for ferromagnetic Ising spins in ``pm.sample``.

    A random seed site grows a cluster through satisfied bonds, each added with probability
    :math:`1 - e^{-2\beta J_e}`, and the cluster flips [1]_; with fields (and the children's
    field) the members' ghost bonds are tried too and a cluster that reaches the ghost spin stays
    as it is. Needs :math:`\beta J_e \ge 0` on every bond; other couplings are refused.

    Parameters
    ----------
    vars : list of one variable, optional
    clusters : int, optional
        Clusters per draw. By default it is tuned during the tuning phase to about
        ``n_spins / mean cluster size`` (one sweep's worth of flips), starting from 1, and
        then fixed: a per-draw count that depended on the clusters just grown would bias the
        recorded states.
    init, model, rng, initial_point, compile_kwargs, blocked :
        As for :class:`IsingGibbs`.

    Notes
    -----
    Statistics: ``ising_energy``, ``magnetization``, ``n_clusters`` (per draw),
    ``cluster_size`` (mean size of the flipped clusters) and ``rejected`` (fraction of clusters
    left unflipped because they reached the ghost spin).

    References
    ----------
    .. [1] Wolff, U. (1989). Collective Monte Carlo updating for spin systems. Phys. Rev. Lett.
       62, 361-364.
    """

    name = "wolff"
    _kernel_class = WolffKernel
    _state_class = WolffState
    stats_dtypes_shapes: ClassVar[dict] = {
        **_IsingStep.stats_dtypes_shapes,
        "n_clusters": (np.int64, []),
        "cluster_size": (np.float64, []),
        "rejected": (np.float64, []),
    }

    def __init__(self, vars=None, *, clusters: int | None = None, **kwargs):
        self.auto_clusters = clusters is None
        self.clusters = 1 if clusters is None else _positive_int(clusters, "clusters", "Wolff")
        self.tune = self.auto_clusters
        self.size_sum = 0.0
        self.size_count = 0
        super().__init__(vars, **kwargs)

    def reset_tuning(self):
        if self.auto_clusters:
            self.clusters, self.size_sum, self.size_count = 1, 0.0, 0
            self.tune = True

    def _move(self, spins):
        n_clusters = self.clusters
        spins, st = self.kernel.sweep(spins, n_clusters, self.rng)
        size = float(np.mean(st["cluster_size"]))
        if self.auto_clusters and self.tune:
            # enough clusters of the mean flipped size to turn over about every site once
            self.size_sum += size * n_clusters
            self.size_count += n_clusters
            mean = max(self.size_sum / self.size_count, 1.0)
            self.clusters = int(np.clip(round(self.structure.n_spins / mean), 1, 10**6))
        stats = {
            "n_clusters": n_clusters,
            "cluster_size": size,
            "rejected": float(np.mean(st["rejected"])),
        }
        return spins, stats


def _positive_int(x: Any, name: str, cls: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer) or x < 1:
        raise ValueError(f"{cls}: {name} must be a positive integer, got {x!r}.")
    return int(x)


# pm.sample picks, for each variable, the method of highest competence in this list.
if IsingGibbs not in STEP_METHODS:
    STEP_METHODS.append(IsingGibbs)
