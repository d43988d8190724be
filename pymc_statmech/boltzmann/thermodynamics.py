r"""Thermodynamics of an Ising model from its log-partition function.

The canonical ensemble :math:`p_\beta(s) = e^{-\beta E(s)} / Z(\beta)` is an exponential family
in :math:`\beta` with statistic :math:`-E(s)` and log-partition :math:`\log Z(\beta)`. Its mean
parameter is minus the mean energy and its Fisher information the variance of the energy, so
the thermodynamics are the first two derivatives of :math:`\log Z`:

.. math::
    U = -\partial_\beta \log Z = \langle E\rangle, \qquad
    C = \beta^2 \partial_\beta^2 \log Z = \beta^2 \operatorname{Var} E, \qquad
    S = \log Z + \beta U, \qquad F = -\log Z / \beta,

and the magnetisation :math:`M = \langle\sum_i s_i\rangle = \beta^{-1}\partial_\epsilon \log Z`
for a uniform extra field :math:`\epsilon` at :math:`\epsilon = 0`. :math:`C` is the heat
capacity in units of :math:`k_B`, :math:`S` the entropy in nats.

References
----------
.. [1] Huang, K. (1987). Statistical Mechanics, 2nd ed. Wiley, ch. 7-8.
.. [2] Wainwright, M. J. and Jordan, M. I. (2008). Graphical models, exponential families,
   and variational inference. Found. Trends Mach. Learn. 1, 1-305, sec. 3.4.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
import xarray as xr

from pymc_statmech._compile import one_shot_function
from pymc_statmech.boltzmann.lattice import edge_couplings, ising_structure
from pymc_statmech.boltzmann.partition import ising_log_partition

__all__ = ["ising_thermodynamics"]

_APPROXIMATIONS = ("mean_field", "bethe")


def _numeric(name: str, value: Any) -> np.ndarray:
    if isinstance(value, pytensor.graph.basic.Variable):
        raise TypeError(
            f"ising_thermodynamics evaluates numbers; {name} is a PyTensor variable. For a "
            "symbolic log Z and its derivatives use ising_log_partition and pytensor.grad."
        )
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a real number or array, got {value!r}.") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return array


def ising_thermodynamics(
    J: Any = 1.0,
    h: Any = 0.0,
    beta: Any = 1.0,
    lattice: Any = None,
    *,
    method: str = "auto",
    boundary: str | tuple[str, ...] = "periodic",
    graph: Any = None,
    n_spins: int | None = None,
) -> xr.Dataset:
    r"""Log-partition, free energy, energy, heat capacity, entropy and magnetisation per spin.

    Each quantity is a derivative of :math:`\log Z(\beta)` (see the module docstring):
    :math:`f = -\log Z/(\beta N)`, :math:`u = -\partial_\beta\log Z / N`,
    :math:`c = \beta^2\partial^2_\beta \log Z / N`, :math:`s = (\log Z + \beta N u)/N` and
    :math:`m = \langle\sum_i s_i\rangle / N`, computed by automatic differentiation of the
    exact log-partition (exact to rounding) for every inverse temperature in ``beta``.

    Parameters
    ----------
    J : float, per-bond array or (n, n) coupling matrix
        Couplings (energy units).
    h : float or per-site array
        Fields (energy units). With ``h = 0`` the magnetisation is 0 by the spin-flip symmetry
        and Kaufman's formula applies to periodic lattices.
    beta : float or 1-D array
        Inverse temperatures (1 / energy units); the ``beta`` coordinate of the result.
    lattice, method, boundary, graph, n_spins :
        As in :func:`~pymc_statmech.boltzmann.ising_log_partition` (all but ``lattice``
        by keyword). ``"auto"`` is exact or
        raises :class:`~pymc_statmech.boltzmann.IsingTooLargeError`; ``"mean_field"`` and
        ``"bethe"`` give the thermodynamics of the approximation (heat capacity NaN), with a
        warning.

    Returns
    -------
    xarray.Dataset
        Over the dimension ``beta``: ``log_partition`` (nats), ``free_energy_per_spin``,
        ``energy_per_spin`` (energy units), ``heat_capacity_per_spin`` (:math:`k_B`),
        ``entropy_per_spin`` (nats) and ``magnetisation_per_spin``. At :math:`\beta = 0` the
        free energy is :math:`-\infty` and the magnetisation 0. The attributes give
        ``n_spins``, the ``structure``, the ``method`` and whether the values are ``exact``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_statmech.boltzmann import ising_thermodynamics
    >>> ds = ising_thermodynamics(1.0, beta=[0.0, 0.5], lattice=(6,), boundary="open")
    >>> np.allclose(ds.energy_per_spin, -np.tanh(ds.beta) * 5 / 6)  # open chain: -(N-1) tanh
    True
    """
    structure = ising_structure(lattice, graph, boundary, n_spins)
    J, h = _numeric("J", J), _numeric("h", h)
    betas = np.atleast_1d(_numeric("beta", beta))
    if betas.ndim != 1:
        raise ValueError(f"beta must be a number or a 1-D array, got shape {betas.shape}.")
    approximate = method in _APPROXIMATIONS
    if approximate:
        warnings.warn(
            f"method={method!r} gives the thermodynamics of the {method} approximation, not the "
            "Ising model's: its log Z, and u, s, m from its gradient at the self-consistent "
            "solution; the heat capacity is NaN (the gradient holds the solution fixed, so it "
            "has no second derivative). Use an exact method (method='auto') for the model.",
            UserWarning,
            stacklevel=2,
        )
    b = pt.scalar("beta", dtype="float64")
    shift = pt.scalar("field_shift", dtype="float64")
    field_free = not np.any(h)
    # a literal h = 0 keeps Kaufman's formula available; M = 0 there by symmetry
    field = 0.0 if field_free else h + shift
    log_z = ising_log_partition(J, field, b, lattice=structure, method=method)
    d_beta = pytensor.grad(log_z, b)
    outputs = [log_z, d_beta, pt.constant(np.nan) if approximate else pytensor.grad(d_beta, b)]
    outputs.append(pt.zeros(()) if field_free else pytensor.grad(log_z, shift))
    # evaluated once per beta: NumPy evaluation (the exact methods are compiled kernels)
    evaluate = one_shot_function([b, shift], outputs, on_unused_input="ignore")
    values = np.array([[float(v) for v in evaluate(x, 0.0)] for x in betas]).reshape(-1, 4)
    log_partition, d1, d2, d_field = values.T
    n = structure.n_spins
    energy = 0.0 - d1 / n  # not -0.0 at beta = 0
    # Var E <= (sum |J| + sum |h|)^2: where that bounds c below 1e-300, c is 0 to float64's
    # resolution (Kaufman's second derivative is 0 * inf at beta J below about 1e-154)
    scale = float(
        np.sum(np.abs(edge_couplings(structure, J))) + np.sum(np.abs(h)) * (n if h.ndim == 0 else 1)
    )
    negligible = betas**2 * scale**2 / n < 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        heat_capacity = np.where(negligible, 0.0, betas**2 * d2 / n)
        free_energy = np.where(betas != 0, -log_partition / (betas * n), -np.inf)
        magnetisation = np.where(betas != 0, d_field / (betas * n), 0.0)
    per_spin = {
        "log_partition": (log_partition, "nats"),
        "free_energy_per_spin": (free_energy, "energy"),
        "energy_per_spin": (energy, "energy"),
        "heat_capacity_per_spin": (heat_capacity, "k_B"),
        "entropy_per_spin": ((log_partition + betas * n * energy) / n, "nats"),
        "magnetisation_per_spin": (magnetisation, "1"),
    }
    return xr.Dataset(
        {name: ("beta", v, {"units": units}) for name, (v, units) in per_spin.items()},
        coords={"beta": betas},
        attrs={
            "n_spins": n,
            "structure": structure.description,
            "method": method,
            "exact": method not in _APPROXIMATIONS,
        },
    )
