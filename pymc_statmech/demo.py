r"""The main job: an end-to-end Bayesian analysis with all four pillars, written as a report.

The question: do the spins of a small magnet interact, and how strongly? The data are exact
snapshots of a :math:`4 \times 4` periodic Ising lattice with a known coupling and field
(:math:`J = 0.3`, :math:`h = 0.1`, :math:`\beta = 1`), drawn by :class:`pymc_statmech.Ising`.

1. **Maximum-entropy prior** (pillar 2). All we claim about :math:`J` before the data: it lies in
   :math:`[-1, 1]`, has mean 0 (no preference for ferro- or antiferromagnetism) and RMS 0.5.
   The least committal prior with those constraints is
   :math:`p(J) \propto \exp(\lambda_1 J + \lambda_2 J^2)` on :math:`[-1, 1]`, solved exactly by
   :func:`pymc_statmech.maxent_solve` and used in the model as :class:`pymc_statmech.MaxEnt`.
2. **Inverse Ising with the exact likelihood** (pillar 3). ``psm.Ising(..., observed=snapshots)``
   has log-partition :math:`\log Z(\beta J, \beta h)` exactly by the transfer matrix, with
   its gradient (the expected statistics) from the same compiled sweep, so NUTS samples
   :math:`(J, h)`.
3. **Model comparison by free energy** (pillars 1 and 4). The same data under independent
   spins (:math:`J = 0`: each spin a ``psm.NaturalBernoulli`` in :math:`x = (s + 1)/2` with
   natural parameter :math:`2h`, the same density as the Ising model with :math:`J = 0`); both
   evidences by bridge sampling as free energies
   :math:`F = -\log p(y)` with Monte Carlo errors, split as :math:`F = U + KL`, and the Bayes
   factor :math:`\log B = F_0 - F_1`.
4. **Information** (pillars 1 and 4). The information gained from the data
   :math:`KL(p(\theta\mid y)\,\|\,p(\theta)) = E_{post}[\log L] - \log p(y)` (exact identity,
   with the kNN estimate of the posterior's entropy and the exact prior density beside it), the
   posterior entropy from it, and the exponential-family
   check: the model's expected sufficient statistics :math:`\nabla A` per posterior draw against
   the observed ones.

Everything is written to a report folder: ``report.md``, ``results.json`` (every number) and
the figures as PNG. The folder is built under a temporary name beside the destination and
renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pymc_statmech import reporting
from pymc_statmech.reporting import quiet_pymc

__all__ = ["DemoResult", "DemoSettings", "run_demo"]

#: The known system the snapshots come from.
TRUTH = {"J": 0.3, "h": 0.1, "beta": 1.0, "lattice": (4, 4), "boundary": "periodic"}
#: What the prior states about J: its support and two moments (mean 0, RMS 0.5).
PRIOR_J = {"lower": -1.0, "upper": 1.0, "mean": 0.0, "second_moment": 0.25}
#: Prior standard deviation of the field h (a normal prior centred on 0).
PRIOR_H_SD = 0.5


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run."""

    snapshots: int
    draws: int
    tune: int
    chains: int = 2
    predictive_draws: int = 200

    @classmethod
    def choose(cls, quick: bool) -> DemoSettings:
        return cls(200, 300, 300) if quick else cls(400, 1000, 1000)


@dataclass
class DemoResult:
    """What :func:`run_demo` returns: whether its checks passed, where the report is, and the
    numbers (the content of ``results.json``)."""

    ok: bool
    out: Path
    results: dict[str, Any]


def _summary(draws: np.ndarray, truth: float) -> dict[str, float | bool]:
    """Posterior summary of one scalar's ``(chain, draw)`` samples, with ArviZ's R-hat and ESS."""
    import arviz as az

    lo, hi = np.quantile(draws, [0.05, 0.95])
    lo99, hi99 = np.quantile(draws, [0.005, 0.995])
    return {
        "mean": float(draws.mean()),
        "sd": float(draws.std(ddof=1)),
        "q05": float(lo),
        "q95": float(hi),
        "q005": float(lo99),
        "q995": float(hi99),
        "r_hat": float(az.rhat(draws)),
        "ess_bulk": float(az.ess(draws)),
        "truth": truth,
        "truth_in_90": bool(lo <= truth <= hi),
        "truth_in_99": bool(lo99 <= truth <= hi99),
    }


