"""Maximum entropy: exact references (mpmath, scipy, closed forms) for the solver and the Op."""

import warnings

import mpmath as mp
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate, special, stats

import pymc_statmech as psm
from pymc_statmech.maxent.solve import MaxEntDual, NonConvergenceWarning, solve_dual

mp.mp.dps = 50
DIE = psm.Discrete(range(1, 7))


def _dice_reference(m):
    """Brandeis dice by 50-digit root finding: sum k e^{lk} / sum e^{lk} = m."""

    def mean_gap(lam):
        w = [mp.e ** (lam * k) for k in range(1, 7)]
        return sum(k * wk for k, wk in zip(range(1, 7), w, strict=True)) / sum(w) - m

    lam = mp.findroot(mean_gap, 0.3)
    w = [mp.e ** (lam * k) for k in range(1, 7)]
    p = [wk / sum(w) for wk in w]
    return float(lam), np.array([float(v) for v in p]), float(-sum(v * mp.log(v) for v in p))


@pytest.mark.parametrize("m", [4.5, 1.2, 3.5, 5.999])
def test_brandeis_dice_against_mpmath(m):
    lam, p, entropy = _dice_reference(mp.mpf(m))
    sol = psm.maxent_solve(DIE, [psm.mean(m)])
    assert sol.multipliers[0] == pytest.approx(lam, rel=1e-12, abs=1e-13)
    probs = np.exp(sol.logpdf(np.arange(1.0, 7.0)))
    # p_k's relative error is |k - mean| times lambda's absolute error (~1e-12 at 5.999).
    np.testing.assert_allclose(probs, p, rtol=1e-10)
    assert float(sol.entropy) == pytest.approx(entropy, rel=1e-11)
    assert np.abs(sol.residuals).max() < 1e-12


def test_continuous_problem_against_mpmath_quadrature():
    # No closed form: 70% of the mass in [-1, 2] and E[x^2] = 2 on the real line.
    sol = psm.maxent_solve(psm.RealLine(), [psm.interval_mass(-1, 2, 0.7), psm.moment(2, 2.0)])
    l1, l2 = (mp.mpf(float(v)) for v in sol.multipliers)

    def integral(f):
        dens = lambda x: mp.e ** (l1 * (1 if -1 <= x <= 2 else 0) + l2 * x**2)  # noqa: E731
        return mp.quad(lambda x: f(x) * dens(x), [-mp.inf, -1, 2, mp.inf])

    Z = integral(lambda x: 1)
    assert float(sol.log_partition) == pytest.approx(float(mp.log(Z)), rel=1e-12)
    assert float(integral(lambda x: 1 if -1 <= x <= 2 else 0) / Z) == pytest.approx(0.7, abs=1e-12)
    assert float(integral(lambda x: x**2) / Z) == pytest.approx(2.0, rel=1e-12)


def test_beta_endpoint_singularity_against_mpmath():
    # Beta(0.4, 3): the density is singular at 0; the DE rule integrates it exactly.
    a, b = 0.4, 3.0
    c = [special.digamma(a) - special.digamma(a + b), special.digamma(b) - special.digamma(a + b)]
    sol = psm.maxent_solve(
        psm.Interval(0, 1), [psm.expect(pt.log, c[0]), psm.expect(lambda x: pt.log1p(-x), c[1])]
    )
    np.testing.assert_allclose(sol.multipliers, [a - 1, b - 1], rtol=1e-10)
    assert float(sol.entropy) == pytest.approx(stats.beta(a, b).entropy(), rel=1e-10)


