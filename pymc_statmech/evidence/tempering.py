"""Power posteriors over a ladder of inverse temperatures.

The power posterior at inverse temperature :math:`\\beta` is
:math:`p_\\beta(\\theta) \\propto p(\\theta) L(\\theta)^\\beta`: the prior at :math:`\\beta = 0`,
the posterior at :math:`\\beta = 1`. Its normaliser :math:`Z_\\beta` is a partition function and
:math:`d \\log Z_\\beta / d\\beta = E_\\beta[\\log L]`, which is what thermodynamic integration and
stepping-stone sampling integrate.
"""

from __future__ import annotations

import cloudpickle
import numpy as np
import pymc as pm
import xarray as xr
from pymc.model.fgraph import clone_model
from rich.progress import Progress

from pymc_statmech._data import is_whole_number
from pymc_statmech.model_terms import ModelTerms, checked_model, model_terms
from pymc_statmech.reporting import quiet_pymc

__all__ = [
    "ADAPTIVE",
    "BETA_DATA",
    "LADDER_DIM",
    "RUNG_DIM",
    "TEMPERING_GROUP",
    "check_ladder",
    "default_ladder",
    "next_beta",
    "rung_seeds",
    "sample_power_posteriors",
    "sample_rung",
    "tempered_model",
]

#: Name of the ``pm.Data`` that carries beta in a tempered model (set in each worker).
BETA_DATA = "psm_tempering_beta"
_TEMPERING_POTENTIAL = "psm_tempering"
#: The contract between a ladder and its estimators: the DataTree group that holds the
#: log-likelihood of every rung's draws (``log_likelihood (RUNG_DIM, chain, draw)``) ...
TEMPERING_GROUP = "tempering"
#: ... and its ladder dimension (also that of the posterior group, unless a model variable or
#: dimension is itself called so: then :data:`LADDER_DIM`).
RUNG_DIM = "beta"
#: The posterior group's ladder dimension when a model variable is itself called "beta".
LADDER_DIM = "tempering_beta"
#: The default ladder's exponent: beta_k = (k / K) ** (1 / 0.3) (Friel & Pettitt 2008).
LADDER_EXPONENT = 1 / 0.3


def default_ladder(n_rungs: int) -> np.ndarray:
    """``n_rungs`` inverse temperatures :math:`\\beta_k = (k/K)^{1/0.3}`, ``k = 0..K = n_rungs-1``.

    The power 1/0.3 packs rungs near :math:`\\beta = 0`, where :math:`E_\\beta[\\log L]` changes
    fastest (Friel & Pettitt 2008; Xie et al. 2011).
    """
    if not is_whole_number(n_rungs) or n_rungs < 2:
        raise ValueError(
            f"betas must be an integer >= 2 (number of rungs) or an array, got {n_rungs!r}."
        )
    k = np.arange(int(n_rungs))
    return (k / (n_rungs - 1)) ** LADDER_EXPONENT


#: ``betas=ADAPTIVE``: each rung placed from the draws of the one before.
ADAPTIVE = "adaptive"
#: The adaptive ladder keeps this fraction of effective draws from one rung to the next.
ADAPTIVE_ESS_FRACTION = 0.8
#: The adaptive ladder ends at beta = 1 after at most this many rungs.
MAX_ADAPTIVE_RUNGS = 100


def next_beta(beta: float, log_likelihood: np.ndarray, ess_fraction=ADAPTIVE_ESS_FRACTION):
    r"""The next rung of an adaptive ladder: the largest :math:`\beta' \in (\beta, 1]` at which
    the draws of rung :math:`\beta`, reweighted by :math:`L^{\beta' - \beta}`, keep an effective
    sample size of ``ess_fraction`` of their number.

    Rungs then fall where :math:`\log L` changes fastest under the power posterior (where its
    variance is large), which is where the stepping-stone ratios and the thermodynamic curve need
    them; a heavy-tailed prior gets a tiny first step. Bisection on the step (the ESS decreases
    with it). Jasra, Stephens, Doucet & Tsagaris (2011), *Scand. J. Stat.* 38, 1-22.
    """
    log_likelihood = np.asarray(log_likelihood, dtype=float).ravel()

    def ess_fraction_at(step):
        log_w = np.where(np.isneginf(log_likelihood), -np.inf, step * log_likelihood)
        w = np.exp(log_w - log_w.max())
        return w.sum() ** 2 / (w.size * np.sum(w**2))

    if ess_fraction_at(1.0 - beta) >= ess_fraction:
        return 1.0
    low, high = 0.0, 1.0 - beta
    for _ in range(60):
        middle = (low + high) / 2
        if ess_fraction_at(middle) >= ess_fraction:
            low = middle
        else:
            high = middle
    return beta + max(low, np.finfo(float).eps * max(beta, 1e-300))


