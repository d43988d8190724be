"""Property-based probes of every public entry point with bad and extreme inputs (issue 16).

Hypothesis draws the inputs: NaN, +-inf, signed zeros, subnormals, 1e+-300, values on and
just past a domain's boundary, wrong lengths and ranks, wrong types, negative temperatures.
Each call runs under a time limit and an address-space cap (:func:`guarded`), and must end in
one of two ways:

* a *named* error: an exception class of ``pymc_statmech``, PyMC's ``ParameterValueError``
  (its own logp convention), or a ``ValueError`` / ``TypeError`` raised by a check of ours (the
  innermost frame in ``pymc_statmech`` or in a graph assertion, ``CheckAndRaise``), never a raw
  NumPy or PyTensor failure deep in the graph;
* a value equal to an independent reference: scipy.stats (built from the natural parameter as
  in ``test_families``), exact enumeration, a closed form. Where the reference is undefined
  (scipy returns NaN for invalid parameters) the call must raise.

``test_every_public_entry_point_is_probed`` keeps the list complete: a new public name without
a probe fails it.
"""

from __future__ import annotations

import math
import re
import resource
import signal
import traceback
from contextlib import contextmanager

import mpmath
import numpy as np
import pymc as pm
import pytensor
import pytest
import scipy.optimize as so
import scipy.stats as st
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from pymc.logprob.utils import ParameterValueError
from test_families import BY_ID

import pymc_statmech as psm

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py

PROBE = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NAN, INF = float("nan"), float("inf")
#: Values that break naive code: non-finite, signed zero, subnormal, huge and tiny.
EXTREMES = (NAN, INF, -INF, 0.0, -0.0, 5e-324, 1e-300, -1e-300, 1e-8, -1e-8, 1e6, -1e6, 1e300)
extreme = hst.sampled_from(EXTREMES)
#: Inputs of the wrong kind altogether.
WRONG_KIND = ("banana", None, 1 + 2j, [[1.0], [2.0, 3.0]], {"a": 1.0}, object())
wrong_kind = hst.sampled_from(WRONG_KIND)
TIME_LIMIT = 120  # seconds per call
MEMORY_HEADROOM = 4 * 2**30  # bytes of address space a call may add


# -- the oracle --------------------------------------------------------------------------------
class Hang(Exception):
    pass


@contextmanager
def guarded(seconds: int = TIME_LIMIT, headroom: int = MEMORY_HEADROOM):
    """Fail a call that runs longer than ``seconds`` or grows the address space by more than
    ``headroom`` (it then meets a MemoryError, reported as unbounded memory)."""

    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    with open("/proc/self/statm") as f:
        virtual = int(f.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = virtual + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _named(error: BaseException) -> bool:
    if isinstance(error, ParameterValueError):
        return True
    if type(error).__module__.startswith("pymc_statmech"):
        return True
    if not isinstance(error, ValueError | TypeError):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    inner = frames[-1].filename if frames else ""
    return "pymc_statmech" in inner or inner.endswith("raise_op.py")


def outcome(call):
    """``("value", result)`` or ``("error", exception)``; anything else fails the test. A
    PyTensor result is evaluated (its run-time checks are part of the call)."""
    try:
        with guarded():
            result = call()
            return "value", result.eval() if hasattr(result, "eval") else result
    except Hang as e:
        pytest.fail(f"hang: {e}")
    except MemoryError as e:
        pytest.fail(f"unbounded memory: {e}")
    except Exception as e:
        if not _named(e):
            frames = "".join(traceback.format_exception(e)[-3:])
            pytest.fail(f"an unnamed {type(e).__name__} instead of a library error:\n{frames}")
        return "error", e


def refuses(calls, bad) -> None:
    """Every call in ``calls`` (functions of the bad value) raises a named error; all the
    failures are reported together."""
    failures = []
    for index, call in enumerate(calls):
        try:
            kind, got = outcome(lambda: _materialise(call(bad)))  # noqa: B023
        except pytest.fail.Exception as e:
            failures.append(f"call {index}: {str(e).splitlines()[0]}")
            continue
        if kind != "error":
            failures.append(f"call {index}: returned {got!r}"[:200])
    assert not failures, f"bad value {bad!r}:\n" + "\n".join(failures)


def _materialise(x):
    """Evaluate what a call returned, so that the run-time checks in its graph run."""
    if hasattr(x, "eval"):
        return x.eval()
    if hasattr(x, "owner") and x.owner is not None:
        return pm.draw(x)
    return x


def _finite_array(x) -> np.ndarray | None:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None
    return a if np.all(np.isfinite(a)) else None


def expect(call, reference, *, rtol=1e-7, atol=1e-9, extreme_input=False):
    """The call raises a named error where ``reference()`` is None (undefined), else it returns
    the reference (or, for an input at the edge of float64, may raise a named error)."""
    ref = reference()
    kind, got = outcome(call)
    if ref is None:
        assert kind == "error", f"returned {got!r} where the answer is undefined"
        return
    if kind == "error":
        assert extreme_input, f"a valid input was refused: {got}"
        return
    value = np.asarray(got, dtype=float)
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=atol)


