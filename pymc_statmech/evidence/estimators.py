"""Estimators of the evidence :math:`Z = p(y)`, reported as the free energy :math:`F = -\\log Z`."""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from functools import cached_property

import numpy as np
import scipy.optimize
import scipy.stats
from scipy.special import logsumexp

from pymc_statmech._data import (
    SAMPLE_DIMS,
    as_datatree,
    check_sample_dims,
    effective_sample_size,
    get_group,
    is_whole_number,
    pareto_k,
    rank_rhat,
    rhat_limit,
)
from pymc_statmech.evidence.result import FreeEnergy, ThermodynamicCurve
from pymc_statmech.evidence.tempering import (
    RUNG_DIM,
    TEMPERING_GROUP,
    sample_rung,
    tempered_model,
)
from pymc_statmech.model_terms import ModelTerms, checked_model, model_terms

__all__ = [
    "MAX_RELABELLED_COMPONENTS",
    "METHODS",
    "EvidenceWarning",
    "free_energy",
    "ladder_log_likelihood",
    "number_of_observations",
    "stepping_stone_steps",
    "tempered_energy",
]

METHODS = ("auto", "bridge", "stepping_stone", "ti", "smc", "laplace", "wbic")


class EvidenceWarning(UserWarning):
    """An evidence estimate that should not be trusted as it stands (the message says why)."""


# -- small statistics --


def _log_mean_exp(values, axis=None):
    values = np.asarray(values, dtype=float)
    n = values.size if axis is None else values.shape[axis]
    return logsumexp(values, axis=axis) - np.log(n)


def _ess(values: np.ndarray) -> float:
    """Effective sample size of the mean of a ``(chain, draw)`` array."""
    return effective_sample_size(values.ravel(), values.shape[0])


def _mean_and_mcse(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(_ess(values)))


def _check_finite(log_likelihood: np.ndarray, where: str) -> None:
    """NaN log-likelihoods are reported, never averaged away."""
    n_nan = int(np.isnan(log_likelihood).sum())
    if n_nan:
        raise ValueError(
            f"The log-likelihood is NaN at {n_nan} of {log_likelihood.size} draws "
            f"({where}); fix the model (or the draws) before estimating the evidence."
        )


def _chain_agreement(
    per_chain: np.ndarray, per_chain_error: np.ndarray, method: str
) -> tuple[float, str | None]:
    """``(p-value, warning or None)`` of a chi-square test that independent per-chain estimates
    agree within their errors; below 1e-3 the chains probably sit in different modes."""
    weights = 1.0 / per_chain_error**2
    pooled = np.sum(weights * per_chain) / np.sum(weights)
    chi2 = float(np.sum(weights * (per_chain - pooled) ** 2))
    p_value = float(scipy.stats.chi2.sf(chi2, df=len(per_chain) - 1))
    if p_value >= 1e-3:
        return p_value, None
    spread = ", ".join(f"{value:.3f}" for value in per_chain)
    return p_value, (
        f"The per-chain {method} estimates of log Z ({spread}) disagree beyond their errors "
        f"(chi-square p = {p_value:.1e}): the chains probably sit in different modes and the "
        "pooled estimate is wrong. Run more chains from dispersed starting points (initvals), "
        "or use pm.sample_smc and method='smc'."
    )


def _sampler_checks(tree, theta: np.ndarray, terms: ModelTerms) -> tuple[dict, list[str]]:
    """Divergences and R-hat of the posterior draws the evidence is computed from.

    ``theta`` is ``(chain, draw, dim)`` in the unconstrained space. Returns ``(numbers,
    messages)``: a divergence means NUTS could not follow part of the posterior (the draws may
    miss it, and estimates from them may be biased); an R-hat above 1.01 means the chains
    disagree.
    """
    numbers, messages = {}, []
    stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    if stats is not None and "diverging" in stats:
        n_divergent = int(stats["diverging"].sum())
        numbers["divergences"] = n_divergent
        if n_divergent:
            messages.append(
                f"{n_divergent} of {int(stats['diverging'].size)} posterior draws are divergent "
                "transitions: NUTS could not follow part of the posterior (typically the neck "
                "of a funnel, a scale parameter near 0 in a hierarchical model), so the draws "
                "may miss it and the evidence computed from them may be biased. Reparameterise (a "
                "non-centred hierarchy) or raise target_accept until there are none."
            )
    if theta.shape[0] > 1 and theta.shape[1] >= 4:
        rhat = rank_rhat(theta)
        limit = rhat_limit(theta)
        excess = np.where(np.isnan(rhat), np.inf, rhat - limit)  # NaN: a component never moves
        worst = int(np.argmax(excess))
        numbers["max_rhat"] = float(np.nanmax(rhat)) if np.isfinite(rhat).any() else np.nan
        if excess[worst] > 0:
            name = terms.names[int(np.searchsorted(terms.offsets, worst, side="right")) - 1]
            messages.append(
                f"The chains disagree about the posterior: rank-normalised R-hat is "
                f"{rhat[worst]:.3f} for {name!r} (unconstrained), above {limit[worst]:.3f}, "
                "what converged chains reach by chance with its effective sample size. The pooled "
                "draws do not represent one posterior (chains in different modes, or not mixed "
                "yet), so the evidence computed from them is unreliable. Run longer chains, or "
                "from dispersed starting points (initvals), or use pm.sample_smc and "
                "method='smc'."
            )
    return numbers, messages


# -- bridge sampling --


class _GaussianProposal:
    """A multivariate normal fitted to draws in the unconstrained space."""

    def __init__(self, theta: np.ndarray):
        n, dim = theta.shape
        if n <= dim + 1:
            raise ValueError(
                f"Bridge sampling needs more than {dim + 1} draws per fit for a "
                f"{dim}-dimensional model, got {n}; draw more samples."
            )
        self.mean = theta.mean(axis=0)
        cov = np.atleast_2d(np.cov(theta, rowvar=False))
        try:
            self.chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as error:
            raise ValueError(
                "The posterior draws have a singular covariance in the unconstrained "
                "space (a variable that never moves?); bridge sampling cannot fit its "
                "proposal."
            ) from error
        self.log_norm = -0.5 * dim * np.log(2 * np.pi) - np.log(np.diag(self.chol)).sum()

    def logpdf(self, theta: np.ndarray) -> np.ndarray:
        z = np.linalg.solve(self.chol, (theta - self.mean).T)
        return self.log_norm - 0.5 * np.sum(z * z, axis=0)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mean + rng.standard_normal((n, len(self.mean))) @ self.chol.T