def _free_energy_record(result) -> dict[str, Any]:
    return {
        "method": result.method,
        "free_energy": float(result.free_energy),
        "log_evidence": float(result.log_evidence),
        "error": float(result.error),
        "energy": float(result.energy),
        "energy_error": float(result.energy_error),
        "kl": float(result.kl),
        "kl_error": float(result.kl_error),
        "per_chain": [float(v) for v in np.ravel(result.per_chain)],
        "warnings": [str(w) for w in result.warnings],
    }


def _exact_statistics(structure, J_draws, h_draws):
    """Per draw, the model's expected bond correlation and magnetisation per spin: its mean
    parameters, the gradient of log Z (exact)."""
    import pymc_statmech as psm

    ones_e, ones_n = np.ones(structure.n_edges), np.ones(structure.n_spins)
    model = psm.Ising.dist(
        J=np.multiply.outer(J_draws, ones_e), h=np.multiply.outer(h_draws, ones_n),
        lattice=structure,
    )  # fmt: skip
    bonds, sites = (np.asarray(v.eval()) for v in psm.mean_parameters(model))
    return bonds.mean(axis=-1), sites.mean(axis=-1)


# ---------------------------------------------------------------------------------------------
# the analysis
# ---------------------------------------------------------------------------------------------
def _analyse(settings: DemoSettings, seed: int, step) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the analysis; ``step(label)`` marks progress. Returns (results, arrays for figures)."""
    import pymc as pm

    import pymc_statmech as psm

    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def done(name):
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 2)
        clock[0] = now

    lattice = TRUTH["lattice"]
    structure = psm.ising_structure(lattice=lattice, boundary=TRUTH["boundary"])

    step("drawing exact snapshots from the known lattice")
    snapshots = pm.draw(
        psm.Ising.dist(J=TRUTH["J"], h=TRUTH["h"], lattice=lattice, size=settings.snapshots),
        random_seed=seed,
    )
    flat = snapshots.reshape(settings.snapshots, -1).astype(float)
    i, j = structure.edges.T
    observed = {
        "bond_correlation": float((flat[:, i] * flat[:, j]).mean()),
        "magnetisation": float(flat.mean()),
    }
    done("snapshots")

    step("solving the maximum-entropy prior on J")
    domain = psm.Interval(PRIOR_J["lower"], PRIOR_J["upper"])
    constraints = [psm.mean(PRIOR_J["mean"]), psm.moment(2, PRIOR_J["second_moment"])]
    solution = psm.maxent_solve(domain, constraints)
    grid = np.linspace(PRIOR_J["lower"], PRIOR_J["upper"], 401)
    prior_density = np.exp(np.asarray(solution.logpdf(grid), dtype=float))
    h_prior_entropy = 0.5 * np.log(2 * np.pi * np.e * PRIOR_H_SD**2)
    done("maxent")

    sample = {
        "draws": settings.draws,
        "tune": settings.tune,
        "chains": settings.chains,
        "cores": 1,
        "progressbar": False,
        "compute_convergence_checks": False,
    }

    step("NUTS on the Ising model (exact likelihood)")
    with pm.Model() as ising_model:
        J = psm.MaxEnt("J", domain, constraints)
        h = pm.Normal("h", 0.0, PRIOR_H_SD)
        psm.Ising("s", J=J, h=h, lattice=lattice, observed=snapshots)
        ising = pm.sample(random_seed=seed + 1, **sample)
    done("sample_ising")

    step("NUTS on the independent-spin model (J = 0)")
    with pm.Model() as independent_model:
        # p(s_i) = e^{h s_i} / (2 cosh h): a Bernoulli in x = (s + 1) / 2 with natural
        # parameter 2h, the same density as the Ising model with J = 0
        h0 = pm.Normal("h", 0.0, PRIOR_H_SD)
        psm.NaturalBernoulli("s", eta=2.0 * h0, observed=psm.spins_to_binary(snapshots))
        independent = pm.sample(random_seed=seed + 2, **sample)
    done("sample_independent")

    step("free energies by bridge sampling")
    F_ising = psm.free_energy(ising, ising_model)
    F_independent = psm.free_energy(independent, independent_model)
    bayes = psm.bayes_factor(F_ising, F_independent)
    done("free_energy")

    step("entropy and information gain")
    post = ising["posterior"]
    J_draws, h_draws = post["J"].values, post["h"].values
    prior_entropy = float(solution.entropy) + h_prior_entropy
    information = _information(ising, ising_model, F_ising, solution, prior_entropy)
    done("information")

    step("exact expected statistics per posterior draw")
    rng = np.random.default_rng(seed + 3)
    pick = rng.choice(
        J_draws.size, size=min(settings.predictive_draws, J_draws.size), replace=False
    )
    corr, mag = _exact_statistics(structure, J_draws.ravel()[pick], h_draws.ravel()[pick])
    done("predictive")

    J_summary = _summary(J_draws, TRUTH["J"])
    h_summary = _summary(h_draws, TRUTH["h"])
    divergences = int(ising["sample_stats"]["diverging"].values.sum())
    results = {
        "truth": {**TRUTH, "lattice": list(lattice)},
        "data": {"n_snapshots": settings.snapshots, "n_spins": structure.n_spins, **observed},
        "settings": settings.__dict__,
        "prior": _prior_record(solution, h_prior_entropy, prior_entropy),
        "posterior": {"J": J_summary, "h": h_summary, "divergences": divergences},
        "sampler": _sampler_name(ising),
        "free_energy": {
            "ising": _free_energy_record(F_ising),
            "independent": _free_energy_record(F_independent),
        },
        "bayes_factor": {
            "log_bayes_factor": float(bayes.log_bayes_factor),
            "error": float(bayes.error),
            "favours": "ising" if bayes.log_bayes_factor > 0 else "independent",
            "definition": "log p(y | Ising) - log p(y | independent) = F_independent - F_ising",
        },
        "information": information,
        "predictive": _predictive_record(observed, corr, mag),
        "timings_seconds": timings,
    }
    arrays = {
        "snapshots": snapshots,
        "grid": grid,
        "prior_density": prior_density,
        "J": J_draws,
        "h": h_draws,
        "corr": corr,
        "mag": mag,
    }
    return results, arrays


def _prior_record(solution, h_prior_entropy: float, prior_entropy: float) -> dict[str, Any]:
    """The priors of J (the maximum-entropy solution) and h, as written to results.json."""
    return {
        "J": {
            "kind": "maximum entropy",
            "domain": [PRIOR_J["lower"], PRIOR_J["upper"]],
            "constraints": {"E[J]": PRIOR_J["mean"], "E[J^2]": PRIOR_J["second_moment"]},
            "multipliers": np.asarray(solution.multipliers, dtype=float).tolist(),
            "log_partition": float(solution.log_partition),
            "entropy_nats": float(solution.entropy),
            "moments_reached": np.asarray(solution.moments, dtype=float).tolist(),
        },
        "h": {"kind": "normal", "mean": 0.0, "sd": PRIOR_H_SD, "entropy_nats": h_prior_entropy},
        "entropy_nats": prior_entropy,
    }


def _information(ising, model, free_energy, solution, prior_entropy: float) -> dict[str, Any]:
    """Information gained and the posterior's entropy, each by two routes: the evidence
    identity (exact prior density) and the kNN estimate."""
    import xarray as xr

    import pymc_statmech as psm

    post = ising["posterior"]
    J_draws, h_draws = post["J"].values, post["h"].values
    gain = psm.stats.information_gain(ising, evidence=free_energy, model=model)
    # the model route: the prior's density is exact, only the posterior's entropy is estimated
    gain_knn = psm.stats.information_gain(ising, method="knn", model=model)
    theta = xr.Dataset(
        {"theta": (("chain", "draw", "parameter"), np.stack([J_draws, h_draws], -1))}
    )
    entropy_knn = psm.stats.entropy(theta, method="knn")["theta"]
    log_prior = (
        np.asarray(solution.logpdf(J_draws.ravel()), dtype=float)
        - 0.5 * ((h_draws.ravel() / PRIOR_H_SD) ** 2)
        - np.log(PRIOR_H_SD * np.sqrt(2 * np.pi))
    )
    ig, ig_err = (float(v) for v in gain["information_gain"].values)
    # H(post) = -KL(post || prior) - E_post[log prior]: the identity's estimate of the entropy
    log_prior_se = float(log_prior.std(ddof=1) / np.sqrt(min(_ess(J_draws), _ess(h_draws))))
    return {
        "information_gain": {"value": ig, "error": ig_err, "route": "E_post[log L] - log Z"},
        "information_gain_knn": {
            "value": float(gain_knn["information_gain"].values[0]),
            "error": float(gain_knn["information_gain"].values[1]),
        },
        "posterior_entropy": {
            "value": -ig - float(log_prior.mean()),
            "error": float(np.hypot(ig_err, log_prior_se)),
            "route": "-KL(post || prior) - E_post[log prior]",
        },
        "posterior_entropy_knn": {
            "value": float(entropy_knn.values[0]),
            "error": float(entropy_knn.values[1]),
        },
        "prior_entropy": prior_entropy,
    }


def _predictive_record(observed: dict, corr: np.ndarray, mag: np.ndarray) -> dict[str, Any]:
    """The model's exact expected statistics over posterior draws against the observed ones."""
    return {
        name: {
            "observed": observed[name],
            "posterior_mean": float(values.mean()),
            "q05": float(np.quantile(values, 0.05)),
            "q95": float(np.quantile(values, 0.95)),
            "n_draws": len(values),
        }
        for name, values in (("bond_correlation", corr), ("magnetisation", mag))
    }


