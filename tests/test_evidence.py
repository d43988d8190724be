"""The evidence as a free energy, against analytic evidences.

References: the conjugate evidences of ``psm`` (themselves checked against quadrature in
test_conjugate.py) and direct Gaussian formulas via scipy. Tolerances: bridge within
max(0.02, 3 x its reported error), stepping-stone and corrected TI within 0.05 nats (the issue's
acceptance figures); estimator-only tests use exact draws so their error is known.
"""

import warnings

import cloudpickle
import numpy as np
import pymc as pm
import pytest
import scipy.stats
import xarray as xr
from scipy.special import betaln, gammaln, logsumexp

import pymc_statmech as psm
from pymc_statmech._data import effective_sample_size
from pymc_statmech.evidence.estimators import EvidenceWarning
from pymc_statmech.evidence.tempering import BETA_DATA, tempered_model

RNG = np.random.default_rng(20261125)
SAMPLE = {"progressbar": False, "compute_convergence_checks": False}

# -- the analytic models --

Y_NORMAL = RNG.normal(1.0, 1.0, size=20)
SIGMA0, SIGMA = 2.0, 1.0

X_REG = RNG.normal(size=(30, 3))
W_TRUE = np.array([0.5, -1.0, 2.0])
Y_REG = X_REG @ W_TRUE + RNG.normal(0, 0.5, size=30)
TAU, NOISE = 1.5, 0.5

N_TRIALS, K_SUCCESS, A_BETA, B_BETA = 40, 29, 2.0, 3.0

D10 = 10
_A = RNG.normal(size=(D10, D10))
COV0 = _A @ _A.T / D10 + 0.5 * np.eye(D10)
_B = RNG.normal(size=(D10, D10))
COV_L = _B @ _B.T / D10 + 0.3 * np.eye(D10)
Y10 = RNG.multivariate_normal(np.zeros(D10), COV0 + COV_L)


def normal_model():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, SIGMA0)
        pm.Normal("y", mu, SIGMA, observed=Y_NORMAL)
    exact = float(psm.normal_normal(0.0, SIGMA0, Y_NORMAL, sigma=SIGMA).log_evidence.eval())
    return model, exact


def regression_model():
    with pm.Model() as model:
        w = pm.Normal("w", 0.0, TAU, shape=3)
        pm.Normal("y", pm.math.dot(X_REG, w), NOISE, observed=Y_REG)
    cov = NOISE**2 * np.eye(len(Y_REG)) + TAU**2 * X_REG @ X_REG.T
    return model, float(scipy.stats.multivariate_normal(np.zeros(len(Y_REG)), cov).logpdf(Y_REG))


def beta_binomial_model():
    with pm.Model() as model:
        p = pm.Beta("p", A_BETA, B_BETA)
        pm.Binomial("k", N_TRIALS, p, observed=K_SUCCESS)
    exact = float(psm.beta_binomial(A_BETA, B_BETA, K_SUCCESS, n=N_TRIALS).log_evidence.eval())
    # the direct formula, so the reference does not rest on one implementation
    direct = (
        gammaln(N_TRIALS + 1)
        - gammaln(K_SUCCESS + 1)
        - gammaln(N_TRIALS - K_SUCCESS + 1)
        + betaln(K_SUCCESS + A_BETA, N_TRIALS - K_SUCCESS + B_BETA)
        - betaln(A_BETA, B_BETA)
    )
    assert exact == pytest.approx(direct, abs=1e-10)
    return model, exact


def gaussian10_model():
    with pm.Model() as model:
        theta = pm.MvNormal("theta", np.zeros(D10), cov=COV0)
        pm.MvNormal("y", theta, cov=COV_L, observed=Y10)
    exact = float(scipy.stats.multivariate_normal(np.zeros(D10), COV0 + COV_L).logpdf(Y10))
    return model, exact


MODELS = {
    "normal_mean": normal_model,
    "regression": regression_model,
    "beta_binomial": beta_binomial_model,
    "gaussian_10d": gaussian10_model,
}


@pytest.fixture(scope="module", params=list(MODELS))
def sampled(request):
    model, exact = MODELS[request.param]()
    with model:
        idata = pm.sample(1000, tune=1000, chains=4, random_seed=11, **SAMPLE)
    return model, exact, idata


def test_bridge_matches_analytic_evidence(sampled):
    model, exact, idata = sampled
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)
        result = psm.free_energy(idata, model, random_seed=3)
    assert result.method == "bridge"
    assert 0 < result.error < 0.02
    assert abs(result.log_evidence - exact) < max(0.02, 3 * result.error)
    assert result.free_energy == -result.log_evidence
    # F = U + KL, and the per-chain estimates are there and agree
    assert result.free_energy == pytest.approx(result.energy + result.kl, abs=1e-12)
    assert result.kl > 0
    assert result.per_chain.shape == (4,)


def test_information_gain_identity_on_normal_mean():
    """KL(post || prior) of the conjugate normal model in closed form vs F - U."""
    model, _ = normal_model()
    with model:
        idata = pm.sample(1000, tune=500, chains=2, random_seed=5, **SAMPLE)
    result = psm.free_energy(idata, model, random_seed=1, check_prior=False)
    n = len(Y_NORMAL)
    post_var = 1 / (1 / SIGMA0**2 + n / SIGMA**2)
    post_mean = post_var * Y_NORMAL.sum() / SIGMA**2
    kl = 0.5 * (post_var / SIGMA0**2 + post_mean**2 / SIGMA0**2 - 1 - np.log(post_var / SIGMA0**2))
    assert abs(result.kl - kl) < 4 * result.kl_error


def test_laplace_is_exact_for_a_gaussian_posterior():
    model, exact = gaussian10_model()
    result = psm.free_energy(None, model, method="laplace")
    assert result.log_evidence == pytest.approx(exact, abs=1e-6)
    assert not result.is_estimate and np.isnan(result.error)


# -- ladder estimators on exact power-posterior draws --


def _exact_ladder(betas, n_draws, seed, chains=2):
    """Exact draws from the power posteriors of the normal-mean model (Gaussian at every beta)."""
    rng = np.random.default_rng(seed)
    n, s = len(Y_NORMAL), Y_NORMAL.sum()
    precision = 1 / SIGMA0**2 + betas * n / SIGMA**2
    mean = betas * s / SIGMA**2 / precision
    mu = (
        mean[:, None, None]
        + rng.standard_normal((len(betas), chains, n_draws)) / np.sqrt(precision)[:, None, None]
    )
    log_likelihood = scipy.stats.norm(mu[..., None], SIGMA).logpdf(Y_NORMAL).sum(-1)
    tempering = xr.Dataset(
        {"log_likelihood": (("beta", "chain", "draw"), log_likelihood)},
        coords={"beta": betas},
        attrs={"exact_prior_rung": 1},
    )
    return xr.DataTree.from_dict({"tempering": tempering})