# (domain, constraints, base, expected closed form, scipy reference of the solution)
CLOSED = [
    (psm.HalfLine(), [psm.mean(2.0)], None, "Exponential", stats.expon(scale=2.0)),
    (psm.HalfLine(), [psm.moment(2, 4.0)], None, "HalfNormal", stats.halfnorm(scale=2.0)),
    (
        psm.HalfLine(),
        [psm.mean(6.0), psm.expect(pt.log, special.digamma(3.0) + np.log(2.0))],
        None,
        "Gamma",
        stats.gamma(3.0, scale=2.0),
    ),
    (
        psm.HalfLine(),
        [psm.expect(pt.log, np.log(0.5) - special.digamma(4.0)), psm.expect(lambda x: 1 / x, 8.0)],
        None,
        "InverseGamma",
        stats.invgamma(4.0, scale=0.5),
    ),
    (
        psm.HalfLine(),
        [psm.expect(pt.log, 0.5), psm.expect(lambda x: pt.log(x) ** 2, 0.5**2 + 0.3**2)],
        None,
        "LogNormal",
        stats.lognorm(0.3, scale=np.exp(0.5)),
    ),
    (
        psm.HalfLine(1.5),
        [psm.expect(pt.log, np.log(1.5) + 1 / 3.0)],
        None,
        "Pareto",
        stats.pareto(3.0, scale=1.5),
    ),
    (psm.RealLine(), [psm.mean(1.0), psm.moment(2, 5.0)], None, "Normal", stats.norm(1, 2)),
    # The span, not the form: a variance about 1 with the mean gives the same normal.
    (
        psm.RealLine(),
        [psm.mean(1.0), psm.moment(2, 4.0, about=1.0)],
        None,
        "Normal",
        stats.norm(1, 2),
    ),
    (
        psm.RealLine(),
        [psm.expect(pt.abs, 1.5, breakpoints=[0])],
        None,
        "Laplace",
        stats.laplace(scale=1.5),
    ),
    (
        psm.Interval(0, 1),
        [
            psm.expect(pt.log, special.digamma(2.0) - special.digamma(5.0)),
            psm.expect(lambda x: pt.log1p(-x), special.digamma(3.0) - special.digamma(5.0)),
        ],
        None,
        "Beta",
        stats.beta(2.0, 3.0),
    ),
    (
        psm.Interval(0, 1),
        [psm.expect(pt.log, -1 / 2.5)],
        None,
        "Beta(alpha, 1)",
        stats.beta(2.5, 1),
    ),
    (
        psm.Interval(0, 1),
        [psm.expect(lambda x: pt.log1p(-x), -1 / 2.5)],
        None,
        "Beta(1, beta)",
        stats.beta(1, 2.5),
    ),
    (psm.Interval(-1, 3), [], None, "Uniform", stats.uniform(-1, 4)),
    (
        psm.Circle(),
        [
            psm.expect(pt.cos, special.i1(4.0) / special.i0(4.0) * np.cos(0.5)),
            psm.expect(pt.sin, special.i1(4.0) / special.i0(4.0) * np.sin(0.5)),
        ],
        None,
        "VonMises",
        stats.vonmises(4.0, loc=0.5),
    ),
    (psm.Circle(), [], None, "Uniform on the circle", stats.uniform(-np.pi, 2 * np.pi)),
    (psm.Discrete(range(1, 7)), [], None, "DiscreteUniform", stats.randint(1, 7)),
    (psm.Discrete([0, 1]), [psm.mean(0.3)], None, "Bernoulli", stats.bernoulli(0.3)),
    (
        psm.Integers(0, 10),
        [psm.mean(3.0)],
        lambda k: pt.gammaln(11.0) - pt.gammaln(k + 1) - pt.gammaln(11 - k),
        "Binomial",
        stats.binom(10, 0.3),
    ),
    (psm.Integers(0), [psm.mean(3.0)], lambda k: -pt.gammaln(k + 1), "Poisson", stats.poisson(3)),
    (psm.Integers(1), [psm.mean(4.0)], None, "Geometric", stats.geom(0.25)),
    (psm.Integers(0), [psm.mean(3.0)], None, "Geometric on 0, 1, ...", stats.geom(0.25, loc=-1)),
]


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
@pytest.mark.parametrize(
    "domain, constraints, base, name, reference", CLOSED, ids=[c[3] for c in CLOSED]
)
def test_closed_forms_match_the_numeric_solver(domain, constraints, base, name, reference):
    sol = psm.maxent_solve(domain, constraints, base)
    assert sol.closed_form is not None and sol.closed_form.name == name
    closed = sol.distribution()
    if domain.discrete:
        x = np.arange(max(domain.lower, 0), min(domain.upper, 12) + 1)
        ref = reference.logpmf(x)
    else:
        x = np.asarray(reference.ppf([0.05, 0.3, 0.5, 0.8, 0.97]))
        ref = reference.logpdf(x)
    closed_lp = pm.logp(closed, x).eval()
    np.testing.assert_allclose(closed_lp, ref, rtol=1e-10, atol=1e-10)
    generic_lp = pm.logp(psm.MaxEnt.dist(solution=sol, closed_form=False), x).eval()
    np.testing.assert_allclose(generic_lp, closed_lp, rtol=1e-10, atol=1e-10)
    assert float(sol.entropy) == pytest.approx(float(reference.entropy()), rel=1e-9, abs=1e-10)


