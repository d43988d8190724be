"""Every Natural* logp and its gradient compile natively on Numba (no object mode), C and JAX."""

import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st
from pytensor.compile.mode import Mode

import pymc_statmech as psm

CASES = {
    "Poisson": (psm.NaturalPoisson, {"eta": 0.3}, {}, 2),
    "Binomial": (psm.NaturalBinomial, {"eta": 0.3}, {"n": 10}, 3),
    "Geometric": (psm.NaturalGeometric, {"eta": -0.5}, {}, 2),
    "NegativeBinomial": (psm.NaturalNegativeBinomial, {"eta": -0.5}, {"r": 2.5}, 2),
    "Bernoulli": (psm.NaturalBernoulli, {"eta": 0.3}, {}, 1),
    "Categorical": (psm.NaturalCategorical, {"eta": [0.1, 0.2, 0.3]}, {}, 1),
    "Multinomial": (psm.NaturalMultinomial, {"eta": [0.1, 0.2, 0.3]}, {"n": 5}, [1, 2, 2]),
    "Exponential": (psm.NaturalExponential, {"eta": -2.0}, {}, 0.3),
    "Normal": (psm.NaturalNormal, {"eta": [0.2, -0.5]}, {}, 0.3),
    "LogNormal": (psm.NaturalLogNormal, {"eta": [0.2, -0.5]}, {}, 0.3),
    "Gamma": (psm.NaturalGamma, {"eta": [1.2, -0.5]}, {}, 0.3),
    "InverseGamma": (psm.NaturalInverseGamma, {"eta": [-3.2, -0.5]}, {}, 0.3),
    "Beta": (psm.NaturalBeta, {"eta": [1.2, 0.5]}, {}, 0.3),
    "Dirichlet": (psm.NaturalDirichlet, {"eta": [1.2, 0.5, 0.1]}, {}, [0.2, 0.3, 0.5]),
    "VonMises": (psm.NaturalVonMises, {"eta": [1.2, 0.5]}, {}, 0.3),
    "InverseGaussian": (psm.NaturalInverseGaussian, {"eta": [-1.2, -0.5]}, {}, 0.3),
    "MvNormal": (
        psm.NaturalMvNormal,
        {"h": [1.0, 0.0], "precision": [[2.0, 0.5], [0.5, 1.0]]},
        {},
        [0.2, 0.1],
    ),
    "Wishart": (
        psm.NaturalWishart,
        {"eta_matrix": -0.5 * np.eye(2), "eta_logdet": 1.0},
        {},
        [[1.0, 0.2], [0.2, 1.0]],
    ),
}


def _reference(name):
    """logp at the case's value from scipy, for the cases with a one-line reference."""
    refs = {
        "Poisson": st.poisson(np.exp(0.3)).logpmf(2),
        "Gamma": st.gamma(2.2, scale=2.0).logpdf(0.3),
        "Normal": st.norm(0.2, 1.0).logpdf(0.3),
        "MvNormal": st.multivariate_normal(
            np.linalg.solve([[2.0, 0.5], [0.5, 1.0]], [1.0, 0.0]),
            np.linalg.inv([[2.0, 0.5], [0.5, 1.0]]),
        ).logpdf([0.2, 0.1]),
    }
    return refs.get(name)


def _compile(name, mode):
    cls, natural, fixed, value = CASES[name]
    symbols = {k: pt.as_tensor_variable(np.asarray(v, float)).type(k) for k, v in natural.items()}
    logp = pm.logp(cls.dist(**symbols, **fixed), np.asarray(value)).sum()
    grads = pytensor.grad(logp, list(symbols.values()))
    fn = pytensor.function(list(symbols.values()), [logp, *grads], mode=mode)
    return fn, [np.asarray(v, float) for v in natural.values()]


@pytest.mark.parametrize("name", CASES)
def test_numba_compiles_natively(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn, args = _compile(name, None)
        out = fn(*args)
    assert not [w for w in caught if "object mode" in str(w.message)]
    assert all(np.all(np.isfinite(o)) for o in out)
    ref = _reference(name)
    if ref is not None:
        assert float(out[0]) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_c_backend_agrees_with_numba(name):
    numba_fn, args = _compile(name, None)
    c_fn, _ = _compile(name, Mode(linker="cvm", optimizer="fast_run"))
    for a, b in zip(numba_fn(*args), c_fn(*args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_jax_backend_agrees_with_numba(name):
    if name == "VonMises":
        # PyTensor's JAX form of the scaled Bessel function ive needs tensorflow-probability.
        with pytest.raises(NotImplementedError, match="ive"):
            _compile(name, "JAX")
        return
    numba_fn, args = _compile(name, None)
    jax_fn, _ = _compile(name, "JAX")
    for a, b in zip(numba_fn(*args), jax_fn(*args), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10)