def check_ladder(betas) -> np.ndarray | str:
    """Validate a ladder: strictly increasing, from 0 to 1 (or ``"adaptive"``)."""
    if isinstance(betas, str):
        if betas != ADAPTIVE:
            raise ValueError(f"betas must be an int, an array or {ADAPTIVE!r}, got {betas!r}.")
        return betas
    try:
        scalar = np.ndim(betas) == 0
        if not scalar:
            betas = np.asarray(betas, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"betas must be an int (number of rungs), a 1-d array of numbers or {ADAPTIVE!r}, "
            f"got {type(betas).__name__} {betas!r:.60}."
        ) from None
    if scalar:
        return default_ladder(betas)
    if not np.all(np.isfinite(betas)):
        raise ValueError(f"betas must be finite, got {np.array2string(betas, threshold=8)}.")
    if betas.ndim != 1 or len(betas) < 2:
        raise ValueError(
            f"betas must be a 1-d array with at least 2 rungs, got shape {betas.shape}."
        )
    if betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError(
            "betas must increase strictly from 0 (the prior) to 1 (the posterior); got "
            f"{np.array2string(betas, precision=4, threshold=8)}."
        )
    return betas


def tempered_model(model: pm.Model) -> pm.Model:
    """A copy of ``model`` whose density is :math:`p(\\theta) L(\\theta)^\\beta`.

    ``beta`` is a ``pm.Data`` named :data:`BETA_DATA` (default 1), so it travels with the model
    when it is pickled to a worker and is set there with ``pm.set_data``. The likelihood is every
    observed variable and every Potential; it is added once more as the Potential
    ``(beta - 1) log L`` so that the total is ``log p + beta log L``.
    """
    initial_values = dict(model.rvs_to_initial_values)
    # clone_model refuses models with initvals; clone without them and put them back by name
    model.rvs_to_initial_values.update(dict.fromkeys(initial_values))
    try:
        tempered = clone_model(model)
    finally:
        model.rvs_to_initial_values.update(initial_values)
    for rv, value in initial_values.items():
        tempered.rvs_to_initial_values[tempered[rv.name]] = value
    log_likelihood = sum(
        pm.logp(rv, tempered.rvs_to_values[rv]).sum() for rv in tempered.observed_RVs
    )
    log_likelihood = log_likelihood + sum(potential.sum() for potential in tempered.potentials)
    with tempered:
        beta = pm.Data(BETA_DATA, 1.0)
        pm.Potential(_TEMPERING_POTENTIAL, (beta - 1.0) * log_likelihood)
    return tempered


def sample_rung(model, beta, draws, tune, chains, seed, names, sample_kwargs):
    """Draws of ``model`` (made by :func:`tempered_model`) at one inverse temperature ``beta``
    by NUTS (or PyMC's default step assignment): ``(posterior of names, diverging)``. Runs
    in a worker of :func:`sample_power_posteriors`; WBIC samples its one rung with it."""
    options = {"progressbar": False, "compute_convergence_checks": False, **sample_kwargs}
    # quiet: the caller shows one progress display over the rungs, not PyMC's lines per rung
    with model, quiet_pymc():
        pm.set_data({BETA_DATA: float(beta)})
        tree = pm.sample(
            draws=draws, tune=tune, chains=chains, random_seed=seed, var_names=names, **options
        )
    posterior = tree["posterior"].to_dataset()[names]
    stats = tree["sample_stats"].to_dataset()
    diverging = (
        stats["diverging"]
        if "diverging" in stats
        else xr.zeros_like(
            posterior[names[0]].isel(
                {dim: 0 for dim in posterior[names[0]].dims if dim not in ("chain", "draw")}
            ),
            dtype=bool,
        )
    )
    return posterior, diverging.astype(bool)