def _is_extreme(*values) -> bool:
    """Some entry is huge (>= 1e6) or tiny (<= 1e-8 but not 0): float64's edge, where a named
    error is an acceptable answer and scipy is no longer a reference. Non-finite entries are
    not extreme but invalid."""
    flat = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
    if not np.all(np.isfinite(flat)):
        return False
    big = np.abs(flat)
    return bool(np.any(big >= 1e6) or np.any((big > 0) & (big <= 1e-8)))


# -- exponential families: Natural*, entropy, KL, mean parameters, Fisher, logp, draws -----------
#: Natural* classes whose natural parameter is one array ``eta`` (the test_families cases), with
#: the fixed parameter each needs.
ETA_FAMILIES = {
    "Bernoulli": {},
    "Binomial": {"n": 12},
    "Geometric": {},
    "NegativeBinomial": {"r": 2.5},
    "Poisson": {},
    "Categorical": {},
    "Multinomial": {"n": 7},
    "Exponential": {},
    "Normal": {},
    "LogNormal": {},
    "Gamma": {},
    "InverseGamma": {},
    "Beta": {},
    "Dirichlet": {},
    "VonMises": {},
    "InverseGaussian": {},
}


@hst.composite
def perturbed_eta(draw, name):
    """A valid natural parameter with one component set to an extreme value, a component
    dropped or added, or left valid."""
    eta = np.array(draw(hst.sampled_from(BY_ID[name].etas)), dtype=float)
    how = draw(hst.sampled_from(("extreme", "extreme", "shorter", "longer", "valid")))
    if how == "extreme" or (how != "valid" and eta.ndim == 0):
        flat = eta.reshape(-1).copy()
        flat[draw(hst.integers(0, flat.size - 1))] = draw(extreme)
        return flat.reshape(eta.shape)
    if how == "shorter":
        return eta[:-1]
    if how == "longer":
        return np.append(eta, 0.5)
    return eta


def _scipy_entropy(name, eta):
    case = BY_ID[name]
    with np.errstate(all="ignore"):
        try:
            wrong_length = np.shape(eta) != np.shape(case.etas[0]) and name not in ANY_LENGTH
            if wrong_length or np.size(eta) == 0 or not np.all(np.isfinite(eta)):
                return None  # the natural parameter space is a subset of R^d
            h = float(case.ref(eta, **ETA_FAMILIES[name]).entropy())
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
    return h if math.isfinite(h) else None


#: Families whose natural parameter has any number K of components.
ANY_LENGTH = ("Categorical", "Multinomial", "Dirichlet")


def _log_support_size(name: str, k: int) -> float:
    """log of the number of support points (the bound of a discrete entropy); inf if infinite."""
    sizes = {
        "Bernoulli": 2,
        "Binomial": 13,
        "Categorical": k,
        "Multinomial": math.comb(7 + k - 1, k - 1),
    }
    return math.log(sizes[name]) if name in sizes else math.inf


@pytest.mark.parametrize("name", list(ETA_FAMILIES))
def test_natural_family_entropy_at_bad_and_extreme_parameters(name):
    cls = getattr(psm, f"Natural{name}")

    def call(eta):
        return psm.entropy(cls.dist(eta=eta, **ETA_FAMILIES[name]))

    @PROBE
    @given(perturbed_eta(name))
    def check(eta):
        if not _is_extreme(eta):
            expect(lambda: call(eta), lambda: _scipy_entropy(name, eta), rtol=1e-6)
            return
        # scipy is no reference at the edge of float64 (it returns 0 for a Dirichlet at 1e300
        # and sums for minutes at a negative binomial's p = 1e-8): a named error, or a finite
        # value inside the bounds every entropy obeys
        kind, got = outcome(lambda: call(eta))
        if kind == "value":
            assert np.isfinite(got), f"entropy {got} at eta={eta}"
            if BY_ID[name].family.discrete:
                bound = _log_support_size(name, max(np.size(eta), 1))
                assert 0.0 <= got <= bound + 1e-12, (eta, got)

    check()


#: The support of each probed family, as a test on draws (closed where float64 rounds onto
#: the boundary: a Gamma draw with a tiny shape underflows to 0).
IN_SUPPORT = {
    "Exponential": lambda x, eta: x >= 0,
    "Gamma": lambda x, eta: x >= 0,
    "Beta": lambda x, eta: (x >= 0) & (x <= 1),
    "Poisson": lambda x, eta: (x >= 0) & (x == np.floor(x)),
    "Categorical": lambda x, eta: (x >= 0) & (x < np.size(eta)) & (x == np.floor(x)),
}


