"""Known-answer tests for :func:`pymc_statmech.maxent.elicit.maxent_family`.

Every answer is checked against an independent computation: a 50-digit mpmath solution of the
same KKT system (Gamma), closed forms (Normal, Student t), SciPy root scans over the finite
feasible set (fixed-mean Gamma, Binomial), and for the others the first- and second-order
optimality conditions evaluated with SciPy's own CDFs and entropies along the constraint
surface (plus an independent SLSQP solve).
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pymc as pm
import pytest
from scipy import optimize, stats

from pymc_statmech.maxent.elicit import ElicitedPrior, maxent_family

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _interval_mass(frozen, lower, upper):
    return frozen.cdf(upper) - frozen.cdf(lower)


def _curve_maximum_offset(frozen, a, b, lower, upper, mass, step, bracket=0.05):
    """Where entropy peaks along the mass constraint, relative to the point (a, b).

    Moves the first parameter to a - step and a + step, puts the second back on the
    constraint with SciPy's CDF, and fits a parabola through the three SciPy entropies.
    Returns (offset of the vertex in units of the first parameter, entropy drops at +-step).
    """

    def on_curve(a_):
        def gap(b_):
            return _interval_mass(frozen(a_, b_), lower, upper) - mass

        return optimize.brentq(gap, b * (1 - bracket), b * (1 + bracket), xtol=1e-15, rtol=1e-15)

    h0 = frozen(a, b).entropy()
    h_minus, h_plus = (frozen(a + s, on_curve(a + s)).entropy() for s in (-step, step))
    curvature = 2 * h0 - h_minus - h_plus
    return step * (h_plus - h_minus) / (2 * curvature), (h0 - h_minus, h0 - h_plus)


def _assert_entropy_maximum(frozen, a, b, lower, upper, mass, step):
    offset, drops = _curve_maximum_offset(frozen, a, b, lower, upper, mass, step)
    assert min(drops) > 0  # a strict maximum along the constraint
    # stationary there: the vertex of the parabola lies within the O(step^2) bias of the fit
    assert abs(offset) < 1e-7 * abs(a)


# --- Gamma against a 50-digit mpmath solution of the same KKT system -----------------------------
def _mpmath_gamma_kkt(lower, upper, mass):
    mp.mp.dps = 50
    lower, upper, mass = mp.mpf(lower), mp.mpf(upper), mp.mpf(mass)

    def g(a, b):
        return mp.gammainc(a, b * lower, b * upper, regularized=True) - mass

    def equations(a, b, nu):
        dh_da = 1 + (1 - a) * mp.polygamma(1, a)  # H = a - log b + lgamma(a) + (1 - a) psi(a)
        dh_db = -1 / b
        dg_da = mp.diff(lambda x: g(x, b), a)
        dg_db = mp.diff(lambda y: g(a, y), b)
        return [dh_da - nu * dg_da, dh_db - nu * dg_db, g(a, b)]

    a, b, _ = mp.findroot(equations, (mp.mpf(3), mp.mpf("0.6"), mp.mpf(-3)))
    entropy = a - mp.log(b) + mp.loggamma(a) + (1 - a) * mp.digamma(a)
    return float(a), float(b), float(entropy)


def test_gamma_matches_mpmath_kkt_solution():
    prior = maxent_family(pm.Gamma, 1, 10, 0.9)
    alpha, beta, entropy = _mpmath_gamma_kkt(1, 10, "0.9")
    assert prior.params["alpha"] == pytest.approx(alpha, rel=1e-12)
    assert prior.params["beta"] == pytest.approx(beta, rel=1e-12)
    assert prior.entropy == pytest.approx(entropy, rel=1e-13)
    assert abs(prior.mass - 0.9) < 1e-12
    exact = stats.gamma(alpha, scale=1 / beta)
    assert abs(_interval_mass(exact, 1, 10) - prior.mass) < 1e-12
    assert np.max(np.abs(prior.residuals)) <= 1e-10


def test_result_object():
    prior = maxent_family(pm.Gamma, 1, 10, 0.9)
    assert isinstance(prior, ElicitedPrior)
    assert set(prior.params) == {"alpha", "beta"}
    assert all(isinstance(v, float) for v in prior.params.values())
    assert prior.residuals.shape == (3,) and prior.multipliers.shape == (1,)
    assert prior.iterations >= 1
    text = repr(prior)
    assert text.startswith("ElicitedPrior(Gamma(alpha=3.33434, beta=0.597915)")
    assert "nats" in text and "P(1 <= X <= 10) = 0.9" in text
    with pytest.raises(AttributeError):
        prior.entropy = 0.0  # frozen
    # the PyMC member is the one described
    x = np.array([0.5, 3.0, 12.0])
    logp = pm.logp(prior.distribution, x).eval()
    np.testing.assert_allclose(
        logp, stats.gamma(prior.params["alpha"], scale=1 / prior.params["beta"]).logpdf(x)
    )
    with pm.Model() as model:
        prior.to_model("x", shape=2)
    assert model["x"].owner.op == prior.distribution.owner.op
    assert tuple(model["x"].shape.eval()) == (2,)
    again = maxent_family(pm.Gamma, 1, 10, 0.9, initial={"alpha": 20.0, "beta": 3.0})
    assert again.params["alpha"] == pytest.approx(prior.params["alpha"], rel=1e-12)


# --- Closed forms --------------------------------------------------------------------------------
@pytest.mark.parametrize(("lower", "upper", "mass"), [(-1.0, 3.0, 0.9), (2.0, 2.5, 0.5)])
def test_normal_is_centred_with_the_normal_quantile(lower, upper, mass):
    prior = maxent_family(pm.Normal, lower, upper, mass)
    sigma = (upper - lower) / 2 / stats.norm.ppf((1 + mass) / 2)
    assert abs(prior.params["mu"] - (lower + upper) / 2) <= 1e-10 * (upper - lower)
    assert prior.params["sigma"] == pytest.approx(sigma, rel=1e-10)
    assert prior.entropy == pytest.approx(stats.norm(0, sigma).entropy(), rel=1e-12)
    assert abs(prior.mass - mass) < 1e-12


def test_student_t_with_fixed_nu():
    # symmetric interval: centred, with the Student t quantile (a fixed-parameter case)
    prior = maxent_family(pm.StudentT, -2, 2, 0.9, fixed={"nu": 4})
    assert prior.params["nu"] == 4.0
    assert abs(prior.params["mu"]) < 1e-12
    assert prior.params["sigma"] == pytest.approx(2 / stats.t(4).ppf(0.95), rel=1e-10)
    assert prior.entropy == pytest.approx(stats.t(4, scale=prior.params["sigma"]).entropy())
    assert abs(_interval_mass(stats.t(4, scale=prior.params["sigma"]), -2, 2) - 0.9) < 1e-12
    # asymmetric about the support: the same family on a shifted interval
    prior = maxent_family(pm.StudentT, 1, 9, 0.8, fixed={"nu": 4})
    assert prior.params["mu"] == pytest.approx(5, rel=1e-12)
    assert prior.params["sigma"] == pytest.approx(4 / stats.t(4).ppf(0.9), rel=1e-10)
    frozen = stats.t(4, prior.params["mu"], prior.params["sigma"])
    assert abs(_interval_mass(frozen, 1, 9) - 0.8) < 1e-12


# --- Optimality checked with SciPy along the constraint surface ---------------------------------
def _slsqp(frozen, start, lower, upper, mass):
    """Independent solve: SLSQP on SciPy's entropy and CDF, parameters on the log scale."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = optimize.minimize(
            lambda t: -frozen(*np.exp(t)).entropy(),
            np.log(start),
            method="SLSQP",
            constraints={
                "type": "eq",
                "fun": lambda t: _interval_mass(frozen(*np.exp(t)), lower, upper) - mass,
            },
            options={"ftol": 1e-15, "maxiter": 500},
        )
    assert result.success
    return np.exp(result.x)


