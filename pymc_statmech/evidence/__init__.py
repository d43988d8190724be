"""The evidence as a free energy: power posteriors, estimators of log Z, and the result object."""

from pymc_statmech.evidence.estimators import EvidenceWarning, free_energy
from pymc_statmech.evidence.generalisation import pac_bayes_bound
from pymc_statmech.evidence.result import BayesFactor, FreeEnergy, ThermodynamicCurve, bayes_factor
from pymc_statmech.evidence.tempering import default_ladder, sample_power_posteriors
from pymc_statmech.evidence.thermodynamics import (
    learning_coefficient,
    plot_thermodynamics,
    summary,
    thermodynamics,
)

__all__ = [
    "BayesFactor",
    "EvidenceWarning",
    "FreeEnergy",
    "ThermodynamicCurve",
    "bayes_factor",
    "default_ladder",
    "free_energy",
    "learning_coefficient",
    "pac_bayes_bound",
    "plot_thermodynamics",
    "sample_power_posteriors",
    "summary",
    "thermodynamics",
]