@pytest.mark.parametrize("name", list(IN_SUPPORT))
def test_natural_family_draws_and_logp_never_leave_the_domain(name):
    """Symbolic (shared) natural parameters, set after the graph is built: draws must be in the
    support or a named error, logp must equal scipy's or be a named error."""
    case = BY_ID[name]
    shared = pytensor.shared(np.array(case.etas[0], dtype=float))
    dist = getattr(psm, f"Natural{name}").dist(eta=shared)
    point = np.asarray(pm.draw(dist, random_seed=0))

    @PROBE
    @given(perturbed_eta(name))
    def check(eta):
        if np.shape(eta) != np.shape(case.etas[0]):
            return  # a shared variable keeps its shape: covered by the entropy probe
        shared.set_value(eta)
        defined = _scipy_entropy(name, eta) is not None
        kind, draws = outcome(lambda: pm.draw(dist, draws=20, random_seed=1))
        if kind == "value":
            assert defined or _is_extreme(eta), f"drew {draws[:3]} at an invalid eta {eta}"
            assert np.all(IN_SUPPORT[name](draws, eta)), f"draws {draws} at eta={eta}"
        if _is_extreme(eta):  # scipy's logpdf underflows here; the value must still be sane
            kind, logp = outcome(lambda: pm.logp(dist, point))
            assert kind == "error" or (logp < np.inf and not np.isnan(logp)), (eta, logp)
            return

        def reference():
            if not defined:
                return None
            if name == "Categorical":
                return float(np.log(_softmax_ref(eta)[point]))
            ref = case.ref(eta)
            return float(ref.logpmf(point) if hasattr(ref, "logpmf") else ref.logpdf(point))

        expect(lambda: pm.logp(dist, point), reference, rtol=1e-6)

    check()


def _first(x):
    while isinstance(x, tuple | list):
        x = x[0]
    return x


def _softmax_ref(eta):
    z = np.exp(eta - np.max(eta))
    return z / z.sum()


@PROBE
@given(extreme, extreme)
def test_kl_and_cross_entropy_of_builtins_at_extreme_parameters(mu, sigma):
    """KL(Normal(mu, sigma) || Normal(0, 1)) against its closed form in 50-digit arithmetic
    (a true value beyond float64 is inf); an invalid sigma raises."""
    valid = np.isfinite(mu) and np.isfinite(sigma) and sigma > 0
    m, s = mpmath.mpf(mu), mpmath.mpf(sigma)
    with mpmath.workdps(50):
        kl = float(-mpmath.log(s) + (s**2 + m**2) / 2 - mpmath.mpf(1) / 2) if valid else None
        ce = float(mpmath.log(2 * mpmath.pi) / 2 + (s**2 + m**2) / 2) if valid else None
    p, q = pm.Normal.dist(mu, sigma), pm.Normal.dist(0.0, 1.0)
    extreme_input = _is_extreme(mu, sigma)
    expect(lambda: psm.kl_divergence(p, q), lambda: kl, extreme_input=extreme_input)
    expect(lambda: psm.cross_entropy(p, q), lambda: ce, extreme_input=extreme_input)


@PROBE
@given(extreme)
def test_mean_fisher_log_partition_and_natural_parameters_of_poisson(rate):
    def valid():
        return np.isfinite(rate) and rate > 0

    d = pm.Poisson.dist(rate)
    extreme_input = _is_extreme(rate)
    for fn, closed_form in (
        (psm.mean_parameters, lambda: rate),  # E[x]
        (psm.fisher_information, lambda: rate),  # Var[x], in the natural parameter
        (psm.log_partition, lambda: rate),  # A(eta) = e^eta
        (psm.natural_parameters, lambda: math.log(rate)),
    ):
        expect(
            lambda: _first(fn(d)),  # noqa: B023 - called at once
            lambda: closed_form() if valid() else None,  # noqa: B023
            extreme_input=extreme_input,
        )
    form = outcome(lambda: psm.family_form(d))
    assert form[0] == "value" or not valid()