def test_inverse_gamma_is_recognised():
    from pymc_statmech.maxent.known import recognise
    from pymc_statmech.maxent.problem import MaxEntProblem

    constraints = [
        psm.expect(pt.log, np.log(0.5) - special.digamma(4.0)),
        psm.expect(lambda x: 1 / x, 8.0),
    ]
    match = recognise(MaxEntProblem(psm.HalfLine(), constraints))
    assert match.name == "InverseGamma"
    dist = match.distribution(np.array([c.target for c in constraints]), psm.HalfLine())
    x = np.array([0.05, 0.1, 0.3])
    np.testing.assert_allclose(
        pm.logp(dist, x).eval(), stats.invgamma(4.0, scale=0.5).logpdf(x), rtol=1e-10
    )


def test_at_least_fifteen_closed_forms():
    assert len(psm.KNOWN_FORMS) >= 15


def test_base_measure_gives_the_i_projection():
    # The I-projection of N(0, 2^2) onto {E[x] = 1} is N(1, 2^2); KL = 1 / (2 * 4).
    sol = psm.maxent_solve(psm.RealLine(), [psm.mean(1.0)], base=pm.Normal.dist(0.0, 2.0))
    x = np.array([-2.0, 0.3, 1.0, 4.0])
    np.testing.assert_allclose(sol.logpdf(x), stats.norm(1, 2).logpdf(x), rtol=1e-11)
    assert float(sol.relative_entropy) == pytest.approx(1 / 8, rel=1e-10)


def test_infeasible_and_non_normalisable_raise():
    with pytest.raises(psm.InfeasibleConstraintsError, match=r"E\[x\] = 7.*\(1, 6\)"):
        psm.maxent_solve(DIE, [psm.mean(7.0)])
    with pytest.raises(psm.InfeasibleConstraintsError, match="escapes to infinity"):
        psm.maxent_solve(psm.RealLine(), [psm.mean(1.0)])
    with pytest.raises(psm.InfeasibleConstraintsError, match="jointly infeasible"):
        psm.maxent_solve(psm.RealLine(), [psm.mean(1.0), psm.moment(2, 0.5)])
    with pytest.raises(psm.InfeasibleConstraintsError, match="strictly between 0 and 1"):
        psm.interval_mass(0, 1, 1.2)


def test_bad_arguments_have_clear_errors():
    with pytest.raises(TypeError, match=r"psm\.Discrete"):
        psm.maxent_solve((0, 1), [psm.mean(0.5)])
    with pytest.raises(TypeError, match=r"psm\.mean"):
        psm.maxent_solve(DIE, [4.5])
    with pytest.raises(ValueError, match="finite lower < upper"):
        psm.Interval(0, np.inf)


def test_batched_targets_solve_one_problem_each():
    targets = np.array([2.0, 3.5, 4.5])
    sol = psm.maxent_solve(DIE, [psm.mean(targets)])
    for m, lam in zip(targets, sol.multipliers, strict=True):
        assert lam[0] == pytest.approx(_dice_reference(mp.mpf(m))[0], rel=1e-11, abs=1e-13)


@pytest.mark.parametrize("linker", ["numba", "cvm", "jax"])
def test_op_value_and_implicit_gradient_on_every_backend(linker):
    mode = pytensor.compile.mode.Mode(linker=linker, optimizer="fast_run")
    c = pt.dvector("c")
    x = np.arange(1.0, 7.0)
    lam = solve_dual(x[None, :], np.zeros(6), c)
    logp6 = lam[0] * 6 - pt.logsumexp(lam[0] * x)
    f = pytensor.function([c], [lam, pytensor.grad(logp6, c)], mode=mode)
    value, grad = f([4.5])
    ref = _dice_reference(mp.mpf(4.5))[0]
    assert value[0] == pytest.approx(ref, rel=1e-12)
    # d log p(6) / dc = (6 - c) dlambda/dc = (6 - c) / Var(x) at the solution.
    p = np.exp(ref * x) / np.exp(ref * x).sum()
    var = p @ x**2 - (p @ x) ** 2
    assert grad[0] == pytest.approx((6 - 4.5) / var, rel=1e-10)


