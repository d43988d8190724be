r"""PyMC distributions generated from :class:`~pymc_statmech.expfam.family.Family` specs.

A distribution here is one declaration: a family and the PyMC base class that gives the right
default transform (``PositiveContinuous`` -> log, ``UnitContinuous`` -> logodds, ...)::

    class NaturalPoisson(NaturalDistribution, Discrete):
        family = families.poisson

The metaclass builds a :class:`~pymc.distributions.distribution.SymbolicRandomVariable` whose draws
are a graph of PyTensor random ops (so they compile natively with Numba, C or JAX) and registers
``logp``, ``logcdf``, ``icdf`` and ``support_point`` from the family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytensor.tensor as pt
from pymc.distributions import transforms
from pymc.distributions.continuous import (
    CircularContinuous,
    PositiveContinuous,
    UnitContinuous,
)
from pymc.distributions.dist_math import check_parameters
from pymc.distributions.distribution import (
    Continuous,
    Discrete,
    Distribution,
    DistributionMeta,
    SymbolicRandomVariable,
)
from pymc.distributions.multivariate import SimplexContinuous
from pymc.distributions.shape_utils import implicit_size_from_params, rv_size_is_none
from pymc.distributions.transforms import _default_transform
from pymc.logprob.abstract import _icdf, _logcdf
from pymc.pytensorf import normalize_rng_param
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.random.utils import normalize_size_param

from pymc_statmech.expfam import families
from pymc_statmech.expfam.family import Family, ParameterDomainError
from pymc_statmech.tensors import as_float_tensor

__all__ = [
    "NaturalBernoulli",
    "NaturalBeta",
    "NaturalBinomial",
    "NaturalCategorical",
    "NaturalDirichlet",
    "NaturalDistribution",
    "NaturalExponential",
    "NaturalGamma",
    "NaturalGeometric",
    "NaturalInverseGamma",
    "NaturalInverseGaussian",
    "NaturalLogNormal",
    "NaturalMultinomial",
    "NaturalMvNormal",
    "NaturalNegativeBinomial",
    "NaturalNormal",
    "NaturalPoisson",
    "NaturalVonMises",
    "NaturalWishart",
]

_CORE = {0: "()", 1: "({})", 2: "({0},{0})"}


def _core_signature(ndim: int, name: str) -> str:
    return _CORE[ndim].format(name)


class NaturalRV(SymbolicRandomVariable):
    """Base of the generated random-variable ops; ``family`` and the parameter layout are set
    on each generated subclass."""

    family: ClassVar[Family]
    n_fixed: ClassVar[int]

    @classmethod
    def to_natural(cls, params: Sequence[Any]) -> tuple[Any, dict[str, Any]]:
        """Split op inputs into the natural parameter and the fixed parameters."""
        family = cls.family
        fixed = dict(zip(family.fixed, params[: cls.n_fixed], strict=True))
        natural = params[cls.n_fixed :]
        return cls.natural_from_inputs(natural), fixed

    @classmethod
    def natural_from_inputs(cls, natural: Sequence[Any]) -> Any:
        return natural[0] if len(natural) == 1 else tuple(natural)

    @classmethod
    def rv_op(cls, *params, size=None, rng=None):
        params = [pt.as_tensor_variable(p) for p in params]
        rng = normalize_rng_param(rng)
        size = normalize_size_param(size)
        if rv_size_is_none(size):
            size = implicit_size_from_params(*params, ndims_params=cls.ndims_params)
        # the sampler sees parameters checked on the family's domain first: outside it a
        # draw is an error naming the domain (PyTensor's Beta sampler never returns, and an
        # Exponential at eta > 0 would return negative values). An assertion, not PyMC's
        # parameter check, which PyMC's compilation turns into a -inf parameter.
        eta, fixed = cls.to_natural(params)
        conditions = cls.family.domain_conditions(cls.family.as_natural(eta), fixed)
        if conditions:
            check = CheckAndRaise(ParameterDomainError, _domain_message(cls.family, conditions))
            ok = pt.all([pt.all(c) for c, _ in conditions])
            eta, fixed = cls.to_natural([check(p, ok) for p in params])
        next_rng, draws = cls.family.sampler(rng, size, eta, **fixed)
        if cls.family.discrete:
            draws = pt.cast(draws, "int64")
        return cls(inputs=[rng, size, *params], outputs=[next_rng, draws])(rng, size, *params)


def _make_rv_type(name: str, family: Family, natural_inputs_ndims: Sequence[int]) -> type:
    # Core dimension names: "p" for the value's own axis, "d" for a fixed-length natural axis.
    fixed_sig = ["()"] * len(family.fixed)
    value_dim = "k"
    natural_sig = []
    for nd, size in zip(natural_inputs_ndims, family._sizes(), strict=False):
        dim = str(size) if (nd == 1 and size is not None) else value_dim
        natural_sig.append(_core_signature(nd, dim))
    if len(natural_sig) < len(natural_inputs_ndims):
        natural_sig += [_core_signature(nd, value_dim) for nd in natural_inputs_ndims[1:]]
    out = _core_signature(family.value_ndim, value_dim)
    signature = f"[rng],[size],{','.join(fixed_sig + natural_sig)}->[rng],{out}"
    return type(
        f"{name}RV",
        (NaturalRV,),
        {
            "name": name.lower(),
            "extended_signature": signature,
            "_print_name": (name, f"\\operatorname{{{name}}}"),
            "family": family,
            "n_fixed": len(family.fixed),
        },
    )


def _domain_message(family: Family, conditions) -> str:
    return f"{family.name}: " + "; ".join(msg for _, msg in conditions)


def _builtin_implements(family: Family, dispatcher) -> bool:
    """Whether the family's PyMC equivalent registers ``dispatcher`` (logcdf or icdf)."""
    if family.builtin is None:
        return False
    placeholder = family.as_natural(
        [pt.tensor(shape=(None,) * nd) for nd in family.natural_ndims]
        if family.n_components > 1
        else pt.tensor(shape=(None,) * family.natural_ndims[0])
    )
    fixed = {name: pt.dscalar(name) for name in family.fixed}
    op_type = type(family.builtin(placeholder, **fixed).owner.op)
    return dispatcher.dispatch(op_type) is not dispatcher.dispatch(object)


