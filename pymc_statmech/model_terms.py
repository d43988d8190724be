"""A model's log prior and log-likelihood as compiled functions of many draws at once.

Shared by the evidence estimators and by the information gain against a model's prior (in
``stats``), so neither pillar imports the other for it. The estimators need ``log p(theta)``
and ``log L(theta)`` at thousands of points, in the unconstrained space where the sampler works
(with every normalising constant and the Jacobian of the transforms). :class:`ModelTerms` builds
those graphs once from the model, vectorises them over a leading draw axis with
:func:`pytensor.graph.replace.vectorize_graph` (no Python loop per draw), and compiles them with
the default linker. The likelihood is every observed variable plus every ``pm.Potential``; the
prior is every free variable.
"""

from __future__ import annotations

import warnings
import weakref
from functools import cached_property

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.distributions.continuous import FlatRV, HalfFlatRV
from pymc.distributions.transforms import ChainedTransform, Ordered
from pytensor.graph.replace import graph_replace, vectorize_graph

from pymc_statmech._compile import batched_function, numpy_evaluation, one_shot_function
from pymc_statmech._data import stacked_draws

__all__ = [
    "ModelTerms",
    "checked_model",
    "model_terms",
]

#: Bound on draws x observed elements per compiled call, so long data sets are evaluated in chunks.
_ELEMENTS_PER_CALL = 2**23


def _is_ordered(transform) -> bool:
    """Whether ``transform`` is, or chains, PyMC's ordered transform."""
    if isinstance(transform, ChainedTransform):
        return any(_is_ordered(part) for part in transform.transform_list)
    return isinstance(transform, Ordered)


#: Built ModelTerms by model, with the structure they were built for (see :func:`model_terms`).
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _structure(model) -> tuple:
    """What a ModelTerms depends on: the variables, their transforms, and the shapes of the
    model's data and dimension lengths (``pm.set_data`` can change them)."""
    return (
        tuple(map(id, model.free_RVs)),
        tuple(map(id, model.observed_RVs)),
        tuple(map(id, model.potentials)),
        tuple(id(model.rvs_to_transforms.get(rv)) for rv in model.free_RVs),
        tuple(np.shape(data.get_value(borrow=True)) for data in model.data_vars),
        tuple(
            int(length.get_value()) if hasattr(length, "get_value") else None
            for length in model.dim_lengths.values()
        ),
    )


def checked_model(model=None) -> pm.Model:
    """``model``, or the one on the context stack; anything else is refused by name."""
    if model is not None and not isinstance(model, pm.Model):
        raise TypeError(
            f"model: give a pymc.Model (or call inside `with model:`), not "
            f"{type(model).__name__} {model!r:.60}."
        )
    try:
        return pm.modelcontext(model)
    except TypeError:
        raise TypeError(
            "model: no model given and none on the context stack; pass model= or call inside "
            "`with model:`."
        ) from None


def model_terms(model=None) -> ModelTerms:
    """The :class:`ModelTerms` of ``model``, built once while its structure stays the same, so
    that every estimator called on one model reuses the same compiled functions."""
    model = checked_model(model)
    structure = _structure(model)
    built = _BUILT.get(model)
    if built is None or built[0] != structure:
        built = _BUILT[model] = (structure, ModelTerms(model))
    return built[1]