@pytest.mark.parametrize("method", ["stepping_stone", "ti"])
def test_ladder_estimators_on_exact_draws(method):
    _, exact = normal_model()
    tree = _exact_ladder(psm.default_ladder(32), 2000, seed=1)
    result = psm.free_energy(tree, method=method)
    assert abs(result.log_evidence - exact) < 0.05
    assert abs(result.log_evidence - exact) < 4 * result.error + 0.01
    assert result.curve.beta.shape == (32,)


def test_ti_correction_fixes_the_coarse_ladder():
    """On 6 rungs the plain trapezoid is off by more than 0.1 nats; the Friel-Hurn-Wyse correction
    removes most of it (the issue measured the plain rule 1.4 nats off on coarse ladders)."""
    _, exact = normal_model()
    tree = _exact_ladder(psm.default_ladder(6), 20000, seed=2)
    result = psm.free_energy(tree, method="ti")
    plain_error = abs(result.diagnostics["plain_trapezoid"] - exact)
    assert plain_error > 0.1
    assert abs(result.log_evidence - exact) < plain_error / 3


def test_error_estimates_are_honest_on_exact_ladders():
    """The spread of independent stepping-stone estimates matches the reported error."""
    results = [
        psm.free_energy(_exact_ladder(psm.default_ladder(16), 300, seed=s), method="stepping_stone")
        for s in range(40)
    ]
    estimates = np.array([r.log_evidence for r in results])
    reported = np.mean([r.error for r in results])
    # the sample sd of 40 estimates is within about +-25% of the truth (chi-square, 3 sigma)
    assert 0.7 < estimates.std(ddof=1) / reported < 1.4


Y_CAUCHY = np.random.default_rng(7).normal(2.0, 1.0, size=10)


def _cauchy_prior_ladder(betas, n_draws, seed, chains=2):
    """theta ~ Cauchy(0, 1), y_i ~ N(theta, 1): exact power-posterior draws by rejection from
    the prior (accept with probability (L / L_max)^beta). Under the prior -log L grows like
    theta^2, whose tail has Pareto k = 2: E_0[log L] is -infinite."""
    rng = np.random.default_rng(seed)
    n, ybar = Y_CAUCHY.size, Y_CAUCHY.mean()
    rungs = []
    for beta in betas:
        kept = np.empty(0)
        while kept.size < chains * n_draws:
            theta = rng.standard_cauchy(200_000)
            accept = rng.random(theta.size) < np.exp(-beta * n * (theta - ybar) ** 2 / 2)
            kept = np.r_[kept, theta[accept]]
        rungs.append(kept[: chains * n_draws].reshape(chains, n_draws))
    theta = np.array(rungs)
    log_likelihood = scipy.stats.norm(theta[..., None], 1.0).logpdf(Y_CAUCHY).sum(-1)
    tempering = xr.Dataset(
        {"log_likelihood": (("beta", "chain", "draw"), log_likelihood)},
        coords={"beta": betas},
        attrs={"exact_prior_rung": 1},
    )
    nodes, weights = _gauss_legendre(-50, 50, 400)
    log_joint = (
        scipy.stats.norm(nodes[:, None], 1.0).logpdf(Y_CAUCHY).sum(-1)
        + scipy.stats.cauchy.logpdf(nodes)
        + np.log(weights)
    )
    # prior mass beyond +-50 times the largest likelihood there
    tail = np.log(2 * scipy.stats.cauchy.sf(50)) + scipy.stats.norm(50, 1).logpdf(Y_CAUCHY).sum()
    return xr.DataTree.from_dict({"tempering": tempering}), float(logsumexp(log_joint)), tail


def test_ti_with_a_heavy_tailed_prior_is_right():
    """With E_0[log L] infinite the trapezoid's first interval is undefined (its sample mean and
    the Friel-Hurn-Wyse correction are whatever the largest prior draw makes them); the first
    interval becomes the exact ratio log E_0[L^beta_1]."""
    tree, exact, tail = _cauchy_prior_ladder(psm.default_ladder(16), 2000, seed=3)
    assert tail < exact - 1000  # the quadrature's truncation is negligible
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = psm.free_energy(tree, method="ti")
    # no blame on modes (the per-chain estimates used to disagree through the prior rung's tail)
    assert not [w for w in record if "modes" in str(w.message)]
    assert result.diagnostics["prior_tail_k"] > 1
    assert result.diagnostics["first_interval"] == "stepping-stone"
    assert abs(result.log_evidence - exact) < 3 * result.error
    assert result.error > result.diagnostics["monte_carlo_error"]  # discretisation included
    stepping = psm.free_energy(tree, method="stepping_stone")
    assert abs(stepping.log_evidence - exact) < 3 * stepping.error


# -- power posteriors end to end --


@pytest.fixture(scope="module")
def beta_binomial_ladder():
    model, exact = beta_binomial_model()
    tree = psm.sample_power_posteriors(
        model, betas=16, draws=1000, tune=500, chains=2, random_seed=7, progressbar=False
    )
    return model, exact, tree


def test_power_posteriors_match_analytic_evidence(beta_binomial_ladder):
    _, exact, tree = beta_binomial_ladder
    assert tree["tempering"].attrs["exact_prior_rung"] == 1
    assert tree["posterior"]["p"].dims == ("beta", "chain", "draw")
    for method in ("stepping_stone", "ti"):
        result = psm.free_energy(tree, method=method)
        assert abs(result.log_evidence - exact) < 0.05, method
    assert psm.free_energy(tree).method == "stepping_stone"


def test_power_posterior_rungs_have_the_tempered_mean(beta_binomial_ladder):
    """At beta the power posterior is Beta(a + beta k, b + beta (n - k)): the sampled mean agrees
    within 4 MCSE on every rung (so each rung really sampled its own beta)."""
    _, _, tree = beta_binomial_ladder
    p = tree["posterior"]["p"]
    for beta in p["beta"].values:
        draws = p.sel(beta=beta).values
        a, b = A_BETA + beta * K_SUCCESS, B_BETA + beta * (N_TRIALS - K_SUCCESS)
        ess = effective_sample_size(draws.ravel(), draws.shape[0])
        assert abs(draws.mean() - a / (a + b)) < 4 * draws.std() / np.sqrt(ess), beta