def _sampler_name(tree) -> str:
    """Which NUTS ran: PyMC's own, or nutpie, which PyMC picks by itself when it is installed."""
    attrs = tree["posterior"].attrs
    library = attrs.get("inference_library", "pymc")
    return f"NUTS ({library} {attrs.get('inference_library_version', '')})".replace(" )", ")")


def _ess(draws: np.ndarray) -> float:
    import arviz as az

    return float(az.ess(draws))


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def _figures(folder: Path, results: dict[str, Any], arrays: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    names = []

    def save(fig, name):
        fig.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        names.append(name)

    fig, axes = plt.subplots(1, 8, figsize=(10, 1.7))
    for k, ax in enumerate(axes):
        ax.imshow(arrays["snapshots"][k], cmap="gray_r", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("The first 8 snapshots (black = +1)")
    save(fig, "snapshots.png")

    # Posterior at its own scale; the prior, far wider, in an inset with the posterior's range
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    h_grid = np.linspace(-3 * PRIOR_H_SD, 3 * PRIOR_H_SD, 301)
    panels = (
        ("J", "coupling J", arrays["grid"], arrays["prior_density"], "max-ent prior"),
        ("h", "field h", h_grid, stats.norm.pdf(h_grid, 0, PRIOR_H_SD), "Normal(0, 0.5) prior"),
    )
    for ax, (name, label, grid, density, prior_label) in zip(axes, panels, strict=False):
        draws = arrays[name].ravel()
        summary = results["posterior"][name]
        ax.hist(draws, bins=40, density=True, color="C0", alpha=0.7, label="posterior")
        ax.axvspan(summary["q05"], summary["q95"], color="C0", alpha=0.12, label="90% interval")
        ax.axvline(TRUTH[name], color="k", ls="--", label=f"truth {TRUTH[name]}")
        lo, hi = draws.min(), draws.max()
        ax.set_xlim(min(lo, TRUTH[name]) - 0.1 * (hi - lo), max(hi, TRUTH[name]) + 0.1 * (hi - lo))
        ax.set_xlabel(f"{label} (units of k_B T)")
        ax.set_ylabel(f"density (per unit of {name})")
        ax.set_title(f"{name}: posterior, prior inset")
        ax.legend(fontsize=7, loc="upper left")
        inset = ax.inset_axes([0.66, 0.6, 0.32, 0.36])
        inset.plot(grid, density, color="0.3")
        inset.axvspan(lo, hi, color="C0", alpha=0.5)
        inset.set_title(prior_label, fontsize=7)
        inset.tick_params(labelsize=6)
        inset.set_ylim(0, None)
    ax = axes[2]
    ax.scatter(arrays["J"].ravel(), arrays["h"].ravel(), s=2, alpha=0.3, label="posterior draws")
    ax.plot([TRUTH["J"]], [TRUTH["h"]], "k*", ms=12, label="truth")
    ax.set_xlabel("J (units of k_B T)")
    ax.set_ylabel("h (units of k_B T)")
    ax.set_title("joint posterior")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, "posterior.png")

    # The free energies: differences and the KL terms on axes from 0, and the Monte Carlo
    # errors at their own scale (they are thousandths of a nat against hundreds)
    fe, bf = results["free_energy"], results["bayes_factor"]
    ising, indep = fe["ising"], fe["independent"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    rows = (
        (
            "ΔU (fit)",
            indep["energy"] - ising["energy"],
            np.hypot(ising["energy_error"], indep["energy_error"]),
        ),
        ("ΔKL (Occam)", indep["kl"] - ising["kl"], np.hypot(ising["kl_error"], indep["kl_error"])),
        ("ΔF = log B", bf["log_bayes_factor"], bf["error"]),
    )
    for k, (_, value, error) in enumerate(rows):
        ax.barh(k, value, xerr=2 * error, color=("C0", "C1", "C2")[k], capsize=4)
        ax.annotate(
            f" {_plus_minus(value, error)}",
            (max(value, 0.0), k),
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.axvline(0, color="k", lw=0.8)
    low, high = min(0.0, *(r[1] for r in rows)), max(0.0, *(r[1] for r in rows))
    ax.set_xlim(low - 0.1 * (high - low), high + 0.45 * (high - low))  # room for the labels
    ax.set_xlabel("independent minus Ising (nats)")
    ax.set_title("F = U + KL: what separates the models")
    ax = axes[1]
    labels = ["Ising (J free)", "independent (J = 0)"]
    for k, f in enumerate((ising, indep)):
        ax.bar(k, f["kl"], yerr=2 * f["kl_error"], color="C1", capsize=6)
        ax.annotate(
            _plus_minus(f["kl"], f["kl_error"]),
            (k, f["kl"]),
            ha="center",
            va="bottom",
            xytext=(0, 6),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xticks([0, 1], labels)
    ax.set_ylim(min(0.0, ising["kl"], indep["kl"]), 1.25 * max(0.0, ising["kl"], indep["kl"]))
    ax.set_ylabel("KL(post || prior) (nats)")
    ax.set_title("information gained (±2 MC errors)")
    ax = axes[2]
    for k, f in enumerate((ising, indep)):
        chains = -np.asarray(f["per_chain"]) - f["free_energy"]  # per_chain holds log p(y)
        ax.errorbar(
            k,
            0.0,
            yerr=2 * f["error"],
            fmt="o",
            color="k",
            capsize=8,
            label="pooled F ± 2 MC errors" if k == 0 else None,
        )
        ax.plot(
            np.full(len(chains), k + 0.15),
            chains,
            "x",
            color="C3",
            label="single-chain estimates" if k == 0 else None,
        )
    ax.set_xticks(
        [0, 1],
        [f"{l}\nF = {f['free_energy']:.3f}" for l, f in zip(labels, (ising, indep), strict=True)],
    )
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel("estimate minus pooled F (nats)")
    ax.set_title("bridge sampling: Monte Carlo error")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, "free_energy.png")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    pred = results["predictive"]
    for k, (key, values) in enumerate((("bond_correlation", "corr"), ("magnetisation", "mag"))):
        ax.violinplot(arrays[values], positions=[k], showextrema=False)
        ax.plot(
            [k - 0.3, k + 0.3],
            [pred[key]["observed"]] * 2,
            "k-",
            label="observed in the snapshots" if k == 0 else None,
        )
    ax.set_xticks([0, 1], ["bond correlation <s_i s_j>", "magnetisation <s_i>"])
    ax.set_ylabel("expectation (dimensionless)")
    ax.set_title("E[T] = grad log Z per posterior draw, exact")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, "statistics.png")
    return names


def _plus_minus(value: float, error: float) -> str:
    """``value ± error`` with the error to two significant digits and the value to match (never
    "± 0.00" for an error that is not zero)."""
    if not np.isfinite(error) or error <= 0:
        return f"{value:.4g}" + ("" if error == 0 else f" ± {error}")
    decimals = max(0, 1 - int(np.floor(np.log10(error))))
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


def _clean(value: float, scale: float = 1.0, digits: int = 6) -> float:
    """A solver's result rounded to ``digits`` decimals: rounding noise (-2.7e-17 for an exact
    zero) prints as 0."""
    return round(float(value) / scale, digits) * scale + 0.0


def _markdown(results: dict[str, Any], figures: list[str]) -> str:
    r = results
    pj, ph = r["posterior"]["J"], r["posterior"]["h"]
    fe, bf, info, pred = r["free_energy"], r["bayes_factor"], r["information"], r["predictive"]
    prior = r["prior"]["J"]
    lam = prior["multipliers"]

    def row(name, s):
        return (
            f"| {name} | {s['truth']:.3f} | {s['mean']:.4f} | {s['sd']:.4f} | "
            f"[{s['q05']:.4f}, {s['q95']:.4f}] | {s['r_hat']:.3f} | {s['ess_bulk']:.0f} |"
        )

    def fe_row(name, f):
        return (
            f"| {name} | {_plus_minus(f['free_energy'], f['error'])} | "
            f"{_plus_minus(f['energy'], f['energy_error'])} | "
            f"{_plus_minus(f['kl'], f['kl_error'])} |"
        )

    def info_row(label, q):
        return f"| {label} | {_plus_minus(q['value'], q['error'])} |"

    lines = [
        "# pymc_statmech demo: do these spins interact?",
        "",
        f"pymc_statmech {r['version']}, seed {r['seed']}{' (quick)' if r['quick'] else ''}, "
        f"{r['total_seconds']:.0f} s. Every number is in `results.json`.",
        "",
        "## Data",
        "",
        f"{r['data']['n_snapshots']} exact snapshots (enumeration of the 2^16 states) of a "
        f"{r['truth']['lattice'][0]} x {r['truth']['lattice'][1]} periodic Ising lattice with "
        f"J = {r['truth']['J']}, h = {r['truth']['h']}, beta = 1; energy "
        "E(s) = -J Σ s_i s_j - h Σ s_i. Observed mean bond correlation "
        f"{r['data']['bond_correlation']:.4f}, magnetisation {r['data']['magnetisation']:.4f}.",
        "",
        f"![snapshots]({figures[0]})",
        "",
        "## Prior: maximum entropy from stated moments",
        "",
        "All we state about J: it lies in [-1, 1], E[J] = 0, E[J²] = 0.25. The least committal "
        "prior with those constraints is p(J) ∝ exp(λ₁ J + λ₂ J²) on [-1, 1], solved exactly: "
        f"λ = ({_clean(lam[0]):.6f}, {_clean(lam[1]):.6f}), log-partition "
        f"{prior['log_partition']:.6f}, entropy {prior['entropy_nats']:.6f} nats (moments "
        f"reached: {_clean(prior['moments_reached'][0], digits=12):.6f}, "
        f"{_clean(prior['moments_reached'][1], digits=12):.6f}). The mean constraint is met by "
        f"symmetry: λ₁ is 0. h ~ Normal(0, {PRIOR_H_SD}).",
        "",
        "## Posterior: NUTS with the exact likelihood",
        "",
        "| parameter | truth | mean | sd | 90% interval | R-hat | bulk ESS |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        row("J", pj),
        row("h", ph),
        "",
        f"{r['sampler']}: {r['settings']['chains']} chains × {r['settings']['draws']} draws after "
        f"{r['settings']['tune']} tuning steps; {r['posterior']['divergences']} divergences. "
        f"The truth lies inside the 90% interval: J {'yes' if pj['truth_in_90'] else 'no'}, "
        f"h {'yes' if ph['truth_in_90'] else 'no'}.",
        "",
        f"![posterior]({figures[1]})",
        "",
        "## Evidence as a free energy",
        "",
        "Bridge sampling, F = -log p(y) = U + KL with U = E_post[-log L] (nats, ± Monte Carlo "
        "standard error):",
        "",
        "| model | F | U | KL(post ‖ prior) |",
        "| --- | --- | --- | --- |",
        fe_row("Ising (J free)", fe["ising"]),
        fe_row("independent spins (J = 0)", fe["independent"]),
        "",
        "log Bayes factor (Ising vs independent) = "
        f"{_plus_minus(bf['log_bayes_factor'], bf['error'])}: the data favour the "
        f"**{bf['favours']}** model.",
        "",
        f"![free energy]({figures[2]})",
        "",
        "## Information",
        "",
        "| quantity | value (nats) |",
        "| --- | --- |",
        f"| prior entropy (exact) | {info['prior_entropy']:.4f} |",
        info_row(
            "information gain KL(post ‖ prior), identity E_post[log L] - log p(y)",
            info["information_gain"],
        ),
        info_row(
            "information gain, kNN posterior entropy with the exact prior density",
            info["information_gain_knn"],
        ),
        info_row("posterior entropy, -KL - E_post[log prior]", info["posterior_entropy"]),
        info_row("posterior entropy, kNN estimator", info["posterior_entropy_knn"]),
        "",
        *(
            [
                "The posterior's entropy is negative: a differential entropy (of a density, "
                "here over (J, h)) is not bounded below, and a posterior narrower than a unit "
                "box has a negative one. It is the information gain that is positive."
            ]
            if info["posterior_entropy"]["value"] < 0
            else []
        ),
        "",
        "## Expected statistics (the exponential-family check)",
        "",
        "The Ising model is an exponential family with sufficient statistics (s_i s_j, s_i); their "
        "expectations are the gradient of log Z. Per posterior draw, exactly:",
        "",
        "| statistic | observed | posterior mean of E[T] | 90% interval |",
        "| --- | --- | --- | --- |",
        *(
            f"| {label} | {pred[key]['observed']:.4f} | {pred[key]['posterior_mean']:.4f} | "
            f"[{pred[key]['q05']:.4f}, {pred[key]['q95']:.4f}] |"
            for label, key in (
                ("bond correlation", "bond_correlation"),
                ("magnetisation", "magnetisation"),
            )
        ),
        "",
        f"![expected statistics]({figures[3]})",
        "",
        "## Checks",
        "",
        *(f"- {name}: {'pass' if good else 'FAIL'}" for name, good in r["checks"].items()),
        "",
    ]
    return "\n".join(lines)


def _plain(value):
    """NumPy scalars as Python numbers in ``results.json``."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _publish(staging: Path, out: Path) -> None:
    """Move the finished folder into place: an old report is replaced only now."""
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, retired / out.name)
        os.replace(staging, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out)


def run_demo(
    out: str | os.PathLike = "pymc_statmech_report",
    seed: int = 0,
    quick: bool = False,
    console=None,
) -> DemoResult:
    """Run the end-to-end analysis and write its report folder.

    Parameters
    ----------
    out : path
        The report folder; replaced if it exists, only once the new report is complete.
    seed : int
        Seed of the snapshots and of every sampler; same seed, same numbers.
    quick : bool
        200 snapshots and 2 chains of 300 + 300 draws instead of 400 and 1000 + 1000.
    console : rich.console.Console, optional
        Where progress and the summary are printed.

    Returns
    -------
    DemoResult
        ``ok`` is whether the run's own checks passed (R-hat < 1.05 and no sampler divergences
        for J and h, bridge-sampling estimates free of warnings, the information identity and
        the kNN estimator within 4 combined standard errors); ``results`` holds every number.

    Notes
    -----
    The statistics behind the report: exact inverse Ising (log Z by the transfer matrix),
    Meng and Wong's bridge sampling for :math:`F = -\\log p(y)`, and
    :math:`KL(p(\\theta\\mid y)\\,\\|\\,p(\\theta)) = E_{post}[\\log L] - \\log p(y)`
    (Balsubramani 2024, arXiv:2409.18630, for the statistical-mechanics reading).

    Examples
    --------
    >>> from pymc_statmech.demo import run_demo
    >>> result = run_demo("report", quick=True)  # doctest: +SKIP
    >>> result.results["bayes_factor"]["favours"]  # doctest: +SKIP
    'ising'
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = console or Console()
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings.choose(quick)
    start = time.perf_counter()
    # not mkdtemp, whose folder is private (0700): a report gets ordinary permissions
    staging = out.parent / f".{out.name}.partial-{os.getpid()}-{time.time_ns()}"
    staging.mkdir()
    try:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with (
            Progress(*columns, console=console, transient=False) as progress,
            quiet_pymc(),
        ):
            task = progress.add_task("starting", total=8)

            def step(label):
                progress.update(task, description=label, advance=1)

            results, arrays = _analyse(settings, seed, step)
            step("writing the report")
            info, fe = results["information"], results["free_energy"]
            ig, ig_knn = info["information_gain"], info["information_gain_knn"]
            checks = {
                "R-hat < 1.05 for J and h": all(
                    results["posterior"][k]["r_hat"] < 1.05 for k in ("J", "h")
                ),
                "no divergences": results["posterior"]["divergences"] == 0,
                "bridge sampling without warnings": not (
                    fe["ising"]["warnings"] or fe["independent"]["warnings"]
                ),
                "information gain: identity and kNN agree within 4 standard errors": abs(
                    ig["value"] - ig_knn["value"]
                )
                <= 4 * np.hypot(ig["error"], ig_knn["error"]),
            }
            results.update(
                version=reporting.__version__,
                seed=seed,
                quick=quick,
                checks=checks,
                ok=all(checks.values()),
                total_seconds=round(time.perf_counter() - start, 1),
            )
            figures = _figures(staging, results, arrays)
            (staging / "report.md").write_text(_markdown(results, figures), encoding="utf-8")
            (staging / "results.json").write_text(
                json.dumps(results, indent=2, default=_plain), encoding="utf-8"
            )
            _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    bf = results["bayes_factor"]
    pj = results["posterior"]["J"]
    failed = [name for name, good in results["checks"].items() if not good]
    console.print(
        f"\nJ = {pj['mean']:.3f} ± {pj['sd']:.3f} (truth {TRUTH['J']}); log Bayes factor "
        f"Ising vs independent = {_plus_minus(bf['log_bayes_factor'], bf['error'])} "
        f"(favours {bf['favours']}); information gained "
        f"{results['information']['information_gain']['value']:.3f} nats.\n"
        f"Checks: {'all passed' if results['ok'] else 'FAILED: ' + ', '.join(failed)}. "
        f"Report: {out / 'report.md'} ({results['total_seconds']:.0f} s)."
    )
    return DemoResult(ok=results["ok"], out=out, results=results)