class NaturalDistributionMeta(DistributionMeta):
    """Generates the random-variable op and the PyMC dispatch functions from ``family``."""

    def __new__(mcs, name, bases, clsdict):
        family: Family | None = clsdict.get("family")
        if family is None:
            return super().__new__(mcs, name, bases, clsdict)
        input_ndims = clsdict.get("natural_input_ndims", family.natural_ndims)
        rv_type = _make_rv_type(name, family, input_ndims)
        if "natural_from_inputs" in clsdict:
            rv_type.natural_from_inputs = classmethod(clsdict["natural_from_inputs"])
        clsdict["rv_type"] = rv_type
        clsdict["rv_op"] = rv_type.rv_op

        def logp(value, *params):
            eta, fixed = rv_type.to_natural(params)
            conditions = family.domain_conditions(family.as_natural(eta), fixed)
            return check_parameters(
                family.logp(value, eta, **fixed),
                *[c for c, _ in conditions],
                msg=_domain_message(family, conditions),
            )

        def support_point(rv, size, *params):
            eta, fixed = rv_type.to_natural(params)
            point = family.point(family.as_natural(eta), **fixed)
            return pt.cast(pt.broadcast_to(point, rv.shape), rv.dtype)

        clsdict.setdefault("logp", logp)
        clsdict.setdefault("support_point", support_point)

        def closed_form(own, dispatch):
            # The family's own closed form, else that of the equivalent PyMC distribution.
            def method(value, *params):
                eta, fixed = rv_type.to_natural(params)
                eta = family.as_natural(eta)
                if own is not None:
                    result = own(value, eta, **fixed)
                else:
                    builtin = family.builtin(eta, **fixed)
                    result = dispatch(builtin.owner.op, value, *builtin.owner.inputs)
                conditions = family.domain_conditions(eta, fixed)
                return check_parameters(
                    result, *[c for c, _ in conditions], msg=_domain_message(family, conditions)
                )

            return method

        if family.logcdf is not None or _builtin_implements(family, _logcdf):
            clsdict.setdefault("logcdf", closed_form(family.logcdf, _logcdf))
        if family.icdf is not None or (not family.discrete and _builtin_implements(family, _icdf)):
            clsdict.setdefault("icdf", closed_form(family.icdf, _icdf))
        return super().__new__(mcs, name, bases, clsdict)