def test_log_likelihood_includes_potentials():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        pm.Normal("y", mu, 1, observed=[0.5, 1.5])
        pm.Potential("soft", -0.5 * (mu - 2.0) ** 2)
    tree = psm.sample_power_posteriors(
        model, betas=[0.0, 0.5, 1.0], draws=50, tune=50, random_seed=1, progressbar=False
    )
    mu = tree["posterior"]["mu"].values
    expected = scipy.stats.norm(mu[..., None], 1).logpdf([0.5, 1.5]).sum(-1) - 0.5 * (mu - 2.0) ** 2
    np.testing.assert_allclose(tree["tempering"]["log_likelihood"].values, expected, rtol=1e-12)


def test_beta_travels_with_a_pickled_model():
    """beta is a pm.Data inside the model: a pickled copy set to beta = 0.25 evaluates
    log p + 0.25 log L (a shared variable sent beside the model would be copied and stay 1)."""
    model, _ = normal_model()
    copy = cloudpickle.loads(cloudpickle.dumps(tempered_model(model)))
    with copy:
        pm.set_data({BETA_DATA: 0.25})
    point = {"mu": 0.7}
    logp = copy.compile_logp()(point)
    # the untempered model's own terms (scipy agrees only to PyMC's float32 constants, ~1e-9)
    log_prior = model.compile_logp(vars=model.free_RVs)(point)
    log_likelihood = model.compile_logp(vars=model.observed_RVs)(point)
    assert logp == pytest.approx(log_prior + 0.25 * log_likelihood, rel=1e-13)
    assert log_likelihood == pytest.approx(
        scipy.stats.norm(0.7, SIGMA).logpdf(Y_NORMAL).sum(), rel=1e-8
    )


@pytest.mark.slow
def test_dask_executor_gives_the_sequential_numbers():
    import distributed  # a test dependency (pyproject [test]): never skipped

    model, _ = normal_model()
    kwargs = {
        "betas": 3,
        "draws": 100,
        "tune": 100,
        "chains": 2,
        "random_seed": 9,
        "progressbar": False,
    }
    sequential = psm.sample_power_posteriors(model, **kwargs, cores=1)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        parallel = psm.sample_power_posteriors(model, **kwargs, executor=client.get_executor())
    # the same seeds give the same draws, to rounding: with cold compile caches the worker's
    # freshly compiled functions differed from the parent's by 4e-10 relative (measured)
    xr.testing.assert_allclose(
        sequential["tempering"].to_dataset(), parallel["tempering"].to_dataset(), rtol=1e-7
    )


# -- SMC and WBIC --


def test_smc_reads_sample_smc_output():
    model, exact = normal_model()
    with model:
        smc = pm.sample_smc(1000, chains=4, random_seed=2, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)
        result = psm.free_energy(smc, model)
    assert result.method == "smc" and result.per_chain.shape == (4,)
    assert abs(result.log_evidence - exact) < max(0.05, 4 * result.error)
    assert np.isfinite(result.energy)
    check = result.diagnostics["bridge_on_particles"]
    assert abs(check["log_evidence"] - exact) < max(0.05, 4 * check["error"])
    assert "not a full error bar" in repr(result)
    # stage ratios that do not match the particles (a run that missed the posterior)
    stats = smc["sample_stats"].to_dataset()
    shifted = stats["log_marginal_likelihood"].copy()
    shifted.values = np.array(
        [[np.asarray(stage, dtype=float) + 3.0 for stage in row] for row in shifted.values],
        dtype=object,
    )
    smc["sample_stats"] = stats.assign(log_marginal_likelihood=shifted)
    with pytest.warns(EvidenceWarning, match="bridge sampling on its own final particles"):
        psm.free_energy(smc, model)


def test_wbic_is_the_tempered_mean_energy():
    """At beta* = 1/log n the power posterior of the normal-mean model is Gaussian, so
    E_beta*[-log L] is known in closed form; WBIC must match it within 4 MCSE."""
    model, _ = normal_model()
    result = psm.free_energy(
        model=model,
        method="wbic",
        draws=1000,
        tune=500,
        chains=2,
        random_seed=4,
        progressbar=False,
        compute_convergence_checks=False,
    )
    n = len(Y_NORMAL)
    beta = 1 / np.log(n)
    precision = 1 / SIGMA0**2 + beta * n / SIGMA**2
    mean = beta * Y_NORMAL.sum() / SIGMA**2 / precision
    expected = (
        0.5 * n * np.log(2 * np.pi * SIGMA**2)
        + 0.5 * (np.sum((Y_NORMAL - mean) ** 2) + n / precision) / SIGMA**2
    )
    assert result.diagnostics["beta"] == pytest.approx(beta)
    assert abs(result.free_energy - expected) < 4 * result.error
    assert not result.is_estimate


# -- the mode-trapping guard --

MODE, MODE_SD, PRIOR_SD = 3.0, 0.3, 5.0


def bimodal_model():
    """Likelihood 0.7 N(theta; -3, 0.3) + 0.3 N(theta; 3, 0.3) as a Potential, prior N(0, 5):
    the posterior has two modes that NUTS never crosses, holding 0.7 and 0.3 of the mass."""
    with pm.Model() as model:
        theta = pm.Normal("theta", 0.0, PRIOR_SD)
        components = pm.math.stack(
            [
                np.log(0.7) + pm.logp(pm.Normal.dist(-MODE, MODE_SD), theta),
                np.log(0.3) + pm.logp(pm.Normal.dist(MODE, MODE_SD), theta),
            ]
        )
        pm.Potential("mixture", pm.math.logsumexp(components))
    marginal = scipy.stats.norm(0, np.hypot(PRIOR_SD, MODE_SD))
    exact = np.log(0.7 * marginal.pdf(-MODE) + 0.3 * marginal.pdf(MODE))
    return model, float(exact)


def test_guard_catches_all_chains_in_one_mode():
    model, exact = bimodal_model()
    with model:
        idata = pm.sample(
            1000, tune=500, chains=4, initvals=[{"theta": -MODE}] * 4, random_seed=3, **SAMPLE
        )
    assert (idata["posterior"]["theta"].values < 0).all()
    with pytest.warns(EvidenceWarning, match="never visited"):
        result = psm.free_energy(idata, model, random_seed=1)
    # the trapped estimate is log 0.7 too low, far outside its own error: hence the guard
    assert result.log_evidence - exact == pytest.approx(np.log(0.7), abs=0.02)
    assert result.diagnostics["prior_importance"]["log_evidence"] == pytest.approx(exact, abs=0.1)


def test_guard_catches_chains_in_different_modes():
    model, _ = bimodal_model()
    starts = [{"theta": -MODE}, {"theta": -MODE}, {"theta": MODE}, {"theta": -MODE}]
    with model:
        idata = pm.sample(500, tune=300, chains=4, initvals=starts, random_seed=3, **SAMPLE)
    with pytest.warns(EvidenceWarning, match="disagree beyond their errors"):
        psm.free_energy(idata, model, random_seed=1, check_prior=False)