#: Most exchangeable components whose K! relabellings the bridge proposal is averaged over.
MAX_RELABELLED_COMPONENTS = 4


class _Relabelling:
    """Simultaneous permutations of one axis of some free variables (the components of an
    exchangeable mixture: weights, means, scales), acting on unconstrained draws through the
    model's transforms. ``axes`` maps each variable to its component axis."""

    def __init__(self, terms: ModelTerms, axes: dict[str, int], n_components: int):
        self.terms, self.axes, self.n_components = terms, axes, n_components
        self.n_labellings = math.factorial(n_components)

    @cached_property
    def permutations(self) -> list[tuple[int, ...]]:
        return list(itertools.permutations(range(self.n_components)))

    def __str__(self) -> str:
        return (
            f"{self.n_labellings} labellings of the {self.n_components} components of "
            f"{', '.join(self.axes)}"
        )

    def permute(self, draws: dict, permutation) -> dict:
        """Constrained draws ``{name: (n, *shape)}`` with the components relabelled."""
        return {
            name: np.take(value, permutation, axis=1 + self.axes[name])
            if name in self.axes
            else value
            for name, value in draws.items()
        }

    def orbit(self, theta: np.ndarray, log_jacobians: bool = True):
        """Every relabelling of each row of ``theta`` ``(n, dim)``: the images ``(G, n, dim)``
        and, with ``log_jacobians``, the transforms' log-Jacobians there ``(G, n)``."""
        draws = self.terms.constrain(theta)
        images = np.stack(
            [self.terms.unconstrain(self.permute(draws, p)) for p in self.permutations]
        )
        if not log_jacobians:
            return images
        return images, np.stack([self.terms.log_jacobian(image) for image in images])


#: Candidate (variable, axis) pairs above which only the full set is tried for a symmetry.
_MAX_SYMMETRY_CANDIDATES = 8


def _find_relabelling(terms: ModelTerms, theta: np.ndarray) -> _Relabelling | None:
    """The largest set of free variables whose components (along one axis each) can be
    relabelled jointly without changing the joint density ``p(y, theta)`` at the rows of
    ``theta`` (exchangeable mixture components), or None. A relabelling that leaves the support
    (an ordered transform) does not count."""
    by_length: dict[int, list[tuple[str, int]]] = {}
    for name in terms.names:
        for axis, length in enumerate(terms.rv_shapes[name]):
            if length >= 2:
                by_length.setdefault(length, []).append((name, axis))
    if not by_length:  # nothing to relabel: compile nothing
        return None
    draws = terms.constrain(theta)

    def log_joint(rows):
        log_prior, log_likelihood = terms.log_terms(rows)
        return log_prior + log_likelihood - terms.log_jacobian(rows)

    reference = log_joint(theta)
    for n_components, candidates in sorted(by_length.items()):
        generators = [
            (1, 0, *range(2, n_components)),  # a transposition and a cycle generate S_K
            (*range(1, n_components), 0),
        ]
        if len(candidates) <= _MAX_SYMMETRY_CANDIDATES:
            sizes = range(len(candidates), 0, -1)
        else:
            sizes = [len(candidates)]
        for size in sizes:
            for subset in itertools.combinations(candidates, size):
                axes = dict(subset)
                if len(axes) < size:  # one axis per variable
                    continue
                relabelling = _Relabelling(terms, axes, n_components)
                if all(
                    _is_invariant(relabelling, draws, g, log_joint, reference) for g in generators
                ):
                    return relabelling
    return None


def _is_invariant(relabelling, draws, permutation, log_joint, reference) -> bool:
    terms = relabelling.terms
    permuted = relabelling.permute(draws, permutation)
    with np.errstate(all="ignore"):
        image = terms.unconstrain(permuted)
        if not np.all(np.isfinite(image)):
            return False
        back = terms.constrain(image)
        if not all(np.allclose(back[name], permuted[name], rtol=1e-8, atol=1e-12) for name in back):
            return False
        values = log_joint(image)
    return bool(np.all(np.abs(values - reference) <= 1e-8 * (1 + np.abs(reference))))


class _SymmetrisedProposal:
    """A Gaussian fitted to draws brought into one labelling, averaged over every relabelling:
    ``g(u) = |G|^-1 sum_pi g0(pi u) J(u) / J(pi u)`` in the unconstrained space (``J`` the
    transforms' Jacobian). With the joint density invariant under the relabellings, ``q / g`` is
    too, so draws from one labelling are as good as draws from all of them (Fruhwirth-Schnatter
    2004, random permutation bridge sampling)."""

    def __init__(self, theta: np.ndarray, relabelling: _Relabelling, iterations: int = 3):
        """``theta``: ``(chain, draw, dim)``; the first chain sets the labelling."""
        self.relabelling = relabelling
        self.base = _GaussianProposal(theta[0])
        rows = theta.reshape(-1, theta.shape[-1])
        for _ in range(iterations):  # bring every draw into the labelling the fit sits in
            self.base = _GaussianProposal(self.align(rows))

    def align(self, theta: np.ndarray) -> np.ndarray:
        images = self.relabelling.orbit(theta, log_jacobians=False)
        best = np.argmax([self.base.logpdf(image) for image in images], axis=0)
        return images[best, np.arange(len(theta))]

    def logpdf(self, theta: np.ndarray) -> np.ndarray:
        images, log_jacobians = self.relabelling.orbit(theta)
        log_densities = np.stack([self.base.logpdf(image) for image in images]) - log_jacobians
        return _log_mean_exp(log_densities, axis=0) + self.relabelling.terms.log_jacobian(theta)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        images = self.relabelling.orbit(self.base.draw(n, rng), log_jacobians=False)
        return images[rng.integers(len(images), size=n), np.arange(n)]