def _sample_pickled_rung(model_bytes, *args):
    """:func:`sample_rung` on a cloudpickled model: any Executor can send it, even one that
    pickles with the standard library (PyMC models need cloudpickle)."""
    return sample_rung(cloudpickle.loads(model_bytes), *args)


#: Forward draws (at most, and at most this many numbers) that measure a cut prior's mass.
_MASS_DRAWS, _MASS_ELEMENTS = 200_000, 20_000_000


def _prior_rung(terms: ModelTerms, draws, chains, seed, names):
    """Exact draws from the prior, shaped like a sampler's output (chain, draw, ...), and the
    log of the prior's total mass with its standard error.

    Forward draws that break an ordered transform's ordering (forward sampling ignores it) are
    rejected: the kept draws follow the model's prior restricted to its support, and the kept
    fraction of many forward draws estimates that prior's mass ``Z_0`` (1 when no transform cuts
    the support; 1/K! for K exchangeable components with an ordered transform). Returns
    ``(rung or None, log Z_0, error)``: None when too few draws land in the support to fill the
    rung (NUTS then samples it). Raises ``NotImplementedError`` when the prior cannot be
    forward-sampled.
    """
    needed = chains * draws
    rng = np.random.default_rng(seed)
    cut = bool(terms.ordered_names)
    budget = max(needed, _MASS_ELEMENTS // max(1, terms.dim))
    batch = terms.forward_draws(min(budget, _MASS_DRAWS) if cut else needed, rng)
    inside = terms.in_support(batch)
    n_drawn, n_inside = inside.size, int(inside.sum())
    kept = [{name: value[inside] for name, value in batch.items()}]
    if n_inside == 0:
        return None, np.nan, np.nan
    fraction = n_inside / n_drawn
    log_mass, log_mass_error = np.log(fraction), np.sqrt((1 - fraction) / n_inside)
    if n_inside < needed:  # one more batch, sized by the acceptance seen
        more = int(np.ceil(1.2 * (needed - n_inside) / fraction))
        if more > 5 * budget:
            return None, log_mass, log_mass_error
        batch = terms.forward_draws(more, rng)
        inside = terms.in_support(batch)
        kept.append({name: value[inside] for name, value in batch.items()})
        if n_inside + int(inside.sum()) < needed:
            return None, log_mass, log_mass_error
    model = terms.model
    variables = {}
    for name in names:
        values = np.concatenate([part[name] for part in kept])[:needed]
        # the dims pm.sample gives the other rungs: the model's, else PyMC's default names
        dims = model.named_vars_to_dims.get(name) or [
            f"{name}_dim_{i}" for i in range(values.ndim - 1)
        ]
        variables[name] = xr.DataArray(
            values.reshape(chains, draws, *values.shape[1:]),
            dims=("chain", "draw", *dims),
            coords={
                dim: np.asarray(model.coords[dim])  # PyMC keeps coords as tuples
                for dim in dims
                if model.coords.get(dim) is not None
            },
        )
    posterior = xr.Dataset(variables, coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    diverging = xr.DataArray(
        np.zeros((chains, draws), dtype=bool),
        dims=("chain", "draw"),
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )
    return (posterior, diverging), float(log_mass), float(log_mass_error)


def _adaptive_ladder(tempered, terms, prior_rung, draws, tune, chains, seeds, options, progressbar):
    """Rungs placed one after the other by :func:`next_beta`; returns ``(betas, results)``."""
    betas, results = [0.0], [prior_rung]
    with Progress(disable=not progressbar, transient=False) as progress:
        task = progress.add_task("Power posteriors (adaptive, beta)", total=1.0)
        while True:
            k = len(betas) - 1
            if results[k] is None:
                results[k] = sample_rung(
                    tempered, betas[k], draws, tune, chains, seeds[k], terms.names, options
                )
            progress.update(task, completed=betas[k])
            if betas[k] == 1.0:
                return np.array(betas), results
            posterior = results[k][0]
            log_likelihood = terms.log_terms(
                terms.unconstrain(terms.draws_from(posterior, ("chain", "draw"), "posterior"))
            )[1]
            last = len(betas) == MAX_ADAPTIVE_RUNGS - 1
            betas.append(1.0 if last else next_beta(betas[k], log_likelihood))
            results.append(None)


def rung_seeds(random_seed, n: int) -> list[int]:
    """``n`` independent integer seeds, one per rung, from a seed or a Generator."""
    if isinstance(random_seed, np.random.Generator):
        return [int(seed) for seed in random_seed.integers(2**31, size=n)]
    sequence = np.random.SeedSequence(random_seed)
    return [int(child.generate_state(1)[0] % 2**31) for child in sequence.spawn(n)]


def sample_power_posteriors(
    model=None,
    betas=32,
    draws=1000,
    tune=1000,
    chains=2,
    *,
    executor=None,
    random_seed=None,
    progressbar=True,
    **sample_kwargs,
) -> xr.DataTree:
    r"""Sample the power posteriors :math:`p_\beta \propto p(\theta) L(\theta)^\beta` on a ladder.

    Each rung is an independent ``pm.sample`` run of a tempered copy of the model (beta enters
    through a ``pm.Data``, so the model pickles with it); rung :math:`\beta = 0` is drawn exactly
    from the prior when every free variable can be forward-sampled. For every draw the
    *untempered* log-likelihood :math:`\log L(\theta)` is stored, with every observed variable
    and every ``pm.Potential`` (``pm.compute_log_likelihood`` leaves Potentials out; here a
    Potential counts as likelihood, so priors written as Potentials belong in the prior instead).

    Parameters
    ----------
    model : pymc.Model, optional
        The model (the context model when omitted).
    betas : int, array_like or "adaptive", default 32
        Number of rungs of the default ladder :math:`\beta_k = (k/K)^{1/0.3}`, the ladder
        itself (strictly increasing from 0 to 1), or ``"adaptive"``: each rung placed from the
        draws of the one before so that half of them stay effective when reweighted to it
        (:func:`next_beta`; at most 100 rungs). Rungs then sit where :math:`\log L` changes,
        e.g. a tiny first step under a heavy-tailed prior. Adaptive rungs are sampled one after
        the other (``executor`` is not used).
    draws, tune, chains : int
        Per rung, passed to ``pm.sample``.
    executor : concurrent.futures.Executor, optional
        Runs the rungs in parallel: any ``Executor`` whose ``submit`` pickles (cloudpickle) the
        model, e.g. ``ProcessPoolExecutor`` or a dask.distributed ``Client.get_executor()``.
        Each rung then samples its chains with ``cores=1``. Sequential in this process when None.
    random_seed : int or numpy.random.Generator, optional
        Seeds for the rungs (one derived per rung, so results do not depend on the executor).
    progressbar : bool, default True
        Show progress over the rungs.
    **sample_kwargs
        Passed to ``pm.sample`` for every rung (e.g. ``target_accept``, ``cores``).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (the free variables, dims ``(beta, chain, draw, ...)``),
        ``tempering`` (``log_likelihood``, dims ``(beta, chain, draw)``, nats) and
        ``sample_stats`` (``diverging``). The ``beta`` coordinate holds the ladder; attrs record
        whether rung 0 is exact. When the model has a variable or dimension called ``beta``,
        the posterior group's ladder dimension is ``tempering_beta`` instead (its
        ``attrs["ladder_dim"]`` always names it).

    References
    ----------
    Friel, N. & Pettitt, A. N. (2008). Marginal likelihood estimation via power posteriors.
    *JRSS B* 70, 589-607.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_statmech as psm
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0, 1)
    ...     _ = pm.Normal("y", mu, 1, observed=[0.3, -0.1, 0.5])
    >>> tree = psm.sample_power_posteriors(model, betas=4, draws=200, tune=200, random_seed=1,
    ...                                    progressbar=False)
    >>> tree["tempering"]["log_likelihood"].sizes
    Frozen({'beta': 4, 'chain': 2, 'draw': 200})
    """
    betas = check_ladder(betas)
    model = checked_model(model)
    terms = model_terms(model)
    terms.require_proper_prior("sample_power_posteriors")
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) != value or value < (1 if name != "tune" else 0):
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    names = terms.names
    tempered = tempered_model(model)
    adaptive = isinstance(betas, str)
    seeds = rung_seeds(random_seed, MAX_ADAPTIVE_RUNGS if adaptive else len(betas))
    if executor is not None:
        sample_kwargs = {**sample_kwargs, "cores": 1}

    results = [None] * (1 if adaptive else len(betas))
    try:
        results[0], log_prior_mass, log_prior_mass_error = _prior_rung(
            terms, draws, chains, seeds[0], names
        )
    except NotImplementedError:  # NUTS at beta = 0; a cut support's mass is then unknown
        log_prior_mass = log_prior_mass_error = np.nan if terms.ordered_names else 0.0
    exact_prior = results[0] is not None

    if adaptive:
        betas, results = _adaptive_ladder(
            tempered, terms, results[0], draws, tune, chains, seeds, sample_kwargs, progressbar
        )
    pending = [k for k in range(len(betas)) if results[k] is None]
    with Progress(disable=not progressbar or adaptive, transient=False) as progress:
        task = progress.add_task(
            "Power posteriors", total=len(betas), completed=len(betas) - len(pending)
        )
        if executor is None:
            for k in pending:
                results[k] = sample_rung(
                    tempered, betas[k], draws, tune, chains, seeds[k], names, sample_kwargs
                )
                progress.advance(task)
        else:
            model_bytes = cloudpickle.dumps(tempered)
            futures = {
                k: executor.submit(
                    _sample_pickled_rung,
                    model_bytes,
                    betas[k],
                    draws,
                    tune,
                    chains,
                    seeds[k],
                    names,
                    sample_kwargs,
                )
                for k in pending
            }
            for k, future in futures.items():
                results[k] = future.result()
                progress.advance(task)

    # a model variable (or dim) called "beta", common in regressions, would clash with the ladder
    first = results[0][0]
    ladder_dim = (
        RUNG_DIM if RUNG_DIM not in first.variables and RUNG_DIM not in first.dims else LADDER_DIM
    )
    posterior = xr.concat(
        [posterior for posterior, _ in results],
        dim=ladder_dim,
        coords="minimal",
        compat="override",
        join="override",
    )
    posterior = posterior.assign_coords({ladder_dim: betas})
    posterior.attrs["ladder_dim"] = ladder_dim
    diverging = xr.concat([diverging for _, diverging in results], dim=RUNG_DIM).assign_coords(
        {RUNG_DIM: betas}
    )

    n_rungs, n_chains, n_draws = len(betas), posterior.sizes["chain"], posterior.sizes["draw"]
    draws_by_name = terms.draws_from(posterior, (ladder_dim, "chain", "draw"), "posterior")
    log_likelihood = terms.log_terms(terms.unconstrain(draws_by_name))[1]
    tempering = xr.Dataset(
        {
            "log_likelihood": (
                (RUNG_DIM, "chain", "draw"),
                log_likelihood.reshape(n_rungs, n_chains, n_draws),
            )
        },
        coords={
            RUNG_DIM: betas,
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
        },
        attrs={
            "units": "nat",
            "exact_prior_rung": int(exact_prior),
            "ladder": ADAPTIVE if adaptive else "fixed",
            "log_prior_mass": log_prior_mass,
            "log_prior_mass_error": log_prior_mass_error,
            "likelihood": "observed variables and Potentials",
        },
    )
    return xr.DataTree.from_dict(
        {
            "posterior": posterior,
            TEMPERING_GROUP: tempering,
            "sample_stats": xr.Dataset({"diverging": diverging}),
        }
    )