def _fd(fn, c, h=1e-5):
    c = np.asarray(c, dtype=float)
    out = []
    for k in range(c.size):
        e = np.zeros_like(c)
        e[k] = h
        out.append((fn(c + e) - fn(c - e)) / (2 * h))
    return np.array(out)


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_implicit_gradients_against_finite_differences():
    # Continuous, no closed form: gradient of log p(x0) w.r.t. both targets, and w.r.t. a
    # statistic parameter (the centre of the interval-mass window) and a base parameter.
    c = pt.dvector("c")
    shift = pt.dscalar("shift")
    scale = pt.dscalar("scale")
    problem = psm.maxent_solve(
        psm.RealLine(),
        [psm.interval_mass(-1, 2, 0.7), psm.moment(2, 2.0)],
    )
    T = problem.node_statistics
    nodes = pt.as_tensor_variable(problem.grid.nodes)
    logw = pt.as_tensor_variable(problem.grid.log_weights)
    # A base density exp(-(x - shift)^2 / (2 scale^2)) and a statistic x^2 + shift * x.
    logq = -((nodes - shift) ** 2) / (2 * scale**2)
    T2 = pt.stack([T[0], T[1] + shift * nodes])
    lam = solve_dual(T2, logw + logq, c, problem.start)
    x0 = 0.4
    logp = (
        lam[0] * 1.0
        + lam[1] * (x0**2 + shift * x0)
        - ((x0 - shift) ** 2) / (2 * scale**2)
        - pt.logsumexp(lam @ T2 + logw + logq)
    )
    inputs = [c, shift, scale]
    f = pytensor.function(inputs, logp)
    g = pytensor.function(inputs, pytensor.grad(logp, inputs))
    point = [np.array([0.7, 2.2]), 0.3, 1.7]
    grads = g(*point)
    np.testing.assert_allclose(grads[0], _fd(lambda v: f(v, 0.3, 1.7), point[0]), rtol=1e-7)
    fd_shift = _fd(lambda v: f(point[0], v[0], 1.7), [0.3])[0]
    fd_scale = _fd(lambda v: f(point[0], 0.3, v[0]), [1.7])[0]
    assert grads[1] == pytest.approx(fd_shift, rel=1e-7)
    assert grads[2] == pytest.approx(fd_scale, rel=1e-7)