def test_beta_is_the_entropy_maximum():
    prior = maxent_family(pm.Beta, 0.1, 0.7, 0.9)
    a, b = prior.params["alpha"], prior.params["beta"]
    assert abs(_interval_mass(stats.beta(a, b), 0.1, 0.7) - 0.9) < 1e-12
    assert prior.entropy == pytest.approx(stats.beta(a, b).entropy(), rel=1e-12)
    _assert_entropy_maximum(stats.beta, a, b, 0.1, 0.7, 0.9, step=1e-4 * a)
    np.testing.assert_allclose(_slsqp(stats.beta, (2.0, 2.0), 0.1, 0.7, 0.9), [a, b], rtol=1e-5)


def test_lognormal_is_the_entropy_maximum():
    prior = maxent_family(pm.LogNormal, 1, 10, 0.9)
    mu, sigma = prior.params["mu"], prior.params["sigma"]

    def frozen(sigma_, scale):
        return stats.lognorm(sigma_, scale=scale)

    assert abs(_interval_mass(frozen(sigma, math.exp(mu)), 1, 10) - 0.9) < 1e-12
    assert prior.entropy == pytest.approx(frozen(sigma, math.exp(mu)).entropy(), rel=1e-12)
    _assert_entropy_maximum(frozen, sigma, math.exp(mu), 1, 10, 0.9, step=1e-4 * sigma)
    slsqp = _slsqp(frozen, (1.0, 3.0), 1, 10, 0.9)
    np.testing.assert_allclose(slsqp, [sigma, math.exp(mu)], rtol=1e-5)