@PROBE
@given(extreme, hst.integers(0, 1))
def test_multivariate_families_at_bad_and_extreme_parameters(value, entry):
    """NaturalMvNormal(h, precision) and NaturalWishart(eta_matrix, eta_logdet) with one entry
    (kept symmetric) set to an extreme value: scipy's entropy where the matrix is still
    symmetric positive definite, a named error where it is not."""
    precision = np.array([[2.0, 0.5], [0.5, 1.0]])
    precision[entry, 1 - entry] = precision[1 - entry, entry] = value
    h = np.array([0.3, -0.2])
    spd = bool(np.all(np.isfinite(precision))) and np.all(np.linalg.eigvalsh(precision) > 0)
    well_conditioned = spd and np.linalg.cond(precision) < 1e8

    def mvnormal():
        return st.multivariate_normal(np.zeros(2), np.linalg.inv(precision)).entropy()

    def wishart():  # eta_matrix = -V^{-1} / 2 with V^{-1} = precision, nu = 2 a + k + 1 = 4
        return st.wishart(4.0, np.linalg.inv(precision)).entropy()

    for call, reference in (
        (lambda: psm.entropy(psm.NaturalMvNormal.dist(h=h, precision=precision)), mvnormal),
        (
            lambda: psm.entropy(psm.NaturalWishart.dist(eta_matrix=-precision / 2, eta_logdet=0.5)),
            wishart,
        ),
    ):
        if spd and not well_conditioned:  # scipy's inverse is no reference here
            kind, got = outcome(call)
            assert kind == "error" or np.isfinite(got)
            continue
        expect(call, lambda: reference() if spd else None, rtol=1e-7)  # noqa: B023


@pytest.mark.parametrize("bad", (*WRONG_KIND, 1.0, np.zeros(3)))
def test_information_functions_refuse_what_is_not_a_distribution(bad):
    for fn in (
        psm.entropy,
        psm.mean_parameters,
        psm.fisher_information,
        psm.log_partition,
        psm.natural_parameters,
        psm.family_form,
    ):
        assert outcome(lambda: fn(bad))[0] == "error"  # noqa: B023 - called at once
    assert outcome(lambda: psm.kl_divergence(bad, pm.Normal.dist()))[0] == "error"
    maxent = psm.MaxEnt.dist(psm.Interval(0, 1), [psm.mean(0.3)])
    assert outcome(lambda: psm.kl_divergence(maxent, bad))[0] == "error"
    assert outcome(lambda: psm.register_family_form(bad))[0] == "error"


# -- conjugate updates --------------------------------------------------------------------------
@PROBE
@given(extreme, extreme, extreme)
def test_conjugate_updates_at_extreme_hyperparameters(mu0, sigma0, y):
    """normal_normal and conjugate_update against the closed form; every helper refuses what
    its prior cannot be."""
    sigma = 1.0
    valid = all(np.isfinite([mu0, sigma0, y])) and sigma0 > 0

    def posterior_mean():
        if not valid:
            return None
        with mpmath.workdps(50):  # 1 / sigma0^2 overflows float64 for a subnormal sigma0
            w0, w = 1 / mpmath.mpf(sigma0) ** 2, 1 / mpmath.mpf(sigma) ** 2
            return float((mu0 * w0 + y * w) / (w0 + w))

    extreme_input = _is_extreme(mu0, sigma0, y)
    expect(
        lambda: psm.normal_normal(mu0, sigma0, [y], sigma=sigma).posterior_params["mu"],
        posterior_mean,
        rtol=1e-6,
        extreme_input=extreme_input,
    )
    prior = pm.Normal.dist(mu0, sigma0)
    kind, got = outcome(
        lambda: _evaluate_result(psm.conjugate_update(prior, pm.Normal, [y], sigma=sigma))
    )
    if not valid:
        assert kind == "error", f"an update of an invalid prior returned {got}"
    elif not extreme_input:
        assert kind == "value", got
        assert float(got[1]) == pytest.approx(posterior_mean(), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: psm.beta_bernoulli(v, 1.0, [0, 1]),
        lambda v: psm.beta_binomial(1.0, v, [3], n=5),
        lambda v: psm.gamma_poisson(v, 1.0, [2]),
        lambda v: psm.gamma_exponential(1.0, v, [0.5]),
        lambda v: psm.gamma_normal(v, 1.0, [0.5], mu=0.0),
        lambda v: psm.dirichlet_categorical([1.0, v], [0, 1]),
        lambda v: psm.dirichlet_multinomial([v, 1.0], [[2, 3]]),
        lambda v: psm.mvnormal_mvnormal(np.zeros(2), v * np.eye(2), [[0.0, 1.0]], cov=np.eye(2)),
        lambda v: psm.normal_inverse_gamma_regression(
            np.zeros(1), np.eye(1), v, 1.0, [1.0, 2.0], X=[[1.0], [1.0]]
        ),
    ],
    ids=["beta_bernoulli", "beta_binomial", "gamma_poisson", "gamma_exponential",
         "gamma_normal", "dirichlet_categorical", "dirichlet_multinomial",
         "mvnormal_mvnormal", "normal_inverse_gamma_regression"],
)  # fmt: skip
def test_conjugate_helpers_refuse_invalid_hyperparameters(call):
    """A positive hyperparameter set to zero, a negative value, NaN or inf: a named error (a
    posterior from an invalid prior would be a number without meaning)."""
    for bad in (0.0, -1.0, NAN, INF, -INF):
        kind, got = outcome(lambda: _evaluate_result(call(bad)))  # noqa: B023
        assert kind == "error", f"hyperparameter {bad}: returned {got}"
    assert outcome(lambda: _evaluate_result(call(2.0)))[0] == "value"


