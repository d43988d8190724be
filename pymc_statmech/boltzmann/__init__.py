"""Boltzmann and Ising models: structures, exact and approximate log-partition functions."""

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

__all__ = [
    "IsingStructure",
    "binary_to_ising",
    "binary_to_spins",
    "edge_couplings",
    "ising_energy",
    "ising_structure",
    "ising_to_binary",
    "site_fields",
    "spins_to_binary",
    "validate_coupling_matrix",
]
