r"""The ``tour`` subcommand: every identity of the exponential-family pillar, checked live.

1. exponential families in natural parameters: :math:`\eta`, the mean parameters
   :math:`\mu = \nabla A(\eta)`, the entropy (checked against :mod:`scipy.stats`) and the Fisher
   information :math:`\nabla^2 A(\eta)`;
2. KL divergences between a ``Natural*`` distribution and PyMC's built-in of the same family,
   computed as the Bregman divergence of :math:`A` and checked against textbook closed forms;
3. exact conjugate log evidence (:func:`pymc_statmech.conjugate_update`), checked against
   quadrature, with its split into expected log-likelihood minus KL(posterior || prior);
4. a small NUTS fit of a Poisson GLM written with :class:`~pymc_statmech.NaturalPoisson`,
   with the moment-matching identity of exponential families checked at the posterior mean.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pymc_statmech import reporting
from pymc_statmech.reporting import quiet_pymc

__all__ = ["run_tour"]


@dataclass
class _Case:
    """One family member of the demo: how to build it and its scipy twin."""

    label: str
    params: str
    stats: str
    make: Callable[[], Any]
    scipy_entropy: Callable[[], float]


def _fmt(value: Any, digits: int = 4) -> str:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):.{digits}g}"
    if arr.ndim == 1:
        return "[" + ", ".join(f"{v:.{digits}g}" for v in arr) + "]"
    return "[" + ", ".join(_fmt(r, digits) for r in arr) + "]"


def _family_cases() -> list[_Case]:
    import pymc as pm
    from scipy import stats

    import pymc_statmech as psm

    def logit(p):
        return float(np.log(p / (1 - p)))

    return [
        _Case(
            "NaturalBernoulli",
            "p = 0.3",
            "x",
            lambda: psm.NaturalBernoulli.dist(eta=logit(0.3)),
            lambda: stats.bernoulli(0.3).entropy(),
        ),
        _Case(
            "NaturalPoisson",
            "rate = 3",
            "x",
            lambda: psm.NaturalPoisson.dist(eta=np.log(3.0)),
            lambda: stats.poisson(3.0).entropy(),
        ),
        _Case(
            "NaturalNegativeBinomial",
            "r = 5, p = 0.6",
            "x",
            lambda: psm.NaturalNegativeBinomial.dist(r=5.0, eta=np.log(0.4)),
            lambda: stats.nbinom(5, 0.6).entropy(),
        ),
        _Case(
            "NaturalExponential",
            "rate = 1.5",
            "x",
            lambda: psm.NaturalExponential.dist(eta=-1.5),
            lambda: stats.expon(scale=1 / 1.5).entropy(),
        ),
        _Case(
            "NaturalNormal",
            "mu = 1, sigma = 2",
            "(x, x^2)",
            lambda: psm.NaturalNormal.dist(eta=[1 / 4, -1 / 8]),
            lambda: stats.norm(1.0, 2.0).entropy(),
        ),
        _Case(
            "pm.Normal (built-in)",
            "mu = 1, sigma = 2",
            "(x, x^2)",
            lambda: pm.Normal.dist(1.0, 2.0),
            lambda: stats.norm(1.0, 2.0).entropy(),
        ),
        _Case(
            "NaturalGamma",
            "alpha = 2, beta = 3",
            "(log x, x)",
            lambda: psm.NaturalGamma.dist(eta=[1.0, -3.0]),
            lambda: stats.gamma(2.0, scale=1 / 3).entropy(),
        ),
        _Case(
            "NaturalBeta",
            "alpha = 2, beta = 5",
            "(log x, log(1-x))",
            lambda: psm.NaturalBeta.dist(eta=[1.0, 4.0]),
            lambda: stats.beta(2.0, 5.0).entropy(),
        ),
        _Case(
            "NaturalVonMises",
            "mu = 0.5, kappa = 2",
            "(cos x, sin x)",
            lambda: psm.NaturalVonMises.dist(eta=[2 * np.cos(0.5), 2 * np.sin(0.5)]),
            lambda: stats.vonmises(2.0, loc=0.5).entropy(),
        ),
        _Case(
            "NaturalInverseGaussian",
            "mu = 1, lambda = 2",
            "(x, 1/x)",
            lambda: psm.NaturalInverseGaussian.dist(eta=[-1.0, -1.0]),
            lambda: stats.invgauss(0.5, scale=2.0).entropy(),
        ),
        _Case(
            "NaturalDirichlet",
            "alpha = (1, 2, 3)",
            "log x",
            lambda: psm.NaturalDirichlet.dist(eta=[0.0, 1.0, 2.0]),
            lambda: stats.dirichlet([1.0, 2.0, 3.0]).entropy(),
        ),
    ]


def _section_families(console, tol: float) -> bool:
    import pytensor
    from rich.markup import escape
    from rich.table import Table

    import pymc_statmech as psm

    cases = _family_cases()
    outputs = []
    for case in cases:
        d = case.make()
        outputs += [
            psm.natural_parameters(d),
            psm.mean_parameters(d),
            psm.entropy(d),
            psm.fisher_information(d),
        ]
    values = pytensor.function([], outputs)()
    params = Table(
        title="1a. Natural and mean parameters",
        caption=escape("mean parameters mu = grad A(eta) = E[T(x)]"),
    )
    for col, just in (
        ("distribution", "left"),
        ("parameters", "left"),
        ("T(x)", "left"),
        ("eta", "right"),
        ("mean parameters", "right"),
    ):
        params.add_column(col, justify=just)
    info = Table(
        title="1b. Entropy (vs scipy.stats) and Fisher information",
        caption=escape("H = A(eta) - <eta, mu> - E[log h(x)];  I(eta) = hess A(eta) = Cov[T(x)]"),
    )
    for col, just in (
        ("distribution", "left"),
        ("entropy (nats)", "right"),
        ("scipy", "right"),
        ("|diff|", "right"),
        ("Fisher information", "right"),
    ):
        info.add_column(col, justify=just)
    ok = True
    for i, case in enumerate(cases):
        eta, mu, h, fisher = values[4 * i : 4 * i + 4]
        ref = float(case.scipy_entropy())
        diff = abs(float(h) - ref)
        good = diff <= tol * max(1.0, abs(ref))
        ok &= good
        params.add_row(case.label, case.params, case.stats, _fmt(eta), _fmt(mu))
        info.add_row(
            case.label,
            f"{float(h):.10f}",
            f"{ref:.10f}",
            f"[{'green' if good else 'red'}]{diff:.1e}[/]",
            _fmt(fisher, 3),
        )
    console.print(params)
    console.print(info)
    return ok


def _section_kl(console, tol: float) -> bool:
    import pymc as pm
    import pytensor
    from rich.markup import escape
    from rich.table import Table
    from scipy.special import betaln, digamma, gammaln

    import pymc_statmech as psm

    def kl_normal(m1, s1, m2, s2):
        return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5

    def kl_poisson(l1, l2):
        return l1 * np.log(l1 / l2) - l1 + l2

    def kl_gamma(a1, b1, a2, b2):  # rates b
        return (
            (a1 - a2) * digamma(a1)
            - gammaln(a1)
            + gammaln(a2)
            + a2 * (np.log(b1) - np.log(b2))
            + a1 * (b2 - b1) / b1
        )

    def kl_beta(a1, b1, a2, b2):
        return (
            betaln(a2, b2)
            - betaln(a1, b1)
            + (a1 - a2) * digamma(a1)
            + (b1 - b2) * digamma(b1)
            + (a2 - a1 + b2 - b1) * digamma(a1 + b1)
        )

    pairs = [
        (
            "NaturalNormal(mu=0, sigma=1)",
            "pm.Normal(1, 2)",
            psm.NaturalNormal.dist(eta=[0.0, -0.5]),
            pm.Normal.dist(1.0, 2.0),
            kl_normal(0.0, 1.0, 1.0, 2.0),
        ),
        (
            "NaturalPoisson(rate=3)",
            "pm.Poisson(2)",
            psm.NaturalPoisson.dist(eta=np.log(3.0)),
            pm.Poisson.dist(2.0),
            kl_poisson(3.0, 2.0),
        ),
        (
            "NaturalGamma(alpha=2, beta=3)",
            "pm.Gamma(alpha=3, beta=2)",
            psm.NaturalGamma.dist(eta=[1.0, -3.0]),
            pm.Gamma.dist(alpha=3.0, beta=2.0),
            kl_gamma(2.0, 3.0, 3.0, 2.0),
        ),
        (
            "NaturalBeta(2, 5)",
            "pm.Beta(3, 3)",
            psm.NaturalBeta.dist(eta=[1.0, 4.0]),
            pm.Beta.dist(3.0, 3.0),
            kl_beta(2.0, 5.0, 3.0, 3.0),
        ),
    ]
    outputs = []
    for _, _, p, q, _ in pairs:
        outputs += [psm.kl_divergence(p, q), psm.kl_divergence(q, p)]
    values = pytensor.function([], outputs)()
    table = Table(
        title="2. KL divergence as the Bregman divergence of A",
        caption=escape(
            "KL(p || q) = A(eta_q) - A(eta_p) - <eta_q - eta_p, grad A(eta_p)>;  "
            "reference: textbook closed form"
        ),
    )
    for col in ("p", "q", "KL(p || q)", "closed form", "|diff|", "KL(q || p)"):
        table.add_column(col, justify="left" if col in ("p", "q") else "right")
    ok = True
    for i, (pl, ql, _, _, ref) in enumerate(pairs):
        kl_pq, kl_qp = (float(v) for v in values[2 * i : 2 * i + 2])
        diff = abs(kl_pq - float(ref))
        good = diff <= tol * max(1.0, abs(float(ref)))
        ok &= good
        table.add_row(
            pl,
            ql,
            f"{kl_pq:.6f}",
            f"{float(ref):.6f}",
            f"[{'green' if good else 'red'}]{diff:.1e}[/]",
            f"{kl_qp:.6f}",
        )
    console.print(table)
    return ok


def _section_conjugate(console, seed: int, tol: float) -> bool:
    r"""Three conjugate pairs: exact log evidence against an independent reference, and the
    free-energy split :math:`\log p(y) = E_{post}[\log L] - KL(post \| prior)`."""
    import pymc as pm
    import pytensor
    from rich.markup import escape
    from rich.table import Table
    from scipy import integrate, stats
    from scipy.special import gammaln

    import pymc_statmech as psm

    update = psm.conjugate_update

    rng = np.random.default_rng(seed)
    n_trials = 10
    y_bin = rng.binomial(n_trials, 0.6, size=5)
    y_poi = rng.poisson(3.0, size=6)
    y_nor = rng.normal(1.0, 1.0, size=5)
    sigma = 1.0

    def log_quad(logf, lower, upper, mode):
        # log of the integral of exp(logf), scaled at the mode so the integrand is O(1).
        peak = logf(mode)
        value, _ = integrate.quad(
            lambda t: np.exp(logf(t) - peak),
            lower,
            upper,
            points=None,
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        return peak + np.log(value)

    cases = []
    # Beta-Binomial: log L(p) = sum log C(n, y) + S log p + (N n - S) log(1 - p).
    prior = pm.Beta.dist(2.0, 2.0)
    res = update(prior, pm.Binomial, y_bin, n=n_trials)
    mu = psm.mean_parameters(res.posterior)
    log_c = float(np.sum(stats.binom.logpmf(y_bin, n_trials, 0.5) - n_trials * np.log(0.5)))
    s = float(y_bin.sum())
    expected_ll = log_c + s * mu[0] + (n_trials * y_bin.size - s) * mu[1]

    def logf_bin(p):
        return stats.beta.logpdf(p, 2, 2) + stats.binom.logpmf(y_bin, n_trials, p).sum()

    p_mode = (s + 1) / (n_trials * y_bin.size + 2)
    cases.append(
        (
            "Beta(2,2) x Binomial(10,p)",
            str(y_bin.tolist()),
            res,
            prior,
            expected_ll,
            lambda: log_quad(logf_bin, 0.0, 1.0, p_mode),
        )
    )
    # Gamma-Poisson: log L(lam) = -sum log y! + S log lam - N lam.
    prior_g = pm.Gamma.dist(alpha=2.0, beta=1.0)
    res_g = update(prior_g, pm.Poisson, y_poi)
    mu_g = psm.mean_parameters(res_g.posterior)
    expected_g = (
        -float(gammaln(y_poi + 1).sum()) + float(y_poi.sum()) * mu_g[0] - y_poi.size * mu_g[1]
    )

    def logf_poi(lam):
        return stats.gamma.logpdf(lam, 2.0, scale=1.0) + stats.poisson.logpmf(y_poi, lam).sum()

    lam_mode = (2.0 + y_poi.sum() - 1) / (1.0 + y_poi.size)
    cases.append(
        (
            "Gamma(2,1) x Poisson(lam)",
            str(y_poi.tolist()),
            res_g,
            prior_g,
            expected_g,
            lambda: log_quad(logf_poi, 0.0, np.inf, lam_mode),
        )
    )
    # Normal-Normal, known sigma: log L(m) = const + S m / s^2 - N m^2 / (2 s^2).
    prior_n = pm.Normal.dist(0.0, 2.0)
    res_n = update(prior_n, pm.Normal, y_nor, sigma=sigma)
    mu_n = psm.mean_parameters(res_n.posterior)
    const = -0.5 * y_nor.size * np.log(2 * np.pi * sigma**2) - np.sum(y_nor**2) / (2 * sigma**2)
    expected_n = const + y_nor.sum() / sigma**2 * mu_n[0] - y_nor.size / (2 * sigma**2) * mu_n[1]
    cov = sigma**2 * np.eye(y_nor.size) + 4.0 * np.ones((y_nor.size, y_nor.size))
    cases.append(
        (
            "Normal(0,2) x Normal(m,1)",
            _fmt(y_nor, 2),
            res_n,
            prior_n,
            expected_n,
            lambda: stats.multivariate_normal(np.zeros(y_nor.size), cov).logpdf(y_nor),
        )
    )

    outputs = []
    for _, _, r, pr, ell, _ in cases:
        outputs += [r.log_evidence, ell, psm.kl_divergence(r.posterior, pr)]
    values = pytensor.function([], outputs)()

    table = Table(
        title="3. Conjugate updates: the exact evidence as a free-energy difference",
        caption_justify="left",
        caption=escape(
            "log p(y) = sum log h(y) + A_prior(chi_post) - A_prior(chi): a free-energy "
            "difference.\nSplit: log p(y) = E_post[log L] - KL(post || prior), i.e. -F = -U + TS;"
            " E_post[log L] from the posterior's mean parameters.\nReference: quadrature over "
            "the parameter (Beta, Gamma), the marginal MvNormal of y (Normal).\nData: "
            + "; ".join(f"{label.split(' x ')[1]} y = {data}" for label, data, *_ in cases)
        ),
    )
    table.add_column("prior x likelihood", no_wrap=True)
    for col in ("log p(y)", "reference", "|diff|", "E_post[log L]", "KL(post||prior)", "E - KL"):
        table.add_column(escape(col), justify="right", no_wrap=True)
    ok = True
    for i, (label, _, _, _, _, reference) in enumerate(cases):
        log_ev, ell, kl = (float(v) for v in values[3 * i : 3 * i + 3])
        ref = float(reference())
        diff = abs(log_ev - ref)
        split_gap = abs(ell - kl - log_ev)
        good = diff <= 1e-7 * max(1.0, abs(ref)) and split_gap <= tol * max(1.0, abs(log_ev))
        ok &= good
        table.add_row(
            label,
            f"{log_ev:.8f}",
            f"{ref:.8f}",
            f"[{'green' if good else 'red'}]{diff:.1e}[/]",
            f"{ell:.6f}",
            f"{kl:.6f}",
            f"{ell - kl:.8f}",
        )
    console.print(table)
    return ok


def _section_nuts(console, seed: int, quick: bool) -> bool:
    import pymc as pm
    from rich.markup import escape
    from rich.table import Table

    import pymc_statmech as psm

    rng = np.random.default_rng(seed)
    n_obs = 100 if quick else 300
    draws = tune = 300 if quick else 1000
    chains = 2
    true = {"intercept": 1.0, "beta[0]": 0.5, "beta[1]": -0.3}
    x = rng.normal(size=(n_obs, 2))
    y = rng.poisson(np.exp(true["intercept"] + x @ np.array([true["beta[0]"], true["beta[1]"]])))
    with pm.Model() as model:
        intercept = pm.Normal("intercept", 0.0, 2.0)
        beta = pm.Normal("beta", 0.0, 1.0, shape=2)
        psm.NaturalPoisson("y", eta=intercept + x @ beta, observed=y)
    start = time.perf_counter()
    with quiet_pymc(), warnings.catch_warnings():
        # Overflow in exp() while NUTS explores its first steps is expected and harmless.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            model=model,
            progressbar=False,
            random_seed=seed,
            compute_convergence_checks=False,
        )
    elapsed = time.perf_counter() - start
    post = idata.posterior
    samples = {
        "intercept": np.asarray(post["intercept"]),
        "beta[0]": np.asarray(post["beta"])[..., 0],
        "beta[1]": np.asarray(post["beta"])[..., 1],
    }
    table = Table(
        title="4. NUTS: a Poisson GLM with psm.NaturalPoisson",
        caption=f"NaturalPoisson('y', eta=a + X @ b): {n_obs} simulated observations,\n"
        f"{chains} chains x {draws} draws after {tune} tuning steps, sampled in {elapsed:.1f} s",
    )
    for col in ("parameter", "true", "posterior mean", "sd", "5%", "95%", "R-hat"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    ok = True
    for name, s in samples.items():
        lo, hi = np.quantile(s, [0.05, 0.95])
        rhat = _split_rhat(s)
        ok &= bool(rhat < 1.05)
        table.add_row(
            name,
            f"{true[name]:.3f}",
            f"{s.mean():.3f}",
            f"{s.std():.3f}",
            f"{lo:.3f}",
            f"{hi:.3f}",
            f"{rhat:.3f}",
        )
    console.print(table)
    # Moment matching: at the maximum-likelihood point of an exponential family the observed
    # sufficient statistics equal their expectation (grad A = E[T]). With weak priors and this
    # much data, the posterior mean sits close to that point.
    a_hat = samples["intercept"].mean()
    b_hat = np.array([samples["beta[0]"].mean(), samples["beta[1]"].mean()])
    design = np.column_stack([np.ones(n_obs), x])
    observed = design.T @ y
    expected = design.T @ np.exp(a_hat + x @ b_hat)
    moments = Table(
        title="Moment matching at the posterior mean (the max-ent constraint of the GLM)",
        caption=escape(
            "score equations: X^T y = X^T grad A(eta) = X^T exp(a + X b) at the maximum "
            "likelihood point"
        ),
    )
    for col in ("statistic", "observed X^T y", "expected X^T E[y]", "relative gap"):
        moments.add_column(escape(col), justify="left" if col == "statistic" else "right")
    for label, o, e in zip(("sum y", "sum x1 y", "sum x2 y"), observed, expected, strict=True):
        moments.add_row(label, f"{o:.2f}", f"{e:.2f}", f"{abs(o - e) / max(abs(o), 1.0):.1e}")
    console.print(moments)
    return ok


def _split_rhat(samples: np.ndarray) -> float:
    """Split-chain potential scale reduction (Gelman et al., BDA3) of ``(chain, draw)`` samples."""
    n = samples.shape[1] // 2
    halves = np.concatenate([samples[:, :n], samples[:, n : 2 * n]], axis=0)
    within = halves.var(axis=1, ddof=1).mean()
    between = n * halves.mean(axis=1).var(ddof=1)
    var_plus = (n - 1) / n * within + between / n
    return float(np.sqrt(var_plus / within))


def run_tour(seed: int = 0, quick: bool = False, console=None) -> bool:
    """Run the tour of checks and print it.

    Parameters
    ----------
    seed : int
        Seed of the simulated data and of ``pm.sample``.
    quick : bool
        A smaller data set and shorter chains.
    console : rich.console.Console, optional
        Where to print; a new console on standard output when ``None``.

    Returns
    -------
    bool
        Whether every check passed (entropies and KL divergences match their references,
        R-hat < 1.05).
    """
    from rich.markup import escape
    from rich.panel import Panel

    console = console or reporting.console()
    t0 = time.perf_counter()
    console.print(
        Panel(
            escape(
                "An exponential family p(x) = h(x) exp(<eta, T(x)> - A(eta)) is the "
                "maximum-entropy distribution with E[T(x)] fixed; eta are the Lagrange "
                "multipliers and A(eta) the free energy. Every quantity below is derived from A "
                "by PyTensor (gradients and Hessians of one expression), then checked against "
                "an independent reference."
            ),
            title=(
                f"pymc_statmech {reporting.__version__} tour "
                f"(seed {seed}{', quick' if quick else ''})"
            ),
        )
    )
    tol = 1e-8
    checks = {}
    sections: list[tuple[str, Callable[[], bool]]] = [
        ("entropy vs scipy", lambda: _section_families(console, tol)),
        ("KL vs closed form", lambda: _section_kl(console, tol)),
        ("conjugate evidence", lambda: _section_conjugate(console, seed, tol)),
        ("NUTS R-hat < 1.05", lambda: _section_nuts(console, seed, quick)),
    ]
    for name, section in sections:
        start = time.perf_counter()
        checks[name] = section()
        console.print(f"[dim]   ({time.perf_counter() - start:.1f} s)[/]\n")
    ok = all(checks.values())
    summary = ", ".join(
        f"{name}: {'[green]ok[/]' if good else '[red]FAILED[/]'}" for name, good in checks.items()
    )
    console.print(f"Checks: {summary}.  Total {time.perf_counter() - t0:.1f} s.")
    return ok
