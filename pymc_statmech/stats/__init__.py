"""Information measures on ArviZ data: entropy, KL divergence, information gain, mutual information.

Functions take an ``xarray.DataTree`` (what ``pm.sample`` returns), a legacy ``InferenceData`` or an
``xarray.Dataset`` and return xarray objects whose values carry a trailing ``estimate`` dimension
with coordinates ``["value", "error"]``, in nats.
"""

from pymc_statmech.stats.divergence import information_gain, kl_divergence, mutual_information
from pymc_statmech.stats.entropy import entropy

__all__ = ["entropy", "information_gain", "kl_divergence", "mutual_information"]
