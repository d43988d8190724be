"""pymc_statmech: the statistical-mechanics view of Bayesian learning as PyMC objects.

Import as ``import pymc_statmech as psm``.
"""

from pymc_statmech import boltzmann, stats
from pymc_statmech.boltzmann import (
    Boltzmann,
    Ising,
    IsingStructure,
    IsingTooLargeError,
    binary_to_ising,
    binary_to_spins,
    ising_log_partition,
    ising_structure,
    ising_to_binary,
    spins_to_binary,
    step,
)
from pymc_statmech.evidence import *  # noqa: F403
from pymc_statmech.evidence import __all__ as _evidence_all
from pymc_statmech.expfam import *  # noqa: F403
from pymc_statmech.expfam import __all__ as _expfam_all
from pymc_statmech.maxent import *  # noqa: F403
from pymc_statmech.maxent import __all__ as _maxent_all

__version__ = "0.1.0"
__all__ = [
    *_expfam_all,
    *_maxent_all,
    *_evidence_all,
    "Boltzmann",
    "Ising",
    "IsingStructure",
    "IsingTooLargeError",
    "binary_to_ising",
    "binary_to_spins",
    "boltzmann",
    "ising_log_partition",
    "ising_structure",
    "ising_to_binary",
    "spins_to_binary",
    "stats",
    "step",
]