def _bridge_iterate(l_post: np.ndarray, l_prop: np.ndarray, tol: float, max_iter: int):
    """Meng & Wong's iterative bridge with the optimal bridge function, in log space.

    ``l_post`` (shape ``(chain, draw)``) and ``l_prop`` are ``log q - log g`` at posterior and
    proposal draws. Returns ``(log Z, relative MSE, iterations)``; the error is the
    Fruhwirth-Schnatter (2004) relative mean-square error with the posterior side's
    autocorrelation through its effective sample size.
    """
    n1, n2 = l_post.size, l_prop.size
    log_s1, log_s2 = np.log(n1 / (n1 + n2)), np.log(n2 / (n1 + n2))
    log_r = _log_mean_exp(l_prop)
    iterations = -1
    for iteration in range(1, max_iter + 1):
        numerator = _log_mean_exp(l_prop - np.logaddexp(log_s1 + l_prop, log_s2 + log_r))
        denominator = _log_mean_exp(-np.logaddexp(log_s1 + l_post, log_s2 + log_r))
        converged = abs(numerator - denominator - log_r) < tol
        log_r = numerator - denominator
        if converged:
            iterations = iteration
            break
    # f1 on proposal draws, f2 on posterior draws (each scaled to O(1); ratios are scale-free)
    f1 = np.exp(l_prop - np.logaddexp(log_s1 + l_prop, log_s2 + log_r))
    f2 = np.exp(log_r - np.logaddexp(log_s1 + l_post, log_s2 + log_r))
    rho = n1 / _ess(f2)
    relative_mse = f1.var() / (n2 * f1.mean() ** 2) + rho * f2.var() / (n1 * f2.mean() ** 2)
    return float(log_r), float(relative_mse), iterations


