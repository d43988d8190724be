"""Known-answer tests for ``pymc_statmech.maxent.concentration``.

References are independent of the code under test: closed-form rate functions, scipy's exact
binomial / gamma / normal tails, exact integer arithmetic for dice (sums counted by multiplying
polynomials with Python integers), brute-force enumeration of multinomial types (Sanov), and
exact conditioning by counting (Gibbs conditioning).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import optimize, stats
from scipy.special import gammaln, logsumexp

from pymc_statmech.maxent.concentration import (
    domain_of,
    gibbs_conditional,
    rate_function,
    tail_probability,
)
from pymc_statmech.maxent.constraints import InfeasibleConstraintsError, mean
from pymc_statmech.maxent.domains import Circle, Discrete, HalfLine, Integers, Interval, RealLine

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py

FAIR_DIE = (np.arange(1, 7), np.full(6, 1 / 6))
# Jaynes' Brandeis dice: the multiplier of p_k ∝ exp(lambda k) with mean 4.5.
BRANDEIS_LAMBDA = 0.37104894


def _brandeis_law() -> np.ndarray:
    w = np.exp(BRANDEIS_LAMBDA * np.arange(1, 7))
    return w / w.sum()


# ---------------------------------------------------------------------------------------------
# Exact references
# ---------------------------------------------------------------------------------------------
@cache
def _sum_counts(n: int, weights: tuple[int, ...] = (1,) * 6) -> tuple[int, ...]:
    """Coefficients of (w_1 x + ... + w_6 x^6)^n: weighted counts of sums n..6n, exact."""
    if n == 0:
        return (1,)
    prev = _sum_counts(n - 1, weights)
    out = [0] * (len(prev) + len(weights) - 1)
    for i, c in enumerate(prev):
        for j, w in enumerate(weights):
            out[i + j] += c * w
    return tuple(out)


def _log_int(x: int) -> float:
    """log of a (huge) positive Python integer, to double precision."""
    if x == 0:
        return -math.inf
    shift = max(x.bit_length() - 1000, 0)
    return math.log(x >> shift) + shift * math.log(2)


def _die_log_tail(n: int, a: float, weights: tuple[int, ...] = (1,) * 6) -> float:
    """Exact log P(mean of n dice >= a) (a above the mean) or <= a (below), by counting."""
    counts = _sum_counts(n, weights)
    total = sum(weights) ** n
    w = np.asarray(weights, dtype=float)
    mu = float(w @ np.arange(1, 7) / w.sum())
    s = n * a
    if a >= mu:
        first = math.ceil(s - 1e-9) - n
        num = sum(counts[max(first, 0) :])
    else:
        last = math.floor(s + 1e-9) - n
        num = sum(counts[: last + 1]) if last >= 0 else 0
    return _log_int(num) - _log_int(total)


def _rel_err(log_approx, log_exact):
    return np.abs(np.expm1(np.asarray(log_approx) - np.asarray(log_exact)))


# ---------------------------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (pm.Bernoulli.dist(p=0.3), Discrete([0, 1])),
        (pm.Binomial.dist(n=4, p=0.3), Discrete(range(5))),
        (pm.Categorical.dist(p=[0.2, 0.3, 0.5]), Discrete([0, 1, 2])),
        (pm.DiscreteUniform.dist(lower=2, upper=5), Discrete([2, 3, 4, 5])),
        (FAIR_DIE, Discrete(range(1, 7))),
        (([0.5, 2.0, 7.0], [0.5, 0.0, 0.5]), Discrete([0.5, 7.0])),
        (pm.Poisson.dist(3.0), Integers(0)),
        (pm.NegativeBinomial.dist(n=3, p=0.4), Integers(0)),
        (pm.Geometric.dist(p=0.2), Integers(1)),
        (pm.Normal.dist(0.0, 1.0), RealLine()),
        (pm.Exponential.dist(2.0), HalfLine(0.0)),
        (pm.Gamma.dist(2.0, 3.0), HalfLine(0.0)),
        (pm.Beta.dist(2.0, 3.0), Interval(0.0, 1.0)),
        (pm.Uniform.dist(-1.0, 3.0), Interval(-1.0, 3.0)),
        (pm.Pareto.dist(alpha=3.0, m=1.5), HalfLine(1.5)),
        (pm.VonMises.dist(0.0, 2.0), Circle()),
    ],
    ids=lambda v: type(v).__name__,
)
def test_domain_of(base, expected):
    assert repr(domain_of(base)) == repr(expected)


def test_domain_errors():
    with pytest.raises(NotImplementedError, match="upper"):
        domain_of(pm.Truncated.dist(pm.Normal.dist(0, 1), upper=1.0))
    with pytest.raises(ValueError, match="scalar"):
        domain_of(pm.Poisson.dist([1.0, 2.0]))
    with pytest.raises(TypeError, match="PyMC distribution"):
        domain_of("poisson")
    with pytest.raises(ValueError, match="two atoms"):
        domain_of(([1.0, 2.0], [1.0, 0.0]))


# ---------------------------------------------------------------------------------------------
# Rate functions against closed forms
# ---------------------------------------------------------------------------------------------
def _bernoulli_rate(a, p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, a * np.log(a / p), 0.0) + np.where(
            a < 1, (1 - a) * np.log((1 - a) / (1 - p)), 0.0
        )


CLOSED_FORMS = {
    "bernoulli": (
        pm.Bernoulli.dist(p=0.3),
        np.array([1e-6, 0.01, 0.1, 0.25, 0.35, 0.5, 0.8, 0.999, 1 - 1e-9]),
        lambda a: _bernoulli_rate(a, 0.3),
    ),
    "poisson": (
        pm.Poisson.dist(3.0),  # stored as float32 by PyMC; the rate casts it back
        np.array([1e-3, 0.5, 1.0, 2.9, 3.1, 7.0, 30.0, 120.0]),
        lambda a: a * np.log(a / 3.0) - a + 3.0,
    ),
    "normal": (
        pm.Normal.dist(0.5, 2.0),
        np.array([-20.0, -3.0, 0.0, 0.49, 0.6, 4.0, 25.0]),
        lambda a: (a - 0.5) ** 2 / (2 * 2.0**2),
    ),
    "exponential": (
        pm.Exponential.dist(scale=2.0),
        np.array([1e-3, 0.1, 1.0, 1.9, 2.5, 10.0, 60.0]),
        lambda a: a / 2.0 - 1 - np.log(a / 2.0),
    ),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_rate_closed_form(name):
    base, a, exact = CLOSED_FORMS[name]
    rate = rate_function(base, None, a)
    assert rate.shape == a.shape
    # Measured max abs error: 1e-15 (Bernoulli), 1.4e-14 (Poisson, Normal), 4e-14 (Exponential).
    np.testing.assert_allclose(rate, exact(a), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize(
    ("base", "mu", "lower", "at_lower", "upper", "at_upper"),
    [
        (pm.Bernoulli.dist(p=0.3), 0.3, 0.0, -math.log(0.7), 1.0, -math.log(0.3)),
        (pm.Poisson.dist(3.0), 3.0, 0.0, 3.0, None, None),
        (pm.Exponential.dist(scale=2.0), 2.0, 0.0, math.inf, None, None),
        (pm.Normal.dist(0.5, 2.0), 0.5, None, None, None, None),
        (FAIR_DIE, 3.5, 1.0, math.log(6), 6.0, math.log(6)),
    ],
    ids=["bernoulli", "poisson", "exponential", "normal", "die"],
)
def test_rate_mean_boundary_outside(base, mu, lower, at_lower, upper, at_upper):
    levels = [mu]
    expected = [0.0]
    if lower is not None:
        levels += [lower, lower - 0.5]
        expected += [at_lower, math.inf]
    if upper is not None:
        levels += [upper, upper + 0.5]
        expected += [at_upper, math.inf]
    rate = rate_function(base, None, np.array(levels))
    assert rate[0] == 0.0  # exactly
    np.testing.assert_allclose(rate[1:], expected[1:], rtol=1e-13)
    # The rate is continuous at the ends of a finite range: -log q(T = end) is the limit.
    if upper is not None and np.isfinite(at_upper):
        near = rate_function(base, None, upper - 1e-7)
        assert at_upper - 1e-5 < near < at_upper


def test_rate_binomial_and_scalar_input():
    # Binomial(m, p): I(a) = m * I_Bernoulli(a / m); scalar in, 0-d out.
    a = np.array([[1.0, 2.0], [5.0, 9.5]])
    rate = rate_function(pm.Binomial.dist(n=10, p=0.3), None, a)
    np.testing.assert_allclose(rate, 10 * _bernoulli_rate(a / 10, 0.3), rtol=1e-12, atol=1e-13)
    assert np.ndim(rate_function(pm.Binomial.dist(n=10, p=0.3), None, 4.0)) == 0


def test_rate_statistics():
    # Chi-square: T = Z^2, Z ~ N(0, 1): I(a) = (a - 1 - log a) / 2.
    a = np.array([0.05, 0.5, 2.0, 8.0])
    rate = rate_function(pm.Normal.dist(0.0, 1.0), lambda x: x**2, a)
    np.testing.assert_allclose(rate, (a - 1 - np.log(a)) / 2, rtol=1e-12, atol=1e-12)
    assert np.all(np.isinf(rate_function(pm.Normal.dist(0.0, 1.0), lambda x: x**2, [0.0, -1.0])))
    # The zero indicator of a Poisson(4) is Bernoulli(e^-4): ends of a bounded statistic.
    p0 = math.exp(-4.0)
    zero = lambda x: pt.cast(pt.eq(x, 0), "float64")  # noqa: E731
    a = np.array([0.0, 0.01, 0.5, 1.0])
    np.testing.assert_allclose(
        rate_function(pm.Poisson.dist(4.0), zero, a), _bernoulli_rate(a, p0), rtol=1e-11
    )
    # A Categorical with T(x) = x + 1 is the die.
    cat = pm.Categorical.dist(p=np.full(6, 1 / 6))
    a = np.array([1.5, 3.0, 4.5, 5.9])
    np.testing.assert_allclose(
        rate_function(cat, lambda x: x + 1, a), rate_function(FAIR_DIE, None, a), rtol=1e-12
    )


# ---------------------------------------------------------------------------------------------
# Tail probabilities: Chernoff, Bahadur-Rao and exact
# ---------------------------------------------------------------------------------------------
def test_binomial_tails():
    p = 0.3
    coin = pm.Bernoulli.dist(p=p)
    a = np.array([0.1, 0.2, 0.45, 0.5, 0.6, 0.8])
    n = np.array([[10], [100], [1000]])  # broadcast against a
    k_up, k_down = np.ceil(n * a - 1e-9), np.floor(n * a + 1e-9)
    ref = np.where(a >= p, stats.binom.logsf(k_up - 1, n, p), stats.binom.logcdf(k_down, n, p))
    exact = tail_probability(coin, None, a, n, "exact", log=True)
    chernoff = tail_probability(coin, None, a, n, "chernoff", log=True)
    br = tail_probability(coin, None, a, n, "bahadur_rao", log=True)
    # Measured: exact agrees with scipy to 1.3e-12 (relative) at n = 1000.
    assert _rel_err(exact, ref).max() < 1e-11
    assert np.all(chernoff >= ref)
    errors = _rel_err(br, ref)
    # Measured max relative errors 0.53 (n=10), 0.11 (n=100), 0.014 (n=1000): O(1/n).
    assert np.all(errors[1] < errors[0]) and np.all(errors[2] < errors[1])
    assert errors[2].max() < 0.05
    assert np.all(errors[2] < 2.5 * errors[1] / 10)  # the O(1/n) rate, with slack


def test_dice_tails_against_exact_integer_counts():
    a = np.array([2.0, 2.5, 4.0, 4.5, 5.0, 5.5])
    cat = pm.Categorical.dist(p=np.full(6, 1 / 6))
    plus_one = lambda x: x + 1  # noqa: E731
    ns = np.array([[10], [50], [100]])
    ref = np.array([[_die_log_tail(int(n), level) for level in a] for n in ns[:, 0]])
    exact = tail_probability(FAIR_DIE, None, a, ns, "exact", log=True)
    assert _rel_err(exact, ref).max() < 1e-11
    assert np.all(tail_probability(cat, plus_one, a, ns, "chernoff", log=True) >= ref)
    errors = _rel_err(tail_probability(cat, plus_one, a, ns, "bahadur_rao", log=True), ref)
    # Measured: exact to 5e-14; Bahadur-Rao max relative error 0.50, 0.16, 0.088 (n = 10, 50, 100).
    assert np.all(np.diff(errors, axis=0) < 0)
    # n = 1000 against the exact convolution (tails down to 1e-366, kept in log space).
    exact = tail_probability(FAIR_DIE, None, a, 1000, "exact", log=True)
    assert exact.min() < -800  # below the float64 range
    chernoff = tail_probability(FAIR_DIE, None, a, 1000, "chernoff", log=True)
    br = tail_probability(FAIR_DIE, None, a, 1000, "bahadur_rao", log=True)
    assert np.all(chernoff >= exact)
    err_1000 = _rel_err(br, exact)
    # Measured at n = 1000: <= 1.0e-2 relative (largest at a = 4.0, nearest the mean).
    assert err_1000.max() < 0.05
    assert np.all(err_1000 < errors[-1])


def test_loaded_die_exact():
    # Integer weights 1..6 (probabilities k / 21), checked to n = 60 by exact counting.
    weights = (1, 2, 3, 4, 5, 6)
    base = (np.arange(1, 7), np.array(weights) / 21)
    a = np.array([3.0, 4.0, 5.0, 5.5])  # the mean is 13/3
    for n in (7, 60):
        ref = np.array([_die_log_tail(n, level, weights) for level in a])
        assert _rel_err(tail_probability(base, None, a, n, "exact", log=True), ref).max() < 1e-11


def test_lattice_rounding_and_ends():
    coin = pm.Bernoulli.dist(p=0.3)
    # n a = 5.5 is off the lattice: {S >= 5.5} = {S >= 6}, so Bahadur-Rao uses a = 0.6.
    for method in ("bahadur_rao", "exact"):
        off = tail_probability(coin, None, 0.55, 10, method)
        on = tail_probability(coin, None, 0.6, 10, method)
        assert off == pytest.approx(on, rel=1e-12)
    # The lattice factor lambda h / (1 - exp(-lambda h)) > 1 is what span=0 drops.
    lattice = tail_probability(coin, None, 0.6, 100, "bahadur_rao")
    plain = tail_probability(coin, None, 0.6, 100, "bahadur_rao", span=0)
    lam = math.log(0.6 / 0.4 * 0.7 / 0.3)
    assert lattice / plain == pytest.approx(lam / -math.expm1(-lam), rel=1e-9)
    # At the top of the range every method gives q(1)^n; beyond it, 0.
    for method in ("chernoff", "bahadur_rao", "exact"):
        values = tail_probability(coin, None, [1.0, 1.2, 0.0, -0.1], 20, method)
        np.testing.assert_allclose(values, [0.3**20, 0.0, 0.7**20, 0.0], rtol=1e-12)
    # Broadcasting of a against n; at the mean Chernoff is 1 and Bahadur-Rao the CLT 1/2.
    grid = tail_probability(coin, None, np.array([[0.3], [0.5]]), np.array([10, 100, 1000]))
    assert grid.shape == (2, 3) and np.all(grid[0] == 1.0)
    assert tail_probability(coin, None, 0.3, 50, "bahadur_rao") == 0.5


@pytest.mark.parametrize(
    ("base", "a", "reference"),
    [
        (  # sum of n Exp(scale 2) is Gamma(n, scale 2)
            pm.Exponential.dist(scale=2.0),
            np.array([0.5, 1.5, 3.0, 4.0]),
            lambda a, n: np.where(
                a >= 2.0,
                stats.gamma.logsf(n * a, n, scale=2.0),
                stats.gamma.logcdf(n * a, n, scale=2.0),
            ),
        ),
        (  # sum of n N(0.5, 2^2) is N(0.5 n, 4 n)
            pm.Normal.dist(0.5, 2.0),
            np.array([-1.0, 0.0, 1.5, 3.0]),
            lambda a, n: np.where(
                a >= 0.5,
                stats.norm.logsf(n * a, 0.5 * n, 2.0 * np.sqrt(n)),
                stats.norm.logcdf(n * a, 0.5 * n, 2.0 * np.sqrt(n)),
            ),
        ),
    ],
    ids=["exponential", "normal"],
)
def test_continuous_tails(base, a, reference):
    ns = np.array([[10], [100], [1000]])  # broadcast against a: one solve per method
    ref = reference(a, ns)
    assert np.all(tail_probability(base, None, a, ns, "chernoff", log=True) >= ref)
    errors = _rel_err(tail_probability(base, None, a, ns, "bahadur_rao", log=True), ref)
    # Measured max relative error at n = 10, 100, 1000: exponential 0.55, 0.099, 0.012;
    # normal 0.72, 0.13, 0.016.
    assert np.all(np.diff(errors, axis=0) < 0)
    assert errors[-1].max() < 0.05


def test_tail_errors():
    with pytest.raises(ValueError, match="finite lattice law"):
        tail_probability(pm.Poisson.dist(3.0), None, 5.0, 10, "exact")
    with pytest.raises(ValueError, match="finite lattice law"):
        tail_probability(([0.0, 1.0, math.sqrt(2)], [0.3, 0.3, 0.4]), None, 1.0, 10, "exact")
    with pytest.raises(ValueError, match="method"):
        tail_probability(FAIR_DIE, None, 4.5, 10, "saddlepoint")
    with pytest.raises(ValueError, match="n must be"):
        tail_probability(FAIR_DIE, None, 4.5, 0)


# ---------------------------------------------------------------------------------------------
# Sanov: the types of n dice, enumerated
# ---------------------------------------------------------------------------------------------
@cache
def _compositions(n: int, k: int) -> np.ndarray:
    """All (n_1, ..., n_k) >= 0 with sum n, one per row (int8: n <= 127)."""
    if k == 1:
        return np.array([[n]], dtype=np.int8)
    blocks = []
    for first in range(n + 1):
        rest = _compositions(n - first, k - 1)
        blocks.append(np.column_stack([np.full(len(rest), first, dtype=np.int8), rest]))
    return np.vstack(blocks)


def _sanov_enumeration(n: int, level: float) -> tuple[float, float]:
    """log P(mean >= level) over all types of n fair dice, and min KL(type || uniform)."""
    types = _compositions(n, 6)
    types = types[types @ np.arange(1, 7) >= level * n - 1e-9]
    log_fact = gammaln(np.arange(n + 1) + 1.0)
    log_p = np.full(len(types), gammaln(n + 1.0) - n * math.log(6))
    kl = np.zeros(len(types))
    for j in range(6):
        counts = types[:, j].astype(np.int64)
        log_p -= log_fact[counts]
        f = counts / n
        kl += np.where(counts > 0, f * np.log(np.where(counts > 0, 6 * f, 1.0)), 0.0)
    return float(logsumexp(log_p)), float(kl.min())


def test_sanov_rate_of_dice():
    rate = float(rate_function(FAIR_DIE, None, 4.5))
    # I(4.5) = 4.5 lambda - log E exp(lambda X) with Jaynes' multiplier.
    lam = BRANDEIS_LAMBDA
    assert rate == pytest.approx(
        4.5 * lam - math.log(np.exp(lam * np.arange(1, 7)).mean()), abs=1e-8
    )
    ns = np.array([12, 24, 36, 48, 60])
    # Bahadur-Rao predicts the gap: -(1/n) log P_BR - I.
    predicted = -tail_probability(FAIR_DIE, None, 4.5, ns, "bahadur_rao", log=True) / ns - rate
    gaps = []
    for n, expected_gap in zip(ns, predicted, strict=True):
        log_p, min_kl = _sanov_enumeration(int(n), 4.5)
        # The two views agree: enumeration of types and convolution of the pmf.
        assert log_p == pytest.approx(_die_log_tail(int(n), 4.5), rel=1e-12)
        # Sanov: the best type in the set is at least the I-projection's KL, and close to it.
        assert rate - 1e-12 <= min_kl < rate + 0.05
        gap = -log_p / n - rate
        assert abs(gap - expected_gap) < 0.1 * gap
        gaps.append(gap)
    gap = np.array(gaps)
    assert np.all(gap > 0) and np.all(np.diff(gap) < 0)
    # Measured gap n / log n: 0.62, 0.58, 0.56, 0.55, 0.55 (-> 1/2, the sqrt(n) prefactor).
    ratio = gap * ns / np.log(ns)
    assert np.all((ratio > 0.4) & (ratio < 0.8))


# ---------------------------------------------------------------------------------------------
# Gibbs conditioning: exact conditional law of one die given the sum
# ---------------------------------------------------------------------------------------------
def _exact_conditional(n: int, level: float) -> np.ndarray:
    """P(X_1 = k | X_1 + ... + X_n = n level) for fair dice, by counting."""
    s = round(n * level)
    rest = _sum_counts(n - 1)  # sums n - 1 .. 6(n - 1)
    ways = [rest[s - k - (n - 1)] if 0 <= s - k - (n - 1) < len(rest) else 0 for k in range(1, 7)]
    total = sum(ways)
    return np.array([w / total for w in ways])


def test_gibbs_conditional_dice():
    dist = gibbs_conditional(FAIR_DIE, [mean(4.5)])
    law = np.exp(pm.logp(dist, np.arange(1, 7)).eval())
    np.testing.assert_allclose(law, _brandeis_law(), rtol=1e-7)
    # The multiplier: successive log-ratios of the limit law are lambda.
    np.testing.assert_allclose(np.diff(np.log(law)), BRANDEIS_LAMBDA, atol=1e-8)
    tv = []
    for n in (20, 30, 40, 50, 60):
        exact = _exact_conditional(n, 4.5)
        assert exact.sum() == pytest.approx(1.0)
        tv.append(0.5 * np.abs(exact - law).sum())
    tv = np.array(tv)
    # Measured TV: 0.0111 (n=20), 0.0073, 0.0055, 0.0044, 0.0036 (n=60): 0.22 / n.
    assert np.all(np.diff(tv) < 0)
    assert tv[-1] < 0.01
    assert 2.0 < tv[0] / tv[-1] < 4.0  # O(1/n): n tripled
    # Also from a PyMC base (Categorical on 0..5, mean 3.5 is 4.5 - 1) and as draws.
    shifted = gibbs_conditional(pm.Categorical.dist(p=np.full(6, 1 / 6)), mean(3.5))
    np.testing.assert_allclose(
        np.exp(pm.logp(shifted, np.arange(6)).eval()), _brandeis_law(), rtol=1e-7
    )
    draws = pm.draw(dist, draws=20000, random_seed=7)
    assert set(np.unique(draws)) <= set(range(1, 7))
    assert draws.mean() == pytest.approx(4.5, abs=0.03)


@pytest.mark.parametrize(
    ("base", "pmf", "support"),
    [
        (pm.Binomial.dist(n=12, p=0.35), stats.binom(12, 0.35), np.arange(13)),
        (pm.BetaBinomial.dist(alpha=2.0, beta=3.0, n=10), stats.betabinom(10, 2, 3), np.arange(11)),
        (pm.HyperGeometric.dist(N=20, k=7, n=12), stats.hypergeom(20, 7, 12), np.arange(8)),
        (pm.DiscreteUniform.dist(2, 7), stats.randint(2, 8), np.arange(2, 8)),
    ],
    ids=["binomial", "betabinomial", "hypergeometric", "discreteuniform"],
)
def test_rate_finite_laws_against_a_scalar_dual(base, pmf, support):
    # Independent reference: scipy's pmf and a bracketing root of the tilted mean.
    log_q = pmf.logpmf(support)
    keep = np.isfinite(log_q)
    x, log_q = support[keep].astype(float), log_q[keep]

    def reference(level):
        def tilted_mean(lam):
            s = lam * x + log_q
            return np.exp(s - logsumexp(s)) @ x - level

        lam = optimize.brentq(tilted_mean, -60, 60, xtol=1e-15)
        return lam * level - logsumexp(lam * x + log_q)

    levels = np.array([x.min() + 0.3, pmf.mean() - 1.1, pmf.mean() + 0.7, x.max() - 0.2])
    np.testing.assert_allclose(
        rate_function(base, None, levels), [reference(v) for v in levels], rtol=1e-11, atol=1e-13
    )


def test_heavy_tail_is_reported():
    # Log-normal: E exp(lambda X) is infinite for lambda > 0; below the mean the rate exists.
    base = pm.LogNormal.dist(0.0, 1.0)
    assert np.all(np.isfinite(rate_function(base, None, [0.5, 1.0])))
    with pytest.raises(InfeasibleConstraintsError, match="Cramér's condition"):
        rate_function(base, None, 5.0)