def test_gamma_with_fixed_mean():
    # Two free parameters, two constraints: the feasible set is the roots of one equation along
    # beta = alpha / mean, found here with SciPy's CDF; the answer is the root of largest entropy.
    mean = 4.0
    prior = maxent_family(pm.Gamma, 1, 10, 0.9, fixed={"mean": mean})

    def frozen(alpha):
        return stats.gamma(alpha, scale=mean / alpha)

    def gap(alpha):
        return _interval_mass(frozen(alpha), 1, 10) - 0.9

    grid = np.geomspace(0.05, 500, 400)
    values = [gap(a) for a in grid]
    roots = [
        optimize.brentq(gap, a0, a1, xtol=1e-15, rtol=1e-15)
        for a0, a1, g0, g1 in zip(grid[:-1], grid[1:], values[:-1], values[1:], strict=True)
        if g0 * g1 < 0
    ]
    best = max(roots, key=lambda a: frozen(a).entropy())
    assert prior.params["alpha"] == pytest.approx(best, rel=1e-10)
    assert prior.params["alpha"] / prior.params["beta"] == pytest.approx(mean, rel=1e-12)
    assert abs(_interval_mass(frozen(prior.params["alpha"]), 1, 10) - 0.9) < 1e-12
    assert prior.residuals.shape == (4,)


def test_binomial_with_fixed_n():
    # A discrete family with a fixed parameter: the mass P(2 <= X <= 7) (endpoints included)
    # equals 0.9 at finitely many p; the answer is the one of largest entropy.
    prior = maxent_family(pm.Binomial, 2, 7, 0.9, fixed={"n": 10})
    assert prior.params["n"] == 10 and isinstance(prior.params["n"], int)

    def gap(p):
        return stats.binom(10, p).cdf(7) - stats.binom(10, p).cdf(1) - 0.9

    grid = np.linspace(1e-6, 1 - 1e-6, 1001)
    values = gap(grid)
    roots = [
        optimize.brentq(gap, p0, p1, xtol=1e-16, rtol=1e-15)
        for p0, p1, g0, g1 in zip(grid[:-1], grid[1:], values[:-1], values[1:], strict=True)
        if g0 * g1 < 0
    ]
    assert len(roots) == 2
    best = max(roots, key=lambda p: stats.binom(10, p).entropy())
    assert prior.params["p"] == pytest.approx(best, rel=1e-10)
    assert abs(gap(prior.params["p"])) < 1e-12
    assert prior.entropy == pytest.approx(stats.binom(10, best).entropy(), rel=1e-12)


