"""The public symbolic API on Natural* distributions and on PyMC's built-ins, against scipy."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special as sp
import scipy.stats as st
from pymc.logprob.utils import ParameterValueError

import pymc_statmech as psm

pytestmark = pytest.mark.usefixtures("numpy_evaluated")  # see conftest.py


def value(x):
    return np.asarray(pytensor.function([], x)())


BUILTIN_ENTROPY = [
    (lambda: pm.Normal.dist(1.0, 2.0), st.norm(1, 2)),
    (lambda: pm.LogNormal.dist(0.3, 0.7), st.lognorm(0.7, scale=np.exp(0.3))),
    (lambda: pm.HalfNormal.dist(1.5), st.halfnorm(scale=1.5)),
    (lambda: pm.Exponential.dist(2.0), st.expon(scale=0.5)),
    (lambda: pm.Gamma.dist(2.0, 3.0), st.gamma(2, scale=1 / 3)),
    (lambda: pm.InverseGamma.dist(3.0, 2.0), st.invgamma(3, scale=2)),
    (lambda: pm.Beta.dist(2.0, 3.0), st.beta(2, 3)),
    (lambda: pm.Dirichlet.dist([1.5, 2.0, 0.7]), st.dirichlet([1.5, 2.0, 0.7])),
    (lambda: pm.Bernoulli.dist(0.3), st.bernoulli(0.3)),
    (lambda: pm.Binomial.dist(20, 0.3), st.binom(20, 0.3)),
    (lambda: pm.Poisson.dist(3.0), st.poisson(3.0)),
    (lambda: pm.Geometric.dist(0.3), st.geom(0.3)),
    (lambda: pm.NegativeBinomial.dist(n=3.0, p=0.4), st.nbinom(3, 0.4)),
    (lambda: pm.Categorical.dist(p=[0.2, 0.5, 0.3]), st.multinomial(1, [0.2, 0.5, 0.3])),
    (lambda: pm.Multinomial.dist(7, [0.2, 0.5, 0.3]), st.multinomial(7, [0.2, 0.5, 0.3])),
    (
        lambda: pm.MvNormal.dist(mu=[1.0, 2.0], cov=[[2.0, 0.3], [0.3, 1.0]]),
        st.multivariate_normal([1, 2], [[2.0, 0.3], [0.3, 1.0]]),
    ),
    (lambda: pm.VonMises.dist(0.5, 2.0), st.vonmises(2.0, loc=0.5)),
    (lambda: pm.Wald.dist(2.0, 3.0), st.invgauss(2 / 3, scale=3)),
    (lambda: pm.Weibull.dist(1.7, 2.0), st.weibull_min(1.7, scale=2.0)),
    (lambda: pm.Pareto.dist(2.5, 1.3), st.pareto(2.5, scale=1.3)),
    (lambda: pm.Laplace.dist(0.4, 1.2), st.laplace(0.4, 1.2)),
]


@pytest.mark.parametrize(("make", "ref"), BUILTIN_ENTROPY, ids=lambda x: getattr(x, "name", ""))
def test_builtin_entropy_matches_scipy(make, ref):
    assert float(value(psm.entropy(make()))) == pytest.approx(float(ref.entropy()), abs=1e-9)


def test_builtin_entropy_keeps_batch_shape():
    mu = np.array([0.5, 3.0, 40.0])
    got = value(psm.entropy(pm.Poisson.dist(mu)))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, [st.poisson(m).entropy() for m in mu], atol=1e-9)


def test_natural_parameters_of_builtins_follow_the_contract():
    np.testing.assert_allclose(
        value(psm.natural_parameters(pm.Normal.dist(1.0, 2.0))), [0.25, -0.125]
    )
    np.testing.assert_allclose(value(psm.natural_parameters(pm.Gamma.dist(2.0, 3.0))), [1.0, -3.0])
    np.testing.assert_allclose(
        value(psm.natural_parameters(pm.InverseGamma.dist(3.0, 2.0))), [-4.0, -2.0]
    )
    np.testing.assert_allclose(value(psm.natural_parameters(pm.Beta.dist(2.0, 3.0))), [1.0, 2.0])
    np.testing.assert_allclose(value(psm.natural_parameters(pm.Poisson.dist(3.0))), np.log(3.0))
    np.testing.assert_allclose(
        value(psm.natural_parameters(pm.NegativeBinomial.dist(n=3.0, p=0.4))), np.log(0.6)
    )
    vm = value(psm.natural_parameters(pm.VonMises.dist(0.5, 2.0)))
    np.testing.assert_allclose(vm, [2 * np.cos(0.5), 2 * np.sin(0.5)])
    h, j = psm.natural_parameters(pm.MvNormal.dist(mu=[1.0, 2.0], cov=[[2.0, 0.3], [0.3, 1.0]]))
    prec = np.linalg.inv([[2.0, 0.3], [0.3, 1.0]])
    np.testing.assert_allclose(value(h), prec @ [1.0, 2.0])
    np.testing.assert_allclose(value(j), -prec / 2)


def test_mean_parameters_are_expected_statistics():
    a, b = 2.0, 3.0
    got = value(psm.mean_parameters(pm.Gamma.dist(a, b)))
    np.testing.assert_allclose(got, [sp.digamma(a) - np.log(b), a / b], rtol=1e-13)
    got = value(psm.mean_parameters(pm.Beta.dist(a, b)))
    np.testing.assert_allclose(
        got, [sp.digamma(a) - sp.digamma(a + b), sp.digamma(b) - sp.digamma(a + b)], rtol=1e-13
    )


def test_log_partition_of_natural_and_builtin_agree():
    nat = psm.NaturalPoisson.dist(eta=np.log(3.0))
    assert float(value(psm.log_partition(nat))) == pytest.approx(3.0, rel=1e-15)
    assert float(value(psm.log_partition(pm.Poisson.dist(3.0)))) == pytest.approx(3.0, rel=1e-15)


def test_fisher_information_gamma_closed_form():
    a, b = 2.5, 1.5
    got = value(psm.fisher_information(pm.Gamma.dist(a, b)))
    expected = np.array([[sp.polygamma(1, a), 1 / b], [1 / b, a / b**2]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_fisher_information_normal_is_covariance_of_statistics():
    mu, s = 0.7, 1.3
    got = value(psm.fisher_information(pm.Normal.dist(mu, s)))
    # Cov of (x, x^2) for N(mu, s^2).
    expected = np.array([[s**2, 2 * mu * s**2], [2 * mu * s**2, 4 * mu**2 * s**2 + 2 * s**4]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_kl_natural_against_builtin_closed_forms():
    # Normal: KL(N(m1, s1) || N(m2, s2)).
    m1, s1, m2, s2 = 0.3, 1.2, -0.5, 0.8
    q = psm.NaturalNormal.dist(eta=[m2 / s2**2, -1 / (2 * s2**2)])
    expected = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    assert float(value(psm.kl_divergence(pm.Normal.dist(m1, s1), q))) == pytest.approx(
        expected, rel=1e-12
    )
    # Gamma (shape, rate): closed form from Penny (2001).
    a1, b1, a2, b2 = 2.0, 3.0, 1.5, 0.7
    expected = (
        (a1 - a2) * sp.digamma(a1)
        - sp.gammaln(a1)
        + sp.gammaln(a2)
        + a2 * (np.log(b1) - np.log(b2))
        + a1 * (b2 - b1) / b1
    )
    q = psm.NaturalGamma.dist(eta=[a2 - 1, -b2])
    assert float(value(psm.kl_divergence(pm.Gamma.dist(a1, b1), q))) == pytest.approx(
        expected, rel=1e-12
    )
    # Poisson.
    l1, l2 = 3.0, 5.5
    expected = l1 * np.log(l1 / l2) + l2 - l1
    q = psm.NaturalPoisson.dist(eta=np.log(l2))
    assert float(value(psm.kl_divergence(pm.Poisson.dist(l1), q))) == pytest.approx(
        expected, rel=1e-12
    )


def test_kl_mvnormal_closed_form():
    m1, m2 = np.array([1.0, -1.0]), np.array([0.0, 0.5])
    c1 = np.array([[2.0, 0.3], [0.3, 1.0]])
    c2 = np.array([[1.0, -0.2], [-0.2, 0.5]])
    p2 = np.linalg.inv(c2)
    expected = 0.5 * (
        np.trace(p2 @ c1)
        + (m2 - m1) @ p2 @ (m2 - m1)
        - 2
        + np.linalg.slogdet(c2)[1]
        - np.linalg.slogdet(c1)[1]
    )
    q = psm.NaturalMvNormal.dist(h=p2 @ m2, precision=p2)
    got = float(value(psm.kl_divergence(pm.MvNormal.dist(mu=m1, cov=c1), q)))
    assert got == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_entropy_plus_kl():
    p, q = pm.Beta.dist(2.0, 3.0), psm.NaturalBeta.dist(eta=[0.5, 4.0])
    ce = float(value(psm.cross_entropy(p, q)))
    assert ce == pytest.approx(float(value(psm.entropy(p) + psm.kl_divergence(p, q))), rel=1e-13)
    # -E_p[log q] by quadrature.
    qref = st.beta(1.5, 5.0)
    from scipy.integrate import quad

    expected = quad(lambda x: -st.beta(2, 3).pdf(x) * qref.logpdf(x), 0, 1, epsabs=1e-13)[0]
    assert ce == pytest.approx(expected, abs=1e-9)


def test_kl_between_unrelated_families_names_both():
    with pytest.raises(NotImplementedError, match=r"Normal.*Gamma"):
        psm.kl_divergence(pm.Normal.dist(), pm.Gamma.dist(1.0, 1.0))
    # pm.Geometric counts trials, NaturalGeometric failures: different supports.
    with pytest.raises(NotImplementedError, match="Geometric"):
        psm.kl_divergence(pm.Geometric.dist(0.3), psm.NaturalGeometric.dist(eta=-0.5))


def test_kl_needs_equal_fixed_parameters():
    with pytest.raises(ValueError, match="'n'"):
        psm.kl_divergence(pm.Binomial.dist(3, 0.2), pm.Binomial.dist(4, 0.2))
    n = pt.lscalar("n")
    kl = psm.kl_divergence(pm.Binomial.dist(n, 0.2), pm.Binomial.dist(5, 0.4))
    fn = pytensor.function([n], kl)
    assert np.isfinite(fn(5))
    with pytest.raises(ParameterValueError):
        fn(6)


def test_quantities_are_differentiable():
    # d H(Poisson(mu)) / d mu by the exact series against a central difference.
    mu = pt.dscalar("mu")
    h = psm.entropy(pm.Poisson.dist(mu))
    f = pytensor.function([mu], [h, pytensor.grad(h, mu)])
    step = 1e-5
    (_, g), (hp, _), (hm, _) = f(7.3), f(7.3 + step), f(7.3 - step)
    assert g == pytest.approx((hp - hm) / (2 * step), rel=1e-6)
    # d KL / d eta_q for Gamma: equals mu_q - mu_p (gradient of a Bregman divergence).
    eta_q = pt.dvector("eta_q")
    kl = psm.kl_divergence(pm.Gamma.dist(2.0, 3.0), psm.NaturalGamma.dist(eta=eta_q))
    grad = pytensor.function([eta_q], pytensor.grad(kl, eta_q))([0.5, -0.7])
    mq = [sp.digamma(1.5) - np.log(0.7), 1.5 / 0.7]
    mp = [sp.digamma(2.0) - np.log(3.0), 2.0 / 3.0]
    np.testing.assert_allclose(grad, np.subtract(mq, mp), rtol=1e-12)


def test_model_variables_work():
    with pm.Model():
        x = pm.Gamma("x", 2.0, 3.0)
        y = psm.NaturalGamma("y", eta=[1.0, -3.0])
    assert float(value(psm.kl_divergence(x, y))) == pytest.approx(0.0, abs=1e-14)
    assert float(value(psm.entropy(x))) == pytest.approx(st.gamma(2, scale=1 / 3).entropy())


def test_non_exponential_family_is_refused():
    with pytest.raises(NotImplementedError, match=r"StudentT|no registered"):
        psm.entropy(pm.StudentT.dist(3.0))
    with pytest.raises(NotImplementedError, match="Wald with a non-zero alpha"):
        psm.entropy(pm.Wald.dist(1.0, 2.0, alpha=0.5))
    with pytest.raises(TypeError, match="not a random variable"):
        psm.entropy(pt.dscalar("x"))


def test_count_series_at_extreme_rates(caplog):
    # Tiny rates: H = lam (1 - log lam) + O(lam^2 log lam); the window must stay finite and
    # the graph must compile without rewrite failures.
    with caplog.at_level("WARNING", logger="pytensor"):
        for eta in (-50.0, -20.0):
            lam = np.exp(eta)
            got = float(value(psm.entropy(psm.NaturalPoisson.dist(eta=eta))))
            assert got == pytest.approx(lam * (1 - np.log(lam)), rel=1e-7)
        # Binomial with tiny p: H = lam (1 - log lam) to first order, lam = n p.
        lam = 50 * sp.expit(-40.0)
        got = float(value(psm.entropy(psm.NaturalBinomial.dist(n=50, eta=-40.0))))
        assert got == pytest.approx(lam * (1 - np.log(lam)), rel=1e-12)
    assert "Rewrite failure" not in caplog.text


@pytest.mark.parametrize("lam", [1e4, 1e6, np.exp(15.0)])
def test_count_series_large_rate_against_asymptotics(lam):
    # H = log(2 pi e lam)/2 - 1/(12 lam) - 1/(24 lam^2) - 19/(360 lam^3) + O(lam^-4): exact to
    # float64 at these rates, where scipy's own .entropy() is wrong (4.22 instead of 8.92 at e^15).
    ref = 0.5 * np.log(2 * np.pi * np.e * lam) - 1 / (12 * lam) - 1 / (24 * lam**2)
    ref -= 19 / (360 * lam**3)
    got = float(value(psm.entropy(psm.NaturalPoisson.dist(eta=np.log(lam)))))
    # The rounding left is that of log p at the mean, about ulp(lam log lam).
    assert got == pytest.approx(ref, abs=50 * np.spacing(lam * np.log(lam)))


def test_count_series_refuses_a_window_too_large_for_memory():
    with pytest.raises(psm.NumericalLimitError, match="too spread out"):
        value(psm.entropy(psm.NaturalNegativeBinomial.dist(r=2.0, eta=-1e-8)))


def test_gaussian_quantities_do_not_cancel_at_large_locations():
    # mu / sigma ~ 2e12: the Legendre and Bregman forms would lose every digit.
    eta = np.array([1e10, -1e-5])
    sigma2 = -1 / (2 * eta[1])
    assert float(value(psm.entropy(psm.NaturalNormal.dist(eta=eta)))) == pytest.approx(
        0.5 * np.log(2 * np.pi * np.e * sigma2), rel=1e-14
    )
    p, q = pm.Normal.dist(1e9, 2.0), pm.Normal.dist(1e9 + 1.0, 2.0)
    assert float(value(psm.kl_divergence(p, q))) == pytest.approx(1 / 8, rel=1e-12)
    assert float(value(psm.cross_entropy(p, q))) == pytest.approx(
        st.norm(0, 2).entropy() + 1 / 8, rel=1e-12
    )
    mp = pm.MvNormal.dist(mu=[1e9, -1e9], cov=np.eye(2))
    mq = pm.MvNormal.dist(mu=[1e9 + 1.0, -1e9], cov=np.eye(2))
    assert float(value(psm.kl_divergence(mp, mq))) == pytest.approx(0.5, rel=1e-12)


def test_fractional_counts_are_refused_not_truncated():
    with pytest.raises(ValueError, match=r"n in \{0, 1, 2, \.\.\.\}"):
        psm.NaturalBinomial.dist(n=2.5, eta=0.0)
    with pytest.raises(ValueError, match="Multinomial"):
        psm.NaturalMultinomial.dist(n=[3, 4.5], eta=[0.0, 1.0])


def test_mvnormal_components_must_share_their_dimension():
    with pytest.raises(ValueError, match="share their dimension"):
        psm.NaturalMvNormal.dist(h=np.zeros(2), precision=np.eye(3))


def test_von_mises_takes_the_same_transform_as_pymc():
    with pm.Model() as model:
        psm.NaturalVonMises("angle", eta=[2.0, 0.0])
        pm.VonMises("reference", 0.0, 2.0)
    ours = model.rvs_to_transforms[model["angle"]]
    assert type(ours) is type(model.rvs_to_transforms[model["reference"]])


@pytest.mark.parametrize("shape", [0.3, 2.5, 9.99, 10.0, 1e4, 1e8, 1e10])
def test_gamma_family_entropies_against_mpmath(shape):
    # 50-digit references: the generic Legendre form loses 7e-6 at shape 1e10.
    import mpmath as mm

    mm.mp.dps = 50
    a, b = mm.mpf(shape), mm.mpf(2)
    gamma = a - mm.log(b) + mm.loggamma(a) + (1 - a) * mm.digamma(a)
    inverse_gamma = a + mm.log(b) + mm.loggamma(a) - (1 + a) * mm.digamma(a)
    got = float(value(psm.entropy(pm.Gamma.dist(shape, 2.0))))
    assert got == pytest.approx(float(gamma), rel=1e-14, abs=1e-14)
    got = float(value(psm.entropy(pm.InverseGamma.dist(shape, 2.0))))
    assert got == pytest.approx(float(inverse_gamma), rel=1e-14, abs=1e-14)


def test_bernoulli_entropy_at_large_logits():
    import mpmath as mm

    mm.mp.dps = 50
    for eta in (40.0, -60.0, 700.0):
        e = mm.mpf(abs(eta))
        exact = mm.log1p(mm.exp(-e)) + e * mm.exp(-e) / (1 + mm.exp(-e))
        got = float(value(psm.entropy(psm.NaturalBernoulli.dist(eta=eta))))
        assert got == pytest.approx(float(exact), rel=1e-14)


def test_wishart_rejects_non_symmetric_values():
    d = psm.NaturalWishart.dist(eta_matrix=-0.5 * np.eye(2), eta_logdet=1.0)
    assert float(value(pm.logp(d, np.array([[1.0, 0.3], [0.1, 1.0]])))) == -np.inf
    assert np.isfinite(float(value(pm.logp(d, np.array([[1.0, 0.2], [0.2, 1.0]])))))


def test_geometric_kl_explains_the_shifted_support():
    with pytest.raises(NotImplementedError, match="counts trials from 1"):
        psm.kl_divergence(pm.Geometric.dist(0.3), psm.NaturalGeometric.dist(eta=-0.5))


@pytest.mark.parametrize(
    "alpha",
    [[2.0, 3.0], [0.3, 0.7], [1e9, 1e9], [9.99, 10.01], [1.5, 2.0, 0.7], [1e6, 2e6, 3e6, 5.0]],
)
def test_beta_and_dirichlet_entropies_against_mpmath(alpha):
    import mpmath as mm

    mm.mp.dps = 50
    al = [mm.mpf(a) for a in alpha]
    a0 = sum(al)
    exact = (
        sum(mm.loggamma(a) for a in al)
        - mm.loggamma(a0)
        + (a0 - len(al)) * mm.digamma(a0)
        - sum((a - 1) * mm.digamma(a) for a in al)
    )
    dist = pm.Beta.dist(*alpha) if len(alpha) == 2 else pm.Dirichlet.dist(alpha)
    assert float(value(psm.entropy(dist))) == pytest.approx(float(exact), rel=1e-13, abs=1e-13)


# -- the package's structure ------------------------------------------------------------------


def _package_imports():
    """``{module: {imported module, ...}}`` over every ``from pymc_statmech... import`` of the
    package, deferred ones included (``if TYPE_CHECKING`` blocks excluded), with the names each
    import takes."""
    import ast
    import pathlib

    root = pathlib.Path(psm.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    imports = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        imports[name] = [
            (node.module, [alias.name for alias in node.names])
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and id(node) not in typing_only
            and (node.module or "").startswith("pymc_statmech")
        ]
    return modules, imports


def test_the_package_has_no_import_cycles():
    modules, imports = _package_imports()
    # ``from package import module`` depends on the module; ``from module import name`` on the
    # module (a package's __init__ when it is one). The top-level __init__ loads nothing (PEP
    # 562), so importing from it closes no cycle.
    edges = {
        name: {
            f"{module}.{n}" if f"{module}.{n}" in modules else module
            for module, names in found
            for n in names
        }
        - {name, "pymc_statmech"}
        for name, found in imports.items()
    }
    edges = {name: {t for t in targets if t in modules} for name, targets in edges.items()}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_no_private_name_is_imported_from_another_subpackage():
    _, imports = _package_imports()

    def home(module):  # the subpackage (or top-level module) a module belongs to
        parts = module.split(".")
        return ".".join(parts[:2])

    crossing = [
        f"{name} imports {n} from {module}"
        for name, found in imports.items()
        for module, names in found
        for n in names
        if n.startswith("_") and not n.startswith("__") and home(module) != home(name)
    ]
    assert not crossing, crossing