def test_failed_solve_gives_minus_inf_with_a_warning():
    c = pt.dvector("c")
    x = np.arange(1.0, 7.0)
    # one Newton step cannot reach a target near the edge: a genuine non-convergence
    lam = MaxEntDual(max_iter=1)(x[None, :], np.zeros(6), c, np.zeros(1))
    logp6 = pt.switch(pt.all(pt.isfinite(lam)), lam[0] * 6 - pt.logsumexp(lam[0] * x), -np.inf)
    f = pytensor.function([c], logp6)
    with pytest.warns(NonConvergenceWarning):
        assert f([5.999]) == -np.inf
    # A target outside the feasible range has no multipliers at all: -inf, and no warning
    # that would blame the convergence (issue 16).
    full = solve_dual(x[None, :], np.zeros(6), c)
    g = pytensor.function([c], pt.switch(pt.all(pt.isfinite(full)), full[0], -np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonConvergenceWarning)
        assert g([7.5]) == -np.inf
    # A valid point afterwards is solved again (the failure did not poison the warm start).
    assert np.isfinite(g([4.5]))


def test_exact_draws_on_a_finite_support():
    d = psm.MaxEnt.dist(DIE, [psm.mean(4.5)])
    draws = pm.draw(d, 20000, random_seed=1)
    assert draws.dtype.kind == "i"
    _, p, _ = _dice_reference(mp.mpf(4.5))
    counts = np.bincount(draws, minlength=7)[1:]
    assert stats.chisquare(counts, 20000 * p).pvalue > 1e-3


def test_continuous_draws_follow_the_solution():
    sol = psm.maxent_solve(
        psm.HalfLine(), [psm.mean(6.0), psm.expect(pt.log, special.digamma(3.0) + np.log(2.0))]
    )
    generic = psm.MaxEnt.dist(solution=sol, closed_form=False)
    draws = pm.draw(generic, 20000, random_seed=2)
    assert stats.kstest(draws, stats.gamma(3.0, scale=2.0).cdf).pvalue > 1e-3


def test_batched_count_targets_share_one_proven_truncation():
    # The cutoff must hold the largest member, not the median one.
    means = np.array([1.0, 2.0, 3.0, 200.0])
    sol = psm.maxent_solve(psm.Integers(0), [psm.mean(means)], base=lambda k: -pt.gammaln(k + 1))
    np.testing.assert_allclose(sol.multipliers[:, 0], np.log(means), rtol=1e-12, atol=1e-14)


def test_countable_support_truncation_is_proven():
    sol = psm.maxent_solve(psm.Integers(0), [psm.mean(40.0)], base=lambda k: -pt.gammaln(k + 1))
    k = np.arange(0, 120)
    np.testing.assert_allclose(sol.logpdf(k), stats.poisson(40).logpmf(k), rtol=1e-10)
    assert sol.grid.nodes.size > 100


def test_random_target_in_a_model_has_the_right_logp():
    with pm.Model() as model:
        mu = pm.Uniform("mu", 1.5, 5.5)
        psm.MaxEnt("die", DIE, [psm.mean(mu)], observed=[6, 5, 6])
    logp = model.compile_logp(sum=False)
    value = logp({"mu_interval__": np.log((4.5 - 1.5) / (5.5 - 4.5))})
    _, p, _ = _dice_reference(mp.mpf(4.5))
    np.testing.assert_allclose(value[1], np.log(p[[5, 4, 5]]), rtol=1e-11)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nuts_with_a_random_constraint_target(seed):
    rolls = np.random.default_rng(seed).choice(
        np.arange(1, 7), size=60, p=_dice_reference(mp.mpf(4.2))[1]
    )
    with pm.Model():
        mu = pm.Uniform("mu", 1.5, 5.5)
        psm.MaxEnt("die", DIE, [psm.mean(mu)], observed=rolls)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            idata = pm.sample(
                500,
                tune=500,
                chains=2,
                random_seed=seed,
                progressbar=False,
                compute_convergence_checks=False,
            )
    assert int(idata.sample_stats["diverging"].sum()) == 0
    post = idata.posterior["mu"].values.ravel()
    # The likelihood is an exponential family in lambda: the posterior mean of mu is near the
    # sample mean (flat prior), within a few posterior standard deviations.
    assert abs(post.mean() - rolls.mean()) < 4 * post.std() + 0.05


@pytest.mark.parametrize("linker", ["numba", "cvm", "jax"])
def test_model_logp_and_gradient_compile_on_every_backend(linker):
    with pm.Model() as model:
        log_m2 = pm.Normal("log_m2", np.log(2.0), 0.1)
        psm.MaxEnt(
            "x", psm.RealLine(), [psm.interval_mass(-1, 2, 0.7), psm.moment(2, pt.exp(log_m2))]
        )
    mode = pytensor.compile.mode.Mode(linker=linker, optimizer="fast_run")
    logp = model.compile_logp(sum=False, mode=mode)
    dlogp = model.compile_dlogp(mode=mode)
    point = {"log_m2": np.log(2.2), "x": 0.4}
    # Against the NumPy solve at the same target.
    sol = psm.maxent_solve(psm.RealLine(), [psm.interval_mass(-1, 2, 0.7), psm.moment(2, 2.2)])
    assert float(logp(point)[1]) == pytest.approx(float(sol.logpdf(0.4)), rel=1e-10)
    fd = _fd(lambda v: sum(logp({"log_m2": v[0], "x": 0.4})), [np.log(2.2)])[0]
    assert dlogp(point)[0] == pytest.approx(fd, rel=1e-6)


def test_default_transforms_and_support_points_match_the_domain():
    from pymc.distributions.distribution import support_point

    cases = [
        (psm.HalfLine(1.0), [psm.mean(3.0), psm.moment(2, 12.0)], "interval"),
        (psm.Interval(0, 2), [psm.mean(0.7)], "interval"),
        (psm.Circle(), [psm.interval_mass(0.0, 1.0, 0.5)], "circular"),
        (psm.RealLine(), [psm.interval_mass(-1, 2, 0.7), psm.moment(2, 2.0)], None),
    ]
    for domain, constraints, transform in cases:
        with pm.Model() as model:
            x = psm.MaxEnt("x", domain, constraints)
        got = model.rvs_to_transforms[x]
        assert (got is None) if transform is None else transform in type(got).__name__.lower()
        assert np.isfinite(model.compile_logp()(model.initial_point()))
        # The support point is the solution's median node.
        sol = psm.maxent_solve(domain, constraints)
        assert sol.closed_form is None
        nodes = np.sort(sol.grid.nodes)
        mass = np.exp(sol.logpdf(nodes) + sol.grid.log_weights[np.argsort(sol.grid.nodes)])
        median = nodes[np.argmax(np.cumsum(mass) / mass.sum() >= 0.5)]
        assert float(support_point(x).eval()) == pytest.approx(median, rel=1e-12)


def test_random_target_with_unbounded_prior_builds_and_is_minus_inf_outside():
    # Prior draws of mu fall outside (1, 6); the measure is built from the feasible ones, and
    # an infeasible value gives -inf with a warning, never an error or a silent number.
    with pm.Model() as model:
        mu = pm.Normal("mu", 3.5, 5.0)
        psm.MaxEnt("die", DIE, [psm.mean(mu)], observed=[1, 6, 3])
    logp = model.compile_logp(sum=False)
    _, p, _ = _dice_reference(mp.mpf(4.5))
    np.testing.assert_allclose(logp({"mu": 4.5})[1], np.log(p[[0, 5, 2]]), rtol=1e-11)
    # outside the feasible range: -inf like any parameter outside its domain, without the
    # non-convergence warning that blamed the wrong cause before (issue 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonConvergenceWarning)
        assert np.all(logp({"mu": 7.5})[1] == -np.inf)


def test_quantile_constraints_against_mpmath_quadrature():
    # Median 2 and mean 3 on the half-line: p(x) = exp(l1 1[x <= 2] + l2 x) on [0, inf).
    sol = psm.maxent_solve(psm.HalfLine(), [psm.quantile(0.5, 2.0), psm.mean(3.0)])
    l1, l2 = (mp.mpf(float(v)) for v in sol.multipliers)
    Z = mp.e**l1 * mp.quad(lambda x: mp.e ** (l2 * x), [0, 2]) + mp.quad(
        lambda x: mp.e ** (l2 * x), [2, mp.inf]
    )
    below = mp.e**l1 * mp.quad(lambda x: mp.e ** (l2 * x), [0, 2]) / Z
    mean = (
        mp.e**l1 * mp.quad(lambda x: x * mp.e ** (l2 * x), [0, 2])
        + mp.quad(lambda x: x * mp.e ** (l2 * x), [2, mp.inf])
    ) / Z
    assert float(below) == pytest.approx(0.5, abs=1e-12)
    assert float(mean) == pytest.approx(3.0, rel=1e-12)
    assert float(sol.log_partition) == pytest.approx(float(mp.log(Z)), rel=1e-12)


@pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py
def test_indexed_targets_solve_each_group_once_and_agree_with_per_observation_solves():
    group = np.array([0, 2, 1, 1, 0, 2])
    rolls = np.array([6, 1, 3, 4, 5, 2])
    values = {}
    for variant in ("indexed", "per_observation"):
        with pm.Model() as model:
            mu = pm.Uniform("mu", 1.5, 5.5, shape=3)
            target = mu[group] if variant == "indexed" else mu[group] * 1.0
            rv = psm.MaxEnt("die", DIE, [psm.mean(target)], observed=rolls)
        # The indexed form feeds the (3, 1) table of targets, not one per observation.
        assert (rv.owner.inputs[1].type.shape[0] == 3) == (variant == "indexed")
        point = {"mu_interval__": np.array([-0.3, 0.4, 1.1])}
        values[variant] = (
            model.compile_logp(sum=False)(point)[1],
            model.compile_dlogp()(point),
        )
    np.testing.assert_allclose(values["indexed"][0], values["per_observation"][0], rtol=1e-12)
    np.testing.assert_allclose(values["indexed"][1], values["per_observation"][1], rtol=1e-10)
    mu = 1.5 + 4.0 / (1 + np.exp(-np.array([-0.3, 0.4, 1.1])))
    expected = [
        np.log(_dice_reference(mp.mpf(mu[g]))[1][r - 1]) for g, r in zip(group, rolls, strict=True)
    ]
    np.testing.assert_allclose(values["indexed"][0], expected, rtol=1e-10)


def test_constant_targets_use_the_solved_multipliers_without_a_solve_in_the_graph():
    # issue 18: a numeric target was solved again inside every model graph (a Newton Op that
    # compiled 3 s on a new machine and ran at each evaluation)
    domain, constraints = psm.Interval(-1, 1), [psm.mean(0.2), psm.moment(2, 0.3)]
    solution = psm.maxent_solve(domain, constraints)
    with pm.Model() as model:
        psm.MaxEnt("x", domain, constraints)
    logp = model.compile_logp(jacobian=False)
    ops = {type(node.op) for node in logp.f.maker.fgraph.apply_nodes}
    assert MaxEntDual not in ops
    x = np.linspace(-0.95, 0.95, 7)
    values = [float(logp({"x_interval__": np.log((v + 1) / (1 - v))})) for v in x]
    np.testing.assert_allclose(values, np.asarray(solution.logpdf(x)), rtol=1e-13)
    # random targets still solve in the graph
    with pm.Model() as random_targets:
        m = pm.Uniform("m", 0.1, 0.3)
        psm.MaxEnt("x", domain, [psm.mean(m), psm.moment(2, 0.3)])
    graph = random_targets.compile_logp().f.maker.fgraph
    assert MaxEntDual in {type(node.op) for node in graph.apply_nodes}


# -- a MaxEnt variable is a Family: entropy, mean parameters, Fisher information, KL -----------


def _quad(f, a, b):
    value, error = integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)
    assert error < 1e-12
    return value


