r"""The exponential-family form of PyMC's own distributions.

Registers, for each PyMC random-variable op with an exponential-family form, the map from its
parameters to ``(family, natural parameters, fixed parameters)``, so that
:func:`pymc_statmech.entropy`, :func:`~pymc_statmech.kl_divergence` and the rest work on
``pm.Normal.dist(...)``, ``pm.Gamma.dist(...)`` and model variables. Families whose form needs a
parameter held fixed are registered with it fixed: Weibull (shape ``alpha``), Pareto (scale
``m``), Laplace (location ``mu``), Binomial and Multinomial (``n``), NegativeBinomial (``n``).
"""

from __future__ import annotations

import pytensor.tensor as pt
from pymc.distributions.continuous import WaldRV, WeibullBetaRV
from pytensor.scalar.math import Sigmoid as ScalarSigmoid
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.random.basic import (
    BernoulliRV,
    BetaRV,
    BinomialRV,
    CategoricalRV,
    DirichletRV,
    ExponentialRV,
    GammaRV,
    GeometricRV,
    HalfNormalRV,
    InvGammaRV,
    LaplaceRV,
    LogNormalRV,
    MultinomialRV,
    MvNormalRV,
    NegBinomialRV,
    NormalRV,
    ParetoRV,
    PoissonRV,
    VonMisesRV,
)
from pytensor.tensor.special import Softmax

from pymc_statmech.expfam import families as F
from pymc_statmech.expfam.api import FamilyForm, register_family_form
from pymc_statmech.tensors import as_float_tensor

__all__: list[str] = []


def _form(family, natural, **fixed) -> FamilyForm:
    return FamilyForm(family, family.as_natural(natural), fixed)


def _pair(a, b):
    a, b = pt.broadcast_arrays(pt.as_tensor_variable(a), pt.as_tensor_variable(b))
    return pt.stack([a, b], axis=-1)


def _gaussian(mu, sigma):
    s2 = pt.square(sigma)
    return _pair(mu / s2, -0.5 / s2)


def _require_zero(value, name: str, what: str, meaning: str):
    try:
        is_zero = pt.get_scalar_constant_value(value) == 0
    except NotScalarConstantError:
        is_zero = False
    if not is_zero:
        raise NotImplementedError(
            f"{what} with a non-zero {name} ({meaning}) has no exponential-family form here: "
            f"only {name}=0 is supported."
        )


@register_family_form(NormalRV)
def _(op, rv, mu, sigma):
    return _form(F.normal, _gaussian(mu, sigma))


@register_family_form(LogNormalRV)
def _(op, rv, mu, sigma):
    return _form(F.lognormal, _gaussian(mu, sigma))


@register_family_form(HalfNormalRV)
def _(op, rv, loc, sigma):
    _require_zero(loc, "loc", "HalfNormal", "a location shift")
    return _form(F.half_normal, -0.5 / pt.square(sigma))


@register_family_form(ExponentialRV)
def _(op, rv, scale):
    return _form(F.exponential, -1.0 / scale)


@register_family_form(GammaRV)
def _(op, rv, alpha, scale):
    return _form(F.gamma, _pair(alpha - 1, -1.0 / scale))


@register_family_form(InvGammaRV)
def _(op, rv, alpha, beta):
    return _form(F.inverse_gamma, _pair(-alpha - 1, -beta))


@register_family_form(BetaRV)
def _(op, rv, a, b):
    return _form(F.beta, _pair(a - 1, b - 1))


@register_family_form(DirichletRV)
def _(op, rv, alpha):
    return _form(F.dirichlet, alpha - 1)


def _logit(p):
    # pm.Bernoulli(logit_p=x) stores sigmoid(x): take x back rather than logit(sigmoid(x)),
    # which loses precision and overflows to inf for |x| > 37.
    owner = p.owner
    if owner is not None and isinstance(getattr(owner.op, "scalar_op", None), ScalarSigmoid):
        return as_float_tensor(owner.inputs[0])
    return pt.special.logit(p)


def _log_probabilities(p):
    # pm.Categorical(logit_p=x) stores softmax(x): the logits themselves are natural parameters.
    owner = p.owner
    if owner is not None and isinstance(owner.op, Softmax):
        return as_float_tensor(owner.inputs[0])
    return pt.log(p)


@register_family_form(BernoulliRV)
def _(op, rv, p):
    return _form(F.bernoulli, _logit(p))


@register_family_form(BinomialRV)
def _(op, rv, n, p):
    return _form(F.binomial, _logit(p), n=n)


@register_family_form(PoissonRV)
def _(op, rv, mu):
    return _form(F.poisson, pt.log(mu))


@register_family_form(GeometricRV)
def _(op, rv, p):
    return _form(F.geometric_trials, pt.log1p(-p))


@register_family_form(NegBinomialRV)
def _(op, rv, n, p):
    return _form(F.negative_binomial, pt.log1p(-p), r=n)


@register_family_form(CategoricalRV)
def _(op, rv, p):
    return _form(F.categorical, _log_probabilities(p))


@register_family_form(MultinomialRV)
def _(op, rv, n, p):
    return _form(F.multinomial, _log_probabilities(p), n=n)


@register_family_form(MvNormalRV)
def _(op, rv, mu, cov):
    precision = pt.linalg.inv(cov)
    h = (precision @ pt.shape_padright(mu, 1))[..., 0]
    return _form(F.mvnormal, (h, -0.5 * precision))


@register_family_form(VonMisesRV)
def _(op, rv, mu, kappa):
    return _form(F.von_mises, _pair(kappa * pt.cos(mu), kappa * pt.sin(mu)))


@register_family_form(WaldRV)
def _(op, rv, mu, lam, alpha):
    _require_zero(alpha, "alpha", "Wald", "a location shift")
    return _form(F.inverse_gaussian, _pair(-lam / (2 * pt.square(mu)), -lam / 2))


@register_family_form(WeibullBetaRV)
def _(op, rv, alpha, beta):
    return _form(F.weibull, -(beta ** (-alpha)), alpha=alpha)


@register_family_form(ParetoRV)
def _(op, rv, alpha, m):
    return _form(F.pareto, -alpha - 1, m=m)


@register_family_form(LaplaceRV)
def _(op, rv, mu, b):
    return _form(F.laplace, -1.0 / b, mu=mu)