# -- label switching: exchangeable mixture components --

MIX_Y = np.r_[
    np.random.default_rng(3).normal(-1.5, 1, 30), np.random.default_rng(4).normal(1.5, 1, 30)
]
MIX_PRIOR_SD = 3.0


def _gauss_legendre(a, b, panels, order=10):
    """Nodes and weights of composite Gauss-Legendre quadrature on [a, b]."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    half = np.diff(edges)[:, None] / 2
    return (edges[:-1, None] + half * (x + 1)).ravel(), (half * w).ravel()


def exchangeable_mixture_model(ordered=False):
    """Two unit-variance components with equal weights and exchangeable N(0, 3^2) means: the
    posterior has two mirror-image modes (mu swapped) that NUTS does not cross. Reference: the
    2-D integral over the means by composite Gauss-Legendre quadrature on [-10, 10]^2 (800
    nodes a side; 1600 give the same 14 digits), in log space. ``ordered``: the means with an
    ordered transform (and an initval), whose prior keeps half the mass: log 2 less."""
    kwargs = (
        {"transform": pm.distributions.transforms.ordered, "initval": np.array([-1.0, 1.0])}
        if ordered
        else {}
    )
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, MIX_PRIOR_SD, shape=2, **kwargs)
        pm.NormalMixture("y", w=np.array([0.5, 0.5]), mu=mu, sigma=1.0, observed=MIX_Y)
    nodes, weights = _gauss_legendre(-10, 10, 80)
    log_density = scipy.stats.norm(nodes[:, None], 1).logpdf(MIX_Y)
    log_like = sum(np.logaddexp.outer(column, column) for column in log_density.T)
    log_prior = scipy.stats.norm(0, MIX_PRIOR_SD).logpdf(nodes) + np.log(weights)
    total = log_like + MIX_Y.size * np.log(0.5) + log_prior[:, None] + log_prior[None, :]
    return model, float(logsumexp(total)) - (np.log(2) if ordered else 0.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "labellings", [[(-1.5, 1.5)] * 4, [(-1.5, 1.5), (1.5, -1.5)] * 2], ids=["one", "both"]
)
def test_bridge_averages_its_proposal_over_the_labellings(labellings):
    """All chains in one labelling (a plain Gaussian proposal then gives log Z - log 2, about
    150 of its errors off), or half the chains in each: the same evidence either way."""
    model, exact = exchangeable_mixture_model()
    with model:
        idata = pm.sample(
            1000,
            tune=1000,
            chains=4,
            initvals=[{"mu": np.array(start)} for start in labellings],
            random_seed=2,
            **SAMPLE,
        )
    mu0 = idata["posterior"]["mu"].values[..., 0].mean(axis=1)
    assert np.all(np.sign(mu0) == [np.sign(start[0]) for start in labellings])
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)
        result = psm.free_energy(idata, model, random_seed=1)
    assert result.diagnostics["symmetry"] == "2 labellings of the 2 components of mu"
    assert "label symmetry" in repr(result)
    assert abs(result.log_evidence - exact) < 3 * result.error


def test_ordered_components_are_not_a_symmetry():
    """An ordered transform leaves the support under relabelling: no symmetrised proposal."""
    from pymc_statmech.evidence.estimators import _find_relabelling
    from pymc_statmech.model_terms import ModelTerms

    ordered, _ = exchangeable_mixture_model(ordered=True)
    with pm.Model() as regression:  # a coefficient vector is tied to its columns
        w = pm.Normal("w", 0.0, TAU, shape=3)
        pm.Normal("y", pm.math.dot(X_REG, w), NOISE, observed=Y_REG)
    exchangeable, _ = exchangeable_mixture_model()
    with pm.Model() as bivariate:  # components on the first axis of a (K, 2) mean
        w = pm.Dirichlet("w", np.ones(2))
        mu = pm.Normal("mu", 0.0, 3.0, shape=(2, 2))
        scale = pm.HalfNormal("scale", 1.0)
        components = [pm.MvNormal.dist(mu[k], scale * np.eye(2)) for k in range(2)]
        pm.Mixture("y", w, components, observed=RNG.normal(size=(20, 2)))
    for model, found in (
        (ordered, None),
        (regression, None),
        (exchangeable, {"mu": 0}),
        (bivariate, {"w": 0, "mu": 0}),
    ):
        terms = ModelTerms(model)
        theta = np.random.default_rng(0).normal(size=(8, terms.dim))
        theta[:, 0] -= 2.0  # away from the mirror line (and ordered for the ordered model)
        relabelling = _find_relabelling(terms, theta)
        assert (None if relabelling is None else relabelling.axes) == found


@pytest.mark.slow
def test_ordered_components_with_initvals_on_a_ladder_and_a_bridge():
    """transform=ordered with initval: the ladder used to fail in clone_model, and its prior rung
    drew unordered vectors. The model's prior keeps half the mass of the exchangeable one, so
    its evidence is the exchangeable evidence minus log 2, for every method."""
    model, exact = exchangeable_mixture_model(ordered=True)
    with model:
        idata = pm.sample(1000, tune=1000, chains=4, random_seed=2, **SAMPLE)
    tree = psm.sample_power_posteriors(
        model, betas=12, draws=500, tune=500, random_seed=1, progressbar=False
    )
    assert tree["tempering"].attrs["exact_prior_rung"] == 1
    mass = np.exp(tree["tempering"].attrs["log_prior_mass"])
    assert abs(mass - 0.5) < 4 * 0.5 * tree["tempering"].attrs["log_prior_mass_error"]
    for data, method in ((idata, "bridge"), (tree, "stepping_stone"), (tree, "ti")):
        with pytest.warns(EvidenceWarning, match="prior integrates to"):
            result = psm.free_energy(data, model, method=method, random_seed=1)
        assert abs(result.log_evidence - exact) < 3 * result.error, method
        assert "prior mass" in repr(result)


# -- the centred eight schools: a funnel --

SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])  # Rubin (1981)
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_evidence():
    """log p(y) with the school effects integrated out (y_j ~ N(mu, sigma_j^2 + tau^2)): a 2-D
    integral over mu ~ N(0, 5^2) and tau ~ HalfCauchy(5), the latter through its quantile
    function tau = 5 tan(pi u / 2) so that u is uniform; composite Gauss-Legendre (400 nodes a
    side; scipy's dblquad at epsrel 1e-10 agrees to 14 digits)."""
    u, u_weights = _gauss_legendre(0, 1, 40)
    tau = 5 * np.tan(np.pi * u / 2)
    mu, mu_weights = _gauss_legendre(-40, 40, 40)
    scale = np.hypot(SCHOOLS_SIGMA, tau[:, None])[:, None, :]
    log_like = scipy.stats.norm.logpdf(SCHOOLS_Y, mu[None, :, None], scale).sum(axis=-1)
    log_prior_mu = scipy.stats.norm(0, 5).logpdf(mu) + np.log(mu_weights)
    return float(logsumexp(log_like + np.log(u_weights)[:, None] + log_prior_mu[None, :]))


@pytest.mark.slow
def test_divergences_in_a_funnel_are_named():
    """The centred parameterisation diverges in the funnel's neck and its bridge estimate is
    biased; the warning must name the divergences, the non-centred model (same evidence) must
    be right and quiet."""
    exact = eight_schools_evidence()
    with pm.Model() as centred:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        theta = pm.Normal("theta", mu, tau, shape=8)
        pm.Normal("y", theta, SCHOOLS_SIGMA, observed=SCHOOLS_Y)
        idata = pm.sample(1000, tune=1000, chains=4, random_seed=1, **SAMPLE)
    assert int(idata["sample_stats"]["diverging"].sum()) > 0
    with pytest.warns(EvidenceWarning, match="divergent transitions") as record:
        result = psm.free_energy(idata, centred, random_seed=1)
    assert not any(
        "different modes" in str(w.message) for w in record if "R-hat" not in str(w.message)
    )
    assert result.diagnostics["divergences"] > 0 and "divergences" in repr(result)
    with pm.Model() as non_centred:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        z = pm.Normal("z", 0, 1, shape=8)
        pm.Normal("y", mu + tau * z, SCHOOLS_SIGMA, observed=SCHOOLS_Y)
        idata = pm.sample(1000, tune=1000, chains=4, random_seed=1, target_accept=0.95, **SAMPLE)
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)
        result = psm.free_energy(idata, non_centred, random_seed=1)
    assert result.diagnostics["divergences"] == 0
    assert abs(result.log_evidence - exact) < 3 * result.error


