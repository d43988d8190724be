"""Bad and extreme inputs: a named error (a ValueError subclass) instead of a wrong number, a
silent NaN, a value outside the support or a hang (issue 16)."""

import subprocess
import sys
import textwrap

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st
from pymc.logprob.utils import ParameterValueError

import pymc_statmech as psm
from pymc_statmech.expfam.family import ParameterDomainError


def test_draws_at_an_out_of_domain_natural_parameter_are_refused_not_hung():
    # PyTensor's Beta sampler loops for ever on invalid parameters: the check comes first
    code = textwrap.dedent(
        """
        import numpy as np, pymc as pm, pytensor, pymc_statmech as psm
        from pymc_statmech.expfam.family import ParameterDomainError
        eta = pytensor.shared(np.array([-2.0, 0.0]))
        try:
            pm.draw(psm.NaturalBeta.dist(eta=eta), random_seed=1)
        except ParameterDomainError as err:
            print("refused:", err)
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "refused: Beta" in run.stdout, run.stderr[-2000:]


def test_draws_never_leave_the_support():
    assert np.all(pm.draw(psm.NaturalExponential.dist(eta=-2.0), draws=50, random_seed=1) > 0)
    with pytest.raises(ParameterDomainError, match=r"eta = -rate < 0"):
        pm.draw(psm.NaturalExponential.dist(eta=pytensor.shared(1.0)), random_seed=1)
    with pm.Model():  # a random natural parameter that strays out of the domain
        eta = pm.Normal("eta", -1.0, 1.0)
        psm.NaturalExponential("x", eta=eta)
        with pytest.raises(ParameterDomainError, match="Exponential"):
            pm.sample_prior_predictive(200, random_seed=1)


def test_symbolic_natural_parameters_of_the_wrong_length_are_refused():
    v = pt.vector("v")
    gamma = psm.NaturalGamma.dist(eta=v)
    with pytest.raises(ValueError, match="eta has 2 components"):
        psm.entropy(gamma).eval({v: [1.0, -2.0, 3.0]})
    # eta = (alpha - 1, -beta) = (1, -2): Gamma(2, rate 2)
    assert float(psm.entropy(gamma).eval({v: [1.0, -2.0]})) == pytest.approx(
        st.gamma(2.0, scale=0.5).entropy(), rel=1e-12
    )
    normal = psm.NaturalNormal.dist(eta=v)
    lp = pm.logp(normal, 0.3)
    with pytest.raises(ValueError, match="eta has 2 components"):
        lp.eval({v: [0.2, -0.5, 9.0]})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: pm.Normal.dist(0.0, -1.0), "sigma > 0"),
        (lambda: pm.Gamma.dist(-2.0, 3.0), "alpha > 0"),
        (lambda: pm.Beta.dist(2.0, -1.0), "beta > 0"),
    ],
)
def test_information_functions_apply_the_builtins_own_parameter_checks(make, message):
    # sigma = -1 squares to a valid variance: the natural parameters alone cannot tell
    with pytest.raises(ParameterValueError, match=message):
        psm.entropy(make()).eval()
    with pytest.raises(ParameterValueError, match=message):
        psm.kl_divergence(make(), make()).eval()


def test_conjugate_update_refuses_an_invalid_prior():
    result = psm.conjugate_update(pm.Normal.dist(0.0, -1.0), pm.Normal, [1.0, 2.0], sigma=1.0)
    with pytest.raises(ParameterValueError, match="sigma > 0"):
        result.log_evidence.eval()


def test_maxent_target_not_finite_or_on_the_boundary_has_no_density():
    # issue 16: the warm start answered for a NaN target; a target at the edge of feasibility
    # (a die's mean 1) gave a finite log density of -806173
    target = pytensor.shared(4.5)
    die = psm.MaxEnt.dist(psm.Discrete(range(1, 7)), [psm.mean(target)])
    logp = pm.compile([], pm.logp(die, 6))
    uniform_tilt = float(logp())
    sol = psm.maxent_solve(psm.Discrete(range(1, 7)), [psm.mean(4.5)])
    assert uniform_tilt == pytest.approx(float(sol.logpdf(6)), rel=1e-10)
    for bad in (np.nan, np.inf, 1.0, 6.0, 7.0):
        target.set_value(bad)
        assert float(logp()) == -np.inf, bad
    target.set_value(4.5)
    assert float(logp()) == pytest.approx(uniform_tilt, rel=1e-12)
    target.set_value(7.0)
    with pytest.raises(psm.InfeasibleConstraintsError, match="no maximum-entropy solution"):
        pm.draw(die, draws=10, random_seed=1)


def test_a_long_lattice_is_refused_by_name_not_by_overflow():
    # issue 16: the size estimate of the transposed orientation raised OverflowError
    with pytest.raises(psm.IsingTooLargeError, match="no exact method"):
        psm.ising_log_partition(1.0, h=0.1, lattice=(20, 2000))
    log_z = psm.ising_log_partition(1.0, h=0.1, beta=0.2, lattice=(3, 2000), boundary="open")
    assert np.isfinite(float(log_z.eval()))


def test_unhelpful_errors_now_name_the_mistake():
    """Inputs that used to fail with a raw NumPy or PyTensor error (issue 16's list)."""
    import xarray as xr

    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\), which do not broadcast"):
        psm.kl_divergence(
            psm.NaturalCategorical.dist(eta=[0.0, 1.0]),
            psm.NaturalCategorical.dist(eta=[0.0, 1.0, 2.0]),
        )
    # batch shapes that broadcast still work
    kl = psm.kl_divergence(pm.Poisson.dist([1.0, 2.0, 3.0]), pm.Poisson.dist([2.0])).eval()
    assert kl.shape == (3,) and kl[1] == 0.0
    with pytest.raises(TypeError, match=r"Expected a PyMC random variable.*got float 1.0"):
        psm.entropy(1.0)
    with pytest.raises(TypeError, match=r"support: give a tuple.*not str 'banana'"):
        psm.ExponentialFamily(
            name="x", statistics=lambda x: x, log_partition=lambda e: e, support="banana"
        )
    solution = psm.maxent_solve(psm.Discrete(range(1, 7)), psm.mean(4.5))  # one, not a list
    assert float(solution.moments[0]) == pytest.approx(4.5, abs=1e-8)
    with pytest.raises(ValueError, match=r"betas must be finite"):
        psm.sample_power_posteriors(pm.Model(), betas=[0, np.nan, 1])
    data = xr.Dataset(
        {"a": (("chain", "draw"), np.zeros((1, 10))), "b": (("chain", "draw"), np.ones((1, 10)))}
    )
    with pytest.raises(ValueError, match="x must name at least one variable"):
        psm.stats.mutual_information(data, [], "b")


def test_maxent_failures_name_their_real_cause():
    """Issue 16's misleading diagnoses: a variance lost to float64 cancellation was called "not
    normalisable", an integer mean beyond the truncation limit "not log-concave"."""
    with pytest.raises(psm.InfeasibleConstraintsError, match=r"below float64's resolution.*centre"):
        psm.maxent_solve(psm.RealLine(), [psm.mean(1e8), psm.moment(2, 1e16 + 1)])
    with pytest.raises(psm.InfeasibleConstraintsError, match=r"1e\+08 standard deviations.*centre"):
        psm.maxent_solve(psm.RealLine(), [psm.mean(1e8), psm.moment(2, 1.0, about=1e8)])
    with pytest.raises(psm.InfeasibleConstraintsError, match="mass beyond the 4194304 terms"):
        psm.maxent_solve(psm.Integers(0), [psm.mean(1e6)])
    # centred as the message says, the same distribution is a standard normal shifted
    centred = psm.maxent_solve(psm.RealLine(), [psm.mean(0.0), psm.moment(2, 1.0)])
    assert float(centred.entropy) == pytest.approx(0.5 * np.log(2 * np.pi * np.e), abs=1e-8)


def test_huge_lattices_cost_what_their_method_needs():
    """Issue 16: a 4096 x 4096 Kaufman log Z took 3.1 GB and Ising.dist at 8192 x 8192 more than
    8 GB, all of it an edge array the formula never reads. In a subprocess: the value against
    Onsager's per-site free energy (the finite-size correction at this size is ~1e-12), and the
    peak memory of the whole process."""
    script = textwrap.dedent(
        """
        import numpy as np, scipy.integrate as si, pymc_statmech as psm
        K = 0.44
        k = 2 * np.sinh(2 * K) / np.cosh(2 * K) ** 2
        integrand = lambda t: np.log((1 + np.sqrt(1 - k**2 * np.sin(t) ** 2)) / 2)
        onsager = np.log(2 * np.cosh(2 * K)) + si.quad(integrand, 0, np.pi)[0] / (2 * np.pi)
        log_z = float(psm.ising_log_partition(1.0, beta=K, lattice=(4096, 4096)).eval())
        psm.Ising.dist(J=1.0, beta=K, lattice=(8192, 8192))
        # VmHWM: this process's peak resident memory (ru_maxrss would include the parent's,
        # inherited across exec)
        status = open("/proc/self/status").read()
        peak = int(status.split("VmHWM:")[1].split()[0]) / 2**20
        print(log_z / 4096**2 - onsager, peak)
        """
    )
    run = [sys.executable, "-c", script]
    out = subprocess.run(run, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    error, peak_gib = map(float, out.stdout.split())
    assert abs(error) < 1e-9
    assert peak_gib < 1.0


def test_lattices_beyond_float64_or_memory_are_refused_by_name():
    with pytest.raises(ValueError, match=r"beyond what float64 resolves.*2\^42"):
        psm.ising_log_partition(1.0, beta=0.4, lattice=(10**8, 10**8))
    # the formula's products run over the shorter side: memory O(min(L, W))
    with pytest.raises(psm.IsingTooLargeError, match=r"Kaufman's formula.*above max_bytes"):
        psm.ising_log_partition(1.0, lattice=(4096, 4096), method="kaufman", max_bytes=2**20)
    kaufman = psm.ising_log_partition(1.0, beta=0.3, lattice=(512, 4), method="kaufman")
    rows = psm.ising_log_partition(1.0, beta=0.3, lattice=(512, 4), method="transfer_matrix")
    assert float(kaufman.eval()) == pytest.approx(float(rows.eval()), rel=1e-13)


def test_exact_inverse_ising_gradient_beyond_8x8():
    """Issue 16: from 9 x 9 up, compile_dlogp of an Ising likelihood with per-bond J and
    per-site h failed ("pullback not implemented for ValuedRV"). On the 10 x 10 periodic lattice
    (the transfer matrix with its trace over the first row), the model gradient against central
    differences of the model log density."""
    L = 10
    structure = psm.ising_structure(lattice=(L, L))
    snapshots = np.random.default_rng(0).choice([-1, 1], size=(30, L, L)).astype("int8")
    with pm.Model() as model:
        J = pm.Normal("J", 0.1, 1, shape=structure.n_edges)
        h = pm.Normal("h", 0, 1, shape=structure.n_spins)
        psm.Ising("s", J=J, h=h, lattice=(L, L), observed=snapshots)
    point = model.initial_point()
    point["J"] = np.random.default_rng(1).normal(0.1, 0.2, structure.n_edges)
    point["h"] = np.random.default_rng(2).normal(0.0, 0.2, structure.n_spins)
    grad = model.compile_dlogp()(point)
    logp = model.compile_logp()
    step = 1e-5
    for name, index, offset in (("J", 7, 0), ("J", 150, 0), ("h", 42, structure.n_edges)):
        up, down = dict(point), dict(point)
        up[name] = point[name].copy()
        down[name] = point[name].copy()
        up[name][index] += step
        down[name][index] -= step
        numeric = (logp(up) - logp(down)) / (2 * step)
        # central differences: truncation O(step^2 f''') and rounding ~1e-16 |logp| / step
        assert grad[offset + index] == pytest.approx(numeric, abs=1e-6 * (1 + abs(numeric)))
