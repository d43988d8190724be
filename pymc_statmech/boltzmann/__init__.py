"""Boltzmann and Ising models: structures, log-partition functions, distributions, samplers."""

from pymc_statmech.boltzmann import lattice, partition, step
from pymc_statmech.boltzmann.distributions import Boltzmann, Ising, ising_family
from pymc_statmech.boltzmann.lattice import *  # noqa: F403  (exported as lattice.__all__)
from pymc_statmech.boltzmann.partition import *  # noqa: F403  (exported as partition.__all__)
from pymc_statmech.boltzmann.thermodynamics import ising_thermodynamics

__all__ = [
    "Boltzmann",
    "Ising",
    "ising_family",
    "ising_thermodynamics",
    "step",
    *lattice.__all__,
    *partition.__all__,
]
