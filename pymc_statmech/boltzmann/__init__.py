"""Boltzmann and Ising models: structures, log-partition functions, distributions, samplers."""

from pymc_statmech.boltzmann import step
from pymc_statmech.boltzmann.distributions import Boltzmann, Ising, ising_family
from pymc_statmech.boltzmann.lattice import (
    IsingStructure,
    binary_to_ising,
    binary_to_spins,
    edge_couplings,
    ising_energy,
    ising_structure,
    ising_to_binary,
    site_fields,
    spins_to_binary,
    validate_coupling_matrix,
)
from pymc_statmech.boltzmann.partition import (
    ENUMERATE_MAX_SPINS,
    TRACE_MAX_WIDTH,
    TRANSFER_MATRIX_MAX_BYTES,
    TRANSFER_MATRIX_MAX_WIDTH,
    BetheResult,
    IsingTooLargeError,
    MeanFieldResult,
    ising_bethe,
    ising_log_partition,
    ising_mean_field,
)

__all__ = [
    "ENUMERATE_MAX_SPINS",
    "TRACE_MAX_WIDTH",
    "TRANSFER_MATRIX_MAX_BYTES",
    "TRANSFER_MATRIX_MAX_WIDTH",
    "BetheResult",
    "Boltzmann",
    "Ising",
    "IsingStructure",
    "IsingTooLargeError",
    "MeanFieldResult",
    "binary_to_ising",
    "binary_to_spins",
    "edge_couplings",
    "ising_bethe",
    "ising_energy",
    "ising_family",
    "ising_log_partition",
    "ising_mean_field",
    "ising_structure",
    "ising_to_binary",
    "site_fields",
    "spins_to_binary",
    "step",
    "validate_coupling_matrix",
]
