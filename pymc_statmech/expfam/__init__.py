"""Exponential families in natural parameters: specs, PyMC distributions, derived quantities."""

from pymc_statmech.expfam import builtins as _builtins  # noqa: F401  (registers PyMC built-ins)
from pymc_statmech.expfam import conjugate, distributions
from pymc_statmech.expfam.api import (
    FamilyForm,
    cross_entropy,
    entropy,
    family_form,
    fisher_information,
    kl_divergence,
    log_partition,
    mean_parameters,
    natural_parameters,
    register_family_form,
)
from pymc_statmech.expfam.conjugate import (
    ConjugateResult,
    RegressionResult,
    beta_bernoulli,
    beta_binomial,
    conjugate_update,
    dirichlet_categorical,
    dirichlet_multinomial,
    gamma_exponential,
    gamma_normal,
    gamma_poisson,
    mvnormal_mvnormal,
    normal_inverse_gamma_regression,
    normal_normal,
)
from pymc_statmech.expfam.custom import ExponentialFamily
from pymc_statmech.expfam.distributions import *  # noqa: F403  (exported as distributions.__all__)
from pymc_statmech.expfam.family import Family, NumericalLimitError, ParameterDomainError

__all__ = [
    *distributions.__all__,
    "ConjugateResult",
    "ExponentialFamily",
    "Family",
    "FamilyForm",
    "NumericalLimitError",
    "ParameterDomainError",
    "RegressionResult",
    "beta_bernoulli",
    "beta_binomial",
    "conjugate",
    "conjugate_update",
    "cross_entropy",
    "dirichlet_categorical",
    "dirichlet_multinomial",
    "entropy",
    "family_form",
    "fisher_information",
    "gamma_exponential",
    "gamma_normal",
    "gamma_poisson",
    "kl_divergence",
    "log_partition",
    "mean_parameters",
    "mvnormal_mvnormal",
    "natural_parameters",
    "normal_inverse_gamma_regression",
    "normal_normal",
    "register_family_form",
]