def test_family_quantities_of_a_maxent_variable_agree_with_its_solution():
    domain, constraints = psm.Interval(-1, 1), [psm.mean(0.2), psm.moment(2, 0.3)]
    rv = psm.MaxEnt.dist(domain, constraints)
    solution = psm.maxent_solve(domain, constraints)

    def density(x):
        return float(np.exp(solution.logpdf(np.array([x]))[0]))

    entropy = -_quad(lambda x: density(x) * np.log(density(x)), -1, 1)
    assert float(psm.entropy(rv).eval()) == pytest.approx(entropy, abs=1e-12)
    assert float(psm.entropy(rv).eval()) == pytest.approx(solution.entropy, abs=1e-13)
    np.testing.assert_allclose(psm.mean_parameters(rv).eval(), [0.2, 0.3], atol=1e-12)
    # Fisher information in the multipliers = covariance of (x, x^2) under the solution
    m3, m4 = (_quad(lambda x, k=k: x**k * density(x), -1, 1) for k in (3, 4))
    covariance = [[0.3 - 0.2**2, m3 - 0.2 * 0.3], [m3 - 0.2 * 0.3, m4 - 0.3**2]]
    np.testing.assert_allclose(psm.fisher_information(rv).eval(), covariance, atol=1e-12)


def test_kl_divergence_from_a_maxent_variable_to_any_distribution():
    domain = psm.Interval(-1, 1)
    p_constraints = [psm.mean(0.2), psm.moment(2, 0.3)]
    q_constraints = [psm.mean(-0.1), psm.moment(2, 0.4)]
    p, q = psm.MaxEnt.dist(domain, p_constraints), psm.MaxEnt.dist(domain, q_constraints)
    sp, sq = psm.maxent_solve(domain, p_constraints), psm.maxent_solve(domain, q_constraints)

    def kl_integrand(x, log_q):
        log_p = float(sp.logpdf(np.array([x]))[0])
        return np.exp(log_p) * (log_p - log_q(x))

    between = _quad(lambda x: kl_integrand(x, lambda y: float(sq.logpdf(np.array([y]))[0])), -1, 1)
    assert float(psm.kl_divergence(p, q).eval()) == pytest.approx(between, abs=1e-12)
    assert float(psm.kl_divergence(p, p).eval()) == pytest.approx(0.0, abs=1e-13)
    cross = float(psm.cross_entropy(p, q).eval())
    assert cross == pytest.approx(sp.entropy + between, abs=1e-12)
    # against a normal: log q is quadratic, so KL = -H(p) - E_p log q from the two moments
    normal = -0.5 * np.log(2 * np.pi * 0.25) - (0.3 - 2 * 0.1 * 0.2 + 0.01) / (2 * 0.25)
    kl_normal = psm.kl_divergence(p, pm.Normal.dist([0.1, 0.1], 0.5)).eval()
    np.testing.assert_allclose(kl_normal, -sp.entropy - normal, atol=1e-13)
    # a discrete MaxEnt against PyMC laws without an exponential-family form
    die_constraints = [psm.mean(4.5)]
    die = psm.MaxEnt.dist(psm.Discrete(range(1, 7)), die_constraints)
    log_p = psm.maxent_solve(psm.Discrete(range(1, 7)), die_constraints).logpdf(np.arange(1, 7))
    uniform = float(psm.kl_divergence(die, pm.DiscreteUniform.dist(1, 6)).eval())
    assert uniform == pytest.approx(np.log(6) + np.exp(log_p) @ log_p, abs=1e-14)
    poisson = float(psm.kl_divergence(die, pm.Poisson.dist(3.0)).eval())
    exact = np.exp(log_p) @ (log_p - stats.poisson(3.0).logpmf(np.arange(1, 7)))
    assert poisson == pytest.approx(exact, abs=1e-14)