def _evaluate_result(result):
    """Evaluate every tensor of a conjugate result (its checks run at evaluation)."""
    values = [result.log_evidence, *result.posterior_params.values()]
    return [np.asarray(v.eval()) for v in values]


def test_exponential_family_constructor_refuses_bad_declarations():
    good = dict(name="x", statistics=lambda x: x, log_partition=lambda e: -1 / e, support=(0, INF))
    assert outcome(lambda: psm.ExponentialFamily(**good))[0] == "value"
    bad_values = {
        "name": [v for v in WRONG_KIND if not isinstance(v, str)] + ["two words"],
        "statistics": WRONG_KIND,
        "log_partition": WRONG_KIND,
        "support": [*WRONG_KIND, (1.0, 0.0), (NAN, 1.0), (0.0, 0.0), [1, 2.5], [3]],
        "scale": [0.0, -1.0, NAN, INF],
        "loc": [NAN, -INF],
    }
    for key, values in bad_values.items():
        for bad in values:
            kind, got = outcome(lambda: psm.ExponentialFamily(**{**good, key: bad}))  # noqa: B023
            assert kind == "error", f"{key}={bad!r}: built {got!r}"


# -- maximum entropy: domains, constraints, solutions, concentration -----------------------------
finite_or_extreme = hst.one_of(extreme, hst.floats(-50, 50, allow_nan=False))


def _log_tilted_mass(lam: float) -> float:
    """log of int_0^2 e^{lam u} du, without overflow at large |lam|."""
    if abs(lam) < 1e-12:
        return math.log(2.0)
    if lam > 0:
        return 2 * lam + math.log(-math.expm1(-2 * lam) / lam)
    return math.log(math.expm1(2 * lam) / lam)


@PROBE
@given(finite_or_extreme, finite_or_extreme)
def test_maxent_on_an_interval_against_the_truncated_exponential(lower, target):
    """Interval(lower, lower + 2) with E[x] = target: the tilted uniform whose mean matches, found
    here by bracketing the mean of the truncated exponential (brentq, independent of the
    library's Newton), or an error where the target is not strictly inside."""
    upper = lower + 2.0

    def mean_at(lam):  # E[x - lower] of density ~ e^{lam x} on [0, 2]
        if abs(lam) < 1e-8:
            return 1.0 + lam / 3
        return 2 / -math.expm1(-2 * lam) - 1 / lam

    def entropy():
        if not (np.isfinite(lower) and np.isfinite(target) and upper > lower):
            return None
        if not (lower < target < upper) or _is_extreme(lower, target):
            return None
        offset = target - lower
        if not 1e-6 < offset < 2 - 1e-6:
            return None
        lam = so.brentq(lambda t: mean_at(t) - offset, -1e6, 1e6, xtol=1e-14, rtol=1e-15)
        # H = log Z - lam E[x - lower], Z = int_0^2 e^{lam u} du
        log_z = _log_tilted_mass(lam)
        return log_z - lam * offset

    ref = entropy()
    kind, got = outcome(lambda: psm.maxent_solve(psm.Interval(lower, upper), [psm.mean(target)]))
    if ref is None:
        near = np.isfinite(lower) and np.isfinite(target) and lower < target < upper
        assert kind == "error" or near, f"solved an infeasible target: {got}"
        return
    assert kind == "value", got
    assert float(got.entropy) == pytest.approx(ref, rel=1e-7, abs=1e-9)


@PROBE
@given(finite_or_extreme, finite_or_extreme)
def test_maxent_on_the_real_line_is_the_normal(mean, variance):
    def entropy():
        if not (np.isfinite(mean) and np.isfinite(variance) and variance > 0):
            return None
        return 0.5 * math.log(2 * math.pi * math.e * variance)

    extreme_input = _is_extreme(mean, variance)
    expect(
        lambda: (
            psm.maxent_solve(
                psm.RealLine(), [psm.mean(mean), psm.moment(2, variance, about=mean)]
            ).entropy
        ),
        entropy,
        rtol=1e-8,
        extreme_input=extreme_input,
    )


@PROBE
@given(finite_or_extreme)
def test_maxent_distribution_logp_on_the_half_line_is_the_exponential(target):
    def logp():
        if not (np.isfinite(target) and target > 0):
            return None
        return float(st.expon(scale=target).logpdf(0.5))

    expect(
        lambda: pm.logp(psm.MaxEnt.dist(psm.HalfLine(0.0), [psm.mean(target)]), 0.5),
        logp,
        rtol=1e-7,
        extreme_input=_is_extreme(target),
    )