# -- results and bad input --


def test_free_energy_result_repr_plot_and_bayes_factor():
    import matplotlib

    matplotlib.use("Agg")
    tree = _exact_ladder(psm.default_ladder(8), 200, seed=3)
    result = psm.free_energy(tree, method="stepping_stone")
    text = repr(result)
    assert "stepping-stone" in text and "KL(post || prior)" in text
    curve_axis, chain_axis = result.plot()
    assert len(curve_axis.lines) == 1 and len(chain_axis.lines) >= 1
    other = psm.FreeEnergy("bridge", log_evidence=result.log_evidence - 1.0, error=0.03)
    factor = psm.bayes_factor(result, other)
    assert factor.log_bayes_factor == pytest.approx(1.0)
    assert factor.error == pytest.approx(np.hypot(result.error, 0.03))
    with pytest.raises(ValueError, match="not an evidence estimate"):
        psm.bayes_factor(result, psm.FreeEnergy("wbic", -3.0, 0.1))


def test_bad_input_is_named():
    model, _ = normal_model()
    posterior = xr.Dataset({"mu": (("chain", "draw"), RNG.normal(size=(2, 50)))})
    tree = xr.DataTree.from_dict({"posterior": posterior})
    with pytest.raises(ValueError, match="method must be one of"):
        psm.free_energy(tree, model, method="harmonic_mean")
    with pytest.raises(ValueError, match="needs the model"):
        psm.free_energy(tree)
    with pytest.raises(ValueError, match="no 'tempering' group"):
        psm.free_energy(tree, method="ti")
    wrong = xr.DataTree.from_dict({"posterior": posterior.rename(mu="sigma")})
    with pytest.raises(ValueError, match=r"free variables \['mu'\] are not in the 'posterior'"):
        psm.free_energy(wrong, model)
    shaped = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"mu": (("chain", "draw", "k"), RNG.normal(size=(2, 50, 3)))})}
    )
    with pytest.raises(ValueError, match="do not come from this model"):
        psm.free_energy(shaped, model)
    ladder = _exact_ladder(psm.default_ladder(4), 20, seed=1)
    ladder["tempering"]["log_likelihood"][1, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN at 1 of"):
        psm.free_energy(ladder, method="stepping_stone")
    with pytest.raises(ValueError, match="increase strictly"):
        psm.sample_power_posteriors(model, betas=[0.0, 0.7, 0.5, 1.0])
    with pytest.raises(ValueError, match="no observed variables and no Potentials"):
        with pm.Model() as empty:
            pm.Normal("a")
        psm.free_energy(tree, empty)


def test_single_chain_warns_that_the_chain_check_is_impossible():
    model, exact = normal_model()
    with model:
        idata = pm.sample(600, tune=300, chains=1, random_seed=2, **SAMPLE)
    with pytest.warns(EvidenceWarning, match="Only one chain"):
        result = psm.free_energy(idata, model, random_seed=1)
    assert abs(result.log_evidence - exact) < max(0.02, 3 * result.error)


def test_smc_with_chains_of_different_stage_counts():
    """pm.sample_smc stores one NaN-padded entry per stage; chains with different numbers of
    stages arrive as lists. The last finite value of each chain is its estimate."""
    stages = np.empty(3, dtype=object)
    stages[:] = [[np.nan, np.nan, -4.1], [np.nan, -4.0], [np.nan, np.nan, np.nan, -4.2]]
    stats = xr.Dataset({"log_marginal_likelihood": (("chain",), stages)})
    result = psm.free_energy(xr.DataTree.from_dict({"sample_stats": stats}), method="smc")
    np.testing.assert_array_equal(result.per_chain, [-4.1, -4.0, -4.2])
    assert result.log_evidence == pytest.approx(np.log(np.mean(np.exp([-4.1, -4.0, -4.2]))))
    assert result.error == pytest.approx(np.std([-4.1, -4.0, -4.2], ddof=1) / np.sqrt(3))


def test_a_variable_called_beta_does_not_clash_with_the_ladder():
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 1)
        pm.Normal("y", beta, 1, observed=[0.2, 0.4])
    tree = psm.sample_power_posteriors(
        model, betas=3, draws=20, tune=20, random_seed=1, progressbar=False
    )
    posterior = tree["posterior"]
    assert posterior.attrs["ladder_dim"] == "tempering_beta"
    assert posterior["beta"].dims == ("tempering_beta", "chain", "draw")
    assert tree["tempering"]["log_likelihood"].dims == ("beta", "chain", "draw")


