"""pymc_statmech: the statistical-mechanics view of Bayesian learning as PyMC objects.

Import as ``import pymc_statmech as psm``. The five pillars load on first use (PEP 562): a bare
``import pymc_statmech`` imports nothing heavy, so ``pymc-statmech --help`` answers at once, and
``psm.entropy`` loads only the exponential families, ``psm.Ising`` only the Ising models.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pymc_statmech")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree, not installed
    __version__ = "unknown"

#: The public names, by the subpackage that defines them (each subpackage's ``__all__``;
#: ``tests/test_optional_packages.py`` checks that the two agree).
_PUBLIC: dict[str, tuple[str, ...]] = {
    "pymc_statmech.expfam": (
        "ConjugateResult", "ExponentialFamily", "Family", "FamilyForm", "NaturalBernoulli",
        "NaturalBeta", "NaturalBinomial",
        "NaturalCategorical", "NaturalDirichlet", "NaturalDistribution", "NaturalExponential",
        "NaturalGamma", "NaturalGeometric", "NaturalInverseGamma", "NaturalInverseGaussian",
        "NaturalLogNormal", "NaturalMultinomial", "NaturalMvNormal", "NaturalNegativeBinomial",
        "NaturalNormal", "NaturalPoisson", "NaturalVonMises", "NaturalWishart",
        "NumericalLimitError", "ParameterDomainError", "RegressionResult", "beta_bernoulli",
        "beta_binomial", "conjugate", "conjugate_update", "cross_entropy", "dirichlet_categorical",
        "dirichlet_multinomial", "entropy", "family_form", "fisher_information",
        "gamma_exponential", "gamma_normal", "gamma_poisson", "kl_divergence", "log_partition",
        "mean_parameters", "mvnormal_mvnormal", "natural_parameters",
        "normal_inverse_gamma_regression", "normal_normal", "register_family_form",
    ),
    "pymc_statmech.maxent": (
        "KNOWN_FORMS", "Circle", "Constraint", "Discrete", "ElicitedPrior", "HalfLine",
        "InfeasibleConstraintsError", "Integers", "Interval", "MaxEnt", "MaxEntSolution",
        "NonConvergenceWarning", "RealLine", "domain_of", "expect", "gibbs_conditional",
        "interval_mass", "maxent_family", "maxent_solve", "mean", "moment", "quantile",
        "rate_function", "tail_probability",
    ),
    "pymc_statmech.evidence": (
        "BayesFactor", "EvidenceWarning", "FreeEnergy", "ThermodynamicCurve", "bayes_factor",
        "default_ladder", "free_energy", "learning_coefficient", "pac_bayes_bound",
        "plot_thermodynamics",
        "sample_power_posteriors", "summary", "thermodynamics",
    ),
    "pymc_statmech.boltzmann": (
        "Boltzmann", "Ising", "IsingStructure", "IsingTooLargeError", "binary_to_ising",
        "binary_to_spins", "ising_log_partition", "ising_structure", "ising_thermodynamics",
        "ising_to_binary",
        "spins_to_binary", "step",
    ),
}  # fmt: skip
_SUBPACKAGES = ("boltzmann", "evidence", "expfam", "maxent", "stats")
_HOME = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted({*_HOME, "boltzmann", "stats"})


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