MAXENT_CALLS = [
    lambda bad: psm.Interval(bad, 1.0),
    lambda bad: psm.Interval(0.0, bad),
    lambda bad: psm.HalfLine(bad),
    lambda bad: psm.Integers(bad),
    lambda bad: psm.Discrete([0.0, bad]),
    lambda bad: psm.mean(bad),
    lambda bad: psm.moment(bad, 1.0),
    lambda bad: psm.moment(2, bad),
    lambda bad: psm.quantile(bad, 0.0),
    lambda bad: psm.quantile(0.5, bad),
    lambda bad: psm.interval_mass(0.0, 1.0, bad),
    lambda bad: psm.interval_mass(bad, bad, 0.5),
    lambda bad: psm.expect(bad, 0.5),
    lambda bad: psm.maxent_solve(bad, [psm.mean(0.5)]),
    lambda bad: psm.maxent_solve(psm.Interval(0, 1), bad),
    lambda bad: psm.MaxEnt.dist(bad, [psm.mean(0.5)]),
    lambda bad: psm.domain_of(bad),
    lambda bad: psm.rate_function(bad, a=1.0),
    lambda bad: psm.tail_probability(pm.Normal.dist(0, 1), a=1.0, n=bad),
    lambda bad: psm.gibbs_conditional(bad, [psm.mean(0.5)]),
    lambda bad: psm.maxent_family(pm.Normal, bad, 1.0),
    lambda bad: psm.maxent_family(pm.Normal, 0.0, 1.0, mass=bad),
    lambda bad: psm.maxent_solve(psm.Circle(), [psm.expect(np.cos, bad)]),
]


@pytest.mark.parametrize("bad", (*WRONG_KIND, NAN, INF, -INF))
def test_maxent_building_blocks_refuse_bad_arguments(bad):
    refuses(MAXENT_CALLS, bad)


@PROBE
@given(finite_or_extreme)
def test_rate_function_and_tail_bound_of_the_normal_mean(a):
    """Cramer: I(a) = a^2 / 2 for N(0, 1) (+inf at a = +-inf, no level can be reached); the
    Chernoff bound P(mean of n beyond a) <= e^{-n I}; NaN or a non-number raises."""
    base = pm.Normal.dist(0.0, 1.0)
    valid = not np.isnan(a)
    extreme_input = _is_extreme(a)
    expect(
        lambda: psm.rate_function(base, a=a),
        lambda: a * a / 2 if valid else None,
        rtol=1e-7,
        extreme_input=extreme_input,
    )
    expect(
        lambda: psm.tail_probability(base, a=a, n=10, log=True),
        lambda: -10 * a * a / 2 if valid else None,  # the tail beyond a, on a's side of 0
        rtol=1e-7,
        atol=1e-9,
        extreme_input=extreme_input,
    )


@PROBE
@given(finite_or_extreme, finite_or_extreme)
def test_maxent_family_normal_with_mass_between_two_points(lower, width):
    """The Normal with 90% of its mass in [lower, lower + width] and the most entropy: centred,
    sigma = width / (2 z_0.95)."""
    upper = lower + width
    valid = np.isfinite(lower) and np.isfinite(width) and width > 0 and upper > lower
    extreme_input = _is_extreme(lower, width)
    sigma = width / (2 * st.norm.ppf(0.95)) if valid else None
    kind, got = outcome(lambda: psm.maxent_family(pm.Normal, lower, upper, mass=0.9))
    if not valid:
        assert kind == "error", got
    elif not extreme_input:
        assert kind == "value", got
        assert got.params["sigma"] == pytest.approx(sigma, rel=1e-6)
        assert got.params["mu"] == pytest.approx((lower + upper) / 2, rel=1e-9, abs=1e-9 * width)


def test_gibbs_conditional_of_a_normal_is_the_shifted_normal():
    """Conditioning N(0, 1) on a mean of 1.5 (Gibbs conditioning): N(1.5, 1); bad targets fail."""
    tilted = psm.gibbs_conditional(pm.Normal.dist(0.0, 1.0), [psm.mean(1.5)])
    h = float(psm.entropy(tilted).eval())
    assert h == pytest.approx(0.5 * math.log(2 * math.pi * math.e), rel=1e-8)
    for bad in (NAN, INF):
        assert outcome(lambda: psm.gibbs_conditional(pm.Normal.dist(), [psm.mean(bad)]))[0] == (  # noqa: B023
            "error"
        )


# -- Boltzmann and Ising -------------------------------------------------------------------------
def _brute_force_log_z(structure, J, h, beta):
    """log Z by enumerating every configuration, in log space."""
    n = structure.n_spins
    spins = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    i, j = structure.edges[:, 0], structure.edges[:, 1]
    with np.errstate(all="ignore"):
        log_w = beta * (np.sum(J * spins[:, i] * spins[:, j], axis=1) + h * spins.sum(axis=1))
    top = np.max(log_w)
    return float(top + np.log(np.sum(np.exp(log_w - top))))