class ModelTerms:
    """Compiled, draw-vectorised log prior and log-likelihood of a PyMC model.

    Parameters
    ----------
    model : pymc.Model, optional
        The model; the one on the context stack when omitted.
    """

    def __init__(self, model=None):
        model = checked_model(model)
        self.model = model
        self.free_rvs = list(model.free_RVs)
        discrete = [
            rv.name for rv in self.free_rvs if rv.type.dtype.startswith(("int", "uint", "bool"))
        ]
        self.discrete_names = discrete
        self.improper_names = [
            rv.name for rv in self.free_rvs if isinstance(rv.owner.op, FlatRV | HalfFlatRV)
        ]
        self.ordered_names = [
            rv.name for rv in self.free_rvs if _is_ordered(model.rvs_to_transforms.get(rv))
        ]
        self.likelihood_terms = [*model.observed_RVs, *model.potentials]
        if not self.likelihood_terms:
            raise ValueError(
                "The model has no observed variables and no Potentials: its evidence is "
                "1 (log Z = 0) and there is nothing to estimate."
            )
        shapes = model.eval_rv_shapes()
        self.names = [rv.name for rv in self.free_rvs]
        self.value_vars = [model.rvs_to_values[rv] for rv in self.free_rvs]
        self.rv_shapes = {rv.name: tuple(shapes[rv.name]) for rv in self.free_rvs}
        self.value_shapes = [tuple(shapes[value.name]) for value in self.value_vars]
        sizes = [int(np.prod(shape)) for shape in self.value_shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.dim = int(self.offsets[-1])
        observed_shapes = (
            one_shot_function([], [rv.shape for rv in model.observed_RVs])()
            if model.observed_RVs
            else []
        )
        self.n_observations = int(sum(np.prod(shape) for shape in observed_shapes))
        self._chunk = max(1, _ELEMENTS_PER_CALL // max(1, self.n_observations))

    def require_proper_prior(self, what: str) -> None:
        """Refuse a model whose prior does not integrate to one: its evidence is undefined."""
        if self.improper_names:
            raise ValueError(
                f"{what} needs a proper prior, but {self.improper_names} have pm.Flat or "
                "pm.HalfFlat priors, which do not integrate to one: the evidence is then "
                "undefined (any finite number would be arbitrary, scaled by the prior's "
                "infinite volume). Give them proper priors (e.g. a wide Normal or HalfNormal)."
            )

    # -- graphs -------------------------------------------------------------------------------

    def _split_flat(self, flat):
        """Batched value variables (one row per draw) read out of a ``(n, dim)`` matrix."""
        n = flat.shape[0]
        return {
            value: flat[:, start:stop].reshape((n, *shape))
            for value, shape, start, stop in zip(
                self.value_vars, self.value_shapes, self.offsets[:-1], self.offsets[1:], strict=True
            )
        }

    def _batched(self, outputs):
        """``outputs`` (graphs of the value variables) compiled as a function of an ``(n, dim)``
        matrix of unconstrained draws, vectorised over its rows."""
        flat = pt.matrix("theta", dtype="float64")
        batched = vectorize_graph(outputs, replace=self._split_flat(flat))
        return batched_function([flat], batched, on_unused_input="ignore")

    @cached_property
    def _log_terms_fn(self):
        model = self.model
        log_prior = model.logp(vars=self.free_rvs, jacobian=True, sum=True)
        log_likelihood = model.logp(vars=self.likelihood_terms, jacobian=True, sum=True)
        return self._batched([log_prior, log_likelihood])

    @cached_property
    def _constrain_fn(self):
        model = self.model
        constrained = []
        for rv, value in zip(self.free_rvs, self.value_vars, strict=True):
            transform = model.rvs_to_transforms.get(rv)
            constrained.append(
                value if transform is None else transform.backward(value, *rv.owner.inputs)
            )
        constrained = model.replace_rvs_by_values(constrained)
        return self._batched(constrained)

    @cached_property
    def _log_jacobian_fn(self):
        model = self.model
        log_jacobian = model.logp(vars=self.free_rvs, jacobian=True, sum=True) - model.logp(
            vars=self.free_rvs, jacobian=False, sum=True
        )
        return self._batched(log_jacobian)

    @cached_property
    def _unconstrain_fn(self):
        model = self.model
        constrained = [
            rv.type.clone(shape=self.rv_shapes[rv.name])(f"{rv.name}_draws") for rv in self.free_rvs
        ]
        to_placeholder = dict(zip(self.free_rvs, constrained, strict=True))
        pieces = []
        for rv, placeholder in zip(self.free_rvs, constrained, strict=True):
            transform = model.rvs_to_transforms.get(rv)
            value = (
                placeholder
                if transform is None
                else transform.forward(placeholder, *rv.owner.inputs)
            )
            pieces.append(pt.cast(value, "float64").ravel())
        flat = graph_replace(pt.concatenate(pieces), to_placeholder, strict=False)
        batched_inputs = [
            pt.tensor(
                f"{rv.name}_batch", dtype=rv.type.dtype, shape=(None, *self.rv_shapes[rv.name])
            )
            for rv in self.free_rvs
        ]
        batched = vectorize_graph(flat, replace=dict(zip(constrained, batched_inputs, strict=True)))
        return batched_function(batched_inputs, batched, on_unused_input="ignore")

    # -- evaluation -----------------------------------------------------------------------------

    def log_terms(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(log prior, log-likelihood)`` at each row of ``theta`` (unconstrained, ``(n, dim)``).

        The log prior includes the log-Jacobian of the transforms, so ``log prior + log L`` is the
        unnormalised posterior density in the unconstrained space.
        """
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[1] != self.dim:
            raise ValueError(f"theta must have shape (n, {self.dim}), got {theta.shape}.")
        parts = [
            self._log_terms_fn(theta[i : i + self._chunk])
            for i in range(0, max(len(theta), 1), self._chunk)
        ]
        return (
            np.concatenate([part[0] for part in parts]),
            np.concatenate([part[1] for part in parts]),
        )

    def constrain(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained rows ``(n, dim)`` as constrained draws ``{name: (n, *shape)}``."""
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        return dict(zip(self.names, self._constrain_fn(theta), strict=True))

    def log_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """``log |d constrained / d unconstrained|`` of the transforms at each row of ``theta``."""
        return np.asarray(self._log_jacobian_fn(np.ascontiguousarray(theta, dtype=np.float64)))

    def forward_draws(self, n: int, rng) -> dict[str, np.ndarray]:
        """``n`` forward (ancestral) draws of the free variables from the prior,
        ``{name: (n, *shape)}``. Transforms are ignored (see :meth:`in_support`); raises
        ``NotImplementedError`` when a variable cannot be forward-sampled."""
        with warnings.catch_warnings():
            # Potentials are likelihood terms here: forward draws are right to leave them out
            warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
            # n calls of a small graph: NumPy's draws beat compiling it (1.4 s cold)
            with numpy_evaluation():
                values = pm.draw(self.free_rvs, draws=n, random_seed=rng)
        return {
            name: np.asarray(value).reshape(n, *self.rv_shapes[name])
            for name, value in zip(self.names, values, strict=True)
        }

    def in_support(self, draws: dict[str, np.ndarray]) -> np.ndarray:
        """Which constrained draws ``{name: (n, *shape)}`` lie in the support the model's
        transforms cut out of the distributions' own: an ordered transform admits only vectors
        increasing along the last axis, which forward sampling ignores. Returns a boolean
        ``(n,)``. Default transforms cut nothing (their domain is the distribution's support),
        so a forward draw that rounds onto its boundary (a Gamma(0.001, 0.001) draw of 0.0)
        still counts as inside."""
        n = len(next(iter(draws.values())))
        inside = np.ones(n, dtype=bool)
        for name in self.ordered_names:
            values = np.asarray(draws[name], dtype=float)
            inside &= np.all(np.diff(values, axis=-1) > 0, axis=tuple(range(1, values.ndim)))
        return inside

    def unconstrain(self, draws: dict[str, np.ndarray]) -> np.ndarray:
        """Constrained draws ``{name: (n, *shape)}`` as the unconstrained ``(n, dim)`` matrix."""
        return np.asarray(self._unconstrain_fn(*[draws[name] for name in self.names]))

    def draws_from(self, dataset: xr.Dataset, sample_dims, group: str) -> dict[str, np.ndarray]:
        """The model's free variables read from ``dataset`` as ``{name: (n_draws, *shape)}``.

        Raises a ``ValueError`` naming each variable that is missing or whose shape does not match
        the model.
        """
        missing = [name for name in self.names if name not in dataset.data_vars]
        if missing:
            raise ValueError(
                f"The model's free variables {missing} are not in the {group!r} group (it has "
                f"{list(dataset.data_vars)}): the draws do not come from this model."
            )
        draws = {}
        for name in self.names:
            flat = stacked_draws(dataset[name], sample_dims)
            shape = self.rv_shapes[name]
            if flat.shape[1] != int(np.prod(shape)):
                other = [dim for dim in dataset[name].dims if dim not in sample_dims]
                raise ValueError(
                    f"Variable {name!r} has shape {tuple(dataset[name].sizes[d] for d in other)}"
                    " per "
                    f"draw in the {group!r} group but {shape} in the model: the draws do not come "
                    "from this model."
                )
            draws[name] = flat.reshape(-1, *shape).astype(
                self.free_rvs[self.names.index(name)].dtype
            )
        return draws
