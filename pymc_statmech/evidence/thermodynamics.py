r"""The thermodynamics of a posterior: energy, heat capacity, free energy and entropy over beta.

The power posterior :math:`p_\beta(\theta) \propto p(\theta) L(\theta)^\beta` is a Boltzmann
distribution at inverse temperature :math:`\beta` with energy :math:`-\log L`, in the potential of
the prior. Its thermodynamic functions, estimated on a ladder of :func:`sample_power_posteriors`:

.. math::

    U(\beta) = E_\beta[-\log L], \qquad
    C(\beta) = \beta^2 \mathrm{Var}_\beta[\log L] = -\beta^2 \frac{dU}{d\beta}, \qquad
    F(\beta) = -\log Z(\beta), \qquad
    \mathrm{KL}(p_\beta \| p_0) = \beta E_\beta[\log L] - \log \frac{Z(\beta)}{Z(0)},

the last being the entropy deficit of the tempered posterior relative to the prior (its
information gain at temperature :math:`1/\beta`). A peak of the heat capacity marks where the
posterior changes shape (a mixture's components separating), as a phase transition does.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pymc_statmech._data import SAMPLE_DIMS, as_datatree, get_group
from pymc_statmech.evidence.estimators import (
    _mean_and_mcse,
    free_energy,
    ladder_log_likelihood,
    number_of_observations,
    stepping_stone_steps,
    tempered_energy,
)
from pymc_statmech.evidence.tempering import (
    RUNG_DIM,
    TEMPERING_GROUP,
    rung_seeds,
    tempered_model,
)
from pymc_statmech.model_terms import checked_model, model_terms
from pymc_statmech.stats.divergence import kl_divergence
from pymc_statmech.stats.estimators import estimate_array

__all__ = ["learning_coefficient", "plot_thermodynamics", "summary", "thermodynamics"]


def thermodynamics(ladder) -> xr.Dataset:
    r"""Energy, heat capacity, free energy and relative entropy of the power posteriors.

    Parameters
    ----------
    ladder : xarray.DataTree
        The output of :func:`sample_power_posteriors` (its ``tempering`` group).

    Returns
    -------
    xarray.Dataset
        Over ``beta``, each with a trailing ``estimate`` dimension (``value``, ``error``; the
        error a Monte Carlo standard error, nats):

        * ``energy`` :math:`U(\beta) = E_\beta[-\log L]`: mean and ESS-based MCSE per rung;
        * ``heat_capacity`` :math:`C(\beta) = \beta^2\mathrm{Var}_\beta[\log L]`: the error of the
          variance from the ESS of the squared deviations;
        * ``free_energy`` :math:`F(\beta) = -\log Z(\beta)`: cumulative stepping-stone ratios
          from the prior (plus the log of the prior's mass when a transform cuts its support,
          so that :math:`F(1)` is the model's free energy as :func:`free_energy` reports it);
        * ``kl`` :math:`\mathrm{KL}(p_\beta\,\|\,p_0) = \beta E_\beta[\log L]
          - \log(Z(\beta)/Z(0))`, against the prior normalised to one.

    References
    ----------
    Friel, N. & Pettitt, A. N. (2008). Marginal likelihood estimation via power posteriors.
    *JRSS B* 70, 589-607. Gelman, A. & Meng, X.-L. (1998). Simulating normalizing constants.
    *Statistical Science* 13, 163-185.

    Examples
    --------
    >>> import pymc as pm, pymc_statmech as psm
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0, 1)
    ...     _ = pm.Normal("y", mu, 1, observed=[0.3, -0.1, 0.5])
    >>> ladder = psm.sample_power_posteriors(model, betas=8, draws=500, tune=500,
    ...                                      random_seed=1, progressbar=False)
    >>> thermo = psm.thermodynamics(ladder)
    >>> sorted(thermo.data_vars)
    ['energy', 'free_energy', 'heat_capacity', 'kl']
    """
    tree = as_datatree(ladder, "ladder")
    betas, values = ladder_log_likelihood(tree)
    attrs = tree[TEMPERING_GROUP].attrs
    log_mass = float(attrs.get("log_prior_mass", 0.0))
    log_mass_error = float(attrs.get("log_prior_mass_error", 0.0))
    if not np.isfinite(log_mass):  # mass unknown: the prior normalised on its support
        log_mass, log_mass_error = 0.0, 0.0

    energy = np.full((len(betas), 2), np.nan)
    heat = np.full((len(betas), 2), np.nan)
    for k, rung in enumerate(values):
        if np.all(np.isfinite(rung)):
            mean, mcse = _mean_and_mcse(-rung)
            energy[k] = mean, mcse
            deviations = (rung - rung.mean()) ** 2
            variance, variance_error = _mean_and_mcse(deviations)
            correction = rung.size / (rung.size - 1)  # unbiased variance
            heat[k] = betas[k] ** 2 * correction * np.array([variance, variance_error])
    log_ratios, variances = stepping_stone_steps(betas, values)
    log_z = np.r_[0.0, np.cumsum(log_ratios)]
    log_z_error = np.sqrt(np.r_[0.0, np.cumsum(variances)])
    # beta E_beta[log L] is 0 at beta = 0 even where log L = -inf at some prior draws
    beta_mean = np.where(betas > 0, -betas * energy[:, 0], 0.0)
    kl = beta_mean - log_z
    kl_error = np.hypot(np.where(betas > 0, betas * energy[:, 1], 0.0), log_z_error)

    coords = {RUNG_DIM: betas}
    units = {"units": "nat"}
    return xr.Dataset(
        {
            "energy": estimate_array(
                energy[:, 0],
                energy[:, 1],
                (RUNG_DIM,),
                coords,
                {**units, "long_name": "U = E[-log L]"},
            ),
            "heat_capacity": estimate_array(
                heat[:, 0], heat[:, 1], (RUNG_DIM,), coords, {"long_name": "C = beta^2 Var[log L]"}
            ),
            "free_energy": estimate_array(
                -(log_z + log_mass),
                np.hypot(log_z_error, log_mass_error),
                (RUNG_DIM,),
                coords,
                {**units, "long_name": "F = -log Z(beta)"},
            ),
            "kl": estimate_array(
                kl, kl_error, (RUNG_DIM,), coords, {**units, "long_name": "KL(p_beta || prior)"}
            ),
        },
        attrs={"error": "Monte Carlo standard error", "log_prior_mass": log_mass},
    )


def plot_thermodynamics(thermo: xr.Dataset, axes=None):
    """Plot energy, heat capacity and relative entropy against beta, with +/- 2 error bands.

    ``thermo`` is the output of :func:`thermodynamics`. Returns the three matplotlib axes.
    """
    import matplotlib.pyplot as plt

    needed = (RUNG_DIM, "energy", "heat_capacity", "kl")
    if not isinstance(thermo, xr.Dataset) or any(v not in thermo.variables for v in needed):
        raise TypeError(
            "plot_thermodynamics: give the Dataset of psm.thermodynamics(ladder) (with beta, "
            f"energy, heat_capacity and kl), not {type(thermo).__name__}."
        )
    panels = [
        ("energy", r"$U(\beta) = E_\beta[-\log L]$ (nats)"),
        ("heat_capacity", r"$C(\beta) = \beta^2\,\mathrm{Var}_\beta[\log L]$"),
        ("kl", r"$\mathrm{KL}(p_\beta\,\|\,\mathrm{prior})$ (nats)"),
    ]
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes = list(np.atleast_1d(axes))
    if len(axes) != 3:
        raise ValueError(f"plot_thermodynamics needs 3 axes, got {len(axes)}.")
    beta = thermo[RUNG_DIM].values
    for axis, (name, label) in zip(axes, panels, strict=True):
        value = thermo[name].sel(estimate="value").values
        error = thermo[name].sel(estimate="error").values
        axis.fill_between(beta, value - 2 * error, value + 2 * error, alpha=0.3, label="+/- 2 MCSE")
        axis.plot(beta, value, "o-", ms=3)
        axis.set_xscale("symlog", linthresh=max(1e-3, float(beta[1]) if beta.size > 1 else 1e-3))
        axis.set_xlabel(r"inverse temperature $\beta$")
        axis.set_ylabel(label)
    axes[0].legend(fontsize="small")
    axes[1].set_title("a peak marks where the posterior changes shape", fontsize="small")
    return axes


def learning_coefficient(
    model=None,
    *,
    n_obs=None,
    beta0=(1.0, 1.5),
    draws=1000,
    tune=1000,
    chains=4,
    random_seed=None,
    **sample_kwargs,
) -> xr.Dataset:
    r"""The learning coefficient :math:`\lambda` (real log canonical threshold) of singular
    learning theory, by Watanabe's two-temperature estimator.

    The free energy grows as :math:`F_n = nL_n(w_0) + \lambda \log n + O_p(\log\log n)`; a
    regular model with :math:`d` parameters has :math:`\lambda = d/2`, a singular one (mixtures,
    reduced-rank regressions, neural networks) less. At :math:`\beta = \beta_0/\log n`,
    :math:`E_\beta[-\log L] = nL_n(w_0) + \lambda/\beta + O_p(\sqrt{\log n})`, so two
    temperatures give

    .. math:: \hat\lambda = \frac{E_{\beta_1}[-\log L] - E_{\beta_2}[-\log L]}
                               {1/\beta_1 - 1/\beta_2} .

    Parameters
    ----------
    model : pymc.Model, optional
        The model (the context model when omitted).
    n_obs : int, optional
        The number of observations :math:`n` (default: the total size of the observed variables).
    beta0 : pair of float, default (1.0, 1.5)
        :math:`\beta_0` of the two temperatures :math:`\beta_i = \beta_{0,i}/\log n`.
    draws, tune, chains, random_seed, **sample_kwargs
        For ``pm.sample`` at each temperature.

    Returns
    -------
    xarray.Dataset
        ``learning_coefficient`` with the trailing ``estimate`` dimension (value, Monte Carlo
        standard error); ``attrs``: ``regular_value`` (:math:`d/2`, :math:`d` the number of
        unconstrained parameters), ``betas``, ``energies`` and ``n_obs``. The estimator's own
        bias, :math:`O(1/\sqrt{\log n})` relative, is not in the error.

    References
    ----------
    Watanabe, S. (2013). A widely applicable Bayesian information criterion. *JMLR* 14,
    867-897 (section 6, the two-temperature estimator).
    Watanabe, S. (2009). *Algebraic Geometry and Statistical Learning Theory*. Cambridge.
    """

    terms = model_terms(model)
    terms.require_proper_prior("The learning coefficient")
    n = number_of_observations(terms, n_obs, "The learning coefficient")
    beta0 = np.asarray(beta0, dtype=float)
    if beta0.shape != (2,) or not np.all(beta0 > 0) or beta0[0] == beta0[1]:
        raise ValueError(f"beta0 must be two different positive numbers, got {beta0!r}.")
    betas = beta0 / np.log(n)
    if np.any(betas > 1):
        raise ValueError(
            f"beta0 / log n = {betas} exceeds 1 with n = {n}: pass smaller beta0 (the estimator "
            "needs temperatures above the posterior's)."
        )
    seeds = rung_seeds(random_seed, 2)
    tempered = tempered_model(terms.model)  # one copy for both temperatures
    energies = [
        tempered_energy(terms, tempered, beta, draws, tune, chains, seed, sample_kwargs)
        for beta, seed in zip(betas, seeds, strict=True)
    ]
    (u1, e1), (u2, e2) = energies
    span = 1 / betas[0] - 1 / betas[1]
    value = (u1 - u2) / span
    error = float(np.hypot(e1, e2) / abs(span))
    attrs = {
        "regular_value": terms.dim / 2,
        "betas": betas.tolist(),
        "energies": [u1, u2],
        "n_obs": n,
        "method": "two-temperature (Watanabe 2013)",
    }
    return xr.Dataset(
        {"learning_coefficient": estimate_array(value, error, attrs=attrs)}, attrs=attrs
    )


def _per_variable_gain(tree, terms, rows: dict, notes: list) -> None:
    """Rows ``information_gain[v]``: KL of each free variable's posterior marginal from its prior
    marginal, estimated between the posterior and prior groups (a hierarchical prior's marginal
    has no closed form, so the prior's draws stand in for it)."""
    if "prior" not in tree.children:
        notes.append(
            "information_gain[<variable>]: needs a prior group (idata['prior'] = "
            "pm.sample_prior_predictive(model=model)['prior'])."
        )
        return
    prior = get_group(tree, "prior")
    for name in terms.names:
        if name in terms.discrete_names or name not in prior.data_vars:
            notes.append(f"information_gain[{name}]: discrete or not in the prior group.")
            continue
        gain = kl_divergence(tree, [name], p="posterior", q="prior", method="knn")[name]
        rows[f"information_gain[{name}]"] = (
            float(gain.sel(estimate="value")),
            float(gain.sel(estimate="error")),
            "kNN KL(posterior || prior) of this variable's marginal (posterior and prior groups)",
        )


def summary(idata, model=None, *, ladder=None, random_seed=None):
    r"""What the statistical-mechanics view says about a fitted model, in one table.

    Rows (nats unless said otherwise), each with its Monte Carlo error and how it was estimated:

    * ``log_evidence`` :math:`\log Z = -F` and ``energy`` :math:`U = E_\text{post}[-\log L]`
      (:func:`free_energy`, bridge sampling, with its checks and warnings);
    * ``information_gain`` :math:`\mathrm{KL}(\text{post}\,\|\,\text{prior}) = -U - \log Z`;
    * ``posterior_entropy`` :math:`H = -\mathrm{KL} - E_\text{post}[\log p(\theta)]`, exact in
      the prior, in the model's own (constrained) variables;
    * ``heat_capacity`` :math:`C(1) = \mathrm{Var}_\text{post}[\log L]` and
      ``effective_parameters`` :math:`2C(1)` (:math:`d` for a regular model with enough data:
      the posterior is then Gaussian in :math:`d` dimensions; Gelman et al.'s :math:`p_V`);
    * ``waic_penalty`` :math:`V = \sum_i \mathrm{Var}_\text{post}[\log p(y_i\mid\theta)]` (the
      functional variance), for comparison, and ``singular_fluctuation`` :math:`\nu = V/2`
      (:math:`d/2` for a regular model, less for a singular one; Watanabe 2010), when ``idata``
      has a ``log_likelihood`` group;
    * ``information_gain[v]`` for each free variable :math:`v`:
      :math:`\mathrm{KL}(p(v\mid y)\,\|\,p(v))` of its marginals (kNN between the
      ``posterior`` and ``prior`` groups, :func:`~pymc_statmech.stats.kl_divergence`), when
      ``idata`` has a ``prior`` group. Marginal gains do not add up to the joint one when the
      posterior correlates the variables;
    * ``learning_coefficient`` :math:`\lambda \approx C(\beta)` at :math:`\beta = 1/\log n`
      (since :math:`E_\beta[-\log L] \approx nL_n + \lambda/\beta`), when a ``ladder`` from
      :func:`sample_power_posteriors` is given (interpolated in :math:`\log\beta` between rungs).

    Rows that need more than was passed are left out, and ``result.attrs["notes"]`` says why.

    Parameters
    ----------
    idata : xarray.DataTree or InferenceData
        ``pm.sample`` output of ``model``.
    model : pymc.Model, optional
        The model (the context model when omitted).
    ladder : xarray.DataTree, optional
        ``psm.sample_power_posteriors`` output, for the learning coefficient.
    random_seed : int, optional
        Seeds the bridge sampling.

    Returns
    -------
    pandas.DataFrame
        Index: the quantities; columns ``value``, ``error``, ``how``.

    References
    ----------
    Watanabe, S. (2013). A widely applicable Bayesian information criterion. *JMLR* 14,
    867-897. Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., section 7.2.
    """
    import pandas as pd

    model = checked_model(model)
    tree = as_datatree(idata, "idata")
    result = free_energy(tree, model, random_seed=random_seed)
    terms = model_terms(model)
    posterior = get_group(tree, "posterior")
    theta = terms.unconstrain(terms.draws_from(posterior, SAMPLE_DIMS, "posterior"))
    n_chains = posterior.sizes["chain"]
    log_prior_u, log_likelihood = terms.log_terms(theta)
    log_prior = (log_prior_u - terms.log_jacobian(theta)).reshape(n_chains, -1)
    log_likelihood = log_likelihood.reshape(n_chains, -1)
    log_mass = result.diagnostics.get("log_prior_mass", 0.0)
    rows, notes = {}, []
    rows["log_evidence"] = (result.log_evidence, result.error, f"{result.method} (psm.free_energy)")
    rows["energy"] = (result.energy, result.energy_error, "posterior mean of -log L")
    rows["information_gain"] = (result.kl, result.kl_error, "identity KL = -U - log Z")
    mean_log_prior, mean_log_prior_error = _mean_and_mcse(log_prior)
    rows["posterior_entropy"] = (
        -result.kl - mean_log_prior + log_mass,
        float(np.hypot(result.kl_error, mean_log_prior_error)),
        "-KL - E_post[log prior], the model's own variables",
    )
    deviations = (log_likelihood - log_likelihood.mean()) ** 2
    variance, variance_error = _mean_and_mcse(deviations)
    rows["heat_capacity"] = (variance, variance_error, "Var_post[log L]")
    rows["effective_parameters"] = (2 * variance, 2 * variance_error, "2 Var_post[log L]")
    if "log_likelihood" in tree.children:
        pointwise = [
            value.transpose("chain", "draw", ...).values.reshape(
                value.sizes["chain"], value.sizes["draw"], -1
            )
            for value in tree["log_likelihood"].to_dataset().data_vars.values()
        ]
        penalty = float(
            sum(np.var(p.reshape(-1, p.shape[-1]), axis=0, ddof=1).sum() for p in pointwise)
        )
        # its Monte Carlo error from the spread of the per-chain values (one per chain)
        per_chain = sum(np.var(p, axis=1, ddof=1).sum(axis=-1) for p in pointwise)
        penalty_error = (
            float(np.std(per_chain, ddof=1) / np.sqrt(per_chain.size))
            if per_chain.size > 1
            else np.nan
        )
        rows["waic_penalty"] = (
            penalty,
            penalty_error,
            "sum of pointwise Var_post[log p(y_i | theta)] (functional variance)",
        )
        rows["singular_fluctuation"] = (
            penalty / 2,
            penalty_error / 2,
            f"half the WAIC penalty (Watanabe's nu at beta = 1); regular: d/2 = {terms.dim / 2:g}",
        )
    else:
        notes.append("waic_penalty: no log_likelihood group (pm.compute_log_likelihood adds it).")
    _per_variable_gain(tree, terms, rows, notes)
    if ladder is not None:
        thermo = thermodynamics(ladder)
        n = number_of_observations(terms, None, "The learning coefficient")
        beta = 1.0 / np.log(n)
        betas = thermo[RUNG_DIM].values
        heat = thermo["heat_capacity"]
        inside = betas > 0
        value = np.interp(np.log(beta), np.log(betas[inside]), heat.sel(estimate="value")[inside])
        error = np.interp(np.log(beta), np.log(betas[inside]), heat.sel(estimate="error")[inside])
        rows["learning_coefficient"] = (
            float(value),
            float(error),
            f"heat capacity at beta = 1/log n = {beta:.3g} (ladder); regular: d/2 = "
            f"{terms.dim / 2:g}",
        )
    else:
        notes.append(
            "learning_coefficient: needs ladder= (psm.sample_power_posteriors), or call "
            "psm.learning_coefficient(model)."
        )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "error", "how"])
    table.attrs["notes"] = notes
    table.attrs["warnings"] = list(result.warnings)
    return table