ISING_LATTICES = [((3, 3), "periodic"), ((3, 4), "open"), ((2, 5), "periodic"), ((8,), "periodic")]


@PROBE
@given(hst.sampled_from(ISING_LATTICES), finite_or_extreme, finite_or_extreme, finite_or_extreme)
def test_ising_log_partition_at_extreme_couplings_fields_and_temperatures(lattice, J, h, beta):
    """Every exact method that auto picks (chain, Kaufman, transfer matrix, enumeration) against
    brute-force enumeration, at any sign of beta J; non-finite inputs raise."""
    shape, boundary = lattice
    structure = psm.ising_structure(lattice=shape, boundary=boundary)
    valid = all(np.isfinite([J, h, beta]))

    def reference():
        if not valid:
            return None
        value = _brute_force_log_z(structure, J, h, beta)
        return value if np.isfinite(value) else None

    expect(
        lambda: psm.ising_log_partition(J, h, beta, lattice=shape, boundary=boundary),
        reference,
        rtol=1e-9,
        atol=1e-9,
        extreme_input=_is_extreme(J, h, beta),
    )


ISING_CALLS = [
    lambda bad: psm.ising_structure(lattice=bad),
    lambda bad: psm.ising_structure(graph=bad),
    lambda bad: psm.ising_log_partition(bad, lattice=(3, 3)),
    lambda bad: psm.ising_log_partition(1.0, bad, lattice=(3, 3)),
    lambda bad: psm.ising_log_partition(1.0, 0.0, bad, lattice=(3, 3)),
    lambda bad: psm.ising_log_partition(1.0, lattice=(3, 3), method=bad),
    lambda bad: psm.ising_log_partition(1.0, lattice=(3, 3), boundary=bad),
    lambda bad: psm.ising_thermodynamics(bad, lattice=(3, 3)),
    lambda bad: psm.ising_thermodynamics(1.0, bad, lattice=(3, 3)),
    lambda bad: psm.ising_thermodynamics(1.0, 0.0, bad, lattice=(3, 3)),
    lambda bad: psm.ising_thermodynamics(1.0, lattice=(3, 3), method=bad),
    lambda bad: psm.Ising.dist(J=bad, lattice=(3, 3)),
    lambda bad: psm.Ising.dist(J=np.ones(5), h=bad, lattice=(3, 3)),
    lambda bad: psm.Boltzmann.dist(energy=lambda x: x[:, 0], states=[[0], [1]], beta=bad),
    lambda bad: psm.Boltzmann.dist(energy=bad, states=[[0], [1]]),
    lambda bad: psm.Boltzmann.dist(energy=lambda x: x[:, 0], states=[[0], [bad]]),
    lambda bad: psm.binary_to_ising(bad, lattice=(3, 3)),
    lambda bad: psm.ising_to_binary(1.0, bad, lattice=(3, 3)),
    lambda bad: psm.binary_to_spins(np.array([0, 1, bad], dtype=object)),
    lambda bad: psm.spins_to_binary(np.array([1, -1, bad], dtype=object)),
]


@pytest.mark.parametrize("bad", (*WRONG_KIND, NAN, INF, -INF))
def test_ising_entry_points_refuse_bad_arguments(bad):
    refuses(ISING_CALLS, bad)


@pytest.mark.parametrize("lattice", [(3, -3), (0, 4), (3, 3, 3), (2.5, 3), (), (1,)])
def test_ising_lattices_that_do_not_exist_are_refused(lattice):
    refuses([lambda bad: psm.ising_structure(lattice=bad)], lattice)


def test_ising_logp_of_values_that_are_not_spins_is_minus_infinity():
    """PyMC's convention for a value outside the support (spins must be -1 or +1)."""
    dist = psm.Ising.dist(J=0.3, lattice=(3, 3))
    for value in (NAN, INF, 0.0, 2.0):
        assert float(pm.logp(dist, np.full((3, 3), value)).eval()) == -np.inf


@PROBE
@given(finite_or_extreme)
def test_boltzmann_logp_at_extreme_temperatures(beta):
    """log p(state) = -beta E - log sum e^{-beta E}, in log space, at any beta."""
    energy = np.array([0.0, 1.0, 2.5])
    states = [[0], [1], [2]]

    def reference():
        if not np.isfinite(beta):
            return None
        log_w = -beta * energy
        return float(log_w[1] - (np.max(log_w) + np.log(np.sum(np.exp(log_w - np.max(log_w))))))

    expect(
        lambda: pm.logp(psm.Boltzmann.dist(energy=lambda x: energy, states=states, beta=beta), [1]),
        reference,
        rtol=1e-9,
        extreme_input=_is_extreme(beta),
    )


# -- evidence, thermodynamics, generalisation ----------------------------------------------------
def _posterior_data():
    rng = np.random.default_rng(0)
    return xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 200)))})