def test_prior_rung_falls_back_to_nuts_when_the_prior_cannot_be_drawn():
    """A CustomDist with a logp and no random cannot be forward-sampled: rung 0 is then NUTS at
    beta = 0, and the ladder still integrates to the analytic evidence (normal mean, 5 points)."""
    with pm.Model() as model:
        mu = pm.CustomDist("mu", logp=lambda value: pm.logp(pm.Normal.dist(0.0, SIGMA0), value))
        pm.Normal("y", mu, SIGMA, observed=Y_NORMAL[:5])
    tree = psm.sample_power_posteriors(
        model, betas=12, draws=1000, tune=500, random_seed=2, progressbar=False
    )
    assert tree["tempering"].attrs["exact_prior_rung"] == 0
    exact = float(psm.normal_normal(0.0, SIGMA0, Y_NORMAL[:5], sigma=SIGMA).log_evidence.eval())
    result = psm.free_energy(tree)
    assert abs(result.log_evidence - exact) < max(0.05, 4 * result.error)


def test_bridge_refuses_discrete_parameters():
    with pm.Model() as model:
        k = pm.Poisson("k", 3.0)
        pm.Normal("y", k, 1.0, observed=[2.0, 3.5])
    posterior = xr.Dataset({"k": (("chain", "draw"), RNG.poisson(3.0, size=(2, 50)))})
    with pytest.raises(ValueError, match=r"\['k'\] are\s+discrete"):
        psm.free_energy(xr.DataTree.from_dict({"posterior": posterior}), model)


def test_short_chains_skip_the_per_chain_check_with_a_warning():
    """4 chains of 16 exact posterior draws of the 10-d Gaussian: the pooled proposal has 32
    draws, each chain's only 8 (< 11 needed), so the per-chain check is skipped, with a warning."""
    model, _ = gaussian10_model()
    precision = np.linalg.inv(COV0) + np.linalg.inv(COV_L)
    cov = np.linalg.inv(precision)
    mean = cov @ np.linalg.solve(COV_L, Y10)
    draws = np.random.default_rng(3).multivariate_normal(mean, cov, size=(4, 16))
    tree = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"theta": (("chain", "draw", "dim"), draws)})}
    )
    with pytest.warns(EvidenceWarning, match="per-chain check was skipped"):
        result = psm.free_energy(tree, model, random_seed=1, check_prior=False)
    assert result.per_chain is None and np.isfinite(result.log_evidence)


def test_undefined_or_inconsistent_inputs_are_refused():
    """An improper prior has no evidence; a standard error cannot be negative; a Bayes factor
    beyond float range prints its exponent, not inf."""
    with pm.Model() as flat:
        a = pm.Flat("a")
        pm.HalfFlat("s")
        pm.Normal("y", a, 1.0, observed=[0.1, 0.3])
    posterior = xr.Dataset(
        {
            "a": (("chain", "draw"), RNG.normal(size=(2, 50))),
            "s": (("chain", "draw"), RNG.gamma(2.0, size=(2, 50))),
        }
    )
    tree = xr.DataTree.from_dict({"posterior": posterior})
    for method in ("bridge", "laplace"):
        with pytest.raises(ValueError, match=r"\['a', 's'\] have pm.Flat or pm.HalfFlat priors"):
            psm.free_energy(tree, flat, method=method)
    with pytest.raises(ValueError, match="needs a proper prior"):
        psm.sample_power_posteriors(flat, betas=4)
    with pytest.raises(ValueError, match="error is a standard error and cannot be negative"):
        psm.FreeEnergy("bridge", log_evidence=-3.0, error=-0.1)
    huge = psm.bayes_factor(
        psm.FreeEnergy("bridge", 1041.0, 0.1), psm.FreeEnergy("bridge", 0.0, 0.1)
    )
    assert "B = 10^452.1" in repr(huge)
    tiny = psm.bayes_factor(
        psm.FreeEnergy("bridge", 0.0, 0.1), psm.FreeEnergy("bridge", 1041.0, 0.1)
    )
    assert "B = 10^-452.1" in repr(tiny)


def test_a_negative_information_is_flagged():
    """KL(post || prior) = -U - log Z >= 0: a pair (log Z, U) that breaks it is wrong."""
    tree = _exact_ladder(psm.default_ladder(16), 1000, seed=5)
    tempering = tree["tempering"].to_dataset()
    shifted = tempering["log_likelihood"].values.copy()
    shifted[-1] -= 10.0  # the posterior rung's log L from another data set
    tree["tempering"] = tempering.assign(log_likelihood=(tempering["log_likelihood"].dims, shifted))
    with pytest.warns(EvidenceWarning, match="Gibbs' inequality forbids"):
        result = psm.free_energy(tree, method="stepping_stone")
    assert result.kl < 0


def test_ladder_reads_the_divergences_of_its_rungs():
    betas = psm.default_ladder(8)
    tree = _exact_ladder(betas, 200, seed=6)
    diverging = np.zeros((8, 2, 200), dtype=bool)
    diverging[3, 1, :5] = True
    tree["sample_stats"] = xr.Dataset(
        {"diverging": (("beta", "chain", "draw"), diverging)}, coords={"beta": betas}
    )
    with pytest.warns(
        EvidenceWarning, match=f"5 divergent transitions on the rungs at beta = {betas[3]:.3g}"
    ):
        result = psm.free_energy(tree, method="stepping_stone")
    assert result.diagnostics["divergences"] == 5 and "divergences 5" in repr(result)


def test_ladder_keeps_coords_and_boundary_draws_of_default_transforms():
    """Named dims (PyMC keeps coords as tuples) on the exact prior rung; a Gamma(0.001, 0.001)
    rate whose forward draws round to 0.0 half the time is not a cut support (its default
    log transform cuts nothing): no prior-mass correction."""
    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 1.0, dims="group")
        rate = pm.Gamma("rate", 0.001, 0.001)
        pm.Poisson("y", rate * pm.math.exp(mu), observed=[3, 5, 2], dims="group")
    tree = psm.sample_power_posteriors(
        model, betas=4, draws=100, tune=100, chains=2, random_seed=2, progressbar=False
    )
    attrs = tree["tempering"].attrs
    assert attrs["exact_prior_rung"] == 1 and attrs["log_prior_mass"] == 0.0
    assert list(tree["posterior"]["mu"].coords["group"].values) == ["a", "b", "c"]