# --- Bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((pm.Uniform, 0, 1), {}, r"no parameter table for family=Uniform; supported: .*pm\.Gamma"),
        ((pm.Gamma, 1, 10, 1.0), {}, r"mass must be in \(0, 1\), got 1\.0"),
        ((pm.Gamma, 1, 10, 0.0), {}, r"mass must be in \(0, 1\)"),
        ((pm.Gamma, 10, 1), {}, r"lower must be < upper, got lower=10\.0, upper=1\.0"),
        ((pm.Gamma, 1, math.inf), {}, r"upper must be finite"),
        ((pm.Gamma, "a", 2), {}, r"lower must be a number"),
        ((pm.Gamma, -1, 10), {}, r"\[-1, 10\] is not inside the support \[0, inf\] of Gamma"),
        ((pm.Beta, 0.2, 1.5), {}, r"not inside the support \[0, 1\] of Beta"),
        ((pm.Beta, 0, 1), {}, r"whole support of Beta.*narrow the interval"),
        ((pm.Poisson, 2.2, 2.8), {}, r"contains no integer"),
        ((pm.Gamma, 1, 10), {"fixed": {"shape": 2}}, r"unknown fixed key\(s\) \['shape'\]"),
        ((pm.Gamma, 1, 10), {"fixed": {"alpha": -2}}, r"fixed\['alpha'\] = -2\.0 .* must be > 0"),
        (
            (pm.Gamma, 1, 10),
            {"fixed": {"alpha": 2, "mean": 4}},
            r"1 free parameter\(s\) \['beta'\] but 2 equality constraint\(s\) \(the mass, mean\)",
        ),
        ((pm.Binomial, 2, 7), {}, r"parameter 'n' is a count.*fixed=\{'n': 10\}"),
        ((pm.Binomial, 2, 7), {"fixed": {"n": 5}}, r"not inside the support \[0, 5\]"),
        ((pm.Binomial, 2, 7), {"fixed": {"n": 10.5}}, r"must be a non-negative integer"),
        ((pm.Poisson, 2, 8), {"fixed": {"median": 4}}, r"median.*continuous family"),
        ((pm.Gamma, 1, 10), {"fixed": {"mean": -1}}, r"fixed\['mean'\] = -1\.0 must lie inside"),
        ((pm.Gamma, 1, 10), {"fixed": {"std": 0}}, r"fixed\['std'\] must be > 0"),
        ((pm.Gamma, 1, 10), {"initial": {"mu": 1}}, r"initial has key\(s\) \['mu'\]"),
        ((pm.Gamma, 1, 10), {"initial": {"alpha": -1}}, r"initial\['alpha'\] = -1 .* > 0"),
        ((pm.Gamma, 1, 10), {"tol": 0}, r"tol must be > 0"),
    ],
)
def test_bad_input_raises_clearly(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        maxent_family(*args, **kwargs)


def test_infeasible_constraints_raise_clearly():
    # P(2 <= X <= 3) of a Binomial(10, p) never exceeds 0.5263 (at p = 0.2445)
    with pytest.raises(ValueError, match=r"no member of Binomial .*'n': 10\}.* about 0\.526"):
        maxent_family(pm.Binomial, 2, 3, 0.9, fixed={"n": 10})
    # a positive variable with 90% of its mass above 1 has a mean above 0.9
    with pytest.raises(ValueError, match=r"no KKT point of Gamma .* lower the mass"):
        maxent_family(pm.Gamma, 1, 10, 0.9, fixed={"mean": 0.5})


def test_poisson_interval_mass_has_a_ceiling():
    # P(2 <= X <= 8) of a Poisson peaks near 0.8915, so "90% in [2, 8]" has no answer ...
    mus = np.linspace(0.5, 20, 4001)
    ceiling = np.max(stats.poisson(mus).cdf(8) - stats.poisson(mus).cdf(1))
    assert 0.89 < ceiling < 0.9
    with pytest.raises(ValueError, match=r"no member of Poisson .* about 0\.891"):
        maxent_family(pm.Poisson, 2, 8, 0.9)
    # ... while 85% is reached at two rates, and the larger one has the larger entropy
    prior = maxent_family(pm.Poisson, 2, 8, 0.85)

    def gap(mu):
        return stats.poisson(mu).cdf(8) - stats.poisson(mu).cdf(1) - 0.85

    peak = mus[np.argmax(stats.poisson(mus).cdf(8) - stats.poisson(mus).cdf(1))]
    mu = optimize.brentq(gap, peak, 20, xtol=1e-15, rtol=1e-15)
    assert prior.params["mu"] == pytest.approx(mu, rel=1e-10)
    assert abs(gap(prior.params["mu"])) < 1e-12
    assert prior.entropy == pytest.approx(stats.poisson(mu).entropy(), rel=1e-12)
