"""The evidence as a free energy: the result object every estimator returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "EVIDENCE_METHODS",
    "BayesFactor",
    "FreeEnergy",
    "ThermodynamicCurve",
    "bayes_factor",
]

#: Methods whose number is an estimate of log Z; the others are labelled as what they are.
EVIDENCE_METHODS = ("bridge", "stepping_stone", "ti", "smc")
_LABELS = {
    "bridge": "bridge sampling (Meng-Wong, iterative)",
    "stepping_stone": "stepping-stone sampling",
    "ti": "thermodynamic integration (corrected trapezoid)",
    "smc": "sequential Monte Carlo",
    "laplace": "Laplace approximation (a diagnostic, not an evidence estimate)",
    "wbic": "WBIC (a criterion, not an evidence estimate)",
}


@dataclass(frozen=True)
class ThermodynamicCurve:
    """The curve ``beta -> E_beta[log L]`` on a tempering ladder.

    ``mean`` is the expected untempered log-likelihood under the power posterior at each ``beta``,
    ``mcse`` its Monte Carlo standard error, ``variance`` the variance of ``log L`` (the slope of
    the curve, since d E_beta[log L] / d beta = Var_beta[log L]).
    """

    beta: np.ndarray
    mean: np.ndarray
    mcse: np.ndarray
    variance: np.ndarray


@dataclass(frozen=True)
class FreeEnergy:
    r"""The free energy :math:`F = -\log Z` of a posterior, with its split into energy and entropy.

    A posterior is a Boltzmann distribution at unit temperature with energy
    :math:`-\log p(y, \theta)`; its normaliser is the evidence :math:`Z = p(y)`, so
    :math:`F = -\log Z`. Gibbs' variational identity splits it as

    .. math:: F = U + \mathrm{KL}(p(\theta \mid y) \,\|\, p(\theta)),
              \qquad U = \mathbb{E}_{\text{post}}[-\log L(\theta)],

    the analogue of :math:`F = U - TS` with the relative entropy to the prior in place of the
    entropy. Units: nats.

    Attributes
    ----------
    method : str
        ``"bridge"``, ``"stepping_stone"``, ``"ti"``, ``"smc"``, ``"laplace"`` or ``"wbic"``.
    log_evidence : float
        :math:`\log Z` (for ``"wbic"`` and ``"laplace"`` the criterion's value: see
        ``is_estimate``).
    error : float
        Monte Carlo standard error of ``log_evidence`` (nats); NaN when the method has none.
    energy, energy_error : float
        :math:`U = \mathbb{E}_{\text{post}}[-\log L]` and its Monte Carlo standard error, with the
        likelihood including every observed variable and every ``pm.Potential``.
    per_chain : numpy.ndarray or None
        Independent per-chain estimates of ``log_evidence`` where the method gives them.
    curve : ThermodynamicCurve or None
        The thermodynamic curve, for the ladder methods.
    diagnostics : dict
        Method-specific numbers (iterations, effective sample sizes, discretisation checks, ...).
    warnings : tuple of str
        Everything the estimator found suspicious, also issued as Python warnings.

    References
    ----------
    Gelman, A. & Meng, X.-L. (1998). Simulating normalizing constants: from importance sampling to
    bridge sampling to path sampling. *Statistical Science* 13, 163-185.
    """

    method: str
    log_evidence: float
    error: float
    energy: float = np.nan
    energy_error: float = np.nan
    per_chain: np.ndarray | None = None
    curve: ThermodynamicCurve | None = None
    diagnostics: dict = field(default_factory=dict)
    warnings: tuple = ()

    def __post_init__(self):
        for name in ("error", "energy_error"):
            value = getattr(self, name)
            if not (np.isnan(value) or value >= 0):
                raise ValueError(
                    f"{name} is a standard error and cannot be negative, got {value}; use NaN "
                    "when there is none."
                )
        if np.isinf(self.log_evidence) and self.log_evidence > 0:
            raise ValueError("log_evidence = +inf is not an evidence: the model is improper.")

    @property
    def free_energy(self) -> float:
        """:math:`F = -\\log Z` (nats)."""
        return -self.log_evidence

    @property
    def kl(self) -> float:
        """:math:`\\mathrm{KL}(\\text{post} \\| \\text{prior}) = -U - \\log Z + \\log m` (nats):
        the information gained from the data, by the exact identity, against the prior
        normalised to one (:math:`m` its mass as written, in ``diagnostics["log_prior_mass"]``;
        below 1 when an ordered transform cuts the support)."""
        return -self.energy - self.log_evidence + self.diagnostics.get("log_prior_mass", 0.0)

    @property
    def kl_error(self) -> float:
        """Standard error of :attr:`kl` (the two errors combined as independent)."""
        return float(np.hypot(self.error, self.energy_error))

    @property
    def is_estimate(self) -> bool:
        """Whether ``log_evidence`` estimates :math:`\\log Z` (False for WBIC and Laplace)."""
        return self.method in EVIDENCE_METHODS

    def __repr__(self) -> str:
        label = _LABELS.get(self.method, self.method)
        lines = [
            f"FreeEnergy({label})",
            f"  log evidence  log Z = {self.log_evidence:.4f} +/- {self.error:.4f}",
            f"  free energy   F = -log Z = {self.free_energy:.4f}",
        ]
        if np.isfinite(self.energy):
            lines.append(
                f"  energy        U = E_post[-log L] = {self.energy:.4f}"
                f" +/- {self.energy_error:.4f}"
            )
            lines.append(
                f"  information   KL(post || prior) = F - U = {self.kl:.4f} +/- {self.kl_error:.4f}"
            )
        if self.per_chain is not None:
            chains = ", ".join(f"{value:.3f}" for value in self.per_chain)
            lines.append(f"  per chain     {chains}")
        checks = _checks_summary(self.diagnostics)
        if checks:
            lines.append(f"  checks        {checks}")
        lines.extend(f"  warning: {message}" for message in self.warnings)
        return "\n".join(lines)

    def plot(self, ax=None):
        """Plot the thermodynamic curve with bands (ladder methods) and the per-chain estimates.

        Returns the matplotlib axes (two when both panels apply).
        """
        import matplotlib.pyplot as plt

        panels = [
            name
            for name, present in (("curve", self.curve), ("chains", self.per_chain))
            if present is not None
        ]
        if not panels:
            raise ValueError(
                f"A {self.method!r} result has neither a thermodynamic curve nor "
                "per-chain estimates to plot."
            )
        if ax is None:
            _, ax = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
            axes = list(ax[0])
        else:
            axes = list(np.atleast_1d(ax))
        if len(axes) != len(panels):
            raise ValueError(
                f"plot needs {len(panels)} axes ({', '.join(panels)}), got {len(axes)}."
            )
        for axis, panel in zip(axes, panels, strict=True):
            if panel == "curve":
                curve = self.curve
                sd = np.sqrt(curve.variance)
                axis.fill_between(
                    curve.beta, curve.mean - sd, curve.mean + sd, alpha=0.2, label="+/- sd of log L"
                )
                axis.fill_between(
                    curve.beta,
                    curve.mean - 2 * curve.mcse,
                    curve.mean + 2 * curve.mcse,
                    alpha=0.5,
                    label="+/- 2 MCSE",
                )
                axis.plot(curve.beta, curve.mean, "o-", ms=3, label=r"$E_\beta[\log L]$")
                axis.set_xlabel(r"inverse temperature $\beta$")
                axis.set_ylabel(r"$E_\beta[\log L]$ (nats)")
                axis.set_title(r"thermodynamic curve: $\log Z = \int_0^1 E_\beta[\log L]\,d\beta$")
                axis.legend(loc="lower right", fontsize="small")
            else:
                chains = np.arange(len(self.per_chain))
                axis.plot(chains, self.per_chain, "o", label="per chain")
                axis.axhline(self.log_evidence, color="k", lw=1, label="pooled")
                axis.axhspan(
                    self.log_evidence - 2 * self.error,
                    self.log_evidence + 2 * self.error,
                    alpha=0.2,
                    color="k",
                    label="+/- 2 error",
                )
                axis.set_xlabel("chain")
                axis.set_ylabel(r"$\log Z$ (nats)")
                axis.set_title(f"per-chain estimates ({self.method})")
                axis.legend(fontsize="small")
        return axes if len(axes) > 1 else axes[0]


def _checks_summary(diagnostics: dict) -> str:
    """The checks an estimator ran, and what they found, on one line."""
    parts = []
    if "error_kind" in diagnostics:
        parts.append(f"error: {diagnostics['error_kind']}")
    if "divergences" in diagnostics:
        parts.append(f"divergences {diagnostics['divergences']}")
    if "max_rhat" in diagnostics:
        parts.append(f"max R-hat {diagnostics['max_rhat']:.3f}")
    if "pareto_k" in diagnostics:
        k = diagnostics["pareto_k"]
        parts.append(f"Pareto k {k['posterior']:.2f} (posterior), {k['proposal']:.2f} (proposal)")
    if "chain_agreement_p" in diagnostics:
        parts.append(f"per-chain agreement p = {diagnostics['chain_agreement_p']:.2g}")
    prior = diagnostics.get("prior_importance")
    if prior is not None:
        parts.append(
            f"prior check ESS {prior['ess']:.0f}"
            + ("" if prior["checked"] else " (too few to check all modes were visited)")
        )
    if "prior_tail_k" in diagnostics:
        parts.append(
            f"tail of -log L under the prior: Pareto k {diagnostics['prior_tail_k']:.2f}"
            + (
                " (first interval by stepping-stone)"
                if diagnostics["first_interval"] != "trapezoid"
                else ""
            )
        )
    if "discretisation_error" in diagnostics:
        parts.append(
            f"discretisation error {diagnostics['discretisation_error']:.4f}"
            f" (Monte Carlo {diagnostics['monte_carlo_error']:.4f})"
        )
    mass = diagnostics.get("log_prior_mass", (prior or {}).get("log_prior_mass", 0.0))
    if mass < 0:
        parts.append(f"prior mass {np.exp(mass):.4f} (support cut by a transform)")
    if "symmetry" in diagnostics:
        parts.append(f"label symmetry: {diagnostics['symmetry']}")
    return "; ".join(parts)


class BayesFactor(NamedTuple):
    """A log Bayes factor :math:`\\log B_{ab} = \\log Z_a - \\log Z_b = F_b - F_a` (nats) and its
    Monte Carlo standard error."""

    log_bayes_factor: float
    error: float

    def __repr__(self) -> str:
        log10_b = self.log_bayes_factor / np.log(10)
        factor = (
            f"{np.exp(self.log_bayes_factor):.4g}"
            if abs(log10_b) < 300
            else f"10^{log10_b:.1f}"  # beyond float range: the exponent, not inf or 0
        )
        return (
            f"BayesFactor(log B = {self.log_bayes_factor:.4f} +/- {self.error:.4f}, B = {factor})"
        )


def bayes_factor(a: FreeEnergy, b: FreeEnergy) -> BayesFactor:
    r"""The log Bayes factor of model ``a`` against model ``b``, a free-energy difference.

    .. math:: \log B_{ab} = \log Z_a - \log Z_b = F_b - F_a,
              \qquad \sigma = \sqrt{\sigma_a^2 + \sigma_b^2}

    (the two estimates come from independent runs). Units: nats; :math:`\log B > 0` favours ``a``.

    Parameters
    ----------
    a, b : FreeEnergy
        Results of :func:`free_energy` for the two models (evidence estimates, not WBIC/Laplace).

    References
    ----------
    Kass, R. E. & Raftery, A. E. (1995). Bayes factors. *JASA* 90, 773-795.

    Examples
    --------
    >>> import pymc_statmech as psm
    >>> a = psm.FreeEnergy("bridge", log_evidence=-10.0, error=0.03)
    >>> b = psm.FreeEnergy("bridge", log_evidence=-12.5, error=0.04)
    >>> psm.bayes_factor(a, b)
    BayesFactor(log B = 2.5000 +/- 0.0500, B = 12.18)
    """
    for name, result in (("a", a), ("b", b)):
        if not isinstance(result, FreeEnergy):
            raise TypeError(
                f"{name} must be a FreeEnergy from psm.free_energy, not {type(result).__name__}."
            )
        if not result.is_estimate:
            raise ValueError(
                f"{name} is a {result.method!r} result, which is not an evidence "
                "estimate; use bridge, stepping_stone, ti or smc for Bayes factors."
            )
    return BayesFactor(a.log_evidence - b.log_evidence, float(np.hypot(a.error, b.error)))