def _small_model():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        pm.Normal("y", mu, 1, observed=[0.1, -0.3])
    return model


EVIDENCE_CALLS = [
    lambda bad: psm.free_energy(bad, _small_model()),
    lambda bad: psm.free_energy(None, _small_model(), method=bad),
    lambda bad: psm.bayes_factor(bad, bad),
    lambda bad: psm.sample_power_posteriors(_small_model(), betas=bad, draws=10, tune=10),
    lambda bad: psm.default_ladder(bad),
    lambda bad: psm.thermodynamics(bad),
    lambda bad: psm.plot_thermodynamics(bad),
    lambda bad: psm.learning_coefficient(_small_model(), n_obs=bad, draws=10, tune=10),
    lambda bad: psm.learning_coefficient(bad),
    lambda bad: psm.summary(bad, _small_model()),
    lambda bad: psm.pac_bayes_bound(bad, lambda y: y),
    lambda bad: psm.pac_bayes_bound(_posterior_data(), bad, kl=1.0),
    lambda bad: psm.pac_bayes_bound(_posterior_data(), lambda y: y, kl=1.0, delta=bad),
]


@pytest.mark.parametrize("bad", (*WRONG_KIND, NAN, INF, -1.0, 0))
def test_evidence_entry_points_refuse_bad_arguments(bad):
    refuses(EVIDENCE_CALLS, bad)


# -- information on draws ------------------------------------------------------------------------
@pytest.mark.parametrize("bad_value", [NAN, INF])
def test_information_on_draws_refuses_non_finite_draws(bad_value):
    draws = np.random.default_rng(1).normal(size=(2, 300))
    draws[1, 17] = bad_value
    data = xr.Dataset({"a": (("chain", "draw"), draws), "b": (("chain", "draw"), draws**2)})
    for call in (
        lambda: psm.stats.entropy(data),
        lambda: psm.stats.kl_divergence(data, p=data, q=data),
        lambda: psm.stats.mutual_information(data, "a", "b"),
        lambda: psm.stats.information_gain(data, evidence=-1.0),
    ):
        assert outcome(call)[0] == "error"


def _draws():
    return xr.Dataset({"a": (("chain", "draw"), np.random.default_rng(2).normal(size=(2, 300)))})


INFORMATION_CALLS = [
    lambda bad: psm.stats.entropy(bad),
    lambda bad: psm.stats.entropy(_draws(), method=bad),
    lambda bad: psm.stats.entropy(_draws(), k=bad),
    lambda bad: psm.stats.kl_divergence(bad),
    lambda bad: psm.stats.mutual_information(_draws(), bad, "a"),
    lambda bad: psm.stats.information_gain(bad),
]


@pytest.mark.parametrize("bad", (*WRONG_KIND, NAN, -1, 0))
def test_information_on_draws_refuses_bad_arguments(bad):
    refuses(INFORMATION_CALLS, bad)


def test_entropy_of_normal_draws_matches_within_its_error():
    """The kNN entropy of 4000 standard normal draws against 0.5 log(2 pi e), within 4 of the
    estimator's stated errors."""
    draws = np.random.default_rng(3).normal(size=(4, 1000))
    result = psm.stats.entropy(xr.Dataset({"a": (("chain", "draw"), draws)}))["a"]
    value, error = float(result.sel(estimate="value")), float(result.sel(estimate="error"))
    assert abs(value - 0.5 * math.log(2 * math.pi * math.e)) < 4 * error


# -- coverage ------------------------------------------------------------------------------------
#: Public names that are not entry points: result and warning types, the base class of the
#: Natural* distributions, the declaration dataclasses, constants, modules.
NOT_ENTRY_POINTS = {
    "BayesFactor", "ConjugateResult", "Constraint", "EvidenceWarning", "Family", "FamilyForm",
    "FreeEnergy",
    "InfeasibleConstraintsError", "IsingStructure", "IsingTooLargeError", "KNOWN_FORMS",
    "MaxEntSolution", "NaturalDistribution", "NonConvergenceWarning", "NumericalLimitError",
    "ParameterDomainError", "RegressionResult", "ThermodynamicCurve", "ElicitedPrior",
    "boltzmann", "stats", "step", "conjugate",
}  # fmt: skip


def test_every_public_entry_point_is_probed():
    """Each public callable appears in a probe of this module (``psm.<name>``, or a Natural*
    class through ETA_FAMILIES); a new one without a probe fails here."""
    source = open(__file__).read()
    probed = {name for name in psm.__all__ if re.search(rf"psm\.{name}\b", source)}
    probed |= {f"Natural{name}" for name in ETA_FAMILIES}
    missing = set(psm.__all__) - NOT_ENTRY_POINTS - probed
    assert not missing, f"public entry points without a probe: {sorted(missing)}"