def test_adaptive_ladder_places_rungs_by_the_effective_sample_size():
    """Each adaptive step keeps 80% of the draws effective when reweighted by L^(step), and the
    ladder's evidence matches the conjugate one."""
    from pymc_statmech.evidence.tempering import ADAPTIVE_ESS_FRACTION, next_beta

    log_likelihood = scipy.stats.norm(0, 3).rvs(size=4000, random_state=7)
    beta = next_beta(0.2, log_likelihood)
    w = np.exp((beta - 0.2) * (log_likelihood - log_likelihood.max()))
    assert w.sum() ** 2 / (w.size * np.sum(w**2)) == pytest.approx(ADAPTIVE_ESS_FRACTION, abs=1e-6)
    assert next_beta(0.2, np.zeros(100)) == 1.0  # a flat likelihood: one step to the end
    model, exact = normal_model()
    tree = psm.sample_power_posteriors(
        model, betas="adaptive", draws=1000, tune=500, random_seed=3, progressbar=False
    )
    betas = tree["tempering"]["beta"].values
    assert betas[0] == 0.0 and betas[-1] == 1.0 and np.all(np.diff(betas) > 0)
    assert tree["tempering"].attrs["ladder"] == "adaptive"
    result = psm.free_energy(tree, method="stepping_stone")
    assert abs(result.log_evidence - exact) < 3 * result.error


def _normal_thermodynamics(betas):
    """Closed forms on the normal-mean model: theta ~ N(0, s0^2), y_i ~ N(theta, s^2)."""
    n, ybar = Y_NORMAL.size, Y_NORMAL.mean()
    spread = np.sum((Y_NORMAL - ybar) ** 2)
    const = -0.5 * n * np.log(2 * np.pi * SIGMA**2) - spread / (2 * SIGMA**2)
    precision = 1 / SIGMA0**2 + betas * n / SIGMA**2
    offset = betas * n * ybar / SIGMA**2 / precision - ybar  # E_beta[theta] - ybar
    a = n / (2 * SIGMA**2)  # log L = const - a (theta - ybar)^2
    mean_log_l = const - a * (offset**2 + 1 / precision)
    var_log_l = a**2 * (2 / precision**2 + 4 * offset**2 / precision)
    k = betas * n / SIGMA**2
    log_z = betas * const - 0.5 * np.log1p(k * SIGMA0**2) - k * ybar**2 / (2 * (1 + k * SIGMA0**2))
    return {
        "energy": -mean_log_l,
        "heat_capacity": betas**2 * var_log_l,
        "free_energy": -log_z,
        "kl": betas * mean_log_l - log_z,
    }


def test_thermodynamics_matches_the_closed_forms():
    """Every curve of psm.thermodynamics against the normal-mean model's closed forms, on exact
    power-posterior draws (log Z(1) is also the conjugate evidence)."""
    betas = psm.default_ladder(16)
    thermo = psm.thermodynamics(_exact_ladder(betas, 2000, seed=8))
    exact = _normal_thermodynamics(betas)
    _, evidence = normal_model()
    assert exact["free_energy"][-1] == pytest.approx(-evidence, abs=1e-10)
    for name, values in exact.items():
        value = thermo[name].sel(estimate="value").values
        error = thermo[name].sel(estimate="error").values
        # 4 errors per point, 16 points: a family-wise level of about 1e-3
        assert np.all(np.abs(value - values) <= 4 * error + 1e-12), name
    assert thermo["kl"].sel(estimate="value").values[0] == 0.0


def test_plot_thermodynamics_draws_three_panels():
    import matplotlib

    matplotlib.use("Agg")
    thermo = psm.thermodynamics(_exact_ladder(psm.default_ladder(8), 200, seed=9))
    axes = psm.plot_thermodynamics(thermo)
    assert len(axes) == 3 and all(len(axis.lines) == 1 for axis in axes)


def test_learning_coefficient_of_a_regular_model_is_half_its_dimension():
    """Normal mean (d = 1): the two-temperature estimate matches the same ratio of the closed-form
    tempered energies (which is within 0.05 of d/2 = 1/2 at n = 20)."""
    model, _ = normal_model()
    result = psm.learning_coefficient(model, draws=2000, tune=1000, random_seed=4)
    value, error = result["learning_coefficient"].values
    betas = np.array(result.attrs["betas"])
    assert betas == pytest.approx(np.array([1.0, 1.5]) / np.log(Y_NORMAL.size))
    energy = _normal_thermodynamics(betas)["energy"]
    expected = (energy[0] - energy[1]) / (1 / betas[0] - 1 / betas[1])
    assert abs(expected - 0.5) < 0.05
    assert abs(value - expected) < 4 * error
    assert result.attrs["regular_value"] == 0.5
    with pytest.raises(ValueError, match="beta0 must be two different positive numbers"):
        psm.learning_coefficient(model, beta0=(1.0, 1.0))


def aoyagi_watanabe_rlct(M: int, N: int, H: int, r: int) -> float:
    """The learning coefficient of reduced-rank regression (M inputs, N outputs, inner rank H,
    true rank r), Aoyagi and Watanabe (2005), Neural Networks 18(7), 924-933, Theorem 1."""
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        odd = (M + H + N + r) % 2
        return (2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2 + odd) / 8
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    return M * N / 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("M", "N", "true_rank"),
    [(3, 1, 0), (2, 2, 1)],
    ids=["3-in-1-out-rank-0", "2-in-2-out-rank-1"],
)
def test_learning_coefficient_of_reduced_rank_regression(M, N, true_rank):
    """y = b (a^T x) + noise (inner rank H = 1, d = M + N parameters), n = 1000, true matrix of
    rank 0 or 1: the two-temperature estimate against Aoyagi and Watanabe's closed form (1/2
    and 3/2, both with multiplicity 1, so no log log n term biases the estimator), and clearly
    below the regular d/2 = 2. Measured: 0.542 +/- 0.042 and 1.469 +/- 0.071."""
    rng = np.random.default_rng(0)
    n = 1000
    X = rng.normal(size=(n, M))
    truth = np.zeros((M, N))
    if true_rank:
        truth = np.outer(rng.normal(size=M), rng.normal(size=N))
    Y = X @ truth + rng.normal(size=(n, N))
    with pm.Model() as model:
        a = pm.Normal("a", 0, 1, shape=M)
        b = pm.Normal("b", 0, 1, shape=N)
        pm.Normal("y", pm.math.dot(X, a)[:, None] * b[None, :], 1.0, observed=Y)
    result = psm.learning_coefficient(model, draws=2000, tune=1000, random_seed=1)
    value, error = result["learning_coefficient"].values
    expected = aoyagi_watanabe_rlct(M, N, 1, true_rank)
    assert expected == (0.5 if true_rank == 0 else 1.5)
    assert abs(value - expected) < 4 * error, (value, error, expected)
    assert value + 4 * error < result.attrs["regular_value"] == (M + N) / 2