def _bridge(tree, terms: ModelTerms, sample_dims, random_seed, tol, max_iter, check_prior):
    if terms.discrete_names:
        raise ValueError(
            f"Bridge sampling needs continuous parameters; {terms.discrete_names} are "
            "discrete. Marginalise them out, or use sample_power_posteriors with "
            "method='stepping_stone', or pm.sample_smc with method='smc'."
        )
    posterior = get_group(tree, "posterior", "Bridge sampling needs posterior draws (pm.sample).")
    sample_dims = check_sample_dims(posterior, sample_dims, "posterior")
    if sample_dims != SAMPLE_DIMS:
        raise ValueError("Bridge sampling needs the draws indexed by ('chain', 'draw').")
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if n_draws < 4:
        raise ValueError(f"Bridge sampling needs at least 4 draws per chain, got {n_draws}.")
    theta = terms.unconstrain(terms.draws_from(posterior, sample_dims, "posterior"))
    theta = theta.reshape(n_chains, n_draws, terms.dim)
    half = n_draws // 2
    log_prior, log_likelihood = terms.log_terms(theta.reshape(-1, terms.dim))
    log_likelihood = log_likelihood.reshape(n_chains, n_draws)
    _check_finite(log_likelihood, "posterior draws")
    log_q = (log_prior.reshape(n_chains, n_draws) + log_likelihood)[:, half:]
    rng = np.random.default_rng(random_seed)
    messages = []
    relabelling = _find_relabelling(
        terms, theta[:, half:].reshape(-1, terms.dim)[:: max(1, n_chains * (n_draws - half) // 16)]
    )
    if relabelling is not None and relabelling.n_components > MAX_RELABELLED_COMPONENTS:
        messages.append(
            f"The joint density is unchanged by relabelling the {relabelling.n_components} "
            f"components of {', '.join(relabelling.axes)}, and a proposal over all "
            f"{relabelling.n_labellings} labellings is too costly. If the posterior has one mode "
            "per labelling (exchangeable mixture components), the estimate covers only the "
            "labellings the chains visited, low by up to log K! = "
            f"{math.lgamma(relabelling.n_components + 1):.3f} if they sit in one. Break the "
            "symmetry in the model (transform=ordered on one component parameter: its prior then "
            "keeps 1/K! of the mass)."
        )
        relabelling = None

    def estimate(chains):
        if relabelling is None:
            proposal = _GaussianProposal(theta[chains, :half].reshape(-1, terms.dim))
        else:
            proposal = _SymmetrisedProposal(theta[chains, :half], relabelling)
        bridge_draws = theta[chains, half:]
        l_post = log_q[chains] - proposal.logpdf(bridge_draws.reshape(-1, terms.dim)).reshape(
            len(chains), -1
        )
        proposal_draws = proposal.draw(l_post.size, rng)
        log_prior_g, log_likelihood_g = terms.log_terms(proposal_draws)
        l_prop = log_prior_g + log_likelihood_g - proposal.logpdf(proposal_draws)
        # a proposal draw outside the support has q = 0: a valid zero term, not a NaN
        l_prop = np.where(np.isnan(l_prop), -np.inf, l_prop)
        return (*_bridge_iterate(l_post, l_prop, tol, max_iter), l_post, l_prop, proposal)

    log_z, relative_mse, iterations, l_post, l_prop, proposal = estimate(np.arange(n_chains))
    error = float(np.sqrt(relative_mse))
    aligned = theta
    if relabelling is not None:  # chains in different labellings are one posterior: align them
        aligned = proposal.align(theta.reshape(-1, terms.dim)).reshape(theta.shape)
    checks, sampler_messages = _sampler_checks(tree, aligned, terms)
    messages.extend(sampler_messages)
    # the tails of the raw ratios g/q (posterior side) and q/g (proposal side), reported for
    # reference: the optimal bridge function bounds every term it averages, so a heavy tail alone
    # does not spoil the estimate (the logit of a Beta posterior gives k ~ 0.8 and an exact bridge)
    checks["pareto_k"] = {
        "posterior": pareto_k(np.exp(np.min(l_post) - l_post)),
        "proposal": pareto_k(np.exp(l_prop - np.max(l_prop))),
    }
    per_chain = None
    if n_chains == 1:
        messages.append(
            "Only one chain: the per-chain check for chains trapped in one mode is not "
            "possible. Run at least 4 chains from dispersed starting points."
        )
    else:
        try:
            results = [estimate(np.array([c]))[:3] for c in range(n_chains)]
        except ValueError as error_per_chain:  # too few draws per chain for its own proposal
            messages.append(f"The per-chain check was skipped: {error_per_chain}")
        else:
            per_chain = np.array([r[0] for r in results])
            checks["chain_agreement_p"], message = _chain_agreement(
                per_chain, np.sqrt([r[1] for r in results]), "bridge"
            )
            if message:
                messages.append(message)
    diagnostics = {
        "iterations": iterations,
        "n_fit": half * n_chains,
        "n_bridge": (n_draws - half) * n_chains,
        "proposal": "gaussian" if relabelling is None else "gaussian, symmetrised",
        **checks,
        **({} if relabelling is None else {"symmetry": str(relabelling)}),
    }
    if check_prior:
        prior_check = _prior_importance_check(terms, log_z, error, n_chains * n_draws, rng)
        if prior_check is not None:
            numbers = diagnostics["prior_importance"] = prior_check[0]
            if prior_check[1]:
                messages.append(prior_check[1])
            if numbers["log_prior_mass"] < 0:
                diagnostics["log_prior_mass"] = numbers["log_prior_mass"]
                messages.append(
                    _prior_mass_message(
                        numbers["log_prior_mass"], numbers["log_prior_mass_error"], log_z
                    )
                )
    energy, energy_error = _mean_and_mcse(-log_likelihood)
    return FreeEnergy(
        "bridge",
        log_z,
        error,
        energy,
        energy_error,
        per_chain=per_chain,
        diagnostics=diagnostics,
        warnings=tuple(messages),
    )


#: Effective prior draws below which the prior importance check cannot tell anything.
_PRIOR_CHECK_MIN_ESS = 100


def _prior_importance_check(terms: ModelTerms, log_z: float, error: float, n: int, rng):
    """Compare with the prior importance-sampling estimate ``log mean L(theta_prior)``.

    That estimate is unbiased for Z (and biased low in log Z); if it lies far *above* the bridge
    estimate, the posterior has mass the chains never visited (e.g. all chains in one mode). Only
    used when its own effective sample size is large enough for its error to be trusted (the
    likelihood must not be much narrower than the prior); ``numbers["checked"]`` says whether it
    was. Returns ``(numbers, warning or None)``, or None when the prior cannot be forward-sampled.
    """
    try:
        draws = terms.forward_draws(n, rng)
    except NotImplementedError:
        return None
    inside = terms.in_support(draws)
    if not inside.any():
        return None
    log_likelihood = np.full(n, -np.inf)
    log_likelihood[inside] = terms.log_terms(
        terms.unconstrain({name: value[inside] for name, value in draws.items()})
    )[1]
    if np.isnan(log_likelihood).any():
        return None
    weights = np.exp(log_likelihood - log_likelihood.max())
    ess = float(weights.sum() ** 2 / np.sum(weights**2))
    log_z_prior = float(_log_mean_exp(log_likelihood))
    error_prior = float(weights.std(ddof=1) / (weights.mean() * np.sqrt(n)))
    fraction = float(inside.mean())
    numbers = {
        "log_evidence": log_z_prior,
        "error": error_prior,
        "ess": ess,
        "checked": ess >= _PRIOR_CHECK_MIN_ESS,
        "log_prior_mass": np.log(fraction),
        "log_prior_mass_error": float(np.sqrt((1 - fraction) / inside.sum())),
    }
    excess = log_z_prior - log_z
    if numbers["checked"] and excess > 4 * np.hypot(error, error_prior):
        return numbers, (
            f"Importance sampling from the prior gives log Z = {log_z_prior:.3f} +/- "
            f"{error_prior:.3f}, above this estimate by {excess:.3f}: the posterior has mass the "
            "chains never visited (all chains in one mode?). Run more chains from dispersed "
            "starting points (initvals), or use pm.sample_smc and method='smc'."
        )
    return numbers, None


def _prior_mass_message(log_mass: float, log_mass_error: float, log_z: float) -> str:
    return (
        f"The model's prior integrates to {np.exp(log_mass):.4f} +/- "
        f"{np.exp(log_mass) * log_mass_error:.4f}, not 1: forward draws of its free variables "
        "break the ordering an ordered transform imposes (on K exchangeable components it keeps "
        "1/K! of the prior's mass). log Z is the evidence of the model as "
        "written; the prior normalised to one (what a comparison with another model needs) "
        f"has log Z - log mass = {log_z - log_mass:.4f}."
    )


# -- ladder methods --


def ladder_log_likelihood(tree) -> tuple[np.ndarray, np.ndarray]:
    """``(betas, log L)`` of a ladder, ``log L`` as ``(beta, chain, draw)``, validated."""
    tempering = get_group(
        tree, TEMPERING_GROUP, "Ladder methods need the output of psm.sample_power_posteriors."
    )
    if "log_likelihood" not in tempering:
        raise ValueError("The 'tempering' group has no 'log_likelihood' variable.")
    log_likelihood = tempering["log_likelihood"].transpose(RUNG_DIM, "chain", "draw")
    betas = log_likelihood[RUNG_DIM].values.astype(float)
    values = log_likelihood.values.astype(float)
    _check_finite(values, "tempering ladder")
    if betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError("The ladder must increase strictly from beta = 0 to beta = 1.")
    return betas, values


def _curve(betas, values) -> ThermodynamicCurve:
    means, mcses = zip(
        *(
            _mean_and_mcse(rung) if np.all(np.isfinite(rung)) else (-np.inf, np.inf)
            for rung in values
        ),
        strict=True,
    )
    return ThermodynamicCurve(
        betas, np.array(means), np.array(mcses), np.array([rung.var(ddof=1) for rung in values])
    )


def stepping_stone_steps(betas, values) -> tuple[np.ndarray, np.ndarray]:
    """Each rung's ratio ``log Z_k / Z_{k-1} = log E_{k-1}[L^(beta_k - beta_{k-1})]`` and its
    variance (delta method with the ESS of the weights), from ``values`` ``(beta, chain, draw)``
    of ``log L``; ``log Z_k / Z_0`` is their cumulative sum (Xie et al. 2011)."""
    log_ratios, variances = np.zeros(len(betas) - 1), np.zeros(len(betas) - 1)
    for k in range(1, len(betas)):
        step = (betas[k] - betas[k - 1]) * values[k - 1]
        log_ratios[k - 1] = float(_log_mean_exp(step))
        weights = np.exp(step - step.max())
        variances[k - 1] = weights.var(ddof=1) / (weights.mean() ** 2 * _ess(weights))
    return log_ratios, variances


def _stepping_stone_estimate(betas, values):
    """``(log Z, error)`` from one set of rungs (``values``: ``(beta, chain, draw)``)."""
    log_ratios, variances = stepping_stone_steps(betas, values)
    return float(log_ratios.sum()), float(np.sqrt(variances.sum()))


#: Pareto k of ``-log L`` under the prior above which ``Var_0[log L]`` is infinite.
_HEAVY_TAIL_K = 0.5


def _ti_estimate(betas, values, first_step=False):
    """``(log Z, Monte Carlo error, plain trapezoid)`` by the Friel-Hurn-Wyse corrected trapezoid.

    With ``first_step`` the first interval is the stepping-stone ratio
    ``log E_0[L^beta_1]`` (an exact identity, finite whatever the tail of ``log L`` under the
    prior) and the trapezoid covers ``[beta_1, 1]``.
    """
    offset, variance = 0.0, 0.0
    if first_step:
        offset, first_error = _stepping_stone_estimate(betas[:2], values[:2])
        variance = first_error**2
        betas, values = betas[1:], values[1:]
    curve = _curve(betas, values)
    steps = np.diff(betas)
    plain = offset + float(np.sum(steps * (curve.mean[1:] + curve.mean[:-1]) / 2))
    corrected = plain - float(np.sum(steps**2 / 12 * np.diff(curve.variance)))
    weights = np.zeros_like(betas)
    weights[1:] += steps / 2
    weights[:-1] += steps / 2
    return corrected, float(np.sqrt(variance + np.sum((weights * curve.mcse) ** 2))), plain


def _ti_with_checks(betas, values):
    """TI with the prior rung's tail checked and the discretisation error estimated.

    Returns ``(log Z, error, first_step, diagnostics, messages)``. The discretisation error is a
    third of the change when every other rung is dropped (the error of a second-order rule falls
    four-fold when its steps halve: conservative for the corrected rule), and enters the error.
    """
    prior_rung = values[0].ravel()
    tail_k = pareto_k(-prior_rung) if np.all(np.isfinite(prior_rung)) else np.inf
    first_step = bool(tail_k > _HEAVY_TAIL_K)
    log_z, mc_error, plain = _ti_estimate(betas, values, first_step)
    diagnostics = {
        "plain_trapezoid": plain,
        "correction": log_z - plain,
        "prior_tail_k": tail_k,
        "first_interval": "stepping-stone" if first_step else "trapezoid",
        "monte_carlo_error": mc_error,
    }
    messages = []
    discretisation = np.nan
    if len(betas) >= 5:
        # every other rung, keeping both ends (and rung 1, so a stepping-stone first interval is
        # the same in both and only the trapezoid's discretisation differs)
        start = 1 if first_step else 0
        half = np.unique(np.r_[0, np.arange(start, len(betas), 2), len(betas) - 1])
        coarse = _ti_estimate(betas[half], values[half], first_step)[0]
        discretisation = abs(log_z - coarse) / 3
        diagnostics["discretisation_error"] = discretisation
        if discretisation > mc_error:
            messages.append(
                f"The ladder is coarse for thermodynamic integration: dropping every other rung "
                f"moves the estimate by {abs(log_z - coarse):.3f} nats, so the discretisation "
                f"error (~{discretisation:.3f}, included in the error) exceeds the Monte Carlo "
                f"error ({mc_error:.3f}). Add rungs where E_beta[log L] bends (see "
                "result.plot()), or use method='stepping_stone'."
            )
    error = float(np.hypot(mc_error, discretisation)) if np.isfinite(discretisation) else mc_error
    return log_z, error, first_step, diagnostics, messages


def _ladder_method(tree, method):
    betas, values = ladder_log_likelihood(tree)
    if method == "stepping_stone":
        log_z, error = _stepping_stone_estimate(betas, values)
        per_chain_fn = _stepping_stone_estimate
        diagnostics = {}
        messages = []
    else:
        log_z, error, first_step, diagnostics, messages = _ti_with_checks(betas, values)

        def per_chain_fn(betas, values):
            return _ti_estimate(betas, values, first_step)

    per_chain = None
    n_chains = values.shape[1]
    if n_chains == 1:
        messages.append("Only one chain per rung: the per-chain agreement check is not possible.")
    else:
        results = [per_chain_fn(betas, values[:, c : c + 1]) for c in range(n_chains)]
        per_chain = np.array([r[0] for r in results])
        diagnostics["chain_agreement_p"], message = _chain_agreement(
            per_chain, np.array([r[1] for r in results]), method
        )
        if message:
            messages.append(message)
    if "sample_stats" in tree.children and "diverging" in tree["sample_stats"]:
        per_rung = tree["sample_stats"]["diverging"].sum(("chain", "draw")).values
        diagnostics["divergences"] = int(per_rung.sum())
        if per_rung.any():
            rungs = ", ".join(f"{betas[k]:.3g}" for k in np.flatnonzero(per_rung)[:6])
            messages.append(
                f"{int(per_rung.sum())} divergent transitions on the rungs at beta = {rungs}: "
                "NUTS could not follow part of those power posteriors (typically the neck of a "
                "funnel), so their draws may miss it and the estimate may be biased. "
                "Reparameterise (a non-centred hierarchy) or pass a higher target_accept to "
                "sample_power_posteriors."
            )
    # the ladder measures log (Z_1 / Z_0): add the log mass of the model's prior, below 1 when
    # its transforms cut the support (forward draws outside it were rejected on the prior rung)
    attrs = tree[TEMPERING_GROUP].attrs
    log_mass = float(attrs.get("log_prior_mass", 0.0))
    log_mass_error = float(attrs.get("log_prior_mass_error", 0.0))
    if np.isnan(log_mass):
        messages.append(
            "An ordered transform cuts the prior's support, and its mass there could not be "
            "measured (the prior cannot be forward-sampled): this log Z is the evidence with "
            "the prior normalised on its support, which differs from the model as written (by "
            "log K! for K exchangeable ordered components)."
        )
    elif log_mass < 0:
        log_z += log_mass
        error = float(np.hypot(error, log_mass_error))
        per_chain = None if per_chain is None else per_chain + log_mass
        diagnostics.update(log_prior_mass=log_mass, log_prior_mass_error=log_mass_error)
        messages.append(_prior_mass_message(log_mass, log_mass_error, log_z))
    energy, energy_error = _mean_and_mcse(-values[-1])
    diagnostics.update(
        n_rungs=len(betas),
        draws_per_rung=int(values[0].size),
        exact_prior_rung=bool(tree[TEMPERING_GROUP].attrs.get("exact_prior_rung", 0)),
    )
    return FreeEnergy(
        method,
        log_z,
        error,
        energy,
        energy_error,
        per_chain=per_chain,
        curve=_curve(betas, values),
        diagnostics=diagnostics,
        warnings=tuple(messages),
    )


# -- SMC, Laplace, WBIC --


def _flatten(entry):
    if isinstance(entry, list | tuple | np.ndarray):
        for item in entry:
            yield from _flatten(item)
    else:
        yield entry


def _smc(tree, terms: ModelTerms | None, random_seed=None):
    stats = get_group(tree, "sample_stats", "SMC needs the output of pm.sample_smc.")
    if "log_marginal_likelihood" not in stats:
        raise ValueError(
            "The sample_stats group has no 'log_marginal_likelihood': this is not "
            "pm.sample_smc output."
        )
    per_chain = []
    log_ml = stats["log_marginal_likelihood"]
    for row in log_ml.transpose("chain", ...).values:
        # one entry per stage, NaN-padded; chains with different stage counts come as lists
        stages = np.asarray(list(_flatten(row)), dtype=float)
        finite = stages[np.isfinite(stages)]
        if not finite.size:
            raise ValueError("A chain of the SMC run has no finite log marginal likelihood.")
        per_chain.append(float(finite[-1]))
    per_chain = np.array(per_chain)
    log_z = float(_log_mean_exp(per_chain))
    messages = []
    if len(per_chain) == 1:
        error = np.nan
        messages.append(
            "Only one SMC chain: no error estimate (it comes from the spread across "
            "chains). Run pm.sample_smc with chains >= 4."
        )
    else:
        error = float(per_chain.std(ddof=1) / np.sqrt(len(per_chain)))
    energy = energy_error = np.nan
    diagnostics = {
        "n_chains": len(per_chain),
        # a bias shared by every run (too few particles or mutation steps for this posterior)
        # is not in the spread: on real models it understated the error 2.6-3.8 times
        "error_kind": f"spread of {len(per_chain)} independent runs, not a full error bar",
    }
    if terms is not None and "posterior" in tree.children:
        posterior = get_group(tree, "posterior")
        theta = terms.unconstrain(terms.draws_from(posterior, SAMPLE_DIMS, "posterior"))
        log_likelihood = terms.log_terms(theta)[1]
        _check_finite(log_likelihood, "SMC posterior draws")
        energy = float(-log_likelihood.mean())
        energy_error = float(log_likelihood.std(ddof=1) / np.sqrt(len(log_likelihood)))
        message = _smc_cross_check(tree, terms, log_z, error, random_seed, diagnostics)
        if message:
            messages.append(message)
    return FreeEnergy(
        "smc",
        log_z,
        error,
        energy,
        energy_error,
        per_chain=per_chain,
        diagnostics=diagnostics,
        warnings=tuple(messages),
    )


def _smc_cross_check(tree, terms, log_z, error, random_seed, diagnostics) -> str | None:
    """Bridge sampling on SMC's own final particles: an independent estimate from the same run.

    The particles are SMC's picture of the posterior; if their bridge estimate and SMC's
    product of stage ratios disagree, the run did not reach the posterior it reports.
    """
    if terms.discrete_names:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvidenceWarning)
            bridge = _bridge(tree, terms, SAMPLE_DIMS, random_seed, 1e-10, 1000, False)
    except ValueError:  # too few or degenerate particles for a proposal: no cross-check
        return None
    diagnostics["bridge_on_particles"] = {
        "log_evidence": bridge.log_evidence,
        "error": bridge.error,
    }
    gap = log_z - bridge.log_evidence
    combined = float(np.hypot(0.0 if np.isnan(error) else error, bridge.error))
    if abs(gap) <= 4 * combined + 0.05:  # 0.05 nats: the bridge's own small-sample bias
        return None
    return (
        f"SMC's estimate and bridge sampling on its own final particles disagree by {gap:.3f} "
        f"nats (SMC {log_z:.3f}, bridge {bridge.log_evidence:.3f} +/- {bridge.error:.3f}): the "
        "run's stage ratios do not match the posterior its particles describe (too few "
        "particles or mutation steps for this posterior). Trust neither; run pm.sample and "
        "bridge sampling, or SMC with more draws."
    )


def _laplace(tree, terms: ModelTerms):
    """Laplace's approximation at the posterior mode in the unconstrained space (a diagnostic)."""
    model = terms.model
    if terms.discrete_names:
        raise ValueError(
            f"The Laplace approximation needs continuous parameters; "
            f"{terms.discrete_names} are discrete."
        )
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    flat = pt.vector("theta", dtype="float64")
    pieces = {
        value: flat[start:stop].reshape(shape)
        for value, shape, start, stop in zip(
            terms.value_vars, terms.value_shapes, terms.offsets[:-1], terms.offsets[1:], strict=True
        )
    }
    log_q = graph_replace(model.logp(jacobian=True), pieces, strict=False)
    gradient = pt.grad(log_q, flat)
    value_and_grad = pytensor.function([flat], [-log_q, -gradient])
    # the Jacobian of the gradient, vectorised: no Scan, whose rewrites fail noisily here
    hessian = pytensor.function([flat], pytensor.gradient.jacobian(gradient, flat, vectorize=True))
    if tree is not None and "posterior" in tree.children:
        start = terms.unconstrain(
            terms.draws_from(get_group(tree, "posterior"), SAMPLE_DIMS, "posterior")
        ).mean(axis=0)
    else:
        point = model.initial_point()
        start = np.concatenate([np.ravel(point[value.name]) for value in terms.value_vars])
    fit = scipy.optimize.minimize(
        value_and_grad, start, jac=True, method="BFGS", options={"gtol": 1e-8}
    )
    precision = -hessian(fit.x)
    with np.errstate(invalid="ignore"):  # a non-finite Hessian is reported below
        sign, log_det = np.linalg.slogdet(precision)
    messages = []
    if not fit.success:
        messages.append(f"The mode search did not converge: {fit.message}")
    if not sign > 0:  # NaN too
        messages.append("The Hessian at the mode is not finite and negative definite.")
    log_z = float(-fit.fun + 0.5 * terms.dim * np.log(2 * np.pi) - 0.5 * log_det)
    return FreeEnergy(
        "laplace", log_z, np.nan, diagnostics={"mode": fit.x}, warnings=tuple(messages)
    )


def number_of_observations(terms: ModelTerms, n_obs, what: str) -> int:
    """``n`` for the 1 / log n temperatures of singular learning theory (at least 2)."""
    if n_obs is not None and not is_whole_number(n_obs):
        raise ValueError(f"n_obs must be a whole number of observations, got {n_obs!r}.")
    n = terms.n_observations if n_obs is None else int(n_obs)
    if n < 2:
        raise ValueError(
            f"{what} needs the number of observations n >= 2 (beta = 1/log n), got {n}; pass "
            "n_obs=."
        )
    return n


def tempered_energy(
    terms: ModelTerms, tempered, beta, draws, tune, chains, random_seed, sample_kwargs
):
    """``(E_beta[-log L], MCSE)`` from ``pm.sample`` on the power posterior at ``beta``
    (``tempered``: the model's :func:`tempered_model`)."""
    posterior, _ = sample_rung(
        tempered,
        beta,
        draws,
        tune,
        chains,
        random_seed,
        terms.names,
        sample_kwargs,
    )
    theta = terms.unconstrain(terms.draws_from(posterior, SAMPLE_DIMS, "posterior"))
    log_likelihood = terms.log_terms(theta)[1].reshape(posterior.sizes["chain"], -1)
    _check_finite(log_likelihood, f"draws at beta = {beta:.4g}")
    return _mean_and_mcse(-log_likelihood)


def _wbic(terms: ModelTerms, n_obs, draws, tune, chains, random_seed, sample_kwargs):
    """Watanabe's WBIC: E_beta*[-log L] at beta* = 1 / log n (a criterion)."""
    n = number_of_observations(terms, n_obs, "WBIC")
    beta = 1.0 / np.log(n)
    tempered = tempered_model(terms.model)
    wbic, error = tempered_energy(
        terms, tempered, beta, draws, tune, chains, random_seed, sample_kwargs
    )
    return FreeEnergy("wbic", -wbic, error, diagnostics={"beta": beta, "n_obs": n})


# -- the public entry point --


def free_energy(
    data=None,
    model=None,
    method="auto",
    *,
    sample_dims=SAMPLE_DIMS,
    random_seed=None,
    check_prior=True,
    tol=1e-10,
    max_iter=1000,
    n_obs=None,
    draws=1000,
    tune=1000,
    chains=4,
    **sample_kwargs,
) -> FreeEnergy:
    r"""The free energy :math:`F = -\log Z` of a model's posterior, with its Monte Carlo error.

    The posterior :math:`p(\theta \mid y) = p(\theta) L(\theta) / Z` is a Boltzmann distribution
    with energy :math:`-\log p(y, \theta)` at unit temperature, so the log evidence
    :math:`\log Z` is minus its free energy. The result also carries the split
    :math:`F = U + \mathrm{KL}`, :math:`U = E_{\text{post}}[-\log L]` (Gibbs' variational identity).

    Methods
    -------
    ``"bridge"`` (default with posterior draws and a model)
        Iterative Meng-Wong bridge sampling in the unconstrained space with a Gaussian proposal
        fitted to the first half of each chain, the model's full log density (normalising
        constants and Jacobians) evaluated for all draws at once, and the Fruhwirth-Schnatter
        relative mean-square error. When the joint density is unchanged by relabelling the
        components of some variables (an exchangeable mixture: label switching), the proposal is
        averaged over all K! labellings (K <= 4), so chains sitting in one labelling, or in
        several, give the evidence of the whole model (Fruhwirth-Schnatter 2004). Guards, each
        a warning that names its cause: divergent transitions in ``sample_stats`` (the draws
        miss part of the posterior, e.g. a funnel), rank-normalised R-hat above 1.01 (chains
        disagree), independent per-chain estimates that disagree beyond their errors (chains
        in different modes), and, when the prior can be forward-sampled, importance sampling
        from the prior far above the estimate (all chains in one mode; only checked when the
        prior draws have an ESS of at least 100, and ``diagnostics["prior_importance"]``
        says whether they had). The Pareto k of the raw importance ratios on both sides is
        reported in ``diagnostics`` for reference.
    ``"stepping_stone"`` (default for :func:`sample_power_posteriors` output) and ``"ti"``
        On the ladder: :math:`\log Z = \sum_k \log E_{\beta_{k-1}}[L^{\beta_k - \beta_{k-1}}]`,
        and :math:`\int_0^1 E_\beta[\log L]\,d\beta` by the trapezoid rule with the
        Friel-Hurn-Wyse correction :math:`-\sum_k \Delta_k^2 (V_k - V_{k-1})/12`
        (:math:`V = \mathrm{Var}_\beta[\log L]`). The plain trapezoid is in ``diagnostics``.
        TI's error adds a discretisation term (a third of the change when every other rung is
        dropped) to the Monte Carlo error. When :math:`-\log L` under the prior has a tail
        with Pareto k above 1/2 (a heavy-tailed prior such as a HalfCauchy scale reaching where
        the likelihood vanishes, so :math:`\mathrm{Var}_0[\log L]` is infinite and
        :math:`E_0[\log L]` may be too), the first interval is the exact stepping-stone ratio
        :math:`\log E_0[L^{\beta_1}]` and the trapezoid starts at :math:`\beta_1`.
    ``"smc"``
        ``pm.sample_smc`` output: the mean of the chains' evidence estimates, error from their
        spread (needs at least 2 chains). That spread misses any bias the runs share (too few
        particles or mutation steps for the posterior), so it is not a full error bar: on real
        models it understated the error 2.6-3.8 times. Cross-check with bridge sampling.
    ``"laplace"``
        Laplace's approximation at the mode (unconstrained space): a diagnostic, error NaN.
    ``"wbic"``
        Watanabe's widely applicable BIC, :math:`E_{\beta^*}[-\log L]` at
        :math:`\beta^* = 1/\log n`, sampled from ``model`` (``draws``, ``tune``, ``chains``,
        ``**sample_kwargs``): a criterion that approximates :math:`F` to :math:`O_p(\sqrt{\log n})`
        for singular models, not an evidence estimate; ``is_estimate`` is False.

    Parameters
    ----------
    data : xarray.DataTree or InferenceData, optional
        ``pm.sample`` output (bridge, laplace), ``psm.sample_power_posteriors`` output
        (stepping_stone, ti) or ``pm.sample_smc`` output (smc). Not needed for wbic.
    model : pymc.Model, optional
        The model that produced ``data`` (the context model when omitted). Needed for bridge,
        laplace and wbic; used by smc for the energy.
    method : str, default "auto"
        One of ``"auto"``, ``"bridge"``, ``"stepping_stone"``, ``"ti"``, ``"smc"``,
        ``"laplace"``, ``"wbic"``. Auto: ladder data -> stepping_stone, SMC data -> smc,
        posterior draws and a model -> bridge.
    random_seed : int or numpy.random.Generator, optional
        Seeds the proposal and prior draws (bridge) or the sampler (wbic).
    check_prior : bool, default True
        Run the prior importance-sampling check (bridge).
    tol, max_iter
        Convergence of the bridge iteration (in log Z).
    n_obs : int, optional
        Number of observations for WBIC (default: total size of the observed variables).

    Returns
    -------
    FreeEnergy

    References
    ----------
    Meng, X.-L. & Wong, W. H. (1996). Simulating ratios of normalizing constants via a simple
    identity. *Statistica Sinica* 6, 831-860.
    Fruhwirth-Schnatter, S. (2004). Estimating marginal likelihoods for mixture and Markov
    switching models using bridge sampling techniques. *Econometrics Journal* 7, 143-167.
    Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. & Burkner, P.-C. (2021).
    Rank-normalization, folding, and localization: an improved R-hat. *Bayesian Analysis* 16,
    667-718.
    Gronau, Q. F. et al. (2017). A tutorial on bridge sampling. *J. Math. Psych.* 81, 80-97.
    Xie, W., Lewis, P. O., Fan, Y., Kuo, L. & Chen, M.-H. (2011). Improving marginal likelihood
    estimation for Bayesian phylogenetic model selection. *Syst. Biol.* 60, 150-160.
    Friel, N., Hurn, M. & Wyse, J. (2014). Improving power posterior estimation of statistical
    evidence. *Statistics and Computing* 24, 709-723.
    Watanabe, S. (2013). A widely applicable Bayesian information criterion. *JMLR* 14, 867-897.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_statmech as psm
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0, 1)
    ...     _ = pm.Normal("y", mu, 1, observed=[0.3, -0.1, 0.5])
    ...     idata = pm.sample(500, tune=500, chains=2, random_seed=1, progressbar=False)
    >>> result = psm.free_energy(idata, model, random_seed=1)
    >>> exact = -1.5 * np.log(2 * np.pi) - 0.5 * np.log(4) - 0.5 * (0.35 - 0.7**2 / 4)
    >>> bool(abs(result.log_evidence - exact) < max(0.02, 3 * result.error))
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    tree = None if data is None else as_datatree(data)
    try:
        model = checked_model(model)
    except TypeError:
        model = None
    if method == "auto":
        method = _auto_method(tree, model)
    terms = None if model is None else model_terms(model)
    if method in ("bridge", "laplace", "wbic") and terms is None:
        raise ValueError(
            f"method={method!r} needs the model: pass model= or call inside its "
            "`with model:` block."
        )
    if terms is not None and method != "wbic":
        terms.require_proper_prior(f"The evidence ({method})")
    if method in ("bridge", "stepping_stone", "ti", "smc") and tree is None:
        raise ValueError(f"method={method!r} needs data (the sampler's output).")
    if method == "bridge":
        result = _bridge(tree, terms, sample_dims, random_seed, tol, max_iter, check_prior)
    elif method in ("stepping_stone", "ti"):
        result = _ladder_method(tree, method)
    elif method == "smc":
        result = _smc(tree, terms, random_seed)
    elif method == "laplace":
        result = _laplace(tree, terms)
    else:
        result = _wbic(terms, n_obs, draws, tune, chains, random_seed, sample_kwargs)
    if result.is_estimate and result.kl < -4 * result.kl_error:  # False when U is unknown (NaN)
        result = dataclasses.replace(
            result,
            warnings=(
                *result.warnings,
                f"KL(post || prior) = -U - log Z = {result.kl:.3f} +/- {result.kl_error:.3f} is "
                "negative, which Gibbs' inequality forbids: this log Z is too high by at least "
                f"{-result.kl - 4 * result.kl_error:.3f} nats (or U too low). Do not use it; "
                "cross-check with another method.",
            ),
        )
    for message in result.warnings:
        warnings.warn(message, EvidenceWarning, stacklevel=2)
    return result


def _auto_method(tree, model) -> str:
    if tree is None:
        raise ValueError(
            "free_energy needs data (pm.sample, psm.sample_power_posteriors or "
            "pm.sample_smc output), or method='wbic' with a model."
        )
    if TEMPERING_GROUP in tree.children:
        return "stepping_stone"
    if "sample_stats" in tree.children and "log_marginal_likelihood" in tree["sample_stats"]:
        return "smc"
    if "posterior" in tree.children and model is not None:
        return "bridge"
    if "posterior" in tree.children:
        raise ValueError(
            "Bridge sampling (the default for posterior draws) needs the model: pass "
            "model= or call inside its `with model:` block."
        )
    raise ValueError(
        f"Cannot estimate the evidence from groups {sorted(tree.children)}: pass "
        "pm.sample output with the model, psm.sample_power_posteriors output, or "
        "pm.sample_smc output."
    )