def test_kl_divergence_with_a_maxent_variable_refuses_what_is_not_defined():
    die = psm.MaxEnt.dist(psm.Discrete(range(1, 7)), [psm.mean(4.5)])
    with pytest.raises(ValueError, match="base measures differ"):
        psm.kl_divergence(die, pm.Normal.dist())
    with pytest.raises(NotImplementedError, match="With a generic MaxEnt as p"):
        psm.kl_divergence(pm.Normal.dist(), die)


def test_kl_from_a_maxent_variable_to_model_variables_and_supports_it_misses():
    domain, constraints = psm.Interval(-1, 1), [psm.mean(0.2), psm.moment(2, 0.3)]
    p = psm.MaxEnt.dist(domain, constraints)
    solution = psm.maxent_solve(domain, constraints)
    with pm.Model():
        s = pm.HalfNormal("s", 1.0)
        q = pm.Normal("q", 0.0, s)
    kl = psm.kl_divergence(p, q)  # depends on the model's s, not on a copy of it

    def integrand(x):
        log_p = float(solution.logpdf(np.array([x]))[0])
        return np.exp(log_p) * (log_p - stats.norm(0.0, 2.0).logpdf(x))

    assert float(kl.eval({s: 2.0})) == pytest.approx(_quad(integrand, -1, 1), abs=1e-12)
    # an integer q has no mass at half-integers; a scalar p needs a scalar q
    half = psm.MaxEnt.dist(psm.Discrete([0.5, 1.5, 2.5]), [psm.mean(1.2)])
    assert float(psm.kl_divergence(half, pm.Poisson.dist(1.0)).eval()) == np.inf
    assert float(psm.kl_divergence(half, half).eval()) == 0.0
    with pytest.raises(ValueError, match="needs a scalar q"):
        psm.kl_divergence(p, pm.MvNormal.dist(np.zeros(3), np.eye(3)))


def test_base_measure_with_a_model_variable_parameter():
    # the I-projection of N(0, s) onto E[x] = 0.3 is N(0.3, s); s stays the model's variable
    with pm.Model() as model:
        s = pm.HalfNormal("s", 1.0)
        psm.MaxEnt("x", psm.RealLine(), [psm.mean(0.3)], base=pm.Normal.dist(0.0, s))
    logp = model.compile_logp()({"s_log__": np.log(2.0), "x": 0.5})
    expected = stats.halfnorm().logpdf(2.0) + np.log(2.0) + stats.norm(0.3, 2.0).logpdf(0.5)
    assert logp == pytest.approx(expected, abs=1e-12)