class NaturalDistribution(Distribution, metaclass=NaturalDistributionMeta):
    r"""Base class of the exponential families in natural parameters.

    ``logp(x) = <eta, T(x)> - A(eta) + log h(x)``, with every derived quantity
    (:func:`pymc_statmech.entropy`, :func:`pymc_statmech.kl_divergence`, ...) available through
    the class's :class:`~pymc_statmech.expfam.family.Family`.
    """

    family: ClassVar[Family]
    #: Names of the user-facing parameters, in order (fixed parameters first).
    param_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _parameter_names(cls) -> tuple[str, ...]:
        return cls.param_names or (*cls.family.fixed, "eta")

    @classmethod
    def dist(cls, *args, **kwargs):
        names = cls._parameter_names()
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__} takes parameters {names}, got {len(args)} values.")
        values = list(args)
        for missing in names[len(args) :]:
            if missing not in kwargs:
                raise TypeError(f"{cls.__name__} is missing parameter {missing!r}.")
            values.append(kwargs.pop(missing))
        params = cls._prepare(values)
        eta, fixed = cls.rv_type.to_natural(params)
        cls.family.validate(cls.family.as_natural(eta), fixed)
        return super().dist(params, **kwargs)

    @classmethod
    def _prepare(cls, values: list[Any]) -> list[Any]:
        n_fixed = len(cls.family.fixed)
        for name, v in zip(cls.family.fixed, values[:n_fixed], strict=True):
            if name == "n" and not isinstance(v, pt.TensorVariable):
                counts = np.asarray(v)
                if not np.all(counts == np.floor(counts)) or np.any(counts < 0):
                    raise ValueError(
                        f"{cls.family.name}: parameter n out of its domain; valid domain: "
                        f"n in {{0, 1, 2, ...}} (a count), got {v!r}."
                    )
        fixed = [pt.as_tensor_variable(v) for v in values[:n_fixed]]
        if cls.family.discrete:
            # Counts (n of the binomial and multinomial) are integers; r is real.
            fixed = [
                pt.cast(f, "int64") if name == "n" else as_float_tensor(f)
                for name, f in zip(cls.family.fixed, fixed, strict=True)
            ]
        return fixed + [as_float_tensor(v) for v in values[n_fixed:]]


# ---------------------------------------------------------------------------------------------
class NaturalBernoulli(NaturalDistribution, Discrete):
    r"""Bernoulli in its natural parameter :math:`\eta = \operatorname{logit} p`.

    .. math:: p(x \mid \eta) = \exp(\eta x - \log(1 + e^\eta)), \quad x \in \{0, 1\}
    """

    family = families.bernoulli


class NaturalBinomial(NaturalDistribution, Discrete):
    r"""Binomial with fixed ``n`` and natural parameter :math:`\eta = \operatorname{logit} p`.

    .. math:: p(x \mid n, \eta) = \binom{n}{x} \exp(\eta x - n \log(1 + e^\eta))
    """

    family = families.binomial


class NaturalGeometric(NaturalDistribution, Discrete):
    r"""Geometric (failures before the first success), :math:`\eta = \log(1 - p) < 0`.

    .. math:: p(x \mid \eta) = \exp(\eta x + \log(1 - e^\eta)), \quad x \in \{0, 1, 2, \dots\}

    Note that PyMC's ``Geometric`` counts trials (support from 1); this one counts failures.
    """

    family = families.geometric


class NaturalNegativeBinomial(NaturalDistribution, Discrete):
    r"""Negative binomial with fixed ``r`` > 0, :math:`\eta = \log(1 - p) < 0`.

    .. math:: p(x \mid r, \eta) = \frac{\Gamma(x + r)}{\Gamma(r)\, x!}
              \exp(\eta x + r \log(1 - e^\eta))
    """

    family = families.negative_binomial


class NaturalPoisson(NaturalDistribution, Discrete):
    r"""Poisson with natural parameter :math:`\eta = \log \lambda`.

    .. math:: p(x \mid \eta) = \frac{1}{x!} \exp(\eta x - e^\eta)
    """

    family = families.poisson


class NaturalCategorical(NaturalDistribution, Discrete):
    r"""Categorical with K logits :math:`\eta` (overcomplete; :math:`A = \operatorname{logsumexp}`).

    .. math:: p(x = j \mid \eta) = \exp(\eta_j - \log \textstyle\sum_i e^{\eta_i})
    """

    family = families.categorical


class NaturalMultinomial(NaturalDistribution, Discrete):
    r"""Multinomial with fixed ``n`` and K logits :math:`\eta`.

    .. math:: p(x \mid n, \eta) = \frac{n!}{\prod_i x_i!}
              \exp(\langle\eta, x\rangle - n \log \textstyle\sum_i e^{\eta_i})
    """

    family = families.multinomial


class NaturalExponential(NaturalDistribution, PositiveContinuous):
    r"""Exponential with natural parameter :math:`\eta = -\lambda < 0`.

    .. math:: p(x \mid \eta) = \exp(\eta x + \log(-\eta)), \quad x \ge 0
    """

    family = families.exponential


class NaturalNormal(NaturalDistribution, Continuous):
    r"""Normal with :math:`\eta = (\mu / \sigma^2, -1 / (2\sigma^2))` on the last axis.

    .. math:: p(x \mid \eta) = \frac{1}{\sqrt{2\pi}}
              \exp\Big(\eta_1 x + \eta_2 x^2 + \frac{\eta_1^2}{4\eta_2}
              + \tfrac12 \log(-2\eta_2)\Big)
    """

    family = families.normal


class NaturalLogNormal(NaturalDistribution, PositiveContinuous):
    r"""Log-normal: the natural Normal on :math:`\log x`; :math:`T = (\log x, \log^2 x)`,
    :math:`h(x) = 1 / (x\sqrt{2\pi})`."""

    family = families.lognormal