@pytest.mark.slow
def test_summary_against_the_normal_mean_closed_forms():
    """psm.summary on the normal-mean model: log evidence, energy, information gain, posterior
    entropy, heat capacity at beta = 1 and the ladder's learning coefficient, each against its
    closed form within 4 of its errors."""
    model, evidence = normal_model()
    with model:
        idata = pm.sample(1000, tune=1000, chains=4, random_seed=11, **SAMPLE)
        pm.compute_log_likelihood(idata, progressbar=False)
    n = Y_NORMAL.size
    ladder = _exact_ladder(psm.default_ladder(16), 2000, seed=10)
    table = psm.summary(idata, model, ladder=ladder, random_seed=1)
    closed = _normal_thermodynamics(np.array([1.0, 1 / np.log(n)]))
    precision = 1 / SIGMA0**2 + n / SIGMA**2
    exact = {
        "log_evidence": evidence,
        "energy": closed["energy"][0],
        "information_gain": closed["kl"][0],
        "posterior_entropy": 0.5 * np.log(2 * np.pi * np.e / precision),
        "heat_capacity": closed["heat_capacity"][0],
        "effective_parameters": 2 * closed["heat_capacity"][0],
        "learning_coefficient": closed["heat_capacity"][1],
    }
    for name, value in exact.items():
        row = table.loc[name]
        # the ladder's value is interpolated between rungs: 2% of slack for that
        slack = 0.02 * abs(value) if name == "learning_coefficient" else 0.0
        assert abs(row["value"] - value) < 4 * row["error"] + slack, (name, row["value"], value)
    # V = sum_i Var_post[(y_i - mu)^2] / (4 sigma^4) with mu ~ N(m, s^2) exactly:
    # Var[(a - delta)^2] = 4 a^2 s^2 + 2 s^4 for delta ~ N(0, s^2), a = y_i - m
    s2 = 1 / precision
    m = Y_NORMAL.sum() / SIGMA**2 * s2
    functional_variance = np.sum(4 * (Y_NORMAL - m) ** 2 * s2 + 2 * s2**2) / (4 * SIGMA**4)
    for name, value in (
        ("waic_penalty", functional_variance),
        ("singular_fluctuation", functional_variance / 2),
    ):
        row = table.loc[name]
        assert abs(row["value"] - value) < 4 * row["error"], (name, row["value"], value)
    assert list(table.columns) == ["value", "error", "how"]
    assert [note.split(":")[0] for note in table.attrs["notes"]] == ["information_gain[<variable>]"]
    bare = psm.summary(idata, model, random_seed=1)
    assert "learning_coefficient" not in bare.index
    assert any("learning_coefficient" in note for note in bare.attrs["notes"])
    assert any("information_gain[<variable>]" in note for note in bare.attrs["notes"])
    # with prior draws: the per-variable gain of the one variable is the joint KL
    with model:
        idata["prior"] = pm.sample_prior_predictive(4000, random_seed=3)["prior"]
    row = psm.summary(idata, model, random_seed=1).loc["information_gain[mu]"]
    assert abs(row["value"] - exact["information_gain"]) < 4 * row["error"], row


@pytest.mark.parametrize("bound", ["maurer", "mcallester", "catoni"])
def test_pac_bayes_bound_covers_the_true_risk(bound):
    """400 simulated data sets (n = 50 Bernoulli(0.3) draws, Beta(1, 1) prior, exact posterior
    draws and exact KL): the bound on the Gibbs risk of the squared loss (y - p)^2, known in
    closed form, holds in at least 1 - delta of them, and is not vacuous (mean slack measured:
    Maurer 0.24, McAllester 0.25, Catoni with C = 1 0.18)."""
    from test_families import kl_beta  # in natural parameters (a - 1, b - 1)

    rng = np.random.default_rng(12)
    n, p_true, delta = 50, 0.3, 0.05
    held, slack = 0, []
    for _ in range(400):
        y = rng.binomial(1, p_true, n)
        a, b = 1 + y.sum(), 1 + n - y.sum()
        draws = rng.beta(a, b, size=(1, 1000))
        tree = xr.DataTree.from_dict(
            {
                "posterior": xr.Dataset({"p": (("chain", "draw"), draws)}),
                "observed_data": xr.Dataset({"y": ("obs", y)}),
            }
        )
        kl = kl_beta(np.array([a - 1.0, b - 1.0]), np.zeros(2))
        result = psm.pac_bayes_bound(
            tree,
            lambda post, obs: (obs["y"][None, :] - post["p"][:, None]) ** 2,
            kl=kl,
            delta=delta,
            bound=bound,
        )
        mean, second = a / (a + b), a * (a + 1) / ((a + b) * (a + b + 1))
        risk = p_true * (1 - 2 * mean + second) + (1 - p_true) * second
        value = float(result["bound"])
        held += value >= risk
        slack.append(value - risk)
    assert held / 400 >= 1 - delta
    # non-vacuous: below half the trivial bound of 1 (the risk itself is about 0.22)
    assert np.mean(slack) + 0.22 < 0.5


def test_pac_bayes_bound_refuses_what_it_cannot_bound():
    y = np.array([0, 1, 1])
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"p": (("chain", "draw"), RNG.random((1, 20)))}),
            "observed_data": xr.Dataset({"y": ("obs", y)}),
        }
    )
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        psm.pac_bayes_bound(tree, lambda post, obs: 2.0 + 0 * post["p"][:, None] * obs["y"], kl=1.0)
    with pytest.raises(ValueError, match="needs clip > 0"):
        psm.pac_bayes_bound(tree, "log", kl=1.0)
    with pytest.raises(ValueError, match="bound must be one of"):
        psm.pac_bayes_bound(
            tree, lambda post, obs: 0 * post["p"][:, None] * obs["y"], kl=1.0, bound="x"
        )


def test_model_terms_are_built_once_per_model_structure():
    """Every estimator on one model shares its compiled terms; new data of another length, or a
    new variable, builds them again."""
    from pymc_statmech.model_terms import model_terms

    with pm.Model(coords={"obs": range(3)}) as model:
        x = pm.Data("x", np.zeros(3), dims="obs")
        y = pm.Data("y_observed", np.zeros(3), dims="obs")
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu + x, 1.0, observed=y, dims="obs")
    first = model_terms(model)
    assert model_terms(model) is first and first.n_observations == 3
    with model:
        pm.set_data({"x": np.zeros(5), "y_observed": np.ones(5)}, coords={"obs": range(5)})
    resized = model_terms(model)
    assert resized is not first and resized.n_observations == 5
    with model:
        pm.Normal("extra", 0.0, 1.0)
    assert model_terms(model) is not resized and model_terms(model).dim == 2