class NaturalGamma(NaturalDistribution, PositiveContinuous):
    r"""Gamma with :math:`\eta = (\alpha - 1, -\beta)`, :math:`T = (\log x, x)`.

    .. math:: A(\eta) = \log\Gamma(\eta_1 + 1) - (\eta_1 + 1)\log(-\eta_2)
    """

    family = families.gamma


class NaturalInverseGamma(NaturalDistribution, PositiveContinuous):
    r"""Inverse gamma with :math:`\eta = (-\alpha - 1, -\beta)`, :math:`T = (\log x, 1/x)`.

    .. math:: A(\eta) = \log\Gamma(-\eta_1 - 1) - (-\eta_1 - 1)\log(-\eta_2)
    """

    family = families.inverse_gamma


class NaturalBeta(NaturalDistribution, UnitContinuous):
    r"""Beta with :math:`\eta = (\alpha - 1, \beta - 1)`, :math:`T = (\log x, \log(1 - x))`.

    .. math:: A(\eta) = \log B(\eta_1 + 1, \eta_2 + 1)
    """

    family = families.beta


class NaturalDirichlet(NaturalDistribution, SimplexContinuous):
    r"""Dirichlet with :math:`\eta = \alpha - 1`, :math:`T = \log x`.

    .. math:: A(\eta) = \textstyle\sum_i \log\Gamma(\alpha_i) - \log\Gamma(\sum_i \alpha_i)
    """

    family = families.dirichlet


class NaturalVonMises(NaturalDistribution, CircularContinuous):
    r"""Von Mises with :math:`\eta = (\kappa\cos\mu, \kappa\sin\mu)`, :math:`T = (\cos x, \sin x)`.

    .. math:: A(\eta) = \log(2\pi I_0(\lVert\eta\rVert))

    :math:`\eta = 0` is the uniform distribution on the circle; every derivative of ``A`` is finite
    there.

    Like ``pm.VonMises`` it takes PyMC's circular transform. Its unconstrained density is
    periodic, so NUTS on a *latent* angle can diverge when the mass is spread around the
    circle; for a latent direction, sampling a 2-vector ``z ~ MvNormal`` and using
    ``arctan2(z[1], z[0])`` is the robust parameterisation.
    """

    family = families.von_mises


class NaturalInverseGaussian(NaturalDistribution, PositiveContinuous):
    r"""Inverse Gaussian (Wald) with :math:`\eta = (-\lambda/(2\mu^2), -\lambda/2)`,
    :math:`T = (x, 1/x)`.

    .. math:: A(\eta) = -2\sqrt{\eta_1\eta_2} - \tfrac12\log(-2\eta_2), \quad
              h(x) = (2\pi x^3)^{-1/2}
    """

    family = families.inverse_gaussian


class NaturalMvNormal(NaturalDistribution, Continuous):
    r"""Multivariate normal in information form: ``NaturalMvNormal(h, precision)``.

    The natural parameters are :math:`(h, -\Lambda/2)` with :math:`h = \Lambda\mu`; the
    sufficient statistics are :math:`(x, x x^\top)`.

    .. math:: A = \tfrac12 h^\top \Lambda^{-1} h - \tfrac12 \log\det\Lambda, \quad
              h(x) = (2\pi)^{-k/2}
    """

    family = families.mvnormal
    param_names = ("h", "precision")

    def natural_from_inputs(cls, natural):
        h, precision = natural
        return (h, -0.5 * precision)


class NaturalWishart(NaturalDistribution, Continuous):
    r"""Wishart in natural parameters: ``NaturalWishart(eta_matrix, eta_logdet)``.

    :math:`T(X) = (X, \log\det X)` with natural parameters
    :math:`(\Theta, a) = (-V^{-1}/2, (\nu - k - 1)/2)`, so that

    .. math:: A(\Theta, a) = -\tfrac{\nu}{2}\log\det(-\Theta) + \log\Gamma_k(\nu/2),
              \quad \nu = 2a + k + 1.
    """

    family = families.wishart
    param_names = ("eta_matrix", "eta_logdet")


@_default_transform.register(NaturalWishart.rv_type)
def _natural_wishart_transform(op, rv):
    # The same unconstraining bijection as PyMC's Wishart: X = L L^T with log-diagonal L.
    return transforms.CholeskyCovTransform(n=rv.owner.inputs[2].shape[-1])


#: The package's ``Natural*`` distributions, in the order of their declarations (for the
#: catalogue and the closed forms of maximum entropy; not re-exported by the package).
NATURAL_DISTRIBUTIONS: tuple[type, ...] = tuple(
    cls for name, cls in tuple(globals().items()) if name in __all__ and hasattr(cls, "family")
)
